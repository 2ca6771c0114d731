//! `maxmemory` and eviction: how much memory the engine uses, the policies
//! that pick keys to evict, and the LFU access counter.
//!
//! Rules for whoever changes this:
//! - Used memory is the counting allocator's figure (`alloc.rs`) when the
//!   program installed it; otherwise an estimate from walking the keyspace,
//!   reused while nothing is written or for ten times the walk's own time
//!   (at most `ESTIMATE_MAX_AGE`), and lowered by what each eviction frees.
//! - `perform` runs before a `denyoom` command (dispatch, with no shard lock
//!   held) and from the cron; it takes each shard lock itself, one at a
//!   time. Evictions are deletions through a `Ctx`, so they reach the AOF as
//!   DEL, raise WATCH flags and publish the `evicted` event.
//! - Sampling, as Redis: each round reads `maxmemory-samples` keys of one
//!   random shard (keys are spread over shards by hash, so that is a random
//!   sample) into a pool of the best 16 candidates kept across calls; the best
//!   candidate still present is evicted. volatile-ttl reads the shard's
//!   earliest deadlines instead (better than a sample, and as cheap).
//! - Under an LFU policy `Entry::atime` holds Redis's LFU word instead of the
//!   access second: the minute of the last decrement (16 bits) and an 8-bit
//!   logarithmic counter. Switching policy reinterprets the field, as Redis
//!   does ("LRU and LFU data will take some time to adjust").

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::client::ClientState;
use crate::commands::Ctx;
use crate::config::Tun;
use crate::db::Engine;
use crate::keyspace::{Entry, NSHARDS};
use crate::util::rng::random_below;

/// Redis's OOM error (a denyoom command, EXEC, or a script's first write).
pub(crate) const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// The longest the keyspace estimate is reused after writes (without the
/// counting allocator).
const ESTIMATE_MAX_AGE: Duration = Duration::from_millis(100);
/// Candidates kept between eviction rounds (Redis's EVPOOL_SIZE).
const POOL_SIZE: usize = 16;
/// A new key's LFU counter (Redis's LFU_INIT_VAL).
pub(crate) const LFU_INIT: u32 = 5;

/// `maxmemory-policy`: an index into `NAMES`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Policy(u8);

impl Policy {
    /// In Redis's order (its error message lists them so): the volatile
    /// ones first, LFU ones at 1 and 5, random ones at 2 and 6.
    pub const NAMES: &'static [&'static str] = &[
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
        "allkeys-lru",
        "allkeys-lfu",
        "allkeys-random",
        "noeviction",
    ];
    const VOLATILE_TTL: Policy = Policy(3);
    const NOEVICTION: Policy = Policy(7);

    pub fn current(eng: &Engine) -> Policy {
        Policy(eng.params.tun(Tun::MaxmemoryPolicy).clamp(0, 7) as u8)
    }

    fn volatile(self) -> bool {
        self.0 <= Policy::VOLATILE_TTL.0
    }

    pub fn is_lfu(self) -> bool {
        matches!(self.0, 1 | 5)
    }

    fn is_random(self) -> bool {
        matches!(self.0, 2 | 6)
    }
}

/// Whether the policy is an LFU one: what `Entry::atime` holds. One relaxed
/// load; on the read path.
#[inline]
pub(crate) fn lfu_on(eng: &Engine) -> bool {
    Policy::current(eng).is_lfu()
}

// ----- LFU: Redis's logarithmic counter with decay -----

fn lfu_minutes(now_s: u64) -> u32 {
    ((now_s / 60) & 0xffff) as u32
}

/// The counter of an LFU word after decay: one per `lfu-decay-time`
/// minutes since the word's minute. A word of 0 (a key not accessed since
/// the engine opened) counts as new.
pub(crate) fn lfu_decayed(word: u32, now_s: u64, decay_min: i64) -> u32 {
    if word == 0 {
        return LFU_INIT;
    }
    let (ldt, counter) = (word >> 8, word & 0xff);
    let now = lfu_minutes(now_s);
    let elapsed = if now >= ldt {
        now - ldt
    } else {
        0xffff - ldt + now
    };
    let periods = if decay_min > 0 {
        elapsed as u64 / decay_min as u64
    } else {
        0
    };
    counter.saturating_sub(periods.min(255) as u32)
}

