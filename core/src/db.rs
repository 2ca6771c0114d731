//! `Db`: the engine handle (`Clone + Send + Sync`), and `Engine`, the shared
//! state behind it: keyspace, parameters, clock, statistics, clients and the
//! background thread (active expiry).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use hashbrown::HashMap;

use crate::client::{Client, ClientInfo, ClientState, WatchState};
use crate::clock::Clock;
use crate::commands::ctx::Prop;
use crate::commands::{CommandSpec, Ctx};
use crate::config::{Config, Params, Tun};
use crate::error::{Error, ErrorKind};
use crate::keyspace::Keyspace;
use crate::persist::aof::Aof;
use crate::persist::snapshot::Snapshot;
use crate::pubsub::{PubSub, Subscription};
use crate::reply::Reply;

/// Server-wide counters (INFO stats).
#[derive(Default)]
pub(crate) struct Stats {
    pub total_commands: AtomicU64,
    pub keyspace_hits: AtomicU64,
    pub keyspace_misses: AtomicU64,
    pub expired_keys: AtomicU64,
    pub total_connections: AtomicU64,
    pub rejected_calls: AtomicU64,
    pub failed_calls: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    /// Connections a wire front end refused (maxclients, protected mode).
    pub rejected_connections: AtomicU64,
}

impl Stats {
    pub fn reset(&self) {
        for c in [
            &self.total_commands,
            &self.keyspace_hits,
            &self.keyspace_misses,
            &self.expired_keys,
            &self.total_connections,
            &self.rejected_calls,
            &self.failed_calls,
            &self.net_input_bytes,
            &self.net_output_bytes,
            &self.rejected_connections,
        ] {
            c.store(0, Ordering::Relaxed);
        }
    }
}

/// (db, key) → the WATCH flags of the clients watching it.
pub(crate) type WatchRegistry = HashMap<(usize, Vec<u8>), Vec<Weak<WatchState>>>;

pub(crate) struct Engine {
    pub ks: Keyspace,
    pub params: Params,
    pub clock: Clock,
    pub stats: Stats,
    /// Writes since start (Redis's `server.dirty`).
    pub dirty: AtomicU64,
    pub clients: Mutex<BTreeMap<u64, Arc<ClientInfo>>>,
    pub pubsub: Arc<PubSub>,
    pub blocking: crate::blocking::Blocking,
    /// WATCHed keys: (db, key) → the flags of the clients watching it.
    pub watches: Mutex<WatchRegistry>,
    next_client_id: AtomicU64,
    /// Clients with WATCHed keys; modifications are only recorded when > 0.
    pub watching: AtomicUsize,
    pub started: Instant,
    pub run_id: String,
    closed: AtomicBool,
    bg_wake: (Mutex<bool>, Condvar),
    bg_thread: Mutex<Option<JoinHandle<()>>>,
    /// The append-only file (off unless `appendonly yes`).
    pub aof: Aof,
    /// The point-in-time view background saves read.
    pub snapshot: Snapshot,
    /// RDB snapshots: SAVE, BGSAVE, save points, the dump loaded at open.
    pub rdb: crate::persist::save::Rdb,
    /// Replaying the AOF at open: nothing expires meanwhile.
    pub loading: AtomicBool,
    /// Lua scripting: the VM, the script cache, the running script.
    pub scripts: crate::script::Scripts,
    /// This engine's own Arc (for background threads it starts).
    me: OnceLock<Weak<Engine>>,
    /// Per-command and per-error counters (INFO commandstats / errorstats).
    pub cmdstats: crate::cmdstats::CommandStats,
    pub slowlog: crate::slowlog::SlowLog,
    pub latency: crate::latency::LatencyMonitor,
    /// Milliseconds since the epoch, refreshed by the background thread
    /// every tick: for what needs a time on the hot path but tolerates the
    /// tick's resolution (CLIENT LIST `idle`).
    coarse_ms: AtomicU64,
    /// When the engine opened (ms since the epoch): the access time of keys
    /// loaded at open.
    pub opened_ms: u64,
    /// maxmemory: used-memory figure, eviction pool, `evicted_keys`.
    pub evict: crate::evict::Evictor,
    /// MONITOR, CLIENT PAUSE, CLIENT TRACKING.
    pub hooks: crate::hooks::Hooks,
    /// Users, ACL LOG, denial counters (`acl.rs`).
    pub acl: crate::acl::Acl,
}

