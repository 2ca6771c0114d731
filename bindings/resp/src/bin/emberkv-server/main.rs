//! `emberkv-server`: emberkv as a stand-alone server, a stand-in for
//! redis-server in tests and small deployments.
//!
//! ```text
//! emberkv-server [/path/to/redis.conf] [--port 6379] [--bind 127.0.0.1] [--unixsocket path]
//!                [--dir d] [--requirepass x] [--appendonly yes] ...
//! ```
//!
//! Directives come from the file, then from `--name value...` options
//! (later ones win). The server itself handles the network and process
//! directives (`port`, `bind`, `unixsocket`, `unixsocketperm`,
//! `tcp-backlog`, `io-threads` (event loops; default one per core but one),
//! `daemonize`, `pidfile`, `logfile`, `loglevel`); every
//! other one goes to `emberkv::Config::set`, and one the engine does not
//! know stops the server with Redis's FATAL CONFIG FILE ERROR report.
//! SHUTDOWN, SIGTERM and SIGINT close the listeners and the `Db` (which
//! flushes and fsyncs), then exit 0.

/// Counts allocations so `maxmemory` and INFO `used_memory` see real bytes.
#[global_allocator]
static ALLOC: emberkv::alloc::Counting = emberkv::alloc::Counting::system();

mod conf;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use conf::{ConfError, Directive};
use emberkv::{Config, Db};
use emberkv_resp::{Addr, Listener, Options, ShutdownRequest};

/// Directives of the process, not of the engine.
const PROCESS: &[&str] = &[
    "daemonize",
    "pidfile",
    "logfile",
    "loglevel",
    "always-show-logo",
    "set-proc-title",
    "supervised",
];

/// Network directives: used here and also handed to the engine, so CONFIG
/// GET shows them.
const NETWORK: &[&str] = &[
    "port",
    "bind",
    "unixsocket",
    "unixsocketperm",
    "tcp-backlog",
];

/// Directives whose repeated lines accumulate instead of replacing.
const ACCUMULATE: &[&str] = &["save", "client-output-buffer-limit"];

struct ServerConf {
    port: u16,
    bind: Vec<String>,
    unixsocket: Option<PathBuf>,
    unixperm: Option<u32>,
    backlog: u32,
    threads: Option<usize>,
    daemonize: bool,
    pidfile: Option<PathBuf>,
    logfile: Option<PathBuf>,
    quiet: bool,
    cfg: Config,
}

static SIGNALLED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    SIGNALLED.store(true, Ordering::SeqCst);
}

struct Log {
    file: Option<Mutex<std::fs::File>>,
}

impl Log {
    /// Redis's log line: `pid:M dd Mon yyyy hh:mm:ss.mmm * message`.
    fn line(&self, level: char, msg: &str) {
        let line = format!("{}:M {} {level} {msg}\n", std::process::id(), timestamp());
        match &self.file {
            Some(f) => {
                let _ = f.lock().map(|mut f| f.write_all(line.as_bytes()));
            }
            None => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(line.as_bytes());
                let _ = out.flush();
            }
        }
    }
}

fn timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as libc::time_t;
    // SAFETY: localtime_r fills the zeroed tm; strftime writes at most buf.len() bytes.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&secs, &mut tm);
        let mut buf = [0u8; 64];
        let n = libc::strftime(
            buf.as_mut_ptr().cast(),
            buf.len(),
            c"%d %b %Y %H:%M:%S".as_ptr(),
            &tm,
        );
        format!(
            "{}.{:03}",
            String::from_utf8_lossy(&buf[..n]),
            now.subsec_millis()
        )
    }
}

fn usage() -> &'static str {
    "Usage: emberkv-server [/path/to/redis.conf] [options] [-]\n       emberkv-server - (read config from stdin)\n       emberkv-server -v or --version\n       emberkv-server -h or --help\n\nExamples:\n       emberkv-server (run the server with default conf)\n       emberkv-server /etc/redis/6379.conf\n       emberkv-server --port 7777\n       emberkv-server --port 7777 --unixsocket /tmp/ekv.sock --requirepass secret\n       emberkv-server /etc/myredis.conf --loglevel verbose\n"
}

