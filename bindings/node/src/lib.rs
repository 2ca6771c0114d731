//! Node binding for emberkv: the native half of the npm package `emberkv`.
//!
//! This module only converts: JS arguments to argv bytes, `Reply` to JS
//! values. The ioredis-shaped API (`Ember`, pipelines, the subscriber
//! EventEmitter, the Promise flavour) is JavaScript in `lib/`, calling the
//! free functions registered here with a connection handle as the first
//! argument. They are internal: their shapes may change with the JS beside them.

/// Counts allocations so `maxmemory` and INFO `used_memory` see real bytes.
#[global_allocator]
static ALLOC: emberkv::alloc::Counting = emberkv::alloc::Counting::system();

mod args;
mod blocking;
mod js;
mod pubsub;
mod reply;
mod state;

use napi::sys::{self, napi_callback_info, napi_env, napi_value};
use napi::{Env, bindgen_prelude::Object};
use napi_derive::napi;

use crate::js::{CbArgs, JsResult, Thrown};
use crate::state::{ARGS, Access};

/// Runs a callback body: a `JsResult` becomes what napi expects (NULL =
/// exception pending), and a panic becomes a thrown JS Error instead of
/// aborting the process.
pub(crate) fn guard(env: napi_env, f: impl FnOnce() -> JsResult<napi_value>) -> napi_value {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r.unwrap_or(std::ptr::null_mut()),
        Err(p) => {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".into());
            unsafe {
                js::throw_error(
                    env,
                    "ERR_EMBERKV_PANIC",
                    &format!("emberkv: internal error: {msg}"),
                )
            };
            std::ptr::null_mut()
        }
    }
}

pub(crate) unsafe fn closed_or_invalid<T>(env: napi_env, a: &Access<T>) -> Thrown {
    unsafe {
        match a {
            Access::Closed => js::throw_error(env, "ECLOSED", "Connection is closed."),
            _ => js::throw_error(
                env,
                "ERR_INVALID_HANDLE",
                "emberkv: invalid connection handle",
            ),
        }
    }
}

/// `init(ReplyError, scratch)`: the class used for error replies, and the
/// Buffer that `run` fills for the SCRATCH flag.
unsafe extern "C" fn init_cb(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(env, || unsafe {
        let a = CbArgs::get(env, info)?;
        let a = a.as_slice();
        let ctor = *a.first().ok_or(Thrown)?;
        state::set_reply_error_ctor(env, ctor)?;
        if let Some(&buf) = a.get(1) {
            state::set_scratch(env, buf)?;
        }
        Ok(js::undefined(env))
    })
}

/// `open(path | null, [name, value, ...]) -> handle`
unsafe extern "C" fn open_cb(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(env, || unsafe {
        let a = CbArgs::get(env, info)?;
        let a = a.as_slice();
        if a.len() < 2 {
            return Err(js::throw_type_error(env, "emberkv: open(path, params)"));
        }
        let path = match js::type_of(env, a[0]) {
            sys::ValueType::napi_string => Some(js::string_of(env, a[0])?),
            _ => None,
        };
        let mut params = Vec::new();
        let n = js::array_len(env, a[1])?;
        for i in (0..n.saturating_sub(1)).step_by(2) {
            let k = js::string_of(env, js::element(env, a[1], i)?)?;
            let v = js::string_of(env, js::element(env, a[1], i + 1)?)?;
            params.push((k, v));
        }
        let eng = match state::Engine::open(path.as_deref(), &params) {
            Ok(e) => e,
            Err(msg) => {
                return Err(js::throw_error(
                    env,
                    "ERR_EMBERKV_OPEN",
                    &format!("emberkv: {msg}"),
                ));
            }
        };
        let client = Box::new(eng.db.client());
        let h = state::insert(state::Conn::Local { eng, client });
        js::uint32(env, h)
    })
}