impl Engine {
    fn new(cfg: &Config) -> Result<Engine, Error> {
        if cfg.databases == 0 {
            return Err(Error::new(
                ErrorKind::Config,
                "databases must be at least 1",
            ));
        }
        let params = Params::new(cfg)?;
        let clock = match &cfg.clock {
            Some(m) => Clock::Manual(m.clone()),
            None => Clock::Real,
        };
        let now_ms = clock.now_ms();
        let seed = clock.now_us() ^ (std::process::id() as u64).rotate_left(40);
        let mut rng = crate::util::rng::Rng::seeded(seed);
        let run_id = (0..40)
            .map(|_| char::from(b"0123456789abcdef"[rng.below(16) as usize]))
            .collect();
        Ok(Engine {
            ks: Keyspace::new(cfg.databases),
            params,
            clock,
            stats: Stats::default(),
            dirty: AtomicU64::new(0),
            clients: Mutex::new(BTreeMap::new()),
            pubsub: Arc::new(PubSub::default()),
            blocking: crate::blocking::Blocking::default(),
            watches: Mutex::new(HashMap::new()),
            next_client_id: AtomicU64::new(1),
            watching: AtomicUsize::new(0),
            started: Instant::now(),
            run_id,
            closed: AtomicBool::new(false),
            bg_wake: (Mutex::new(false), Condvar::new()),
            bg_thread: Mutex::new(None),
            aof: Aof::new(cfg),
            snapshot: Snapshot::new(cfg.databases),
            rdb: crate::persist::save::Rdb::new(cfg, now_ms),
            loading: AtomicBool::new(false),
            scripts: Default::default(),
            me: OnceLock::new(),
            cmdstats: Default::default(),
            slowlog: Default::default(),
            latency: Default::default(),
            coarse_ms: AtomicU64::new(now_ms),
            opened_ms: now_ms,
            evict: Default::default(),
            hooks: Default::default(),
            acl: Default::default(),
        })
    }

    /// A strong handle on this engine, unless it is being dropped.
    pub fn arc(&self) -> Option<Arc<Engine>> {
        self.me.get().and_then(Weak::upgrade)
    }

    #[inline]
    pub fn is_loading(&self) -> bool {
        self.loading.load(Ordering::Relaxed)
    }

    pub fn next_client_id(&self) -> u64 {
        self.next_client_id.fetch_add(1, Ordering::Relaxed)
    }

    #[inline]
    pub fn watchers_active(&self) -> bool {
        self.watching.load(Ordering::Relaxed) > 0
    }

