//! Pub/sub into JS: an engine `Subscription` feeding a raw threadsafe function.
//!
//! A reader thread per subscriber waits in `Subscription::recv` (woken by
//! the engine on publish; nothing polls), moves everything queued into our
//! queue and, if no wake-up is pending, calls the threadsafe function once:
//! the JS thread then drains everything queued so far and calls the JS
//! dispatcher with a flat array (one event-loop wake-up per batch, not per
//! message). `recv` rather than `set_callback`: the callback mode has no way
//! to report that the engine closed the subscription for overflowing, and
//! `recv` returns that error. (Both cost one thread per subscription.) Rules:
//! - The raw threadsafe function pointer lives behind a mutex that its
//!   finalizer clears; the delivery thread calls it only under that mutex,
//!   so it never touches a finalized function (close, env teardown).
//! - The queue is bounded by `client-output-buffer-limit pubsub` (as the
//!   engine's own queue is): past it the subscription is closed and JS gets
//!   an 'error' event. Nothing is dropped silently, the publisher never waits.
//! - Referenced (keeps the process alive) only while subscribed to something.

use std::cell::RefCell;
use std::ffi::c_void;
use std::ptr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use emberkv::{Message, MessageKind, Reply, Subscription};
use napi::sys::{self, napi_callback_info, napi_env, napi_value};
use parking_lot::Mutex;

use crate::args::ArgBuf;
use crate::js::{self, CbArgs, JsResult, Thrown};
use crate::state::{self, Access};

const WANT_STR: u32 = 1;
const WANT_BUF: u32 = 2;
/// Messages per JS call (one handle scope each).
const CHUNK: usize = 1024;

struct Tsfn(sys::napi_threadsafe_function);
// the pointer is only used under `Shared::tsfn`'s mutex; napi allows calls from any thread
unsafe impl Send for Tsfn {}

#[derive(Default)]
struct Pending {
    msgs: Vec<Message>,
    bytes: usize,
    /// A threadsafe-function call is queued and has not started draining yet.
    scheduled: bool,
    soft_since: Option<Instant>,
    overflow: Option<String>,
    overflow_reported: bool,
}

struct Shared {
    q: Mutex<Pending>,
    tsfn: Mutex<Option<Tsfn>>,
    modes: AtomicU32,
    /// `client-output-buffer-limit pubsub`: hard bytes, soft bytes, soft seconds.
    limits: (usize, usize, u64),
}

fn cost(m: &Message) -> usize {
    m.channel.len() + m.payload.len() + m.pattern.as_ref().map_or(0, |p| p.len()) + 64
}

impl Shared {
    /// On the reader thread: queues `first` and whatever else the engine has queued.
    fn push(&self, sub: &Sub, first: Message) {
        let mut q = self.q.lock();
        if q.overflow.is_some() {
            return;
        }
        let mut next = Some(first);
        while let Some(m) = next {
            // (un)subscribe confirmations are skipped: the JS methods return the count themselves
            if matches!(
                m.kind,
                MessageKind::Message | MessageKind::PMessage | MessageKind::SMessage
            ) {
                q.bytes += cost(&m);
                q.msgs.push(m);
            }
            next = if q.msgs.len() < 65536 {
                sub.try_recv().ok().flatten()
            } else {
                None
            };
        }
        self.check_limits(&mut q);
        self.wake(q);
    }

    /// On the reader thread: the engine closed the subscription for overflowing.
    fn engine_overflow(&self, reason: String) {
        let mut q = self.q.lock();
        if q.overflow.is_none() {
            q.overflow = Some(format!("emberkv: subscriber closed: {reason}"));
        }
        self.wake(q);
    }

    fn check_limits(&self, q: &mut Pending) {
        let (hard, soft, secs) = self.limits;
        let mut over = hard > 0 && q.bytes > hard;
        if soft > 0 && q.bytes > soft {
            let since = *q.soft_since.get_or_insert_with(Instant::now);
            over |= since.elapsed() >= Duration::from_secs(secs);
        } else {
            q.soft_since = None;
        }
        if over {
            q.overflow = Some(format!(
                "emberkv: subscriber closed: {} bytes of messages not yet delivered to JavaScript exceed \
                 client-output-buffer-limit pubsub ({hard} {soft} {secs}); the event loop is too busy to keep up",
                q.bytes
            ));
            q.msgs = Vec::new();
            q.bytes = 0;
        }
    }