/// Throws a connection failure as an Error with an ioredis-like code.
pub(crate) unsafe fn throw_conn_error(env: napi_env, e: &emberkv::Error) -> Thrown {
    let msg = e.message();
    let code = match e.kind() {
        emberkv::ErrorKind::Config => "ERR_INVALID_URL",
        emberkv::ErrorKind::Closed => "ECLOSED",
        _ if msg.contains("refused") => "ECONNREFUSED",
        _ if msg.contains("No such file") => "ENOENT",
        _ if msg.starts_with("AUTH") => "WRONGPASS",
        _ => "ECONNRESET",
    };
    unsafe { js::throw_error(env, code, msg) }
}

/// `connect(url) -> handle`: a connection to a server over its socket.
unsafe extern "C" fn connect_cb(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(env, || unsafe {
        let a = CbArgs::get(env, info)?;
        let url = js::string_of(env, *a.as_slice().first().ok_or(Thrown)?)?;
        let target =
            emberkv_resp::client::Target::parse(&url).map_err(|e| throw_conn_error(env, &e))?;
        let conn = emberkv_resp::client::Connection::open(&target)
            .map_err(|e| throw_conn_error(env, &e))?;
        let h = state::insert(state::Conn::Remote {
            target: std::sync::Arc::new(target),
            conn: Some(conn),
        });
        js::uint32(env, h)
    })
}

/// `listen(h, url, [name, value, ...]) -> listener handle`.
unsafe extern "C" fn listen_cb(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(env, || unsafe {
        let a = CbArgs::get(env, info)?;
        let a = a.as_slice();
        if a.len() < 3 {
            return Err(js::throw_type_error(
                env,
                "emberkv: listen(handle, url, params)",
            ));
        }
        let h = js::get_u32(env, a[0], "handle")?;
        let url = js::string_of(env, a[1])?;
        let mut params = Vec::new();
        let n = js::array_len(env, a[2])?;
        for i in (0..n.saturating_sub(1)).step_by(2) {
            let k = js::string_of(env, js::element(env, a[2], i)?)?;
            let v = js::string_of(env, js::element(env, a[2], i + 1)?)?;
            params.push((k, v));
        }
        let eng = match state::with_conn(h, |c| c.engine().cloned()) {
            Access::Ok(Some(e)) => e,
            Access::Ok(None) => {
                return Err(js::throw_error(
                    env,
                    "ERR_EMBERKV_REMOTE",
                    "emberkv: listen() serves an engine in this process; this connection is attached to a server",
                ));
            }
            other => return Err(closed_or_invalid(env, &other)),
        };
        let l = match emberkv_resp::listen_with(&eng.db, &url, &params) {
            Ok(l) => std::sync::Arc::new(l),
            Err(e) => {
                let code = match e.kind() {
                    emberkv::ErrorKind::Config => "ERR_INVALID_ARG_VALUE",
                    emberkv::ErrorKind::Closed => "ECLOSED",
                    _ if e.message().contains("in use") => "EADDRINUSE",
                    _ => "ERR_EMBERKV_LISTEN",
                };
                return Err(js::throw_error(
                    env,
                    code,
                    &format!("emberkv: {}", e.message()),
                ));
            }
        };
        {
            let mut ls = eng.listeners.lock();
            ls.retain(|w| w.strong_count() > 0);
            ls.push(std::sync::Arc::downgrade(&l));
        }
        let mut slab = LISTENERS.lock();
        let id = match slab.iter().position(Option::is_none) {
            Some(i) => {
                slab[i] = Some(l);
                i
            }
            None => {
                slab.push(Some(l));
                slab.len() - 1
            }
        };
        js::uint32(env, id as u32)
    })
}

/// Listeners by handle (process-wide: a listener may be closed from any thread).
static LISTENERS: parking_lot::Mutex<Vec<Option<std::sync::Arc<emberkv_resp::Listener>>>> =
    parking_lot::Mutex::new(Vec::new());

