//! emberkv on Redis's wire protocol: one process owns a [`emberkv::Db`] and
//! other processes attach to it with any Redis client (redis-cli, redis-py,
//! ioredis, hiredis, …) over TCP or a Unix socket.
//!
//! ```no_run
//! let db = emberkv::Db::in_memory();
//! let listener = emberkv_resp::listen(&db, "tcp://127.0.0.1:6390", Default::default())?;
//! println!("serving on {}", listener.local_addr()); // tcp://127.0.0.1:6390
//! // … `redis-cli -p 6390 SET k v` from another process …
//! listener.close(); // stops accepting and closes every connection
//! # Ok::<(), emberkv::Error>(())
//! ```
//!
//! # API
//! - [`listen`]`(&db, addr, opts) -> Result<Listener, emberkv::Error>`: `addr` is
//!   `tcp://host:port` (port 0 picks a free one), `unix:///absolute/path.sock`
//!   (an existing socket file is replaced), or the bare forms `host:port` and
//!   `/path.sock`. Errors are `ErrorKind::Config` for a bad address and
//!   `ErrorKind::Io` for bind failures.
//! - [`Listener::local_addr`] (the address actually bound, in the same URL
//!   form), [`Listener::close`] (idempotent; also on drop). A listener holds
//!   a handle to its `Db`, so the engine stays open while it serves; after
//!   `db.close()` its clients get "ERR the database is closed".
//! - [`Options`]: Unix socket permissions, listen backlog, event-loop
//!   threads, and what SHUTDOWN does. The bindings expose this as `ekv_listen` (C), `r.listen(...)`
//!   (Python) and `db.listen(...)` (Node).
//!
//! # What a connection gets
//! RESP2 by default, RESP3 after `HELLO 3` (per connection); pipelining
//! (every complete command in a read runs, replies leave in one write);
//! inline commands (`PING\r\n`, as telnet and redis-cli's inline mode send);
//! AUTH and HELLO … AUTH against `requirepass`; SELECT, MULTI/EXEC/WATCH,
//! pub/sub (RESP2 subscribed mode or RESP3 push), blocking commands (they
//! block only their connection's thread), CLIENT LIST/INFO/KILL/SETNAME/ID/
//! NO-EVICT/REPLY, QUIT, RESET, INFO clients/stats. CLIENT LIST shows each
//! connection's real `addr`, `laddr` and `fd`.
//!
//! # Configuration
//! Network parameters are the `Db`'s, set with `emberkv::Config::set` before
//! opening or CONFIG SET at run time, with Redis's names and defaults:
//! `requirepass`, `maxclients` (10000; "ERR max number of clients reached"),
//! `timeout` (idle seconds, 0 = never), `protected-mode` (yes: without a
//! password only loopback and Unix-socket peers are served, others get
//! Redis's DENIED text), `proto-max-bulk-len` (512 MB) and
//! `client-query-buffer-limit` (1 GB), `client-output-buffer-limit` (normal
//! and pubsub classes), `tcp-keepalive`. A malformed request gets Redis's
//! protocol error text and closes only that connection.
//!
//! # SHUTDOWN
//! A listener inside another program refuses SHUTDOWN with an error: a
//! remote client cannot stop its host. Set [`Options::on_shutdown`] to
//! honour it (the `emberkv-server` binary does: it closes its listeners,
//! closes the `Db` and exits).
//!
//! # Threads
//! One thread accepts; one event loop per core (epoll) serves the
//! connections, running their commands; a connection that runs a blocking
//! command (BLPOP & co.) or subscribes moves to a thread of its own, so it
//! never stalls a loop; one thread checks timeouts and stuck output every
//! 100 ms.

pub mod client;
mod conn;
mod evloop;
mod hup;
mod parse;
mod server;
mod settings;
mod sock;

use std::fmt;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use emberkv::{Db, Error, ErrorKind};
use parking_lot::Mutex;

pub use parse::split_args;

/// What SHUTDOWN asked for: `save` is `Some(true)` for SAVE, `Some(false)`
/// for NOSAVE, `None` when neither was given.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShutdownRequest {
    pub save: Option<bool>,
    pub now: bool,
    pub force: bool,
}

/// Called (on the requesting connection's thread) when a client sends a
/// valid SHUTDOWN. It must not close the listener from that thread and
/// wait for it; signal another thread instead.
pub type ShutdownHook = Arc<dyn Fn(ShutdownRequest) + Send + Sync>;

/// Listener options. Everything else comes from the `Db`'s configuration.
#[derive(Clone, Default)]
pub struct Options {
    /// Mode of a Unix socket file (`unixsocketperm`), e.g. `0o770`;
    /// `None` leaves what the umask gives.
    pub unix_perm: Option<u32>,
    /// listen(2) backlog (`tcp-backlog`); `None`: 511, as Redis.
    pub backlog: Option<u32>,
    /// What SHUTDOWN does; `None` refuses it with an error.
    pub on_shutdown: Option<ShutdownHook>,
    /// Event-loop threads (`io-threads` in emberkv-server); `None`: one per
    /// core but one (at least 1, at most 8).
    pub threads: Option<usize>,
    /// Tests only: treat every TCP peer as remote for protected mode.
    #[doc(hidden)]
    pub treat_peers_as_remote: bool,
}

