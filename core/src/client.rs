//! `Client`: one connection's state — selected database, protocol version,
//! name, MULTI queue, WATCHed keys — and the entry point `execute`.
//!
//! A Client belongs to one thread at a time (`&mut self`); share the `Db`,
//! not the Client. Per-client counters are plain integers flushed into the
//! engine's statistics in batches, so busy threads never contend on them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::commands::{self, CommandSpec};
use crate::db::Engine;
use crate::error::{Error, ErrorKind};
use crate::reply::Reply;

/// Called by CLIENT KILL for a client a wire front end registered (`Client::on_kill`).
pub(crate) type KillHook = Arc<dyn Fn() + Send + Sync>;

/// What CLIENT LIST / CLIENT INFO show of a client, shared with the engine.
#[derive(Default)]
pub(crate) struct ClientInfo {
    pub id: u64,
    pub created_ms: u64,
    pub meta: Mutex<ClientMeta>,
    /// The last command run or refused (CLIENT LIST `cmd`): its
    /// `cmdstats::index_of` + 1, 0 for none (unknown command). An atomic the
    /// client's own thread stores into, so recording it takes no lock.
    pub last_cmd: AtomicU32,
    /// When that command came, from the engine's coarse clock (`idle`).
    pub last_ms: AtomicU64,
    /// Present for network clients: closes the connection (CLIENT KILL).
    pub kill: Mutex<Option<KillHook>>,
    /// MONITOR lines and tracking invalidations for this client, made on
    /// first use.
    pub push: std::sync::OnceLock<Arc<crate::push::Outbox>>,
    /// Waiting in a blocking command (CLIENT LIST `flags=b`, `BlockProbe`).
    pub blocked: AtomicBool,
    /// Its subscription, once it subscribed (ACL changes check its channels).
    pub sub: std::sync::OnceLock<std::sync::Weak<crate::pubsub::Subscriber>>,
}

impl ClientInfo {
    pub fn outbox(&self) -> &Arc<crate::push::Outbox> {
        self.push.get_or_init(Default::default)
    }
}

#[derive(Debug, Default, Clone)]
pub(crate) struct ClientMeta {
    pub name: Vec<u8>,
    pub lib_name: Vec<u8>,
    pub lib_ver: Vec<u8>,
    pub db: usize,
    pub resp: u8,
    /// Peer and local address of a network client (`Client::set_peer`);
    /// empty for embedded clients, shown as `embedded`.
    pub addr: String,
    pub laddr: String,
    pub fd: i64,
    /// Channels, patterns and shard channels subscribed (CLIENT LIST sub/psub/ssub).
    pub subs: [usize; 3],
    /// The user AUTH chose (CLIENT LIST `user`); empty: `default`.
    pub user: Vec<u8>,
}

impl ClientMeta {
    /// The user's name for CLIENT LIST and CLIENT KILL USER.
    pub fn user_name(&self) -> &[u8] {
        if self.user.is_empty() {
            b"default"
        } else {
            &self.user
        }
    }
}

/// A client's WATCHed keys: (db, key, expired when watched), and the flag
/// any modification raises.
#[derive(Default)]
pub(crate) struct WatchState {
    pub dirty: AtomicBool,
    pub keys: Mutex<Vec<(usize, Vec<u8>, bool)>>,
}

