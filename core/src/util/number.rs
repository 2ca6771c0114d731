//! Number parsing and printing with Redis's exact rules.
//!
//! Integers follow Redis's `string2ll` (no `+`, no spaces, no leading zeros,
//! no `-0`); floats go through the C library's `strtod`/`strtold` (see
//! `csrc/ldouble.c`) because Redis uses them and Rust's parser differs at the
//! edges. Doubles print as `%.17g`.

use std::ffi::c_char;

unsafe extern "C" {
    fn ekv_strtod(s: *const c_char, len: usize, out: *mut f64) -> i32;
    fn ekv_incrbyfloat(
        cur: *const c_char,
        curlen: usize,
        incr: *const c_char,
        incrlen: usize,
        out: *mut c_char,
        outlen: usize,
    ) -> std::ffi::c_long;
}

/// Redis's `string2ll`.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s.len() == 1 && s[0] == b'0' {
        return Some(0);
    }
    let (neg, digits) = if s[0] == b'-' {
        (true, &s[1..])
    } else {
        (false, s)
    };
    if digits.is_empty() || digits[0] < b'1' || digits[0] > b'9' {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        if v > (i64::MAX as u64) + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else if v > i64::MAX as u64 {
        None
    } else {
        Some(v as i64)
    }
}

fn with_cstr<R>(s: &[u8], f: impl FnOnce(*const c_char) -> R) -> R {
    let mut stack = [0u8; 128];
    if s.len() < stack.len() {
        stack[..s.len()].copy_from_slice(s);
        stack[s.len()] = 0;
        f(stack.as_ptr() as *const c_char)
    } else {
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s);
        v.push(0);
        f(v.as_ptr() as *const c_char)
    }
}

/// The value of `s` when it is a plain decimal number, `[+-]digits[.digits]`
/// or `[+-].digits`, with an optional exponent `e[+-]digits`; `None` for
/// anything else (hex, `inf`, `nan`, spaces, …), which is left to `strtod`.
/// The value is correctly rounded, as glibc's `strtod` rounds it, so the two
/// agree on every input this accepts (`parse_f64`'s test checks that): an
/// overflow is ±inf (`HUGE_VAL`), an underflow 0 or a subnormal.
/// Second: whether any digit of the significand is non-zero (a zero result
/// then means `strtod` underflowed and set `ERANGE`).
///
/// Numbers of at most 19 significant digits whose decimal exponent is
/// within ±27 (what clients send as scores: integers, `%.17g` text, the
/// shortest round-trip text of a double) are computed exactly in integer
/// arithmetic (`exact_decimal`); the rest go to Rust's parser, which is
/// correctly rounded too but several times slower.
#[inline]
pub fn parse_plain_decimal(s: &[u8]) -> Option<(f64, bool)> {
    if s.len() > 64 {
        return None;
    }
    let neg = s.first() == Some(&b'-');
    let mut i = usize::from(matches!(s.first(), Some(b'-' | b'+')));
    // `mant`: the significant digits (leading zeros skipped), exact while
    // `sig` <= 19; `scale`: digits after the point (the value is
    // mant * 10^(exp - scale))
    let (mut digits, mut sig, mut mant, mut scale) = (0usize, 0usize, 0u64, 0i64);
    let mut point = false;
    while let Some(&c) = s.get(i) {
        if c.is_ascii_digit() {
            let d = c - b'0';
            if sig > 0 || d != 0 {
                sig += 1;
                mant = mant.wrapping_mul(10).wrapping_add(d as u64);
            }
            digits += 1;
            scale += i64::from(point);
        } else if c == b'.' && !point {
            point = true;
        } else {
            break;
        }
        i += 1;
    }
    if digits == 0 {
        return None;
    }
    let mut exp = 0i64;
    if let Some(b'e' | b'E') = s.get(i) {
        i += 1;
        let eneg = s.get(i) == Some(&b'-');
        if let Some(b'-' | b'+') = s.get(i) {
            i += 1;
        }
        let at = i;
        while let Some(&c) = s.get(i)
            && c.is_ascii_digit()
        {
            // saturates far outside any exponent `exact_decimal` takes
            exp = (exp * 10 + (c - b'0') as i64).min(1 << 40);
            i += 1;
        }
        if i == at {
            return None;
        }
        if eneg {
            exp = -exp;
        }
    }
    if i != s.len() {
        return None;
    }
    if sig <= 19
        && let Some(v) = exact_decimal(mant, exp - scale)
    {
        return Some((if neg { -v } else { v }, mant != 0));
    }
    // SAFETY: every byte was checked above to be ASCII.
    let text = unsafe { std::str::from_utf8_unchecked(s) };
    text.parse::<f64>().ok().map(|v| (v, sig > 0))
}

