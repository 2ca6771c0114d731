//! MONITOR: every command any client runs (network clients and the
//! embedded `Client`s of the owning process alike), as Redis 7.2 shows it:
//! `+<unix time>.<µs> [<db> <addr>] "cmd" "arg" …`, arguments quoted and
//! escaped as Redis's `sdscatrepr`.
//!
//! As in Redis, a command is shown after it ran (failed or not) and only if
//! it ran: refused commands (unknown, wrong arity, NOAUTH) and commands
//! queued by MULTI are not; EXEC is shown after the commands it ran; EVAL &
//! co. are shown before the commands their script runs (`[<db> lua]`);
//! administrative commands (CONFIG, DEBUG, CLIENT KILL, MONITOR, …) never;
//! AUTH and HELLO's AUTH arguments as `"(redacted)"`.
//!
//! A monitor's lines go to its client's `Outbox`; nothing here waits.

use std::cell::Cell;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

use crate::client::ClientState;
use crate::commands::{CommandSpec, flag};
use crate::db::Engine;
use crate::push::Outbox;
use crate::reply::Reply;

#[derive(Default)]
pub(crate) struct Monitors {
    list: Mutex<Vec<(u64, Arc<Outbox>)>>,
}

thread_local! {
    /// This thread is running a script's commands (shown as `lua`).
    static IN_SCRIPT: Cell<bool> = const { Cell::new(false) };
    /// The keys the running script declared (CLIENT TRACKING remembers
    /// them when the script reads).
    static SCRIPT_KEYS: std::cell::RefCell<Vec<Vec<u8>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Marks the commands run on this thread until the guard drops as a
/// script's, one that declared `keys`.
pub(crate) struct ScriptScope(bool, Vec<Vec<u8>>);

impl ScriptScope {
    pub fn enter(keys: &[&[u8]]) -> ScriptScope {
        let keys = keys.iter().map(|k| k.to_vec()).collect();
        let prev_keys = SCRIPT_KEYS.with(|s| s.replace(keys));
        ScriptScope(IN_SCRIPT.with(|s| s.replace(true)), prev_keys)
    }
}

impl Drop for ScriptScope {
    fn drop(&mut self) {
        let prev = self.0;
        IN_SCRIPT.with(|s| s.set(prev));
        let keys = std::mem::take(&mut self.1);
        SCRIPT_KEYS.with(|s| *s.borrow_mut() = keys);
    }
}

/// Inside a script: the keys it declared.
pub(crate) fn script_keys() -> Option<Vec<Vec<u8>>> {
    if IN_SCRIPT.with(Cell::get) {
        Some(SCRIPT_KEYS.with(|s| s.borrow().clone()))
    } else {
        None
    }
}

impl Monitors {
    /// Makes client `id` a monitor (again: a no-op).
    pub fn add(&self, eng: &Engine, id: u64, out: Arc<Outbox>) {
        let mut l = self.list.lock();
        if !l.iter().any(|(i, _)| *i == id) {
            l.push((id, out));
        }
        eng.hooks.set(crate::hooks::MONITOR, true);
    }

    pub fn remove(&self, eng: &Engine, id: u64) {
        let mut l = self.list.lock();
        l.retain(|(i, _)| *i != id);
        if l.is_empty() {
            eng.hooks.set(crate::hooks::MONITOR, false);
        }
    }
}

/// Whether `spec` is shown after it ran (scripts show themselves first,
/// administrative commands never).
pub(crate) fn feeds_after(spec: &CommandSpec) -> bool {
    spec.flags & flag::ADMIN == 0 && !is_script_command(spec.name)
}

pub(crate) fn is_script_command(name: &str) -> bool {
    matches!(
        name,
        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro"
    )
}

/// Shows `argv`, run by `cl` in database `db`, to every monitor.
pub(crate) fn feed(eng: &Engine, cl: &ClientState, db: usize, argv: &[&[u8]]) {
    if eng.is_loading() {
        return;
    }
    let outs: Vec<Arc<Outbox>> = eng
        .hooks
        .monitors
        .list
        .lock()
        .iter()
        .map(|(_, o)| o.clone())
        .collect();
    if outs.is_empty() {
        return;
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let addr = if IN_SCRIPT.with(Cell::get) {
        "lua".to_string()
    } else {
        client_addr(cl)
    };
    let line = format_line(now.as_secs(), now.subsec_micros(), db, &addr, argv);
    let cost = line.len();
    for o in outs {
        o.push(Reply::Simple(line.clone()), cost);
    }
}

/// The `[db addr]` part's address: `ip:port`, `unix:<socket path>`, or
/// `embedded` for a `Client` of the owning process.
fn client_addr(cl: &ClientState) -> String {
    let Some(info) = &cl.info else {
        return "embedded".into();
    };
    let m = info.meta.lock();
    if m.addr.is_empty() {
        "embedded".into()
    } else if m.addr.starts_with('/') || m.laddr.starts_with('/') {
        format!("unix:{}", m.laddr)
    } else {
        m.addr.clone()
    }
}

/// One monitor line, without the leading `+` and the CRLF.
pub(crate) fn format_line(secs: u64, micros: u32, db: usize, addr: &str, argv: &[&[u8]]) -> String {
    let mut s = format!("{secs}.{micros:06} [{db} {addr}]");
    let redact_from = redaction_start(argv);
    for (i, a) in argv.iter().enumerate() {
        s.push(' ');
        if redact_from.is_some_and(|(from, to)| i >= from && i < to) {
            s.push_str("\"(redacted)\"");
        } else {
            crate::util::repr::push_repr(&mut s, a);
        }
    }
    s
}

/// Arguments Redis hides: AUTH's, and HELLO's after its AUTH token.
fn redaction_start(argv: &[&[u8]]) -> Option<(usize, usize)> {
    let name = argv.first()?;
    if name.eq_ignore_ascii_case(b"auth") {
        return Some((1, argv.len()));
    }
    if name.eq_ignore_ascii_case(b"hello") {
        let at = argv.iter().position(|a| a.eq_ignore_ascii_case(b"auth"))?;
        return Some((at + 1, (at + 3).min(argv.len())));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_quote_escape_and_redact() {
        let argv: &[&[u8]] = &[b"set", b"k\"1", b"a\r\n\t\x07\x08\\\x00\xff"];
        assert_eq!(
            format_line(1700000000, 42, 3, "127.0.0.1:5000", argv),
            r#"1700000000.000042 [3 127.0.0.1:5000] "set" "k\"1" "a\r\n\t\a\b\\\x00\xff""#
        );
        let argv: &[&[u8]] = &[b"hello", b"2", b"AUTH", b"u", b"p", b"SETNAME", b"n"];
        assert_eq!(
            format_line(1, 0, 0, "x", argv),
            r#"1.000000 [0 x] "hello" "2" "AUTH" "(redacted)" "(redacted)" "SETNAME" "n""#
        );
        let argv: &[&[u8]] = &[b"AUTH", b"p"];
        assert_eq!(
            format_line(1, 0, 0, "x", argv),
            r#"1.000000 [0 x] "AUTH" "(redacted)""#
        );
    }
}