/// The LFU word after an access: decayed, then incremented with a
/// probability that falls as the counter grows (`lfu-log-factor`).
pub(crate) fn lfu_access(word: u32, now_s: u64, log_factor: i64, decay_min: i64) -> u32 {
    let mut c = lfu_decayed(word, now_s, decay_min);
    if c < 255 {
        let base = c.saturating_sub(LFU_INIT) as f64;
        let p = 1.0 / (base * log_factor as f64 + 1.0);
        if p >= 1.0 || (random_below(1 << 53) as f64 / (1u64 << 53) as f64) < p {
            c += 1;
        }
    }
    (lfu_minutes(now_s) << 8) | c
}

/// A new key's LFU word.
pub(crate) fn lfu_new(now_s: u64) -> u32 {
    (lfu_minutes(now_s) << 8) | LFU_INIT
}

// ----- the evictor -----

/// What `perform` achieved.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Outcome {
    /// Under the limit (or no limit).
    Ok,
    /// Still over after the time budget (`maxmemory-eviction-tenacity`);
    /// the cron goes on evicting and the command runs.
    Running,
    /// Over the limit and nothing can be evicted.
    Fail,
}

struct Candidate {
    score: u64,
    db: usize,
    key: Vec<u8>,
}

/// A keyspace walk's result, reused until something was written and the
/// walk is older than ten times what it took (at most `ESTIMATE_MAX_AGE`).
#[derive(Clone, Copy)]
struct Estimate {
    at: Instant,
    bytes: usize,
    /// `Engine::dirty` when taken.
    dirty: u64,
    reuse: Duration,
}

/// Eviction state, one per engine.
#[derive(Default)]
pub(crate) struct Evictor {
    /// INFO stats `evicted_keys` (CONFIG RESETSTAT clears it).
    pub evicted_keys: AtomicU64,
    /// INFO `used_memory_peak`.
    peak: AtomicUsize,
    /// The keyspace estimate without the counting allocator.
    estimate: Mutex<Option<Estimate>>,
    /// Held while evicting: one evictor at a time; the pool lives inside.
    pool: Mutex<Vec<Candidate>>,
    /// Round-robin database for the random policies.
    next_db: AtomicUsize,
}

impl Evictor {
    /// Used memory as maxmemory compares it (`allocated()` or the estimate).
    pub fn used(&self, eng: &Engine) -> usize {
        let used = match crate::alloc::allocated() {
            Some(n) => n,
            None => {
                let dirty = eng.dirty.load(Ordering::Relaxed);
                let mut est = self.estimate.lock();
                match *est {
                    Some(e) if e.dirty == dirty || e.at.elapsed() < e.reuse => e.bytes,
                    _ => {
                        let at = Instant::now();
                        let bytes = keyspace_bytes(eng);
                        // walking may take at most a tenth of the time
                        let reuse = (at.elapsed() * 10).min(ESTIMATE_MAX_AGE);
                        *est = Some(Estimate {
                            at,
                            bytes,
                            dirty,
                            reuse,
                        });
                        bytes
                    }
                }
            }
        };
        self.peak.fetch_max(used, Ordering::Relaxed);
        used
    }

    /// Used memory for INFO: as `used`, but a fresh walk without the
    /// counting allocator.
    pub fn used_now(&self, eng: &Engine) -> usize {
        if crate::alloc::allocated().is_none() {
            *self.estimate.lock() = None;
        }
        self.used(eng)
    }

