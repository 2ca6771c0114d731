//! Crash safety of the append-only file, proven with kill -9.
//!
//! The test binary runs itself as a child process (`crash_child`, selected
//! by an environment variable) that writes from several threads — SET, INCR,
//! LPUSH when lists exist, MULTI/EXEC blocks — and prints every
//! acknowledged write. The parent SIGKILLs it at random moments, reopens the
//! directory and checks:
//! - `appendfsync always`: every acknowledged write is there;
//! - `everysec`: every write acknowledged more than ~1 s before the kill is there;
//! - always: no transaction is half-applied;
//! - kills in the middle of rewrites leave a directory that loads, with
//!   nothing acknowledged lost.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::TempDir;
use emberkv::{Config, Db, Reply};

const CHILD_ENV: &str = "EMBERKV_CRASH_CHILD";
const THREADS: usize = 4;

fn cfg(dir: &Path, policy: &str) -> Config {
    let mut c = Config::default();
    c.set("dir", dir.to_str().unwrap()).unwrap();
    c.set("appendonly", "yes").unwrap();
    c.set("appendfsync", policy).unwrap();
    c
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// The child's side: `dir|policy|round|rewrite`. Writes until killed.
#[test]
fn crash_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return; // a normal test run: nothing to do
    };
    let parts: Vec<&str> = spec.split('|').collect();
    let (dir, policy, round, rewrite) = (parts[0], parts[1], parts[2], parts[3] == "1");
    let db = Db::open(cfg(Path::new(dir), policy)).expect("child: open");
    let out = Arc::new(Mutex::new(std::io::stdout()));
    let say = {
        let out = out.clone();
        move |line: String| {
            let mut o = out.lock().unwrap();
            o.write_all(format!("ACK {} {line}\n", now_ms()).as_bytes())
                .unwrap();
            o.flush().unwrap();
        }
    };
    if rewrite && round == "0" {
        // enough data for a rewrite to take a while
        let mut argv = vec!["MSET".to_string()];
        for i in 0..30_000 {
            argv.push(format!("bulk:{i}"));
            argv.push(format!("value-{i}-{}", "z".repeat(40)));
        }
        assert_eq!(db.execute(&argv), Reply::ok());
        say("B".into());
    }
    let lists = !matches!(db.execute(&["LPUSH", "probe", "x"]), Reply::Error(e) if e.contains("unknown command"));
    say("READY".into());
    let mut handles = Vec::new();
    for t in 0..THREADS {
        let db = db.clone();
        let say = say.clone();
        let round = round.to_string();
        // everysec runs for seconds: keep the log small
        let pause = (policy == "everysec").then(|| Duration::from_millis(3));
        handles.push(std::thread::spawn(move || {
            let mut c = db.client();
            for n in 0u64.. {
                if let Some(p) = pause {
                    std::thread::sleep(p);
                }
                match n % 4 {
                    0 => {
                        let r =
                            c.execute(&["SET", &format!("s:{round}:{t}:{n}"), &format!("v{n}")]);
                        assert_eq!(r, Reply::ok());
                        say(format!("S {round} {t} {n}"));
                    }
                    1 => {
                        let Reply::Int(v) = c.execute(&["INCR", &format!("c:{t}")]) else {
                            panic!("INCR")
                        };
                        say(format!("I {t} {v}"));
                    }
                    2 => {
                        c.execute(&["MULTI"]);
                        c.execute(&["SET", &format!("x:{round}:{t}:{n}"), "1"]);
                        c.execute(&["INCR", &format!("xc:{t}")]);
                        c.execute(&["SET", &format!("y:{round}:{t}:{n}"), "1"]);
                        let r = c.execute(&["EXEC"]);
                        assert!(matches!(r, Reply::Array(ref v) if v.len() == 3), "{r:?}");
                        say(format!("T {round} {t} {n}"));
                    }
                    _ if lists => {
                        let item = format!("{round}:{n}");
                        let r = c.execute(&["LPUSH", &format!("l:{t}"), &item]);
                        assert!(matches!(r, Reply::Int(_)), "{r:?}");
                        say(format!("L {t} {item}"));
                    }
                    _ => {}
                }
            }
        }));
    }
    if rewrite {
        loop {
            say("RW".into());
            let _ = db.rewrite_aof();
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    for h in handles {
        h.join().unwrap();
    }
}

struct Ack {
    at_ms: u64,
    what: Vec<String>,
}

/// Runs one child until killed; returns its acknowledgements and the kill time.
fn run_child(
    dir: &Path,
    policy: &str,
    round: usize,
    rewrite: bool,
    seed: &mut u64,
) -> (Vec<Ack>, u64) {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(
            CHILD_ENV,
            format!("{}|{policy}|{round}|{}", dir.display(), rewrite as u8),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let acks = Arc::new(Mutex::new(Vec::new()));
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<&'static str>();
    let reader = {
        let acks = acks.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // libtest's "test crash_child ... " may precede the first line
                let Some(at) = line.find("ACK ") else {
                    continue;
                };
                let rest = &line[at + 4..];
                let mut w = rest.split(' ');
                let at_ms: u64 = w.next().unwrap().parse().unwrap();
                let what: Vec<String> = w.map(String::from).collect();
                match what[0].as_str() {
                    "READY" => {
                        let _ = ready_tx.send("ready");
                    }
                    "RW" => {
                        let _ = ready_tx.send("rw");
                    }
                    _ => acks.lock().unwrap().push(Ack { at_ms, what }),
                }
            }
        })
    };
    let mut rnd = |n: u64| {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed % n
    };
    assert_eq!(
        ready_rx.recv_timeout(Duration::from_secs(60)),
        Ok("ready"),
        "child did not start"
    );
    if rewrite {
        // kill during a rewrite: after a few of them, a random moment into one
        for _ in 0..(1 + rnd(3)) {
            while ready_rx.recv_timeout(Duration::from_secs(30)) != Ok("rw") {}
        }
        std::thread::sleep(Duration::from_millis(rnd(60)));
    } else if policy == "everysec" {
        // long enough that some writes are older than the second at risk
        std::thread::sleep(Duration::from_millis(1700 + rnd(800)));
    } else {
        std::thread::sleep(Duration::from_millis(100 + rnd(300)));
    }
    let killed_at = now_ms();
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    reader.join().unwrap();
    let acks = std::mem::take(&mut *acks.lock().unwrap());
    (acks, killed_at)
}