    /// Schedules a drain on the JS thread unless one is pending.
    fn wake(&self, mut q: parking_lot::MutexGuard<'_, Pending>) {
        if q.scheduled {
            return;
        }
        q.scheduled = true;
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

/// An engine subscription, or a subscriber connection to a server
/// (`Ember.fromUrl`): the same methods, messages pushed either way.
enum Sub {
    Local(Subscription),
    Remote(emberkv_resp::client::Subscriber),
}

macro_rules! both {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            Sub::Local($s) => $e,
            Sub::Remote($s) => $e,
        }
    };
}

impl Sub {
    fn recv(&self) -> Result<Message, emberkv::Error> {
        both!(self, s => s.recv())
    }
    fn try_recv(&self) -> Result<Option<Message>, emberkv::Error> {
        both!(self, s => s.try_recv())
    }
    fn closed_reason(&self) -> Option<emberkv::Error> {
        both!(self, s => s.closed_reason())
    }
    fn channel_count(&self) -> usize {
        both!(self, s => s.channel_count())
    }
    fn close(&self) {
        both!(self, s => s.close())
    }
    fn subscribe<A: AsRef<[u8]>>(&self, n: &[A]) {
        both!(self, s => s.subscribe(n))
    }
    fn psubscribe<A: AsRef<[u8]>>(&self, n: &[A]) {
        both!(self, s => s.psubscribe(n))
    }
    fn ssubscribe<A: AsRef<[u8]>>(&self, n: &[A]) {
        both!(self, s => s.ssubscribe(n))
    }
    fn unsubscribe<A: AsRef<[u8]>>(&self, n: &[A]) {
        both!(self, s => s.unsubscribe(n))
    }
    fn punsubscribe<A: AsRef<[u8]>>(&self, n: &[A]) {
        both!(self, s => s.punsubscribe(n))
    }
    fn sunsubscribe<A: AsRef<[u8]>>(&self, n: &[A]) {
        both!(self, s => s.sunsubscribe(n))
    }
}

struct SubHandle {
    sub: Arc<Sub>,
    shared: Arc<Shared>,
    refed: bool,
}

thread_local! {
    static SUBS: RefCell<Vec<Option<SubHandle>>> = const { RefCell::new(Vec::new()) };
}

fn pubsub_limits(db: &emberkv::Db) -> (usize, usize, u64) {
    let r = db.execute(&["CONFIG", "GET", "client-output-buffer-limit"]);
    let text = match &r {
        Reply::Array(v) if v.len() == 2 => v[1]
            .as_bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned()),
        Reply::Map(v) if v.len() == 1 => v[0]
            .1
            .as_bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned()),
        _ => None,
    };
    let words: Vec<&str> = text.as_deref().unwrap_or("").split_whitespace().collect();
    for w in words.chunks(4) {
        if w.len() == 4
            && w[0] == "pubsub"
            && let (Ok(h), Ok(s), Ok(t)) = (w[1].parse(), w[2].parse(), w[3].parse())
        {
            return (h, s, t);
        }
    }
    (32 << 20, 8 << 20, 60)
}

/// On the JS thread: drains the queue into the JS dispatcher.
unsafe extern "C" fn call_js(
    env: napi_env,
    js_cb: napi_value,
    context: *mut c_void,
    _data: *mut c_void,
) {
    if env.is_null() || js_cb.is_null() {
        return; // the environment is going away
    }
    let shared = unsafe { &*(context as *const Shared) };
    let (mut msgs, overflow) = {
        let mut q = shared.q.lock();
        q.scheduled = false;
        q.bytes = 0;
        q.soft_since = None;
        let overflow = if q.overflow_reported {
            None
        } else {
            q.overflow.clone()
        };
        if overflow.is_some() {
            q.overflow_reported = true;
        }
        (std::mem::take(&mut q.msgs), overflow)
    };
    let mode = shared.modes.load(Ordering::Relaxed);
    let mut start = 0;
    while start < msgs.len() && mode != 0 {
        let end = (start + CHUNK).min(msgs.len());
        if unsafe { dispatch_chunk(env, js_cb, &msgs[start..end], mode) }.is_err() {
            // A listener threw: keep the rest for the next turn and raise the
            // exception as 'uncaughtException', as an EventEmitter listener
            // throwing in an I/O callback would.
            let rest = msgs.split_off(end);
            if !rest.is_empty() {
                requeue_front(shared, rest);
            }
            unsafe {
                let mut err = ptr::null_mut();
                if sys::napi_get_and_clear_last_exception(env, &mut err) == sys::Status::napi_ok
                    && !err.is_null()
                {
                    sys::napi_fatal_exception(env, err);
                }
            }
            return;
        }
        start = end;
    }
    if let Some(err) = overflow {
        unsafe {
            let scope = HandleScope::open(env);
            let args = [
                js::null(env),
                js::uint32(env, 0).unwrap_or(ptr::null_mut()),
                js::string(env, err.as_bytes()).unwrap_or(ptr::null_mut()),
            ];
            let mut out = ptr::null_mut();
            sys::napi_call_function(env, js::undefined(env), js_cb, 3, args.as_ptr(), &mut out);
            drop(scope);
        }
    }
}

