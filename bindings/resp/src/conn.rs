//! One connection: reads requests, runs them on its own `emberkv::Client`,
//! and writes the replies. A connection lives in one of two modes:
//! - on an event loop (`evloop.rs`), non-blocking, sharing a thread with
//!   other connections: the common case, and the fast one (no thread
//!   wake-up per request);
//! - on its own thread, once it runs a command that may block (BLPOP & co.,
//!   DEBUG; the loop hands it over before running that command) or has
//!   subscribed (after the confirmation); it stays there.
//!
//! Rules for whoever changes this:
//! - Every complete command in the read buffer runs before anything is
//!   written; replies of a batch leave in one `send` (pipelining).
//! - Output not taken by the kernel stays in `ConnShared::out`, the one
//!   output buffer of the connection, while the thread goes on reading (a
//!   client that writes a long pipeline before reading never deadlocks). It
//!   is bounded by `client-output-buffer-limit` (normal or pubsub class):
//!   over the hard limit, or over the soft one for its seconds, the
//!   connection is closed.
//! - Pub/sub messages are taken from the client's subscription by this
//!   thread itself (`try_recv`), woken by the subscription's waker through a
//!   doorbell socket. Messages are drained before each batch of commands: a
//!   message published before the client sent a command reaches the wire
//!   before that command's reply (as in Redis, where PUBLISH writes it
//!   synchronously), and a (un)subscribe confirmation, answered directly,
//!   precedes every message it enables.
//! - Engine semantics stay in the engine: this file frames, converts and
//!   keeps connection state (reply mode, close-after-reply), nothing else.

use std::cell::Cell;
use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering, fence};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use emberkv::{Client, Reply};
use parking_lot::Mutex;

use crate::parse::{Args, Limits, Parser};
use crate::server::Shared;
use crate::settings::{BufLimit, Settings};
use crate::sock::Sock;
use crate::{ShutdownHook, ShutdownRequest};

/// Reads are at least this large; replies are handed to the kernel once a
/// batch's output reaches it.
const CHUNK: usize = 16 * 1024;
const FLUSH_AT: usize = 64 * 1024;

/// Pending output of a connection.
#[derive(Default)]
pub(crate) struct Out {
    buf: Vec<u8>,
    sent: usize,
    soft_since: Option<Instant>,
    /// Writing failed or a limit was passed: nothing more is queued.
    dead: bool,
}

impl Out {
    pub fn pending(&self) -> usize {
        self.buf.len() - self.sent
    }

    /// Appends `data` (emptying it), swapping buffers when nothing is pending.
    fn take_from(&mut self, data: &mut Vec<u8>) {
        if self.pending() == 0 {
            self.buf.clear();
            self.sent = 0;
            std::mem::swap(&mut self.buf, data);
        } else {
            self.buf.extend_from_slice(data);
            data.clear();
        }
    }

    /// Hands what the kernel takes without blocking. Err: the connection is gone.
    fn flush(&mut self, sock: &Sock) -> std::io::Result<()> {
        while self.sent < self.buf.len() {
            let n = sock.try_send(&self.buf[self.sent..])?;
            if n == 0 {
                break;
            }
            self.sent += n;
        }
        if self.sent == self.buf.len() {
            self.buf.clear();
            self.sent = 0;
            if self.buf.capacity() > 1 << 20 {
                self.buf.shrink_to(FLUSH_AT);
            }
        } else if self.sent > self.buf.len() / 2 {
            self.buf.drain(..self.sent);
            self.sent = 0;
        }
        Ok(())
    }

    /// Redis's client-output-buffer-limit rule for one class.
    fn over(&mut self, lim: BufLimit) -> bool {
        let p = self.pending() as u64;
        if lim.hard > 0 && p > lim.hard {
            return true;
        }
        if lim.soft > 0 && p > lim.soft {
            let since = *self.soft_since.get_or_insert_with(Instant::now);
            return since.elapsed() >= Duration::from_secs(lim.soft_secs);
        }
        self.soft_since = None;
        false
    }
}