    #[inline]
    pub fn notify_flags(&self) -> u32 {
        self.params.tun(Tun::NotifyFlags) as u32
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// The coarse clock (see `coarse_ms` the field).
    #[inline]
    pub fn coarse_ms(&self) -> u64 {
        self.coarse_ms.load(Ordering::Relaxed)
    }

    /// Whether a call must be timed whatever the sampling says: every call
    /// when the slow log records all of them (`slowlog-log-slower-than 0`);
    /// calls of commands not flagged fast (they can be slow) while the slow
    /// log or the latency monitor is on. See `cmdstats` for why not always.
    #[inline]
    pub fn must_time(&self, fast: bool) -> bool {
        let slower_than = self.params.tun(Tun::SlowlogLogSlowerThan);
        slower_than == 0
            || (!fast && (slower_than > 0 || self.params.tun(Tun::LatencyMonitorThreshold) > 0))
    }

    /// Side effects of a command that ran (inside its locks); `usec` is its
    /// duration when it was timed.
    #[inline(always)]
    pub fn after_command(
        &self,
        ctx: &mut Ctx,
        spec: &'static CommandSpec,
        argv: &[&[u8]],
        reply: &Reply,
        usec: Option<u64>,
    ) {
        // MONITOR, CLIENT TRACKING (`hooks.rs`): still inside the locks
        if self.hooks.active() != 0 {
            crate::hooks::after_call(ctx, spec, argv);
        }
        let failed = reply.is_error();
        ctx.cl.note_call(ctx.hits.take(), ctx.misses.take(), failed);
        // a command that blocks counts once, when it ends (served, timed
        // out, unblocked), as in Redis: `commands::wait_blocked`
        if ctx.block.is_none() {
            ctx.cl
                .cmd_stats
                .call(crate::cmdstats::index_of_cached(ctx.cl, spec), usec, failed);
        }
        if let Reply::Error(e) = reply
            && !std::mem::take(&mut ctx.cl.error_counted)
        {
            self.cmdstats.error_reply(e);
        }
        if let Some(us) = usec {
            self.note_duration(ctx, spec, argv, us);
        }
        if ctx.dirty > 0 {
            self.dirty.fetch_add(ctx.dirty, Ordering::Relaxed);
        }
        self.aof.capture(ctx, argv);
        self.flush_effects(ctx);
        if ctx.dirty == 0 {
            ctx.prop = Prop::Nothing;
        }
    }

    /// The slow log and the latency monitor see a timed command.
    fn note_duration(&self, ctx: &Ctx, spec: &'static CommandSpec, argv: &[&[u8]], usec: u64) {
        self.cmdstats
            .record_latency(crate::cmdstats::index_of_cached(ctx.cl, spec), usec);
        let slower_than = self.params.tun(Tun::SlowlogLogSlowerThan);
        if slower_than >= 0 && usec >= slower_than as u64 && !argv.is_empty() {
            let (peer, name) = ctx.cl.info.as_ref().map_or_else(Default::default, |i| {
                let m = i.meta.lock();
                (m.addr.clone(), m.name.clone())
            });
            let max_len = self.params.tun(Tun::SlowlogMaxLen).max(0) as usize;
            let now_s = self.clock.now_ms() / 1000;
            self.slowlog.record(argv, usec, now_s, peer, name, max_len);
        }
        let threshold = self.params.tun(Tun::LatencyMonitorThreshold);
        if threshold > 0 && usec / 1000 >= threshold as u64 {
            let event = if spec.flags & crate::commands::flag::FAST != 0 {
                "fast-command"
            } else {
                "command"
            };
            self.latency
                .record(event, self.clock.now_ms() / 1000, usec / 1000);
        }
    }

    /// Delivers what a Ctx recorded besides the reply: expired-key DELs,
    /// WATCH invalidation, notifications. Clears them.
    #[inline]
    pub fn flush_effects(&self, ctx: &mut Ctx) {
        ctx.cl.fx.expired_dels.clear();
        if ctx.cl.fx.has_deliveries() {
            self.deliver_effects(ctx);
        }
    }

    #[inline(never)]
    fn deliver_effects(&self, ctx: &mut Ctx) {
        let fx = &mut ctx.cl.fx;
        if !fx.touched.is_empty() || !fx.touched_dbs.is_empty() {
            self.signal_watchers(&fx.touched);
            if self.hooks.active() & crate::hooks::TRACKING != 0 {
                if fx.touched_dbs.is_empty() {
                    let defer = ctx.deferred_ready.is_some();
                    crate::tracking::keys_modified(self, ctx.cl.id, &ctx.cl.fx.touched, defer);
                } else {
                    crate::tracking::flushed(self, ctx.cl.id);
                }
            }
            let fx = &mut ctx.cl.fx;
            if self.blocking.active() {
                let dbs = std::mem::take(&mut fx.touched_dbs);
                let mut touched = std::mem::take(&mut fx.touched);
                // a whole database changed: every key waited on in it may be ready
                for db in dbs {
                    touched.extend(self.blocking.keys_in(db).into_iter().map(|k| (db, k)));
                }
                match ctx.deferred_ready.as_mut() {
                    Some(later) => later.extend(touched),
                    None => self.serve_ready(ctx, &touched),
                }
            } else {
                fx.touched.clear();
                fx.touched_dbs.clear();
            }
        }
        let fx = &mut ctx.cl.fx;
        if !fx.events.is_empty() {
            let flags = self.notify_flags();
            for (_, event, db, key) in fx.events.drain(..) {
                crate::pubsub::notify(&self.pubsub, flags, event, db, &key);
            }
        }
    }

    /// Serves the clients blocked on each of `keys` (see `serve_blocked`).
    pub(crate) fn serve_ready(&self, ctx: &mut Ctx, keys: &[(usize, Vec<u8>)]) {
        for (i, (db, key)) in keys.iter().enumerate() {
            if keys[..i].iter().any(|(d, k)| d == db && k == key) {
                continue;
            }
            self.serve_blocked(ctx, *db, key);
        }
    }

    /// Serves clients blocked on `key` in arrival order, inside the current
    /// command's locks, for as long as the key has something for them.
    fn serve_blocked(&self, ctx: &mut Ctx, db: usize, key: &[u8]) {
        if !ctx.holds(key, true) {
            return;
        }
        while let Some(w) = self.blocking.claim_first(db, key) {
            // Not served while the key holds another type than it waits for
            // (Redis's rule): a list replaced by a string inside MULTI wakes
            // nobody. A missing key is left to the command (XREADGROUP fails).
            if ctx
                .peek_in(db, key)
                .is_some_and(|v| !waits_for(w.spec.name, v))
            {
                self.blocking.release(&w);
                return;
            }
            // Every key the waiter's command writes besides the ready one must be held.
            let argv: Vec<&[u8]> = w.argv.iter().map(|a| a.as_slice()).collect();
            let others_held = w.spec.key_positions(&argv).iter().all(|&i| {
                argv[i] == key
                    || w.keys().iter().any(|k| k.as_slice() == argv[i])
                    || ctx.holds(argv[i], true)
            });
            if !others_held {
                // It runs its command again on its own thread, taking every
                // lock it needs; the waiters behind it stay queued until that
                // rerun is done (`commands::run` serves them then), so they
                // are served in arrival order, as Redis does.
                self.blocking
                    .finish(&w, Reply::Error(crate::blocking::RETRY.into()));
                // (this client answers once that rerun is done: `execute_with`)
                ctx.cl.retried.push(w);
                return;
            }
            let (saved_db, saved_nb, saved_ready) = (ctx.db, ctx.no_block, ctx.ready_key.take());
            ctx.db = db;
            ctx.no_block = true;
            ctx.ready_key = Some(key.to_vec());
            let reply = crate::commands::call(ctx, w.spec, &argv);
            ctx.db = saved_db;
            ctx.no_block = saved_nb;
            ctx.ready_key = saved_ready;
            if matches!(reply, Reply::Nil | Reply::NilArray) {
                self.blocking.release(&w);
                return;
            }
            // (its call is counted: it ran in this Ctx)
            w.counted.store(true, Ordering::Relaxed);
            self.blocking.finish(&w, reply);
        }
    }

    /// Raises the WATCH flag of every client watching a modified key.
    fn signal_watchers(&self, keys: &[(usize, Vec<u8>)]) {
        let reg = self.watches.lock();
        let raise = |list: &Vec<Weak<WatchState>>| {
            for w in list {
                if let Some(w) = w.upgrade() {
                    w.dirty.store(true, Ordering::Release);
                }
            }
        };
        for (db, key) in keys {
            // Avoid a clone for the lookup key: entries are few; scan when needed.
            if let Some(list) = reg.get(&(*db, key.clone())) {
                raise(list);
            }
        }
    }

    /// One active-expiry pass: deletes every key whose deadline passed,
    /// a shard at a time, spending at most `budget` per shard.
    pub fn active_expire(&self, budget: Duration) {
        if self.hooks.pause.holds_expiry(self) {
            return;
        }
        let mut cl = ClientState::internal();
        for shard in 0..self.ks.shards.len() {
            let mut ctx = Ctx::new(self, &mut cl);
            ctx.lock(1 << shard, true);
            let start = Instant::now();
            'dbs: for db in 0..self.ks.ndbs {
                loop {
                    let due = ctx
                        .parts(db)
                        .find(|(i, _)| *i == shard)
                        .and_then(|(_, p)| p.first_due(ctx.now()).map(|(_, k)| k.to_vec()));
                    let Some(key) = due else { break };
                    ctx.expire_if_needed(db, &key);
                    if start.elapsed() > budget {
                        break 'dbs;
                    }
                }
            }
            ctx.dirty = 0; // only the DELs propagate
            self.aof.capture(&mut ctx, &[]);
            // appended under the shard lock; nobody waits for the fsync
            let _ = self.aof.commit(&mut ctx);
            self.flush_effects(&mut ctx);
        }
    }

