//! A point-in-time view of the keyspace without `fork`, copied on write one
//! slot at a time.
//!
//! `begin` is called while the caller holds every shard lock: it marks every
//! non-empty slot of every (shard, database) "pending". From then on each
//! pending slot is copied exactly once, as it was at that instant, by
//! whoever reaches it first:
//! - a writer about to change a key (`Ctx::part_mut` calls `before_write`,
//!   under the shard's write lock) copies the key's slot first — about a
//!   thousandth of a database, so a writer waits for one small copy, not
//!   for a copy of the shard;
//! - a command that replaces whole databases (FLUSHDB, FLUSHALL, SWAPDB:
//!   `Ctx::shards_mut`) copies every pending slot of the shard first;
//! - otherwise the reader of the snapshot (`take`) copies the slot under a
//!   read lock held for that slot only.
//!
//! Extra memory: the copies writers made and the reader has not consumed
//! yet, at most the slots written during the snapshot (the reader consumes
//! one shard at a time). One snapshot at a time.
//!
//! Rules for whoever changes this: a pending bit is only read-and-cleared
//! by a thread holding the shard's lock (write lock for writers, read lock
//! for `take`), so a slot is never copied twice and never after a change;
//! every path that changes a key must go through `Ctx::part_mut` with that
//! key, and every path that replaces a whole `DbPart` through
//! `Ctx::shards_mut`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use hashbrown::HashMap;
use parking_lot::Mutex;

use crate::commands::ctx::Ctx;
use crate::keyspace::{DbPart, Keyspace, NSHARDS, SLOTS_PER_SHARD, Shard, SlotCopy};

pub(crate) struct Snapshot {
    /// Claimed by a user (BGSAVE or an AOF rewrite) from before `begin`
    /// until after `end`: one snapshot at a time.
    claimed: AtomicBool,
    active: AtomicBool,
    ndbs: usize,
    /// Per shard × database: bit `s` set while slot `s` is not yet copied.
    pending: Box<[AtomicU64]>,
    /// Per shard: the copies writers made, by `db * SLOTS_PER_SHARD + slot`.
    copies: Box<[Mutex<HashMap<usize, SlotCopy>>]>,
}

impl Snapshot {
    pub fn new(ndbs: usize) -> Snapshot {
        Snapshot {
            claimed: AtomicBool::new(false),
            active: AtomicBool::new(false),
            ndbs,
            pending: (0..NSHARDS * ndbs).map(|_| AtomicU64::new(0)).collect(),
            copies: (0..NSHARDS).map(|_| Mutex::default()).collect(),
        }
    }

    /// Reserves the snapshot for one user; false if another holds it.
    pub fn claim(&self) -> bool {
        !self.claimed.swap(true, Ordering::AcqRel)
    }

    /// Gives the snapshot back (after `end`, or when `begin` never came).
    pub fn release(&self) {
        self.claimed.store(false, Ordering::Release);
    }

    /// Whether some user holds the snapshot.
    pub fn is_claimed(&self) -> bool {
        self.claimed.load(Ordering::Acquire)
    }

    /// Starts a snapshot. `ctx` holds every shard lock.
    pub fn begin(&self, ctx: &Ctx) {
        for c in self.copies.iter() {
            c.lock().clear();
        }
        for db in 0..self.ndbs {
            for (i, part) in ctx.parts(db) {
                self.pending[i * self.ndbs + db].store(part.occupied_slots(), Ordering::Release);
            }
        }
        self.active.store(true, Ordering::Release);
    }

    /// Whether a snapshot is being taken (a cheap check for writers).
    #[inline]
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    /// Called by a writer holding shard `i`'s write lock before it changes
    /// slot `slot` of database `db` (`part`).
    #[inline]
    pub fn before_write(&self, i: usize, db: usize, slot: usize, part: &DbPart) {
        let pending = &self.pending[i * self.ndbs + db];
        let bit = 1u64 << slot;
        if pending.load(Ordering::Acquire) & bit != 0
            && pending.fetch_and(!bit, Ordering::AcqRel) & bit != 0
        {
            let copy = part.copy_slot(slot);
            self.copies[i]
                .lock()
                .insert(db * SLOTS_PER_SHARD + slot, copy);
        }
    }

    /// Called by a writer holding shard `i`'s write lock before it replaces
    /// or swaps whole databases: copies every pending slot of the shard.
    pub fn before_write_shard(&self, i: usize, shard: &Shard) {
        for (db, part) in shard.dbs.iter().enumerate() {
            let mut left = self.pending[i * self.ndbs + db].swap(0, Ordering::AcqRel);
            while left != 0 {
                let slot = left.trailing_zeros() as usize;
                left &= left - 1;
                let copy = part.copy_slot(slot);
                self.copies[i]
                    .lock()
                    .insert(db * SLOTS_PER_SHARD + slot, copy);
            }
        }
    }

    /// Shard `i` as it was at `begin`: every database's part, assembled
    /// slot by slot (each slot not yet copied is copied under a read lock
    /// held for that slot only). `None` if the snapshot ended.
    pub fn take(&self, ks: &Keyspace, i: usize) -> Option<Vec<DbPart>> {
        if !self.is_active() {
            return None;
        }
        let mut parts = Vec::with_capacity(self.ndbs);
        for db in 0..self.ndbs {
            let pending = &self.pending[i * self.ndbs + db];
            let mut got = Vec::new();
            for slot in 0..SLOTS_PER_SHARD {
                let bit = 1u64 << slot;
                let mut copy = None;
                if pending.load(Ordering::Acquire) & bit != 0 {
                    let g = ks.shards[i].read();
                    if pending.fetch_and(!bit, Ordering::AcqRel) & bit != 0 {
                        copy = Some(g.dbs[db].copy_slot(slot));
                    }
                }
                if copy.is_none() {
                    copy = self.copies[i].lock().remove(&(db * SLOTS_PER_SHARD + slot));
                }
                if let Some(c) = copy {
                    got.push((slot, c));
                }
            }
            parts.push(DbPart::from_copies(got));
        }
        Some(parts)
    }

    /// Ends the snapshot (done or abandoned), dropping copies not taken.
    pub fn end(&self, ks: &Keyspace) {
        self.active.store(false, Ordering::Release);
        for i in 0..NSHARDS {
            {
                let _g = ks.shards[i].read();
                for db in 0..self.ndbs {
                    self.pending[i * self.ndbs + db].store(0, Ordering::Release);
                }
            }
            *self.copies[i].lock() = HashMap::new();
        }
    }
}

/// Walks the snapshot shard by shard (each shard's copy is taken, then
/// released), calling `f` with every non-empty database part; `err` makes
/// the caller's error from "aborted" / "the snapshot was abandoned".
pub(crate) fn for_each_part<E>(
    eng: &crate::db::Engine,
    abort: &AtomicBool,
    err: impl Fn(&'static str) -> E,
    mut f: impl FnMut(usize, &DbPart) -> Result<(), E>,
) -> Result<(), E> {
    for i in 0..NSHARDS {
        if abort.load(Ordering::Relaxed) {
            return Err(err("aborted"));
        }
        let parts = eng
            .snapshot
            .take(&eng.ks, i)
            .ok_or_else(|| err("the snapshot was abandoned"))?;
        for (db, part) in parts.iter().enumerate() {
            if !part.is_empty() {
                f(db, part)?;
            }
        }
    }
    Ok(())
}