/// The part of a connection other threads see: the listener (CLIENT KILL,
/// timeouts, close), the pub/sub callback, the cron thread.
pub(crate) struct ConnShared {
    pub client_id: u64,
    pub sock: Sock,
    pub out: Mutex<Out>,
    /// Close as soon as possible, without flushing.
    pub killed: AtomicBool,
    /// CLIENT KILL of itself: close after this batch's replies.
    close_after_reply: AtomicBool,
    /// Milliseconds since the listener started: last input.
    pub last_input_ms: AtomicU64,
    /// Since when a command is running (ms + 1), 0 when none: blocked clients.
    pub busy_since_ms: AtomicU64,
    pub subscribed: AtomicBool,
    /// Off the loop, the connection thread has run the commands the loop
    /// handed over (`evloop::wait_settled`; see also `Client::block_probe`).
    pub settled: AtomicBool,
    /// Doorbell (reader, writer) rung by the subscription's waker; made
    /// when the connection first subscribes.
    bell: OnceLock<(UnixStream, UnixStream)>,
    /// The connection thread is (about to be) asleep in poll: ring.
    sleeping: AtomicBool,
    pub listener: Arc<Shared>,
}

thread_local! {
    /// The client whose command this thread is running (CLIENT KILL of itself).
    static RUNNING: Cell<u64> = const { Cell::new(0) };
}

impl ConnShared {
    /// Closes the connection from another thread (or marks the running
    /// command's own connection to close after its reply).
    pub fn kill(&self) {
        if RUNNING.with(|r| r.get()) == self.client_id {
            self.close_after_reply.store(true, Ordering::Release);
            return;
        }
        self.killed.store(true, Ordering::Release);
        self.sock.shutdown(Shutdown::Both);
    }

    fn limit(&self, s: &Settings) -> BufLimit {
        if self.subscribed.load(Ordering::Relaxed) {
            s.pubsub
        } else {
            s.normal
        }
    }

    /// Flushes pending output without blocking and applies the limits
    /// (cron, callbacks). Returns false if the connection was closed.
    pub fn flush_pending(&self, s: &Settings) -> bool {
        let mut o = self.out.lock();
        if o.dead {
            return false;
        }
        let failed = o.flush(&self.sock).is_err();
        if failed || o.over(self.limit(s)) {
            o.dead = true;
            drop(o);
            self.kill();
            return false;
        }
        true
    }

    /// The subscription's waker (publishing thread): wakes the connection
    /// thread if it sleeps.
    fn ring(&self) {
        fence(Ordering::SeqCst);
        if self.sleeping.load(Ordering::SeqCst)
            && let Some((_, tx)) = self.bell.get()
        {
            let _ = (&*tx).write(&[1]);
        }
    }
}

#[derive(PartialEq, Clone, Copy)]
enum ReplyMode {
    On,
    Off,
    SkipNext,
}

#[derive(PartialEq, Debug)]
pub(crate) enum Flow {
    Go,
    /// Loop mode: the next command may block (or the connection subscribed):
    /// continue on a thread of its own.
    Migrate,
    /// Write what is queued, then close (QUIT, protocol error, kill self).
    CloseAfterReply,
    /// Close now (query buffer limit, write failure, SHUTDOWN).
    Close,
    /// Thread mode: nothing keeps the connection on its thread any more
    /// (its blocking command returned, it does not subscribe): back to a loop.
    Rejoin,
}

/// Commands the front end treats itself or around the engine call.
enum Special {
    None,
    Quit,
    Shutdown,
    ClientReply,
    /// May start or end subscriptions: run under the output lock.
    PubSub,
}

fn classify(argv: &[&[u8]]) -> Special {
    let name = argv[0];
    let is = |s: &str| name.eq_ignore_ascii_case(s.as_bytes());
    match name.len() {
        4 if is("quit") => Special::Quit,
        4 if is("exec") => Special::PubSub,
        5 if is("reset") => Special::PubSub,
        6 if is("client") && argv.len() >= 2 && argv[1].eq_ignore_ascii_case(b"reply") => {
            Special::ClientReply
        }
        8 if is("shutdown") => Special::Shutdown,
        9 if is("subscribe") => Special::PubSub,
        10 if is("psubscribe") || is("ssubscribe") => Special::PubSub,
        11 if is("unsubscribe") => Special::PubSub,
        12 if is("punsubscribe") || is("sunsubscribe") => Special::PubSub,
        _ => Special::None,
    }
}