    fn hz(&self) -> u64 {
        (self.params.tun(Tun::Hz).clamp(1, 500)) as u64
    }
}

/// The engine handle. Cheap to clone; every clone is the same engine.
/// Many threads may call it at once; every command is atomic.
#[derive(Clone)]
pub struct Db {
    /// Present on user handles: the last one dropped closes the engine.
    /// Declared first so it drops first, while `eng` still keeps the engine alive.
    _owner: Arc<Owner>,
    eng: Arc<Engine>,
}

/// Closes the engine when the last user handle goes.
struct Owner(Weak<Engine>);

impl Drop for Owner {
    fn drop(&mut self) {
        if let Some(eng) = self.0.upgrade()
            && let Err(e) = shutdown(&eng)
        {
            eprintln!("emberkv: closing: {e}");
        }
    }
}

fn shutdown(eng: &Engine) -> Result<(), Error> {
    if eng.closed.swap(true, Ordering::AcqRel) {
        return Ok(());
    }
    eng.blocking
        .unblock_all(Reply::error("ERR the database is closed"));
    eng.pubsub.close_all();
    {
        let (lock, cv) = &eng.bg_wake;
        *lock.lock() = true;
        cv.notify_all();
    }
    let handle = eng.bg_thread.lock().take();
    if let Some(h) = handle
        && h.thread().id() != std::thread::current().id()
    {
        let _ = h.join();
    }
    // as Redis's SHUTDOWN: stop a background save, save when save points
    // are configured, then flush the AOF
    let saved = eng.rdb.close(eng);
    let flushed = eng.aof.close(eng);
    saved.and(flushed)
}

