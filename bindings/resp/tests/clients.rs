//! Real clients against an in-process listener: redis-cli (scripted),
//! pub/sub in RESP2 and RESP3, transactions across connections, CLIENT
//! commands, output-buffer limits, Unix sockets and closing.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use emberkv_resp::Options;

#[test]
fn redis_cli_scripted() {
    let srv = Server::start();
    let p = srv.port;
    assert_eq!(redis_cli(p, &["PING"]), "PONG\n");
    assert_eq!(redis_cli(p, &["SET", "greeting", "hello world"]), "OK\n");
    assert_eq!(redis_cli(p, &["GET", "greeting"]), "hello world\n");
    assert_eq!(redis_cli(p, &["INCR", "n"]), "1\n");
    assert_eq!(redis_cli(p, &["-n", "3", "SET", "in3", "x"]), "OK\n");
    assert_eq!(redis_cli(p, &["-n", "3", "DBSIZE"]), "1\n");
    assert_eq!(redis_cli(p, &["DBSIZE"]), "2\n");
    assert_eq!(redis_cli(p, &["--no-raw", "GET", "missing"]), "(nil)\n");
    assert!(
        redis_cli(p, &["--no-raw", "INCR", "greeting"])
            .starts_with("(error) ERR value is not an integer")
    );
    // commands read from stdin, one per line (quotes as redis-cli parses them)
    let out = redis_cli_input(
        p,
        &[],
        Some(b"SET q \"a b\"\nGET q\nAPPEND q \" c\"\nGET q\n"),
    );
    assert_eq!(out, "OK\na b\n5\na b c\n");
    // RESP3 through redis-cli -3
    let hello = redis_cli(p, &["-3", "HELLO", "3"]);
    assert!(hello.contains("proto") && hello.contains("3"), "{hello}");
    // CLIENT LIST shows the real peer
    let list = redis_cli(p, &["CLIENT", "LIST"]);
    assert!(list.contains("addr=127.0.0.1:"), "{list}");
    assert!(list.contains(&format!("laddr=127.0.0.1:{p}")), "{list}");
    assert!(!list.contains("fd=-1"), "{list}");
    let info = redis_cli(p, &["INFO", "clients"]);
    assert!(field(&info, "connected_clients").is_some(), "{info}");
    assert_eq!(field(&info, "maxclients"), Some("10000"));
}

#[test]
fn redis_cli_pipe_mode() {
    let srv = Server::start();
    let mut input = Vec::new();
    for i in 0..10_000 {
        input.extend(encode(&["SET", &format!("key:{i}"), &format!("value:{i}")]));
    }
    let out = redis_cli_input(srv.port, &["--pipe"], Some(&input));
    assert!(out.contains("errors: 0, replies: 10000"), "{out}");
    assert_eq!(redis_cli(srv.port, &["DBSIZE"]), "10000\n");
    assert_eq!(redis_cli(srv.port, &["GET", "key:9999"]), "value:9999\n");
}

