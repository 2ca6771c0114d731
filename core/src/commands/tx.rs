//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! Queued commands run in EXEC with every shard write-locked, so the block is
//! atomic with respect to every other thread. WATCH registers the client's
//! flag with the engine; any modification of a watched key (by anyone, by
//! expiry, FLUSHDB, SWAPDB) raises it and EXEC answers nil; FLUSHDB and
//! SWAPDB raise only the flags of keys they change (`touch_watched_in_db`).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::flag::*;
use super::{CommandSpec, Ctx};
use crate::client::{ClientState, WatchState};
use crate::db::Engine;
use crate::reply::Reply;

type R = Result<Reply, Reply>;

const fn tx(
    name: &'static str,
    arity: i32,
    flags: u32,
    keys: (i32, i32, i32),
    handler: super::Handler,
) -> CommandSpec {
    CommandSpec::new(name, arity, flags, keys, "transactions", handler)
}

pub(crate) static COMMANDS: &[CommandSpec] = &[
    tx(
        "multi",
        1,
        NOSCRIPT | LOADING | STALE | FAST | NO_KEYS | ALLOW_BUSY,
        (0, 0, 0),
        multi,
    ),
    tx(
        "exec",
        1,
        NOSCRIPT | LOADING | STALE | NO_KEYS,
        (0, 0, 0),
        exec_placeholder,
    ),
    tx(
        "discard",
        1,
        NOSCRIPT | LOADING | STALE | FAST | NO_KEYS | ALLOW_BUSY,
        (0, 0, 0),
        discard,
    ),
    tx(
        "watch",
        -2,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        (1, -1, 1),
        watch,
    ),
    tx(
        "unwatch",
        1,
        NOSCRIPT | LOADING | STALE | FAST | NO_KEYS | ALLOW_BUSY,
        (0, 0, 0),
        unwatch,
    ),
];