fn build(directives: &[Directive]) -> Result<ServerConf, ConfError> {
    let mut sc = ServerConf {
        port: 6379,
        bind: vec!["127.0.0.1".into(), "-::1".into()],
        unixsocket: None,
        unixperm: None,
        backlog: 511,
        threads: None,
        daemonize: false,
        pidfile: None,
        logfile: None,
        quiet: false,
        cfg: Config::default(),
    };
    let mut acc: std::collections::BTreeMap<String, (String, Directive)> = Default::default();
    let one = |d: &Directive| -> Result<String, ConfError> {
        match d.args.as_slice() {
            [a] => Ok(a.clone()),
            _ => Err(ConfError::new(d, "wrong number of arguments")),
        }
    };
    let yes_no = |d: &Directive| -> Result<bool, ConfError> {
        match one(d)?.to_ascii_lowercase().as_str() {
            "yes" => Ok(true),
            "no" => Ok(false),
            _ => Err(ConfError::new(d, "argument must be 'yes' or 'no'")),
        }
    };
    for d in directives {
        let name = d.name.as_str();
        match name {
            "port" => {
                sc.port = one(d)?
                    .parse()
                    .map_err(|_| ConfError::new(d, "argument couldn't be parsed into an integer"))?
            }
            "bind" => {
                if d.args.is_empty() {
                    return Err(ConfError::new(d, "wrong number of arguments"));
                }
                sc.bind = d.args.clone();
            }
            "unixsocket" => {
                let p = one(d)?;
                sc.unixsocket = (!p.is_empty()).then(|| PathBuf::from(p));
            }
            "unixsocketperm" => {
                sc.unixperm = Some(
                    u32::from_str_radix(&one(d)?, 8)
                        .map_err(|_| ConfError::new(d, "Invalid socket file permissions"))?,
                )
            }
            "tcp-backlog" => {
                sc.backlog = one(d)?
                    .parse()
                    .map_err(|_| ConfError::new(d, "argument couldn't be parsed into an integer"))?
            }
            "io-threads" => {
                sc.threads = Some(
                    one(d)?
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=128).contains(n))
                        .ok_or_else(|| {
                            ConfError::new(d, "argument must be between 1 and 128 inclusive")
                        })?,
                )
            }
            "io-threads-do-reads" => {}
            "daemonize" => sc.daemonize = yes_no(d)?,
            "pidfile" => {
                sc.pidfile = Some(PathBuf::from(one(d)?)).filter(|p| !p.as_os_str().is_empty())
            }
            "logfile" => {
                sc.logfile = Some(PathBuf::from(one(d)?)).filter(|p| !p.as_os_str().is_empty())
            }
            "loglevel" => {
                let l = one(d)?.to_ascii_lowercase();
                if !matches!(
                    l.as_str(),
                    "debug" | "verbose" | "notice" | "warning" | "nothing"
                ) {
                    return Err(ConfError::new(
                        d,
                        "argument(s) must be one of the following: debug, verbose, notice, warning, nothing",
                    ));
                }
                sc.quiet = matches!(l.as_str(), "warning" | "nothing");
            }
            _ if PROCESS.contains(&name) => {}
            "dir" => {
                // Like Redis: the process works in `dir` from here on.
                let dir = one(d)?;
                std::env::set_current_dir(&dir)
                    .map_err(|e| ConfError::new(d, format!("Can't chdir to '{dir}': {e}")))?;
                let abs = std::env::current_dir().unwrap_or_else(|_| PathBuf::from(&dir));
                apply(&mut sc.cfg, d, &abs.display().to_string())?;
            }
            _ => {
                let value = d.args.join(" ");
                if ACCUMULATE.contains(&name) {
                    let e = acc
                        .entry(name.to_string())
                        .or_insert((String::new(), d.clone()));
                    // `save ""` resets the list.
                    if value.is_empty() {
                        e.0.clear();
                    } else {
                        if !e.0.is_empty() {
                            e.0.push(' ');
                        }
                        e.0.push_str(&value);
                    }
                    e.1 = d.clone();
                    continue;
                }
                apply(&mut sc.cfg, d, &value)?;
            }
        }
        if NETWORK.contains(&name) {
            apply(&mut sc.cfg, d, &d.args.join(" "))?;
        }
    }
    for (value, d) in acc.values() {
        // `save ""` (no snapshot schedule) is what an engine without one does.
        if d.name == "save" && value.is_empty() && Config::default().set("save", "").is_err() {
            continue;
        }
        apply(&mut sc.cfg, d, value)?;
    }
    Ok(sc)
}

fn apply(cfg: &mut Config, d: &Directive, value: &str) -> Result<(), ConfError> {
    cfg.set(&d.name, value).map(|_| ()).map_err(|e| {
        let msg = e.message();
        let msg = if msg.starts_with("unknown config parameter") {
            "Bad directive or wrong number of arguments".to_string()
        } else {
            // "'name': why" → "why", as Redis words it.
            msg.split_once("': ")
                .map_or(msg, |(_, why)| why)
                .to_string()
        };
        ConfError::new(d, msg)
    })
}

