//! Small shared helpers: Redis's number rules, glob patterns, a fast RNG,
//! `sdscatrepr` quoting, geohashes.
pub mod geohash;
pub mod glob;
pub mod hugepage;
pub mod number;
pub mod repr;
pub mod rng;

/// `*a == *b` without a call into `memcmp` for short inputs (keys, command
/// names): overlapping word comparisons cover up to 16 bytes.
#[inline]
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = b.len();
    if a.len() != n {
        return false;
    }
    #[inline(always)]
    fn w8(b: &[u8], at: usize) -> u64 {
        u64::from_ne_bytes(b[at..at + 8].try_into().expect("8 bytes"))
    }
    #[inline(always)]
    fn w4(b: &[u8], at: usize) -> u32 {
        u32::from_ne_bytes(b[at..at + 4].try_into().expect("4 bytes"))
    }
    match n {
        8..=16 => w8(a, 0) == w8(b, 0) && w8(a, n - 8) == w8(b, n - 8),
        4..=7 => w4(a, 0) == w4(b, 0) && w4(a, n - 4) == w4(b, n - 4),
        // first, middle and last byte: every byte of 1 to 3
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::same_bytes;

    #[test]
    fn same_bytes_agrees_with_slice_equality() {
        let base: Vec<u8> = (0..40u8).collect();
        for n in 0..40 {
            let a = &base[..n];
            assert!(same_bytes(a, a));
            for i in 0..n {
                let mut b = a.to_vec();
                b[i] ^= 0x20;
                assert!(!same_bytes(a, &b), "len {n}, byte {i}");
            }
            assert!(!same_bytes(a, &base[..n + 1]));
        }
    }
}
