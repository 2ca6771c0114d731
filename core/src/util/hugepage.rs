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
