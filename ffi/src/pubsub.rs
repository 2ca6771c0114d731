//! `ekv_subscription`: pub/sub for C, polling (`ekv_subscription_next`) or
//! pushed to a callback on an engine thread.
//!
//! The engine runs callbacks on a delivery thread it does not join, so this
//! layer owns the rule C needs: once `ekv_subscription_set_callback` (a
//! replacement) or `ekv_subscription_free` returns, the previous callback is
//! not running and will never be called again with its userdata. Every
//! call of a C callback happens under the subscription's `Push` lock; a
//! reentrant lock, so a callback may free or re-point its own subscription.

use std::cell::Cell;
use std::ffi::{c_int, c_void};
use std::sync::{Arc, Weak};
use std::time::Duration;

use emberkv::{Error, Message, Subscription};
use parking_lot::ReentrantMutex;

use crate::db::ekv_db;
use crate::reply::{ekv_reply, into_raw};
use crate::status::{EKV_ERR_TIMEOUT, Fail, ekv_status, guard, guard_value};

/// A pub/sub message callback: `msg` is an EKV_REPLY_PUSH reply shaped as
/// Redis sends it (["message", channel, payload], ["pmessage", pattern,
/// channel, payload], ["subscribe", channel, count], ...), borrowed for the
/// duration of the call only (do not free it; copy what you keep).
/// Called on an emberkv thread, one message at a time per subscription,
/// never under an engine lock: it may run commands, including on the same
/// database. It must not unwind (C++ exceptions, longjmp) out of the call.
pub type ekv_message_cb =
    Option<unsafe extern "C" fn(userdata: *mut c_void, msg: *const ekv_reply)>;

/// A subscription: a set of channels and patterns, and the queue of the
/// messages published to them (a bounded queue: a subscriber that falls too
/// far behind is closed with EKV_ERR_OVERFLOW, never silently dropped).
///
/// Ownership: created by ekv_subscription_new(), freed by
/// ekv_subscription_free(). It stays valid after ekv_close() of its
/// database (which closes it: calls then return EKV_ERR_CLOSED).
///
/// Thread-safety: shareable: any thread may (un)subscribe, wait for
/// messages or close it at any time; only ekv_subscription_free() must not
/// race with other calls on it.
pub struct ekv_subscription {
    sub: Arc<Subscription>,
    push: Arc<Push>,
}

/// The C callback currently installed, if any.
struct Push {
    target: ReentrantMutex<Cell<Option<Target>>>,
}

#[derive(Clone, Copy)]
struct Target {
    cb: unsafe extern "C" fn(*mut c_void, *const ekv_reply),
    userdata: *mut c_void,
}

// SAFETY: the C caller promises, by installing the callback, that it may be
// called with `userdata` from an emberkv thread.
unsafe impl Send for Push {}
// SAFETY: as above; `target` is only touched under its lock.
unsafe impl Sync for Push {}

impl Push {
    /// Calls the installed callback (if any) with `m`.
    fn deliver(&self, m: Message) {
        let guard = self.target.lock();
        let Some(t) = guard.get() else { return };
        let tree = into_raw(m.to_reply(), true, None);
        // SAFETY: the C caller installed `cb` for `userdata`; `tree` lives
        // until after the call.
        unsafe { (t.cb)(t.userdata, tree) };
        // SAFETY: made by into_raw just above, freed once.
        unsafe { crate::reply::ekv_reply_free(tree) };
    }

    /// Replaces the target; waits for a call in progress on another thread.
    fn set(&self, t: Option<Target>) {
        self.target.lock().set(t);
    }

    fn installed(&self) -> bool {
        self.target.lock().get().is_some()
    }
}

/// Subscriptions of a database, closed by ekv_close().
#[derive(Default)]
pub(crate) struct Registry(parking_lot::Mutex<Vec<Weak<Subscription>>>);

impl Registry {
    fn add(&self, s: &Arc<Subscription>) {
        let mut v = self.0.lock();
        v.retain(|w| w.strong_count() > 0);
        v.push(Arc::downgrade(s));
    }

    /// Closes every live subscription: waiting ekv_subscription_next calls
    /// return EKV_ERR_CLOSED.
    pub fn close_all(&self) {
        let subs: Vec<Arc<Subscription>> = self
            .0
            .lock()
            .drain(..)
            .filter_map(|w| w.upgrade())
            .collect();
        subs.iter().for_each(|s| s.close());
    }
}

