//! The per-command hooks of MONITOR, CLIENT PAUSE and CLIENT TRACKING.
//!
//! One word (`Hooks::active`) says whether any of them is on; the dispatch
//! path reads it once per command (one predictable branch when nobody
//! monitors, pauses or tracks) and only then calls in here. Whoever turns a
//! feature on or off updates its bit under that feature's own lock.

use std::sync::atomic::{AtomicU32, Ordering};

use crate::commands::{CommandSpec, Ctx};
use crate::db::Engine;

pub(crate) const MONITOR: u32 = 1 << 0;
pub(crate) const TRACKING: u32 = 1 << 1;
pub(crate) const PAUSE: u32 = 1 << 2;

#[derive(Default)]
pub(crate) struct Hooks {
    active: AtomicU32,
    pub monitors: crate::monitor::Monitors,
    pub pause: crate::pause::Pause,
    pub tracking: crate::tracking::Tracking,
}

impl Hooks {
    /// The bits of the features that are on (0: none).
    #[inline]
    pub fn active(&self) -> u32 {
        self.active.load(Ordering::Relaxed)
    }

    pub fn set(&self, bit: u32, on: bool) {
        if on {
            self.active.fetch_or(bit, Ordering::SeqCst);
        } else {
            self.active.fetch_and(!bit, Ordering::SeqCst);
        }
    }
}

/// After a command ran inside its locks (any command: top level, inside
/// EXEC, from a script): the monitors see it, a tracking client remembers
/// the keys it read. Only called when `Hooks::active` is non-zero.
#[cold]
#[inline(never)]
pub(crate) fn after_call(ctx: &mut Ctx, spec: &'static CommandSpec, argv: &[&[u8]]) {
    let eng = ctx.eng;
    let bits = eng.hooks.active();
    if bits & MONITOR != 0 && crate::monitor::feeds_after(spec) {
        crate::monitor::feed(eng, ctx.cl, ctx.cl.db, argv);
    }
    if bits & TRACKING != 0 {
        crate::tracking::after_call(ctx, spec, argv);
    }
}

/// After EXEC ran its queue: the monitors see EXEC (after the commands it
/// ran, as in Redis), tracking clients in BCAST mode get what it modified.
#[cold]
#[inline(never)]
pub(crate) fn after_exec(eng: &Engine, cl: &crate::client::ClientState, argv: &[&[u8]]) {
    let bits = eng.hooks.active();
    if bits & MONITOR != 0 {
        crate::monitor::feed(eng, cl, cl.db, argv);
    }
    if bits & TRACKING != 0 {
        crate::tracking::flush_pending(eng, cl.id);
    }
}

/// Before a command runs (outside every lock): a paused client waits here.
#[cold]
#[inline(never)]
pub(crate) fn before_run(
    eng: &Engine,
    cl: &crate::client::ClientState,
    spec: &'static CommandSpec,
    argv: &[&[u8]],
) {
    let bits = eng.hooks.active();
    if bits & PAUSE != 0 {
        eng.hooks.pause.wait(eng, cl, spec, argv);
    }
    if bits & TRACKING != 0 {
        crate::tracking::limit(eng);
    }
}
