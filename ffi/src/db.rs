//! Opening and closing a database, options, clients and `ekv_command`.

use std::ffi::{CStr, OsStr, c_char};
use std::mem::MaybeUninit;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::ptr;

use emberkv::{Client, Config, Db};

use crate::reply::{Slot, ekv_reply, into_raw};
use crate::status::{EKV_ERR_CLOSED, Fail, ekv_status, guard, guard_value};

/// Options for ekv_open(): redis.conf directives by name.
///
/// Ownership: created by ekv_options_new(), freed by ekv_options_free();
/// ekv_open() copies what it needs, so the options may be freed (or reused)
/// right after it. Thread-safety: none; use from one thread at a time.
pub struct ekv_options {
    cfg: Config,
    /// Every directive set, in order: what ekv_listen() applies.
    pub(crate) pairs: Vec<(String, String)>,
}

/// An open database (the engine). Create with ekv_open(), destroy with
/// ekv_close().
///
/// Thread-safety: shareable: any number of threads may call functions on
/// the same ekv_db at once, and every command is atomic. Only ekv_close()
/// must not race with other calls on the same handle.
pub struct ekv_db {
    db: Db,
    subs: crate::pubsub::Registry,
    listeners: crate::listen::Registry,
}

impl ekv_db {
    pub(crate) fn db(&self) -> &Db {
        &self.db
    }
    pub(crate) fn subscriptions(&self) -> &crate::pubsub::Registry {
        &self.subs
    }
    pub(crate) fn listeners(&self) -> &crate::listen::Registry {
        &self.listeners
    }
}

/// A connection to a database: selected database (SELECT), protocol (HELLO),
/// MULTI queue, WATCHed keys, client name.
///
/// Ownership: created by ekv_client_new(), freed by ekv_client_free(). A
/// client keeps the engine alive on its own: it may outlive ekv_close() of
/// its database, after which ekv_command() returns EKV_ERR_CLOSED.
/// Thread-safety: one thread at a time (it may move between threads); give
/// each thread its own client.
pub struct ekv_client {
    client: Client,
    /// Where this client's small replies live while the caller holds them.
    slot: *mut Slot,
}

/// The version of the library, "MAJOR.MINOR.PATCH" (EKV_VERSION_STRING of
/// the header it was built with). Static; never NULL; never free it.
/// Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn ekv_version() -> *const c_char {
    const V: &CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => panic!("version contains a NUL"),
        };
    V.as_ptr()
}

/// A C string argument as UTF-8; `what` names it in the error.
///
/// # Safety
/// `s` is NULL or a NUL-terminated string.
pub(crate) unsafe fn utf8<'a>(s: *const c_char, what: &str) -> Result<&'a str, Fail> {
    if s.is_null() {
        return Err(Fail::misuse(format!("{what} is NULL")));
    }
    // SAFETY: see above.
    unsafe { CStr::from_ptr(s) }
        .to_str()
        .map_err(|_| Fail::misuse(format!("{what} is not valid UTF-8")))
}

/// New options with every directive at its default (in memory, 16
/// databases, ...). Returns NULL only if memory ran out. Free with
/// ekv_options_free(). Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn ekv_options_new() -> *mut ekv_options {
    guard_value(ptr::null_mut(), || {
        Ok(Box::into_raw(Box::new(ekv_options {
            cfg: Config::default(),
            pairs: Vec::new(),
        })))
    })
}

/// Sets the redis.conf directive `name` (case-insensitive; "dir",
/// "databases", "hz", "notify-keyspace-events", ...) to `value`,
/// both NUL-terminated UTF-8. The value is checked as redis-server checks it.
///
/// Returns EKV_ERR_MISUSE for a NULL argument, an unknown directive or an
/// invalid value (ekv_last_error() says which); the options are unchanged then.
/// Not thread-safe for the same options (see ekv_options).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ekv_options_set(
    opts: *mut ekv_options,
    name: *const c_char,
    value: *const c_char,
) -> ekv_status {
    guard(|| {
        // SAFETY: the caller passes NULL or live handles and C strings.
        let opts = unsafe { opts.as_mut() }.ok_or_else(|| Fail::misuse("options are NULL"))?;
        let name = unsafe { utf8(name, "option name") }?;
        let value = unsafe { utf8(value, "option value") }?;
        // io-threads is a listener-only directive (ekv_listen); the engine's
        // Config checks every other name and value.
        if !name.eq_ignore_ascii_case("io-threads") {
            opts.cfg.set(name, value)?;
        }
        opts.pairs.push((name.to_string(), value.to_string()));
        Ok(())
    })
}

/// Frees options. NULL is accepted. Must not race with other calls on them.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ekv_options_free(opts: *mut ekv_options) {
    guard_value((), || {
        if !opts.is_null() {
            // SAFETY: made by ekv_options_new, freed once (caller's contract).
            drop(unsafe { Box::from_raw(opts) });
        }
        Ok(())
    })
}

