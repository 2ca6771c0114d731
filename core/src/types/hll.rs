//! HyperLogLog (PFADD, PFCOUNT, PFMERGE) in Redis's own string format, so a
//! HyperLogLog is an ordinary string value that DUMP/RESTORE, RDB and AOF
//! carry byte for byte as redis-server does, and PFCOUNT answers the same
//! number for the same elements.
//!
//! Format (Redis's): a 16-byte header — `HYLL`, the encoding (0 dense, 1
//! sparse), three zero bytes, the cached cardinality as 8 little-endian bytes
//! whose top bit set means "stale" — then the 16,384 registers:
//! - dense: 6 bits each, packed from the least significant bit of each byte
//!   upwards (12,288 bytes);
//! - sparse: run-length opcodes — `00xxxxxx` ZERO (1–64 zero registers),
//!   `01xxxxxx yyyyyyyy` XZERO (1–16,384 zero registers), `1vvvvvxx` VAL
//!   (1–4 registers of value 1–32). A register above 32, or a sparse form
//!   longer than `hll-sparse-max-bytes`, turns the value dense.
//!
//! Elements hash with MurmurHash64A (seed `0xadc83b19`); the low 14 bits pick
//! the register, the run of zero bits above them (plus one) is the value.
//! The count is Ertl's improved estimator ("New cardinality estimation
//! algorithms for HyperLogLog sketches", 2017), as Redis 5+ computes it.
//! The sparse update keeps Redis's exact opcode sequence (split, then merge
//! adjacent equal VALs) so the bytes stay identical to redis-server's.

/// Header bytes before the registers.
pub const HDR: usize = 16;
const P: u32 = 14;
/// Number of registers.
pub const REGISTERS: usize = 1 << P;
/// Hash bits left after the register index.
const Q: u32 = 64 - P;
const BITS: usize = 6;
const REG_MAX: u8 = (1 << BITS) - 1;
/// Length of a dense value, header included.
pub const DENSE_SIZE: usize = HDR + (REGISTERS * BITS).div_ceil(8);
const DENSE: u8 = 0;
const SPARSE: u8 = 1;
const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;
const ZERO_MAX_LEN: usize = 64;
const XZERO_MAX_LEN: usize = 16384;
/// 0.5 / ln 2: the estimator's constant for an infinite number of registers.
#[allow(clippy::excessive_precision)]
const ALPHA_INF: f64 = 0.721_347_520_444_481_703_680;

/// A value that claims to be a HyperLogLog but whose registers do not decode
/// (Redis: `-INVALIDOBJ Corrupted HLL object detected`).
#[derive(Debug, PartialEq, Eq)]
pub struct Corrupt;

/// The encoding of a value that passed [`is_hll`].
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Encoding {
    Dense,
    Sparse,
}

/// Whether `b` is a HyperLogLog as Redis checks it: the magic, a known
/// encoding, and for a dense one the exact length.
pub fn is_hll(b: &[u8]) -> bool {
    b.len() >= HDR
        && &b[..4] == b"HYLL"
        && b[4] <= SPARSE
        && (b[4] != DENSE || b.len() == DENSE_SIZE)
}

/// The encoding of a value that passed [`is_hll`].
pub fn encoding(b: &[u8]) -> Encoding {
    if b[4] == DENSE {
        Encoding::Dense
    } else {
        Encoding::Sparse
    }
}

/// An empty HyperLogLog: sparse, one XZERO run per 16,384 registers, cached
/// cardinality 0 (valid).
pub fn new_sparse() -> Vec<u8> {
    let mut v = Vec::with_capacity(HDR + 2 * REGISTERS.div_ceil(XZERO_MAX_LEN));
    v.extend_from_slice(b"HYLL");
    v.push(SPARSE);
    v.resize(HDR, 0);
    let mut left = REGISTERS;
    while left > 0 {
        let n = left.min(XZERO_MAX_LEN);
        push_xzero(&mut v, n);
        left -= n;
    }
    v
}

/// The cached cardinality, if it is still valid.
pub fn cached(b: &[u8]) -> Option<u64> {
    (b[15] & 0x80 == 0).then(|| u64::from_le_bytes(b[8..16].try_into().expect("8 bytes")))
}

