//! Per-command statistics (INFO commandstats / errorstats) and the command
//! index they are kept by.
//!
//! Every row of the command table, subcommands included, has a small index
//! (`index_of`). Clients count calls locally (`Pending`) and move them into
//! the engine's atomics in batches, as the other INFO counters, so threads
//! running the same command never fight over one cache line.
//!
//! Durations: reading the clock costs as much as a whole GET on some virtual
//! machines (~200 ns per read measured on the development VM), so a call is
//! timed only when something needs it (`Engine::must_time`): commands not
//! flagged `fast` while the slow log or the latency monitor is on (they are
//! the ones that can be slow), every call when the slow log wants all
//! (`slowlog-log-slower-than 0`), and otherwise one call in `SAMPLE_EVERY`
//! per client. `usec` of a command is its timed total scaled to all its
//! calls (exact for commands timed on every call).

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use hashbrown::HashMap;
use parking_lot::Mutex;

use crate::commands::CommandSpec;

/// One fast command call in this many is timed.
pub(crate) const SAMPLE_EVERY: u64 = 16;

/// Distinct error codes kept (Redis's limit); later new codes are not tracked.
const MAX_ERROR_CODES: usize = 128;

struct Index {
    specs: Vec<&'static CommandSpec>,
    by_ptr: HashMap<usize, u16>,
}

static INDEX: LazyLock<Index> = LazyLock::new(|| {
    let mut specs = Vec::new();
    for c in crate::commands::all_commands() {
        specs.push(c);
        specs.extend(c.subcommands.iter());
    }
    specs.extend(crate::commands::server::COMMAND_SUBCOMMANDS.iter());
    let by_ptr = specs
        .iter()
        .enumerate()
        .map(|(i, s)| (*s as *const CommandSpec as usize, i as u16))
        .collect();
    Index { specs, by_ptr }
});

/// The index of a command table row (0 when unknown, which never happens
/// for rows of the table).
pub(crate) fn index_of(spec: &'static CommandSpec) -> u16 {
    INDEX
        .by_ptr
        .get(&(spec as *const CommandSpec as usize))
        .copied()
        .unwrap_or(0)
}

/// `index_of`, from the client's last-command cache when it is that command
/// (the common case: no hash lookup).
#[inline]
pub(crate) fn index_of_cached(cl: &crate::client::ClientState, spec: &'static CommandSpec) -> u16 {
    match cl.last_command {
        Some((_, s, i)) if std::ptr::eq(s, spec) => i,
        _ => index_of(spec),
    }
}

pub(crate) fn spec_at(i: u16) -> Option<&'static CommandSpec> {
    INDEX.specs.get(i as usize).copied()
}

fn count() -> usize {
    INDEX.specs.len()
}

#[derive(Default)]
struct CmdStat {
    calls: AtomicU64,
    timed_calls: AtomicU64,
    timed_usec: AtomicU64,
    failed: AtomicU64,
    rejected: AtomicU64,
    /// Timed calls by duration (LATENCY HISTOGRAM): bucket `k` holds the
    /// durations up to `bucket_top_ns(k)`.
    histogram: [AtomicU64; BUCKETS],
}

/// LATENCY HISTOGRAM's buckets: Redis's (an HDR histogram in nanoseconds
/// read in powers of two from 1024 ns), the last one open-ended.
const BUCKETS: usize = 28;

/// The largest duration (ns) bucket `k` holds, as Redis's HDR histogram
/// (2 significant digits) reports its power-of-two steps: 1024·2^k plus
/// the width of the value's sub-bucket, minus one.
fn bucket_top_ns(k: usize) -> u64 {
    (1024u64 << k) + (8u64 << k) - 1
}

fn bucket_of(usec: u64) -> usize {
    let ns = usec.saturating_mul(1000);
    (0..BUCKETS - 1)
        .find(|&k| ns <= bucket_top_ns(k))
        .unwrap_or(BUCKETS - 1)
}

/// The engine's per-command and per-error-code counters.
pub(crate) struct CommandStats {
    cmds: Box<[CmdStat]>,
    errors: Mutex<BTreeMap<String, u64>>,
    /// Every error reply counted (INFO stats `total_error_replies`), also
    /// those whose code no longer fits in `errors`.
    total_errors: std::sync::atomic::AtomicU64,
}