/// # Safety
/// `sub` is NULL or a live subscription.
unsafe fn subscription<'a>(sub: *const ekv_subscription) -> Result<&'a ekv_subscription, Fail> {
    // SAFETY: see above.
    unsafe { sub.as_ref() }.ok_or_else(|| Fail::misuse("subscription is NULL"))
}

/// A closed subscription's error as a failure.
fn closed(sub: &Subscription) -> Result<(), Fail> {
    match sub.closed_reason() {
        Some(e) => Err(Fail::from(e)),
        None => Ok(()),
    }
}

/// A new subscription of `db`, subscribed to nothing yet, stored in `*out`.
/// Returns EKV_ERR_MISUSE for NULL arguments, EKV_ERR_CLOSED if `db` is
/// closed. Thread-safe with respect to `db`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ekv_subscription_new(
    db: *mut ekv_db,
    out: *mut *mut ekv_subscription,
) -> ekv_status {
    guard(|| {
        // SAFETY: NULL or a live handle (caller's contract).
        let db = unsafe { db.as_ref() }.ok_or_else(|| Fail::misuse("db is NULL"))?;
        if out.is_null() {
            return Err(Fail::misuse("out is NULL"));
        }
        if db.db().is_closed() {
            return Err(Fail::from(Error::new(
                emberkv::ErrorKind::Closed,
                "the database is closed",
            )));
        }
        let sub = Arc::new(db.db().subscribe());
        db.subscriptions().add(&sub);
        let push = Arc::new(Push {
            target: ReentrantMutex::new(Cell::new(None)),
        });
        // SAFETY: checked non-NULL above.
        unsafe { *out = Box::into_raw(Box::new(ekv_subscription { sub, push })) };
        Ok(())
    })
}

/// The name argument of the (un)subscribe functions; NULL (with any length)
/// is `None`.
///
/// # Safety
/// `name` is NULL or points to `len` readable bytes.
unsafe fn name_arg<'a>(name: *const u8, len: usize) -> Option<&'a [u8]> {
    match (name.is_null(), len) {
        (true, _) => None,
        (false, 0) => Some(&[]),
        // SAFETY: see above.
        (false, n) => Some(unsafe { std::slice::from_raw_parts(name, n) }),
    }
}

#[derive(Clone, Copy)]
enum Op {
    Subscribe,
    PSubscribe,
    SSubscribe,
    Unsubscribe,
    PUnsubscribe,
    SUnsubscribe,
}

fn sub_op(sub: *const ekv_subscription, name: *const u8, len: usize, op: Op) -> ekv_status {
    guard(|| {
        // SAFETY: the caller passes NULL or a live subscription, and a name
        // of `len` bytes (or NULL).
        let s = unsafe { subscription(sub) }?;
        let name = unsafe { name_arg(name, len) };
        closed(&s.sub)?;
        let one: Vec<&[u8]> = name.into_iter().collect();
        match op {
            Op::Subscribe | Op::PSubscribe | Op::SSubscribe if one.is_empty() => {
                return Err(Fail::misuse("name is NULL"));
            }
            Op::Subscribe => s.sub.subscribe(&one),
            Op::PSubscribe => s.sub.psubscribe(&one),
            Op::SSubscribe => s.sub.ssubscribe(&one),
            // An empty list: from every channel / pattern.
            Op::Unsubscribe => s.sub.unsubscribe(&one),
            Op::PUnsubscribe => s.sub.punsubscribe(&one),
            Op::SUnsubscribe => s.sub.sunsubscribe(&one),
        }
        Ok(())
    })
}

/// Subscribes to the channel `name` (`len` bytes, binary-safe, copied), as
/// SUBSCRIBE. The confirmation (["subscribe", name, count]) arrives as a
/// message, in order with the others. Returns EKV_ERR_MISUSE for a NULL
/// subscription or name, EKV_ERR_CLOSED / EKV_ERR_OVERFLOW if the
/// subscription was closed. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ekv_subscription_subscribe(
    sub: *mut ekv_subscription,
    name: *const u8,
    len: usize,
) -> ekv_status {
    sub_op(sub, name, len, Op::Subscribe)
}

/// Subscribes to the glob-style pattern `name`, as PSUBSCRIBE; messages
/// arrive as ["pmessage", pattern, channel, payload]. Otherwise as
/// ekv_subscription_subscribe(). Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ekv_subscription_psubscribe(
    sub: *mut ekv_subscription,
    name: *const u8,
    len: usize,
) -> ekv_status {
    sub_op(sub, name, len, Op::PSubscribe)
}

