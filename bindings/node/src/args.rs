//! Command arguments from JS values: `string | Buffer | number | bigint`, and
//! arrays of those flattened one level (as ioredis flattens `sadd('s', [1, 2])`).
//!
//! Numbers are sent as ioredis sends them: integers in full decimal (ioredis 5.5+
//! writes unsafe integers through BigInt, never in exponent form), other values
//! through JS's own `String(n)`. Anything else (`null`, `undefined`, booleans,
//! plain objects) is a TypeError: a silent `''` or `'[object Object]'` key is
//! almost always a bug.

use napi::sys::{self, napi_env, napi_value};

use crate::js::{self, JsResult};

/// The bytes of every argument, back to back, and where each one ends.
#[derive(Default)]
pub struct ArgBuf {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl ArgBuf {
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }

    /// Arguments `from..to` as slices, on the stack for short commands.
    pub fn with_slices<R>(&self, from: usize, to: usize, f: impl FnOnce(&[&[u8]]) -> R) -> R {
        const N: usize = 12;
        let n = to - from;
        if n <= N {
            let mut buf: [&[u8]; N] = [&[]; N];
            for (k, slot) in buf.iter_mut().take(n).enumerate() {
                *slot = self.get(from + k);
            }
            f(&buf[..n])
        } else {
            let v: Vec<&[u8]> = (from..to).map(|i| self.get(i)).collect();
            f(&v)
        }
    }

    pub fn to_vecs(&self, from: usize, to: usize) -> Vec<Vec<u8>> {
        (from..to).map(|i| self.get(i).to_vec()).collect()
    }

    /// Appends one JS argument (arrays flattened one level). `pos` is for the error message.
    pub unsafe fn push_js(&mut self, env: napi_env, v: napi_value, pos: usize) -> JsResult<()> {
        unsafe {
            match js::type_of(env, v) {
                sys::ValueType::napi_object if js::is_array(env, v) => {
                    let n = js::array_len(env, v)?;
                    for i in 0..n {
                        let e = js::element(env, v, i)?;
                        if js::type_of(env, e) == sys::ValueType::napi_object
                            && js::is_array(env, e)
                        {
                            return Err(bad_arg(env, pos, "a nested array"));
                        }
                        self.push_scalar(env, e, pos)?;
                    }
                    Ok(())
                }
                _ => self.push_scalar(env, v, pos),
            }
        }
    }

    unsafe fn push_scalar(&mut self, env: napi_env, v: napi_value, pos: usize) -> JsResult<()> {
        unsafe {
            match js::type_of(env, v) {
                sys::ValueType::napi_string => js::append_string(env, v, &mut self.bytes)?,
                sys::ValueType::napi_number => {
                    let n = js::get_f64(env, v)?;
                    if n.is_finite() && n == n.trunc() {
                        if n.abs() < 9.2e18 {
                            let mut b = itoa_buf();
                            self.bytes.extend_from_slice(fmt_i64(n as i64, &mut b));
                        } else {
                            // exact decimal of a large integral double, as BigInt(n).toString()
                            self.bytes.extend_from_slice(format!("{n:.0}").as_bytes());
                        }
                    } else {
                        let s = js::coerce_to_string(env, v)?;
                        js::append_string(env, s, &mut self.bytes)?;
                    }
                }
                sys::ValueType::napi_bigint => {
                    let s = js::coerce_to_string(env, v)?;
                    js::append_string(env, s, &mut self.bytes)?;
                }
                sys::ValueType::napi_object => match js::uint8_bytes(env, v) {
                    Some(b) => self.bytes.extend_from_slice(b),
                    None => return Err(bad_arg(env, pos, "an object")),
                },
                t => {
                    let what = match t {
                        sys::ValueType::napi_undefined => "undefined",
                        sys::ValueType::napi_null => "null",
                        sys::ValueType::napi_boolean => "a boolean",
                        sys::ValueType::napi_symbol => "a symbol",
                        sys::ValueType::napi_function => "a function",
                        _ => "an unsupported value",
                    };
                    return Err(bad_arg(env, pos, what));
                }
            }
        }
        self.ends.push(self.bytes.len());
        Ok(())
    }
}

unsafe fn bad_arg(env: napi_env, pos: usize, what: &str) -> js::Thrown {
    unsafe {
        js::throw_type_error(
            env,
            &format!(
                "emberkv: argument {pos} must be a string, Buffer or number (or an array of them), got {what}"
            ),
        )
    }
}

fn itoa_buf() -> [u8; 20] {
    [0; 20]
}

fn fmt_i64(i: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut n = i.unsigned_abs();
    let mut pos = buf.len();
    loop {
        pos -= 1;
        buf[pos] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if i < 0 {
        pos -= 1;
        buf[pos] = b'-';
    }
    &buf[pos..]
}