/// An address a listener is bound to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Addr {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl Addr {
    /// Parses `tcp://host:port`, `unix:///path`, `host:port` or `/path`.
    pub fn parse(s: &str) -> Result<Addr, Error> {
        let bad = || Error::new(ErrorKind::Config, format!("invalid listen address '{s}'"));
        if let Some(p) = s
            .strip_prefix("unix://")
            .or_else(|| s.strip_prefix("unix:"))
        {
            if p.is_empty() {
                return Err(bad());
            }
            return Ok(Addr::Unix(PathBuf::from(p)));
        }
        if s.starts_with('/') {
            return Ok(Addr::Unix(PathBuf::from(s)));
        }
        let hp = s.strip_prefix("tcp://").unwrap_or(s);
        let hp = hp.strip_suffix('/').unwrap_or(hp);
        let addr = hp
            .to_socket_addrs()
            .map_err(|_| bad())?
            .next()
            .ok_or_else(bad)?;
        Ok(Addr::Tcp(addr))
    }

    /// The TCP port, if this is a TCP address.
    pub fn port(&self) -> Option<u16> {
        match self {
            Addr::Tcp(a) => Some(a.port()),
            Addr::Unix(_) => None,
        }
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Addr::Tcp(a) => write!(f, "tcp://{a}"),
            Addr::Unix(p) => write!(f, "unix://{}", p.display()),
        }
    }
}

/// A running listener. Dropping it closes it.
pub struct Listener {
    addr: Addr,
    server: Mutex<server::Server>,
}

impl Listener {
    /// The address bound (with the real port when 0 was asked for).
    pub fn local_addr(&self) -> &Addr {
        &self.addr
    }

    /// Stops accepting, closes every connection (a client blocked in BLPOP
    /// & co. is woken), waits for their threads, removes a Unix socket
    /// file. Calling it again does nothing. It must not be called from a
    /// SHUTDOWN hook's thread.
    pub fn close(&self) {
        self.server.lock().close();
    }

    /// Whether [`close`](Listener::close) was called.
    pub fn is_closed(&self) -> bool {
        self.server.lock().is_closed()
    }
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listener")
            .field("addr", &self.addr)
            .finish()
    }
}

/// Serves `db` on `addr` (see the crate documentation for the forms).
pub fn listen(db: &Db, addr: &str, opts: Options) -> Result<Listener, Error> {
    listen_addr(db, &Addr::parse(addr)?, opts)
}

/// The network directives [`listen_with`] applies to the `Db` (CONFIG SET).
pub const DB_OPTIONS: &[&str] = &[
    "requirepass",
    "maxclients",
    "timeout",
    "protected-mode",
    "proto-max-bulk-len",
    "client-query-buffer-limit",
    "client-output-buffer-limit",
    "tcp-keepalive",
];

/// [`listen`] with options named as redis.conf directives, for bindings
/// (`ekv_listen`, `r.listen(...)`, `db.listen(...)`): `unixsocketperm`
/// (octal, e.g. "700"), `tcp-backlog` and `io-threads` configure this
/// listener; the directives in [`DB_OPTIONS`] (`requirepass`, `maxclients`,
/// `timeout`, `protected-mode`, …) are set on the `Db` with CONFIG SET
/// before the socket is bound, so they apply to every listener of that
/// `Db` (as in redis-server, where they are server-wide), and are put back
/// if listening fails. Names are case-insensitive and `_` may stand for
/// `-`. An unknown name or a bad value is `ErrorKind::Config`.
pub fn listen_with<K: AsRef<str>, V: AsRef<str>>(
    db: &Db,
    addr: &str,
    options: &[(K, V)],
) -> Result<Listener, Error> {
    let addr = Addr::parse(addr)?;
    let mut opts = Options::default();
    let mut sets: Vec<(String, String)> = Vec::new();
    for (k, v) in options {
        let name = k.as_ref().to_ascii_lowercase().replace('_', "-");
        let v = v.as_ref();
        let bad = |why: &str| {
            Error::new(
                ErrorKind::Config,
                format!("listener option '{name}' = '{v}': {why}"),
            )
        };
        match name.as_str() {
            "unixsocketperm" => {
                opts.unix_perm = Some(
                    u32::from_str_radix(v, 8)
                        .ok()
                        .filter(|m| *m <= 0o7777)
                        .ok_or_else(|| bad("not an octal file mode"))?,
                )
            }
            "tcp-backlog" => opts.backlog = Some(v.parse().map_err(|_| bad("not a number"))?),
            "io-threads" => {
                opts.threads = Some(
                    v.parse::<usize>()
                        .ok()
                        .filter(|n| (1..=128).contains(n))
                        .ok_or_else(|| bad("must be between 1 and 128"))?,
                )
            }
            n if DB_OPTIONS.contains(&n) => {
                // checked as CONFIG SET would, before anything changes
                emberkv::Config::default()
                    .set(n, v)
                    .map_err(|e| bad(e.message()))?;
                sets.push((name.clone(), v.to_string()));
            }
            _ => {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "unknown listener option '{name}' (known: unixsocketperm, tcp-backlog, io-threads, {})",
                        DB_OPTIONS.join(", ")
                    ),
                ));
            }
        }
    }
    if db.is_closed() {
        return Err(Error::new(ErrorKind::Closed, "the database is closed"));
    }
    let mut old = Vec::new();
    for (n, v) in &sets {
        old.push((n.clone(), db.config_get(n).unwrap_or_default()));
        if let emberkv::Reply::Error(e) = db.execute(&["CONFIG", "SET", n.as_str(), v.as_str()]) {
            restore(db, &old);
            return Err(Error::new(ErrorKind::Config, format!("{n}: {e}")));
        }
    }
    listen_addr(db, &addr, opts).inspect_err(|_| restore(db, &old))
}

