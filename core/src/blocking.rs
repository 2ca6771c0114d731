//! Blocked clients (BLPOP and friends): a registry of waiters per (db, key),
//! served in arrival order.
//!
//! Rules for whoever changes this:
//! - A client registers while still holding its command's shard locks, so a
//!   write cannot slip in between "nothing to pop" and "waiting".
//! - A write that touches a key with waiters serves the first one inside the
//!   writer's own critical section (the waiter's command runs in the
//!   writer's Ctx, on the ready key only), so no other client can take the
//!   value first. Then the waiter is woken with its reply.
//! - A waiter being served is `Claimed`; a timing-out waiter never
//!   abandons a claimed serve, so nothing popped is ever lost.
//! - Lock order: shard locks → registry mutex → a waiter's state mutex.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use hashbrown::HashMap;
use parking_lot::{Condvar, Mutex};

use crate::commands::CommandSpec;
use crate::reply::Reply;

/// Internal marker reply: the waiter must run its command again itself.
pub(crate) const RETRY: &str = "\0emberkv-retry";

/// What a blocking handler asks for when there is nothing to return yet.
pub(crate) struct BlockOn {
    pub keys: Vec<Vec<u8>>,
    pub deadline: Option<Instant>,
    /// The reply when the timeout expires.
    pub timeout_reply: Reply,
    /// The argv to wait with, when not the call's own (XREAD with `$`
    /// resolved to the IDs seen when it blocked).
    pub argv: Option<Vec<Vec<u8>>>,
}

enum State {
    Waiting,
    Claimed,
    Done(Reply),
    /// Told to run its command again itself (`RETRY`), not yet done: the
    /// writer that told it waits for that (`await_rerun`).
    Rerunning,
}

pub(crate) struct Waiter {
    pub client_id: u64,
    pub db: usize,
    pub spec: &'static CommandSpec,
    pub argv: Vec<Vec<u8>>,
    keys: Vec<Vec<u8>>,
    timeout_reply: Reply,
    state: Mutex<State>,
    cv: Condvar,
    /// Served by running its command in a writer's Ctx, which counted the
    /// call (INFO commandstats); otherwise the waiter counts it itself.
    pub counted: std::sync::atomic::AtomicBool,
}

/// (db, key) → clients blocked on it, first come first served.
type Queues = HashMap<(usize, Vec<u8>), VecDeque<Arc<Waiter>>>;

#[derive(Default)]
pub(crate) struct Blocking {
    queues: Mutex<Queues>,
    count: AtomicUsize,
}

impl Blocking {
    /// Anyone blocked at all? (the write path's fast check)
    #[inline]
    pub fn active(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0
    }

