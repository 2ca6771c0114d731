//! Blocking commands (BLPOP, BLMOVE, BZPOPMIN, XREAD BLOCK, …) off the JS thread.
//!
//! Each call runs on its own client on a thread of a private, growing pool and
//! settles a Promise through a napi deferred. Not libuv's threadpool (napi
//! `AsyncTask`): that has 4 threads by default, and four `BLPOP q 0` parked
//! there would stall every `fs`, `dns.lookup`, `zlib` and `crypto` callback of
//! the process until a push arrives. Idle pool threads exit after a while;
//! none of them keeps the event loop alive (the pending Promise's deferred does,
//! as a pending ioredis command keeps its socket).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use napi::Env;
use parking_lot::Mutex;

use crate::reply::Owned;
use crate::state::Engine;

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

/// Runs `argv` (selecting `db` first) on a pool thread; returns the Promise.
pub fn run(
    env: &Env,
    eng: Arc<Engine>,
    db: usize,
    argv: Vec<Vec<u8>>,
    flags: u32,
) -> napi::Result<napi::sys::napi_value> {
    let (deferred, promise) = env.create_deferred::<Owned, _>()?;
    spawn(Box::new(move || {
        let mut client = eng.db.client();
        let id = client.id();
        let reply = if db != 0 {
            match client.execute(&[b"SELECT".to_vec(), db.to_string().into_bytes()]) {
                r @ emberkv::Reply::Error(_) => r,
                _ => run_registered(&eng, &mut client, id, &argv),
            }
        } else {
            run_registered(&eng, &mut client, id, &argv)
        };
        drop(client);
        deferred.resolve(move |_env| Ok(Owned { reply, flags }));
    }));
    Ok(napi::bindgen_prelude::JsValue::raw(&promise))
}

fn run_registered(
    eng: &Engine,
    client: &mut emberkv::Client,
    id: u64,
    argv: &[Vec<u8>],
) -> emberkv::Reply {
    eng.blocked.lock().insert(id);
    let r = match client.try_execute(argv) {
        Ok(r) => r,
        Err(e) => emberkv::Reply::Error(format!("ERR {e}")),
    };
    eng.blocked.lock().remove(&id);
    r
}
