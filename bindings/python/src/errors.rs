//! Errors: the one helper every engine call goes through (`engine_call`:
//! GIL policy, panic catch, engine-error mapping) and the mapping of Redis
//! error replies to `emberkv.exceptions` classes, redis-py's rules.
//!
//! The exception classes are defined in Python (`emberkv/exceptions.py`, the
//! same names and hierarchy as redis-py) and looked up once.

use std::panic::{AssertUnwindSafe, catch_unwind};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

use emberkv::{Error, ErrorKind};

/// The exception classes of `emberkv.exceptions`, by name.
pub(crate) struct Classes {
    pub redis_error: Py<PyType>,
    pub response_error: Py<PyType>,
    pub data_error: Py<PyType>,
    pub closed_error: Py<PyType>,
    pub config_error: Py<PyType>,
    pub storage_error: Py<PyType>,
    pub corruption_error: Py<PyType>,
    pub overflow_error: Py<PyType>,
    pub internal_error: Py<PyType>,
    pub connection_error: Py<PyType>,
    pub timeout_error: Py<PyType>,
    /// Redis error code (the first word of the reply) → class, as redis-py's
    /// `BaseParser.EXCEPTION_CLASSES` (the code is stripped from the message).
    by_code: Vec<(&'static str, Py<PyType>)>,
    /// "ERR <message>" replies that redis-py maps to a class of their own.
    err_special: Vec<(&'static str, Py<PyType>)>,
}

static CLASSES: PyOnceLock<Classes> = PyOnceLock::new();

pub(crate) fn classes(py: Python<'_>) -> &Classes {
    CLASSES.get_or_init(py, || {
        load(py).expect("emberkv.exceptions must be importable")
    })
}

fn load(py: Python<'_>) -> PyResult<Classes> {
    let m = py.import("emberkv.exceptions")?;
    let get = |name: &str| -> PyResult<Py<PyType>> {
        Ok(m.getattr(name)?.cast_into::<PyType>()?.unbind())
    };
    let codes: &[(&str, &str)] = &[
        ("OOM", "OutOfMemoryError"),
        ("WRONGPASS", "AuthenticationError"),
        ("EXECABORT", "ExecAbortError"),
        ("LOADING", "BusyLoadingError"),
        ("NOSCRIPT", "NoScriptError"),
        ("READONLY", "ReadOnlyError"),
        ("NOAUTH", "AuthenticationError"),
        ("NOPERM", "NoPermissionError"),
        ("ASK", "AskError"),
        ("TRYAGAIN", "TryAgainError"),
        ("MOVED", "MovedError"),
        ("CLUSTERDOWN", "ClusterDownError"),
        ("CROSSSLOT", "ClusterCrossSlotError"),
        ("MASTERDOWN", "MasterDownError"),
        ("ERR", "ResponseError"),
    ];
    let special: &[(&str, &str)] = &[
        ("max number of clients reached", "ConnectionError"),
        ("invalid password", "AuthenticationError"),
        (
            "wrong number of arguments for 'auth' command",
            "AuthenticationWrongNumberOfArgsError",
        ),
        (
            "wrong number of arguments for 'AUTH' command",
            "AuthenticationWrongNumberOfArgsError",
        ),
    ];
    Ok(Classes {
        redis_error: get("RedisError")?,
        response_error: get("ResponseError")?,
        data_error: get("DataError")?,
        closed_error: get("DatabaseClosedError")?,
        config_error: get("ConfigError")?,
        storage_error: get("StorageError")?,
        corruption_error: get("CorruptionError")?,
        overflow_error: get("SubscriberOverflowError")?,
        internal_error: get("InternalError")?,
        connection_error: get("ConnectionError")?,
        timeout_error: get("TimeoutError")?,
        by_code: codes
            .iter()
            .map(|(c, n)| Ok((*c, get(n)?)))
            .collect::<PyResult<_>>()?,
        err_special: special
            .iter()
            .map(|(c, n)| Ok((*c, get(n)?)))
            .collect::<PyResult<_>>()?,
    })
}

fn instance(py: Python<'_>, cls: &Py<PyType>, msg: &str, code: Option<&str>) -> PyErr {
    let cls = cls.bind(py);
    let made = match code {
        Some(code) => {
            let kw = pyo3::types::PyDict::new(py);
            kw.set_item("status_code", code)
                .and_then(|_| cls.call((msg,), Some(&kw)))
        }
        None => cls.call1((msg,)),
    };
    match made {
        Ok(obj) => PyErr::from_value(obj),
        Err(e) => e,
    }
}

/// The exception for a Redis error reply, as redis-py's `parse_error` builds it.
pub(crate) fn reply_error(py: Python<'_>, text: &str) -> PyErr {
    let c = classes(py);
    let code = text.split(' ').next().unwrap_or("");
    if let Some((_, cls)) = c.by_code.iter().find(|(k, _)| *k == code) {
        let rest = text.get(code.len() + 1..).unwrap_or("");
        if code == "ERR"
            && let Some((_, special)) = c.err_special.iter().find(|(m, _)| *m == rest)
        {
            return instance(py, special, rest, Some(code));
        }
        return instance(py, cls, rest, Some(code));
    }
    instance(py, &c.response_error, text, None)
}

/// The exception for an engine failure (`emberkv::Error`).
pub(crate) fn engine_error(py: Python<'_>, e: &Error) -> PyErr {
    let c = classes(py);
    let cls = match e.kind() {
        ErrorKind::Closed => &c.closed_error,
        ErrorKind::Config => &c.config_error,
        ErrorKind::Io => &c.storage_error,
        ErrorKind::Corrupt => &c.corruption_error,
        ErrorKind::Overflow => &c.overflow_error,
        _ => &c.redis_error,
    };
    instance(py, cls, e.message(), None)
}

/// The exception for a failure of a connection to a server (`from_url`):
/// redis-py's ConnectionError / TimeoutError for lost or refused
/// connections; the engine mapping otherwise.
pub(crate) fn remote_error(py: Python<'_>, e: &Error) -> PyErr {
    let c = classes(py);
    match e.kind() {
        ErrorKind::Io if e.message().starts_with("Timeout") => {
            instance(py, &c.timeout_error, e.message(), None)
        }
        ErrorKind::Io => instance(py, &c.connection_error, e.message(), None),
        ErrorKind::Closed => instance(py, &c.closed_error, e.message(), None),
        _ => engine_error(py, e),
    }
}

/// `engine_error` or `remote_error`.
pub(crate) fn any_error(py: Python<'_>, e: &Error, remote: bool) -> PyErr {
    if remote {
        remote_error(py, e)
    } else {
        engine_error(py, e)
    }
}

pub(crate) fn data_error(py: Python<'_>, msg: &str) -> PyErr {
    instance(py, &classes(py).data_error, msg, None)
}

pub(crate) fn closed(py: Python<'_>) -> PyErr {
    instance(
        py,
        &classes(py).closed_error,
        "the database is closed",
        None,
    )
}

/// The one wrapper around every call into the engine: runs `f` with the
/// GIL released when `detach` (anything that can block or run long), turns
/// a panic into `emberkv.exceptions.InternalError` instead of unwinding
/// into Python, and maps an engine failure to its exception.
pub(crate) fn engine_call<T, F>(py: Python<'_>, detach: bool, f: F) -> PyResult<T>
where
    F: FnOnce() -> Result<T, Error> + Send,
    T: Send,
{
    call(py, detach, false, f)
}

/// `engine_call` for a connection to a server: the GIL is always released
/// (network I/O), and failures are redis-py's connection errors.
pub(crate) fn remote_call<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    F: FnOnce() -> Result<T, Error> + Send,
    T: Send,
{
    call(py, true, true, f)
}

/// `engine_call` (`remote` false) or `remote_call` (`remote` true).
pub(crate) fn call<T, F>(py: Python<'_>, detach: bool, remote: bool, f: F) -> PyResult<T>
where
    F: FnOnce() -> Result<T, Error> + Send,
    T: Send,
{
    let run = move || catch_unwind(AssertUnwindSafe(f));
    let res = if detach || remote {
        py.detach(run)
    } else {
        run()
    };
    match res {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(any_error(py, &e, remote)),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            let c = CLASSES.get(py);
            Err(match c {
                Some(c) => instance(
                    py,
                    &c.internal_error,
                    &format!("emberkv engine panicked: {msg}"),
                    None,
                ),
                None => PyRuntimeError::new_err(format!("emberkv engine panicked: {msg}")),
            })
        }
    }
}
