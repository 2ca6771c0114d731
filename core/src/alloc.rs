//! A counting global allocator: what `maxmemory` and INFO `used_memory`
//! measure when a program installs it.
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOC: emberkv::alloc::Counting = emberkv::alloc::Counting::system();
//! ```
//!
//! The binaries emberkv ships install it (`emberkv-server`, the C library,
//! the Python and Node modules). Without it the engine falls back to its own
//! estimate of the keyspace (`evict.rs`), refreshed at most every 100 ms.
//!
//! Rules for whoever changes this:
//! - The hot path touches only a thread-local counter: every thread keeps
//!   its own net delta and folds it into the shared total when it drifts
//!   past `FLUSH` bytes either way, so a thread that allocates and frees a
//!   reply per command never touches a shared cache line. The total is
//!   therefore exact to within `FLUSH` bytes per live thread; the calling
//!   thread's own delta is always included (`allocated`).
//! - A thread's first allocation and its exit go through the slow path: the
//!   first registers a thread-local guard whose destructor folds the
//!   remainder in, so short-lived threads leave nothing behind.
//! - Nothing here may allocate on the fast path (it runs inside `alloc`).
//! - The slow path also keeps the `brk` heap on huge pages as it grows
//!   (`util::hugepage::advise_heap`; `EMBERKV_HUGE_PAGES=0` turns it off).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};

/// A thread's delta is folded into the total past this many bytes.
const FLUSH: isize = 32 * 1024;
/// A fresh thread's delta: far outside ±FLUSH, so its first call takes the
/// slow path (which registers the exit guard) without a second check on the
/// fast path.
const FRESH: isize = isize::MIN / 2;

static TOTAL: AtomicIsize = AtomicIsize::new(0);
static INSTALLED: AtomicBool = AtomicBool::new(false);

thread_local! {
    static LOCAL: Cell<isize> = const { Cell::new(FRESH) };
    static EXIT: ExitGuard = const { ExitGuard };
}

/// Folds the thread's remaining delta into the total when the thread ends.
struct ExitGuard;

impl Drop for ExitGuard {
    fn drop(&mut self) {
        let _ = LOCAL.try_with(|c| {
            let v = c.get();
            if v != FRESH {
                TOTAL.fetch_add(v, Ordering::Relaxed);
            }
            c.set(0);
        });
    }
}

#[inline]
fn add(n: isize) {
    let _ = LOCAL.try_with(|c| {
        let v = c.get().wrapping_add(n);
        if (-FLUSH..=FLUSH).contains(&v) {
            c.set(v);
        } else {
            slow(c, v, n);
        }
    });
}

#[cold]
#[inline(never)]
fn slow(c: &Cell<isize>, v: isize, n: isize) {
    if v < FRESH / 2 {
        // the thread's first allocation: count it, then register the exit
        // guard (which may allocate, re-entering `add` with LOCAL valid)
        c.set(n);
        INSTALLED.store(true, Ordering::Relaxed);
        crate::util::hugepage::advise_heap();
        let _ = EXIT.try_with(|_| ());
        return;
    }
    TOTAL.fetch_add(v, Ordering::Relaxed);
    c.set(0);
    if v > 0 {
        crate::util::hugepage::advise_heap();
    }
}

/// Counts the bytes allocated through an inner allocator (the system's by
/// default) and hands every call on to it.
pub struct Counting<A = System>(A);

impl Counting<System> {
    /// Counting over the system allocator.
    pub const fn system() -> Counting<System> {
        Counting(System)
    }
}

impl<A> Counting<A> {
    /// Counting over `inner` (e.g. another allocator crate's).
    pub const fn new(inner: A) -> Counting<A> {
        Counting(inner)
    }
}

// SAFETY: every call is forwarded unchanged to the inner allocator; the
// counting touches only thread-locals and an atomic, never the memory.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Counting<A> {
    #[inline]
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let p = unsafe { self.0.alloc(l) };
        if !p.is_null() {
            add(l.size() as isize);
        }
        p
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let p = unsafe { self.0.alloc_zeroed(l) };
        if !p.is_null() {
            add(l.size() as isize);
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: p came from this allocator with layout l.
        unsafe { self.0.dealloc(p, l) };
        add(-(l.size() as isize));
    }

    #[inline]
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        // SAFETY: p came from this allocator with layout l.
        let q = unsafe { self.0.realloc(p, l, new) };
        if !q.is_null() {
            add(new as isize - l.size() as isize);
        }
        q
    }
}

/// Bytes currently allocated through [`Counting`], when a program installed
/// it as its global allocator (`None` otherwise). Exact for the calling
/// thread, within 32 KiB for every other live thread.
pub fn allocated() -> Option<usize> {
    if !INSTALLED.load(Ordering::Relaxed) {
        return None;
    }
    let mine = LOCAL
        .try_with(|c| if c.get() == FRESH { 0 } else { c.get() })
        .unwrap_or(0);
    Some((TOTAL.load(Ordering::Relaxed) + mine).max(0) as usize)
}
