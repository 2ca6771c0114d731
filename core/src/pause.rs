//! CLIENT PAUSE / UNPAUSE, as Redis 7.2: `WRITE` holds every command that
//! may write or replicate (writes, PUBLISH, PFCOUNT, scripts that may
//! write, an EXEC whose queue holds one of those), `ALL` holds every
//! command, until the timeout passes or CLIENT UNPAUSE. A held command
//! waits before it takes any lock (INFO `blocked_clients` counts it) and
//! then runs normally; commands refused before running (unknown, arity)
//! answer at once. Embedded callers wait the same way: `Client::execute`
//! returns once the pause ends (Redis's semantics: every client waits).
//! While paused nothing expires (active or lazy: reads see an expired key
//! as missing but it stays, and `expired_keys` does not move) and nothing
//! is evicted.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::client::ClientState;
use crate::commands::{CommandSpec, flag};
use crate::db::Engine;

#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub(crate) enum Mode {
    #[default]
    Off,
    Write,
    All,
}

#[derive(Default)]
struct State {
    mode: Mode,
    /// Milliseconds since the epoch when the pause ends.
    until_ms: u64,
}

#[derive(Default)]
pub(crate) struct Pause {
    st: Mutex<State>,
    cv: Condvar,
    /// Clients waiting (INFO `blocked_clients`).
    waiting: AtomicUsize,
}

impl Pause {
    /// `CLIENT PAUSE`: a pause already on is extended or made stricter,
    /// never shortened or weakened (Redis's rule).
    pub fn pause(&self, eng: &Engine, mode: Mode, timeout_ms: u64) {
        let until = eng.clock.now_ms().saturating_add(timeout_ms);
        let mut st = self.st.lock();
        let now = eng.clock.now_ms();
        if st.mode == Mode::Off || st.until_ms <= now {
            st.mode = mode;
            st.until_ms = until;
        } else {
            if mode == Mode::All {
                st.mode = Mode::All;
            }
            st.until_ms = st.until_ms.max(until);
        }
        eng.hooks.set(crate::hooks::PAUSE, true);
    }

    /// `CLIENT UNPAUSE`
    pub fn unpause(&self, eng: &Engine) {
        let mut st = self.st.lock();
        st.mode = Mode::Off;
        eng.hooks.set(crate::hooks::PAUSE, false);
        drop(st);
        self.cv.notify_all();
    }

    /// The mode in force now (an expired pause is ended here).
    pub fn mode(&self, eng: &Engine) -> Mode {
        let mut st = self.st.lock();
        if st.mode != Mode::Off && st.until_ms <= eng.clock.now_ms() {
            st.mode = Mode::Off;
            eng.hooks.set(crate::hooks::PAUSE, false);
            self.cv.notify_all();
        }
        st.mode
    }

    /// Whether keys may not expire or be evicted now.
    pub fn holds_expiry(&self, eng: &Engine) -> bool {
        eng.hooks.active() & crate::hooks::PAUSE != 0 && self.mode(eng) != Mode::Off
    }

    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Waits while a pause holds this command.
    pub fn wait(&self, eng: &Engine, cl: &ClientState, spec: &'static CommandSpec, argv: &[&[u8]]) {
        let mut counted = false;
        let mut st = self.st.lock();
        loop {
            let now = eng.clock.now_ms();
            if st.mode != Mode::Off && st.until_ms <= now {
                st.mode = Mode::Off;
                eng.hooks.set(crate::hooks::PAUSE, false);
                self.cv.notify_all();
            }
            let held = match st.mode {
                Mode::Off => false,
                Mode::All => true,
                Mode::Write => may_replicate(eng, cl, spec, argv),
            };
            if !held || eng.is_closed() {
                break;
            }
            if !counted {
                counted = true;
                self.waiting.fetch_add(1, Ordering::Relaxed);
            }
            // wake at the deadline, and now and then to notice a closed engine
            let left = st.until_ms.saturating_sub(now).clamp(1, 100);
            self.cv.wait_for(&mut st, Duration::from_millis(left));
        }
        if counted {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Whether the pause in force would hold the command `head` names (its
/// name and first argument) for `cl` now.
pub(crate) fn would_hold(eng: &Engine, cl: &ClientState, head: &[&[u8]]) -> bool {
    let Some(spec) = head.first().and_then(|n| crate::commands::find_command(n)) else {
        return false;
    };
    match eng.hooks.pause.mode(eng) {
        Mode::Off => false,
        Mode::All => true,
        Mode::Write => may_replicate(eng, cl, spec, head),
    }
}

/// Redis's "may replicate": a write, or a command that is propagated
/// although it does not write (PUBLISH, PFCOUNT, scripts without
/// `no-writes`), or an EXEC that queued one.
fn may_replicate(eng: &Engine, cl: &ClientState, spec: &CommandSpec, argv: &[&[u8]]) -> bool {
    if spec.name == "exec" {
        return cl.multi.as_ref().is_some_and(|m| {
            m.queue.iter().any(|(s, a)| {
                let a: Vec<&[u8]> = a.iter().map(|x| x.as_slice()).collect();
                command_may_replicate(eng, s, &a)
            })
        });
    }
    command_may_replicate(eng, spec, argv)
}

fn command_may_replicate(eng: &Engine, spec: &CommandSpec, argv: &[&[u8]]) -> bool {
    if spec.flags & flag::WRITE != 0 {
        return true;
    }
    match spec.name {
        "publish" | "spublish" | "pfcount" => true,
        // a function flagged no-writes does not; the registry is busy while
        // a function runs: then assume it may (FCALL waits for it anyway)
        "fcall" => !argv.get(1).is_some_and(|name| {
            eng.scripts.functions.try_lock().is_some_and(|reg| {
                reg.get(name)
                    .is_some_and(|f| f.flags & crate::script::sflag::NO_WRITES != 0)
            })
        }),
        "eval" => !argv.get(1).is_some_and(|b| declares_no_writes(b)),
        "evalsha" => !argv
            .get(1)
            .is_some_and(|sha| eng.scripts.declares_no_writes(sha)),
        _ => false,
    }
}

/// A `#!lua flags=…` shebang that lists `no-writes` (parsed as EVAL does).
pub(crate) fn declares_no_writes(body: &[u8]) -> bool {
    crate::script::shebang_flags(body).is_ok_and(|f| f & crate::script::sflag::NO_WRITES != 0)
}

#[cfg(test)]
mod tests {
    use super::declares_no_writes;

    #[test]
    fn shebang_flags() {
        assert!(declares_no_writes(b"#!lua flags=no-writes\nreturn 1"));
        assert!(declares_no_writes(
            b"#!lua flags=allow-oom,no-writes\nreturn 1"
        ));
        assert!(!declares_no_writes(b"#!lua\nreturn 1"));
        assert!(!declares_no_writes(b"return 1 -- flags=no-writes"));
    }
}
