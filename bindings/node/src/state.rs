//! Open engines and connections.
//!
//! A JS `Ember` holds a small integer handle into this thread's connection
//! slab (a handle is cheaper to pass and check than an `External`). Each
//! connection is one `emberkv::Client` (its own selected database, WATCH
//! state, MULTI queue) on a shared engine.
//!
//! Engines opened on a directory are shared process-wide (also across worker
//! threads): a second `new Ember({ path })` on the same directory gets a new
//! client on the engine already open there instead of a second engine writing
//! the same files. An engine closes (flushing) when its last connection closes.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Weak};

use emberkv::{Client, Config, Db, Reply};
use emberkv_resp::client::{Connection, Target};
use napi::sys::{napi_env, napi_value};
use parking_lot::Mutex;

use crate::args::ArgBuf;
use crate::js::{self, Ref};

pub struct Engine {
    pub db: Db,
    /// Listeners serving it (`db.listen`), closed with it.
    pub listeners: Mutex<Vec<Weak<emberkv_resp::Listener>>>,
    /// The directory it was opened on (registry key), if any.
    key: Option<PathBuf>,
    /// Connections open on it (guarded by `REGISTRY` for registered engines).
    users: Mutex<usize>,
}

static REGISTRY: Mutex<Option<HashMap<PathBuf, Weak<Engine>>>> = Mutex::new(None);

impl Engine {
    /// Opens (or joins) an engine; counts one user.
    pub fn open(path: Option<&str>, params: &[(String, String)]) -> Result<Arc<Engine>, String> {
        let mut cfg = Config::default();
        for (k, v) in params {
            cfg.set(k, v).map_err(|e| e.to_string())?;
        }
        if let Some(p) = path {
            cfg.set("dir", p).map_err(|e| e.to_string())?;
        }
        let Some(dir) = cfg.dir.clone() else {
            let db = Db::open(cfg).map_err(|e| e.to_string())?;
            return Ok(Arc::new(Engine {
                db,
                listeners: Mutex::new(Vec::new()),
                key: None,
                users: Mutex::new(1),
            }));
        };
        let key = std::path::absolute(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let key = std::fs::canonicalize(&key).unwrap_or(key);
        let mut reg = REGISTRY.lock();
        let reg = reg.get_or_insert_with(HashMap::new);
        if let Some(eng) = reg.get(&key).and_then(Weak::upgrade) {
            let mut users = eng.users.lock();
            if *users > 0 {
                *users += 1;
                drop(users);
                return Ok(eng);
            }
        }
        let db = Db::open(cfg).map_err(|e| e.to_string())?;
        let eng = Arc::new(Engine {
            db,
            listeners: Mutex::new(Vec::new()),
            key: Some(key.clone()),
            users: Mutex::new(1),
        });
        reg.insert(key, Arc::downgrade(&eng));
        Ok(eng)
    }

    /// One more connection on this engine (`duplicate()`).
    pub fn add_user(&self) {
        let _reg = self.key.as_ref().map(|_| REGISTRY.lock());
        *self.users.lock() += 1;
    }

    /// One connection fewer; the last one closes the engine.
    pub fn remove_user(&self) {
        let mut reg = self.key.as_ref().map(|_| REGISTRY.lock());
        let mut users = self.users.lock();
        *users = users.saturating_sub(1);
        if *users > 0 {
            return;
        }
        drop(users);
        if let (Some(reg), Some(key)) = (reg.as_mut().and_then(|r| r.as_mut()), &self.key) {
            reg.remove(key);
        }
        // still under the registry lock: a new open of the same directory waits
        // until this engine has flushed and let go of its files
        self.close();
        drop(reg);
    }

    /// Closes the engine (which fails its blocked commands with an error)
    /// and its listeners.
    pub fn close(&self) {
        let ls: Vec<_> = self
            .listeners
            .lock()
            .drain(..)
            .filter_map(|w| w.upgrade())
            .collect();
        ls.iter().for_each(|l| l.close());
        let _ = self.db.close();
    }
}

/// A connection: an engine client in this process, or a socket to a server
/// (`Ember.fromUrl`).
pub enum Conn {
    Local {
        eng: Arc<Engine>,
        // boxed: an engine client's state is several times a socket's
        client: Box<Client>,
    },
    Remote {
        target: Arc<Target>,
        /// None after the connection was lost: the next call reconnects.
        conn: Option<Connection>,
    },
}

impl Conn {
    /// Runs one command; `Err` is a connection failure (its message).
    pub fn execute<A: AsRef<[u8]>>(&mut self, argv: &[A]) -> Result<Reply, emberkv::Error> {
        match self {
            Conn::Local { client, .. } => Ok(client.execute(argv)),
            Conn::Remote { target, conn } => {
                let c = match conn {
                    Some(c) => c,
                    None => conn.insert(Connection::open(target)?),
                };
                let r = c.execute(argv);
                if c.is_broken() {
                    *conn = None;
                }
                r
            }
        }
    }