fn restore(db: &Db, old: &[(String, String)]) {
    for (n, v) in old.iter().rev() {
        db.execute(&["CONFIG", "SET", n.as_str(), v.as_str()]);
    }
}

/// [`listen`] with a parsed address.
pub fn listen_addr(db: &Db, addr: &Addr, opts: Options) -> Result<Listener, Error> {
    if db.is_closed() {
        return Err(Error::new(ErrorKind::Closed, "the database is closed"));
    }
    let io = |what: &str, e: std::io::Error| Error::new(ErrorKind::Io, format!("{what}: {e}"));
    let backlog = opts.backlog.unwrap_or(511).min(i32::MAX as u32) as i32;
    let (socket, bound, laddr) = match addr {
        Addr::Tcp(a) => {
            let l = TcpListener::bind(a).map_err(|e| io(&format!("cannot listen on {a}"), e))?;
            sock::set_backlog(l.as_raw_fd(), backlog);
            let local = l.local_addr().map_err(|e| io("local address", e))?;
            (server::Socket::Tcp(l), Addr::Tcp(local), local.to_string())
        }
        Addr::Unix(path) => {
            let l = bind_unix(path, opts.unix_perm)?;
            sock::set_backlog(l.as_raw_fd(), backlog);
            let laddr = format!("{}:0", path.display());
            (
                server::Socket::Unix(l, path.clone()),
                Addr::Unix(path.clone()),
                laddr,
            )
        }
    };
    let server = server::Server::start(
        db,
        socket,
        laddr,
        opts.on_shutdown.clone(),
        opts.treat_peers_as_remote,
        opts.threads,
    )
    .map_err(|e| io("cannot start the listener threads", e))?;
    Ok(Listener {
        addr: bound,
        server: Mutex::new(server),
    })
}

fn bind_unix(path: &Path, perm: Option<u32>) -> Result<UnixListener, Error> {
    let io = |e: std::io::Error| {
        Error::new(
            ErrorKind::Io,
            format!("cannot listen on unix socket {}: {e}", path.display()),
        )
    };
    // Like Redis: a stale socket file from an earlier run is replaced.
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        use std::os::unix::fs::FileTypeExt;
        if meta.file_type().is_socket() {
            let _ = std::fs::remove_file(path);
        }
    }
    let l = UnixListener::bind(path).map_err(io)?;
    if let Some(mode) = perm {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io)?;
    }
    Ok(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            Addr::parse("tcp://127.0.0.1:6390").unwrap(),
            Addr::Tcp("127.0.0.1:6390".parse().unwrap())
        );
        assert_eq!(
            Addr::parse("unix:///tmp/x.sock").unwrap(),
            Addr::Unix("/tmp/x.sock".into())
        );
        assert_eq!(
            Addr::parse("/tmp/y.sock").unwrap(),
            Addr::Unix("/tmp/y.sock".into())
        );
        assert_eq!(Addr::parse("[::1]:7").unwrap().port(), Some(7));
        assert!(Addr::parse("tcp://nonsense").is_err());
        assert!(Addr::parse("unix://").is_err());
        assert_eq!(
            Addr::Unix("/a/b".into()).to_string(),
            "unix:///a/b".to_string()
        );
    }

    #[test]
    fn loopback_rule() {
        use server::is_loopback;
        assert!(is_loopback("127.0.0.1".parse().unwrap()));
        assert!(is_loopback("127.8.9.1".parse().unwrap()));
        assert!(is_loopback("::1".parse().unwrap()));
        assert!(is_loopback("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!is_loopback("10.0.0.1".parse().unwrap()));
        assert!(!is_loopback("::ffff:10.0.0.1".parse().unwrap()));
    }
}