fn get(c: &mut emberkv::Client, k: &str) -> Option<Vec<u8>> {
    match c.execute(&["GET", k]) {
        Reply::Bulk(b) => Some(b.into_vec()),
        Reply::Nil => None,
        r => panic!("GET {k}: {r:?}"),
    }
}

fn int(c: &mut emberkv::Client, k: &str) -> i64 {
    get(c, k).map_or(0, |b| std::str::from_utf8(&b).unwrap().parse().unwrap())
}

/// Checks the reopened directory against what was acknowledged before `cutoff_ms`.
fn verify(dir: &Path, policy: &str, acks: &[Ack], cutoff_ms: u64, round: usize) -> usize {
    let db = Db::open(cfg(dir, policy))
        .unwrap_or_else(|e| panic!("round {round}: the directory does not load: {e}"));
    let mut c = db.client();
    let mut checked = 0;
    let mut max_incr: BTreeMap<String, i64> = BTreeMap::new();
    let mut list_items: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for a in acks.iter().filter(|a| a.at_ms <= cutoff_ms) {
        let w = &a.what;
        match w[0].as_str() {
            "S" => {
                let k = format!("s:{}:{}:{}", w[1], w[2], w[3]);
                assert_eq!(
                    get(&mut c, &k),
                    Some(format!("v{}", w[3]).into_bytes()),
                    "round {round}: acknowledged SET {k} lost"
                );
            }
            "I" => {
                let e = max_incr.entry(format!("c:{}", w[1])).or_default();
                *e = (*e).max(w[2].parse().unwrap());
            }
            "T" => {
                for p in ["x", "y"] {
                    let k = format!("{p}:{}:{}:{}", w[1], w[2], w[3]);
                    assert!(
                        get(&mut c, &k).is_some(),
                        "round {round}: acknowledged EXEC lost ({k})"
                    );
                }
            }
            "L" => {
                list_items
                    .entry(format!("l:{}", w[1]))
                    .or_default()
                    .insert(w[2].clone());
            }
            "B" => {
                assert!(
                    get(&mut c, "bulk:29999").is_some(),
                    "round {round}: preload lost"
                );
            }
            _ => continue,
        }
        checked += 1;
    }
    for (k, v) in &max_incr {
        let got = int(&mut c, k);
        assert!(got >= *v, "round {round}: {k} = {got}, acknowledged {v}");
    }
    for (k, items) in &list_items {
        let Reply::Array(have) = c.execute(&["LRANGE", k, "0", "-1"]) else {
            panic!("LRANGE {k}")
        };
        let have: BTreeSet<String> = have
            .iter()
            .map(|r| String::from_utf8(r.as_bytes().unwrap().to_vec()).unwrap())
            .collect();
        for i in items {
            assert!(
                have.contains(i),
                "round {round}: acknowledged LPUSH {k} {i} lost"
            );
        }
    }
    // transactions: all or nothing, whatever was acknowledged
    let keys = |pat: &str, c: &mut emberkv::Client| -> BTreeSet<String> {
        match c.execute(&["KEYS", pat]) {
            Reply::Array(v) => v
                .iter()
                .map(|r| String::from_utf8(r.as_bytes().unwrap().to_vec()).unwrap())
                .collect(),
            r => panic!("{r:?}"),
        }
    };
    let xs: BTreeSet<String> = keys("x:*", &mut c)
        .iter()
        .map(|k| k[2..].to_string())
        .collect();
    let ys: BTreeSet<String> = keys("y:*", &mut c)
        .iter()
        .map(|k| k[2..].to_string())
        .collect();
    assert_eq!(xs, ys, "round {round}: a transaction was half-applied");
    for t in 0..THREADS {
        let n = xs
            .iter()
            .filter(|k| k.split(':').nth(1) == Some(&t.to_string()))
            .count();
        assert_eq!(
            int(&mut c, &format!("xc:{t}")),
            n as i64,
            "round {round}: xc:{t}"
        );
    }
    drop(c);
    db.close().unwrap();
    checked
}

