//! `Subscription`: an engine subscription seen from Python.
//!
//! Messages are pushed by the engine into the subscription's bounded queue
//! (overflow closes it, as Redis disconnects a slow subscriber). Threads
//! wait for them with the GIL released (`get(timeout)`); asyncio never
//! waits on the event loop: `wait_async(waker)` asks a helper thread to
//! block in `recv`, and the helper calls `waker()` (which does
//! `loop.call_soon_threadsafe`) once a message is there. The helper only
//! takes a message when asked to, so the engine's queue bound still holds.

use std::collections::VecDeque;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use emberkv::{Error, Message, MessageKind};

use crate::convert::{self, Arg, Argv, Codec};
use crate::errors;

/// Every live subscription, closed by the atexit hook (their helper threads
/// call into Python and must stop before the interpreter finalizes).
pub(crate) static LIVE_SUBS: Mutex<Vec<Weak<Sub>>> = Mutex::new(Vec::new());

/// An engine subscription, or a subscriber connection to a server
/// (`from_url`): the same methods, messages pushed either way.
pub(crate) enum Sub {
    Local(emberkv::Subscription),
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
    pub fn subscribe(&self, n: &[Arg<'_>]) {
        both!(self, s => s.subscribe(n))
    }
    pub fn psubscribe(&self, n: &[Arg<'_>]) {
        both!(self, s => s.psubscribe(n))
    }
    pub fn ssubscribe(&self, n: &[Arg<'_>]) {
        both!(self, s => s.ssubscribe(n))
    }
    pub fn unsubscribe(&self, n: &[Arg<'_>]) {
        both!(self, s => s.unsubscribe(n))
    }
    pub fn punsubscribe(&self, n: &[Arg<'_>]) {
        both!(self, s => s.punsubscribe(n))
    }
    pub fn sunsubscribe(&self, n: &[Arg<'_>]) {
        both!(self, s => s.sunsubscribe(n))
    }
    pub fn recv(&self) -> Result<Message, Error> {
        both!(self, s => s.recv())
    }
    pub fn recv_timeout(&self, d: Duration) -> Result<Option<Message>, Error> {
        both!(self, s => s.recv_timeout(d))
    }
    pub fn try_recv(&self) -> Result<Option<Message>, Error> {
        both!(self, s => s.try_recv())
    }
    pub fn channel_count(&self) -> usize {
        both!(self, s => s.channel_count())
    }
    pub fn close(&self) {
        both!(self, s => s.close())
    }
    fn remote(&self) -> bool {
        matches!(self, Sub::Remote(_))
    }
}

/// Longest wait with the GIL released before checking for signals
/// (Ctrl-C must interrupt `listen()`).
const SIGNAL_SLICE: Duration = Duration::from_millis(100);

#[derive(Default)]
struct AsyncState {
    /// Messages the helper took from the engine, not yet handed out.
    pending: VecDeque<Result<Message, Error>>,
    /// Called (with the GIL) when a message is ready.
    waker: Option<Py<PyAny>>,
    /// The event loop is waiting for a message.
    demand: bool,
    helper_running: bool,
    stop: bool,
}

struct Shared {
    sub: Arc<Sub>,
    st: Mutex<AsyncState>,
    cv: Condvar,
}

#[pyclass(frozen, module = "emberkv._emberkv")]
pub struct Subscription {
    shared: Arc<Shared>,
    codec: Arc<Codec>,
}

impl Subscription {
    pub(crate) fn new(sub: Sub, codec: Arc<Codec>) -> Subscription {
        let sub = Arc::new(sub);
        let mut live = LIVE_SUBS.lock();
        live.retain(|w| w.strong_count() > 0);
        live.push(Arc::downgrade(&sub));
        Subscription {
            shared: Arc::new(Shared {
                sub,
                st: Mutex::new(AsyncState::default()),
                cv: Condvar::new(),
            }),
            codec,
        }
    }

    fn names<'a>(&self, py: Python<'_>, args: &'a Bound<'_, PyTuple>) -> PyResult<Argv<'a>> {
        let mut out = Argv::new();
        convert::encode_each(py, args, &self.codec, &mut out)?;
        Ok(out)
    }

    /// The next message taken earlier by the asyncio helper, if any.
    fn pending(&self) -> Option<Result<Message, Error>> {
        self.shared.st.lock().pending.pop_front()
    }

    fn to_py<'py>(
        &self,
        py: Python<'py>,
        m: Result<Message, Error>,
    ) -> PyResult<Bound<'py, PyAny>> {
        match m {
            Ok(m) => message(py, &m, &self.codec).map(|d| d.into_any()),
            Err(e) => Err(errors::any_error(py, &e, self.shared.sub.remote())),
        }
    }
}

fn kind_str(py: Python<'_>, k: MessageKind) -> &Bound<'_, pyo3::types::PyString> {
    match k {
        MessageKind::Subscribe => intern!(py, "subscribe"),
        MessageKind::Unsubscribe => intern!(py, "unsubscribe"),
        MessageKind::PSubscribe => intern!(py, "psubscribe"),
        MessageKind::PUnsubscribe => intern!(py, "punsubscribe"),
        MessageKind::SSubscribe => intern!(py, "ssubscribe"),
        MessageKind::SUnsubscribe => intern!(py, "sunsubscribe"),
        MessageKind::Message => intern!(py, "message"),
        MessageKind::PMessage => intern!(py, "pmessage"),
        MessageKind::SMessage => intern!(py, "smessage"),
    }
}

/// A message as redis-py's `PubSub.handle_message` shapes it:
/// `{"type", "pattern", "channel", "data"}`; `data` is the subscription
/// count for (un)subscribe confirmations.
fn message<'py>(py: Python<'py>, m: &Message, codec: &Codec) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item(intern!(py, "type"), kind_str(py, m.kind))?;
    match &m.pattern {
        Some(p) => d.set_item(intern!(py, "pattern"), convert::text(py, p, codec)?)?,
        None => d.set_item(intern!(py, "pattern"), py.None())?,
    }
    let published = matches!(
        m.kind,
        MessageKind::Message | MessageKind::PMessage | MessageKind::SMessage
    );
    let unsub_nothing = !published
        && m.channel.is_empty()
        && m.count == 0
        && matches!(
            m.kind,
            MessageKind::Unsubscribe | MessageKind::PUnsubscribe | MessageKind::SUnsubscribe
        );
    if unsub_nothing {
        d.set_item(intern!(py, "channel"), py.None())?;
    } else {
        d.set_item(
            intern!(py, "channel"),
            convert::text(py, &m.channel, codec)?,
        )?;
    }
    if published {
        d.set_item(intern!(py, "data"), convert::text(py, &m.payload, codec)?)?;
    } else {
        d.set_item(intern!(py, "data"), m.count)?;
    }
    Ok(d)
}

fn helper(shared: Arc<Shared>) {
    loop {
        {
            let mut st = shared.st.lock();
            while !st.demand && !st.stop {
                shared.cv.wait(&mut st);
            }
            if st.stop {
                st.helper_running = false;
                return;
            }
        }
        let r = shared.sub.recv();
        let failed = r.is_err();
        let waker = {
            let mut st = shared.st.lock();
            st.pending.push_back(r);
            st.demand = false;
            if failed {
                st.helper_running = false;
            }
            st.waker.take()
        };
        if let Some(w) = waker {
            Python::attach(|py| {
                if let Err(e) = w.call0(py) {
                    e.write_unraisable(py, None);
                }
            });
        }
        if failed {
            return;
        }
    }
}

#[pymethods]
impl Subscription {
    #[pyo3(signature = (*names))]
    fn subscribe(&self, py: Python<'_>, names: &Bound<'_, PyTuple>) -> PyResult<()> {
        let n = self.names(py, names)?;
        self.shared.sub.subscribe(&n);
        Ok(())
    }
    #[pyo3(signature = (*names))]
    fn psubscribe(&self, py: Python<'_>, names: &Bound<'_, PyTuple>) -> PyResult<()> {
        let n = self.names(py, names)?;
        self.shared.sub.psubscribe(&n);
        Ok(())
    }
    #[pyo3(signature = (*names))]
    fn ssubscribe(&self, py: Python<'_>, names: &Bound<'_, PyTuple>) -> PyResult<()> {
        let n = self.names(py, names)?;
        self.shared.sub.ssubscribe(&n);
        Ok(())
    }
    /// No names: from every channel.
    #[pyo3(signature = (*names))]
    fn unsubscribe(&self, py: Python<'_>, names: &Bound<'_, PyTuple>) -> PyResult<()> {
        let n = self.names(py, names)?;
        self.shared.sub.unsubscribe(&n);
        Ok(())
    }
    #[pyo3(signature = (*names))]
    fn punsubscribe(&self, py: Python<'_>, names: &Bound<'_, PyTuple>) -> PyResult<()> {
        let n = self.names(py, names)?;
        self.shared.sub.punsubscribe(&n);
        Ok(())
    }
    #[pyo3(signature = (*names))]
    fn sunsubscribe(&self, py: Python<'_>, names: &Bound<'_, PyTuple>) -> PyResult<()> {
        let n = self.names(py, names)?;
        self.shared.sub.sunsubscribe(&n);
        Ok(())
    }