pub(crate) struct ClientState {
    pub id: u64,
    /// The previous command's spelling, spec and `cmdstats` index: repeated
    /// commands skip the table lookup.
    pub last_command: Option<(&'static str, &'static CommandSpec, u16)>,
    /// The client's own subscription (SUBSCRIBE through execute).
    pub sub: Option<crate::pubsub::Subscription>,
    pub multi: Option<crate::commands::tx::Multi>,
    pub watch: Option<Arc<WatchState>>,
    pub db: usize,
    /// 2 or 3 (HELLO).
    pub resp: u8,
    /// Registered with the engine (CLIENT LIST); internal clients are not.
    pub info: Option<Arc<ClientInfo>>,
    /// A network client: must AUTH when `requirepass` is set (`Client::require_auth`).
    pub auth_required: bool,
    /// False until AUTH / HELLO AUTH succeeds, for clients that need it.
    pub authenticated: bool,
    /// The client's user; `None` for the engine's own clients (no checks).
    pub user: Option<Arc<crate::acl::User>>,
    /// The ACL epoch at which the user was found unrestricted, `u64::MAX`
    /// while restricted: the command path checks only when it differs from
    /// the engine's (`acl.rs`).
    pub acl_seen: u64,
    /// The ACL epoch at which `user` was last looked up again.
    pub acl_refreshed: u64,
    // counters not yet flushed into the engine
    calls: u64,
    hits: u64,
    misses: u64,
    failed: u64,
    rejected: u64,
    net_in: u64,
    net_out: u64,
    /// Per-command counts not yet flushed (INFO commandstats).
    pub cmd_stats: crate::cmdstats::PendingStats,
    /// Used memory was over `maxmemory` (and nothing evictable) when the
    /// current command started: a script's first denyoom write is refused.
    pub oom_at_start: bool,
    /// The running command's error reply is already in INFO errorstats (a
    /// script's error raised by a failed `redis.call`): `after_command`
    /// does not count it again.
    pub error_counted: bool,
    /// What the running command recorded besides its reply (see
    /// `commands::ctx::Effects`): kept here so its buffers are reused.
    pub fx: crate::commands::ctx::Effects,
    /// Blocked clients this client's writes told to run their command again
    /// (`blocking::RETRY`): it answers once they have (`execute_with`).
    pub retried: Vec<Arc<crate::blocking::Waiter>>,
    /// Running its blocked command again after a `RETRY`: the waiter its
    /// writer waits on (`Blocking::rerun_done`).
    pub rerunning: Option<Arc<crate::blocking::Waiter>>,
}

const FLUSH_EVERY: u64 = 256;

impl ClientState {
    /// A client the engine uses itself (Db::execute, background work).
    pub fn internal() -> ClientState {
        ClientState {
            id: 0,
            last_command: None,
            sub: None,
            multi: None,
            watch: None,
            db: 0,
            resp: 2,
            info: None,
            auth_required: false,
            authenticated: true,
            user: None,
            acl_seen: 0,
            acl_refreshed: 0,
            calls: 0,
            hits: 0,
            misses: 0,
            failed: 0,
            rejected: 0,
            net_in: 0,
            net_out: 0,
            cmd_stats: Default::default(),
            oom_at_start: false,
            error_counted: false,
            fx: Default::default(),
            retried: Vec::new(),
            rerunning: None,
        }
    }

    /// Whether this client passes without AUTH given the current `requirepass`.
    pub fn auth_satisfied(&self, eng: &Engine) -> bool {
        !self.auth_required || crate::acl::default_open(eng)
    }

    pub fn note_call(&mut self, hits: u64, misses: u64, failed: bool) {
        self.calls += 1;
        self.hits += hits;
        self.misses += misses;
        self.failed += failed as u64;
    }

    pub fn due_flush(&self) -> bool {
        self.calls + self.rejected >= FLUSH_EVERY || self.info.is_none() || self.cmd_stats.len() > 8
    }

    /// Whether this call of a fast command is one of the timed samples
    /// (`cmdstats::SAMPLE_EVERY`).
    #[inline]
    pub fn sample_due(&self) -> bool {
        self.calls.is_multiple_of(crate::cmdstats::SAMPLE_EVERY)
    }

    /// Records the command about to run (CLIENT LIST `cmd` and `idle`).
    #[inline]
    pub fn note_command(&self, eng: &Engine, idx: Option<u16>) {
        if let Some(info) = &self.info {
            info.last_cmd
                .store(idx.map_or(0, |i| i as u32 + 1), Ordering::Relaxed);
            info.last_ms.store(eng.coarse_ms(), Ordering::Relaxed);
        }
    }

    /// Moves the local counters into the engine's statistics.
    pub fn flush_stats(&mut self, eng: &Engine) {
        let s = &eng.stats;
        for (local, global) in [
            (&mut self.calls, &s.total_commands),
            (&mut self.hits, &s.keyspace_hits),
            (&mut self.misses, &s.keyspace_misses),
            (&mut self.failed, &s.failed_calls),
            (&mut self.rejected, &s.rejected_calls),
            (&mut self.net_in, &s.net_input_bytes),
            (&mut self.net_out, &s.net_output_bytes),
        ] {
            if *local > 0 {
                global.fetch_add(*local, Ordering::Relaxed);
                *local = 0;
            }
        }
        if !self.cmd_stats.is_empty() {
            self.cmd_stats.flush(&eng.cmdstats);
        }
    }

    /// In RESP2 subscribed mode (SUBSCRIBE through execute).
    pub fn subscribed(&self) -> bool {
        self.sub.as_ref().is_some_and(|s| s.channel_count() > 0)
    }