    /// Drops the keyspace estimate (a maxmemory setting changed): the next
    /// check walks the keyspace again instead of reusing a recent figure.
    pub fn forget_estimate(&self) {
        *self.estimate.lock() = None;
    }

    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// Without the counting allocator, lowers the estimate by what an
    /// evicted entry held.
    fn freed(&self, bytes: usize) {
        if let Some(e) = self.estimate.lock().as_mut() {
            e.bytes = e.bytes.saturating_sub(bytes);
        }
    }
}

/// The keyspace walk (no allocator hook): entries, index buckets, keys'
/// and values' heap bytes.
pub(crate) fn keyspace_bytes(eng: &Engine) -> usize {
    eng.ks
        .shards
        .iter()
        .map(|s| s.read().dbs.iter().map(|p| p.memory()).sum::<usize>())
        .sum()
}

/// Redis's evictionTimeLimitUs: how long one call may evict.
fn time_limit(tenacity: i64) -> Option<Duration> {
    match tenacity {
        t if t <= 10 => Some(Duration::from_micros(50 * t.max(0) as u64)),
        t if t < 100 => Some(Duration::from_micros(
            (500.0 * 1.15f64.powi(t as i32 - 10)) as u64,
        )),
        _ => None,
    }
}

/// Evicts keys by `maxmemory-policy` until used memory is at most
/// `maxmemory`, within the tenacity's time budget.
pub(crate) fn perform(eng: &Engine) -> Outcome {
    let max = eng.params.tun(Tun::Maxmemory) as usize;
    if max == 0 || eng.evict.used(eng) <= max {
        return Outcome::Ok;
    }
    if eng.hooks.pause.holds_expiry(eng) {
        // CLIENT PAUSE: nothing is evicted (Redis answers as if all were well)
        return Outcome::Ok;
    }
    let policy = Policy::current(eng);
    if policy == Policy::NOEVICTION {
        return Outcome::Fail;
    }
    let mut pool = eng.evict.pool.lock();
    let start = Instant::now();
    let limit = time_limit(eng.params.tun(Tun::MaxmemoryEvictionTenacity));
    let mut evicted = 0u64;
    let mut misses = 0;
    while eng.evict.used(eng) > max {
        let Some((db, key)) = pick(eng, policy, &mut pool) else {
            return Outcome::Fail;
        };
        if evict_key(eng, db, &key) {
            evicted += 1;
            misses = 0;
            if evicted.is_multiple_of(16) && limit.is_some_and(|l| start.elapsed() > l) {
                return Outcome::Running;
            }
        } else {
            // the candidate went away meanwhile; a full pool of stale
            // candidates and then nothing found means nothing to evict
            misses += 1;
            if misses > 4 * POOL_SIZE {
                return Outcome::Fail;
            }
        }
    }
    Outcome::Ok
}