/// The connection thread's own state.
struct State {
    client: Client,
    sh: Arc<ConnShared>,
    /// This batch's replies, not yet in `sh.out`.
    local: Vec<u8>,
    mode: ReplyMode,
    /// The subscription's waker is connected to this connection.
    waker_set: bool,
    settings_v: u64,
    settings: Arc<Settings>,
    on_shutdown: Option<ShutdownHook>,
    /// Served by an event loop (false: by a thread of its own).
    in_loop: bool,
}

/// The read side: buffer and parser.
struct Input {
    buf: Vec<u8>,
    filled: usize,
    parser: Parser,
}

/// A connection, movable between an event loop and its own thread.
pub(crate) struct Conn {
    st: State,
    input: Input,
}

impl Conn {
    /// Sets a new connection up. `client` was created (and counted) by the
    /// accept loop.
    pub fn new(listener: &Arc<Shared>, sock: Sock, mut client: Client, peer: String) -> Conn {
        let fd = sock.fd();
        sock.set_nodelay();
        let (settings_v, settings) = listener.settings.get();
        sock.set_keepalive(settings.keepalive);
        let now = listener.now_ms();
        let sh = Arc::new(ConnShared {
            client_id: client.id(),
            sock,
            out: Mutex::new(Out::default()),
            killed: AtomicBool::new(false),
            close_after_reply: AtomicBool::new(false),
            last_input_ms: AtomicU64::new(now),
            busy_since_ms: AtomicU64::new(0),
            subscribed: AtomicBool::new(false),
            settled: AtomicBool::new(false),
            bell: OnceLock::new(),
            sleeping: AtomicBool::new(false),
            listener: listener.clone(),
        });
        client.set_peer(&peer, &listener.laddr, fd as i64);
        client.require_auth();
        let weak = Arc::downgrade(&sh);
        client.on_kill(move || {
            if let Some(sh) = weak.upgrade() {
                sh.kill();
            }
        });
        listener.conns.lock().insert(sh.client_id, sh.clone());
        if listener.is_closing() {
            sh.kill();
        }
        Conn {
            st: State {
                client,
                sh,
                local: Vec::with_capacity(CHUNK),
                mode: ReplyMode::On,
                waker_set: false,
                settings_v,
                settings,
                on_shutdown: listener.on_shutdown.clone(),
                in_loop: true,
            },
            input: Input {
                buf: vec![0; CHUNK],
                filled: 0,
                parser: Parser::default(),
            },
        }
    }

    pub fn shared(&self) -> &Arc<ConnShared> {
        &self.st.sh
    }

    pub fn block_probe(&self) -> emberkv::BlockProbe {
        self.st.client.block_probe()
    }

    /// Thread mode, until nothing keeps the connection off the loop: first
    /// what is already buffered (the command the loop handed over), then
    /// reads. A subscriber (or a MONITOR / tracking client) stays to the
    /// end; a connection whose blocking command returned goes back to a loop,
    /// so threads are only ever as many as the clients blocked at once.
    pub fn serve_thread(mut self) {
        self.st.in_loop = false;
        let st = &mut self.st;
        let flow = process(st, &mut self.input);
        st.sh.settled.store(true, Ordering::Release);
        let mut flow = end_batch(st, flow);
        if flow == Flow::Go || flow == Flow::Migrate {
            flow = run(st, &mut self.input);
        }
        if flow == Flow::Rejoin {
            self.st.in_loop = true;
            let listener = self.st.sh.listener.clone();
            return listener.to_loop(self);
        }
        self.finish(flow);
    }

    /// Loop mode: the socket is readable (or hung up). One non-blocking
    /// read, then every complete command.
    pub fn on_readable(&mut self) -> Flow {
        let (st, input) = (&mut self.st, &mut self.input);
        if st.sh.killed.load(Ordering::Acquire) {
            return Flow::Close;
        }
        reserve_room(input);
        let n = match st.sh.sock.try_read(&mut input.buf[input.filled..]) {
            Ok(Some(0)) | Err(_) => return Flow::Close,
            Ok(Some(n)) => n,
            Ok(None) => return Flow::Go,
        };
        received(st, input, n);
        let mut flow = process(st, input);
        if !deliver(st) {
            return Flow::Close;
        }
        if flow == Flow::Go && st.sh.close_after_reply.load(Ordering::Acquire) {
            flow = Flow::CloseAfterReply;
        }
        flow
    }