    /// Hook before normal execution: subscribed-mode restrictions and MULTI
    /// queueing. `Some` is the reply instead of running the command.
    #[inline]
    pub fn intercept(
        &mut self,
        eng: &Engine,
        spec: &'static CommandSpec,
        argv: &[&[u8]],
    ) -> Option<Reply> {
        if self.multi.is_none() && (self.resp != 2 || self.sub.is_none()) && eng.hooks.active() == 0
        {
            return None;
        }
        self.intercept_slow(eng, spec, argv)
    }

    #[inline(never)]
    fn intercept_slow(
        &mut self,
        eng: &Engine,
        spec: &'static CommandSpec,
        argv: &[&[u8]],
    ) -> Option<Reply> {
        use crate::commands::flag;
        // MONITOR, CLIENT PAUSE, CLIENT TRACKING (`hooks.rs`): a paused
        // command waits here, before MULTI queueing, as in Redis
        if eng.hooks.active() != 0 {
            crate::hooks::before_run(eng, self, spec, argv);
        }
        if self.resp == 2 && spec.flags & flag::PUBSUB_CTX == 0 && self.subscribed() {
            return Some(Reply::Error(format!(
                "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                spec.name
            )));
        }
        let multi = self.multi.as_mut()?;
        if crate::commands::tx::runs_in_multi(spec.name) {
            return None;
        }
        if spec.flags & flag::NO_MULTI != 0 {
            multi.error = true;
            return Some(Reply::error("ERR Command not allowed inside a transaction"));
        }
        multi
            .queue
            .push((spec, argv.iter().map(|a| a.to_vec()).collect()));
        Some(Reply::simple("QUEUED"))
    }

    /// A command was refused before running (unknown, arity, NOAUTH, …) with
    /// `err`: inside MULTI that aborts the transaction. `idx`: the command's
    /// `cmdstats` index when it is known.
    pub fn note_refused(&mut self, eng: &Engine, idx: Option<u16>, err: &Reply) {
        self.rejected += 1;
        if let Some(i) = idx {
            self.cmd_stats.rejected(i);
        }
        if let Reply::Error(e) = err {
            eng.cmdstats.error_reply(e);
        }
        if let Some(m) = self.multi.as_mut() {
            m.error = true;
        }
    }

    /// Updates the shared metadata (CLIENT LIST) after SELECT / HELLO / SETNAME.
    pub fn sync_meta(&self, f: impl FnOnce(&mut ClientMeta)) {
        if let Some(info) = &self.info {
            f(&mut info.meta.lock());
        }
    }
}

/// See `Client::block_probe`.
#[derive(Clone)]
pub struct BlockProbe(Option<Arc<ClientInfo>>);

impl BlockProbe {
    /// The client waits in a blocking command (registered behind its keys).
    pub fn blocked(&self) -> bool {
        self.0
            .as_ref()
            .is_some_and(|i| i.blocked.load(Ordering::Acquire))
    }
}

/// One connection to a `Db`.
pub struct Client {
    eng: Arc<Engine>,
    st: ClientState,
}

impl Client {
    pub(crate) fn new(eng: Arc<Engine>) -> Client {
        let id = eng.next_client_id();
        let info = Arc::new(ClientInfo {
            id,
            created_ms: eng.clock.now_ms(),
            last_cmd: AtomicU32::new(0),
            last_ms: AtomicU64::new(eng.coarse_ms()),
            meta: Mutex::new(ClientMeta {
                resp: 2,
                fd: -1,
                ..Default::default()
            }),
            kill: Mutex::new(None),
            push: Default::default(),
            blocked: AtomicBool::new(false),
            sub: Default::default(),
        });
        eng.clients.lock().insert(id, info.clone());
        eng.stats.total_connections.fetch_add(1, Ordering::Relaxed);
        let st = ClientState {
            id,
            info: Some(info),
            user: Some(eng.acl.default_user()),
            ..ClientState::internal()
        };
        Client { eng, st }
    }

    /// Runs one command: `argv[0]` is the command name. Command errors are
    /// `Reply::Error`; a closed engine answers with an error reply too (use
    /// `try_execute` to tell them apart).
    pub fn execute<A: AsRef<[u8]>>(&mut self, argv: &[A]) -> Reply {
        execute_with(&self.eng, &mut self.st, argv)
    }

    /// Like `execute`, but a closed engine is `Err`.
    pub fn try_execute<A: AsRef<[u8]>>(&mut self, argv: &[A]) -> Result<Reply, Error> {
        if self.eng.is_closed() {
            return Err(closed());
        }
        Ok(self.execute(argv))
    }

