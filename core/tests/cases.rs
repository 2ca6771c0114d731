//! The shared case corpus (`tests/cases/*.case`): argv in, expected RESP2
//! reply out, one file per command family, run in one client from an empty
//! database.
//!
//! Every expectation is checked against emberkv and, when redis-server is
//! installed (CI installs it and sets EMBERKV_REQUIRE_REDIS=1), against a
//! real redis-server too, which proves the expectation is Redis's.
//! `EMBERKV_RECORD=1` rewrites the `=>` lines from the real server's replies.
//!
//! Format: a command line (quoted args take `\"`, `\\`, `\xHH`), then
//! `=> <reply>` (exact) or `=>~ <reply>` (array compared as a multiset),
//! the reply escaped as in `common::escape`. `#` starts a comment.

mod common;

use std::path::{Path, PathBuf};

use common::{RedisServer, escape, same_reply, split_args, unescape};

struct Case {
    line_no: usize,
    argv: Vec<Vec<u8>>,
    expected: Option<Vec<u8>>,
    unordered: bool,
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/cases")
}

fn parse(text: &str) -> Vec<Case> {
    let mut cases: Vec<Case> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if let Some(rest) = t.strip_prefix("=>") {
            let (unordered, rest) = match rest.strip_prefix('~') {
                Some(r) => (true, r),
                None => (false, rest),
            };
            let c = cases
                .last_mut()
                .unwrap_or_else(|| panic!("line {}: reply without a command", i + 1));
            c.unordered = unordered;
            let rest = rest.trim();
            c.expected = if rest == "?" {
                None
            } else {
                Some(unescape(rest))
            };
        } else {
            cases.push(Case {
                line_no: i + 1,
                argv: split_args(t),
                expected: None,
                unordered: false,
            });
        }
    }
    cases
}

fn render(cases: &[Case]) -> String {
    let mut out = String::new();
    for c in cases {
        let args: Vec<String> = c
            .argv
            .iter()
            .map(|a| {
                let plain = !a.is_empty()
                    && a.iter()
                        .all(|&b| b.is_ascii_graphic() && b != b'"' && b != b'\\');
                if plain {
                    String::from_utf8(a.clone()).unwrap()
                } else {
                    let mut s = String::from("\"");
                    for &b in a {
                        match b {
                            b'"' => s.push_str("\\\""),
                            b'\\' => s.push_str("\\\\"),
                            0x20..=0x7e => s.push(b as char),
                            _ => s.push_str(&format!("\\x{b:02x}")),
                        }
                    }
                    s.push('"');
                    s
                }
            })
            .collect();
        out.push_str(&args.join(" "));
        out.push('\n');
        let tag = if c.unordered { "=>~" } else { "=>" };
        match &c.expected {
            Some(e) => out.push_str(&format!("{tag} {}\n", escape(e))),
            None => out.push_str(&format!("{tag} ?\n")),
        }
    }
    out
}

#[test]
fn case_corpus() {
    let record = std::env::var("EMBERKV_RECORD").is_ok_and(|v| v == "1");
    let redis = RedisServer::start();
    assert!(
        !record || redis.is_some(),
        "EMBERKV_RECORD=1 needs redis-server"
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("tests/cases")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "case"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let mut failures = Vec::new();
    let mut total = 0;
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(file).unwrap();
        let mut cases = parse(&text);
        if let Some(srv) = &redis {
            let mut conn = srv.conn();
            conn.command(&[b"FLUSHALL".to_vec()]);
            for c in cases.iter_mut() {
                let got = conn.command(&c.argv);
                if record {
                    c.expected = Some(got);
                } else if let Some(exp) = &c.expected
                    && !same_reply(exp, &got, c.unordered)
                {
                    failures.push(format!(
                            "{name}:{}: redis-server disagrees with the case\n  expected {}\n  redis    {}",
                            c.line_no,
                            escape(exp),
                            escape(&got)
                        ));
                }
            }
            if record {
                std::fs::write(file, render(&cases)).unwrap();
            }
        }
        let db = emberkv::Db::in_memory();
        let mut client = db.client();
        for c in &cases {
            total += 1;
            let Some(exp) = &c.expected else {
                failures.push(format!("{name}:{}: no expected reply recorded", c.line_no));
                continue;
            };
            let got = client.execute(&c.argv).to_resp2();
            if !same_reply(exp, &got, c.unordered) {
                let cmd: Vec<String> = c
                    .argv
                    .iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect();
                failures.push(format!(
                    "{name}:{}: {}\n  expected {}\n  emberkv  {}",
                    c.line_no,
                    cmd.join(" "),
                    escape(exp),
                    escape(&got)
                ));
            }
        }
    }
    eprintln!(
        "{total} cases in {} files, {} failures",
        files.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} case failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