fn requeue_front(shared: &Shared, mut rest: Vec<Message>) {
    let mut q = shared.q.lock();
    rest.append(&mut q.msgs);
    q.msgs = rest;
    if !q.scheduled {
        q.scheduled = true;
        drop(q);
        if let Some(t) = &*shared.tsfn.lock() {
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

struct HandleScope(napi_env, sys::napi_handle_scope);

impl HandleScope {
    unsafe fn open(env: napi_env) -> HandleScope {
        let mut s = ptr::null_mut();
        unsafe { sys::napi_open_handle_scope(env, &mut s) };
        HandleScope(env, s)
    }
}

impl Drop for HandleScope {
    fn drop(&mut self) {
        if !self.1.is_null() {
            unsafe { sys::napi_close_handle_scope(self.0, self.1) };
        }
    }
}

/// `[kind, (pattern, channel, message) as strings?, (…) as Buffers?, …]`
unsafe fn dispatch_chunk(
    env: napi_env,
    js_cb: napi_value,
    msgs: &[Message],
    mode: u32,
) -> JsResult<()> {
    unsafe {
        let _scope = HandleScope::open(env);
        let stride =
            1 + if mode & WANT_STR != 0 { 3 } else { 0 } + if mode & WANT_BUF != 0 { 3 } else { 0 };
        let arr = js::array(env, msgs.len() * stride)?;
        let kinds = [
            js::uint32(env, 0)?,
            js::uint32(env, 1)?,
            js::uint32(env, 2)?,
        ];
        let null = js::null(env);
        // consecutive messages on one channel share its JS string
        let mut last_ch: Option<(&[u8], napi_value)> = None;
        let mut i = 0u32;
        for m in msgs {
            let kind = match m.kind {
                MessageKind::Message => 0,
                MessageKind::PMessage => 1,
                _ => 2,
            };
            js::set_element(env, arr, i, kinds[kind])?;
            i += 1;
            if mode & WANT_STR != 0 {
                let pat = match &m.pattern {
                    Some(p) => js::string(env, p)?,
                    None => null,
                };
                let ch = match last_ch {
                    Some((b, v)) if b == m.channel.as_slice() => v,
                    _ => {
                        let v = js::string(env, &m.channel)?;
                        last_ch = Some((&m.channel, v));
                        v
                    }
                };
                js::set_element(env, arr, i, pat)?;
                js::set_element(env, arr, i + 1, ch)?;
                js::set_element(env, arr, i + 2, js::string(env, &m.payload)?)?;
                i += 3;
            }
            if mode & WANT_BUF != 0 {
                let pat = match &m.pattern {
                    Some(p) => js::buffer(env, p)?,
                    None => null,
                };
                js::set_element(env, arr, i, pat)?;
                js::set_element(env, arr, i + 1, js::buffer(env, &m.channel)?)?;
                js::set_element(env, arr, i + 2, js::buffer(env, &m.payload)?)?;
                i += 3;
            }
        }
        let args = [arr, js::uint32(env, mode)?, null];
        let mut out = ptr::null_mut();
        js::ok(sys::napi_call_function(
            env,
            js::undefined(env),
            js_cb,
            3,
            args.as_ptr(),
            &mut out,
        ))
    }
}

/// The threadsafe function is being destroyed (close or env teardown).
unsafe extern "C" fn finalize(_env: napi_env, data: *mut c_void, _hint: *mut c_void) {
    let shared = unsafe { Arc::from_raw(data as *const Shared) };
    shared.tsfn.lock().take();
}

/// `subOpen(h, dispatch) -> subscriber handle`
unsafe extern "C" fn sub_open_cb(env: napi_env, info: napi_callback_info) -> napi_value {
    crate::guard(env, || unsafe {
        let a = CbArgs::get(env, info)?;
        let a = a.as_slice();
        if a.len() < 2 || js::type_of(env, a[1]) != sys::ValueType::napi_function {
            return Err(js::throw_type_error(
                env,
                "emberkv: subOpen(handle, dispatch)",
            ));
        }
        let h = js::get_u32(env, a[0], "handle")?;
        let backend = match state::with_conn(h, |c| match c {
            state::Conn::Local { eng, .. } => Ok(eng.clone()),
            state::Conn::Remote { target, .. } => Err(target.clone()),
        }) {
            Access::Ok(e) => e,
            other => return Err(crate::closed_or_invalid(env, &other)),
        };
        // a remote subscriber connects first: a refused connection throws
        // before anything else is set up
        let (sub, limits) = match backend {
            Ok(eng) => (Sub::Local(eng.db.subscribe()), pubsub_limits(&eng.db)),
            Err(t) => match emberkv_resp::client::Subscriber::open(&t) {
                Ok(s) => (Sub::Remote(s), (32 << 20, 8 << 20, 60)),
                Err(e) => return Err(crate::throw_conn_error(env, &e)),
            },
        };
        let shared = Arc::new(Shared {
            q: Mutex::new(Pending::default()),
            tsfn: Mutex::new(None),
            modes: AtomicU32::new(0),
            limits,
        });
        let context = Arc::into_raw(shared.clone()) as *mut c_void;
        let name = js::string(env, b"emberkv.subscriber")?;
        let mut tsfn = ptr::null_mut();
        let status = sys::napi_create_threadsafe_function(
            env,
            a[1],
            ptr::null_mut(),
            name,
            0, // unbounded: the bound is ours (bytes), calls never block
            1,
            context,
            Some(finalize),
            context,
            Some(call_js),
            &mut tsfn,
        );
        if status != sys::Status::napi_ok {
            drop(Arc::from_raw(context as *const Shared));
            return Err(js::throw_error(
                env,
                "ERR",
                "emberkv: cannot create the subscriber's threadsafe function",
            ));
        }
        // idle until subscribed to something
        sys::napi_unref_threadsafe_function(env, tsfn);
        *shared.tsfn.lock() = Some(Tsfn(tsfn));
        let sub = Arc::new(sub);
        let (rsub, rshared) = (sub.clone(), shared.clone());
        let started = std::thread::Builder::new()
            .name("emberkv-subscriber".into())
            .spawn(move || {
                loop {
                    match rsub.recv() {
                        Ok(m) => rshared.push(&rsub, m),
                        // overflow, or a remote subscriber's lost connection: JS is told
                        Err(e) if e.kind() != emberkv::ErrorKind::Closed => {
                            rshared.engine_overflow(e.to_string());
                            return;
                        }
                        Err(_) => return, // closed
                    }
                }
            });
        if let Err(e) = started {
            if let Some(t) = shared.tsfn.lock().take() {
                sys::napi_release_threadsafe_function(
                    t.0,
                    sys::ThreadsafeFunctionReleaseMode::abort,
                );
            }
            return Err(js::throw_error(
                env,
                "ERR",
                &format!("emberkv: cannot start the subscriber thread: {e}"),
            ));
        }
        let handle = SubHandle {
            sub,
            shared,
            refed: false,
        };
        let id = SUBS.with_borrow_mut(|subs| {
            if let Some(i) = subs.iter().position(Option::is_none) {
                subs[i] = Some(handle);
                i
            } else {
                subs.push(Some(handle));
                subs.len() - 1
            }
        });
        js::uint32(env, id as u32)
    })
}

fn with_sub<R>(sh: u32, f: impl FnOnce(&mut SubHandle) -> R) -> Option<R> {
    SUBS.with_borrow_mut(|subs| subs.get_mut(sh as usize).and_then(|s| s.as_mut()).map(f))
}

unsafe fn closed(env: napi_env) -> Thrown {
    unsafe { js::throw_error(env, "ECLOSED", "Connection is closed.") }
}

/// `subCommand(sh, kind, ...channels) -> count` (kind: 0 subscribe, 1 psubscribe,
/// 2 ssubscribe, 3 unsubscribe, 4 punsubscribe, 5 sunsubscribe).
unsafe extern "C" fn sub_command_cb(env: napi_env, info: napi_callback_info) -> napi_value {
    crate::guard(env, || unsafe {
        let a = CbArgs::get(env, info)?;
        let a = a.as_slice();
        if a.len() < 2 {
            return Err(js::throw_type_error(
                env,
                "emberkv: subCommand(sub, kind, ...channels)",
            ));
        }
        let sh = js::get_u32(env, a[0], "subscriber")?;
        let kind = js::get_u32(env, a[1], "kind")?;
        let mut args = ArgBuf::default();
        for (i, v) in a[2..].iter().enumerate() {
            args.push_js(env, *v, i + 1)?;
        }
        if kind < 3 && args.len() == 0 {
            return Err(js::throw_error(
                env,
                "ERR",
                "ERR wrong number of arguments for 'subscribe' command",
            ));
        }
        if let Some(reason) = with_sub(sh, |s| s.sub.closed_reason()).ok_or_else(|| closed(env))? {
            return Err(js::throw_error(
                env,
                "ECLOSED",
                &format!("emberkv: {reason}"),
            ));
        }
        let (count, refed) = with_sub(sh, |s| {
            args.with_slices(0, args.len(), |names| match kind {
                0 => s.sub.subscribe(names),
                1 => s.sub.psubscribe(names),
                2 => s.sub.ssubscribe(names),
                3 => s.sub.unsubscribe(names),
                4 => s.sub.punsubscribe(names),
                _ => s.sub.sunsubscribe(names),
            });
            (s.sub.channel_count(), s.refed)
        })
        .ok_or_else(|| closed(env))?;
        // keep the process alive only while subscribed to something
        let want_ref = count > 0;
        if want_ref != refed {
            with_sub(sh, |s| {
                if let Some(t) = &*s.shared.tsfn.lock() {
                    if want_ref {
                        sys::napi_ref_threadsafe_function(env, t.0);
                    } else {
                        sys::napi_unref_threadsafe_function(env, t.0);
                    }
                }
                s.refed = want_ref;
            });
        }
        js::uint32(env, count as u32)
    })
}

/// `subCount(sh) -> number`
unsafe extern "C" fn sub_count_cb(env: napi_env, info: napi_callback_info) -> napi_value {
    crate::guard(env, || unsafe {
        let a = CbArgs::get(env, info)?;
        let sh = js::get_u32(env, *a.as_slice().first().ok_or(Thrown)?, "subscriber")?;
        let n = with_sub(sh, |s| s.sub.channel_count()).unwrap_or(0);
        js::uint32(env, n as u32)
    })
}

/// `subModes(sh, mode)`: bit 1 strings wanted, bit 2 Buffers wanted.
unsafe extern "C" fn sub_modes_cb(env: napi_env, info: napi_callback_info) -> napi_value {
    crate::guard(env, || unsafe {
        let a = CbArgs::get(env, info)?;
        let a = a.as_slice();
        if a.len() < 2 {
            return Err(js::throw_type_error(env, "emberkv: subModes(sub, mode)"));
        }
        let sh = js::get_u32(env, a[0], "subscriber")?;
        let mode = js::get_u32(env, a[1], "mode")?;
        with_sub(sh, |s| {
            s.shared
                .modes
                .store(mode & (WANT_STR | WANT_BUF), Ordering::Relaxed)
        });
        Ok(js::undefined(env))
    })
}

/// `subClose(sh)`: unsubscribes, drops queued messages, releases the threadsafe function.
unsafe extern "C" fn sub_close_cb(env: napi_env, info: napi_callback_info) -> napi_value {
    crate::guard(env, || unsafe {
        let a = CbArgs::get(env, info)?;
        let sh = js::get_u32(env, *a.as_slice().first().ok_or(Thrown)?, "subscriber")?;
        close_one(sh as usize);
        Ok(js::undefined(env))
    })
}

fn close_one(sh: usize) {
    let Some(h) = SUBS.with_borrow_mut(|subs| subs.get_mut(sh).and_then(Option::take)) else {
        return;
    };
    h.sub.close(); // wakes the reader thread, which exits (a push in progress finds the tsfn gone)
    let tsfn = h.shared.tsfn.lock().take();
    if let Some(t) = tsfn {
        unsafe {
            sys::napi_release_threadsafe_function(t.0, sys::ThreadsafeFunctionReleaseMode::abort)
        };
    }
    h.shared.q.lock().msgs.clear();
}

/// Closes every subscriber of this thread (env teardown).
pub fn close_all() {
    let n = SUBS.with_borrow(|s| s.len());
    for i in 0..n {
        close_one(i);
    }
}

pub fn export(env: napi_env, exports: napi_value) -> JsResult<()> {
    let fns: &[(&str, sys::napi_callback)] = &[
        ("subOpen", Some(sub_open_cb)),
        ("subCommand", Some(sub_command_cb)),
        ("subCount", Some(sub_count_cb)),
        ("subModes", Some(sub_modes_cb)),
        ("subClose", Some(sub_close_cb)),
    ];
    for (name, f) in fns {
        unsafe { js::export(env, exports, name, *f)? };
    }
    Ok(())
}