    /// The next message as a dict, or None. `timeout` 0: don't wait; None:
    /// wait as long as needed; otherwise seconds. Waits with the GIL
    /// released, waking at least every 100 ms to let signals through.
    #[pyo3(signature = (timeout=None))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<f64>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        if let Some(m) = self.pending() {
            return self.to_py(py, m).map(Some);
        }
        let sub = &self.shared.sub;
        let remote = sub.remote();
        if let Some(m) = errors::call(py, false, remote, || sub.try_recv())? {
            return self.to_py(py, Ok(m)).map(Some);
        }
        let deadline = match timeout {
            Some(t) if t <= 0.0 || t.is_nan() => return Ok(None),
            Some(t) => Some(Instant::now() + Duration::from_secs_f64(t.min(1e9))),
            None => None,
        };
        loop {
            let slice = match deadline {
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(None);
                    }
                    left.min(SIGNAL_SLICE)
                }
                None => SIGNAL_SLICE,
            };
            if let Some(m) = errors::call(py, true, remote, || sub.recv_timeout(slice))? {
                return self.to_py(py, Ok(m)).map(Some);
            }
            py.check_signals()?;
        }
    }

    /// The next message if one is ready, else None (never waits).
    fn try_get<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        if let Some(m) = self.pending() {
            return self.to_py(py, m).map(Some);
        }
        let sub = &self.shared.sub;
        match errors::call(py, false, sub.remote(), || sub.try_recv())? {
            Some(m) => self.to_py(py, Ok(m)).map(Some),
            None => Ok(None),
        }
    }

    /// asyncio: arranges for `waker()` to be called from a helper thread
    /// when a message is ready. False when one is ready already (call
    /// `try_get`); the waker is then not kept.
    fn wait_async(&self, py: Python<'_>, waker: Py<PyAny>) -> PyResult<bool> {
        let mut st = self.shared.st.lock();
        if !st.pending.is_empty() {
            return Ok(false);
        }
        match self.shared.sub.try_recv() {
            Ok(Some(m)) => {
                st.pending.push_back(Ok(m));
                return Ok(false);
            }
            Ok(None) => {}
            Err(e) => {
                st.pending.push_back(Err(e));
                return Ok(false);
            }
        }
        st.waker = Some(waker);
        st.demand = true;
        if !st.helper_running {
            st.helper_running = true;
            let shared = self.shared.clone();
            std::thread::Builder::new()
                .name("emberkv-pubsub-async".into())
                .spawn(move || helper(shared))
                .map_err(|e| {
                    pyo3::exceptions::PyRuntimeError::new_err(format!("cannot start a thread: {e}"))
                })?;
        }
        drop(st);
        self.shared.cv.notify_all();
        let _ = py;
        Ok(true)
    }

    /// Channels, patterns and shard channels held.
    #[getter]
    fn channel_count(&self) -> usize {
        self.shared.sub.channel_count()
    }

    /// Unsubscribes from everything and wakes every waiter.
    fn close(&self, py: Python<'_>) {
        let shared = self.shared.clone();
        py.detach(move || close_shared(&shared));
    }
}

fn close_shared(shared: &Shared) {
    shared.sub.close();
    let mut st = shared.st.lock();
    st.stop = true;
    st.waker = None;
    drop(st);
    shared.cv.notify_all();
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let shared = self.shared.clone();
        Python::attach(|py| py.detach(move || close_shared(&shared)));
    }
}