/// `listenerInfo(lh) -> [address, closed]`, `listenerClose(lh)`, `listenerRelease(lh)`.
unsafe extern "C" fn listener_info_cb(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(env, || unsafe {
        let a = CbArgs::get(env, info)?;
        let lh = js::get_u32(env, *a.as_slice().first().ok_or(Thrown)?, "listener")?;
        let l = LISTENERS.lock().get(lh as usize).cloned().flatten();
        let Some(l) = l else {
            return Err(js::throw_error(
                env,
                "ERR_INVALID_HANDLE",
                "emberkv: invalid listener handle",
            ));
        };
        let out = js::array(env, 2)?;
        js::set_element(
            env,
            out,
            0,
            js::string(env, l.local_addr().to_string().as_bytes())?,
        )?;
        js::set_element(env, out, 1, js::uint32(env, l.is_closed() as u32)?)?;
        Ok(out)
    })
}

unsafe extern "C" fn listener_close_cb(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(env, || unsafe {
        let a = CbArgs::get(env, info)?;
        let a = a.as_slice();
        let lh = js::get_u32(env, *a.first().ok_or(Thrown)?, "listener")?;
        let release = a.len() > 1 && js::type_of(env, a[1]) == sys::ValueType::napi_boolean;
        let l = {
            let mut slab = LISTENERS.lock();
            match slab.get_mut(lh as usize) {
                Some(slot) if release => slot.take(),
                Some(slot) => slot.clone(),
                None => None,
            }
        };
        if let Some(l) = l {
            l.close();
        }
        Ok(js::undefined(env))
    })
}

/// `duplicate(h) -> handle`: a new connection on the same engine.
unsafe extern "C" fn duplicate_cb(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(env, || unsafe {
        let a = CbArgs::get(env, info)?;
        let h = js::get_u32(env, *a.as_slice().first().ok_or(Thrown)?, "handle")?;
        let conn = match state::with_conn(h, |c| match c {
            state::Conn::Local { eng, .. } => {
                eng.add_user();
                Ok(state::Conn::Local {
                    eng: eng.clone(),
                    client: Box::new(eng.db.client()),
                })
            }
            state::Conn::Remote { target, .. } => emberkv_resp::client::Connection::open(target)
                .map(|c| state::Conn::Remote {
                    target: target.clone(),
                    conn: Some(c),
                }),
        }) {
            Access::Ok(Ok(c)) => c,
            Access::Ok(Err(e)) => return Err(throw_conn_error(env, &e)),
            other => return Err(closed_or_invalid(env, &other)),
        };
        js::uint32(env, state::insert(conn))
    })
}

/// `close(h)`, `release(h)` (after GC), `closeAll()` (process exit).
unsafe extern "C" fn close_cb(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(env, || unsafe {
        let a = CbArgs::get(env, info)?;
        let h = js::get_u32(env, *a.as_slice().first().ok_or(Thrown)?, "handle")?;
        state::close(h);
        Ok(js::undefined(env))
    })
}

unsafe extern "C" fn release_cb(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(env, || unsafe {
        let a = CbArgs::get(env, info)?;
        let h = js::get_u32(env, *a.as_slice().first().ok_or(Thrown)?, "handle")?;
        state::release(h);
        Ok(js::undefined(env))
    })
}

unsafe extern "C" fn close_all_cb(env: napi_env, _info: napi_callback_info) -> napi_value {
    pubsub::close_all();
    state::close_all();
    unsafe { js::undefined(env) }
}

