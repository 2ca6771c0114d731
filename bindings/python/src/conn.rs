//! `Database` (an open engine), `Conn` (what one `emberkv.Redis` talks
//! through) and `Session` (one dedicated engine client: pipelines, MULTI,
//! WATCH), plus the GIL policy.
//!
//! Threads: a `Conn` may be shared by any number of Python threads. Each call
//! uses the Conn's primary client when it is free (`try_lock`, never
//! waiting while holding the GIL) and otherwise a pooled client, so a thread
//! blocked in BLPOP with the GIL released never stalls the others. Connection
//! state (SELECT) is per client, as with redis-py's connection pool.
//!
//! GIL policy (measured, see bench/README.md): commands Redis flags `fast`
//! run with the GIL held (releasing and re-taking it costs more than the
//! command); everything else — O(N) commands, blocking commands, admin
//! commands, arguments over 32 KiB — runs with the GIL released.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock, Weak};

use hashbrown::HashMap;
use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use emberkv::{Client, Config, Db, Error, Reply};
use emberkv_resp::client::{Connection, Target};

use crate::convert::{self, Arg, Argv, Codec};
use crate::errors::{self, engine_call};
use crate::pubsub::Subscription;

/// Every open engine, so the atexit hook can close them before the
/// interpreter finalizes.
pub(crate) static LIVE_DBS: Mutex<Vec<Weak<Db>>> = Mutex::new(Vec::new());

/// Every open listener: closed with its engine and by the atexit hook.
pub(crate) static LIVE_LISTENERS: Mutex<Vec<Weak<emberkv_resp::Listener>>> = Mutex::new(Vec::new());

/// How a command runs with respect to the GIL.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Class {
    /// Holds the GIL: sub-microsecond commands.
    Gil,
    /// Releases the GIL: may run long.
    Detach,
    /// Releases the GIL and may wait indefinitely (BLPOP …): asyncio runs
    /// these on a worker thread.
    Blocking,
}

static POLICY: OnceLock<HashMap<Vec<u8>, Class>> = OnceLock::new();

/// Arguments larger than this are copied with the GIL released.
const BIG_ARGV: usize = 32 * 1024;

/// Commands Redis does not flag `fast` that are still O(1) on one small
/// value; holding the GIL for them measured faster (bench: SET).
const GIL_EXTRA: &[&str] = &[
    "set",
    "setex",
    "psetex",
    "getex",
    "getdel",
    "incrbyfloat",
    "hincrbyfloat",
];

/// Builds the policy from the engine's own COMMAND table, so command
/// families added later are classified by their Redis flags.
fn init_policy(db: &Db) {
    POLICY.get_or_init(|| {
        let mut map: HashMap<Vec<u8>, Class> = HashMap::new();
        if let Reply::Array(cmds) = db.execute(&["COMMAND"]) {
            for c in cmds {
                let Reply::Array(f) = c else { continue };
                let (Some(name), Some(Reply::Array(flags) | Reply::Set(flags))) =
                    (f.first().and_then(|n| n.as_bytes()), f.get(2))
                else {
                    continue;
                };
                let has = |w: &str| flags.iter().any(|x| x.as_bytes() == Some(w.as_bytes()));
                let name = name.to_ascii_lowercase();
                let class = if has("blocking") {
                    Class::Blocking
                } else if has("fast") || GIL_EXTRA.iter().any(|n| n.as_bytes() == name.as_slice()) {
                    Class::Gil
                } else {
                    Class::Detach
                };
                map.insert(name, class);
            }
        }
        map
    });
}

pub(crate) fn class_of(name: &[u8]) -> Class {
    let mut buf = [0u8; 32];
    if name.len() > buf.len() {
        return Class::Gil; // no such command: an immediate error
    }
    for (d, s) in buf.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    POLICY
        .get()
        .and_then(|m| m.get(&buf[..name.len()]).copied())
        .unwrap_or(Class::Gil)
}

/// `EMBERKV_PY_DETACH=all` releases the GIL around every command (for
/// measuring the policy; see bench/README.md).
static DETACH_ALL: OnceLock<bool> = OnceLock::new();