/// The next key to evict, or None when there is nothing the policy may evict.
fn pick(eng: &Engine, policy: Policy, pool: &mut Vec<Candidate>) -> Option<(usize, Vec<u8>)> {
    let samples = eng.params.tun(Tun::MaxmemorySamples).max(1) as usize;
    let ndbs = eng.ks.ndbs;
    if policy.is_random() {
        for _ in 0..ndbs {
            let db = eng.evict.next_db.fetch_add(1, Ordering::Relaxed) % ndbs;
            let start = random_below(NSHARDS as u64) as usize;
            for i in 0..NSHARDS {
                let g = eng.ks.shards[(start + i) % NSHARDS].read();
                let part = &g.dbs[db];
                let key = if policy.volatile() {
                    let (lo, hi) = match part.deadline_span() {
                        Some(s) => s,
                        None => continue,
                    };
                    let from = lo + random_below(hi - lo + 1);
                    part.volatile_from(from, 1).next().map(|(_, k)| k.to_vec())
                } else if part.is_empty() {
                    continue;
                } else {
                    part.nth(random_below(part.len() as u64) as usize)
                        .map(|e| e.key.to_vec())
                };
                if let Some(k) = key {
                    return Some((db, k));
                }
            }
        }
        return None;
    }
    let now_s = eng.clock.now_ms() / 1000;
    let opened_s = eng.opened_ms / 1000;
    let (log_decay, lfu) = (eng.params.tun(Tun::LfuDecayTime), policy.is_lfu());
    let score = |e: &Entry| -> u64 {
        if lfu {
            255 - lfu_decayed(e.atime(), now_s, log_decay) as u64
        } else {
            let at = match e.atime() {
                0 => opened_s,
                s => s as u64,
            };
            now_s.saturating_sub(at)
        }
    };
    // sample rounds until the pool has a candidate or every shard was tried
    let start = random_below(NSHARDS as u64) as usize;
    for i in 0..NSHARDS {
        if !pool.is_empty() && i > 0 {
            break;
        }
        let g = eng.ks.shards[(start + i) % NSHARDS].read();
        for (db, part) in g.dbs.iter().enumerate() {
            let mut add = |score: u64, key: &[u8]| {
                if pool.iter().any(|c| c.db == db && c.key == key) {
                    return;
                }
                if pool.len() == POOL_SIZE {
                    if pool[0].score >= score {
                        return;
                    }
                    pool.remove(0);
                }
                let at = pool.partition_point(|c| c.score < score);
                pool.insert(
                    at,
                    Candidate {
                        score,
                        db,
                        key: key.to_vec(),
                    },
                );
            };
            if policy == Policy::VOLATILE_TTL {
                for (at, k) in part.volatile_from(0, samples) {
                    add(u64::MAX - at, k);
                }
            } else if policy.volatile() {
                let Some((lo, hi)) = part.deadline_span() else {
                    continue;
                };
                let from = lo + random_below(hi - lo + 1);
                let h = &eng.ks.hasher;
                for (_, k) in part.volatile_from(from, samples) {
                    if let Some(e) = part.get(h.hash(k), k) {
                        add(score(e), k);
                    }
                }
            } else if !part.is_empty() {
                for _ in 0..samples {
                    if let Some(e) = part.nth(random_below(part.len() as u64) as usize) {
                        add(score(e), &e.key);
                    }
                }
            }
        }
    }
    pool.pop().map(|c| (c.db, c.key))
}

/// Deletes one key as an eviction; false if it was no longer there.
fn evict_key(eng: &Engine, db: usize, key: &[u8]) -> bool {
    let mut cl = ClientState::internal();
    let mut ctx = Ctx::new(eng, &mut cl);
    ctx.lock(1 << crate::keyspace::shard_of(eng.ks.hash(key)), true);
    let estimate = crate::alloc::allocated().is_none();
    let bytes = if estimate {
        let (part, h) = ctx.part(db, key);
        part.get(h, key).map_or(0, |e| {
            std::mem::size_of::<Entry>() + 8 + e.key.heap_size() + e.val.heap_size()
        })
    } else {
        0
    };
    let gone = ctx.remove_in(db, key).is_some();
    if gone {
        eng.evict.evicted_keys.fetch_add(1, Ordering::Relaxed);
        // propagated as DEL, as an expiry is
        ctx.cl.fx.expired_dels.push((db, key.to_vec()));
        ctx.notify_in(db, crate::notify::EVICTED, "evicted", key);
    }
    eng.aof.capture(&mut ctx, &[]);
    // appended under the shard lock; nobody waits for the fsync
    let _ = eng.aof.commit(&mut ctx);
    eng.flush_effects(&mut ctx);
    if estimate {
        eng.evict.freed(bytes);
    }
    gone
}

