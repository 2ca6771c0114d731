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

/// Redis's `string2d` / `getDoubleFromObject`: `strtod` over the whole string.
pub fn parse_f64(s: &[u8]) -> Option<f64> {
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