fn needs_detach(argv: &[Arg<'_>]) -> bool {
    class_of(argv[0].as_ref()) != Class::Gil
        || convert::argv_bytes(argv) > BIG_ARGV
        || *DETACH_ALL.get_or_init(|| std::env::var("EMBERKV_PY_DETACH").is_ok_and(|v| v == "all"))
}

fn config_value(v: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(b) = v.cast::<pyo3::types::PyBool>() {
        return Ok(if b.is_true() { "yes" } else { "no" }.into());
    }
    if let Ok(b) = v.cast::<pyo3::types::PyBytes>() {
        return Ok(String::from_utf8_lossy(b.as_bytes()).into_owned());
    }
    Ok(v.str()?.to_string_lossy().into_owned())
}

/// An open engine (`emberkv::Db`).
#[pyclass(frozen, weakref, module = "emberkv._emberkv")]
pub struct Database {
    db: Mutex<Option<Arc<Db>>>,
    /// Listeners serving this engine: open until closed, or until the
    /// engine closes (also when this object is collected).
    listeners: Mutex<Vec<Arc<emberkv_resp::Listener>>>,
}

#[pymethods]
impl Database {
    /// Opens an engine: `dir` None keeps everything in memory; `config` maps
    /// redis.conf directive names to values (`{"appendonly": "yes"}`).
    #[new]
    #[pyo3(signature = (dir=None, config=None))]
    fn new(
        py: Python<'_>,
        dir: Option<PathBuf>,
        config: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Database> {
        let mut cfg = Config::default();
        let mut pairs = Vec::new();
        if let Some(d) = &dir {
            pairs.push(("dir".to_string(), d.to_string_lossy().into_owned()));
        }
        if let Some(c) = config {
            for (k, v) in c.iter() {
                pairs.push((k.str()?.to_string_lossy().into_owned(), config_value(&v)?));
            }
        }
        for (k, v) in &pairs {
            let name = k.replace('_', "-");
            cfg.set(&name, v)
                .map_err(|e| errors::engine_error(py, &e))?;
        }
        let db = engine_call(py, true, move || Db::open(cfg))?;
        init_policy(&db);
        let db = Arc::new(db);
        let mut live = LIVE_DBS.lock();
        live.retain(|w| w.strong_count() > 0);
        live.push(Arc::downgrade(&db));
        Ok(Database {
            db: Mutex::new(Some(db)),
            listeners: Mutex::new(Vec::new()),
        })
    }

    /// A connection: what one `emberkv.Redis` uses.
    #[pyo3(signature = (decode_responses=false, encoding="utf-8", encoding_errors="strict", db=0))]
    fn connect(
        &self,
        py: Python<'_>,
        decode_responses: bool,
        encoding: &str,
        encoding_errors: &str,
        db: usize,
    ) -> PyResult<Conn> {
        let handle = self.db.lock().clone().ok_or_else(|| errors::closed(py))?;
        Conn::new(
            py,
            Backend::Local(handle),
            decode_responses,
            encoding,
            encoding_errors,
            db,
        )
    }

    /// Serves this engine on Redis's protocol at `url` (`unix:///path.sock`,
    /// `tcp://host:port`); `options` maps redis.conf names (`requirepass`,
    /// `unixsocketperm`, `maxclients`, …) to values.
    #[pyo3(signature = (url, options=None))]
    fn listen(
        &self,
        py: Python<'_>,
        url: &str,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Listener> {
        let db = self.db.lock().clone().ok_or_else(|| errors::closed(py))?;
        let mut pairs = Vec::new();
        if let Some(o) = options {
            for (k, v) in o.iter() {
                pairs.push((k.str()?.to_string_lossy().into_owned(), config_value(&v)?));
            }
        }
        let url = url.to_string();
        // a bind failure is a ConnectionError (as redis-py's for a refused
        // connect), a bad URL or option a ConfigError
        let l = errors::remote_call(py, move || emberkv_resp::listen_with(&db, &url, &pairs))?;
        let l = Arc::new(l);
        let mut live = LIVE_LISTENERS.lock();
        live.retain(|w| w.strong_count() > 0);
        live.push(Arc::downgrade(&l));
        let mut mine = self.listeners.lock();
        mine.retain(|l| !l.is_closed());
        mine.push(l.clone());
        Ok(Listener { inner: l })
    }

    /// Closes the engine for every handle: closes its listeners, flushes,
    /// stops background work.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let db = self.db.lock().take();
        if let Some(db) = db {
            let ls: Vec<_> = std::mem::take(&mut *self.listeners.lock());
            engine_call(py, true, move || {
                ls.iter().for_each(|l| l.close());
                db.close()
            })?;
        }
        Ok(())
    }

    #[getter]
    fn closed(&self) -> bool {
        self.db.lock().as_ref().is_none_or(|d| d.is_closed())
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let ls = std::mem::take(self.listeners.get_mut());
        if !ls.is_empty() {
            Python::attach(|py| py.detach(move || ls.iter().for_each(|l| l.close())));
        }
        release_db(self.db.get_mut().take());
    }
}

/// Drops a Db handle with the GIL released: the last handle closes the
/// engine, which may flush files and join threads.
pub(crate) fn release_db(db: Option<Arc<Db>>) {
    if let Some(db) = db {
        Python::attach(|py| py.detach(move || drop(db)));
    }
}

/// What a Conn's clients talk to: an engine in this process, or a server
/// (a listening emberkv, or any Redis) over a socket.
#[derive(Clone)]
pub(crate) enum Backend {
    Local(Arc<Db>),
    Remote(Arc<Target>),
}

/// One client of either backend.
pub(crate) enum AnyClient {
    // boxed: an engine client's state is several times a connection's
    Local(Box<Client>),
    Remote(Connection),
}

impl AnyClient {
    pub fn exec<A: AsRef<[u8]>>(&mut self, argv: &[A]) -> Result<Reply, Error> {
        match self {
            AnyClient::Local(c) => c.try_execute(argv),
            AnyClient::Remote(c) => c.execute(argv),
        }
    }

    pub fn exec_many(&mut self, argvs: &[Argv<'_>]) -> Result<Vec<Reply>, Error> {
        match self {
            AnyClient::Local(c) => argvs.iter().map(|a| c.try_execute(a)).collect(),
            AnyClient::Remote(c) => c.execute_many(argvs),
        }
    }

    pub fn resp3(&self) -> bool {
        match self {
            AnyClient::Local(c) => c.protocol() == 3,
            AnyClient::Remote(c) => c.protocol() == 3,
        }
    }

    pub fn id(&mut self) -> Result<u64, Error> {
        match self {
            AnyClient::Local(c) => Ok(c.id()),
            AnyClient::Remote(c) => c.id(),
        }
    }

    fn broken(&self) -> bool {
        matches!(self, AnyClient::Remote(c) if c.is_broken())
    }
}

pub(crate) struct ConnShared {
    backend: Mutex<Option<Backend>>,
    remote: bool,
    primary: Mutex<Option<AnyClient>>,
    pool: Mutex<Vec<AnyClient>>,
    pub codec: Arc<Codec>,
    select: usize,
}

const MAX_POOL: usize = 64;

impl ConnShared {
    fn backend(&self, py: Python<'_>) -> PyResult<Backend> {
        self.backend
            .lock()
            .clone()
            .ok_or_else(|| errors::closed(py))
    }

    /// A fresh client, SELECTed like every client of this Conn.
    fn new_client(&self, py: Python<'_>) -> PyResult<AnyClient> {
        match self.backend(py)? {
            Backend::Local(db) => {
                let mut c = db.client();
                if self.select != 0 {
                    let n = self.select.to_string();
                    let r = engine_call(py, false, || c.try_execute(&["SELECT", n.as_str()]))?;
                    if let Reply::Error(e) = r {
                        return Err(errors::reply_error(py, &e));
                    }
                }
                Ok(AnyClient::Local(Box::new(c)))
            }
            Backend::Remote(t) => {
                let mut t = (*t).clone();
                if self.select != 0 {
                    t.db = self.select as u32;
                }
                let c = errors::remote_call(py, move || Connection::open(&t))?;
                Ok(AnyClient::Remote(c))
            }
        }
    }

    fn take_pooled(&self, py: Python<'_>) -> PyResult<AnyClient> {
        if self.backend.lock().is_none() {
            return Err(errors::closed(py));
        }
        let c = self.pool.lock().pop();
        match c {
            Some(c) => Ok(c),
            None => self.new_client(py),
        }
    }

    fn give_back(&self, c: AnyClient) {
        if self.backend.lock().is_none() || c.broken() {
            return;
        }
        let mut pool = self.pool.lock();
        if pool.len() < MAX_POOL {
            pool.push(c);
        }
    }

    /// Runs one encoded command on a free client.
    fn run(&self, py: Python<'_>, argv: &[Arg<'_>]) -> PyResult<(Reply, bool)> {
        let remote = self.remote;
        let detach = remote || needs_detach(argv);
        if let Some(mut g) = self.primary.try_lock() {
            if g.is_none() && remote {
                // lost on an earlier error: reconnect, as redis-py does
                *g = Some(self.new_client(py)?);
            }
            let c = g.as_mut().ok_or_else(|| errors::closed(py))?;
            let res = errors::call(py, detach, remote, || {
                let r = c.exec(argv)?;
                Ok((r, c.resp3()))
            });
            if c.broken() {
                *g = None;
            }
            return res;
        }
        let mut c = self.take_pooled(py)?;
        let res = errors::call(py, detach, remote, || {
            let r = c.exec(argv)?;
            Ok((r, c.resp3()))
        });
        self.give_back(c);
        res
    }
}

/// The connection behind one `emberkv.Redis`.
#[pyclass(frozen, module = "emberkv._emberkv")]
pub struct Conn {
    shared: Arc<ConnShared>,
}

impl Conn {
    fn new(
        py: Python<'_>,
        backend: Backend,
        decode_responses: bool,
        encoding: &str,
        encoding_errors: &str,
        db: usize,
    ) -> PyResult<Conn> {
        let codec = Arc::new(Codec::new(encoding, encoding_errors, decode_responses)?);
        let shared = Arc::new(ConnShared {
            remote: matches!(backend, Backend::Remote(_)),
            backend: Mutex::new(Some(backend)),
            primary: Mutex::new(None),
            pool: Mutex::new(Vec::new()),
            codec,
            select: db,
        });
        let first = shared.new_client(py)?;
        *shared.primary.lock() = Some(first);
        Ok(Conn { shared })
    }
}

#[pymethods]
impl Conn {
    /// Runs one command; returns the reply as redis-py's parser would
    /// (before response callbacks); an error reply raises.
    #[pyo3(signature = (*args))]
    fn execute<'py>(
        &self,
        py: Python<'py>,
        args: &Bound<'py, PyTuple>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut argv: Argv<'_> = Argv::new();
        convert::encode_argv(py, args, &self.shared.codec, &mut argv)?;
        let (r, resp3) = self.shared.run(py, &argv)?;
        convert::reply(py, &r, &self.shared.codec, resp3)
    }

    /// Runs one command on a new thread with its own client, then calls
    /// `done(value, is_error)` on that thread (with the GIL). For asyncio:
    /// `done` hands the value to the event loop with `call_soon_threadsafe`.
    /// Returns the client id (for CLIENT UNBLOCK on cancellation).
    #[pyo3(signature = (done, *args))]
    fn execute_threaded(
        &self,
        py: Python<'_>,
        done: Py<PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<u64> {
        let mut argv: Argv<'_> = Argv::new();
        convert::encode_argv(py, args, &self.shared.codec, &mut argv)?;
        let owned: Vec<Vec<u8>> = argv.iter().map(|a| a.as_ref().to_vec()).collect();
        let mut c = self.shared.take_pooled(py)?;
        let remote = self.shared.remote;
        let id = match errors::call(py, remote, remote, || c.id()) {
            Ok(id) => id,
            Err(e) => {
                self.shared.give_back(c);
                return Err(e);
            }
        };
        let shared = self.shared.clone();
        std::thread::Builder::new()
            .name("emberkv-blocking".into())
            .spawn(move || {
                let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let r = c.exec(&owned);
                    (r, c.resp3())
                }));
                shared.give_back(c);
                Python::attach(|py| {
                    let (val, is_err) = match res {
                        Ok((Ok(r), resp3)) => match convert::reply(py, &r, &shared.codec, resp3) {
                            Ok(v) => (v.unbind(), false),
                            Err(e) => (e.into_value(py).into_any(), true),
                        },
                        Ok((Err(e), _)) => (
                            errors::any_error(py, &e, remote).into_value(py).into_any(),
                            true,
                        ),
                        Err(_) => {
                            let e = errors::engine_call::<(), _>(py, false, || {
                                panic!("blocking command")
                            });
                            (e.unwrap_err().into_value(py).into_any(), true)
                        }
                    };
                    if let Err(e) = done.call1(py, (val, is_err)) {
                        e.write_unraisable(py, None);
                    }
                });
            })
            .map_err(|e| {
                pyo3::exceptions::PyRuntimeError::new_err(format!("cannot start a thread: {e}"))
            })?;
        Ok(id)
    }

    /// A dedicated client (pipelines, transactions).
    fn session(&self, py: Python<'_>) -> PyResult<Session> {
        let c = self.shared.new_client(py)?;
        Ok(Session {
            client: Mutex::new(Some(c)),
            codec: self.shared.codec.clone(),
            remote: self.shared.remote,
        })
    }

    /// A new pub/sub subscription.
    fn subscription(&self, py: Python<'_>) -> PyResult<Subscription> {
        match self.shared.backend(py)? {
            Backend::Local(db) => Ok(Subscription::new(
                crate::pubsub::Sub::Local(db.subscribe()),
                self.shared.codec.clone(),
            )),
            Backend::Remote(t) => {
                let s =
                    errors::remote_call(py, move || emberkv_resp::client::Subscriber::open(&t))?;
                Ok(Subscription::new(
                    crate::pubsub::Sub::Remote(s),
                    self.shared.codec.clone(),
                ))
            }
        }
    }

    /// "gil", "detach" or "blocking": how `name` runs (tests, asyncio).
    fn command_class(&self, name: &[u8]) -> &'static str {
        match class_of(name) {
            Class::Gil if self.shared.remote => "detach",
            Class::Gil => "gil",
            Class::Detach => "detach",
            Class::Blocking => "blocking",
        }
    }

    #[getter]
    fn decode_responses(&self) -> bool {
        self.shared.codec.decode
    }

    /// Whether this connection talks to a server over a socket (from_url).
    #[getter]
    fn remote(&self) -> bool {
        self.shared.remote
    }

    /// Releases this connection's clients and engine handle (the engine
    /// closes when its last handle goes).
    fn close(&self, py: Python<'_>) {
        let db = self.shared.backend.lock().take();
        let primary = self.shared.primary.try_lock().and_then(|mut g| g.take());
        let pool: Vec<AnyClient> = std::mem::take(&mut *self.shared.pool.lock());
        py.detach(move || {
            drop(primary);
            drop(pool);
            drop(db);
        });
    }

    #[getter]
    fn closed(&self) -> bool {
        match &*self.shared.backend.lock() {
            None => true,
            Some(Backend::Local(d)) => d.is_closed(),
            Some(Backend::Remote(_)) => false,
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if Arc::strong_count(&self.shared) == 1
            && let Some(Backend::Local(db)) = self.shared.backend.lock().take()
        {
            release_db(Some(db));
        }
    }
}