    /// `execute` for arguments already borrowed as byte slices (what a
    /// foreign caller's `argv` becomes): no conversion, no second copy of
    /// the argument list.
    #[inline]
    pub fn execute_slices(&mut self, argv: &[&[u8]]) -> Reply {
        if self.eng.is_closed() {
            return closed_reply();
        }
        dispatch_slices(&self.eng, &mut self.st, argv)
    }

    /// Whether a CLIENT PAUSE in force would make this client's command
    /// wait now (`head`: its name and first argument). A front end that
    /// serves many connections on one thread runs such a command on a
    /// thread of its own. One load when nothing is paused.
    #[inline]
    pub fn held_by_pause(&self, head: &[&[u8]]) -> bool {
        self.eng.hooks.active() & crate::hooks::PAUSE != 0
            && crate::pause::would_hold(&self.eng, &self.st, head)
    }

    /// Whether the database was closed (`Db::close`): `execute` then answers
    /// every command with an error and `try_execute` fails.
    #[inline]
    pub fn is_closed(&self) -> bool {
        self.eng.is_closed()
    }

    /// A handle another thread can ask whether this client is waiting in a
    /// blocking command (BLPOP and the like) — e.g. a server that hands the
    /// connection to a thread of its own and must not serve the next
    /// connection before this one is queued behind the key.
    pub fn block_probe(&self) -> BlockProbe {
        BlockProbe(self.st.info.clone())
    }

    /// This client's id (CLIENT ID).
    pub fn id(&self) -> u64 {
        self.st.id
    }

    /// The protocol version HELLO selected (2 or 3).
    pub fn protocol(&self) -> u8 {
        self.st.resp
    }

    /// Inside MULTI: commands are queued until EXEC.
    pub fn in_multi(&self) -> bool {
        self.st.multi.is_some()
    }

    /// The selected database.
    pub fn selected_db(&self) -> usize {
        self.st.db
    }

    /// The subscription SUBSCRIBE / PSUBSCRIBE through `execute` created:
    /// published messages for this client arrive here.
    pub fn subscription(&self) -> Option<&crate::pubsub::Subscription> {
        self.st.sub.as_ref()
    }

    // For wire front ends (the RESP server in `bindings/resp`): what only the
    // owner of a socket knows. Embedded clients never need these.

    /// Records the peer and local address (`ip:port`, or a Unix socket path)
    /// and the socket's descriptor, shown by CLIENT LIST / CLIENT INFO and
    /// matched by CLIENT KILL ADDR / LADDR.
    pub fn set_peer(&mut self, addr: &str, laddr: &str, fd: i64) {
        self.st.sync_meta(|m| {
            m.addr = addr.to_string();
            m.laddr = laddr.to_string();
            m.fd = fd;
        });
    }

    /// Registers what CLIENT KILL does to this client: close its connection.
    /// It is called on the killing client's thread (which may be this
    /// client's own: CLIENT KILL of itself closes after the reply), outside
    /// every keyspace lock; a client blocked in BLPOP & co. is also woken.
    pub fn on_kill(&mut self, f: impl Fn() + Send + Sync + 'static) {
        if let Some(info) = &self.st.info {
            *info.kill.lock() = Some(Arc::new(f));
        }
    }

    /// Makes this client subject to `requirepass`: when a password is set,
    /// every command but AUTH, HELLO and RESET answers `NOAUTH` until AUTH
    /// (or HELLO … AUTH) succeeds. Network clients call it once, at accept.
    pub fn require_auth(&mut self) {
        self.st.auth_required = true;
        self.st.authenticated = self.st.auth_satisfied(&self.eng);
    }

    /// False while a `require_auth` client has not authenticated.
    pub fn authenticated(&self) -> bool {
        self.st.authenticated || self.st.auth_satisfied(&self.eng)
    }

    /// The next MONITOR line (`Reply::Simple`) or CLIENT TRACKING message
    /// (`Reply::Push`: `invalidate`, `tracking-redir-broken`, or for a RESP2
    /// client a `message` on `__redis__:invalidate`) queued for this client,
    /// if any. A wire front end writes them after each reply and whenever
    /// the waker rings; an embedded caller polls.
    pub fn try_recv_push(&self) -> Option<Reply> {
        self.st.info.as_ref()?.push.get()?.try_recv(false)
    }