/// Subscribes to the shard channel `name`, as SSUBSCRIBE (messages from
/// SPUBLISH arrive as ["smessage", channel, payload]). Otherwise as
/// ekv_subscription_subscribe(). Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ekv_subscription_ssubscribe(
    sub: *mut ekv_subscription,
    name: *const u8,
    len: usize,
) -> ekv_status {
    sub_op(sub, name, len, Op::SSubscribe)
}

/// Unsubscribes from the channel `name`, or from every channel if `name` is
/// NULL, as UNSUBSCRIBE (confirmations arrive as messages). Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ekv_subscription_unsubscribe(
    sub: *mut ekv_subscription,
    name: *const u8,
    len: usize,
) -> ekv_status {
    sub_op(sub, name, len, Op::Unsubscribe)
}

/// Unsubscribes from the pattern `name`, or from every pattern if `name` is
/// NULL, as PUNSUBSCRIBE. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ekv_subscription_punsubscribe(
    sub: *mut ekv_subscription,
    name: *const u8,
    len: usize,
) -> ekv_status {
    sub_op(sub, name, len, Op::PUnsubscribe)
}

/// Unsubscribes from the shard channel `name`, or from every shard channel
/// if `name` is NULL, as SUNSUBSCRIBE. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ekv_subscription_sunsubscribe(
    sub: *mut ekv_subscription,
    name: *const u8,
    len: usize,
) -> ekv_status {
    sub_op(sub, name, len, Op::SUnsubscribe)
}

/// The number of channels, patterns and shard channels the subscription
/// holds (0 for NULL). Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ekv_subscription_count(sub: *const ekv_subscription) -> usize {
    // SAFETY: NULL or a live subscription (caller's contract).
    guard_value(0, || Ok(unsafe { subscription(sub) }?.sub.channel_count()))
}

/// Waits for the next message and stores it in `*msg`: an EKV_REPLY_PUSH
/// reply (see ekv_message_cb for its shapes), owned by the caller until
/// ekv_reply_free().
///
/// `timeout_ms` < 0 waits as long as needed, 0 only takes a message already
/// queued, > 0 waits at most that many milliseconds. Returns EKV_OK,
/// EKV_ERR_TIMEOUT (nothing came), EKV_ERR_CLOSED (closed by
/// ekv_subscription_close() or ekv_close()), EKV_ERR_OVERFLOW (it fell too
/// far behind and was closed), EKV_ERR_MISUSE (NULL arguments, or a callback
/// is installed: messages go there). Thread-safe; with several waiting
/// threads, each message goes to one of them.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ekv_subscription_next(
    sub: *mut ekv_subscription,
    timeout_ms: c_int,
    msg: *mut *mut ekv_reply,
) -> ekv_status {
    guard(|| {
        // SAFETY: NULL or a live subscription (caller's contract).
        let s = unsafe { subscription(sub) }?;
        if msg.is_null() {
            return Err(Fail::misuse("msg is NULL"));
        }
        if s.push.installed() {
            return Err(Fail::misuse("this subscription delivers to its callback"));
        }
        let m = match timeout_ms {
            t if t < 0 => Some(s.sub.recv()?),
            0 => s.sub.try_recv()?,
            t => s.sub.recv_timeout(Duration::from_millis(t as u64))?,
        };
        let Some(m) = m else {
            return Err(Fail {
                status: EKV_ERR_TIMEOUT,
                msg: "no message before the timeout".into(),
            });
        };
        // SAFETY: checked non-NULL above.
        unsafe { *msg = into_raw(m.to_reply(), true, None) };
        Ok(())
    })
}

/// Delivers messages to `cb(userdata, msg)` on an emberkv thread instead of
/// ekv_subscription_next(), starting with those already queued. Calling it
/// again replaces the callback and userdata. When it returns, a previous
/// callback is not running (unless this is called from inside it) and will
/// not be called again (it waits for a call in progress, as
/// ekv_subscription_free() does). `cb` NULL is EKV_ERR_MISUSE (messages are never
/// dropped silently; free the subscription to stop). Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ekv_subscription_set_callback(
    sub: *mut ekv_subscription,
    cb: ekv_message_cb,
    userdata: *mut c_void,
) -> ekv_status {
    guard(|| {
        // SAFETY: NULL or a live subscription (caller's contract).
        let s = unsafe { subscription(sub) }?;
        let cb = cb.ok_or_else(|| Fail::misuse("callback is NULL"))?;
        closed(&s.sub)?;
        let first = !s.push.installed();
        s.push.set(Some(Target { cb, userdata }));
        if first {
            let push = s.push.clone();
            s.sub.set_callback(move |m| {
                // The panic boundary of the delivery thread; a panic here
                // would otherwise end it silently.
                guard_value((), || {
                    push.deliver(m);
                    Ok(())
                })
            });
        }
        Ok(())
    })
}