/// One dedicated client: its MULTI queue and WATCHed keys belong to
/// whoever holds the Session (a pipeline).
#[pyclass(frozen, module = "emberkv._emberkv")]
pub struct Session {
    client: Mutex<Option<AnyClient>>,
    codec: Arc<Codec>,
    remote: bool,
}

impl Session {
    /// Locks the client without ever waiting while holding the GIL.
    fn with_client<T>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut AnyClient) -> PyResult<T>,
    ) -> PyResult<T> {
        loop {
            if let Some(mut g) = self.client.try_lock() {
                let c = g.as_mut().ok_or_else(|| errors::closed(py))?;
                return f(c);
            }
            py.detach(|| drop(self.client.lock()));
        }
    }
}

#[pymethods]
impl Session {
    #[pyo3(signature = (*args))]
    fn execute<'py>(
        &self,
        py: Python<'py>,
        args: &Bound<'py, PyTuple>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut argv: Argv<'_> = Argv::new();
        convert::encode_argv(py, args, &self.codec, &mut argv)?;
        let remote = self.remote;
        let detach = remote || needs_detach(&argv);
        let (r, resp3) = self.with_client(py, |c| {
            errors::call(py, detach, remote, || {
                let r = c.exec(&argv)?;
                Ok((r, c.resp3()))
            })
        })?;
        convert::reply(py, &r, &self.codec, resp3)
    }

    /// Runs a batch of commands (a list of argument tuples) back to back on
    /// this client (one write and one round trip over a socket), releasing
    /// the GIL once for the batch when it is large or slow. Error replies
    /// come back as exception instances, never raised.
    fn execute_many<'py>(
        &self,
        py: Python<'py>,
        commands: &Bound<'py, PyList>,
    ) -> PyResult<Bound<'py, PyList>> {
        let tuples: Vec<Bound<'py, PyTuple>> = commands
            .iter()
            .map(|c| c.cast_into::<PyTuple>().map_err(PyErr::from))
            .collect::<PyResult<_>>()?;
        let mut argvs: Vec<Argv<'_>> = Vec::with_capacity(tuples.len());
        for t in &tuples {
            let mut argv = Argv::new();
            convert::encode_argv(py, t, &self.codec, &mut argv)?;
            argvs.push(argv);
        }
        let remote = self.remote;
        let detach = remote || argvs.len() > 16 || argvs.iter().any(|a| needs_detach(a));
        let (replies, resp3) = self.with_client(py, |c| {
            errors::call(py, detach, remote, || {
                let out = c.exec_many(&argvs)?;
                Ok((out, c.resp3()))
            })
        })?;
        let items = replies
            .iter()
            .map(|r| convert::reply_no_raise(py, r, &self.codec, resp3))
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, items)
    }

    /// The client id (CLIENT ID).
    #[getter]
    fn id(&self, py: Python<'_>) -> PyResult<u64> {
        let remote = self.remote;
        self.with_client(py, |c| errors::call(py, remote, remote, || c.id()))
    }

    fn close(&self, py: Python<'_>) {
        let c = self.client.try_lock().and_then(|mut g| g.take());
        py.detach(move || drop(c));
    }
}