/// Commands run immediately even inside MULTI.
pub(crate) fn runs_in_multi(name: &str) -> bool {
    matches!(
        name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

/// A transaction being queued.
#[derive(Default)]
pub(crate) struct Multi {
    pub queue: Vec<(&'static CommandSpec, Vec<Vec<u8>>)>,
    /// A command was refused while queueing: EXEC must abort.
    pub error: bool,
}

/// `MULTI`
fn multi(ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    if ctx.cl.multi.is_some() {
        return Err(Reply::error("ERR MULTI calls can not be nested"));
    }
    ctx.cl.multi = Some(Multi::default());
    Ok(Reply::ok())
}

/// `DISCARD`
fn discard(ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    if ctx.cl.multi.take().is_none() {
        return Err(Reply::error("ERR DISCARD without MULTI"));
    }
    unwatch_all(ctx.eng, ctx.cl);
    Ok(Reply::ok())
}

/// `WATCH key [key ...]`
fn watch(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    if ctx.cl.multi.is_some() {
        return Err(Reply::error("ERR WATCH inside MULTI is not allowed"));
    }
    let db = ctx.db;
    let ws = ctx
        .cl
        .watch
        .get_or_insert_with(|| Arc::new(WatchState::default()))
        .clone();
    let mut reg = ctx.eng.watches.lock();
    for k in &a[1..] {
        let key = (db, k.to_vec());
        let mut keys = ws.keys.lock();
        if keys.iter().any(|(d, kk, _)| *d == db && kk == k) {
            continue;
        }
        // Redis remembers whether the key was already expired when watched.
        let expired = ctx.expire_of(db, k).is_some_and(|at| at <= ctx.now());
        keys.push((db, k.to_vec(), expired));
        reg.entry(key).or_default().push(Arc::downgrade(&ws));
        ctx.eng.watching.fetch_add(1, Ordering::Relaxed);
    }
    Ok(Reply::ok())
}

/// FLUSHDB / FLUSHALL / SWAPDB, before the change: the WATCHed keys of
/// database `emptied`, whose contents are dropped (`replaced_with: None`)
/// or replaced by database `replaced_with`'s (SWAPDB). As Redis 7's
/// `touchAllWatchedKeysInDb`: only a key present on either side counts; a
/// key already expired when watched and now deleted is no change (its
/// mark is cleared), nor is one replaced by another expired key; a missing
/// key replaced by an expired one is marked expired.
pub(crate) fn touch_watched_in_db(ctx: &Ctx, emptied: usize, replaced_with: Option<usize>) {
    if !ctx.eng.watchers_active() {
        return;
    }
    let present = |db: usize, key: &[u8]| {
        let (part, h) = ctx.part(db, key);
        part.get(h, key).is_some()
    };
    let expired = |db: usize, key: &[u8]| ctx.is_expired_at(ctx.expire_of(db, key));
    let reg = ctx.eng.watches.lock();
    for ((db, key), list) in reg.iter() {
        if *db != emptied {
            continue;
        }
        let in_emptied = present(emptied, key);
        let other = replaced_with.filter(|o| present(*o, key));
        if !in_emptied && other.is_none() {
            continue;
        }
        for ws in list.iter().filter_map(|w| w.upgrade()) {
            let mut keys = ws.keys.lock();
            let Some(entry) = keys.iter_mut().find(|(d, k, _)| *d == emptied && k == key) else {
                continue;
            };
            match other {
                // an expired key deleted: logically no change
                None if entry.2 => {
                    entry.2 = false;
                    continue;
                }
                Some(o) if entry.2 && expired(o, key) => continue,
                Some(o) if !entry.2 && !in_emptied && expired(o, key) => {
                    entry.2 = true;
                    continue;
                }
                _ => {}
            }
            ws.dirty.store(true, Ordering::Release);
        }
    }
}

/// `UNWATCH`
fn unwatch(ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    unwatch_all(ctx.eng, ctx.cl);
    Ok(Reply::ok())
}

/// Forgets every watched key of a client.
pub(crate) fn unwatch_all(eng: &Engine, cl: &mut ClientState) {
    let Some(ws) = cl.watch.take() else { return };
    let keys = std::mem::take(&mut *ws.keys.lock());
    if keys.is_empty() {
        return;
    }
    let mut reg = eng.watches.lock();
    for (db, k, _) in keys {
        let key = (db, k);
        if let Some(list) = reg.get_mut(&key) {
            list.retain(|w| w.upgrade().is_some_and(|w| !Arc::ptr_eq(&w, &ws)));
            if list.is_empty() {
                reg.remove(&key);
            }
        }
        eng.watching.fetch_sub(1, Ordering::Relaxed);
    }
}

fn exec_placeholder(_ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    Err(Reply::error("ERR EXEC without MULTI"))
}

/// `EXEC`: runs the queue atomically.
pub(crate) fn exec(eng: &Engine, cl: &mut ClientState) -> Reply {
    let Some(m) = cl.multi.take() else {
        return Reply::error("ERR EXEC without MULTI");
    };
    if m.error {
        unwatch_all(eng, cl);
        return Reply::error("EXECABORT Transaction discarded because of previous errors.");
    }
    let mut ctx = Ctx::new(eng, cl);
    // the block's writes go to the AOF as one MULTI … EXEC
    ctx.cl.fx.aof.batch = true;
    ctx.no_block = true;
    ctx.lock(Ctx::shard_mask_all(), true);
    let aborted = match &ctx.cl.watch {
        Some(ws) => {
            ws.dirty.load(Ordering::Acquire)
                || ws.keys.lock().iter().any(|(db, k, was_expired)| {
                    !was_expired && ctx.expire_of(*db, k).is_some_and(|at| at <= ctx.now())
                })
        }
        None => false,
    };
    if aborted {
        drop(ctx);
        unwatch_all(eng, cl);
        return Reply::NilArray;
    }
    // Keys touched by the transaction itself must not matter any more.
    let ws = ctx.cl.watch.take();
    let mut replies = Vec::with_capacity(m.queue.len());
    ctx.deferred_ready = Some(Vec::new());
    for (spec, argv) in &m.queue {
        let args: Vec<&[u8]> = argv.iter().map(|a| a.as_slice()).collect();
        // ACL rules may have changed since the command was queued
        if let Some(e) = crate::acl::check(eng, ctx.cl, spec, &args, "multi") {
            replies.push(Reply::Error(e));
            continue;
        }
        replies.push(super::call(&mut ctx, spec, &args));
    }
    // blocked clients see the state after the whole transaction, still
    // under its locks: a key pushed then deleted inside it serves nobody
    if let Some(ready) = ctx.deferred_ready.take()
        && !ready.is_empty()
    {
        eng.serve_ready(&mut ctx, &ready);
    }
    // one MULTI … EXEC block in the AOF, appended under the locks
    let ticket = eng.aof.commit(&mut ctx);
    drop(ctx);
    cl.watch = ws;
    unwatch_all(eng, cl);
    eng.aof.settle(ticket, Reply::Array(replies))
}