fn daemonize() {
    // SAFETY: called before any thread is started; the parent exits at once.
    unsafe {
        match libc::fork() {
            -1 => {}
            0 => {
                libc::setsid();
            }
            _ => libc::_exit(0),
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(a) = args.first() {
        match a.as_str() {
            "-v" | "--version" => {
                println!(
                    "emberkv-server v={} (Redis {} compatible) bits=64",
                    env!("CARGO_PKG_VERSION"),
                    emberkv::REDIS_VERSION
                );
                return ExitCode::SUCCESS;
            }
            "-h" | "--help" => {
                print!("{}", usage());
                return ExitCode::SUCCESS;
            }
            _ => {}
        }
    }
    let cl = match conf::parse_command_line(&args) {
        Ok(cl) => cl,
        Err(e) => {
            eprintln!("{e}\n\n{}", usage());
            return ExitCode::FAILURE;
        }
    };
    let sc = match conf::load(&cl).and_then(|d| build(&d)) {
        Ok(sc) => sc,
        Err(e) => {
            eprint!("{}", e.report());
            return ExitCode::FAILURE;
        }
    };
    if sc.daemonize {
        daemonize();
    }
    let log = Arc::new(Log {
        file: match &sc.logfile {
            Some(p) => match std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
            {
                Ok(f) => Some(Mutex::new(f)),
                Err(e) => {
                    eprintln!("Can't open the log file: {e}");
                    return ExitCode::FAILURE;
                }
            },
            None => None,
        },
    });
    if sc.daemonize && sc.logfile.is_none() {
        // stdout goes nowhere once detached.
        if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
            use std::os::fd::AsRawFd;
            // SAFETY: dup2 onto the standard descriptors.
            unsafe {
                libc::dup2(null.as_raw_fd(), 1);
                libc::dup2(null.as_raw_fd(), 2);
            }
        }
    }
    let notice = |m: &str| {
        if !sc.quiet {
            log.line('*', m)
        }
    };
    notice(&format!(
        "emberkv-server {} (Redis {} compatible) starting, pid={}",
        env!("CARGO_PKG_VERSION"),
        emberkv::REDIS_VERSION,
        std::process::id()
    ));
    if let Some(p) = &sc.pidfile
        && let Err(e) = std::fs::write(p, format!("{}\n", std::process::id()))
    {
        log.line('#', &format!("Failed to write PID file: {e}"));
    }
    // SAFETY: installing a handler that only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    let db = match Db::open(sc.cfg.clone()) {
        Ok(db) => db,
        Err(e) => {
            log.line('#', &format!("Fatal error opening the data: {e}"));
            return ExitCode::FAILURE;
        }
    };
    notice("Server initialized");

    let (tx, rx) = mpsc::channel::<ShutdownRequest>();
    let tx = Mutex::new(tx);
    let opts = Options {
        unix_perm: sc.unixperm,
        backlog: Some(sc.backlog),
        threads: sc.threads,
        on_shutdown: Some(Arc::new(move |req| {
            if let Ok(tx) = tx.lock() {
                let _ = tx.send(req);
            }
        })),
        ..Default::default()
    };
    let mut listeners: Vec<Listener> = Vec::new();
    if sc.port != 0 {
        for b in &sc.bind {
            let (optional, host) = match b.strip_prefix('-') {
                Some(h) => (true, h),
                None => (false, b.as_str()),
            };
            let host = match host {
                "*" => "0.0.0.0",
                "::*" => "::",
                h => h,
            };
            let ip: std::net::IpAddr = match host.parse() {
                Ok(ip) => ip,
                Err(_) => {
                    log.line('#', &format!("Invalid bind address '{host}'"));
                    return ExitCode::FAILURE;
                }
            };
            let addr = Addr::Tcp(std::net::SocketAddr::new(ip, sc.port));
            match emberkv_resp::listen_addr(&db, &addr, opts.clone()) {
                Ok(l) => listeners.push(l),
                Err(e) if optional => {
                    notice(&format!("Skipping optional bind {host}: {e}"));
                }
                Err(e) => {
                    log.line(
                        '#',
                        &format!(
                            "Warning: Could not create server TCP listening socket {host}:{}: {e}",
                            sc.port
                        ),
                    );
                    log.line(
                        '#',
                        &format!("Failed listening on port {} (tcp), aborting.", sc.port),
                    );
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    if let Some(path) = &sc.unixsocket {
        match emberkv_resp::listen_addr(&db, &Addr::Unix(path.clone()), opts.clone()) {
            Ok(l) => listeners.push(l),
            Err(e) => {
                log.line('#', &format!("Failed opening Unix socket: {e}"));
                return ExitCode::FAILURE;
            }
        }
    }
    if listeners.is_empty() {
        log.line('#', "Configured to not listen anywhere, exiting.");
        return ExitCode::FAILURE;
    }
    for l in &listeners {
        notice(&format!("Listening on {}", l.local_addr()));
    }
    notice("Ready to accept connections");

    let why = loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(req) => break format!("User requested shutdown ({req:?})..."),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if SIGNALLED.load(Ordering::SeqCst) {
                    break "Received a signal, scheduling shutdown...".to_string();
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break "Shutting down...".to_string(),
        }
    };
    log.line('#', &why);
    // a script still running holds every shard, and closing would wait for
    // it forever: stop it first, as SCRIPT KILL / FUNCTION KILL would (one
    // that already wrote cannot be stopped, as in Redis)
    let mut killer = db.client();
    let _ = killer.execute(&["SCRIPT", "KILL"]);
    let _ = killer.execute(&["FUNCTION", "KILL"]);
    drop(killer);
    for l in &listeners {
        l.close();
    }
    if let Err(e) = db.close() {
        log.line('#', &format!("Error closing the data: {e}"));
        return ExitCode::FAILURE;
    }
    if let Some(p) = &sc.pidfile {
        let _ = std::fs::remove_file(p);
    }
    log.line('#', "emberkv is now ready to exit, bye bye...");
    ExitCode::SUCCESS
}
