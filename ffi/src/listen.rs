//! `ekv_listener`: serving a database on Redis's wire protocol from inside
//! the program (the `emberkv_resp` crate), so redis-cli, redis-py, ioredis,
//! hiredis and sibling processes attach to it.

use std::ffi::{CString, c_char};
use std::sync::{Arc, Weak};

use emberkv_resp::Listener;

use crate::db::{ekv_db, ekv_options, utf8};
use crate::status::{Fail, ekv_status, guard, guard_value};

/// A listener: a socket (TCP or Unix) serving a database to Redis clients.
///
/// Ownership: created by ekv_listen(), freed by ekv_listener_free(). Closing
/// (ekv_listener_close(), or ekv_close() of its database) stops it; the
/// handle stays valid until freed. Thread-safety: shareable; any thread may
/// read its address or close it; only ekv_listener_free() must not race
/// with other calls on the same handle.
pub struct ekv_listener {
    inner: Arc<Listener>,
    addr: CString,
}

/// Listeners of a database, closed by ekv_close().
#[derive(Default)]
pub(crate) struct Registry(parking_lot::Mutex<Vec<Weak<Listener>>>);

impl Registry {
    fn add(&self, l: &Arc<Listener>) {
        let mut v = self.0.lock();
        v.retain(|w| w.strong_count() > 0);
        v.push(Arc::downgrade(l));
    }

    pub fn close_all(&self) {
        let ls: Vec<Arc<Listener>> = self
            .0
            .lock()
            .drain(..)
            .filter_map(|w| w.upgrade())
            .collect();
        ls.iter().for_each(|l| l.close());
    }
}

/// Serves `db` on `url` and stores the listener in `*out`.
///
/// `url`: "tcp://HOST:PORT" (port 0 picks a free port: see
/// ekv_listener_addr()), "unix:///absolute/path.sock" (an existing socket
/// file there is replaced), or the bare forms "HOST:PORT" and "/path.sock".
/// `opts`: NULL, or options whose directives (ekv_options_set) are listener
/// and network directives, named as in redis.conf: "unixsocketperm" (octal,
/// e.g. "700"), "tcp-backlog", "io-threads" (event-loop threads; default one
/// per core) for this listener, and "requirepass", "maxclients", "timeout",
/// "protected-mode", "proto-max-bulk-len", "client-query-buffer-limit",
/// "client-output-buffer-limit", "tcp-keepalive", which are set on the
/// database (CONFIG SET, before the socket opens), so they apply to all its
/// listeners, as they are server-wide in redis-server. `opts` is only read
/// during the call.
///
/// Clients get what redis-server gives them (RESP2/RESP3, pipelining,
/// MULTI, pub/sub, blocking commands, AUTH); SHUTDOWN is refused, since a
/// client must not stop its host program. The listener runs on its own
/// threads (an accept thread, event loops, a thread per blocked or
/// subscribed client).
///
/// Returns EKV_OK, EKV_ERR_MISUSE (NULL `db`/`url`/`out`, a malformed URL,
/// a directive that is not a listener or network one, a bad value),
/// EKV_ERR_IO (the address is in use, permission denied, no such
/// directory), EKV_ERR_CLOSED (the database was closed). Thread-safe with
/// respect to `db`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ekv_listen(
    db: *mut ekv_db,
    url: *const c_char,
    opts: *const ekv_options,
    out: *mut *mut ekv_listener,
) -> ekv_status {
    guard(|| {
        // SAFETY: NULL or live handles and C strings (caller's contract).
        let db = unsafe { db.as_ref() }.ok_or_else(|| Fail::misuse("db is NULL"))?;
        let url = unsafe { utf8(url, "url") }?;
        if out.is_null() {
            return Err(Fail::misuse("out is NULL"));
        }
        let pairs: &[(String, String)] = match unsafe { opts.as_ref() } {
            Some(o) => &o.pairs,
            None => &[],
        };
        let l = Arc::new(emberkv_resp::listen_with(db.db(), url, pairs)?);
        let addr = CString::new(l.local_addr().to_string())
            .map_err(|_| Fail::misuse("the socket path contains a NUL byte"))?;
        db.listeners().add(&l);
        // SAFETY: checked non-NULL above.
        unsafe { *out = Box::into_raw(Box::new(ekv_listener { inner: l, addr })) };
        Ok(())
    })
}

/// The address the listener is bound to, in URL form ("tcp://127.0.0.1:6390"
/// with the real port when 0 was asked for, or "unix:///path.sock"). Borrowed
/// from the listener until ekv_listener_free(); NULL if `l` is NULL.
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ekv_listener_addr(l: *const ekv_listener) -> *const c_char {
    guard_value(std::ptr::null(), || {
        // SAFETY: NULL or a live handle (caller's contract).
        let l = unsafe { l.as_ref() }.ok_or_else(|| Fail::misuse("listener is NULL"))?;
        Ok(l.addr.as_ptr())
    })
}

/// Stops the listener: no new connections; every client connection is
/// closed (a client blocked in BLPOP & co. is woken); waits for the
/// listener's threads; removes its Unix socket file. Idempotent: closing a
/// closed listener (also one closed by ekv_close() of its database) does
/// nothing. The handle stays valid: free it with ekv_listener_free(). NULL
/// is accepted. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ekv_listener_close(l: *mut ekv_listener) {
    guard_value((), || {
        // SAFETY: NULL or a live handle (caller's contract).
        if let Some(l) = unsafe { l.as_ref() } {
            l.inner.close();
        }
        Ok(())
    })
}

/// Closes the listener if still open (as ekv_listener_close()) and frees
/// the handle. NULL is accepted. Must not race with other calls on the same
/// listener. Freeing before or after ekv_close() of the database are both
/// fine.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ekv_listener_free(l: *mut ekv_listener) {
    guard_value((), || {
        if !l.is_null() {
            // SAFETY: made by ekv_listen, freed once (caller's contract).
            let l = unsafe { Box::from_raw(l) };
            l.inner.close();
        }
        Ok(())
    })
}