/// Opens a database and stores its handle in `*out`.
///
/// `dir`: the data directory (any bytes but NUL; it must exist), or NULL to
/// keep everything in memory (unless `opts` sets "dir"). `opts`: NULL for
/// the defaults; only read during the call.
///
/// Returns EKV_OK, EKV_ERR_MISUSE (`out` NULL, invalid options), EKV_ERR_IO
/// or EKV_ERR_CORRUPT (the data files could not be read). Close the
/// database with ekv_close(). Thread-safe (`opts` is only read).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ekv_open(
    dir: *const c_char,
    opts: *const ekv_options,
    out: *mut *mut ekv_db,
) -> ekv_status {
    guard(|| {
        if out.is_null() {
            return Err(Fail::misuse("out is NULL"));
        }
        // SAFETY: the caller passes NULL or live options.
        let mut cfg = unsafe { opts.as_ref() }.map_or_else(Config::default, |o| o.cfg.clone());
        if !dir.is_null() {
            // SAFETY: a NUL-terminated string (caller's contract).
            let bytes = unsafe { CStr::from_ptr(dir) }.to_bytes();
            if bytes.is_empty() {
                return Err(Fail::misuse(
                    "dir is empty (pass NULL for an in-memory database)",
                ));
            }
            cfg.dir = Some(PathBuf::from(OsStr::from_bytes(bytes)));
        }
        let db = Db::open(cfg)?;
        // SAFETY: checked non-NULL above.
        unsafe {
            *out = Box::into_raw(Box::new(ekv_db {
                db,
                subs: Default::default(),
                listeners: Default::default(),
            }))
        };
        Ok(())
    })
}

/// Closes a database: closes its listeners (ekv_listen), flushes and fsyncs
/// what persistence has pending, stops its background threads and frees the
/// handle, which must not be used again. NULL is accepted (EKV_OK).
///
/// The handle is freed whatever the status; a status other than EKV_OK
/// (EKV_ERR_IO) reports that the final flush failed. Clients and
/// subscriptions of this database stay valid (free them as usual); their
/// calls return EKV_ERR_CLOSED from now on; listeners are closed, as by
/// ekv_listener_close() (free them as usual). Must not run concurrently with
/// other calls on the same ekv_db.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ekv_close(db: *mut ekv_db) -> ekv_status {
    guard(|| {
        if db.is_null() {
            return Ok(());
        }
        // SAFETY: made by ekv_open, closed once (caller's contract).
        let db = unsafe { Box::from_raw(db) };
        // The engine leaves subscriptions open on close; C code blocked in
        // ekv_subscription_next must wake up.
        db.subs.close_all();
        // Listeners stop serving (their handles stay valid until
        // ekv_listener_free) before the engine closes under their clients.
        db.listeners.close_all();
        db.db.close()?;
        Ok(())
    })
}

/// A new client of `db` (database 0, RESP2 until HELLO 3). Returns NULL if
/// `db` is NULL (see ekv_last_error()). Free with ekv_client_free().
/// Thread-safe with respect to `db`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ekv_client_new(db: *mut ekv_db) -> *mut ekv_client {
    guard_value(ptr::null_mut(), || {
        // SAFETY: NULL or a live handle (caller's contract).
        let db = unsafe { db.as_ref() }.ok_or_else(|| Fail::misuse("db is NULL"))?;
        Ok(Box::into_raw(Box::new(ekv_client {
            client: db.db.client(),
            slot: Slot::new(),
        })))
    })
}

/// Frees a client (a MULTI in progress is discarded, WATCHes dropped). NULL
/// is accepted. Must not run concurrently with other calls on the client.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ekv_client_free(client: *mut ekv_client) {
    guard_value((), || {
        if !client.is_null() {
            // SAFETY: made by ekv_client_new, freed once (caller's contract).
            let c = unsafe { Box::from_raw(client) };
            // SAFETY: the client's own slot; a reply still in it keeps it.
            unsafe { Slot::retire(c.slot) };
        }
        Ok(())
    })
}

/// Up to this many arguments are gathered on the stack.
const STACK_ARGS: usize = 8;

/// Argument `i` of a command; `None` if it is NULL with a non-zero length
/// (or NULL at all when `argvlen` is NULL: then it must be a C string).
///
/// # Safety
/// `argv`, and `argvlen` if not NULL, hold more than `i` entries; each
/// argument points to its length in bytes, or is NUL-terminated.
#[inline(always)]
unsafe fn arg<'a>(argv: *const *const u8, argvlen: *const usize, i: usize) -> Option<&'a [u8]> {
    // SAFETY: see above.
    unsafe {
        let p = *argv.add(i);
        if argvlen.is_null() {
            return (!p.is_null()).then(|| CStr::from_ptr(p.cast()).to_bytes());
        }
        match *argvlen.add(i) {
            0 => Some(&[]),
            _ if p.is_null() => None,
            n => Some(std::slice::from_raw_parts(p, n)),
        }
    }
}

#[cold]
fn closed() -> Fail {
    Fail {
        status: EKV_ERR_CLOSED,
        msg: "the database is closed".into(),
    }
}

