//! CLIENT TRACKING: server-assisted client-side caching, as Redis 7.2.
//!
//! Default mode: after a read-only command of a tracking client, its keys
//! are remembered (key → client ids); the next modification of such a key,
//! by anyone, sends those clients one `invalidate` message and forgets the
//! key. OPTIN / OPTOUT make remembering depend on CLIENT CACHING yes / no
//! given just before. BCAST mode remembers nothing: every modified key that
//! starts with one of the client's prefixes (none: every key) is sent.
//! NOLOOP: keys the client modified itself are not sent to it. FLUSHDB /
//! FLUSHALL (and SWAPDB) send `invalidate` with a null key list to every
//! tracking client.
//!
//! Delivery, as Redis: to a RESP3 client a push `["invalidate", [keys]]`;
//! with REDIRECT to another client, to that one, and if that one speaks
//! RESP2 and is in pub/sub mode as a `message` on `__redis__:invalidate`;
//! a redirect to a client that is gone gives the tracking client (RESP3) a
//! `tracking-redir-broken` push. Messages go to the target's `Outbox`,
//! which its front end drains after each reply (the modifying client's own
//! invalidations thus follow the reply of the command that caused them).
//!
//! Modified keys come from the same record WATCH uses (`Ctx::touched`):
//! while anyone tracks, the engine counts as watched so that record is kept.
//! Keys are remembered inside the reading command's locks, so no write can
//! slip between the read and the remembering.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use crate::client::{ClientInfo, ClientState};
use crate::commands::{CommandSpec, Ctx, flag};
use crate::db::Engine;
use crate::reply::Reply;

/// CLIENT TRACKING's options.
#[derive(Clone, Debug, Default)]
pub(crate) struct Opts {
    pub redirect: u64,
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
    pub prefixes: Vec<Vec<u8>>,
}

struct TrackClient {
    opts: Opts,
    /// CLIENT CACHING was given for the next command.
    caching: bool,
    broken_redirect: bool,
    info: Weak<ClientInfo>,
}

#[derive(Default)]
struct Table {
    keys: HashMap<Vec<u8>, HashSet<u64>>,
    clients: HashMap<u64, TrackClient>,
    /// BCAST keys not sent yet: (client, prefix) → keys. As Redis, one
    /// message per prefix covers what a whole command (EXEC, a script)
    /// modified.
    bcast_pending: Vec<(BcastSlot, Vec<Vec<u8>>)>,
}

#[derive(Default)]
pub(crate) struct Tracking {
    t: Mutex<Table>,
}

/// A BCAST client and one of its prefixes.
type BcastSlot = (u64, Vec<u8>);

/// One message to send: the tracking client, and the keys (None: flush).
type Outgoing = Vec<(u64, Option<Vec<Vec<u8>>>)>;

impl Tracking {
    /// `CLIENT TRACKING ON …`: the checks Redis makes, then on.
    pub fn enable(&self, eng: &Engine, cl: &ClientState, mut o: Opts) -> Result<(), Reply> {
        if !o.bcast && !o.prefixes.is_empty() {
            return Err(Reply::error(
                "ERR PREFIX option requires BCAST mode to be enabled",
            ));
        }
        let mut t = self.t.lock();
        let old = t.clients.get(&cl.id);
        if let Some(old) = old
            && old.opts.bcast != o.bcast
        {
            return Err(Reply::error(
                "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.",
            ));
        }
        if o.bcast && (o.optin || o.optout) {
            return Err(Reply::error(
                "ERR OPTIN and OPTOUT are not compatible with BCAST",
            ));
        }
        if o.optin && o.optout {
            return Err(Reply::error(
                "ERR You can't specify both OPTIN mode and OPTOUT mode",
            ));
        }
        if let Some(old) = old
            && ((o.optin && old.opts.optout) || (o.optout && old.opts.optin))
        {
            return Err(Reply::error(
                "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.",
            ));
        }
        if o.bcast {
            let existing: &[Vec<u8>] = old.map_or(&[], |c| &c.opts.prefixes);
            for (i, p) in o.prefixes.iter().enumerate() {
                if let Some(e) = existing.iter().find(|e| overlap(e, p)) {
                    return Err(Reply::Error(format!(
                        "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                        String::from_utf8_lossy(p),
                        String::from_utf8_lossy(e)
                    )));
                }
                if let Some(q) = o.prefixes[i + 1..].iter().find(|q| overlap(p, q)) {
                    return Err(Reply::Error(format!(
                        "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                        String::from_utf8_lossy(p),
                        String::from_utf8_lossy(q)
                    )));
                }
            }
            let mut all = existing.to_vec();
            if o.prefixes.is_empty() && all.is_empty() {
                all.push(Vec::new());
            }
            all.append(&mut o.prefixes);
            o.prefixes = all;
        }
        let first = t.clients.is_empty();
        t.clients.insert(
            cl.id,
            TrackClient {
                opts: o,
                caching: false,
                broken_redirect: false,
                info: cl.info.as_ref().map_or_else(Weak::new, Arc::downgrade),
            },
        );
        if first {
            // keep the record of modified keys (see the module comment)
            eng.watching.fetch_add(1, Ordering::SeqCst);
            eng.hooks.set(crate::hooks::TRACKING, true);
        }
        Ok(())
    }