/// Stores `card` as the cached cardinality (valid).
pub fn set_cached(b: &mut [u8], card: u64) {
    b[8..16].copy_from_slice(&card.to_le_bytes());
}

/// Marks the cached cardinality stale.
pub fn invalidate(b: &mut [u8]) {
    b[15] |= 0x80;
}

/// MurmurHash2, 64-bit version (MurmurHash64A), reading the input as
/// little-endian words whatever the machine (as Redis's endian-neutral copy).
pub fn murmur64a(data: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (data.len() as u64).wrapping_mul(M);
    let mut words = data.chunks_exact(8);
    for w in &mut words {
        let mut k = u64::from_le_bytes(w.try_into().expect("8 bytes"));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= (b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element falls in and the value it offers that register:
/// one more than the number of zero bits above the index bits.
pub fn register_of(ele: &[u8]) -> (usize, u8) {
    let h = murmur64a(ele, 0xadc8_3b19);
    let index = (h as usize) & (REGISTERS - 1);
    let rest = (h >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

// ----- dense -----

#[inline]
fn dense_get(regs: &[u8], i: usize) -> u8 {
    let byte = i * BITS / 8;
    let fb = (i * BITS) & 7;
    let b0 = regs[byte] as u16;
    let b1 = regs.get(byte + 1).copied().unwrap_or(0) as u16;
    (((b0 >> fb) | (b1 << (8 - fb))) as u8) & REG_MAX
}

#[inline]
fn dense_put(regs: &mut [u8], i: usize, v: u8) {
    let byte = i * BITS / 8;
    let fb = (i * BITS) & 7;
    let v = v as u16;
    let mask = (REG_MAX as u16) << fb;
    regs[byte] = ((regs[byte] as u16 & !mask) | (v << fb)) as u8;
    if fb > 8 - BITS {
        // the register continues in the next byte
        let hi = (REG_MAX as u16) >> (8 - fb);
        regs[byte + 1] = ((regs[byte + 1] as u16 & !hi) | (v >> (8 - fb))) as u8;
    }
}

/// Raises register `i` of a dense value to `count`; whether it changed.
fn dense_set(b: &mut [u8], i: usize, count: u8) -> bool {
    let regs = &mut b[HDR..];
    if count > dense_get(regs, i) {
        dense_put(regs, i, count);
        true
    } else {
        false
    }
}

// ----- sparse opcodes -----

#[derive(Clone, Copy)]
enum Op {
    /// Zero registers, with the opcode's byte length (1 or 2).
    Zero(usize, usize),
    /// `len` registers of value `val`.
    Val(u8, usize),
}

#[inline]
fn op_at(s: &[u8], p: usize) -> Option<Op> {
    let b = *s.get(p)?;
    Some(if b & 0xc0 == 0 {
        Op::Zero((b & 0x3f) as usize + 1, 1)
    } else if b & 0x80 == 0 {
        let lo = *s.get(p + 1)? as usize;
        Op::Zero((((b & 0x3f) as usize) << 8 | lo) + 1, 2)
    } else {
        Op::Val(((b >> 2) & 0x1f) + 1, (b & 3) as usize + 1)
    })
}

impl Op {
    fn span(self) -> usize {
        match self {
            Op::Zero(n, _) | Op::Val(_, n) => n,
        }
    }
    fn bytes(self) -> usize {
        match self {
            Op::Zero(_, w) => w,
            Op::Val(..) => 1,
        }
    }
}

fn val_byte(val: u8, len: usize) -> u8 {
    0x80 | ((val - 1) << 2) | (len as u8 - 1)
}

fn push_xzero(v: &mut Vec<u8>, n: usize) {
    let l = n - 1;
    v.push(0x40 | (l >> 8) as u8);
    v.push((l & 0xff) as u8);
}

/// A run of `n` zero registers: ZERO when it fits, else XZERO.
fn push_zeros(v: &mut Vec<u8>, n: usize) {
    if n > ZERO_MAX_LEN {
        push_xzero(v, n);
    } else {
        v.push((n - 1) as u8);
    }
}

/// Calls `f(first_register, op)` for every opcode of a sparse body; fails if
/// the opcodes do not cover exactly the 16,384 registers.
fn walk_sparse(body: &[u8], mut f: impl FnMut(usize, Op)) -> Result<(), Corrupt> {
    let (mut p, mut idx) = (0, 0);
    while p < body.len() {
        let op = op_at(body, p).ok_or(Corrupt)?;
        if idx + op.span() > REGISTERS {
            return Err(Corrupt);
        }
        f(idx, op);
        idx += op.span();
        p += op.bytes();
    }
    if idx == REGISTERS {
        Ok(())
    } else {
        Err(Corrupt)
    }
}

/// Rewrites a sparse value as dense (no-op when already dense), keeping the
/// magic and the cached cardinality.
pub fn to_dense(v: &mut Vec<u8>) -> Result<(), Corrupt> {
    if v[4] == DENSE {
        return Ok(());
    }
    let mut d = vec![0u8; DENSE_SIZE];
    d[..HDR].copy_from_slice(&v[..HDR]);
    d[4] = DENSE;
    walk_sparse(&v[HDR..], |first, op| {
        if let Op::Val(val, n) = op {
            for i in first..first + n {
                dense_put(&mut d[HDR..], i, val);
            }
        }
    })?;
    *v = d;
    Ok(())
}

/// Raises register `index` of a sparse value to `count`, turning the value
/// dense when the sparse form cannot hold it (a value above 32, or more than
/// `max_bytes`). Whether the register changed.
fn sparse_set(v: &mut Vec<u8>, index: usize, count: u8, max_bytes: usize) -> Result<bool, Corrupt> {
    if count > VAL_MAX_VALUE {
        return promote(v, index, count);
    }
    // Find the opcode covering `index`, and the one before it.
    let (mut p, mut first, mut prev) = (HDR, 0usize, None);
    let op = loop {
        let op = op_at(v, p).ok_or(Corrupt)?;
        if index < first + op.span() {
            break op;
        }
        prev = Some(p);
        first += op.span();
        p += op.bytes();
    };
    let last = first + op.span() - 1;
    match op {
        Op::Val(cur, _) if cur >= count => return Ok(false),
        Op::Val(_, 1) | Op::Zero(1, 1) => v[p] = val_byte(count, 1),
        _ => {
            // Split the run: what precedes `index`, `index` itself, what follows.
            let mut seq = Vec::with_capacity(5);
            match op {
                Op::Zero(..) => {
                    if index != first {
                        push_zeros(&mut seq, index - first);
                    }
                    seq.push(val_byte(count, 1));
                    if index != last {
                        push_zeros(&mut seq, last - index);
                    }
                }
                Op::Val(cur, _) => {
                    if index != first {
                        seq.push(val_byte(cur, index - first));
                    }
                    seq.push(val_byte(count, 1));
                    if index != last {
                        seq.push(val_byte(cur, last - index));
                    }
                }
            }
            let old = op.bytes();
            if seq.len() > old && v.len() + seq.len() - old > max_bytes {
                return promote(v, index, count);
            }
            v.splice(p..p + old, seq);
        }
    }
    merge_adjacent(v, prev.unwrap_or(HDR));
    invalidate(v);
    Ok(true)
}

/// Merges adjacent VAL opcodes of equal value whose lengths fit one opcode,
/// looking at most five opcodes from `p` (Redis's window).
fn merge_adjacent(v: &mut Vec<u8>, mut p: usize) {
    let mut scan = 5;
    while p < v.len() && scan > 0 {
        scan -= 1;
        let b = v[p];
        if b & 0x80 == 0 {
            p += if b & 0x40 != 0 { 2 } else { 1 };
            continue;
        }
        if let Some(&n) = v.get(p + 1)
            && n & 0x80 != 0
        {
            let (Some(Op::Val(v1, l1)), Some(Op::Val(v2, l2))) = (op_at(v, p), op_at(v, p + 1))
            else {
                unreachable!("both bytes are VAL opcodes")
            };
            if v1 == v2 && l1 + l2 <= VAL_MAX_LEN {
                v[p + 1] = val_byte(v1, l1 + l2);
                v.remove(p);
                // try the merged opcode against its right neighbour too
                continue;
            }
        }
        p += 1;
    }
}

fn promote(v: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    to_dense(v)?;
    let changed = dense_set(v, index, count);
    debug_assert!(changed, "promotion happens only for a register that grows");
    invalidate(v);
    Ok(changed)
}

/// Offers `ele` to the HyperLogLog `v` (dense or sparse); whether a register
/// changed (the cached cardinality is then stale).
pub fn add(v: &mut Vec<u8>, ele: &[u8], max_bytes: usize) -> Result<bool, Corrupt> {
    let (index, count) = register_of(ele);
    if v[4] == DENSE {
        let changed = dense_set(v, index, count);
        if changed {
            invalidate(v);
        }
        Ok(changed)
    } else {
        sparse_set(v, index, count, max_bytes)
    }
}

/// Like [`add`] for a dense value held in a fixed-size buffer (in place).
pub fn add_dense(b: &mut [u8], ele: &[u8]) -> bool {
    let (index, count) = register_of(ele);
    let changed = dense_set(b, index, count);
    if changed {
        invalidate(b);
    }
    changed
}

/// Raises every register of `max` (one byte per register) to the value's.
pub fn merge_into(max: &mut [u8; REGISTERS], b: &[u8]) -> Result<(), Corrupt> {
    if b[4] == DENSE {
        for (i, m) in max.iter_mut().enumerate() {
            *m = (*m).max(dense_get(&b[HDR..], i));
        }
        Ok(())
    } else {
        walk_sparse(&b[HDR..], |first, op| {
            if let Op::Val(val, n) = op {
                for m in &mut max[first..first + n] {
                    *m = (*m).max(val);
                }
            }
        })
    }
}

/// Sets register `i` of `v` to at least `count` (PFMERGE into a destination).
pub fn raise(v: &mut Vec<u8>, i: usize, count: u8, max_bytes: usize) -> Result<bool, Corrupt> {
    if v[4] == DENSE {
        Ok(dense_set(v, i, count))
    } else {
        sparse_set(v, i, count, max_bytes)
    }
}

/// Writes one-byte registers into a dense value's registers.
pub fn store_dense(v: &mut [u8], regs: &[u8; REGISTERS]) {
    for (i, &r) in regs.iter().enumerate() {
        dense_put(&mut v[HDR..], i, r);
    }
}

/// Every register's value, one byte each.
pub fn registers(b: &[u8]) -> Result<Vec<u8>, Corrupt> {
    let mut max = Box::new([0u8; REGISTERS]);
    merge_into(&mut max, b)?;
    Ok(max.to_vec())
}

/// The estimated cardinality of a HyperLogLog value.
pub fn count(b: &[u8]) -> Result<u64, Corrupt> {
    let mut hist = [0u32; 64];
    if b[4] == DENSE {
        for i in 0..REGISTERS {
            hist[dense_get(&b[HDR..], i) as usize] += 1;
        }
    } else {
        walk_sparse(&b[HDR..], |_, op| match op {
            Op::Zero(n, _) => hist[0] += n as u32,
            Op::Val(val, n) => hist[val as usize] += n as u32,
        })?;
    }
    Ok(estimate(&hist))
}

/// The estimated cardinality of one-byte registers (PFCOUNT of many keys).
pub fn count_registers(regs: &[u8; REGISTERS]) -> u64 {
    let mut hist = [0u32; 64];
    for &r in regs.iter() {
        hist[(r & 63) as usize] += 1;
    }
    estimate(&hist)
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let (mut y, mut z) = (1.0, x);
    loop {
        x *= x;
        let prev = z;
        z += x * y;
        y += y;
        if prev == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let (mut y, mut z) = (1.0, 1.0 - x);
    loop {
        x = x.sqrt();
        let prev = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
        if prev == z {
            return z / 3.0;
        }
    }
}

/// Ertl's estimator over the register histogram.
fn estimate(hist: &[u32; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - hist[Q as usize + 1] as f64) / m);
    for j in (1..=Q as usize).rev() {
        z += hist[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(hist[0] as f64 / m);
    (ALPHA_INF * m * m / z).round() as u64
}

/// PFDEBUG DECODE: the sparse opcodes as text (`Z:16384`, `z:3`, `v:2,1`).
pub fn decode_sparse(b: &[u8]) -> String {
    let mut out = Vec::new();
    let mut p = HDR;
    while let Some(op) = op_at(b, p) {
        out.push(match op {
            Op::Zero(n, 2) => format!("Z:{n}"),
            Op::Zero(n, _) => format!("z:{n}"),
            Op::Val(val, n) => format!("v:{val},{n}"),
        });
        p += op.bytes();
    }
    out.join(" ")
}

/// PFSELFTEST: register access and the estimate's error, dense against
/// sparse (Redis's self test). `Err` carries the TESTFAILED message.
pub fn self_test(max_bytes: usize, seed: u64) -> Result<(), String> {
    let mut rng = seed | 1;
    let mut next = move || {
        // xorshift64*
        rng ^= rng >> 12;
        rng ^= rng << 25;
        rng ^= rng >> 27;
        rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    // 1: every register keeps its own value
    let mut dense = vec![0u8; DENSE_SIZE];
    let mut bytes = vec![0u8; REGISTERS];
    for _ in 0..1000 {
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (next() as u8) & REG_MAX;
            dense_put(&mut dense[HDR..], i, *b);
        }
        for (i, &b) in bytes.iter().enumerate() {
            let got = dense_get(&dense[HDR..], i);
            if got != b {
                return Err(format!(
                    "TESTFAILED Register {i} should be {b} but is {got}"
                ));
            }
        }
    }
    // 2: the error stays within 6 standard errors; dense and sparse agree
    dense[..4].copy_from_slice(b"HYLL");
    dense[4..].fill(0);
    let mut sparse = new_sparse();
    let relerr = 1.04 / (REGISTERS as f64).sqrt();
    let base = next();
    let mut checkpoint: u64 = 1;
    for j in 1..=10_000_000u64 {
        let ele = (j ^ base).to_le_bytes();
        add_dense(&mut dense, &ele);
        add(&mut sparse, &ele, max_bytes).map_err(|_| "TESTFAILED sparse corrupted".to_string())?;
        if j != checkpoint {
            continue;
        }
        if j < max_bytes as u64 / 2 && encoding(&sparse) != Encoding::Sparse {
            return Err("TESTFAILED sparse encoding not used".into());
        }
        let d = count(&dense).map_err(|_| "TESTFAILED dense corrupted".to_string())?;
        if count(&sparse) != Ok(d) {
            return Err("TESTFAILED dense/sparse disagree".into());
        }
        let abserr = checkpoint.abs_diff(d);
        let maxerr = if j == 10 {
            1
        } else {
            (relerr * 6.0 * checkpoint as f64).ceil() as u64
        };
        if abserr > maxerr {
            return Err(format!(
                "TESTFAILED Too big error. card:{checkpoint} abserr:{abserr}"
            ));
        }
        checkpoint *= 10;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_registers_keep_their_neighbours() {
        let mut regs = vec![0u8; DENSE_SIZE - HDR];
        for i in 0..REGISTERS {
            dense_put(&mut regs, i, (i % 64) as u8);
        }
        for i in 0..REGISTERS {
            assert_eq!(dense_get(&regs, i), (i % 64) as u8, "register {i}");
        }
    }

    #[test]
    fn empty_sparse_is_one_xzero_run() {
        let v = new_sparse();
        assert_eq!(v.len(), HDR + 2);
        assert_eq!(&v[HDR..], &[0x7f, 0xff]);
        assert!(is_hll(&v));
        assert_eq!(count(&v), Ok(0));
        assert_eq!(decode_sparse(&v), "Z:16384");
    }

    #[test]
    fn sparse_and_dense_agree_register_by_register() {
        let mut sparse = new_sparse();
        let mut dense = new_sparse();
        to_dense(&mut dense).unwrap();
        for i in 0..5000u32 {
            let e = format!("element:{i}");
            let a = add(&mut sparse, e.as_bytes(), 3000).unwrap();
            let b = add(&mut dense, e.as_bytes(), 3000).unwrap();
            assert_eq!(a, b, "element {i}");
            if i % 97 == 0 {
                assert_eq!(registers(&sparse).unwrap(), registers(&dense).unwrap());
                assert_eq!(count(&sparse), count(&dense));
            }
        }
        assert_eq!(
            encoding(&sparse),
            Encoding::Dense,
            "promoted past 3000 bytes"
        );
    }

    #[test]
    fn corrupt_sparse_bodies_are_detected() {
        let mut v = new_sparse();
        v[HDR + 1] = 0xfe; // XZERO of 16,383: one register short
        assert_eq!(count(&v), Err(Corrupt));
        let mut v = new_sparse();
        v.push(0x80); // one register too many
        assert_eq!(count(&v), Err(Corrupt));
    }
}