#[cold]
fn bad_arg(argvlen: *const usize, i: usize) -> Fail {
    if argvlen.is_null() {
        Fail::misuse(format!("argv[{i}] is NULL"))
    } else {
        // SAFETY: `arg` just read this entry.
        let n = unsafe { *argvlen.add(i) };
        Fail::misuse(format!("argv[{i}] is NULL but its length is {n}"))
    }
}

/// Runs one Redis command on `client`, like hiredis' redisCommandArgv():
/// `argv[0]` is the command name, `argv[i]` points to `argvlen[i]` bytes
/// (binary-safe; copied, never kept). `argvlen` may be NULL when every
/// argument is a NUL-terminated string. `argv[i]` may be NULL only when
/// its length is 0.
///
/// On EKV_OK, `*out` is the reply, owned by the caller until
/// ekv_reply_free(). A Redis error (unknown command, WRONGTYPE, syntax
/// error, ...) is EKV_OK with a reply of type EKV_REPLY_ERROR. A status
/// other than EKV_OK means the call itself failed: EKV_ERR_MISUSE (NULL
/// client/out/argv, argc 0, NULL argument with a length), EKV_ERR_CLOSED
/// (the database was closed), EKV_ERR_PANIC.
///
/// Blocking commands block the calling thread. Thread-safety: one thread
/// at a time per client (see ekv_client).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ekv_command(
    client: *mut ekv_client,
    argc: usize,
    argv: *const *const u8,
    argvlen: *const usize,
    out: *mut *mut ekv_reply,
) -> ekv_status {
    guard(|| {
        // SAFETY: the caller passes NULL or a live client used by this thread only.
        let client = unsafe { client.as_mut() }.ok_or_else(|| Fail::misuse("client is NULL"))?;
        if out.is_null() {
            return Err(Fail::misuse("out is NULL"));
        }
        if client.client.is_closed() {
            return Err(closed());
        }
        if argc == 0 || argv.is_null() {
            return Err(Fail::misuse(if argc == 0 {
                "argc is 0"
            } else {
                "argv is NULL"
            }));
        }
        // SAFETY (arg): `argv`, and `argvlen` if not NULL, hold `argc`
        // entries (caller's contract).
        let reply = if argc <= STACK_ARGS {
            let mut buf = [const { MaybeUninit::<&[u8]>::uninit() }; STACK_ARGS];
            for (i, slot) in buf[..argc].iter_mut().enumerate() {
                slot.write(unsafe { arg(argv, argvlen, i) }.ok_or_else(|| bad_arg(argvlen, i))?);
            }
            // SAFETY: the first `argc` entries were written just above.
            let args = unsafe { std::slice::from_raw_parts(buf.as_ptr() as *const &[u8], argc) };
            client.client.execute_slices(args)
        } else {
            let args = (0..argc)
                .map(|i| unsafe { arg(argv, argvlen, i) }.ok_or_else(|| bad_arg(argvlen, i)))
                .collect::<Result<Vec<_>, _>>()?;
            client.client.execute_slices(&args)
        };
        // SAFETY: the slot lives at least as long as the client.
        let slot = unsafe { &*client.slot };
        let tree = into_raw(reply, client.client.protocol() == 3, Some(slot));
        // SAFETY: checked non-NULL above.
        unsafe { *out = tree };
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::*;
    use crate::status::*;

    fn cmd(c: *mut ekv_client, args: &[&[u8]]) -> (ekv_status, *mut ekv_reply) {
        let ptrs: Vec<*const u8> = args.iter().map(|a| a.as_ptr()).collect();
        let lens: Vec<usize> = args.iter().map(|a| a.len()).collect();
        let mut out = ptr::null_mut();
        let st = unsafe { ekv_command(c, args.len(), ptrs.as_ptr(), lens.as_ptr(), &mut out) };
        (st, out)
    }

    #[test]
    fn open_command_close() {
        unsafe {
            let mut db = ptr::null_mut();
            assert_eq!(ekv_open(ptr::null(), ptr::null(), &mut db), EKV_OK);
            let c = ekv_client_new(db);
            let (st, r) = cmd(c, &[b"SET", b"k\0", b"v\0v"]);
            assert_eq!(st, EKV_OK);
            assert_eq!(ekv_reply_type(r), EKV_REPLY_STATUS);
            ekv_reply_free(r);
            // more arguments than fit on the stack
            let many: Vec<&[u8]> = [b"DEL".as_slice()]
                .into_iter()
                .chain([b"x".as_slice(); 12])
                .collect();
            let (st, r) = cmd(c, &many);
            assert_eq!(st, EKV_OK);
            assert_eq!(ekv_reply_integer(r), 0);
            ekv_reply_free(r);
            assert_eq!(ekv_close(db), EKV_OK);
            let (st, r) = cmd(c, &[b"GET", b"k\0"]);
            assert_eq!(st, EKV_ERR_CLOSED);
            assert!(r.is_null(), "out untouched on failure");
            ekv_client_free(c);
        }
    }

    #[test]
    fn version_matches_cargo() {
        let v = unsafe { CStr::from_ptr(ekv_version()) };
        assert_eq!(v.to_str().unwrap(), emberkv::VERSION);
    }
}
