//! Transparent huge pages for large, randomly read allocations (a big sorted
//! set's slab and member index): one TLB entry then covers 2 MB instead of
//! 4 KB, and a random read no longer pays for a page walk as well as for
//! its cache miss. Only a hint to the kernel, which honours it when THP is
//! in `madvise` or `always` mode; elsewhere it does nothing.
//!
//! Advise before the memory is first written: the kernel gives huge pages
//! at fault time, while memory already faulted in as small pages waits for
//! `khugepaged`.

const HUGE: usize = 2 << 20;

#[cfg(target_os = "linux")]
unsafe extern "C" {
    fn madvise(addr: *mut std::ffi::c_void, len: usize, advice: i32) -> i32;
}

#[cfg(target_os = "linux")]
const MADV_HUGEPAGE: i32 = 14;

/// Allocations of at least this many bytes are worth advising.
pub const WORTH: usize = 2 * HUGE;

/// Advises huge pages for the 2 MB-aligned part of `[p, p + len)`; does
/// nothing below `WORTH` bytes. Failures are ignored (a hint).
pub fn advise<T>(p: *const T, len: usize) {
    if len < WORTH {
        return;
    }
    let start = (p as usize).next_multiple_of(HUGE);
    let end = (p as usize + len) & !(HUGE - 1);
    if end <= start {
        return;
    }
    #[cfg(target_os = "linux")]
    // SAFETY: the range lies inside an allocation the caller owns; madvise
    // with MADV_HUGEPAGE changes no contents, only how pages are backed.
    unsafe {
        madvise(start as *mut std::ffi::c_void, end - start, MADV_HUGEPAGE);
    }
}

/// Puts the heap that `malloc` grows with `brk` (glibc's main arena: what the
/// main thread allocates from) on huge pages as it grows, the way glibc's
/// `glibc.malloc.hugetlb=1` tunable does, for programs that install the
/// counting allocator (`crate::alloc`), which calls this from its slow path
/// (about every 32 KiB a thread allocates). Why: the keyspace's slot tables
/// (tens of KiB each, 56 MB for 1M keys) are read at random; on 4 KiB pages
/// nearly every lookup also misses the TLB (measured: GET −15–25 % time
/// with the heap on huge pages).
///
/// The first call also asks `malloc` to grow the heap at least 32 MiB at a
/// time (`M_TOP_PAD`; untouched, that costs address space, not memory). Each
/// growth becomes its own mapping: the kernel cannot merge it with the
/// advised one before it, whose pages are already in use. A huge page must
/// lie inside one mapping, and the first pages of a growth are touched
/// before this runs, so the 2 MiB block at each seam stays on small pages:
/// with 4 MiB growths that was half the heap (`AnonHugePages` in
/// `/proc/PID/smaps`), with 32 MiB ones it is a sixteenth. A hint: with THP off (`never`) or outside glibc/Linux it does
/// nothing; `EMBERKV_HUGE_PAGES=0` in the environment turns it off.
pub fn advise_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    heap::advise();
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod heap {
    use std::sync::atomic::{AtomicUsize, Ordering};

    unsafe extern "C" {
        fn sbrk(increment: isize) -> *mut std::ffi::c_void;
        fn mallopt(param: i32, value: i32) -> i32;
        fn getenv(name: *const std::ffi::c_char) -> *const std::ffi::c_char;
    }
    const M_TOP_PAD: i32 = -2;
    const PAGE: usize = 4096;
    /// End of the heap range advised so far; 0 = not started, 1 = off.
    static ADVISED_TO: AtomicUsize = AtomicUsize::new(0);

    pub(super) fn advise() {
        let done = ADVISED_TO.load(Ordering::Relaxed);
        if done == 1 {
            return;
        }
        // SAFETY: sbrk(0) only reads the current program break.
        let brk = unsafe { sbrk(0) } as usize;
        if brk == usize::MAX {
            return;
        }
        let start = if done == 0 {
            if off() {
                ADVISED_TO.store(1, Ordering::Relaxed);
                return;
            }
            // SAFETY: a documented malloc parameter; takes malloc's own lock
            // (the caller holds none: it runs after the allocation returned).
            unsafe { mallopt(M_TOP_PAD, 32 << 20) };
            brk & !(PAGE - 1)
        } else {
            done
        };
        let end = brk & !(PAGE - 1);
        if end <= start && done != 0 {
            return;
        }
        if ADVISED_TO
            .compare_exchange(done, end.max(start), Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return; // another thread advises this growth
        }
        if end > start {
            // SAFETY: [start, end) is the heap between two program breaks,
            // mapped; the advice changes no contents.
            unsafe {
                super::madvise(
                    start as *mut std::ffi::c_void,
                    end - start,
                    super::MADV_HUGEPAGE,
                );
            }
        }
    }

    fn off() -> bool {
        // SAFETY: a NUL-terminated name; the result is read before any
        // setenv could run on this path (none of ours does).
        let v = unsafe { getenv(c"EMBERKV_HUGE_PAGES".as_ptr()) };
        // SAFETY: getenv returns NULL or a NUL-terminated string.
        !v.is_null() && unsafe { std::ffi::CStr::from_ptr(v) }.to_bytes() == b"0"
    }
}

/// A vector of `cap` elements' capacity, advised for huge pages before any
/// of it is written.
pub fn vec_with_capacity<T>(cap: usize) -> Vec<T> {
    let v = Vec::with_capacity(cap);
    advise(v.as_ptr(), cap * std::mem::size_of::<T>());
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advised_vectors_work_as_vectors() {
        let mut v: Vec<u64> = vec_with_capacity(3 << 20);
        assert!(v.capacity() >= 3 << 20);
        v.resize(3 << 20, 7);
        assert!(v.iter().all(|&x| x == 7));
        let small: Vec<u8> = vec_with_capacity(10);
        assert!(small.capacity() >= 10);
        advise(std::ptr::null::<u8>(), 0);
    }
}