/// A server to attach to (`emberkv.Redis.from_url("unix:///…")`): a
/// listening emberkv, or any Redis server. Same `connect` as `Database`.
#[pyclass(frozen, module = "emberkv._emberkv")]
pub struct Remote {
    target: Mutex<Option<Arc<Target>>>,
    url: String,
}

#[pymethods]
impl Remote {
    /// `unix:///path.sock`, `tcp://host:port`, `redis://[[user]:password@]host[:port][/db]`.
    #[new]
    fn new(py: Python<'_>, url: &str) -> PyResult<Remote> {
        let t = Target::parse(url)
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.message().to_string()))?;
        // the GIL policy (which commands block) comes from the engine's
        // command table, also when no engine is open in this process
        if POLICY.get().is_none() {
            let db = Db::in_memory();
            init_policy(&db);
            engine_call(py, true, move || db.close())?;
        }
        Ok(Remote {
            target: Mutex::new(Some(Arc::new(t))),
            url: url.to_string(),
        })
    }

    /// A connection (a pool of sockets) for one `emberkv.Redis`.
    #[pyo3(signature = (decode_responses=false, encoding="utf-8", encoding_errors="strict", db=0))]
    fn connect(
        &self,
        py: Python<'_>,
        decode_responses: bool,
        encoding: &str,
        encoding_errors: &str,
        db: usize,
    ) -> PyResult<Conn> {
        let t = self
            .target
            .lock()
            .clone()
            .ok_or_else(|| errors::closed(py))?;
        Conn::new(
            py,
            Backend::Remote(t),
            decode_responses,
            encoding,
            encoding_errors,
            db,
        )
    }

    /// The database number the URL selects.
    #[getter]
    fn db(&self) -> u32 {
        self.target.lock().as_ref().map_or(0, |t| t.db)
    }

    #[getter]
    fn url(&self) -> &str {
        &self.url
    }

    /// No new connections (open ones stay until their clients close).
    fn close(&self) {
        self.target.lock().take();
    }

    #[getter]
    fn closed(&self) -> bool {
        self.target.lock().is_none()
    }
}

/// A listener serving an engine on Redis's protocol (`Redis.listen`).
#[pyclass(frozen, module = "emberkv._emberkv")]
pub struct Listener {
    inner: Arc<emberkv_resp::Listener>,
}

#[pymethods]
impl Listener {
    /// The bound address as a URL (`tcp://127.0.0.1:6390` with the real
    /// port when 0 was asked for, or `unix:///path.sock`).
    #[getter]
    fn address(&self) -> String {
        self.inner.local_addr().to_string()
    }

    /// Stops accepting and closes every connection; idempotent.
    fn close(&self, py: Python<'_>) {
        let l = self.inner.clone();
        py.detach(move || l.close());
    }

    #[getter]
    fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, PyTuple>) -> bool {
        self.close(py);
        false
    }

    fn __repr__(&self) -> String {
        format!("<emberkv.Listener {}>", self.inner.local_addr())
    }
}
