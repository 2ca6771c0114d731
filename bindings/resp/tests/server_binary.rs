//! The `emberkv-server` binary: configuration from a file and flags, bad
//! directives, SHUTDOWN and SIGTERM, Unix sockets.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

fn wait_exit(p: &mut Proc, within: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Ok(Some(st)) = p.child.try_wait() {
            return Some(st);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn config_file_and_flags() {
    let dir = tempdir("ekv-conf");
    let conf = dir.join("redis.conf");
    let sock = dir.join("ekv.sock");
    std::fs::write(
        &conf,
        format!(
            "# a redis.conf\nrequirepass \"file pass\"\nmaxclients 50\nhz 20\nunixsocket {}\nunixsocketperm 700\n",
            sock.display()
        ),
    )
    .unwrap();
    // the flag overrides the file
    let p = Proc::emberkv(&[
        conf.to_str().unwrap(),
        "--requirepass",
        "flagpass",
        "--timeout",
        "30",
    ]);
    let port = p.port.to_string();
    let cli = |args: &[&str]| {
        let out = Command::new("redis-cli")
            .args(["-p", &port, "--no-auth-warning", "-a", "flagpass"])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(cli(&["CONFIG", "GET", "maxclients"]), "maxclients\n50\n");
    assert_eq!(cli(&["CONFIG", "GET", "timeout"]), "timeout\n30\n");
    assert_eq!(cli(&["CONFIG", "GET", "hz"]), "hz\n20\n");
    assert_eq!(cli(&["CONFIG", "GET", "port"]), format!("port\n{port}\n"));
    let noauth = redis_cli(p.port, &["GET", "x"]);
    assert!(noauth.contains("NOAUTH"), "{noauth}");
    let info = cli(&["INFO", "server"]);
    assert_eq!(field(&info, "tcp_port"), Some(port.as_str()));
    // the Unix socket from the file
    let out = Command::new("redis-cli")
        .args([
            "-s",
            sock.to_str().unwrap(),
            "-a",
            "flagpass",
            "--no-auth-warning",
            "PING",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "PONG\n");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unknown_directive_is_fatal() {
    let out = Command::new(env!("CARGO_BIN_EXE_emberkv-server"))
        .args(["--port", "0", "--no-such-directive", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("*** FATAL CONFIG FILE ERROR"), "{err}");
    assert!(err.contains(">>> 'no-such-directive \"x\"'"), "{err}");
    assert!(
        err.contains("Bad directive or wrong number of arguments"),
        "{err}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_emberkv-server"))
        .args(["--maxclients", "abc"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("argument couldn't be parsed into an integer"),
        "{err}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_emberkv-server"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("emberkv-server v="));
}

#[test]
fn shutdown_exits_cleanly() {
    let mut p = Proc::emberkv(&[]);
    assert_eq!(redis_cli(p.port, &["SET", "k", "v"]), "OK\n");
    let mut c = Raw::connect(p.port);
    c.cmd(&["SHUTDOWN", "NOSAVE"]);
    // no reply: the connection closes and the process exits 0
    assert!(c.closed_within(Duration::from_secs(5)));
    let st = wait_exit(&mut p, Duration::from_secs(10)).expect("exited");
    assert!(st.success(), "{st:?}");
}

#[test]
fn sigterm_exits_cleanly() {
    let mut p = Proc::emberkv(&["--unixsocket", "ekv.sock"]);
    let sock = p.dir.join("ekv.sock");
    // the TCP port answers first; the Unix socket may appear a moment later
    let t = std::time::Instant::now();
    while !sock.exists() && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(sock.exists());
    // SAFETY: signalling our own child by its pid.
    unsafe {
        libc::kill(p.child.id() as i32, libc::SIGTERM);
    }
    let st = wait_exit(&mut p, Duration::from_secs(10)).expect("exited");
    assert!(st.success(), "{st:?}");
    assert!(!sock.exists(), "the socket file is removed");
}