impl Default for CommandStats {
    fn default() -> CommandStats {
        CommandStats {
            cmds: (0..count()).map(|_| CmdStat::default()).collect(),
            errors: Mutex::new(BTreeMap::new()),
            total_errors: Default::default(),
        }
    }
}

/// A client's counts for one command, not yet moved into the engine.
#[derive(Clone, Copy, Default)]
pub(crate) struct Pending {
    idx: u16,
    calls: u32,
    timed_calls: u32,
    failed: u32,
    rejected: u32,
    timed_usec: u64,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.calls == 0 && self.rejected == 0
    }
}

/// A client's not-yet-flushed per-command counts: the command it ran last
/// in `cur` (a client repeating a command touches nothing else), the few
/// others since the last flush in `others`.
#[derive(Default)]
pub(crate) struct PendingStats {
    cur: Pending,
    others: Vec<Pending>,
}

impl PendingStats {
    #[inline]
    fn slot(&mut self, idx: u16) -> &mut Pending {
        if self.cur.idx != idx {
            self.switch(idx);
        }
        &mut self.cur
    }

    #[cold]
    fn switch(&mut self, idx: u16) {
        let next = match self.others.iter().position(|p| p.idx == idx) {
            Some(i) => self.others.swap_remove(i),
            None => Pending {
                idx,
                ..Pending::default()
            },
        };
        let prev = std::mem::replace(&mut self.cur, next);
        if !prev.is_empty() {
            self.others.push(prev);
        }
    }

    /// A call that ran; `usec` when it was timed.
    #[inline]
    pub fn call(&mut self, idx: u16, usec: Option<u64>, failed: bool) {
        let p = self.slot(idx);
        p.calls += 1;
        p.failed += failed as u32;
        if let Some(us) = usec {
            p.timed_calls += 1;
            p.timed_usec += us;
        }
    }

    /// A call refused before running (arity, NOAUTH, OOM, …).
    pub fn rejected(&mut self, idx: u16) {
        self.slot(idx).rejected += 1;
    }

    pub fn is_empty(&self) -> bool {
        self.cur.is_empty() && self.others.is_empty()
    }

    /// Commands with counts besides the current one.
    pub fn len(&self) -> usize {
        self.others.len()
    }

    pub fn flush(&mut self, into: &CommandStats) {
        let idx = self.cur.idx;
        let cur = std::mem::replace(
            &mut self.cur,
            Pending {
                idx,
                ..Pending::default()
            },
        );
        for p in self.others.drain(..).chain([cur]) {
            if p.is_empty() {
                continue;
            }
            let Some(s) = into.cmds.get(p.idx as usize) else {
                continue;
            };
            for (local, global) in [
                (p.calls as u64, &s.calls),
                (p.timed_calls as u64, &s.timed_calls),
                (p.timed_usec, &s.timed_usec),
                (p.failed as u64, &s.failed),
                (p.rejected as u64, &s.rejected),
            ] {
                if local > 0 {
                    global.fetch_add(local, Ordering::Relaxed);
                }
            }
        }
    }
}

/// The code of an error reply: its first word (`ERR`, `WRONGTYPE`, …).
fn error_code(msg: &str) -> &str {
    msg.split([' ', '\r', '\n']).next().unwrap_or(msg)
}

impl CommandStats {
    /// Counts an error reply by its code (INFO errorstats).
    pub fn error_reply(&self, msg: &str) {
        self.total_errors.fetch_add(1, Ordering::Relaxed);
        let code = error_code(msg);
        let mut e = self.errors.lock();
        if let Some(n) = e.get_mut(code) {
            *n += 1;
        } else if e.len() < MAX_ERROR_CODES {
            e.insert(code.to_string(), 1);
        }
    }

    pub fn reset(&self) {
        for s in self.cmds.iter() {
            for c in [
                &s.calls,
                &s.timed_calls,
                &s.timed_usec,
                &s.failed,
                &s.rejected,
            ]
            .into_iter()
            .chain(s.histogram.iter())
            {
                c.store(0, Ordering::Relaxed);
            }
        }
        self.errors.lock().clear();
        self.total_errors.store(0, Ordering::Relaxed);
    }

