//! A point-in-time view of the keyspace without `fork`.
//!
//! `begin` is called while the caller holds every shard lock: it marks every
//! shard "pending". From then on each shard is copied exactly once, as it was
//! at that instant, by whoever reaches it first:
//! - a writer that is about to change the shard (`Ctx::shard_mut` and
//!   `shards_mut` call `before_write`, under the shard's write lock) copies
//!   it first;
//! - otherwise the reader of the snapshot (`take`) copies it under a read lock.
//!
//! So a writer waits at most for one shard copy, readers never wait, and the
//! extra memory is the copies not yet consumed. One snapshot at a time.
//!
//! Rules for whoever changes this: `pending[i]` is only read or cleared by a
//! thread holding shard `i`'s lock (write lock for writers, read lock for
//! `take`), so the two can never both copy the shard; every path that
//! changes a shard must go through `Ctx::shard_mut` / `shards_mut`.

use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use crate::keyspace::{DbPart, Keyspace, NSHARDS, Shard};

#[derive(Default)]
pub(crate) struct Snapshot {
    /// Claimed by a user (BGSAVE or an AOF rewrite) from before `begin`
    /// until after `end`: one snapshot at a time.
    claimed: AtomicBool,
    active: AtomicBool,
    pending: [AtomicBool; NSHARDS],
    copies: [Mutex<Option<Vec<DbPart>>>; NSHARDS],
}

impl Snapshot {
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

    /// Starts a snapshot. The caller holds every shard lock.
    pub fn begin(&self) {
        for (p, c) in self.pending.iter().zip(&self.copies) {
            *c.lock() = None;
            p.store(true, Ordering::Release);
        }
        self.active.store(true, Ordering::Release);
    }

    /// Whether a snapshot is being taken (a cheap check for writers).
    #[inline]
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    /// Called by a writer holding shard `i`'s write lock, before it changes it.
    pub fn before_write(&self, i: usize, shard: &Shard) {
        if self.pending[i].swap(false, Ordering::AcqRel) {
            *self.copies[i].lock() = Some(shard.dbs.clone());
        }
    }

    /// Shard `i` as it was at `begin`: every database's part. `None` if it
    /// was already taken (or the snapshot ended).
    pub fn take(&self, ks: &Keyspace, i: usize) -> Option<Vec<DbPart>> {
        {
            let g = ks.shards[i].read();
            if self.pending[i].swap(false, Ordering::AcqRel) {
                return Some(g.dbs.clone());
            }
        }
        self.copies[i].lock().take()
    }

    /// Ends the snapshot (done or abandoned), dropping copies not taken.
    pub fn end(&self, ks: &Keyspace) {
        self.active.store(false, Ordering::Release);
        for i in 0..NSHARDS {
            let _g = ks.shards[i].read();
            self.pending[i].store(false, Ordering::Release);
            *self.copies[i].lock() = None;
        }
    }
}

/// Walks the snapshot shard by shard (each shard's copy is taken, then
/// released), calling `f` with every non-empty database part; `err` makes
/// the caller's error from "aborted" / "the snapshot was abandoned".
pub(crate) fn for_each_part<E>(
    eng: &crate::db::Engine,
    abort: &std::sync::atomic::AtomicBool,
    err: impl Fn(&'static str) -> E,
    mut f: impl FnMut(usize, &crate::keyspace::DbPart) -> Result<(), E>,
) -> Result<(), E> {
    for i in 0..crate::keyspace::NSHARDS {
        if abort.load(std::sync::atomic::Ordering::Relaxed) {
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