    /// `CLIENT TRACKING OFF`, and a client that goes away.
    pub fn disable(&self, eng: &Engine, id: u64) {
        let mut t = self.t.lock();
        t.bcast_pending.retain(|((i, _), _)| *i != id);
        if t.clients.remove(&id).is_some() && t.clients.is_empty() {
            t.keys.clear();
            eng.hooks.set(crate::hooks::TRACKING, false);
            eng.watching.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// `CLIENT CACHING YES|NO`
    pub fn caching(&self, id: u64, yes: bool) -> Result<(), Reply> {
        let mut t = self.t.lock();
        let Some(c) = t.clients.get_mut(&id) else {
            return Err(Reply::error(
                "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled",
            ));
        };
        match (yes, c.opts.optin, c.opts.optout) {
            (true, true, _) | (false, _, true) => {
                c.caching = true;
                Ok(())
            }
            (true, false, _) => Err(Reply::error(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            )),
            (false, _, false) => Err(Reply::error(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            )),
        }
    }

    /// `CLIENT GETREDIR`: -1 when not tracking, 0 without a redirect.
    pub fn getredir(&self, id: u64) -> i64 {
        self.t
            .lock()
            .clients
            .get(&id)
            .map_or(-1, |c| c.opts.redirect as i64)
    }

    /// `CLIENT TRACKINGINFO`
    pub fn info(&self, id: u64) -> Reply {
        let t = self.t.lock();
        let c = t.clients.get(&id);
        let mut flags = vec![Reply::bulk(if c.is_some() { "on" } else { "off" })];
        let mut prefixes = Vec::new();
        if let Some(c) = c {
            let o = &c.opts;
            if o.bcast {
                flags.push(Reply::bulk("bcast"));
            }
            if o.optin {
                flags.push(Reply::bulk("optin"));
                if c.caching {
                    flags.push(Reply::bulk("caching-yes"));
                }
            }
            if o.optout {
                flags.push(Reply::bulk("optout"));
                if c.caching {
                    flags.push(Reply::bulk("caching-no"));
                }
            }
            if o.noloop {
                flags.push(Reply::bulk("noloop"));
            }
            if c.broken_redirect {
                flags.push(Reply::bulk("broken_redirect"));
            }
            let mut p = o.prefixes.clone();
            p.sort();
            prefixes = p.into_iter().map(Reply::bulk_vec).collect();
        }
        Reply::Map(vec![
            (Reply::bulk("flags"), Reply::Set(flags)),
            (
                Reply::bulk("redirect"),
                Reply::Int(c.map_or(-1, |c| c.opts.redirect as i64)),
            ),
            (Reply::bulk("prefixes"), Reply::Array(prefixes)),
        ])
    }

    /// INFO: clients tracking, keys remembered, (key, client) pairs
    /// remembered, BCAST prefixes.
    pub fn counts(&self) -> [usize; 4] {
        let t = self.t.lock();
        let items = t.keys.values().map(HashSet::len).sum();
        let prefixes: HashSet<&Vec<u8>> = t
            .clients
            .values()
            .flat_map(|c| c.opts.prefixes.iter())
            .collect();
        [t.clients.len(), t.keys.len(), items, prefixes.len()]
    }
}

/// `tracking-table-max-keys`: past it, remembered keys are forgotten (in
/// no particular order) and their clients told, as if the keys changed.
pub(crate) fn limit(eng: &Engine) {
    let max = eng.params.tun(crate::config::Tun::TrackingTableMaxKeys);
    if max <= 0 {
        return;
    }
    let mut out: Outgoing = Vec::new();
    {
        let mut t = eng.hooks.tracking.t.lock();
        let excess = t.keys.len().saturating_sub(max as usize);
        if excess == 0 {
            return;
        }
        let victims: Vec<Vec<u8>> = t.keys.keys().take(excess).cloned().collect();
        for k in victims {
            for id in t.keys.remove(&k).unwrap_or_default() {
                if t.clients.contains_key(&id) {
                    out.push((id, Some(vec![k.clone()])));
                }
            }
        }
    }
    send(eng, out, 0);
}

/// Whether two prefixes would both match some key.
fn overlap(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

/// After any command of any client while someone tracks: a tracking
/// client's read-only command remembers its keys.
pub(crate) fn after_call(ctx: &mut Ctx, spec: &'static CommandSpec, argv: &[&[u8]]) {
    let id = ctx.cl.id;
    let mut t = ctx.eng.hooks.tracking.t.lock();
    let Some(c) = t.clients.get_mut(&id) else {
        return;
    };
    let caching = c.caching;
    // CLIENT CACHING lasts for the next command (a whole transaction)
    if spec.name != "client|caching" && ctx.cl.multi.is_none() {
        c.caching = false;
    }
    let o = &c.opts;
    // a read-only script is not itself a read: the commands it runs are
    if o.bcast
        || spec.flags & flag::READONLY == 0
        || spec.flags & flag::PUBSUB != 0
        || crate::monitor::is_script_command(spec.name)
        || (o.optin && !caching)
        || (o.optout && caching)
    {
        return;
    }
    // a script's read remembers the keys the script declared (Redis's rule)
    match crate::monitor::script_keys() {
        Some(keys) => {
            for k in keys {
                t.keys.entry(k).or_default().insert(id);
            }
        }
        None => {
            for i in spec.key_positions(argv) {
                t.keys.entry(argv[i].to_vec()).or_default().insert(id);
            }
        }
    }
}

/// Keys modified by client `by`: the invalidation messages. `defer`:
/// inside EXEC or a script, whose end sends the BCAST ones
/// (`flush_pending`).
pub(crate) fn keys_modified(eng: &Engine, by: u64, keys: &[(usize, Vec<u8>)], defer: bool) {
    let mut out: Outgoing = Vec::new();
    {
        let mut t = eng.hooks.tracking.t.lock();
        let t = &mut *t;
        let bcast = &mut t.bcast_pending;
        for (_, key) in keys {
            if let Some(ids) = t.keys.remove(key) {
                for id in ids {
                    match t.clients.get(&id) {
                        Some(c) if !(c.opts.bcast || (c.opts.noloop && id == by)) => {
                            out.push((id, Some(vec![key.clone()])));
                        }
                        _ => {}
                    }
                }
            }
            for (&id, c) in &t.clients {
                if !c.opts.bcast || (c.opts.noloop && id == by) {
                    continue;
                }
                for p in c.opts.prefixes.iter().filter(|p| key.starts_with(p)) {
                    match bcast.iter_mut().find(|((i, q), _)| *i == id && q == p) {
                        Some((_, ks)) => {
                            if !ks.contains(key) {
                                ks.push(key.clone());
                            }
                        }
                        None => bcast.push(((id, p.clone()), vec![key.clone()])),
                    }
                }
            }
        }
        if !defer {
            out.extend(
                std::mem::take(&mut t.bcast_pending)
                    .into_iter()
                    .map(|((id, _), ks)| (id, Some(ks))),
            );
        }
    }
    send(eng, out, by);
}

/// The end of EXEC or a script (run by client `by`): the BCAST messages
/// held for it.
pub(crate) fn flush_pending(eng: &Engine, by: u64) {
    let out: Outgoing = std::mem::take(&mut eng.hooks.tracking.t.lock().bcast_pending)
        .into_iter()
        .map(|((id, _), ks)| (id, Some(ks)))
        .collect();
    send(eng, out, by);
}

/// A database was flushed or swapped: every tracking client drops its cache.
pub(crate) fn flushed(eng: &Engine, by: u64) {
    let out: Outgoing = {
        let mut t = eng.hooks.tracking.t.lock();
        t.keys.clear();
        t.clients.keys().map(|&id| (id, None)).collect()
    };
    send(eng, out, by);
}

/// Sends each message; those for client `by` (whose command caused them)
/// follow its reply.
fn send(eng: &Engine, out: Outgoing, by: u64) {
    for (id, keys) in out {
        let (redirect, own) = {
            let t = eng.hooks.tracking.t.lock();
            match t.clients.get(&id) {
                Some(c) => (c.opts.redirect, c.info.upgrade()),
                None => continue,
            }
        };
        let Some(own) = own else { continue };
        let (target, redirected) = if redirect == 0 {
            (own, false)
        } else {
            match eng.clients.lock().get(&redirect).cloned() {
                Some(t) => (t, true),
                None => {
                    if let Some(c) = eng.hooks.tracking.t.lock().clients.get_mut(&id) {
                        c.broken_redirect = true;
                    }
                    if own.meta.lock().resp >= 3 {
                        let r = Reply::Push(vec![
                            Reply::bulk("tracking-redir-broken"),
                            Reply::Int(redirect as i64),
                        ]);
                        own.outbox().push(r, 32);
                    }
                    continue;
                }
            }
        };
        let (resp, subscribed) = {
            let m = target.meta.lock();
            (m.resp, m.subs.iter().any(|&n| n > 0))
        };
        let cost = keys
            .as_ref()
            .map_or(0, |k| k.iter().map(|k| k.len() + 16).sum());
        let value = match keys {
            Some(k) => Reply::Array(k.into_iter().map(Reply::bulk_vec).collect()),
            None => Reply::Nil,
        };
        let msg = if resp >= 3 {
            Reply::Push(vec![Reply::bulk("invalidate"), value])
        } else if redirected && subscribed {
            Reply::Push(vec![
                Reply::bulk("message"),
                Reply::bulk("__redis__:invalidate"),
                value,
            ])
        } else {
            continue;
        };
        let after_reply = by != 0 && target.id == by;
        target.outbox().push_as(msg, cost, after_reply);
    }
}