    /// A timed call of the command at `idx` (LATENCY HISTOGRAM).
    pub fn record_latency(&self, idx: u16, usec: u64) {
        if let Some(s) = self.cmds.get(idx as usize) {
            s.histogram[bucket_of(usec)].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// LATENCY HISTOGRAM's entry of the command at `idx`, or None when it
    /// was not called since the start or CONFIG RESETSTAT: its calls and
    /// its timed calls as (bucket top in µs, calls up to it), cumulative,
    /// one pair per bucket that adds calls (Redis's format). Fast commands
    /// are timed one call in `SAMPLE_EVERY` (see above): their histogram
    /// counts those calls only.
    pub fn latency_histogram(&self, idx: u16) -> Option<(u64, Vec<(u64, u64)>)> {
        let s = self.cmds.get(idx as usize)?;
        let calls = s.calls.load(Ordering::Relaxed);
        let mut cum = 0;
        let mut points = Vec::new();
        for (k, b) in s.histogram.iter().enumerate() {
            let n = b.load(Ordering::Relaxed);
            if n > 0 {
                cum += n;
                points.push((bucket_top_ns(k) / 1000, cum));
            }
        }
        (calls > 0 || cum > 0).then_some((calls, points))
    }

    /// Error replies counted since the start or CONFIG RESETSTAT.
    pub fn total_errors(&self) -> u64 {
        self.total_errors.load(Ordering::Relaxed)
    }

    /// The `# Commandstats` lines, in command table order.
    pub fn write_commandstats(&self, out: &mut String) {
        use std::fmt::Write as _;
        for (i, s) in self.cmds.iter().enumerate() {
            let calls = s.calls.load(Ordering::Relaxed);
            let failed = s.failed.load(Ordering::Relaxed);
            let rejected = s.rejected.load(Ordering::Relaxed);
            if calls == 0 && failed == 0 && rejected == 0 {
                continue;
            }
            let timed = s.timed_calls.load(Ordering::Relaxed);
            let tusec = s.timed_usec.load(Ordering::Relaxed);
            let usec = if timed == 0 {
                0
            } else {
                (tusec as u128 * calls as u128 / timed as u128) as u64
            };
            let per_call = if calls == 0 {
                0.0
            } else {
                usec as f64 / calls as f64
            };
            let name = spec_at(i as u16).map_or("", |s| s.name);
            let _ = write!(
                out,
                "cmdstat_{name}:calls={calls},usec={usec},usec_per_call={per_call:.2},rejected_calls={rejected},failed_calls={failed}\r\n"
            );
        }
    }

    /// The `# Errorstats` lines.
    pub fn write_errorstats(&self, out: &mut String) {
        use std::fmt::Write as _;
        for (code, n) in self.errors.lock().iter() {
            let _ = write!(out, "errorstat_{code}:count={n}\r\n");
        }
    }

    /// Calls of the command at `idx` so far (flushed ones).
    #[cfg(test)]
    pub fn calls(&self, idx: u16) -> u64 {
        self.cmds[idx as usize].calls.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_row_has_its_own_index() {
        for (i, s) in INDEX.specs.iter().enumerate() {
            assert_eq!(index_of(s) as usize, i, "{}", s.name);
        }
        assert!(INDEX.specs.iter().any(|s| s.name == "client|list"));
        assert!(INDEX.specs.iter().any(|s| s.name == "command|info"));
    }

    #[test]
    fn pending_counts_reach_the_engine_on_flush() {
        let stats = CommandStats::default();
        let get = index_of(crate::commands::find_command(b"get").unwrap());
        let mut p = PendingStats::default();
        p.call(get, None, false);
        p.call(get, Some(10), true);
        p.rejected(get);
        assert_eq!(stats.calls(get), 0);
        p.flush(&stats);
        assert!(p.is_empty());
        assert_eq!(stats.calls(get), 2);
        let mut out = String::new();
        stats.write_commandstats(&mut out);
        // 10 µs over one timed call of two: 20 µs for both
        assert_eq!(
            out,
            "cmdstat_get:calls=2,usec=20,usec_per_call=10.00,rejected_calls=1,failed_calls=1\r\n"
        );
    }

    #[test]
    fn errors_count_by_their_first_word() {
        let stats = CommandStats::default();
        stats.error_reply("ERR syntax error");
        stats.error_reply("WRONGTYPE Operation against a key");
        stats.error_reply("ERR no");
        let mut out = String::new();
        stats.write_errorstats(&mut out);
        assert_eq!(
            out,
            "errorstat_ERR:count=2\r\nerrorstat_WRONGTYPE:count=1\r\n"
        );
    }
}
