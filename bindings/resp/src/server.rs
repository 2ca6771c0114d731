//! A listener: the accept loop, the connection registry, the cron thread
//! (idle timeouts, stuck output, clients that hang up while blocked), and
//! an orderly close.
//!
//! Threads: one accepting, one event loop per core (`evloop.rs`), one per
//! connection that blocks or subscribes, one cron, one watching blocked
//! clients' sockets for hang-ups (`hup.rs`). `close` stops accepting,
//! closes every connection (waking blocked ones through CLIENT UNBLOCK) and
//! joins every thread.

use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use emberkv::Db;
use parking_lot::{Condvar, Mutex};

use crate::ShutdownHook;
use crate::conn::{Conn, ConnShared, Flow};
use crate::evloop::Loop;
use crate::hup::HupWatch;
use crate::settings::SettingsCache;
use crate::sock::{self, Sock};

/// Redis's reply to a remote client in protected mode (7.0 text).
const DENIED: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

const MAXCLIENTS: &str = "-ERR max number of clients reached\r\n";

pub(crate) enum Socket {
    Tcp(TcpListener),
    Unix(UnixListener, PathBuf),
}

/// What the listener's threads share.
pub(crate) struct Shared {
    pub db: Db,
    pub settings: SettingsCache,
    pub conns: Mutex<HashMap<u64, Arc<ConnShared>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    closing: AtomicBool,
    epoch: Instant,
    /// Milliseconds since `epoch`, advanced by the cron thread: a clock
    /// read costs the hot path nothing (timeouts are in seconds anyway).
    clock_ms: AtomicU64,
    pub on_shutdown: Option<ShutdownHook>,
    /// Local address as CLIENT LIST shows it (`laddr`).
    pub laddr: String,
    remote_test: bool,
    wake: (Mutex<bool>, Condvar),
    /// Hang-ups of clients blocked in a command (`hup.rs`).
    pub hup: HupWatch,
    /// The event loops (set once they run).
    loops: std::sync::OnceLock<Vec<Arc<Loop>>>,
}

impl Shared {
    pub fn now_ms(&self) -> u64 {
        self.clock_ms.load(Ordering::Relaxed)
    }

    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// Hands a connection to the least loaded loop (a new one, or one
    /// coming back from a thread of its own); closes it if the listener is
    /// closing.
    pub fn to_loop(&self, c: Conn) {
        let target = self
            .loops
            .get()
            .and_then(|l| l.iter().min_by_key(|l| l.load.load(Ordering::Relaxed)));
        match target {
            Some(l) if !self.is_closing() => {
                if let Some(c) = l.add(c) {
                    c.finish(Flow::Close);
                }
            }
            _ => c.finish(Flow::Close),
        }
    }

    /// Keeps a connection thread's handle, for `close` to join.
    pub fn track(&self, h: JoinHandle<()>) {
        let mut threads = self.threads.lock();
        threads.retain(|h| !h.is_finished());
        threads.push(h);
    }
}

pub(crate) struct Server {
    shared: Arc<Shared>,
    socket: Arc<Socket>,
    accept: Option<JoinHandle<()>>,
    cron: Option<JoinHandle<()>>,
    hup: Option<JoinHandle<()>>,
    loops: Vec<(Arc<Loop>, JoinHandle<()>)>,
}

impl Server {
    pub fn start(
        db: &Db,
        socket: Socket,
        laddr: String,
        on_shutdown: Option<ShutdownHook>,
        remote_test: bool,
        loops: Option<usize>,
    ) -> std::io::Result<Server> {
        let shared = Arc::new(Shared {
            db: db.clone(),
            settings: SettingsCache::new(db),
            conns: Mutex::new(HashMap::new()),
            threads: Mutex::new(Vec::new()),
            closing: AtomicBool::new(false),
            epoch: Instant::now(),
            clock_ms: AtomicU64::new(0),
            on_shutdown,
            laddr,
            remote_test,
            wake: (Mutex::new(false), Condvar::new()),
            hup: HupWatch::new()?,
            loops: std::sync::OnceLock::new(),
        });
        let socket = Arc::new(socket);
        let n = match loops {
            Some(n) if n > 0 => n.min(64),
            // one per core but one, at most 8: a core stays free for the
            // process that embeds the engine (and, on a 2-core machine, for the
            // clients: two loops there lost 5-30 % to one in redis-benchmark)
            _ => std::thread::available_parallelism().map_or(1, |n| (n.get() - 1).clamp(1, 8)),
        };
        let mut loops = Vec::with_capacity(n);
        for i in 0..n {
            let l = Loop::new()?;
            let h = l.spawn(i)?;
            loops.push((l, h));
        }
        let _ = shared
            .loops
            .set(loops.iter().map(|(l, _)| l.clone()).collect());
        let (sh, so) = (shared.clone(), socket.clone());
        let accept = std::thread::Builder::new()
            .name("emberkv-accept".into())
            .spawn(move || accept_loop(sh, so))?;
        let sh = shared.clone();
        let cron = std::thread::Builder::new()
            .name("emberkv-net-cron".into())
            .spawn(move || cron_loop(sh))?;
        let sh = shared.clone();
        let hup = std::thread::Builder::new()
            .name("emberkv-net-hup".into())
            .spawn(move || HupWatch::run(sh))?;
        Ok(Server {
            shared,
            socket,
            accept: Some(accept),
            cron: Some(cron),
            hup: Some(hup),
            loops,
        })
    }

