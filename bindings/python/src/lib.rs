//! emberkv's Python binding (pyo3 0.30, abi3-py39): the native module
//! `emberkv._emberkv`. It converts and calls, nothing more: every command
//! goes through one `execute` entry (the redis-py-shaped method layer is
//! Python, in `python/emberkv/`), and engine logic stays in the `emberkv`
//! crate.

/// Counts allocations so `maxmemory` and INFO `used_memory` see real bytes.
#[global_allocator]
static ALLOC: emberkv::alloc::Counting = emberkv::alloc::Counting::system();

mod conn;
mod convert;
mod errors;
mod pubsub;

use pyo3::prelude::*;

/// Closes every subscription and engine still open. Registered with atexit
/// by `emberkv/__init__.py`: helper threads that call into Python must be
/// stopped before the interpreter starts finalizing.
#[pyfunction]
fn _close_all(py: Python<'_>) {
    let subs: Vec<_> = pubsub::LIVE_SUBS
        .lock()
        .drain(..)
        .filter_map(|w| w.upgrade())
        .collect();
    let listeners: Vec<_> = conn::LIVE_LISTENERS
        .lock()
        .drain(..)
        .filter_map(|w| w.upgrade())
        .collect();
    let dbs: Vec<_> = conn::LIVE_DBS
        .lock()
        .drain(..)
        .filter_map(|w| w.upgrade())
        .collect();
    py.detach(move || {
        for l in &listeners {
            l.close();
        }
        for s in &subs {
            s.close();
        }
        for d in &dbs {
            let _ = d.close();
        }
    });
}

#[pymodule]
mod _emberkv {
    #[pymodule_export]
    use super::_close_all;
    #[pymodule_export]
    use super::conn::{Conn, Database, Listener, Remote, Session};
    #[pymodule_export]
    use super::pubsub::Subscription;

    use pyo3::prelude::*;

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("ENGINE_VERSION", emberkv::VERSION)?;
        m.add("REDIS_VERSION", emberkv::REDIS_VERSION)?;
        Ok(())
    }
}