    /// Loop mode: sends the replies of a connection that has just come back
    /// from a thread (`Flow::Rejoin`). False: the connection must close.
    pub fn send_kept(&mut self) -> bool {
        deliver(&mut self.st)
    }

    /// Loop mode: the socket is writable. False: the connection must close.
    pub fn on_writable(&mut self) -> bool {
        self.st.sh.flush_pending(&self.st.settings)
    }

    /// Output waits for the kernel.
    pub fn pending(&self) -> bool {
        self.st.sh.out.lock().pending() > 0
    }

    /// Ends the connection (see `finish`).
    pub fn finish(mut self, flow: Flow) {
        finish(&mut self.st, flow);
        let (listener, id) = (self.st.sh.listener.clone(), self.st.sh.client_id);
        drop(self);
        listener.conns.lock().remove(&id);
    }
}

/// Bookkeeping for `n` bytes just read.
fn received(st: &mut State, input: &mut Input, n: usize) {
    input.filled += n;
    st.client.count_net(n as u64, 0);
    st.sh
        .last_input_ms
        .store(st.sh.listener.now_ms(), Ordering::Relaxed);
    if st.sh.listener.settings.changed_since(st.settings_v) {
        (st.settings_v, st.settings) = st.sh.listener.settings.get();
    }
}

/// Room for the next read: grow by what is announced or by doubling, never
/// beyond what a client has actually sent plus one chunk.
fn reserve_room(input: &mut Input) {
    let free = input.buf.len() - input.filled;
    if free < CHUNK {
        let want = input.parser.wanted(&input.buf[..input.filled]).max(CHUNK);
        let grow = want.min(input.buf.len().max(CHUNK));
        input.buf.resize(input.filled + grow.max(CHUNK), 0);
    }
}

fn run(st: &mut State, input: &mut Input) -> Flow {
    loop {
        if st.sh.killed.load(Ordering::Acquire) {
            return Flow::Close;
        }
        if st.waker_set && !(drain_messages(st) && deliver(st)) {
            return Flow::Close;
        }
        let n = match read_some(st, input) {
            Some(0) => return Flow::Close,
            Some(n) => n,
            None => continue,
        };
        if n == usize::MAX {
            return Flow::Close;
        }
        received(st, input, n);
        // Messages published before these commands were sent go first.
        if st.waker_set && !drain_messages(st) {
            return Flow::Close;
        }
        let flow = process(st, input);
        let flow = end_batch(st, flow);
        if flow != Flow::Go {
            return flow;
        }
    }
}

/// Thread mode, after a batch that ended in `flow`: back to a loop
/// (`Rejoin`, replies unsent) when nothing keeps the connection here;
/// otherwise the replies are sent, and `Go` means read on.
fn end_batch(st: &mut State, flow: Flow) -> Flow {
    let closing = st.sh.close_after_reply.load(Ordering::Acquire);
    if flow == Flow::Go && !closing && rejoinable(st) {
        return Flow::Rejoin;
    }
    if !deliver(st) {
        return Flow::Close;
    }
    if flow == Flow::Go && closing {
        return Flow::CloseAfterReply;
    }
    flow
}

/// Thread mode, after a batch (every complete command run): nothing needs
/// the thread — no subscription or pushes to wait for. The batch's replies
/// stay unsent: the loop sends them once it watches the socket again, so
/// the client's next command (sent after it read them) reaches the loop,
/// in order with other clients', not this thread.
fn rejoinable(st: &State) -> bool {
    !st.waker_set
        && !st.client.pushes_enabled()
        && !st.sh.subscribed.load(Ordering::Relaxed)
        && !st.sh.killed.load(Ordering::Acquire)
}

/// Moves queued pub/sub messages into this batch's output. False: the
/// subscription overflowed (client-output-buffer-limit pubsub) or closed.
fn drain_messages(st: &mut State) -> bool {
    if st.client.pushes_enabled() && !drain_pushes(st) {
        return false;
    }
    let resp3 = st.client.protocol() == 3;
    let Some(sub) = st.client.subscription() else {
        return true;
    };
    loop {
        match sub.try_recv() {
            Ok(Some(m)) => {
                let r = m.to_reply();
                if resp3 {
                    r.write_resp3(&mut st.local);
                } else {
                    r.write_resp2(&mut st.local);
                }
                if st.local.len() >= FLUSH_AT {
                    // Hand over what we have; the limits apply there.
                    let mut o = st.sh.out.lock();
                    o.take_from(&mut st.local);
                    if o.flush(&st.sh.sock).is_err() || o.over(st.settings.pubsub) {
                        o.dead = true;
                        return false;
                    }
                }
            }
            Ok(None) => return true,
            Err(_) => return false,
        }
    }
}