/// `m * 10^e` correctly rounded (to nearest, ties to even, as `strtod`),
/// for `|e| <= 27`; `None` outside that range.
///
/// Why it is exact: `10^e = 5^e * 2^e` and `5^27 < 2^63`. For `e >= 0`,
/// `m * 5^e` is an exact 128-bit product, rounded once by the conversion
/// to `f64` (Rust's integer-to-float casts round to nearest, ties to even);
/// the `2^e` scaling is exact. For `e < 0`, `m` is shifted up to 127 bits
/// and divided by `5^-e` (< 2^63): the quotient has at least 64 bits, so
/// its lowest bit lies below the rounding point, and OR-ing the "remainder
/// is non-zero" into that bit (sticky bit) makes the one rounding of the
/// cast round as the exact quotient would; the `2^-(shift - e)` scaling is
/// exact because the result (at least 10^-27) is a normal double.
#[inline]
fn exact_decimal(m: u64, e: i64) -> Option<f64> {
    const POW5: [u64; 28] = {
        let mut t = [1u64; 28];
        let mut k = 1;
        while k < 28 {
            t[k] = t[k - 1] * 5;
            k += 1;
        }
        t
    };
    if m == 0 {
        return Some(0.0);
    }
    if e == 0 {
        return Some(m as f64);
    }
    if e > 0 {
        let p = *POW5.get(e as usize)?;
        return Some((m as u128 * p as u128) as f64 * pow2(e as i32));
    }
    let d = *POW5.get((-e) as usize)? as u128;
    let shift = 127 - (64 - m.leading_zeros());
    let n = (m as u128) << shift;
    let (q, r) = (n / d, n % d);
    let q = q | u128::from(r != 0);
    Some(q as f64 * pow2(e as i32 - shift as i32))
}

/// `2^k` for `|k| <= 1000`: built from its bits, no libm call.
#[inline]
fn pow2(k: i32) -> f64 {
    f64::from_bits(((1023 + k) as u64) << 52)
}

/// Redis's `string2d` / `getDoubleFromObject`: `strtod` over the whole
/// string; rejected when nothing or not all of it parses, when it starts
/// with a space, on overflow or underflow to zero (`ERANGE`), and for NaN.
/// Plain decimals are parsed here (`parse_plain_decimal`), the rest by
/// `strtod`.
#[inline]
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    match parse_plain_decimal(s) {
        Some((v, nonzero)) => (v.is_finite() && (v != 0.0 || !nonzero)).then_some(v),
        None => parse_f64_strtod(s),
    }
}

/// `parse_f64` through the C library's `strtod` for every input.
pub fn parse_f64_strtod(s: &[u8]) -> Option<f64> {
    let mut out = 0f64;
    // SAFETY: with_cstr hands a NUL-terminated buffer of at least len+1 bytes.
    let ok = with_cstr(s, |p| unsafe { ekv_strtod(p, s.len(), &mut out) });
    (ok == 1).then_some(out)
}

/// Why INCRBYFLOAT failed.
#[derive(Debug, PartialEq, Eq)]
pub enum FloatIncrError {
    NotFloat,
    NanOrInf,
}

