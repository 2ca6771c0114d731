//! The slow log (SLOWLOG): commands whose execution took at least
//! `slowlog-log-slower-than` microseconds, newest first, at most
//! `slowlog-max-len` of them.
//!
//! Entries keep Redis's trimmed argv (32 arguments, 128 bytes each) with
//! secrets replaced by `(redacted)`, so a password never sits in memory
//! longer than its command.

use std::collections::VecDeque;

use parking_lot::Mutex;

use crate::reply::Reply;

const MAX_ARGC: usize = 32;
const MAX_STRING: usize = 128;

pub(crate) struct SlowEntry {
    id: u64,
    time_s: u64,
    usec: u64,
    argv: Vec<Vec<u8>>,
    peer: String,
    name: Vec<u8>,
}

#[derive(Default)]
pub(crate) struct SlowLog {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    entries: VecDeque<SlowEntry>,
}

/// Which arguments of a command are secrets, as Redis redacts them.
fn redacted(argv: &[&[u8]]) -> Vec<bool> {
    let mut hide = vec![false; argv.len()];
    let name = argv[0].to_ascii_lowercase();
    match name.as_slice() {
        b"auth" => hide[1..].iter_mut().for_each(|h| *h = true),
        b"hello" => {
            let mut i = 2;
            while i < argv.len() {
                if argv[i].eq_ignore_ascii_case(b"auth") && i + 2 < argv.len() {
                    hide[i + 1] = true;
                    hide[i + 2] = true;
                    i += 3;
                } else {
                    i += 1;
                }
            }
        }
        b"config" if argv.len() > 2 && argv[1].eq_ignore_ascii_case(b"set") => {
            let mut i = 2;
            while i + 1 < argv.len() {
                let p = argv[i].to_ascii_lowercase();
                if matches!(
                    p.as_slice(),
                    b"requirepass"
                        | b"masterauth"
                        | b"masteruser"
                        | b"tls-key-file-pass"
                        | b"tls-client-key-file-pass"
                ) {
                    hide[i + 1] = true;
                }
                i += 2;
            }
        }
        _ => {}
    }
    hide
}

/// The argv a slow log entry keeps: secrets redacted, long lists and long
/// strings cut as Redis cuts them.
fn trimmed_argv(argv: &[&[u8]]) -> Vec<Vec<u8>> {
    let hide = redacted(argv);
    let keep = if argv.len() > MAX_ARGC {
        MAX_ARGC - 1
    } else {
        argv.len()
    };
    let mut out: Vec<Vec<u8>> = argv[..keep]
        .iter()
        .zip(&hide)
        .map(|(a, h)| {
            if *h {
                b"(redacted)".to_vec()
            } else if a.len() > MAX_STRING {
                let mut v = a[..MAX_STRING].to_vec();
                v.extend_from_slice(
                    format!("... ({} more bytes)", a.len() - MAX_STRING).as_bytes(),
                );
                v
            } else {
                a.to_vec()
            }
        })
        .collect();
    if argv.len() > MAX_ARGC {
        out.push(format!("... ({} more arguments)", argv.len() - keep).into_bytes());
    }
    out
}

impl SlowLog {
    /// Records a command that took `usec`; keeps at most `max_len` entries.
    pub fn record(
        &self,
        argv: &[&[u8]],
        usec: u64,
        time_s: u64,
        peer: String,
        name: Vec<u8>,
        max_len: usize,
    ) {
        let argv = trimmed_argv(argv);
        let mut g = self.inner.lock();
        let id = g.next_id;
        g.next_id += 1;
        g.entries.push_front(SlowEntry {
            id,
            time_s,
            usec,
            argv,
            peer,
            name,
        });
        g.entries.truncate(max_len);
    }

    /// Drops entries beyond a lowered `slowlog-max-len`.
    pub fn trim(&self, max_len: usize) {
        self.inner.lock().entries.truncate(max_len);
    }

    pub fn len(&self) -> usize {
        self.inner.lock().entries.len()
    }

    pub fn reset(&self) {
        self.inner.lock().entries.clear();
    }

    /// SLOWLOG GET: the newest `count` entries (all when None).
    pub fn get(&self, count: Option<usize>) -> Reply {
        let g = self.inner.lock();
        let n = count.unwrap_or(usize::MAX).min(g.entries.len());
        Reply::Array(
            g.entries
                .iter()
                .take(n)
                .map(|e| {
                    Reply::Array(vec![
                        Reply::Int(e.id as i64),
                        Reply::Int(e.time_s as i64),
                        Reply::Int(e.usec as i64),
                        Reply::Array(e.argv.iter().map(|a| Reply::bulk(a.as_slice())).collect()),
                        Reply::bulk(e.peer.as_str()),
                        Reply::bulk(e.name.as_slice()),
                    ])
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_argv_and_long_strings_are_cut_as_redis_cuts_them() {
        let big = vec![b'x'; 130];
        let mut argv: Vec<&[u8]> = vec![b"sadd", b"set"];
        argv.extend(std::iter::repeat_n(&b"m"[..], 40));
        argv.push(&big);
        let t = trimmed_argv(&argv);
        assert_eq!(t.len(), 32);
        assert_eq!(t[31], b"... (12 more arguments)");
        let t = trimmed_argv(&[b"set", b"k", &big]);
        assert_eq!(t[2], [&big[..128], b"... (2 more bytes)"].concat());
    }

    #[test]
    fn secrets_are_redacted() {
        let t = trimmed_argv(&[b"config", b"set", b"requirepass", b"pw", b"hz", b"10"]);
        assert_eq!(t[3], b"(redacted)");
        assert_eq!(t[5], b"10");
        let t = trimmed_argv(&[b"HELLO", b"2", b"AUTH", b"default", b"pw"]);
        assert_eq!(&t[3..], [b"(redacted)".to_vec(), b"(redacted)".to_vec()]);
    }

    #[test]
    fn newest_first_and_bounded() {
        let log = SlowLog::default();
        for i in 0..5u64 {
            log.record(&[b"ping"], i, 0, String::new(), Vec::new(), 3);
        }
        assert_eq!(log.len(), 3);
        let Reply::Array(es) = log.get(Some(1)) else {
            panic!()
        };
        let Reply::Array(e) = &es[0] else { panic!() };
        assert_eq!(e[0], Reply::Int(4));
    }
}