impl Db {
    /// Opens an engine with `cfg`.
    pub fn open(cfg: Config) -> Result<Db, Error> {
        let eng = Arc::new(Engine::new(&cfg)?);
        let _ = eng.me.set(Arc::downgrade(&eng));
        if let Some(f) = eng.params.get("aclfile").filter(|f| !f.is_empty()) {
            crate::acl::load_file(&eng, &f).map_err(|e| Error::new(ErrorKind::Config, e))?;
        }
        if !cfg.appendonly {
            // the dump is loaded when there is no AOF to load (as Redis)
            eng.rdb.load_at_open(&eng)?;
        }
        eng.aof.open(&eng, &cfg)?;
        let weak = Arc::downgrade(&eng);
        let handle = std::thread::Builder::new()
            .name("emberkv-cron".into())
            .spawn(move || background(weak))
            .map_err(|e| {
                let _ = eng.aof.close(&eng);
                Error::new(
                    ErrorKind::Io,
                    format!("cannot start the background thread: {e}"),
                )
            })?;
        *eng.bg_thread.lock() = Some(handle);
        let owner = Arc::new(Owner(Arc::downgrade(&eng)));
        Ok(Db { eng, _owner: owner })
    }

    /// An in-memory engine with default settings.
    pub fn in_memory() -> Db {
        Db::open(Config::default()).expect("the default configuration is valid")
    }

    /// A new client (connection state: selected database, protocol, MULTI, …).
    pub fn client(&self) -> Client {
        Client::new(self.eng.clone())
    }

    /// Runs one command on a fresh default client (database 0, RESP2).
    pub fn execute<A: AsRef<[u8]>>(&self, argv: &[A]) -> Reply {
        let mut st = ClientState::internal();
        crate::client::execute_with(&self.eng, &mut st, argv)
    }

    /// Flushes and stops background work. Later calls on any handle fail
    /// with a closed error. With a data directory and save points (`save`,
    /// by default Redis's "3600 1 300 100 60 10000"; `save ""` turns them
    /// off) the RDB dump is written first, as Redis's SHUTDOWN does; an
    /// error doing so is returned, but the engine is closed all the same.
    pub fn close(&self) -> Result<(), Error> {
        shutdown(&self.eng)
    }