/// The OOM verdict before a command, as Redis's processCommand gives it:
/// true to refuse the command. `oom` receives whether memory was over the
/// limit when the command started (a script's first write checks it).
pub(crate) fn check_command(
    eng: &Engine,
    cl: &ClientState,
    spec: &crate::commands::CommandSpec,
    oom: &mut bool,
) -> bool {
    use crate::commands::flag::DENYOOM;
    *oom = perform(eng) == Outcome::Fail;
    *oom && (spec.flags & DENYOOM != 0
        || match &cl.multi {
            // inside MULTI anything but EXEC/DISCARD/QUIT/RESET is refused
            // (queueing grows memory too); EXEC when it holds a denyoom command
            Some(m) if spec.name == "exec" => m.queue.iter().any(|(s, _)| s.flags & DENYOOM != 0),
            Some(_) => !matches!(spec.name, "discard" | "quit" | "reset"),
            None => false,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::Reply;

    #[test]
    fn lfu_counter_decays_one_per_period_and_grows_slower_as_it_rises() {
        let t0 = 1_700_000_000u64;
        let w = lfu_new(t0);
        assert_eq!(lfu_decayed(w, t0, 1), LFU_INIT);
        // a word of 0 (not accessed since open) counts as new
        assert_eq!(lfu_decayed(0, t0, 1), LFU_INIT);
        // three minutes later, decay time 1: three less; decay time 0: none
        assert_eq!(lfu_decayed(w, t0 + 180, 1), LFU_INIT - 3);
        assert_eq!(lfu_decayed(w, t0 + 180, 2), LFU_INIT - 1);
        assert_eq!(lfu_decayed(w, t0 + 180, 0), LFU_INIT);
        assert_eq!(lfu_decayed(w, t0 + 3600, 1), 0);
        // log factor 0: every access counts, up to 255
        let mut w = lfu_new(t0);
        for _ in 0..300 {
            w = lfu_access(w, t0, 0, 1);
        }
        assert_eq!(w & 0xff, 255);
        // log factor 10: 1,000 accesses give Redis's documented ~18
        let mut w = lfu_new(t0);
        for _ in 0..1000 {
            w = lfu_access(w, t0, 10, 1);
        }
        assert!((10..=30).contains(&(w & 0xff)), "{}", w & 0xff);
    }

    #[test]
    fn minutes_wrap_at_16_bits() {
        // the word's minute is 65,535 and now is minute 1 (wrapped): one
        // period elapsed plus the wrap, as Redis's LFUTimeElapsed counts
        let word = (0xffff << 8) | 10;
        let now_s = (0x10000 + 1) * 60;
        assert_eq!(lfu_decayed(word, now_s, 1), 9);
    }

    #[test]
    fn time_limit_follows_tenacity() {
        assert_eq!(time_limit(0), Some(Duration::ZERO));
        assert_eq!(time_limit(10), Some(Duration::from_micros(500)));
        assert!(time_limit(50).unwrap() > time_limit(11).unwrap());
        assert_eq!(time_limit(100), None);
    }

    /// Without the counting allocator (this test binary has none), the
    /// keyspace estimate drives eviction.
    #[test]
    fn the_estimate_evicts_without_the_counting_allocator() {
        assert!(crate::alloc::allocated().is_none());
        let db = crate::Db::in_memory();
        let mut c = db.client();
        let v = "x".repeat(1000);
        for i in 0..200 {
            c.execute(&["SET", &format!("k:{i}"), &v]);
        }
        let used = |c: &mut crate::Client| -> usize {
            let info = c.execute(&["INFO", "memory"]);
            let text = std::str::from_utf8(info.as_bytes().unwrap())
                .unwrap()
                .to_owned();
            let line = text
                .lines()
                .find(|l| l.starts_with("used_memory:"))
                .unwrap();
            line["used_memory:".len()..].trim().parse().unwrap()
        };
        let before = used(&mut c);
        assert!(before > 200 * 1000);
        let max = before - 50_000;
        c.execute(&["CONFIG", "SET", "maxmemory-policy", "allkeys-random"]);
        c.execute(&["CONFIG", "SET", "maxmemory", &max.to_string()]);
        assert_eq!(c.execute(&["SET", "trigger", "1"]), Reply::ok());
        let Reply::Int(n) = c.execute(&["DBSIZE"]) else {
            panic!()
        };
        assert!((150..200).contains(&n), "{n} keys left");
        assert!(used(&mut c) <= max);
    }
}