/// `run(h, flags, name, ...args)`: runs one command on the connection and
/// returns its converted reply; an error reply is thrown as a `ReplyError`.
unsafe extern "C" fn run_cb(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(env, || unsafe {
        let a = CbArgs::get(env, info)?;
        let a = a.as_slice();
        if a.len() < 3 {
            return Err(js::throw_type_error(
                env,
                "emberkv: run(handle, flags, command, ...args)",
            ));
        }
        let h = js::get_u32(env, a[0], "handle")?;
        let flags = js::get_u32(env, a[1], "flags")?;
        // taken out, not borrowed: reading a Proxy array's elements runs JS, which may call us again
        let mut args = ARGS.take();
        args.clear();
        let reply = (|| {
            for (i, v) in a[2..].iter().enumerate() {
                args.push_js(env, *v, i)?;
            }
            let n = args.len();
            if n == 0 {
                return Err(js::throw_type_error(env, "emberkv: empty command"));
            }
            match state::with_conn(h, |c| args.with_slices(0, n, |argv| c.execute(argv))) {
                Access::Ok(Ok(r)) => Ok(r),
                Access::Ok(Err(e)) => Err(throw_conn_error(env, &e)),
                other => Err(closed_or_invalid(env, &other)),
            }
        })();
        ARGS.set(args);
        let reply = reply?;
        if flags & reply::SCRATCH != 0
            && let emberkv::Reply::Bulk(b) = &reply
            && state::write_scratch(b)
        {
            return Ok(js::undefined(env));
        }
        reply::to_js_throwing(env, &reply, flags)
    })
}

/// `runBlocking(h, flags, id, name, ...args)`: the command runs on a pool
/// thread with its own client (in the connection's selected database); its
/// reply (a `ReplyError` value for an error) reaches the function given to
/// `blockingInit` as `[id, reply]`.
unsafe extern "C" fn run_blocking_cb(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(env, || unsafe {
        let a = CbArgs::get(env, info)?;
        let a = a.as_slice();
        if a.len() < 4 {
            return Err(js::throw_type_error(
                env,
                "emberkv: runBlocking(handle, flags, id, command, ...args)",
            ));
        }
        let h = js::get_u32(env, a[0], "handle")?;
        let flags = js::get_u32(env, a[1], "flags")?;
        let id = js::get_u32(env, a[2], "id")?;
        let mut args = args::ArgBuf::default();
        for (i, v) in a[3..].iter().enumerate() {
            args.push_js(env, *v, i)?;
        }
        let argv = args.to_vecs(0, args.len());
        let job = match state::with_conn(h, |c| match c {
            state::Conn::Local { eng, client } => {
                blocking::Work::Local(eng.clone(), client.selected_db())
            }
            state::Conn::Remote { target, conn } => {
                let mut t = (**target).clone();
                t.db = conn.as_ref().map_or(t.db, |c| c.selected_db());
                blocking::Work::Remote(t)
            }
        }) {
            Access::Ok(x) => x,
            other => return Err(closed_or_invalid(env, &other)),
        };
        blocking::run(env, id, job, argv, flags)?;
        Ok(js::undefined(env))
    })
}

/// `blockingInit(complete)`, `cancelBlocking(...ids)`.
unsafe extern "C" fn blocking_init_cb(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(env, || unsafe {
        let a = CbArgs::get(env, info)?;
        let f = *a.as_slice().first().ok_or(Thrown)?;
        blocking::init(env, f)?;
        Ok(js::undefined(env))
    })
}

unsafe extern "C" fn cancel_blocking_cb(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(env, || unsafe {
        let a = CbArgs::get(env, info)?;
        let mut ids = Vec::new();
        for v in a.as_slice() {
            ids.push(js::get_u32(env, *v, "id")?);
        }
        blocking::cancel(env, &ids);
        Ok(js::undefined(env))
    })
}