fn crash_loop(policy: &str, rounds: usize, rewrite: bool, slack_ms: u64) {
    let dir = TempDir::new(&format!("crash-{policy}"));
    let mut seed = 0x2545F4914F6CDD1D ^ now_ms();
    let started = Instant::now();
    let mut all: Vec<Ack> = Vec::new();
    let mut total = 0;
    for round in 0..rounds {
        let t0 = Instant::now();
        let (acks, killed_at) = run_child(dir.path(), policy, round, rewrite, &mut seed);
        let t1 = t0.elapsed();
        // what may have been lost in this kill is no longer expected later
        let kept: Vec<Ack> = acks
            .into_iter()
            .filter(|a| a.at_ms <= killed_at - slack_ms)
            .collect();
        total += verify(dir.path(), policy, &kept, u64::MAX, round);
        if std::env::var("EMBERKV_CRASH_VERBOSE").is_ok() {
            eprintln!(
                "round {round}: child {t1:?}, verify {:?}",
                t0.elapsed() - t1
            );
        }
        all.extend(kept);
    }
    // and everything once more at the end: later rounds lost nothing earlier
    verify(dir.path(), policy, &all, u64::MAX, rounds);
    eprintln!(
        "{policy}{}: {rounds} kills, {} acknowledged writes, {total} checked, {:?}",
        if rewrite { " + rewrites" } else { "" },
        all.len(),
        started.elapsed()
    );
    assert!(total > 0);
}

#[test]
fn kill9_always_loses_nothing_acknowledged() {
    crash_loop("always", 20, false, 0);
}

#[test]
fn kill9_everysec_loses_at_most_about_a_second() {
    crash_loop("everysec", 6, false, 1500);
}

#[test]
fn kill9_during_rewrites_leaves_a_loadable_directory() {
    crash_loop("always", 8, true, 0);
}