/// Closes the subscription without freeing it: unsubscribes from
/// everything, wakes threads waiting in ekv_subscription_next() (they get
/// EKV_ERR_CLOSED) and stops callbacks. NULL is accepted. Thread-safe: the
/// way to stop a thread blocked in ekv_subscription_next() before freeing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ekv_subscription_close(sub: *mut ekv_subscription) {
    guard_value((), || {
        // SAFETY: NULL or a live subscription (caller's contract).
        if let Some(s) = unsafe { sub.as_ref() } {
            s.sub.close();
        }
        Ok(())
    })
}

/// Closes (as ekv_subscription_close()) and frees a subscription. When it
/// returns, its callback is not running (unless this is called from inside
/// the callback) and will not be called again, so the userdata may be freed.
/// It waits for a callback in progress: do not call it while holding a lock
/// that the callback takes. NULL is accepted. Must not race with other calls
/// on the subscription.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ekv_subscription_free(sub: *mut ekv_subscription) {
    guard_value((), || {
        if sub.is_null() {
            return Ok(());
        }
        // SAFETY: made by ekv_subscription_new, freed once (caller's contract).
        let s = unsafe { Box::from_raw(sub) };
        s.sub.close();
        s.push.set(None);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{ekv_close, ekv_open};
    use crate::reply::*;
    use crate::status::*;
    use std::ptr;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn open() -> *mut ekv_db {
        let mut db = ptr::null_mut();
        assert_eq!(
            unsafe { ekv_open(ptr::null(), ptr::null(), &mut db) },
            EKV_OK
        );
        db
    }

    #[test]
    fn poll_then_close_wakes() {
        unsafe {
            let db = open();
            let mut sub = ptr::null_mut();
            assert_eq!(ekv_subscription_new(db, &mut sub), EKV_OK);
            assert_eq!(ekv_subscription_subscribe(sub, b"ch".as_ptr(), 2), EKV_OK);
            let mut m = ptr::null_mut();
            assert_eq!(ekv_subscription_next(sub, 1000, &mut m), EKV_OK);
            assert_eq!(ekv_reply_type(m), EKV_REPLY_PUSH);
            assert_eq!(ekv_reply_len(m), 3);
            ekv_reply_free(m);
            assert_eq!(ekv_subscription_next(sub, 0, &mut m), EKV_ERR_TIMEOUT);
            assert_eq!(ekv_subscription_count(sub), 1);
            let subp = sub as usize;
            let waiter = std::thread::spawn(move || {
                let mut m = ptr::null_mut();
                ekv_subscription_next(subp as *mut ekv_subscription, -1, &mut m)
            });
            std::thread::sleep(Duration::from_millis(50));
            assert_eq!(ekv_close(db), EKV_OK);
            assert_eq!(waiter.join().unwrap(), EKV_ERR_CLOSED);
            assert_eq!(
                ekv_subscription_subscribe(sub, b"x".as_ptr(), 1),
                EKV_ERR_CLOSED
            );
            ekv_subscription_free(sub);
        }
    }

    static CALLS: AtomicUsize = AtomicUsize::new(0);

    unsafe extern "C" fn count_and_free(userdata: *mut c_void, _msg: *const ekv_reply) {
        CALLS.fetch_add(1, Ordering::SeqCst);
        // frees its own subscription from inside the callback
        unsafe { ekv_subscription_free(userdata.cast()) };
    }

    #[test]
    fn callback_may_free_its_subscription() {
        unsafe {
            let db = open();
            let mut sub = ptr::null_mut();
            assert_eq!(ekv_subscription_new(db, &mut sub), EKV_OK);
            assert_eq!(
                ekv_subscription_set_callback(sub, Some(count_and_free), sub.cast()),
                EKV_OK
            );
            assert_eq!(ekv_subscription_subscribe(sub, b"ch".as_ptr(), 2), EKV_OK);
            for _ in 0..200 {
                if CALLS.load(Ordering::SeqCst) > 0 {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            assert_eq!(CALLS.load(Ordering::SeqCst), 1);
            assert_eq!(ekv_close(db), EKV_OK);
        }
    }
}
