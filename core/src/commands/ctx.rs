//! `Ctx`: what a command handler sees. It owns the shard locks the command
//! needs (taken in ascending shard order, read or write by the command's
//! flags), the command's clock reading, and the record of what the command
//! changed (dirty count, replication/AOF form, keys touched for WATCH).
//!
//! Handlers only use the accessors here; they never lock or publish
//! anything themselves, and report changes through `dirty`, `propagate_*`
//! and `notify`.

use std::cell::Cell;

use parking_lot::{RwLockReadGuard, RwLockWriteGuard};

use crate::client::ClientState;
use crate::db::Engine;
use crate::keyspace::{DbPart, NSHARDS, Shard, shard_of, slot_of};
use crate::reply::Reply;
use crate::types::{Str, Value};

use super::err;

pub(crate) enum Guard<'a> {
    R(RwLockReadGuard<'a, Shard>),
    W(RwLockWriteGuard<'a, Shard>),
}

/// The shard locks a Ctx holds: one (most commands) or several.
enum Locks<'a> {
    None,
    One(usize, Guard<'a>),
    Many(Box<[Option<Guard<'a>>; NSHARDS]>),
}

/// How the command is written to the AOF / replication stream.
#[derive(Debug, Default)]
pub(crate) enum Prop {
    /// As it was called (when it changed something).
    #[default]
    Verbatim,
    /// Not at all.
    Nothing,
    /// As these commands instead (the AOF writes them in place of the call).
    Rewritten(Vec<Vec<Vec<u8>>>),
}

/// What a command records besides its reply, delivered once it ran
/// (`Engine::flush_effects`, the AOF's `capture`/`commit`). It lives in the
/// client's state, not in the `Ctx`: a command that records nothing then
/// costs no initialisation and no drop, and one that does reuses the buffers.
/// Empty whenever no `Ctx` of the client is alive (a `Ctx` clears what was
/// not delivered when it ends).
#[derive(Default)]
pub(crate) struct Effects {
    /// DELs of keys found expired, propagated before the command itself.
    pub expired_dels: Vec<(usize, Vec<u8>)>,
    /// Keys modified: (db, key), for WATCH and blocked clients.
    pub touched: Vec<(usize, Vec<u8>)>,
    /// Databases modified as a whole (FLUSHDB, FLUSHALL, SWAPDB).
    pub touched_dbs: Vec<usize>,
    /// Keyspace notifications: (class, event, db, key).
    pub events: Vec<(u32, &'static str, usize, Vec<u8>)>,
    /// What this command (or EXEC) appends to the AOF, not yet appended.
    pub aof: crate::persist::aof::Pending,
}

impl Effects {
    /// Nothing recorded: the common case, checked in a few instructions.
    #[inline]
    pub fn is_clear(&self) -> bool {
        (self.expired_dels.len() | self.touched.len() | self.touched_dbs.len() | self.events.len())
            == 0
            && self.aof.is_clear()
    }

    /// Whether WATCH, blocked clients or subscribers have something to see.
    #[inline]
    pub fn has_deliveries(&self) -> bool {
        (self.touched.len() | self.touched_dbs.len() | self.events.len()) != 0
    }

    #[cold]
    fn clear(&mut self) {
        self.expired_dels.clear();
        self.touched.clear();
        self.touched_dbs.clear();
        self.events.clear();
        self.aof = Default::default();
    }
}

/// The first argv key's (pointer, length, hash), set by the dispatcher only.
pub(crate) type HashCache = Cell<Option<(usize, usize, u64)>>;

pub(crate) struct Ctx<'a> {
    pub hash_cache: HashCache,
    pub eng: &'a Engine,
    pub cl: &'a mut ClientState,
    /// Selected database.
    pub db: usize,
    /// Milliseconds since the epoch, read on first use and then fixed for
    /// the command (Redis's rule: one command sees one time). 0 = not read.
    now: Cell<u64>,
    locks: Locks<'a>,
    /// Changes made (Redis's `server.dirty`).
    pub dirty: u64,
    pub prop: Prop,
    pub hits: Cell<u64>,
    pub misses: Cell<u64>,
    /// Set by a blocking command that found nothing: what to wait for.
    pub block: Option<crate::blocking::BlockOn>,
    /// Blocking commands must not block (inside EXEC, or while serving a waiter).
    pub no_block: bool,
    /// While serving a blocked client: the key that became ready.
    pub ready_key: Option<Vec<u8>>,
    /// Inside EXEC: keys made ready for blocked clients, served once the
    /// whole transaction has run (Redis's rule: a blocked client never sees
    /// a state from the middle of a transaction). None: serve at once.
    pub deferred_ready: Option<Vec<(usize, Vec<u8>)>>,
}

impl Drop for Ctx<'_> {
    /// Discards what was recorded and not delivered (a `Ctx` used for
    /// loading or eviction, an early return): the next `Ctx` starts clear.
    #[inline]
    fn drop(&mut self) {
        if !self.cl.fx.is_clear() {
            self.cl.fx.clear();
        }
    }
}

impl<'a> Ctx<'a> {
    pub fn new(eng: &'a Engine, cl: &'a mut ClientState) -> Ctx<'a> {
        let db = cl.db;
        Ctx {
            hash_cache: Cell::new(None),
            eng,
            cl,
            db,
            now: Cell::new(0),
            locks: Locks::None,
            dirty: 0,
            prop: Prop::Verbatim,
            hits: Cell::new(0),
            misses: Cell::new(0),
            block: None,
            no_block: false,
            ready_key: None,
            deferred_ready: None,
        }
    }

    /// Locks the shards in `mask` (bit i = shard i), ascending. Called at
    /// most once per Ctx: taking more locks later could break the order.
    pub fn lock(&mut self, mask: u32, write: bool) {
        debug_assert!(matches!(self.locks, Locks::None), "Ctx::lock called twice");
        let shards = &self.eng.ks.shards;
        let take = |i: usize| {
            if write {
                Guard::W(shards[i].write())
            } else {
                Guard::R(shards[i].read())
            }
        };
        if mask != 0 && mask & (mask - 1) == 0 {
            // one shard: most commands
            let i = mask.trailing_zeros() as usize;
            self.locks = Locks::One(i, take(i));
            return;
        }
        self.locks = match mask {
            0 => Locks::None,
            _ => {
                let mut all: Box<[Option<Guard<'a>>; NSHARDS]> =
                    Box::new(std::array::from_fn(|_| None));
                for (i, g) in all.iter_mut().enumerate() {
                    if mask & (1 << i) != 0 {
                        *g = Some(take(i));
                    }
                }
                Locks::Many(all)
            }
        };
    }

    /// Whether this Ctx holds shard locks (inside EXEC a handler holds all).
    pub fn holds_locks(&self) -> bool {
        !matches!(self.locks, Locks::None)
    }

    /// Milliseconds since the epoch for this command.
    #[inline]
    pub fn now(&self) -> u64 {
        let n = self.now.get();
        if n != 0 {
            return n;
        }
        let n = self.eng.clock.now_ms().max(1);
        self.now.set(n);
        n
    }

    /// Resets the per-command record (EXEC runs many commands in one Ctx).
    pub fn reset_effects(&mut self) {
        self.dirty = 0;
        self.prop = Prop::Verbatim;
        self.now.set(0);
    }

    pub fn shard_mask_all() -> u32 {
        (1u32 << NSHARDS) - 1
    }

    #[inline]
    fn guard(&self, i: usize) -> Option<&Guard<'a>> {
        match &self.locks {
            Locks::One(j, g) if *j == i => Some(g),
            Locks::Many(all) => all[i].as_ref(),
            _ => None,
        }
    }

    #[inline]
    fn shard(&self, i: usize) -> &Shard {
        match self.guard(i) {
            Some(Guard::R(g)) => g,
            Some(Guard::W(g)) => g,
            None => panic!("emberkv internal error: shard {i} not locked"),
        }
    }

    #[inline]
    fn shard_mut(&mut self, i: usize) -> &mut Shard {
        let g = match &mut self.locks {
            Locks::One(j, g) if *j == i => Some(g),
            Locks::Many(all) => all[i].as_mut(),
            _ => None,
        };
        match g {
            Some(Guard::W(g)) => g,
            _ => panic!("emberkv internal error: shard {i} not write-locked"),
        }
    }

    /// Whether this Ctx holds the lock of `key`'s shard (writable if `write`).
    pub fn holds(&self, key: &[u8], write: bool) -> bool {
        match self.guard(shard_of(self.hash(key))) {
            Some(Guard::W(_)) => true,
            Some(Guard::R(_)) => !write,
            None => false,
        }
    }

    /// A blocking command found nothing: block on `keys` until `deadline`
    /// (None = forever), or answer `timeout_reply` right away where blocking
    /// is not allowed (inside MULTI, or while serving another waiter).
    pub fn block_on(
        &mut self,
        keys: Vec<Vec<u8>>,
        deadline: Option<std::time::Instant>,
        timeout_reply: Reply,
    ) -> Reply {
        if !self.no_block {
            self.block = Some(crate::blocking::BlockOn {
                keys,
                deadline,
                timeout_reply: timeout_reply.clone(),
                argv: None,
            });
        }
        timeout_reply
    }

    /// The keys a blocking command should look at now: all of `keys`, or
    /// only the ready one while serving a waiter.
    pub fn candidate_keys<'k>(&self, keys: &[&'k [u8]]) -> Vec<&'k [u8]> {
        match &self.ready_key {
            Some(r) => keys
                .iter()
                .copied()
                .filter(|k| *k == r.as_slice())
                .take(1)
                .collect(),
            None => keys.to_vec(),
        }
    }

    /// The key's hash. The dispatcher seeds `hash_cache` with the first
    /// argv key's hash; argv outlives the Ctx, so a pointer match is that key.
    #[inline]
    pub fn hash(&self, key: &[u8]) -> u64 {
        if let Some((p, l, h)) = self.hash_cache.get()
            && p == key.as_ptr() as usize
            && l == key.len()
        {
            return h;
        }
        self.eng.ks.hash(key)
    }

    #[inline]
    pub fn part(&self, db: usize, key: &[u8]) -> (&DbPart, u64) {
        let h = self.hash(key);
        (&self.shard(shard_of(h)).dbs[db], h)
    }

    /// `key`'s part of database `db`, for changing `key` (and only `key`:
    /// a snapshot in progress copies `key`'s slot first).
    #[inline]
    pub fn part_mut(&mut self, db: usize, key: &[u8]) -> (&mut DbPart, u64) {
        let h = self.hash(key);
        let i = shard_of(h);
        if self.eng.snapshot.is_active() {
            let part = &self.shard(i).dbs[db];
            self.eng.snapshot.before_write(i, db, slot_of(h), part);
        }
        (&mut self.shard_mut(i).dbs[db], h)
    }

    /// All locked parts of database `db`, in shard order.
    pub fn parts(&self, db: usize) -> impl Iterator<Item = (usize, &DbPart)> {
        (0..NSHARDS).filter_map(move |i| match self.guard(i) {
            Some(Guard::R(g)) => Some((i, &g.dbs[db])),
            Some(Guard::W(g)) => Some((i, &g.dbs[db])),
            None => None,
        })
    }

    /// Every locked shard, writable.
    pub fn shards_mut(&mut self) -> Vec<&mut Shard> {
        if self.eng.snapshot.is_active() {
            for i in 0..NSHARDS {
                if let Some(Guard::W(g)) = self.guard(i) {
                    self.eng.snapshot.before_write_shard(i, g);
                }
            }
        }
        let mut out: Vec<&mut Shard> = Vec::new();
        match &mut self.locks {
            Locks::None => {}
            Locks::One(_, g) => {
                if let Guard::W(g) = g {
                    out.push(&mut **g);
                }
            }
            Locks::Many(all) => {
                for g in all.iter_mut().flatten() {
                    if let Guard::W(g) = g {
                        out.push(&mut **g);
                    }
                }
            }
        }
        out
    }

    pub fn is_expired_at(&self, at: Option<u64>) -> bool {
        // nothing expires while loading (Redis's rule: replay sees what the writer saw)
        at.is_some_and(|t| t <= self.now() && !self.eng.is_loading())
    }

    // ----- read access (expired keys are invisible) -----

    /// The live value under `key` in database `db`, without touching hit/miss stats.
    pub fn peek_in(&self, db: usize, key: &[u8]) -> Option<&Value> {
        let (part, h) = self.part(db, key);
        let e = part.get(h, key)?;
        if self.is_expired_at(part.expire_of(key)) {
            return None;
        }
        Some(&e.val)
    }

    pub fn peek(&self, key: &[u8]) -> Option<&Value> {
        self.peek_in(self.db, key)
    }

    /// The coarse clock in seconds, what key access times are stamped with.
    #[inline]
    pub fn access_clock(&self) -> u32 {
        (self.eng.coarse_ms() / 1000) as u32
    }

    /// Records an access to `e` (see [`stamp_entry`]).
    #[inline]
    pub fn stamp(&self, e: &crate::keyspace::Entry) {
        stamp_entry(self.eng, self.access_clock(), e)
    }

    /// Under LFU, what storing a value leaves: an overwritten key keeps its
    /// counter (as Redis's overwrite; the command's own lookup counted the
    /// access), a new one starts at Redis's initial 5.
    #[cold]
    fn lfu_stamp_for_set(&self, db: usize, key: &[u8]) -> u32 {
        let (part, h) = self.part(db, key);
        match part.get(h, key) {
            Some(e) => e.atime(),
            None => crate::evict::lfu_new(self.access_clock() as u64),
        }
    }

    /// The LFU counter of a live key (OBJECT FREQ), decayed, without
    /// counting as an access.
    pub fn lfu_freq(&self, key: &[u8]) -> Option<u32> {
        let (part, h) = self.part(self.db, key);
        let e = part.get(h, key)?;
        if self.is_expired_at(part.expire_of(key)) {
            return None;
        }
        Some(crate::evict::lfu_decayed(
            e.atime(),
            self.now() / 1000,
            self.eng.params.tun(crate::config::Tun::LfuDecayTime),
        ))
    }

    /// Seconds since a live key was last accessed (OBJECT IDLETIME), without
    /// counting as an access.
    pub fn idle_seconds(&self, key: &[u8]) -> Option<u64> {
        let (part, h) = self.part(self.db, key);
        let e = part.get(h, key)?;
        if self.is_expired_at(part.expire_of(key)) {
            return None;
        }
        let at = match e.atime() {
            0 => self.eng.opened_ms / 1000,
            s => s as u64,
        };
        Some((self.now() / 1000).saturating_sub(at))
    }

    /// Makes a live key look idle for `secs` (RESTORE … IDLETIME).
    pub fn set_idle_seconds(&self, key: &[u8], secs: u64) {
        let (part, h) = self.part(self.db, key);
        if let Some(e) = part.get(h, key) {
            let now_s = (self.now() / 1000).min(u32::MAX as u64);
            e.touch(now_s.saturating_sub(secs).max(1) as u32);
        }
    }

    /// Sets a live key's LFU counter (RESTORE … FREQ under an LFU policy).
    pub fn set_lfu_freq(&self, key: &[u8], freq: u32) {
        let (part, h) = self.part(self.db, key);
        if let Some(e) = part.get(h, key) {
            let mut w = crate::evict::lfu_new(self.now() / 1000);
            w = (w & !0xff) | freq.min(255);
            e.touch(w);
        }
    }

    /// Lookup for reading; counts a keyspace hit or miss and records the
    /// access (OBJECT IDLETIME). `peek` does neither (TYPE, EXISTS).
    #[inline]
    pub fn lookup(&self, key: &[u8]) -> Option<&Value> {
        self.lookup_with(key, true)
    }

    /// Lookup for reading that counts a hit or miss but is no access (TTL).
    pub fn lookup_notouch(&self, key: &[u8]) -> Option<&Value> {
        self.lookup_with(key, false)
    }

    #[inline]
    fn lookup_with(&self, key: &[u8], touch: bool) -> Option<&Value> {
        let (part, h) = self.part(self.db, key);
        let v = part
            .get(h, key)
            .filter(|_| !self.is_expired_at(part.expire_of(key)))
            .map(|e| {
                if touch {
                    self.stamp(e);
                }
                &e.val
            });
        let c = if v.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        c.set(c.get() + 1);
        v
    }

    pub fn exists(&self, key: &[u8]) -> bool {
        self.peek(key).is_some()
    }

    /// The deadline of a live key.
    pub fn expire_of(&self, db: usize, key: &[u8]) -> Option<u64> {
        let (part, _) = self.part(db, key);
        part.expire_of(key)
    }

    // ----- write access -----

    /// Deletes `key` if its deadline passed, recording the DEL to propagate
    /// and the `expired` event. Requires a write lock.
    pub fn expire_if_needed(&mut self, db: usize, key: &[u8]) -> bool {
        let eng = self.eng;
        // the clock is read only for a key that has a deadline
        match self.part(db, key).0.expire_of(key) {
            Some(at)
                if at <= self.now() && !eng.is_loading() && !eng.hooks.pause.holds_expiry(eng) => {}
            _ => return false,
        }
        let (part, h) = self.part_mut(db, key);
        part.remove(h, key);
        self.touch_in(db, key);
        eng.stats
            .expired_keys
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.cl.fx.expired_dels.push((db, key.to_vec()));
        self.notify_in(db, crate::notify::EXPIRED, "expired", key);
        true
    }

    /// The value under `key` as collection type `T`, for reading:
    /// Ok(None) when missing, WRONGTYPE when it holds another type.
    pub fn typed<T: crate::types::Typed>(&self, key: &[u8]) -> Result<Option<&T>, Reply> {
        match self.lookup(key) {
            None => Ok(None),
            Some(v) => T::of(v).map(Some).ok_or_else(err::wrongtype),
        }
    }

    /// As [`Ctx::typed`], for writing.
    pub fn typed_mut<T: crate::types::Typed>(
        &mut self,
        key: &[u8],
    ) -> Result<Option<&mut T>, Reply> {
        match self.lookup_mut(key) {
            None => Ok(None),
            Some(v) => T::of_mut(v).map(Some).ok_or_else(err::wrongtype),
        }
    }

    /// Lookup for writing in database `db` (deletes the key first if expired).
    pub fn lookup_mut_in(&mut self, db: usize, key: &[u8]) -> Option<&mut Value> {
        self.expire_if_needed(db, key);
        let (eng, now_s) = (self.eng, self.access_clock());
        let (part, h) = self.part_mut(db, key);
        part.get_mut(h, key).map(|e| {
            stamp_entry(eng, now_s, e);
            &mut e.val
        })
    }

    pub fn lookup_mut(&mut self, key: &[u8]) -> Option<&mut Value> {
        self.lookup_mut_in(self.db, key)
    }

    /// Stores `val` under `key`, clearing any deadline (SET semantics).
    pub fn set(&mut self, key: &[u8], val: Value) {
        let db = self.db;
        self.set_in(db, key, val, false)
    }

    /// Stores `val`; `keep_ttl` keeps the current deadline.
    pub fn set_in(&mut self, db: usize, key: &[u8], val: Value, keep_ttl: bool) {
        self.expire_if_needed(db, key);
        let stamp = if crate::evict::lfu_on(self.eng) {
            self.lfu_stamp_for_set(db, key)
        } else {
            self.access_clock()
        };
        let (part, h) = self.part_mut(db, key);
        let created = part.insert_at(h, key, val, stamp).is_none();
        if !keep_ttl {
            part.remove_expire(key);
        }
        self.touch_in(db, key);
        if created {
            self.notify_in(db, crate::notify::NEW, "new", key);
        }
    }

    /// Removes `key` from database `db`; returns its value if it was live.
    pub fn remove_in(&mut self, db: usize, key: &[u8]) -> Option<Value> {
        if self.expire_if_needed(db, key) {
            return None;
        }
        let (part, h) = self.part_mut(db, key);
        let e = part.remove(h, key)?;
        self.touch_in(db, key);
        Some(e.val)
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Value> {
        self.remove_in(self.db, key)
    }

    /// Sets a deadline on a live key.
    pub fn set_expire_in(&mut self, db: usize, key: &[u8], at: u64) {
        let (part, _) = self.part_mut(db, key);
        part.set_expire(key, at);
        self.touch_in(db, key);
    }

    pub fn persist_in(&mut self, db: usize, key: &[u8]) -> bool {
        let (part, _) = self.part_mut(db, key);
        let had = part.remove_expire(key);
        if had {
            self.touch_in(db, key);
        }
        had
    }

    /// Records a modification of `key` (WATCH, blocked clients).
    pub fn touch_in(&mut self, db: usize, key: &[u8]) {
        if self.eng.watchers_active() || self.eng.blocking.active() {
            self.cl.fx.touched.push((db, key.to_vec()));
        }
    }

    pub fn touch(&mut self, key: &[u8]) {
        self.touch_in(self.db, key)
    }

    /// Records a whole-database modification (FLUSHDB, SWAPDB).
    pub fn touch_db(&mut self, db: usize) {
        if self.eng.watchers_active() || self.eng.blocking.active() {
            self.cl.fx.touched_dbs.push(db);
        }
    }

    /// Queues a keyspace notification of `class` for `key` in the selected db.
    pub fn notify(&mut self, class: u32, event: &'static str, key: &[u8]) {
        self.notify_in(self.db, class, event, key)
    }

    pub fn notify_in(&mut self, db: usize, class: u32, event: &'static str, key: &[u8]) {
        let flags = self.eng.notify_flags();
        if flags & class != 0 && flags & (crate::notify::KEYSPACE | crate::notify::KEYEVENT) != 0 {
            self.cl.fx.events.push((class, event, db, key.to_vec()));
        }
    }

    /// Propagate these commands instead of the one called.
    pub fn propagate_as(&mut self, cmds: Vec<Vec<Vec<u8>>>) {
        self.prop = Prop::Rewritten(cmds);
    }

    // ----- typed helpers -----

    /// The string under `key` (read): Ok(None) if missing, WRONGTYPE if not a string.
    pub fn get_str(&self, key: &[u8]) -> Result<Option<&Str>, Reply> {
        match self.lookup(key) {
            None => Ok(None),
            Some(Value::Str(s)) => Ok(Some(s)),
            #[allow(unreachable_patterns)]
            Some(_) => Err(err::wrongtype()),
        }
    }

    /// The string under `key` (write).
    pub fn get_str_mut(&mut self, key: &[u8]) -> Result<Option<&mut Str>, Reply> {
        match self.lookup_mut(key) {
            None => Ok(None),
            Some(Value::Str(s)) => Ok(Some(s)),
            #[allow(unreachable_patterns)]
            Some(_) => Err(err::wrongtype()),
        }
    }
}

/// Records an access to `e` at `now_s`: the second (LRU, OBJECT IDLETIME)
/// or, under an LFU policy, the LFU counter (`evict.rs`).
#[inline]
fn stamp_entry(eng: &Engine, now_s: u32, e: &crate::keyspace::Entry) {
    if crate::evict::lfu_on(eng) {
        stamp_lfu(eng, now_s, e)
    } else {
        e.touch(now_s)
    }
}

#[cold]
fn stamp_lfu(eng: &Engine, now_s: u32, e: &crate::keyspace::Entry) {
    let p = &eng.params;
    e.touch(crate::evict::lfu_access(
        e.atime(),
        now_s as u64,
        p.tun(crate::config::Tun::LfuLogFactor),
        p.tun(crate::config::Tun::LfuDecayTime),
    ))
}