/// `runBatch(h, [[flags, name, ...args], ...]) -> [reply | ReplyError, ...]`:
/// every argument is converted before the first command runs, so a bad
/// argument throws without running anything (pipelines, MULTI … EXEC).
unsafe extern "C" fn run_batch_cb(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(env, || unsafe {
        let a = CbArgs::get(env, info)?;
        let a = a.as_slice();
        if a.len() < 2 || !js::is_array(env, a[1]) {
            return Err(js::throw_type_error(
                env,
                "emberkv: runBatch(handle, commands)",
            ));
        }
        let h = js::get_u32(env, a[0], "handle")?;
        let n = js::array_len(env, a[1])?;
        let mut args = args::ArgBuf::default();
        let mut cmds: Vec<(u32, usize, usize)> = Vec::with_capacity(n as usize);
        for i in 0..n {
            let cmd = js::element(env, a[1], i)?;
            if !js::is_array(env, cmd) {
                return Err(js::throw_type_error(
                    env,
                    "emberkv: each batch entry must be an array",
                ));
            }
            let m = js::array_len(env, cmd)?;
            let flags = if m > 0 {
                js::get_u32(env, js::element(env, cmd, 0)?, "flags")?
            } else {
                0
            };
            let start = args.len();
            for j in 1..m {
                args.push_js(env, js::element(env, cmd, j)?, j as usize - 1)?;
            }
            if args.len() == start {
                return Err(js::throw_type_error(
                    env,
                    "emberkv: empty command in a batch",
                ));
            }
            cmds.push((flags, start, args.len()));
        }
        let replies = match state::with_conn(h, |c| match c {
            state::Conn::Local { client, .. } => Ok(cmds
                .iter()
                .map(|&(_, from, to)| args.with_slices(from, to, |argv| client.execute(argv)))
                .collect::<Vec<_>>()),
            remote => {
                let argvs: Vec<Vec<Vec<u8>>> = cmds
                    .iter()
                    .map(|&(_, from, to)| args.to_vecs(from, to))
                    .collect();
                remote.execute_many(&argvs)
            }
        }) {
            Access::Ok(Ok(r)) => r,
            Access::Ok(Err(e)) => return Err(throw_conn_error(env, &e)),
            other => return Err(closed_or_invalid(env, &other)),
        };
        let out = js::array(env, replies.len())?;
        for (i, (r, &(flags, _, _))) in replies.iter().zip(&cmds).enumerate() {
            js::set_element(env, out, i as u32, reply::to_js(env, r, flags)?)?;
        }
        Ok(out)
    })
}

/// Registers the raw functions on the module's exports.
#[napi(module_exports)]
pub fn init(exports: Object, env: Env) -> napi::Result<()> {
    let fns: &[(&str, sys::napi_callback)] = &[
        ("init", Some(init_cb)),
        ("open", Some(open_cb)),
        ("connect", Some(connect_cb)),
        ("listen", Some(listen_cb)),
        ("listenerInfo", Some(listener_info_cb)),
        ("listenerClose", Some(listener_close_cb)),
        ("duplicate", Some(duplicate_cb)),
        ("close", Some(close_cb)),
        ("release", Some(release_cb)),
        ("closeAll", Some(close_all_cb)),
        ("run", Some(run_cb)),
        ("runBlocking", Some(run_blocking_cb)),
        ("blockingInit", Some(blocking_init_cb)),
        ("cancelBlocking", Some(cancel_blocking_cb)),
        ("runBatch", Some(run_batch_cb)),
    ];
    let raw_env = env.raw();
    let raw_exports = napi::bindgen_prelude::JsValue::raw(&exports);
    for (name, f) in fns {
        unsafe { js::export(raw_env, raw_exports, name, *f) }
            .map_err(|_| napi::Error::from_reason(format!("emberkv: cannot export {name}")))?;
    }
    pubsub::export(raw_env, raw_exports)
        .map_err(|_| napi::Error::from_reason("emberkv: cannot export pubsub"))?;
    // worker_threads: close this thread's connections when its environment goes away
    unsafe extern "C" fn cleanup(_arg: *mut std::ffi::c_void) {
        blocking::shutdown();
        pubsub::close_all();
        state::close_all();
    }
    unsafe { sys::napi_add_env_cleanup_hook(raw_env, Some(cleanup), std::ptr::null_mut()) };
    Ok(())
}