    /// `try_recv_push`, but only what goes before the reply of the command
    /// just run (what other clients and the engine sent; the invalidations
    /// the command itself caused come after its reply, as in Redis).
    pub fn try_recv_push_before_reply(&self) -> Option<Reply> {
        self.st.info.as_ref()?.push.get()?.try_recv(true)
    }

    /// Whether pushes may arrive for this client (it ran MONITOR or CLIENT
    /// TRACKING, or is a redirect target: see `set_push_waker`).
    pub fn pushes_enabled(&self) -> bool {
        self.st
            .info
            .as_ref()
            .is_some_and(|i| i.push.get().is_some())
    }

    /// Pushes queued for this client were dropped because they were not
    /// taken fast enough (256 MB pending): the connection should close.
    pub fn pushes_overflowed(&self) -> bool {
        self.st
            .info
            .as_ref()
            .and_then(|i| i.push.get())
            .is_some_and(|o| o.overflowed())
    }

    /// Called (on the producing thread, inside its locks: do not block)
    /// whenever a push is queued for this client.
    pub fn set_push_waker(&self, f: impl Fn() + Send + Sync + 'static) {
        if let Some(info) = &self.st.info {
            info.outbox().set_waker(Arc::new(f));
        }
    }

    /// Adds bytes read from and written to the network (INFO stats
    /// `total_net_input_bytes` / `total_net_output_bytes`).
    pub fn count_net(&mut self, input: u64, output: u64) {
        self.st.net_in += input;
        self.st.net_out += output;
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.detach();
    }
}

impl Client {
    /// Ends this client's presence in the engine now rather than when it is
    /// dropped: it leaves CLIENT LIST, its WATCHes, MONITOR and tracking
    /// (a tracking client redirecting to it sees the redirect broken). A
    /// wire front end calls it as soon as a connection ends, before any
    /// lingering on the socket. Running commands afterwards is a mistake
    /// (they still run, unregistered).
    pub fn detach(&mut self) {
        let Some(info) = self.st.info.take() else {
            return;
        };
        crate::commands::tx::unwatch_all(&self.eng, &mut self.st);
        if info.push.get().is_some() {
            self.eng.hooks.monitors.remove(&self.eng, self.st.id);
            self.eng.hooks.tracking.disable(&self.eng, self.st.id);
        }
        self.st.flush_stats(&self.eng);
        self.eng.clients.lock().remove(&self.st.id);
    }
}

/// Converts argv without allocating for short commands, then dispatches.
pub(crate) fn execute_with<A: AsRef<[u8]>>(
    eng: &Engine,
    st: &mut ClientState,
    argv: &[A],
) -> Reply {
    if eng.is_closed() {
        return closed_reply();
    }
    const N: usize = 8;
    if argv.len() <= N {
        let mut buf = [std::mem::MaybeUninit::<&[u8]>::uninit(); N];
        for (d, a) in buf.iter_mut().zip(argv) {
            d.write(a.as_ref());
        }
        // SAFETY: the first argv.len() elements were written just above.
        let args = unsafe {
            std::mem::transmute::<&[std::mem::MaybeUninit<&[u8]>], &[&[u8]]>(&buf[..argv.len()])
        };
        dispatch_slices(eng, st, args)
    } else {
        let v: Vec<&[u8]> = argv.iter().map(|a| a.as_ref()).collect();
        dispatch_slices(eng, st, &v)
    }
}

/// A write served a blocked client that needed locks the writer did not
/// hold; that client runs its command again on its own thread. As in Redis,
/// where a blocked client is served before the next command runs, the
/// writer's reply waits for that (bounded: a stuck rerun never holds it).
#[cold]
#[inline(never)]
pub(crate) fn await_reruns(eng: &Engine, st: &mut ClientState) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    for w in st.retried.drain(..) {
        eng.blocking.await_rerun(&w, deadline);
    }
}

/// Dispatches borrowed arguments (the engine is open).
#[inline]
fn dispatch_slices(eng: &Engine, st: &mut ClientState, argv: &[&[u8]]) -> Reply {
    let reply = commands::dispatch(eng, st, argv);
    flush_due_stats(eng, st);
    if !st.retried.is_empty() {
        await_reruns(eng, st);
    }
    reply
}

#[inline]
fn flush_due_stats(eng: &Engine, st: &mut ClientState) {
    if st.due_flush() {
        st.flush_stats(eng);
    }
}

#[cold]
fn closed_reply() -> Reply {
    Reply::error("ERR the database is closed")
}

#[cold]
fn closed() -> Error {
    Error::new(ErrorKind::Closed, "the database is closed")
}