    pub fn is_closed(&self) -> bool {
        self.shared.closing.load(Ordering::Acquire)
    }

    pub fn close(&mut self) {
        let sh = &self.shared;
        if sh.closing.swap(true, Ordering::AcqRel) {
            return;
        }
        let fd = match &*self.socket {
            Socket::Tcp(l) => l.as_raw_fd(),
            Socket::Unix(l, _) => l.as_raw_fd(),
        };
        sock::shutdown_listener(fd);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
        {
            let (lock, cv) = &sh.wake;
            *lock.lock() = true;
            cv.notify_all();
        }
        if let Some(h) = self.cron.take() {
            let _ = h.join();
        }
        sh.hup.stop();
        if let Some(h) = self.hup.take() {
            let _ = h.join();
        }
        for (l, _) in &self.loops {
            l.stop();
        }
        for (_, h) in self.loops.drain(..) {
            let _ = h.join();
        }
        if let Socket::Unix(_, path) = &*self.socket {
            let _ = std::fs::remove_file(path);
        }
        // Close every connection; blocked ones are woken until they are gone.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let conns: Vec<_> = sh.conns.lock().values().cloned().collect();
            for c in &conns {
                c.kill();
                if c.busy_since_ms.load(Ordering::Relaxed) != 0 {
                    unblock(&sh.db, c.client_id);
                }
            }
            let threads = std::mem::take(&mut *sh.threads.lock());
            let (done, running): (Vec<_>, Vec<_>) =
                threads.into_iter().partition(|h| h.is_finished());
            for h in done {
                let _ = h.join();
            }
            if running.is_empty() {
                break;
            }
            sh.threads.lock().extend(running);
            if Instant::now() > deadline {
                // A command that does not return (DEBUG SLEEP 3600): leave its thread.
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.close();
    }
}

/// CLIENT UNBLOCK … ERROR: `:1` when the client was blocked.
pub(crate) fn unblock(db: &Db, id: u64) -> emberkv::Reply {
    db.execute(&["CLIENT", "UNBLOCK", &id.to_string(), "ERROR"])
}

/// Loopback peers pass protected mode (127.0.0.0/8, ::1, IPv4-mapped 127/8).
pub(crate) fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

fn accept_loop(sh: Arc<Shared>, socket: Arc<Socket>) {
    loop {
        let accepted = match &*socket {
            Socket::Tcp(l) => l.accept().map(|(s, a)| (Sock::Tcp(s), Some(a))),
            Socket::Unix(l, _) => l.accept().map(|(s, _)| (Sock::Unix(s), None)),
        };
        if sh.is_closing() {
            return;
        }
        let (sock, peer) = match accepted {
            Ok(x) => x,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => {
                // Out of descriptors and the like: wait, do not spin.
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let settings = sh.settings.get().1;
        if sh.db.client_count() >= settings.maxclients {
            refuse(&sh, sock, MAXCLIENTS);
            continue;
        }
        let remote = peer.is_some_and(|p: SocketAddr| sh.remote_test || !is_loopback(p.ip()));
        if remote && settings.protected_mode && !settings.requirepass_set {
            refuse(&sh, sock, DENIED);
            continue;
        }
        let peer = match (peer, &*socket) {
            (Some(p), _) => p.to_string(),
            (None, Socket::Unix(_, path)) => format!("{}:0", path.display()),
            (None, _) => String::new(),
        };
        // The client exists from here on: maxclients counts it at once.
        sh.to_loop(Conn::new(&sh, sock, sh.db.client(), peer));
    }
}

fn refuse(sh: &Shared, sock: Sock, msg: &str) {
    sh.db.note_rejected_connection();
    let _ = match &sock {
        Sock::Tcp(s) => (&*s).write(msg.as_bytes()),
        Sock::Unix(s) => (&*s).write(msg.as_bytes()),
    };
    sock.shutdown(Shutdown::Write);
    let mut sink = [0u8; 1024];
    while let Ok(Some(n)) = sock.try_read(&mut sink) {
        if n == 0 {
            break;
        }
    }
}

/// Every 100 ms: idle timeouts, output stuck in buffers (soft limits), and
/// clients that hung up while a command blocks their thread.
fn cron_loop(sh: Arc<Shared>) {
    loop {
        {
            let (lock, cv) = &sh.wake;
            let mut stop = lock.lock();
            if !*stop {
                cv.wait_for(&mut stop, Duration::from_millis(100));
            }
            if *stop {
                return;
            }
        }
        let now = sh.epoch.elapsed().as_millis() as u64;
        sh.clock_ms.store(now, Ordering::Relaxed);
        let settings = sh.settings.get().1;
        let conns: Vec<_> = sh.conns.lock().values().cloned().collect();
        for c in conns {
            if c.killed.load(Ordering::Acquire) {
                continue;
            }
            let busy = c.busy_since_ms.load(Ordering::Relaxed);
            if busy != 0 {
                if now + 1 >= busy + 100 && c.sock.poll(false, Some(Duration::ZERO)).hup {
                    // Redis frees a blocked client whose socket closed.
                    c.kill();
                    unblock(&sh.db, c.client_id);
                }
                continue;
            }
            let idle = now.saturating_sub(c.last_input_ms.load(Ordering::Relaxed));
            if settings.timeout > 0
                && !c.subscribed.load(Ordering::Relaxed)
                && idle > settings.timeout * 1000
            {
                c.kill();
                continue;
            }
            if c.out.lock().pending() > 0 {
                c.flush_pending(&settings);
            }
        }
    }
}