    /// Registers a waiter on its keys (caller holds the keys' shard locks).
    pub fn register(
        &self,
        client_id: u64,
        db: usize,
        spec: &'static CommandSpec,
        argv: Vec<Vec<u8>>,
        block: &BlockOn,
    ) -> Arc<Waiter> {
        let w = Arc::new(Waiter {
            client_id,
            db,
            spec,
            argv,
            keys: block.keys.clone(),
            timeout_reply: block.timeout_reply.clone(),
            state: Mutex::new(State::Waiting),
            cv: Condvar::new(),
            counted: Default::default(),
        });
        let mut q = self.queues.lock();
        for k in &w.keys {
            q.entry((db, k.clone())).or_default().push_back(w.clone());
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        w
    }

    fn unregister_locked(
        &self,
        q: &mut HashMap<(usize, Vec<u8>), VecDeque<Arc<Waiter>>>,
        w: &Arc<Waiter>,
    ) {
        let mut removed = false;
        for k in &w.keys {
            let key = (w.db, k.clone());
            if let Some(list) = q.get_mut(&key) {
                let before = list.len();
                list.retain(|x| !Arc::ptr_eq(x, w));
                removed |= list.len() != before;
                if list.is_empty() {
                    q.remove(&key);
                }
            }
        }
        if removed {
            self.count.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Waits until served, unblocked or timed out; returns the reply.
    pub fn wait(&self, w: &Arc<Waiter>, deadline: Option<Instant>, timeout_reply: Reply) -> Reply {
        let mut st = w.state.lock();
        loop {
            if matches!(*st, State::Done(_)) {
                let State::Done(r) = std::mem::replace(&mut *st, State::Waiting) else {
                    unreachable!()
                };
                if matches!(&r, Reply::Error(e) if e == RETRY) {
                    *st = State::Rerunning;
                }
                return r;
            }
            let timed_out = match deadline {
                Some(d) => w.cv.wait_until(&mut st, d).timed_out(),
                None => {
                    w.cv.wait(&mut st);
                    false
                }
            };
            if !timed_out {
                continue;
            }
            // Withdraw, taking the registry first (the lock order).
            drop(st);
            let mut q = self.queues.lock();
            st = w.state.lock();
            match &*st {
                // (Rerunning is a state after this wait, never during it)
                State::Waiting | State::Rerunning => {
                    self.unregister_locked(&mut q, w);
                    return timeout_reply;
                }
                State::Done(_) => continue,
                State::Claimed => {
                    // A writer is serving us right now: wait for its outcome.
                    drop(q);
                    while matches!(*st, State::Claimed) {
                        w.cv.wait(&mut st);
                    }
                }
            }
        }
    }

    /// The keys of database `db` that clients wait on (FLUSHDB, SWAPDB:
    /// every such key may have changed).
    pub fn keys_in(&self, db: usize) -> Vec<Vec<u8>> {
        let q = self.queues.lock();
        q.keys()
            .filter(|(d, _)| *d == db)
            .map(|(_, k)| k.clone())
            .collect()
    }

    /// The first unclaimed waiter on (db, key), now claimed.
    pub fn claim_first(&self, db: usize, key: &[u8]) -> Option<Arc<Waiter>> {
        let q = self.queues.lock();
        let list = q.get(&(db, key.to_vec()))?;
        for w in list {
            let mut st = w.state.lock();
            if matches!(*st, State::Waiting) {
                *st = State::Claimed;
                return Some(w.clone());
            }
        }
        None
    }

    /// Completes a claimed waiter with its reply and wakes it.
    pub fn finish(&self, w: &Arc<Waiter>, reply: Reply) {
        let mut q = self.queues.lock();
        self.unregister_locked(&mut q, w);
        drop(q);
        *w.state.lock() = State::Done(reply);
        w.cv.notify_all();
    }

    /// The waiter told to `RETRY` has run its command again (served, or
    /// queued again under a new waiter): its writer may answer now.
    pub fn rerun_done(&self, w: &Waiter) {
        let mut st = w.state.lock();
        if matches!(*st, State::Rerunning) {
            *st = State::Waiting;
            w.cv.notify_all();
        }
    }

    /// A writer that told `w` to `RETRY`, after releasing its locks: waits
    /// (at most until `deadline`) for that rerun, so that its own reply is
    /// seen after the blocked client was served, as in Redis.
    pub fn await_rerun(&self, w: &Waiter, deadline: Instant) {
        let mut st = w.state.lock();
        while matches!(&*st, State::Rerunning)
            || matches!(&*st, State::Done(Reply::Error(e)) if e == RETRY)
        {
            if w.cv.wait_until(&mut st, deadline).timed_out() {
                return;
            }
        }
    }

    /// Returns a claimed waiter to waiting (nothing could be served).
    pub fn release(&self, w: &Arc<Waiter>) {
        *w.state.lock() = State::Waiting;
        w.cv.notify_all();
    }

    /// CLIENT UNBLOCK: ends a client's wait with its timeout reply, or with
    /// `error` if given; true if it was blocked.
    pub fn unblock_client(&self, client_id: u64, error: Option<Reply>) -> bool {
        let mut q = self.queues.lock();
        let found = q
            .values()
            .flat_map(|l| l.iter())
            .find(|w| w.client_id == client_id)
            .cloned();
        let Some(w) = found else { return false };
        let mut st = w.state.lock();
        if !matches!(*st, State::Waiting) {
            return false;
        }
        *st = State::Done(error.unwrap_or_else(|| w.timeout_reply.clone()));
        drop(st);
        self.unregister_locked(&mut q, &w);
        w.cv.notify_all();
        true
    }

    /// Ends every wait (the Db is closing).
    pub fn unblock_all(&self, reply: Reply) {
        let mut q = self.queues.lock();
        let all: Vec<Arc<Waiter>> = q.values().flat_map(|l| l.iter().cloned()).collect();
        for w in all {
            let mut st = w.state.lock();
            if matches!(*st, State::Waiting) {
                *st = State::Done(reply.clone());
                drop(st);
                self.unregister_locked(&mut q, &w);
                w.cv.notify_all();
            }
        }
    }

    /// Clients currently blocked (INFO blocked_clients).
    pub fn blocked_clients(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }
}

impl Waiter {
    pub fn keys(&self) -> &[Vec<u8>] {
        &self.keys
    }
}