/// INCRBYFLOAT / HINCRBYFLOAT: `cur + incr` in long double, printed as Redis
/// prints it (`%.17Lf`, trailing zeros trimmed).
pub fn incr_by_float(cur: Option<&[u8]>, incr: &[u8]) -> Result<Vec<u8>, FloatIncrError> {
    let mut out = vec![0u8; 5 * 1024];
    let r = with_cstr(incr, |ip| match cur {
        Some(c) => with_cstr(c, |cp| unsafe {
            ekv_incrbyfloat(
                cp,
                c.len(),
                ip,
                incr.len(),
                out.as_mut_ptr() as *mut c_char,
                out.len(),
            )
        }),
        None => unsafe {
            ekv_incrbyfloat(
                std::ptr::null(),
                0,
                ip,
                incr.len(),
                out.as_mut_ptr() as *mut c_char,
                out.len(),
            )
        },
    });
    match r {
        -1 => Err(FloatIncrError::NotFloat),
        -2 => Err(FloatIncrError::NanOrInf),
        n if n < 0 => Err(FloatIncrError::NotFloat),
        n => {
            out.truncate(n as usize);
            Ok(out)
        }
    }
}

/// Integer to decimal bytes.
pub fn i64_bytes(i: i64) -> Vec<u8> {
    let mut buf = [0u8; 20];
    crate::reply::fmt_i64(i, &mut buf).to_vec()
}

/// `%.17g` as C prints it, with Redis's `inf` / `-inf` / `nan`.
pub fn fmt_g17(d: f64) -> String {
    fmt_g(d, 17)
}