/// One read. `Some(0)`: end of stream; `Some(usize::MAX)`: failure;
/// `None`: nothing yet (woken for output, messages or a periodic check).
fn read_some(st: &mut State, input: &mut Input) -> Option<usize> {
    reserve_room(input);
    let pending = st.sh.out.lock().pending() > 0;
    if !pending && !st.waker_set {
        return match st.sh.sock.read(&mut input.buf[input.filled..]) {
            Ok(n) => Some(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => None,
            Err(_) => Some(usize::MAX),
        };
    }
    // Output is waiting or messages may come: watch the socket both ways
    // and the doorbell.
    let bell = if st.waker_set {
        st.sh.sleeping.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        // A message queued before `sleeping` was visible rang no bell.
        let before = st.local.len();
        if !drain_messages(st) {
            return Some(usize::MAX);
        }
        if st.local.len() != before {
            st.sh.sleeping.store(false, Ordering::SeqCst);
            return None;
        }
        st.sh.bell.get().map(|(rx, _)| rx.as_raw_fd())
    } else {
        None
    };
    let timeout = Duration::from_millis(if pending { 100 } else { 1000 });
    let (ready, rang) = crate::sock::poll_with_bell(st.sh.sock.fd(), pending, bell, Some(timeout));
    st.sh.sleeping.store(false, Ordering::SeqCst);
    if rang && let Some((rx, _)) = st.sh.bell.get() {
        let mut sink = [0u8; 64];
        while matches!((&*rx).read(&mut sink), Ok(n) if n == sink.len()) {}
    }
    if (ready.write || pending) && !st.sh.flush_pending(&st.settings) {
        return Some(usize::MAX);
    }
    if !ready.read && !ready.hup {
        return None;
    }
    match st.sh.sock.try_read(&mut input.buf[input.filled..]) {
        Ok(Some(n)) => Some(n),
        Ok(None) => None,
        Err(_) => Some(usize::MAX),
    }
}

/// Runs every complete command in the buffer.
fn process(st: &mut State, input: &mut Input) -> Flow {
    let mut flow = Flow::Go;
    loop {
        let lim = Limits {
            max_bulk: st.settings.max_bulk,
            authenticated: st.client.authenticated(),
        };
        let buf = &input.buf[..input.filled];
        let parsed = input.parser.next(buf, lim);
        let f = match parsed {
            Ok(None) => break,
            Ok(Some(args)) if st.in_loop && needs_thread(&st.client, &input.parser, buf, &args) => {
                input.parser.rewind();
                flow = Flow::Migrate;
                break;
            }
            Ok(Some(Args::Ranges)) => {
                let ranges = input.parser.ranges();
                const N: usize = 8;
                if ranges.len() <= N {
                    let mut argv: [&[u8]; N] = [&[]; N];
                    for (d, &(s, e)) in argv.iter_mut().zip(ranges) {
                        *d = &buf[s..e];
                    }
                    command(st, &argv[..ranges.len()])
                } else {
                    let argv: Vec<&[u8]> = ranges.iter().map(|&(s, e)| &buf[s..e]).collect();
                    command(st, &argv)
                }
            }
            Ok(Some(Args::Inline(words))) => {
                let argv: Vec<&[u8]> = words.iter().map(|w| w.as_slice()).collect();
                command(st, &argv)
            }
            Err(e) => {
                st.local.push(b'-');
                st.local.extend_from_slice(e.0.as_bytes());
                st.local.extend_from_slice(b"\r\n");
                flow = Flow::CloseAfterReply;
                break;
            }
        };
        if f != Flow::Go {
            flow = f;
            break;
        }
        if st.local.len() >= FLUSH_AT && !deliver(st) {
            return Flow::Close;
        }
    }
    if flow == Flow::Go
        && input.parser.pending(&input.buf[..input.filled]) as u64 > st.settings.max_query
    {
        // Redis closes such a client without a reply.
        return Flow::Close;
    }
    input.filled = input.parser.compact(&mut input.buf, input.filled);
    if input.filled == 0 && input.buf.len() > 1 << 20 {
        // An idle connection keeps a small buffer (Redis frees its query buffer too).
        input.buf = vec![0; CHUNK];
    }
    flow
}

/// One command.
fn command(st: &mut State, argv: &[&[u8]]) -> Flow {
    let sh = st.sh.clone();
    // Only a thread of its own can block: a hang-up meanwhile frees the
    // client at once (`hup.rs`; the cron sweeps too)
    let watched = !st.in_loop && {
        let head = &argv[..argv.len().min(2)];
        emberkv::command_may_hold_caller(head) || st.client.held_by_pause(head)
    };
    if !st.in_loop {
        sh.busy_since_ms
            .store(sh.listener.now_ms() + 1, Ordering::Release);
    }
    if watched {
        sh.listener.hup.watch(sh.sock.fd(), sh.client_id);
    }
    RUNNING.with(|r| r.set(sh.client_id));
    let flow = match classify(argv) {
        Special::None => {
            let reply = st.client.execute(argv);
            if st.waker_set {
                // what others (or eviction) sent while it ran goes first
                while let Some(r) = st.client.try_recv_push_before_reply() {
                    write_reply(&r, st.client.protocol() == 3, &mut st.local);
                }
            }
            emit(st, &reply);
            Flow::Go
        }
        Special::PubSub => pubsub_command(st, argv),
        Special::Quit => {
            emit(st, &Reply::ok());
            Flow::CloseAfterReply
        }
        Special::ClientReply => client_reply(st, argv),
        // inside MULTI the engine refuses it (and flags the transaction), as Redis
        Special::Shutdown if st.client.in_multi() => {
            let reply = st.client.execute(argv);
            emit(st, &reply);
            Flow::Go
        }
        Special::Shutdown => shutdown(st, argv),
    };
    let flow = if flow == Flow::Go {
        pushes_after_reply(st)
    } else {
        flow
    };
    RUNNING.with(|r| r.set(0));
    if watched {
        sh.listener.hup.unwatch(sh.sock.fd());
    }
    if !st.in_loop {
        sh.busy_since_ms.store(0, Ordering::Release);
    }
    // CLIENT KILL of itself: no further command of the batch runs.
    if flow == Flow::Go && sh.close_after_reply.load(Ordering::Acquire) {
        Flow::CloseAfterReply
    } else {
        flow
    }
}

/// After a reply: what the engine queued for this client meanwhile
/// (its own tracking invalidations, MONITOR lines) follows it. A client
/// that just turned MONITOR or CLIENT TRACKING on gets its doorbell, and
/// leaves the loop for a thread of its own (as a subscriber does), so that
/// pushes reach it while it is idle.
fn pushes_after_reply(st: &mut State) -> Flow {
    if !st.client.pushes_enabled() {
        return Flow::Go;
    }
    if !st.waker_set {
        attach_bell(st);
    }
    if !drain_pushes(st) {
        return Flow::Close;
    }
    if st.in_loop { Flow::Migrate } else { Flow::Go }
}

/// Connects the engine's wakers (subscription, pushes) to this
/// connection's doorbell.
fn attach_bell(st: &mut State) {
    let sh = st.sh.clone();
    if sh.bell.get().is_none()
        && let Ok((rx, tx)) = UnixStream::pair()
    {
        let _ = rx.set_nonblocking(true);
        let _ = tx.set_nonblocking(true);
        let _ = sh.bell.set((rx, tx));
    }
    let ring = move |target: &std::sync::Weak<ConnShared>| {
        if let Some(sh) = target.upgrade() {
            sh.ring();
        }
    };
    if let Some(sub) = st.client.subscription() {
        let target = Arc::downgrade(&sh);
        sub.set_waker(move || ring(&target));
    }
    let target = Arc::downgrade(&sh);
    st.client.set_push_waker(move || ring(&target));
    st.waker_set = true;
}

/// Moves queued pushes into this batch's output. False: they overflowed.
fn drain_pushes(st: &mut State) -> bool {
    let resp3 = st.client.protocol() == 3;
    while let Some(r) = st.client.try_recv_push() {
        if resp3 {
            r.write_resp3(&mut st.local);
        } else {
            r.write_resp2(&mut st.local);
        }
        if st.local.len() >= FLUSH_AT && !deliver(st) {
            return false;
        }
    }
    !st.client.pushes_overflowed()
}

/// Encodes a reply in the client's protocol, unless CLIENT REPLY says not to.
/// (Un)subscribe confirmations are pushes, which Redis sends whatever
/// CLIENT REPLY says (in RESP2 too), as it does pub/sub messages.
fn emit(st: &mut State, r: &Reply) {
    let push = is_push(r);
    match st.mode {
        ReplyMode::On => {}
        ReplyMode::Off if !push => return,
        ReplyMode::Off => {}
        ReplyMode::SkipNext => {
            st.mode = ReplyMode::On;
            if !push {
                return;
            }
        }
    }
    write_reply(r, st.client.protocol() == 3, &mut st.local);
}

fn is_push(r: &Reply) -> bool {
    match r {
        Reply::Push(_) => true,
        Reply::Array(items) => {
            !items.is_empty() && items.iter().all(|i| matches!(i, Reply::Push(_)))
        }
        _ => false,
    }
}

fn write_reply(r: &Reply, resp3: bool, out: &mut Vec<u8>) {
    // (Un)subscribe answers one push per channel: separate frames.
    if let Reply::Array(items) = r
        && !items.is_empty()
        && items.iter().all(|i| matches!(i, Reply::Push(_)))
    {
        for i in items {
            write_reply(i, resp3, out);
        }
        return;
    }
    if resp3 {
        r.write_resp3(out);
    } else {
        r.write_resp2(out);
    }
}

/// SUBSCRIBE & co., EXEC and RESET: connect the subscription the engine
/// created to this connection's doorbell, and track subscribed mode.
fn pubsub_command(st: &mut State, argv: &[&[u8]]) -> Flow {
    let reply = st.client.execute(argv);
    if argv[0].eq_ignore_ascii_case(b"reset") {
        st.mode = ReplyMode::On;
    }
    emit(st, &reply);
    let sh = st.sh.clone();
    match st.client.subscription() {
        // a subscriber may also be a tracking redirect target: pushes too
        Some(_) if !st.waker_set => attach_bell(st),
        None if !st.client.pushes_enabled() => st.waker_set = false,
        _ => {}
    }
    if st.client.pushes_enabled() && !drain_pushes(st) {
        return Flow::Close;
    }
    let subscribed = st
        .client
        .subscription()
        .is_some_and(|s| s.channel_count() > 0);
    sh.subscribed.store(subscribed, Ordering::Relaxed);
    if (subscribed || st.client.pushes_enabled()) && st.in_loop {
        // (a SUBSCRIBE inside EXEC) messages are drained by a thread of its own
        return Flow::Migrate;
    }
    Flow::Go
}

/// Commands that may keep their caller (the engine's command table says
/// which: blocking commands, scripts, DEBUG SLEEP) run on a thread of their
/// own rather than on the loop. Scripts count: one may run until SCRIPT KILL, which must
/// reach the engine from the other connections of the loop. (SUBSCRIBE runs
/// on the loop, answers at once, and then the connection moves:
/// `pubsub_command`.)
fn needs_thread(client: &Client, parser: &Parser, buf: &[u8], args: &Args) -> bool {
    // The command's name and, for containers such as DEBUG, its subcommand.
    let mut head: [&[u8]; 2] = [&[]; 2];
    let n = match args {
        Args::Ranges => {
            let r = parser.ranges();
            for (d, &(s, e)) in head.iter_mut().zip(r) {
                *d = &buf[s..e];
            }
            r.len().min(2)
        }
        Args::Inline(words) => {
            for (d, w) in head.iter_mut().zip(words) {
                *d = w;
            }
            words.len().min(2)
        }
    };
    // (a command CLIENT PAUSE holds waits too)
    emberkv::command_may_hold_caller(&head[..n]) || client.held_by_pause(&head[..n])
}

/// `CLIENT REPLY ON|OFF|SKIP`
fn client_reply(st: &mut State, argv: &[&[u8]]) -> Flow {
    if !st.client.authenticated() {
        emit(st, &Reply::error("NOAUTH Authentication required."));
        return Flow::Go;
    }
    if argv.len() != 3 {
        emit(
            st,
            &Reply::error("ERR wrong number of arguments for 'client|reply' command"),
        );
        return Flow::Go;
    }
    let a = argv[2];
    if a.eq_ignore_ascii_case(b"on") {
        st.mode = ReplyMode::On;
        emit(st, &Reply::ok());
    } else if a.eq_ignore_ascii_case(b"off") {
        st.mode = ReplyMode::Off;
    } else if a.eq_ignore_ascii_case(b"skip") {
        if st.mode == ReplyMode::On {
            st.mode = ReplyMode::SkipNext;
        }
    } else {
        emit(st, &Reply::error("ERR syntax error"));
    }
    Flow::Go
}

/// `SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]`
fn shutdown(st: &mut State, argv: &[&[u8]]) -> Flow {
    if !st.client.authenticated() {
        emit(st, &Reply::error("NOAUTH Authentication required."));
        return Flow::Go;
    }
    let mut req = ShutdownRequest::default();
    let mut abort = false;
    for a in &argv[1..] {
        let a = a.to_ascii_lowercase();
        match a.as_slice() {
            b"nosave" if req.save.is_none() => req.save = Some(false),
            b"save" if req.save.is_none() => req.save = Some(true),
            b"now" => req.now = true,
            b"force" => req.force = true,
            b"abort" => abort = true,
            _ => {
                emit(st, &Reply::error("ERR syntax error"));
                return Flow::Go;
            }
        }
    }
    if abort {
        let e = if argv.len() == 2 {
            "ERR No shutdown in progress."
        } else {
            "ERR syntax error"
        };
        emit(st, &Reply::error(e));
        return Flow::Go;
    }
    match st.on_shutdown.clone() {
        Some(hook) => {
            // Like Redis: no reply, the connection just closes.
            hook(req);
            Flow::Close
        }
        None => {
            emit(
                st,
                &Reply::error(
                    "ERR SHUTDOWN is disabled: this server is embedded in another process, which closes it",
                ),
            );
            Flow::Go
        }
    }
}

/// Moves the batch's replies to the output buffer and hands them to the
/// kernel. False: the connection must close (write failure or limit).
fn deliver(st: &mut State) -> bool {
    if st.local.is_empty() {
        return !st.sh.out.lock().dead;
    }
    st.client.count_net(0, st.local.len() as u64);
    let sh = &st.sh;
    let mut o = sh.out.lock();
    if o.dead {
        return false;
    }
    o.take_from(&mut st.local);
    let failed = o.flush(&sh.sock).is_err();
    if failed || o.over(sh.limit(&st.settings)) {
        o.dead = true;
        return false;
    }
    if st.local.capacity() < CHUNK {
        st.local.reserve(CHUNK);
    }
    true
}

/// Ends a connection: writes what is queued if the close is orderly, then
/// closes so that the peer reads everything sent before the FIN.
fn finish(st: &mut State, flow: Flow) {
    let sh = st.sh.clone();
    // gone for the engine at once (CLIENT LIST, tracking redirects), not
    // after the lingering below
    st.client.detach();
    if flow == Flow::CloseAfterReply && !sh.killed.load(Ordering::Acquire) {
        let mut last_progress = Instant::now();
        loop {
            let mut o = sh.out.lock();
            if o.dead || o.pending() == 0 {
                break;
            }
            let before = o.pending();
            if o.flush(&sh.sock).is_err() {
                break;
            }
            if o.pending() < before {
                last_progress = Instant::now();
            }
            if o.pending() == 0 || last_progress.elapsed() > Duration::from_secs(10) {
                break;
            }
            drop(o);
            sh.sock.poll(true, Some(Duration::from_millis(100)));
        }
    }
    sh.out.lock().dead = true;
    sh.sock.shutdown(Shutdown::Write);
    // Unread input would turn the close into a reset that can destroy the
    // reply still in flight: read it away (briefly).
    let mut sink = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_millis(100);
    while Instant::now() < deadline {
        match sh.sock.try_read(&mut sink) {
            Ok(Some(n)) if n > 0 => continue,
            _ => break,
        }
    }
    sh.sock.shutdown(Shutdown::Both);
}
