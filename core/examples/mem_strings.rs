//! Memory for 1M keys `user:<n>` with 16-byte values: emberkv's process RSS
//! growth and its own INFO used_memory, beside redis-server's used_memory for
//! the same data (when redis-server is installed; started here on a free
//! loopback port in a temp dir, stopped by PID).
//!
//! `cargo run --release -p emberkv --example mem_strings`

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

fn rss_bytes() -> usize {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    s.split_whitespace()
        .nth(1)
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(0)
        * 4096
}

fn main() {
    let n = 1_000_000;
    let before = rss_bytes();
    let db = emberkv::Db::in_memory();
    let mut c = db.client();
    for i in 0..n {
        c.execute(&[
            b"SET".to_vec(),
            format!("user:{i}").into_bytes(),
            b"0123456789abcdef".to_vec(),
        ]);
    }
    let after = rss_bytes();
    let info = c.execute(&["INFO", "memory"]);
    let text = String::from_utf8_lossy(info.as_bytes().unwrap_or_default()).into_owned();
    let used = text
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .unwrap_or("?")
        .trim()
        .to_string();
    println!(
        "emberkv  rss growth {:>12} bytes   INFO used_memory {used}",
        after - before
    );
    match redis_used_memory(n) {
        Some(r) => println!("redis    used_memory {r:>12} bytes"),
        None => println!("redis-server not available"),
    }
}

fn redis_used_memory(n: usize) -> Option<usize> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let dir = std::env::temp_dir().join(format!("emberkv-mem-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let mut child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .arg("--dir")
        .arg(&dir)
        .stdout(Stdio::null())
        .spawn()
        .ok()?;
    let result = (|| {
        let mut s = None;
        for _ in 0..100 {
            if let Ok(c) = TcpStream::connect(("127.0.0.1", port)) {
                s = Some(c);
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let mut s = s?;
        let mut buf = Vec::new();
        for i in 0..n {
            let k = format!("user:{i}");
            buf.extend_from_slice(
                format!(
                    "*3\r\n$3\r\nSET\r\n${}\r\n{k}\r\n$16\r\n0123456789abcdef\r\n",
                    k.len()
                )
                .as_bytes(),
            );
        }
        s.write_all(&buf).ok()?;
        let mut r = BufReader::new(s.try_clone().ok()?);
        let mut line = String::new();
        for _ in 0..n {
            line.clear();
            r.read_line(&mut line).ok()?;
        }
        s.write_all(b"*2\r\n$4\r\nINFO\r\n$6\r\nmemory\r\n").ok()?;
        line.clear();
        r.read_line(&mut line).ok()?;
        let len: usize = line[1..].trim().parse().ok()?;
        let mut body = vec![0; len + 2];
        r.read_exact(&mut body).ok()?;
        let text = String::from_utf8_lossy(&body).into_owned();
        text.lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .and_then(|v| v.trim().parse().ok())
    })();
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    result
}