#[test]
fn redis_cli_subscriber_receives_messages() {
    let srv = Server::start();
    let mut sub = Command::new("redis-cli")
        .args(["-p", &srv.port.to_string(), "SUBSCRIBE", "news"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-cli");
    let mut lines = BufReader::new(sub.stdout.take().unwrap()).lines();
    // confirmation: subscribe / news / 1
    let first: Vec<String> = (0..3).map(|_| lines.next().unwrap().unwrap()).collect();
    assert_eq!(first, ["subscribe", "news", "1"]);
    assert_eq!(redis_cli(srv.port, &["PUBLISH", "news", "hello"]), "1\n");
    let msg: Vec<String> = (0..3).map(|_| lines.next().unwrap().unwrap()).collect();
    assert_eq!(msg, ["message", "news", "hello"]);
    let _ = sub.kill();
    let _ = sub.wait();
}

#[test]
fn pubsub_resp2() {
    let srv = Server::start();
    let mut s = srv.connect();
    let mut p = srv.connect();
    s.cmd(&["SUBSCRIBE", "a", "b"]);
    s.expect(
        b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n",
    );
    s.cmd(&["PSUBSCRIBE", "n*"]);
    s.expect(b"*3\r\n$10\r\npsubscribe\r\n$2\r\nn*\r\n:3\r\n");
    p.cmd(&["PUBLISH", "a", "hi"]);
    p.expect(b":1\r\n");
    s.expect(b"*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nhi\r\n");
    p.cmd(&["PUBLISH", "news", "x"]);
    p.expect(b":1\r\n");
    s.expect(b"*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$1\r\nx\r\n");
    s.cmd(&["GET", "k"]);
    s.expect(b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n");
    s.cmd(&["PING"]);
    s.expect(b"*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    s.cmd(&["UNSUBSCRIBE"]);
    let two = [s.read_value(), s.read_value()];
    assert!(
        two.iter()
            .all(|f| f.starts_with(b"*3\r\n$11\r\nunsubscribe\r\n"))
    );
    s.cmd(&["PUNSUBSCRIBE"]);
    s.expect(b"*3\r\n$12\r\npunsubscribe\r\n$2\r\nn*\r\n:0\r\n");
    // out of subscribed mode
    s.cmd(&["GET", "k"]);
    s.expect(b"$-1\r\n");
    p.cmd(&["PUBLISH", "a", "nobody"]);
    p.expect(b":0\r\n");
    let list = redis_cli(srv.port, &["CLIENT", "LIST"]);
    assert!(!list.contains("flags=P"), "{list}");
}

#[test]
fn pubsub_resp3_push() {
    let srv = Server::start();
    let mut s = srv.connect();
    let mut p = srv.connect();
    s.cmd(&["HELLO", "3"]);
    let _ = s.read_value();
    s.cmd(&["SUBSCRIBE", "c"]);
    s.expect(b">3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n");
    // normal commands keep working in RESP3
    s.cmd(&["SET", "k", "v"]);
    s.expect(b"+OK\r\n");
    p.cmd(&["PUBLISH", "c", "m"]);
    p.expect(b":1\r\n");
    s.expect(b">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n");
    let list = redis_cli(srv.port, &["CLIENT", "LIST", "TYPE", "pubsub"]);
    assert!(list.contains("flags=P") && list.contains("sub=1"), "{list}");
    // RESET leaves pub/sub and RESP3
    s.cmd(&["RESET"]);
    s.expect(b"+RESET\r\n");
    p.cmd(&["PUBLISH", "c", "m"]);
    p.expect(b":0\r\n");
    s.cmd(&["GET", "missing"]);
    s.expect(b"$-1\r\n");
}

/// (Un)subscribe confirmations are pushes: Redis sends them whatever CLIENT
/// REPLY says, in RESP2 and RESP3, like the messages (replies as recorded
/// from redis-server 7.0.15; Redis's `unit/pubsub` "PubSub messages with
/// CLIENT REPLY OFF" test waited forever for them).
#[test]
fn subscribe_confirmations_ignore_client_reply_off() {
    let srv = Server::start();
    for resp3 in [false, true] {
        let mut s = srv.connect();
        let mut p = srv.connect();
        let h = if resp3 { ">" } else { "*" };
        if resp3 {
            s.cmd(&["HELLO", "3"]);
            let _ = s.read_value();
        }
        s.send(
            &[
                encode(&["CLIENT", "REPLY", "OFF"]),
                encode(&["PING"]),
                encode(&["SUBSCRIBE", "ch", "ch2"]),
            ]
            .concat(),
        );
        s.expect(format!("{h}3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n").as_bytes());
        s.expect(format!("{h}3\r\n$9\r\nsubscribe\r\n$3\r\nch2\r\n:2\r\n").as_bytes());
        p.cmd(&["PUBLISH", "ch", "hi"]);
        p.expect(b":1\r\n");
        s.expect(format!("{h}3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n").as_bytes());
        // the PING after it is an ordinary reply: still silenced
        s.send(&[encode(&["UNSUBSCRIBE", "ch"]), encode(&["PING"])].concat());
        s.expect(format!("{h}3\r\n$11\r\nunsubscribe\r\n$2\r\nch\r\n:1\r\n").as_bytes());
        assert_eq!(s.read_for(Duration::from_millis(200)), (Vec::new(), false));
        // SKIP: the confirmation is sent and the skip is used up
        let mut k = srv.connect();
        k.send(
            &[
                encode(&["CLIENT", "REPLY", "SKIP"]),
                encode(&["SUBSCRIBE", "x"]),
                encode(&["PING"]),
            ]
            .concat(),
        );
        k.expect(b"*3\r\n$9\r\nsubscribe\r\n$1\r\nx\r\n:1\r\n*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    }
}

#[test]
fn confirmation_reaches_the_wire_before_messages() {
    let srv = Server::start();
    let db = srv.db.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let publisher = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                db.execute(&["PUBLISH", "busy", "m"]);
            }
        })
    };
    for resp3 in [false, true] {
        for _ in 0..30 {
            let mut s = srv.connect();
            if resp3 {
                s.cmd(&["HELLO", "3"]);
                let _ = s.read_value();
            }
            s.cmd(&["SUBSCRIBE", "busy"]);
            let first = s.read_value();
            assert!(
                first.ends_with(b"$9\r\nsubscribe\r\n$4\r\nbusy\r\n:1\r\n"),
                "{}",
                String::from_utf8_lossy(&first)
            );
            let next = s.read_value();
            assert!(next.ends_with(b"$7\r\nmessage\r\n$4\r\nbusy\r\n$1\r\nm\r\n"));
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    publisher.join().unwrap();
}

#[test]
fn slow_subscriber_is_disconnected_and_memory_stays_bounded() {
    let srv = Server::with(
        &[("client-output-buffer-limit", "pubsub 256kb 0 0")],
        Options::default(),
    );
    let mut s = srv.connect();
    s.cmd(&["SUBSCRIBE", "flood"]);
    s.expect(b"*3\r\n$9\r\nsubscribe\r\n$5\r\nflood\r\n:1\r\n");
    let before = rss();
    let payload = "p".repeat(64 * 1024);
    let mut p = srv.connect();
    let start = Instant::now();
    let mut delivered_to_nobody = false;
    // ~200 MB offered; the subscriber never reads.
    for _ in 0..3200 {
        p.cmd(&["PUBLISH", "flood", &payload]);
        let r = p.read_value();
        if r == b":0\r\n" {
            delivered_to_nobody = true;
            break;
        }
    }
    assert!(delivered_to_nobody, "the slow subscriber was never dropped");
    assert!(start.elapsed() < Duration::from_secs(60));
    let grown = rss().saturating_sub(before);
    assert!(grown < 100 << 20, "memory grew by {grown} bytes");
    assert!(s.closed_within(Duration::from_secs(5)));
}

#[test]
fn slow_reader_over_normal_limit_is_disconnected() {
    let srv = Server::with(
        &[("client-output-buffer-limit", "normal 1mb 0 0")],
        Options::default(),
    );
    let mut c = srv.connect();
    c.cmd(&["SET", "v", &"x".repeat(100 * 1024)]);
    c.expect(b"+OK\r\n");
    // Ask for ~50 MB and never read.
    let mut w = c.s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let one = encode(&["GET", "v"]);
        for _ in 0..500 {
            if w.write_all(&one).is_err() {
                return;
            }
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    writer.join().unwrap();
    // The server closed it: draining ends with EOF well before 50 MB.
    let mut total = 0;
    let mut buf = vec![0u8; 1 << 16];
    c.s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    loop {
        match c.s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n,
        }
    }
    assert!(total < 40 << 20, "read {total} bytes");
    // others are fine
    let mut d = srv.connect();
    d.cmd(&["PING"]);
    d.expect(b"+PONG\r\n");
}

#[test]
fn transactions_across_connections() {
    let srv = Server::start();
    let mut a = srv.connect();
    let mut b = srv.connect();
    a.cmd(&["MULTI"]);
    a.expect(b"+OK\r\n");
    a.cmd(&["SET", "k", "1"]);
    a.expect(b"+QUEUED\r\n");
    a.cmd(&["INCR", "k"]);
    a.expect(b"+QUEUED\r\n");
    a.cmd(&["EXEC"]);
    a.expect(b"*2\r\n+OK\r\n:2\r\n");
    // WATCH: a write by another connection aborts EXEC
    a.cmd(&["WATCH", "k"]);
    a.expect(b"+OK\r\n");
    b.cmd(&["SET", "k", "other"]);
    b.expect(b"+OK\r\n");
    a.send(
        &[
            encode(&["MULTI"]),
            encode(&["SET", "k", "mine"]),
            encode(&["EXEC"]),
        ]
        .concat(),
    );
    a.expect(b"+OK\r\n+QUEUED\r\n*-1\r\n");
    b.cmd(&["GET", "k"]);
    b.expect(b"$5\r\nother\r\n");
    // untouched watch succeeds
    a.cmd(&["WATCH", "k"]);
    a.expect(b"+OK\r\n");
    a.send(
        &[
            encode(&["MULTI"]),
            encode(&["SET", "k", "mine"]),
            encode(&["EXEC"]),
        ]
        .concat(),
    );
    a.expect(b"+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n");
    // errors while queueing abort
    a.send(&[encode(&["MULTI"]), encode(&["NOPE"]), encode(&["EXEC"])].concat());
    a.expect(b"+OK\r\n-ERR unknown command 'NOPE', with args beginning with: \r\n-EXECABORT Transaction discarded because of previous errors.\r\n");
    // SHUTDOWN is refused inside MULTI (redis-server's exact replies), the server stays up
    a.send(
        &[
            encode(&["MULTI"]),
            encode(&["SET", "foo", "bar"]),
            encode(&["SHUTDOWN"]),
            encode(&["EXEC"]),
            encode(&["PING"]),
        ]
        .concat(),
    );
    a.expect(b"+OK\r\n+QUEUED\r\n-ERR Command not allowed inside a transaction\r\n-EXECABORT Transaction discarded because of previous errors.\r\n+PONG\r\n");
}

#[test]
fn client_commands() {
    let srv = Server::start();
    let mut a = srv.connect();
    let mut b = srv.connect();
    a.cmd(&["CLIENT", "SETNAME", "alpha"]);
    a.expect(b"+OK\r\n");
    a.cmd(&["CLIENT", "ID"]);
    let id_line = a.read_value();
    let id = String::from_utf8_lossy(&id_line[1..id_line.len() - 2]).into_owned();
    a.cmd(&["CLIENT", "INFO"]);
    let info = String::from_utf8_lossy(&a.read_value()).into_owned();
    assert!(
        info.contains(&format!("id={id} ")) && info.contains("name=alpha"),
        "{info}"
    );
    let addr = info
        .split_whitespace()
        .find_map(|f| f.strip_prefix("addr="))
        .unwrap()
        .to_string();
    a.cmd(&["CLIENT", "NO-EVICT", "on"]);
    a.expect(b"+OK\r\n");
    a.cmd(&["CLIENT", "NO-EVICT", "maybe"]);
    a.expect(b"-ERR syntax error\r\n");
    // CLIENT REPLY
    a.send(
        &[
            encode(&["CLIENT", "REPLY", "OFF"]),
            encode(&["PING"]),
            encode(&["CLIENT", "REPLY", "ON"]),
            encode(&["ECHO", "on"]),
            encode(&["CLIENT", "REPLY", "SKIP"]),
            encode(&["ECHO", "skipped"]),
            encode(&["ECHO", "shown"]),
        ]
        .concat(),
    );
    a.expect(b"+OK\r\n$2\r\non\r\n$5\r\nshown\r\n");
    // kill by the old form (address), then by id
    b.cmd(&["CLIENT", "KILL", &addr]);
    b.expect(b"+OK\r\n");
    assert!(a.closed_within(Duration::from_secs(2)));
    b.cmd(&["CLIENT", "KILL", "1.2.3.4:5"]);
    b.expect(b"-ERR No such client\r\n");
    let mut c = srv.connect();
    c.cmd(&["CLIENT", "ID"]);
    let cid_line = c.read_value();
    let cid = String::from_utf8_lossy(&cid_line[1..cid_line.len() - 2]).into_owned();
    b.cmd(&["CLIENT", "KILL", "ID", &cid]);
    b.expect(b":1\r\n");
    assert!(c.closed_within(Duration::from_secs(2)));
    b.cmd(&["CLIENT", "KILL", "ID", "0"]);
    b.expect(b"-ERR client-id should be greater than 0\r\n");
    // killing itself answers, then closes
    b.cmd(&["CLIENT", "ID"]);
    let bid_line = b.read_value();
    let bid = String::from_utf8_lossy(&bid_line[1..bid_line.len() - 2]).into_owned();
    b.send(
        &[
            encode(&["CLIENT", "KILL", "ID", &bid, "SKIPME", "no"]),
            encode(&["PING"]),
        ]
        .concat(),
    );
    let (got, closed) = b.read_for(Duration::from_millis(500));
    assert_eq!(got, b":1\r\n");
    assert!(closed);
    // SHUTDOWN is refused by an in-process listener
    let mut d = srv.connect();
    d.cmd(&["SHUTDOWN", "NOSAVE"]);
    let r = d.read_value();
    assert!(
        r.starts_with(b"-ERR SHUTDOWN is disabled"),
        "{}",
        String::from_utf8_lossy(&r)
    );
    d.cmd(&["SHUTDOWN", "bogus"]);
    d.expect(b"-ERR syntax error\r\n");
    d.cmd(&["PING"]);
    d.expect(b"+PONG\r\n");
}

#[test]
fn info_counts_network_traffic() {
    let srv = Server::start();
    let mut c = srv.connect();
    for _ in 0..300 {
        c.cmd(&["SET", "k", "0123456789"]);
        c.expect(b"+OK\r\n");
    }
    c.cmd(&["INFO", "stats"]);
    let text = String::from_utf8_lossy(&c.read_value()).into_owned();
    let input: u64 = field(&text, "total_net_input_bytes")
        .unwrap()
        .parse()
        .unwrap();
    let output: u64 = field(&text, "total_net_output_bytes")
        .unwrap()
        .parse()
        .unwrap();
    assert!(input >= 300 * 31, "{text}");
    assert!(output >= 300 * 5, "{text}");
}

#[test]
fn unix_socket() {
    let dir = tempdir("ekv-unix");
    let path = dir.join("ekv.sock");
    let db = emberkv::Db::in_memory();
    let l = emberkv_resp::listen(
        &db,
        &format!("unix://{}", path.display()),
        Options {
            unix_perm: Some(0o700),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        l.local_addr().to_string(),
        format!("unix://{}", path.display())
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let out = Command::new("redis-cli")
        .args(["-s", path.to_str().unwrap(), "SET", "u", "1"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "OK\n");
    let out = Command::new("redis-cli")
        .args(["-s", path.to_str().unwrap(), "CLIENT", "INFO"])
        .output()
        .unwrap();
    let info = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        info.contains(&format!("addr={}:0", path.display())),
        "{info}"
    );
    // a second listener on the same path replaces the stale socket after close
    l.close();
    assert!(!path.exists());
    let l2 = emberkv_resp::listen(&db, path.to_str().unwrap(), Options::default()).unwrap();
    let mut s = std::os::unix::net::UnixStream::connect(&path).unwrap();
    use std::io::Write;
    s.write_all(b"GET u\r\n").unwrap();
    let mut buf = [0u8; 16];
    let n = s.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"$1\r\n1\r\n");
    drop(l2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn close_ends_connections_and_accepting() {
    let srv = Server::start();
    let mut clients: Vec<Raw> = (0..5).map(|_| srv.connect()).collect();
    for c in &mut clients {
        c.cmd(&["PING"]);
        c.expect(b"+PONG\r\n");
    }
    let mut sub = srv.connect();
    sub.cmd(&["SUBSCRIBE", "x"]);
    let _ = sub.read_value();
    let t = Instant::now();
    srv.listener.close();
    assert!(t.elapsed() < Duration::from_secs(5));
    for c in &mut clients {
        assert!(c.closed_within(Duration::from_secs(2)));
    }
    assert!(sub.closed_within(Duration::from_secs(2)));
    assert!(std::net::TcpStream::connect(("127.0.0.1", srv.port)).is_err());
    srv.listener.close(); // idempotent
    // the Db lives on
    assert_eq!(srv.db.execute(&["PING"]), emberkv::Reply::simple("PONG"));
}

#[test]
fn many_concurrent_clients() {
    let srv = Server::start();
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let port = srv.port;
            std::thread::spawn(move || {
                let mut c = Raw::connect(port);
                for i in 0..200 {
                    c.cmd(&["INCR", "shared"]);
                    let _ = c.read_value();
                    c.cmd(&["SET", &format!("t{t}:{i}"), "v"]);
                    c.expect(b"+OK\r\n");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(redis_cli(srv.port, &["GET", "shared"]), "3200\n");
    assert_eq!(redis_cli(srv.port, &["DBSIZE"]), "3201\n");
}

#[test]
fn a_message_published_before_a_command_precedes_its_reply() {
    // As in Redis, where PUBLISH writes into the subscriber's buffer before
    // it returns: ioredis and redis-py rely on it when they unsubscribe.
    let srv = Server::start();
    // A channel per round: the previous round's subscriber is closed by the
    // client, but the server forgets it only when its thread sees the EOF,
    // which under load can come after this round's first PUBLISH (seen as
    // ":2" instead of ":1"; redis-server is asynchronous there too).
    for (resp3, ch) in [(false, "c2"), (true, "c3")] {
        let mut s = srv.connect();
        let mut p = srv.connect();
        if resp3 {
            s.cmd(&["HELLO", "3"]);
            let _ = s.read_value();
        }
        s.cmd(&["SUBSCRIBE", ch]);
        let _ = s.read_value();
        for i in 0..200 {
            let payload = i.to_string();
            p.cmd(&["PUBLISH", ch, &payload]);
            p.expect(b":1\r\n");
            s.cmd(&["PING"]);
            let first = s.read_value();
            let want = format!(
                "$7\r\nmessage\r\n$2\r\n{ch}\r\n${}\r\n{payload}\r\n",
                payload.len()
            );
            assert!(
                first.ends_with(want.as_bytes()),
                "round {i}: {}",
                String::from_utf8_lossy(&first)
            );
            let _pong = s.read_value();
        }
    }
}

#[test]
fn a_slow_command_does_not_stall_other_connections() {
    // Commands that can block move their connection off the event loop.
    let srv = Server::start();
    let mut conns: Vec<Raw> = (0..8).map(|_| srv.connect()).collect();
    let mut sleeper = srv.connect();
    sleeper.send(&[encode(&["DEBUG", "SLEEP", "1"]), encode(&["PING"])].concat());
    std::thread::sleep(Duration::from_millis(50));
    let t = Instant::now();
    for c in &mut conns {
        c.cmd(&["PING"]);
        c.expect(b"+PONG\r\n");
    }
    assert!(
        t.elapsed() < Duration::from_millis(700),
        "{:?}",
        t.elapsed()
    );
    // the sleeper finishes its pipeline on its own thread and keeps working
    sleeper.expect(b"+OK\r\n+PONG\r\n");
    sleeper.cmd(&["ECHO", "still here"]);
    sleeper.expect(b"$10\r\nstill here\r\n");
}

#[test]
fn a_running_script_can_be_killed_from_the_other_connections() {
    // EVAL moves its connection off the event loop, so a script that runs
    // until SCRIPT KILL does not stall the connections sharing its loop.
    let srv = Server::start();
    let mut conns: Vec<Raw> = (0..8).map(|_| srv.connect()).collect();
    let mut script = srv.connect();
    script.cmd(&["EVAL", "while true do end", "0"]);
    std::thread::sleep(Duration::from_millis(50));
    for c in &mut conns {
        c.cmd(&["PING"]);
        c.expect(b"+PONG\r\n");
    }
    conns[0].cmd(&["SCRIPT", "KILL"]);
    conns[0].expect(b"+OK\r\n");
    let killed = String::from_utf8_lossy(&script.read_value()).into_owned();
    assert!(
        killed.starts_with("-ERR Script killed by user with SCRIPT KILL..."),
        "{killed}"
    );
    script.cmd(&["ECHO", "still here"]);
    script.expect(b"$10\r\nstill here\r\n");
}