/// `%.<prec>g` as C prints it.
pub fn fmt_g(d: f64, prec: usize) -> String {
    if d.is_nan() {
        return "nan".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d == 0.0 {
        return if d.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let prec = prec.max(1);
    let sci = format!("{:.*e}", prec - 1, d);
    let (mant, exp) = sci.split_once('e').expect("exponent");
    let exp: i32 = exp.parse().expect("exponent digits");
    if exp < -4 || exp >= prec as i32 {
        let mant = trim_fraction(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (prec as i32 - 1 - exp).max(0) as usize;
        let fixed = format!("{:.*}", decimals, d);
        trim_fraction(&fixed).to_string()
    }
}

fn trim_fraction(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-1"), Some(-1));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b"9223372036854775808"[..],
            b"-0",
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"",
            b"-",
            b"1a",
        ] {
            assert_eq!(parse_i64(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn g17() {
        assert_eq!(fmt_g17(1.1), "1.1000000000000001");
        assert_eq!(fmt_g17(1.5), "1.5");
        assert_eq!(fmt_g17(100.0), "100");
        assert_eq!(fmt_g17(1e17), "1e+17");
        assert_eq!(fmt_g17(1.234e-5), "1.234e-05");
        assert_eq!(fmt_g17(1.0 / 3.0), "0.33333333333333331");
        assert_eq!(fmt_g17(0.0001), "0.0001");
        assert_eq!(fmt_g17(-3.0), "-3");
        assert_eq!(fmt_g17(f64::NEG_INFINITY), "-inf");
    }

    #[test]
    fn floats() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"inf"), Some(f64::INFINITY));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b" 1"), None);
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b"1e400"), None);
        assert_eq!(parse_f64(b""), None);
        assert_eq!(parse_f64(b"1\x002"), None);
    }

    /// The plain-decimal path gives what `strtod` gives, input by input.
    #[test]
    fn plain_decimals_agree_with_strtod() {
        let mut rng = crate::util::rng::Rng::seeded(17);
        let fixed: &[&[u8]] = &[
            b"0",
            b"-0",
            b"+0",
            b"0.0",
            b"-0.0",
            b".5",
            b"5.",
            b"-.5",
            b"+.5",
            b".",
            b"-",
            b"+",
            b"1e",
            b"1e+",
            b"1e-",
            b"1e5",
            b"1E5",
            b"1e+5",
            b"1e-5",
            b".e5",
            b"1.e5",
            b"0e999",
            b"0e-999",
            b"1e308",
            b"1e309",
            b"-1e309",
            b"1e-400",
            b"-1e-400",
            b"4e-324",
            b"2e-324",
            b"2.5e-324",
            b"2.4703282292062328e-324",
            b"2.4703282292062327e-324",
            b"1.7976931348623157e308",
            b"1.7976931348623158e308",
            b"1.7976931348623159e308",
            b"2.2250738585072011e-308",
            b"2.2250738585072014e-308",
            b"9007199254740993",
            b"0.1",
            b"123456789.123456789",
            b"1073741823.9990234",
            b"00000001.5000000000",
            b"1e0000000000000000000000000000000000000000005",
            b"1 ",
            b" 1",
            b"1\x00",
            b"0x10",
            b"inf",
            b"-inf",
            b"+inf",
            b"infinity",
            b"nan",
            b"1,5",
            b"1..5",
            b"1.5.",
            b"--1",
            // just above a midpoint between two doubles: `exact_decimal`
            // rounds these right only with its sticky bit
            b"6384131013371841407e-27",
            b"6513682934734925149e-27",
            b"2766167701898287341e-27",
            b"6892045399520966244e-27",
            b"217390929429951614e-27",
            b"-3073445711627840458e-27",
            b"0.000000006384131013371841407",
            b"63841310133718.41407e-22",
        ];
        let mut inputs: Vec<Vec<u8>> = fixed.iter().map(|x| x.to_vec()).collect();
        let alphabet = b"0123456789.eE+-";
        for _ in 0..200_000 {
            let len = 1 + rng.below(24) as usize;
            inputs.push(
                (0..len)
                    .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize])
                    .collect(),
            );
        }
        for _ in 0..200_000 {
            // well-formed: many digits, exponents near the ends of the range
            let mut t = String::new();
            if rng.below(2) == 0 {
                t.push('-');
            }
            for _ in 0..1 + rng.below(20) {
                t.push((b'0' + rng.below(10) as u8) as char);
            }
            if rng.below(2) == 0 {
                t.push('.');
                for _ in 0..rng.below(25) {
                    t.push((b'0' + rng.below(10) as u8) as char);
                }
            }
            if rng.below(2) == 0 {
                let e = rng.below(700) as i64 - 350;
                t.push_str(&format!("e{e}"));
            }
            inputs.push(t.into_bytes());
        }
        for _ in 0..100_000 {
            // exact halfway and neighbouring cases between doubles
            let d = f64::from_bits(rng.next_u64() >> 1);
            if d.is_finite() {
                inputs.push(format!("{d:e}").into_bytes());
                inputs.push(format!("{:.20e}", d).into_bytes());
                inputs.push(fmt_g17(d).into_bytes());
            }
        }
        for _ in 0..300_000 {
            // `exact_decimal`'s domain and its edges: up to 20 significant
            // digits, the point anywhere, exponents around ±27
            let mut t = String::new();
            if rng.below(3) == 0 {
                t.push('-');
            }
            let n = 1 + rng.below(20) as usize;
            let point = rng.below(n as u64 + 2) as usize;
            for k in 0..n {
                if k == point {
                    t.push('.');
                }
                t.push((b'0' + rng.below(10) as u8) as char);
            }
            if rng.below(2) == 0 {
                let e = rng.below(70) as i64 - 35;
                t.push_str(&format!("e{e}"));
            }
            inputs.push(t.into_bytes());
            // what clients send: shortest round-trip text, integers
            let v = rng.below(1 << 40) as f64 / (1u64 << rng.below(40)) as f64;
            inputs.push(format!("{v}").into_bytes());
            inputs.push(format!("{}", rng.next_u64() >> rng.below(64)).into_bytes());
        }
        let mut plain = 0;
        for x in &inputs {
            let fast = parse_f64(x);
            let slow = parse_f64_strtod(x);
            assert_eq!(
                fast.map(f64::to_bits),
                slow.map(f64::to_bits),
                "{:?}",
                String::from_utf8_lossy(x)
            );
            plain += usize::from(parse_plain_decimal(x).is_some());
        }
        assert!(
            plain > inputs.len() / 2,
            "{plain} plain of {}",
            inputs.len()
        );
    }

    #[test]
    fn incrbyfloat() {
        assert_eq!(incr_by_float(Some(b"10.50"), b"0.1").unwrap(), b"10.6");
        assert_eq!(incr_by_float(Some(b"5.0e3"), b"2.0e2").unwrap(), b"5200");
        assert_eq!(incr_by_float(None, b"-0").unwrap(), b"0");
        assert_eq!(
            incr_by_float(Some(b"abc"), b"1"),
            Err(FloatIncrError::NotFloat)
        );
        assert_eq!(
            incr_by_float(Some(b"1"), b"inf"),
            Err(FloatIncrError::NanOrInf)
        );
    }
}
