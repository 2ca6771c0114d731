//! Status codes, the thread's last error message and the panic boundary.
//!
//! Every exported function body runs inside [`guard`] (or [`guard_value`]):
//! a panic becomes `EKV_ERR_PANIC` with its message in `ekv_last_error()`,
//! never an unwind into C and never an abort of the host program. A failure
//! is a [`Fail`]: the status to return and the message to record.

use std::cell::RefCell;
use std::ffi::{CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use emberkv::{Error, ErrorKind};

/// The result of a call that can fail: `EKV_OK` (0) or one of the
/// `EKV_ERR_*` codes. A plain integer (not a C enum) so that any value a
/// caller passes back, e.g. to ekv_status_str(), is well defined.
pub type ekv_status = i32;

/// Success.
pub const EKV_OK: ekv_status = 0;
/// A NULL or invalid argument (unknown option, argc == 0, a freed or wrong
/// handle that could be detected, ...).
pub const EKV_ERR_MISUSE: ekv_status = 1;
/// Reading or writing a file failed.
pub const EKV_ERR_IO: ekv_status = 2;
/// A data file is damaged or not in a format emberkv reads.
pub const EKV_ERR_CORRUPT: ekv_status = 3;
/// The database was closed (ekv_close()) or the subscription was closed.
pub const EKV_ERR_CLOSED: ekv_status = 4;
/// Nothing arrived before the timeout (ekv_subscription_next()).
pub const EKV_ERR_TIMEOUT: ekv_status = 5;
/// A bug inside emberkv (a Rust panic) was caught at the API boundary. The
/// handle involved may be in an inconsistent state; close it.
pub const EKV_ERR_PANIC: ekv_status = 6;
/// A subscription did not keep up: its bounded queue overflowed and it was
/// closed (messages are never dropped silently).
pub const EKV_ERR_OVERFLOW: ekv_status = 7;

/// A failed call: what to return and what ekv_last_error() will say.
#[derive(Debug)]
pub(crate) struct Fail {
    pub status: ekv_status,
    pub msg: String,
}

impl Fail {
    pub fn misuse(msg: impl Into<String>) -> Fail {
        Fail {
            status: EKV_ERR_MISUSE,
            msg: msg.into(),
        }
    }
}

impl From<Error> for Fail {
    fn from(e: Error) -> Fail {
        Fail {
            status: status_of(e.kind()),
            msg: e.message().to_string(),
        }
    }
}

/// emberkv's error kinds as statuses.
pub(crate) fn status_of(kind: ErrorKind) -> ekv_status {
    match kind {
        ErrorKind::Config => EKV_ERR_MISUSE,
        ErrorKind::Io => EKV_ERR_IO,
        ErrorKind::Corrupt => EKV_ERR_CORRUPT,
        ErrorKind::Closed => EKV_ERR_CLOSED,
        ErrorKind::Overflow => EKV_ERR_OVERFLOW,
        // A kind added to the engine later: still a failure, with its message.
        _ => EKV_ERR_IO,
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Records `msg` as this thread's last error (interior NULs become spaces:
/// a message must never be cut short or lost).
pub(crate) fn set_last_error(msg: &str) {
    let c = CString::new(msg).unwrap_or_else(|e| {
        let mut v = e.into_vec();
        v.iter_mut().filter(|b| **b == 0).for_each(|b| *b = b' ');
        CString::new(v).expect("no NUL left")
    });
    // try_with: during thread teardown the slot may already be gone.
    let _ = LAST_ERROR.try_with(|slot| *slot.borrow_mut() = c);
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let what = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    format!("internal error (panic): {what}")
}

/// Runs `f` behind the panic boundary and turns its outcome into a status.
/// Inlined into every entry point: the success path costs no call.
#[inline(always)]
pub(crate) fn guard(f: impl FnOnce() -> Result<(), Fail>) -> ekv_status {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => EKV_OK,
        Ok(Err(fail)) => failed(fail),
        Err(payload) => panicked(payload),
    }
}

/// Like [`guard`] for functions that return a value instead of a status
/// (constructors returning NULL, accessors returning 0): `fallback` on a
/// failure or a panic, with the message recorded.
#[inline(always)]
pub(crate) fn guard_value<T>(fallback: T, f: impl FnOnce() -> Result<T, Fail>) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => v,
        Ok(Err(fail)) => {
            failed(fail);
            fallback
        }
        Err(payload) => {
            panicked(payload);
            fallback
        }
    }
}

#[cold]
#[inline(never)]
fn failed(fail: Fail) -> ekv_status {
    set_last_error(&fail.msg);
    fail.status
}

#[cold]
#[inline(never)]
fn panicked(payload: Box<dyn std::any::Any + Send>) -> ekv_status {
    set_last_error(&panic_message(payload.as_ref()));
    EKV_ERR_PANIC
}

/// The message of the last call on this thread that failed (returned a
/// status other than EKV_OK, or NULL where a handle was expected).
///
/// Never NULL; "" if nothing failed yet on this thread. The string belongs to
/// the library and stays valid until the next failing call on this thread;
/// successful calls leave it unchanged. Thread-safe: each thread has its own.
#[unsafe(no_mangle)]
pub extern "C" fn ekv_last_error() -> *const c_char {
    LAST_ERROR
        .try_with(|slot| slot.borrow().as_ptr())
        .unwrap_or(c"".as_ptr())
}

/// A short, static English name for a status ("OK", "misuse", "I/O error",
/// ...); "unknown status" for a value that is not a status. Never NULL;
/// the string must not be freed. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn ekv_status_str(status: ekv_status) -> *const c_char {
    let s = match status {
        EKV_OK => c"OK",
        EKV_ERR_MISUSE => c"misuse (NULL or invalid argument)",
        EKV_ERR_IO => c"I/O error",
        EKV_ERR_CORRUPT => c"corrupt data file",
        EKV_ERR_CLOSED => c"closed",
        EKV_ERR_TIMEOUT => c"timed out",
        EKV_ERR_PANIC => c"internal error (panic)",
        EKV_ERR_OVERFLOW => c"subscription queue overflowed",
        _ => c"unknown status",
    };
    s.as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn last() -> String {
        unsafe { CStr::from_ptr(ekv_last_error()) }
            .to_str()
            .unwrap()
            .to_string()
    }

    #[test]
    fn panics_become_a_status() {
        let st = guard(|| panic!("boom {}", 42));
        assert_eq!(st, EKV_ERR_PANIC);
        assert_eq!(last(), "internal error (panic): boom 42");
        assert_eq!(
            guard_value(7, || -> Result<i32, Fail> { panic!("static") }),
            7
        );
        assert_eq!(last(), "internal error (panic): static");
    }

    #[test]
    fn failures_record_their_message() {
        assert_eq!(guard(|| Err(Fail::misuse("bad\0arg"))), EKV_ERR_MISUSE);
        assert_eq!(last(), "bad arg");
        assert_eq!(guard(|| Ok(())), EKV_OK);
        assert_eq!(last(), "bad arg", "success leaves the message");
    }

    #[test]
    fn status_names() {
        for s in EKV_OK..=EKV_ERR_OVERFLOW {
            let name = unsafe { CStr::from_ptr(ekv_status_str(s)) }
                .to_str()
                .unwrap();
            assert_ne!(name, "unknown status");
        }
        let name = unsafe { CStr::from_ptr(ekv_status_str(-1)) };
        assert_eq!(name.to_str().unwrap(), "unknown status");
    }
}