    /// Rewrites the append-only file now (as BGREWRITEAOF, but waits for the
    /// new base to be in place). With `appendonly no` it writes a base only,
    /// as Redis does. Fails without a data directory.
    pub fn rewrite_aof(&self) -> Result<(), Error> {
        crate::persist::aof::rewrite::run_and_wait(&self.eng)
    }

    pub fn is_closed(&self) -> bool {
        self.eng.is_closed()
    }

    /// Writes the RDB dump (`dir/dbfilename`) now, as SAVE: readers go on,
    /// writers wait until the file is complete. Fails without a data
    /// directory.
    pub fn save(&self) -> Result<(), Error> {
        self.eng
            .rdb
            .save_sync(&self.eng)
            .map_err(|e| Error::new(ErrorKind::Io, e.trim_start_matches("ERR ").to_string()))
    }

    /// Writes the RDB dump from a point-in-time snapshot, as BGSAVE, and
    /// waits until it is in place. Writers keep going meanwhile (each
    /// blocked at most for one shard copy). Waits first for a background
    /// save or AOF rewrite already running.
    pub fn bgsave(&self) -> Result<(), Error> {
        self.eng.rdb.bgsave_and_wait(&self.eng)
    }

    /// For wire front ends: counts a connection refused before it became a
    /// client (maxclients, protected mode), INFO stats `rejected_connections`.
    pub fn note_rejected_connection(&self) {
        self.eng
            .stats
            .rejected_connections
            .fetch_add(1, Ordering::Relaxed);
    }

    /// The current value of a configuration parameter (a redis.conf
    /// directive name, as CONFIG GET shows it), without running a command.
    pub fn config_get(&self, name: &str) -> Option<String> {
        let spec = crate::config::find(name)?;
        self.eng.params.get(spec.name)
    }

    /// Changes whenever any parameter changes (CONFIG SET): front ends that
    /// cache parameters compare it before reusing their copy.
    pub fn config_version(&self) -> u64 {
        self.eng.params.version()
    }

    /// Clients currently open on this engine, embedded and network alike
    /// (INFO `connected_clients`; what `maxclients` limits).
    pub fn client_count(&self) -> usize {
        self.eng.clients.lock().len()
    }

    /// A new, empty subscription; add channels with its methods. Messages
    /// (and subscribe confirmations) arrive in order through `recv` or a
    /// callback.
    pub fn subscribe(&self) -> Subscription {
        Subscription::new(self.eng.pubsub.clone(), self.eng.params.pubsub_limits())
    }
}

fn background(weak: Weak<Engine>) {
    loop {
        let Some(eng) = weak.upgrade() else { return };
        if eng.is_closed() {
            return;
        }
        let period = Duration::from_millis(1000 / eng.hz());
        eng.coarse_ms.store(eng.clock.now_ms(), Ordering::Relaxed);
        eng.active_expire(Duration::from_millis(25));
        if eng.hooks.active() & crate::hooks::TRACKING != 0 {
            crate::tracking::limit(&eng);
        }
        if eng.params.tun(Tun::Maxmemory) != 0 {
            // goes on with evictions a command's time budget cut short
            crate::evict::perform(&eng);
        }
        eng.aof.cron(&eng);
        eng.rdb.cron(&eng);
        let (lock, cv) = &eng.bg_wake;
        let mut stop = lock.lock();
        if !*stop {
            cv.wait_for(&mut stop, period);
        }
        if *stop {
            return;
        }
    }
}

/// Whether a blocked command named `name` can be served from value `v`.
fn waits_for(name: &str, v: &crate::types::Value) -> bool {
    use crate::types::Value;
    match name {
        "blpop" | "brpop" | "blmove" | "brpoplpush" | "blmpop" => matches!(v, Value::List(_)),
        "bzpopmin" | "bzpopmax" | "bzmpop" => matches!(v, Value::Zset(_)),
        "xread" => matches!(v, Value::Stream(_)),
        // XREADGROUP runs and learns its stream is gone or changed (an error)
        _ => true,
    }
}
