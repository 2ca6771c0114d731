//! Blocking commands (BLPOP, BLMOVE, BZPOPMIN, XREAD BLOCK, …) off the JS thread.
//!
//! Each call runs on its own client on a thread of a private, growing pool;
//! results come back to the JS thread through one threadsafe function per
//! thread (batched), which resolves the Promises kept in lib/ember.js. Not
//! libuv's threadpool (napi `AsyncTask`): that has 4 threads by default, and
//! four `BLPOP q 0` parked there would stall every `fs`, `dns.lookup`, `zlib`
//! and `crypto` callback of the process until a push arrives. Not a napi
//! deferred either: its reference on the event loop cannot be dropped, and
//! `close()` must be able to give up on a call the engine never returns from.
//! The threadsafe function is referenced (keeps the process alive, as a
//! pending ioredis command does) exactly while calls are awaited. Idle pool
//! threads exit after a while and never hold the process.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::ffi::c_void;
use std::ptr;

use emberkv::Reply;
use napi::sys::{self, napi_env, napi_value};
use parking_lot::Mutex;

use crate::js::{self, JsResult};
use crate::reply;
use crate::state::Engine;
use emberkv_resp::client::{Closer, Connection, Target};

type Job = Box<dyn FnOnce() + Send>;

/// Idle pool threads: (thread number, its job channel).
static IDLE: Mutex<Vec<(u64, Sender<Job>)>> = Mutex::new(Vec::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(0);
const IDLE_EXIT: Duration = Duration::from_secs(30);

fn spawn(job: Job) {
    let mut job = job;
    while let Some((_, tx)) = IDLE.lock().pop() {
        match tx.send(job) {
            Ok(()) => return,
            Err(mpsc::SendError(j)) => job = j, // that thread just timed out
        }
    }
    let (tx, rx) = mpsc::channel::<Job>();
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let started = std::thread::Builder::new()
        .name("emberkv-blocking".into())
        .spawn(move || worker(id, job, tx, rx));
    if let Err(e) = started {
        eprintln!("emberkv: cannot start a thread for a blocking command: {e}");
    }
}

fn worker(id: u64, first: Job, tx: Sender<Job>, rx: Receiver<Job>) {
    first();
    loop {
        IDLE.lock().push((id, tx.clone()));
        match rx.recv_timeout(IDLE_EXIT) {
            Ok(job) => job(),
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {
                // leave the idle list; a sender that raced us gets SendError and moves on
                IDLE.lock().retain(|(i, _)| *i != id);
                // a job may have been sent between the timeout and the retain
                while let Ok(job) = rx.try_recv() {
                    job();
                }
                return;
            }
        }
    }
}

type Done = (u32, Reply, u32);

/// Results on their way to the JS thread, and the threadsafe function that
/// wakes it (cleared by its finalizer, only called under the mutex).
struct Completions {
    /// (call id, reply, reply flags) not yet handed over; whether a wake-up is pending.
    q: Mutex<(Vec<Done>, bool)>,
    tsfn: Mutex<Option<Tsfn>>,
}

struct Tsfn(sys::napi_threadsafe_function);
// only used under `Completions::tsfn`'s mutex; napi allows calls from any thread
unsafe impl Send for Tsfn {}

impl Completions {
    fn push(&self, id: u32, reply: Reply, flags: u32) {
        let mut q = self.q.lock();
        q.0.push((id, reply, flags));
        if q.1 {
            return;
        }
        q.1 = true;
        drop(q);
        if let Some(t) = &*self.tsfn.lock() {
            unsafe {
                sys::napi_call_threadsafe_function(
                    t.0,
                    ptr::null_mut(),
                    sys::ThreadsafeFunctionCallMode::nonblocking,
                )
            };
        }
    }
}

/// This JS thread's side: the shared queue and the calls still awaited.
struct Local {
    shared: Arc<Completions>,
    pending: HashSet<u32>,
    refed: bool,
}

thread_local! {
    static LOCAL: RefCell<Option<Local>> = const { RefCell::new(None) };
}

/// References the threadsafe function (keeps the process alive) exactly while calls are awaited.
unsafe fn update_ref(env: napi_env, l: &mut Local) {
    let want = !l.pending.is_empty();
    if want == l.refed {
        return;
    }
    if let Some(t) = &*l.shared.tsfn.lock() {
        unsafe {
            if want {
                sys::napi_ref_threadsafe_function(env, t.0);
            } else {
                sys::napi_unref_threadsafe_function(env, t.0);
            }
        }
    }
    l.refed = want;
}

/// On the JS thread: hands finished calls to `complete([id, value, id, value, …])`.
unsafe extern "C" fn call_js(
    env: napi_env,
    js_cb: napi_value,
    context: *mut c_void,
    _data: *mut c_void,
) {
    if env.is_null() || js_cb.is_null() {
        return;
    }
    let shared = unsafe { &*(context as *const Completions) };
    let done = {
        let mut q = shared.q.lock();
        q.1 = false;
        std::mem::take(&mut q.0)
    };
    // calls abandoned by close() are dropped here
    let done: Vec<_> = LOCAL.with_borrow_mut(|l| match l {
        Some(l) => {
            let kept = done
                .into_iter()
                .filter(|(id, _, _)| l.pending.remove(id))
                .collect();
            unsafe { update_ref(env, l) };
            kept
        }
        None => Vec::new(),
    });
    if done.is_empty() {
        return;
    }
    unsafe {
        let Ok(arr) = js::array(env, done.len() * 2) else {
            return;
        };
        for (i, (id, reply, flags)) in done.iter().enumerate() {
            let (Ok(idv), Ok(v)) = (js::uint32(env, *id), reply::to_js(env, reply, *flags)) else {
                return;
            };
            let _ = js::set_element(env, arr, 2 * i as u32, idv);
            let _ = js::set_element(env, arr, 2 * i as u32 + 1, v);
        }
        let mut out = ptr::null_mut();
        if sys::napi_call_function(env, js::undefined(env), js_cb, 1, &arr, &mut out)
            != sys::Status::napi_ok
        {
            let mut err = ptr::null_mut();
            if sys::napi_get_and_clear_last_exception(env, &mut err) == sys::Status::napi_ok
                && !err.is_null()
            {
                sys::napi_fatal_exception(env, err);
            }
        }
    }
}

unsafe extern "C" fn finalize(_env: napi_env, data: *mut c_void, _hint: *mut c_void) {
    let shared = unsafe { Arc::from_raw(data as *const Completions) };
    shared.tsfn.lock().take();
}

/// `blockingInit(complete)`: once per JS thread, before any blocking call.
pub unsafe fn init(env: napi_env, complete: napi_value) -> JsResult<()> {
    let shared = Arc::new(Completions {
        q: Mutex::new((Vec::new(), false)),
        tsfn: Mutex::new(None),
    });
    let context = Arc::into_raw(shared.clone()) as *mut c_void;
    let mut tsfn = ptr::null_mut();
    unsafe {
        let name = js::string(env, b"emberkv.blocking")?;
        let status = sys::napi_create_threadsafe_function(
            env,
            complete,
            ptr::null_mut(),
            name,
            0,
            1,
            context,
            Some(finalize),
            context,
            Some(call_js),
            &mut tsfn,
        );
        if status != sys::Status::napi_ok {
            drop(Arc::from_raw(context as *const Completions));
            return Err(js::throw_error(
                env,
                "ERR",
                "emberkv: cannot create a threadsafe function",
            ));
        }
        sys::napi_unref_threadsafe_function(env, tsfn);
    }
    *shared.tsfn.lock() = Some(Tsfn(tsfn));
    let old = LOCAL.with_borrow_mut(|l| {
        l.replace(Local {
            shared,
            pending: HashSet::new(),
            refed: false,
        })
    });
    if let Some(old) = old
        && let Some(t) = old.shared.tsfn.lock().take()
    {
        unsafe {
            sys::napi_release_threadsafe_function(t.0, sys::ThreadsafeFunctionReleaseMode::abort)
        };
    }
    Ok(())
}

/// Where a blocking command runs: a new client of a local engine (in the
/// connection's database), or a new socket to the server of a remote one.
pub enum Work {
    Local(Arc<Engine>, usize),
    Remote(Target),
}

/// A remote blocking call in flight.
enum Remote {
    /// Queued for a pool thread.
    Pending,
    /// Waiting on the server: `cancel` shuts its socket down.
    Running(Closer),
    /// Cancelled before it started: it won't.
    Cancelled,
}

/// Remote blocking calls by id, so `cancel` (close() with calls in flight)
/// leaves no thread waiting forever on a server for a Promise nobody holds.
static REMOTE: Mutex<Option<HashMap<u32, Remote>>> = Mutex::new(None);

fn remote(id: u32, t: Target, argv: &[Vec<u8>]) -> Reply {
    let err = |e: emberkv::Error| Reply::Error(format!("ERR {}", e.message()));
    let mut c = match Connection::open(&t) {
        Ok(c) => c,
        Err(e) => return err(e),
    };
    {
        let mut m = REMOTE.lock();
        let m = m.get_or_insert_with(HashMap::new);
        if matches!(m.get(&id), Some(Remote::Cancelled)) {
            m.remove(&id);
            return Reply::Error("ERR cancelled".into());
        }
        if let Ok(cl) = c.closer() {
            m.insert(id, Remote::Running(cl));
        }
    }
    let r = c.execute(argv).unwrap_or_else(err);
    if let Some(m) = REMOTE.lock().as_mut() {
        m.remove(&id);
    }
    r
}

/// Runs `argv` per `work` on a pool thread; the result comes back through
/// `complete` under `id`.
pub unsafe fn run(
    env: napi_env,
    id: u32,
    work: Work,
    argv: Vec<Vec<u8>>,
    flags: u32,
) -> JsResult<()> {
    let shared = LOCAL.with_borrow_mut(|l| {
        let l = l.as_mut()?;
        l.pending.insert(id);
        unsafe { update_ref(env, l) };
        Some(l.shared.clone())
    });
    let Some(shared) = shared else {
        return Err(unsafe { js::throw_error(env, "ERR", "emberkv: blockingInit was not called") });
    };
    let (eng, db) = match work {
        Work::Local(eng, db) => (eng, db),
        Work::Remote(t) => {
            REMOTE
                .lock()
                .get_or_insert_with(HashMap::new)
                .insert(id, Remote::Pending);
            spawn(Box::new(move || {
                let reply = remote(id, t, &argv);
                shared.push(id, reply, flags);
            }));
            return Ok(());
        }
    };
    spawn(Box::new(move || {
        let mut client = eng.db.client();
        let reply = match db {
            0 => execute(&mut client, &argv),
            _ => match client.execute(&[b"SELECT".to_vec(), db.to_string().into_bytes()]) {
                r @ Reply::Error(_) => r,
                _ => execute(&mut client, &argv),
            },
        };
        drop(client);
        shared.push(id, reply, flags);
    }));
    Ok(())
}

/// `cancelBlocking(...ids)`: close() gave up on these calls (their Promises
/// were rejected); their results, if they ever come, are dropped.
pub unsafe fn cancel(env: napi_env, ids: &[u32]) {
    {
        let mut m = REMOTE.lock();
        let m = m.get_or_insert_with(HashMap::new);
        for id in ids {
            match m.get_mut(id) {
                Some(Remote::Running(c)) => c.close(),
                Some(r @ Remote::Pending) => *r = Remote::Cancelled,
                _ => {}
            }
        }
    }
    LOCAL.with_borrow_mut(|l| {
        if let Some(l) = l {
            for id in ids {
                l.pending.remove(id);
            }
            unsafe { update_ref(env, l) };
        }
    });
}

/// Env teardown: stop waking this thread.
pub fn shutdown() {
    if let Some(l) = LOCAL.with_borrow_mut(|l| l.take())
        && let Some(t) = l.shared.tsfn.lock().take()
    {
        unsafe {
            sys::napi_release_threadsafe_function(t.0, sys::ThreadsafeFunctionReleaseMode::abort)
        };
    }
}

fn execute(client: &mut emberkv::Client, argv: &[Vec<u8>]) -> Reply {
    match client.try_execute(argv) {
        Ok(r) => r,
        Err(e) => Reply::Error(format!("ERR {e}")),
    }
}