    /// Runs commands back to back (one round trip over a socket).
    pub fn execute_many(&mut self, argvs: &[Vec<Vec<u8>>]) -> Result<Vec<Reply>, emberkv::Error> {
        match self {
            Conn::Local { client, .. } => Ok(argvs.iter().map(|a| client.execute(a)).collect()),
            Conn::Remote { target, conn } => {
                let c = match conn {
                    Some(c) => c,
                    None => conn.insert(Connection::open(target)?),
                };
                let r = c.execute_many(argvs);
                if c.is_broken() {
                    *conn = None;
                }
                r
            }
        }
    }

    /// The engine, for a local connection.
    pub fn engine(&self) -> Option<&Arc<Engine>> {
        match self {
            Conn::Local { eng, .. } => Some(eng),
            Conn::Remote { .. } => None,
        }
    }
}

enum Slot {
    Free,
    Open(Box<Conn>),
    /// Closed, but the JS object may still call (and gets "closed" errors).
    Closed,
}

#[derive(Default)]
struct State {
    slots: Vec<Slot>,
    free: Vec<u32>,
    reply_error: Option<Ref>,
    /// The SCRATCH Buffer: a reference keeps its memory alive, the pointer writes it.
    scratch: Option<(Ref, *mut u8, usize)>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::default();
    /// Scratch argument buffer, reused by every call.
    pub static ARGS: RefCell<ArgBuf> = RefCell::default();
}

pub fn insert(conn: Conn) -> u32 {
    STATE.with_borrow_mut(|s| {
        let slot = Slot::Open(Box::new(conn));
        match s.free.pop() {
            Some(i) => {
                s.slots[i as usize] = slot;
                i
            }
            None => {
                s.slots.push(slot);
                (s.slots.len() - 1) as u32
            }
        }
    })
}

pub enum Access<R> {
    Ok(R),
    Closed,
    Invalid,
}

/// Runs `f` on the connection behind handle `h`. `f` must not call into JS.
#[inline]
pub fn with_conn<R>(h: u32, f: impl FnOnce(&mut Conn) -> R) -> Access<R> {
    STATE.with_borrow_mut(|s| match s.slots.get_mut(h as usize) {
        Some(Slot::Open(c)) => Access::Ok(f(c)),
        Some(Slot::Closed) => Access::Closed,
        _ => Access::Invalid,
    })
}

/// Closes the connection (the engine too, if it was the last one).
pub fn close(h: u32) {
    let conn = STATE.with_borrow_mut(|s| match s.slots.get_mut(h as usize) {
        Some(slot @ Slot::Open(_)) => match std::mem::replace(slot, Slot::Closed) {
            Slot::Open(c) => Some(c),
            _ => None,
        },
        _ => None,
    });
    // dropped outside the borrow: closing may take a while (flush)
    if let Some(conn) = conn
        && let Conn::Local { eng, client } = *conn
    {
        drop(client);
        eng.remove_user();
    }
}

/// The JS object behind `h` was garbage collected: close it and free the slot.
pub fn release(h: u32) {
    close(h);
    STATE.with_borrow_mut(|s| {
        if let Some(slot) = s.slots.get_mut(h as usize)
            && matches!(slot, Slot::Closed)
        {
            *slot = Slot::Free;
            s.free.push(h);
        }
    });
}

/// Closes every connection of this thread (process exit, worker teardown).
pub fn close_all() {
    let n = STATE.with_borrow(|s| s.slots.len());
    for h in 0..n {
        close(h as u32);
    }
}

pub unsafe fn set_reply_error_ctor(env: napi_env, ctor: napi_value) -> js::JsResult<()> {
    let r = unsafe { Ref::new(env, ctor)? };
    let old = STATE.with_borrow_mut(|s| s.reply_error.replace(r));
    if let Some(old) = old {
        unsafe { old.delete(env) };
    }
    Ok(())
}

pub unsafe fn reply_error_ctor(env: napi_env) -> Option<napi_value> {
    let r = STATE.with_borrow(|s| s.reply_error.as_ref().map(|r| r.0))?;
    unsafe { Ref(r).value(env).ok() }
}

pub unsafe fn set_scratch(env: napi_env, buf: napi_value) -> js::JsResult<()> {
    let mut data = std::ptr::null_mut();
    let mut len = 0usize;
    unsafe {
        js::ok(napi::sys::napi_get_buffer_info(
            env, buf, &mut data, &mut len,
        ))?;
        let r = Ref::new(env, buf)?;
        let old = STATE.with_borrow_mut(|s| s.scratch.replace((r, data as *mut u8, len)));
        if let Some((old, _, _)) = old {
            old.delete(env);
        }
    }
    Ok(())
}

/// Writes `len` (u32 LE) and `b` into the scratch Buffer; false if it does not fit.
pub fn write_scratch(b: &[u8]) -> bool {
    STATE.with_borrow(|s| match s.scratch {
        Some((_, ptr, cap)) if b.len() + 4 <= cap => {
            // SAFETY: the Buffer is kept alive by the reference and is only touched on this thread
            unsafe {
                std::ptr::copy_nonoverlapping((b.len() as u32).to_le_bytes().as_ptr(), ptr, 4);
                std::ptr::copy_nonoverlapping(b.as_ptr(), ptr.add(4), b.len());
            }
            true
        }
        _ => false,
    })
}
