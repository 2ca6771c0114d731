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
use crate::keyspace::{DbPart, NSHARDS, Shard, shard_of};
use crate::reply::Reply;
use crate::types::{Str, Value};

use super::err;

pub(crate) enum Guard<'a> {
    R(RwLockReadGuard<'a, Shard>),
    W(RwLockWriteGuard<'a, Shard>),
}

/// How the command is written to the AOF / replication stream.
#[derive(Debug, Default)]
pub(crate) enum Prop {
    /// As it was called (when it changed something).
    #[default]
    Verbatim,
    /// Not at all.
    Nothing,
    /// As these commands instead (read by the AOF writer when it lands).
    #[allow(dead_code)]
    Rewritten(Vec<Vec<Vec<u8>>>),
}

pub(crate) struct Ctx<'a> {
    pub eng: &'a Engine,
    pub cl: &'a mut ClientState,
    /// Selected database.
    pub db: usize,
    /// Milliseconds since the epoch, read once per command (Redis's rule:
    /// one command sees one time).
    pub now: u64,
    guards: [Option<Guard<'a>>; NSHARDS],
    /// Changes made (Redis's `server.dirty`).
    pub dirty: u64,
    pub prop: Prop,
    /// DELs of keys found expired, propagated before the command itself.
    pub expired_dels: Vec<(usize, Vec<u8>)>,
    /// Keys modified: (db, key), for WATCH and blocked clients.
    pub touched: Vec<(usize, Vec<u8>)>,
    /// Databases modified as a whole (FLUSHDB, FLUSHALL, SWAPDB).
    pub touched_dbs: Vec<usize>,
    /// Keyspace notifications: (class, event, db, key).
    pub events: Vec<(u32, &'static str, usize, Vec<u8>)>,
    pub hits: Cell<u64>,
    pub misses: Cell<u64>,
}

impl<'a> Ctx<'a> {
    pub fn new(eng: &'a Engine, cl: &'a mut ClientState) -> Ctx<'a> {
        let db = cl.db;
        Ctx {
            eng,
            cl,
            db,
            now: eng.clock.now_ms(),
            guards: std::array::from_fn(|_| None),
            dirty: 0,
            prop: Prop::Verbatim,
            expired_dels: Vec::new(),
            touched: Vec::new(),
            touched_dbs: Vec::new(),
            events: Vec::new(),
            hits: Cell::new(0),
            misses: Cell::new(0),
        }
    }

    /// Locks the shards in `mask` (bit i = shard i), ascending.
    pub fn lock(&mut self, mask: u32, write: bool) {
        let shards = &self.eng.ks.shards;
        for i in 0..NSHARDS {
            if mask & (1 << i) != 0 && self.guards[i].is_none() {
                self.guards[i] = Some(if write {
                    Guard::W(shards[i].write())
                } else {
                    Guard::R(shards[i].read())
                });
            }
        }
    }

    /// Resets the per-command record (EXEC runs many commands in one Ctx).
    pub fn reset_effects(&mut self) {
        self.dirty = 0;
        self.prop = Prop::Verbatim;
        self.now = self.eng.clock.now_ms();
    }

    pub fn shard_mask_all() -> u32 {
        (1u32 << NSHARDS) - 1
    }

    #[inline]
    fn shard(&self, i: usize) -> &Shard {
        match &self.guards[i] {
            Some(Guard::R(g)) => g,
            Some(Guard::W(g)) => g,
            None => panic!("emberkv internal error: shard {i} not locked"),
        }
    }

    #[inline]
    fn shard_mut(&mut self, i: usize) -> &mut Shard {
        match &mut self.guards[i] {
            Some(Guard::W(g)) => g,
            _ => panic!("emberkv internal error: shard {i} not write-locked"),
        }
    }

    /// The part of database `db` holding `key`, and the key's hash.
    #[inline]
    pub fn part(&self, db: usize, key: &[u8]) -> (&DbPart, u64) {
        let h = self.eng.ks.hash(key);
        (&self.shard(shard_of(h)).dbs[db], h)
    }

    #[inline]
    pub fn part_mut(&mut self, db: usize, key: &[u8]) -> (&mut DbPart, u64) {
        let h = self.eng.ks.hash(key);
        (&mut self.shard_mut(shard_of(h)).dbs[db], h)
    }

    /// All locked parts of database `db`, in shard order.
    pub fn parts(&self, db: usize) -> impl Iterator<Item = (usize, &DbPart)> {
        self.guards
            .iter()
            .enumerate()
            .filter_map(move |(i, g)| match g {
                Some(Guard::R(g)) => Some((i, &g.dbs[db])),
                Some(Guard::W(g)) => Some((i, &g.dbs[db])),
                None => None,
            })
    }

    /// Every locked shard, writable.
    pub fn shards_mut(&mut self) -> impl Iterator<Item = &mut Shard> {
        self.guards.iter_mut().filter_map(|g| match g {
            Some(Guard::W(g)) => Some(&mut **g),
            _ => None,
        })
    }

    pub fn is_expired_at(&self, at: Option<u64>) -> bool {
        at.is_some_and(|t| t <= self.now)
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

    /// Lookup for reading; counts a keyspace hit or miss.
    pub fn lookup(&self, key: &[u8]) -> Option<&Value> {
        let v = self.peek(key);
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
        let now = self.now;
        let eng = self.eng;
        let (part, h) = self.part_mut(db, key);
        match part.expire_of(key) {
            Some(at) if at <= now => {
                part.remove(h, key, &eng.ks.hasher);
                self.touch_in(db, key);
                self.eng
                    .stats
                    .expired_keys
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                self.expired_dels.push((db, key.to_vec()));
                self.notify_in(db, crate::notify::EXPIRED, "expired", key);
                true
            }
            _ => false,
        }
    }

    /// Lookup for writing in database `db` (deletes the key first if expired).
    pub fn lookup_mut_in(&mut self, db: usize, key: &[u8]) -> Option<&mut Value> {
        self.expire_if_needed(db, key);
        let (part, h) = self.part_mut(db, key);
        part.get_mut(h, key).map(|e| &mut e.val)
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
        let eng = self.eng;
        let (part, h) = self.part_mut(db, key);
        let created = part.insert(h, key, val, &eng.ks.hasher).is_none();
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
        let eng = self.eng;
        let (part, h) = self.part_mut(db, key);
        let e = part.remove(h, key, &eng.ks.hasher)?;
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
        if self.eng.watchers_active() {
            self.touched.push((db, key.to_vec()));
        }
    }

    pub fn touch(&mut self, key: &[u8]) {
        self.touch_in(self.db, key)
    }

    /// Records a whole-database modification (FLUSHDB, SWAPDB).
    pub fn touch_db(&mut self, db: usize) {
        if self.eng.watchers_active() {
            self.touched_dbs.push(db);
        }
    }

    /// Queues a keyspace notification of `class` for `key` in the selected db.
    pub fn notify(&mut self, class: u32, event: &'static str, key: &[u8]) {
        self.notify_in(self.db, class, event, key)
    }

    pub fn notify_in(&mut self, db: usize, class: u32, event: &'static str, key: &[u8]) {
        let flags = self.eng.notify_flags();
        if flags & class != 0 && flags & (crate::notify::KEYSPACE | crate::notify::KEYEVENT) != 0 {
            self.events.push((class, event, db, key.to_vec()));
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
