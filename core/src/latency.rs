//! The latency monitor (LATENCY): per event class, the spikes of at least
//! `latency-monitor-threshold` milliseconds, one sample per second (the
//! highest), the last 160 of them, and the all-time maximum.
//!
//! Event classes recorded: `command` (a command not flagged fast) and
//! `fast-command` (one flagged fast), as Redis names them.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;

use parking_lot::Mutex;

use crate::reply::Reply;

/// Samples kept per event (Redis's `LATENCY_TS_LEN`).
const HISTORY_LEN: usize = 160;

#[derive(Default)]
struct Series {
    /// (unix seconds, milliseconds), oldest first.
    samples: VecDeque<(u64, u64)>,
    max: u64,
}

#[derive(Default)]
pub(crate) struct LatencyMonitor {
    events: Mutex<BTreeMap<String, Series>>,
}

impl LatencyMonitor {
    /// Adds a spike of `ms` at `time_s` to `event`.
    pub fn record(&self, event: &str, time_s: u64, ms: u64) {
        let mut g = self.events.lock();
        let s = g.entry(event.to_string()).or_default();
        s.max = s.max.max(ms);
        match s.samples.back_mut() {
            Some(last) if last.0 == time_s => last.1 = last.1.max(ms),
            _ => {
                s.samples.push_back((time_s, ms));
                if s.samples.len() > HISTORY_LEN {
                    s.samples.pop_front();
                }
            }
        }
    }

    /// LATENCY LATEST: [event, time, latest ms, max ms] per event.
    pub fn latest(&self) -> Reply {
        let g = self.events.lock();
        Reply::Array(
            g.iter()
                .filter_map(|(name, s)| {
                    let (t, ms) = *s.samples.back()?;
                    Some(Reply::Array(vec![
                        Reply::bulk(name.as_str()),
                        Reply::Int(t as i64),
                        Reply::Int(ms as i64),
                        Reply::Int(s.max as i64),
                    ]))
                })
                .collect(),
        )
    }

    /// LATENCY HISTORY event: [time, ms] pairs, oldest first.
    pub fn history(&self, event: &str) -> Reply {
        let g = self.events.lock();
        Reply::Array(g.get(event).map_or_else(Vec::new, |s| {
            s.samples
                .iter()
                .map(|(t, ms)| Reply::Array(vec![Reply::Int(*t as i64), Reply::Int(*ms as i64)]))
                .collect()
        }))
    }

    /// LATENCY RESET [event ...]: how many event series were dropped.
    pub fn reset(&self, events: &[&[u8]]) -> usize {
        let mut g = self.events.lock();
        if events.is_empty() {
            let n = g.len();
            g.clear();
            return n;
        }
        events
            .iter()
            .filter(|e| {
                std::str::from_utf8(e)
                    .ok()
                    .and_then(|e| g.remove(e))
                    .is_some()
            })
            .count()
    }

    /// LATENCY DOCTOR: a short report of what was recorded.
    pub fn doctor(&self) -> String {
        let g = self.events.lock();
        if g.values().all(|s| s.samples.is_empty()) {
            return "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n".into();
        }
        let mut out = String::from(
            "Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n",
        );
        for (i, (name, s)) in g.iter().filter(|(_, s)| !s.samples.is_empty()).enumerate() {
            let n = s.samples.len() as u64;
            let avg = s.samples.iter().map(|x| x.1).sum::<u64>() / n;
            let mad = s.samples.iter().map(|x| x.1.abs_diff(avg)).sum::<u64>() / n;
            let first = s.samples.front().map_or(0, |x| x.0);
            let last = s.samples.back().map_or(0, |x| x.0);
            let period = if n > 1 {
                (last - first) as f64 / (n - 1) as f64
            } else {
                1.0
            };
            let _ = writeln!(
                out,
                "{}. {name}: {n} latency spikes (average {avg}ms, mean deviation {mad}ms, period {period:.2} sec). Worst all time event {}ms.",
                i + 1,
                s.max
            );
        }
        out.push_str("\nI have a few advices for you:\n\n- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_sample_per_second_keeps_the_highest() {
        let m = LatencyMonitor::default();
        m.record("command", 10, 5);
        m.record("command", 10, 9);
        m.record("command", 10, 2);
        m.record("command", 11, 3);
        assert_eq!(
            m.history("command"),
            Reply::Array(vec![
                Reply::Array(vec![Reply::Int(10), Reply::Int(9)]),
                Reply::Array(vec![Reply::Int(11), Reply::Int(3)]),
            ])
        );
        assert_eq!(
            m.latest(),
            Reply::Array(vec![Reply::Array(vec![
                Reply::bulk("command"),
                Reply::Int(11),
                Reply::Int(3),
                Reply::Int(9)
            ])])
        );
        assert_eq!(m.reset(&[b"command", b"nosuch"]), 1);
        assert_eq!(m.latest(), Reply::Array(vec![]));
    }

    #[test]
    fn history_is_bounded() {
        let m = LatencyMonitor::default();
        for t in 0..200 {
            m.record("command", t, 1);
        }
        let Reply::Array(h) = m.history("command") else {
            panic!()
        };
        assert_eq!(h.len(), HISTORY_LEN);
    }
}
