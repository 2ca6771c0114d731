//! Thin helpers over raw Node-API (`napi::sys`).
//!
//! The hot entry points (`run` and friends) are plain `extern "C"` callbacks
//! instead of `#[napi]` class methods: napi-rs 3 spends ~0.5 µs per class
//! method call on borrow tracking, a raw callback ~50 ns (TOOLCHAIN.md §6).
//! Everything here runs on the JS thread that owns `env`.

use std::ffi::c_void;
use std::ptr;

use napi::sys::{self, napi_env, napi_value};

/// A JS exception is pending (or could not even be thrown): return NULL to JS.
#[derive(Debug)]
pub struct Thrown;

pub type JsResult<T> = Result<T, Thrown>;

#[inline]
pub fn ok(status: sys::napi_status) -> JsResult<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(Thrown)
    }
}

/// Throws `Error(msg)` with `err.code = code` unless an exception is already pending.
pub unsafe fn throw_error(env: napi_env, code: &str, msg: &str) -> Thrown {
    unsafe {
        if !exception_pending(env) {
            let (c, m) = (cstring(code), cstring(msg));
            sys::napi_throw_error(env, c.as_ptr(), m.as_ptr());
        }
    }
    Thrown
}

pub unsafe fn throw_type_error(env: napi_env, msg: &str) -> Thrown {
    unsafe {
        if !exception_pending(env) {
            let (c, m) = (cstring("ERR_INVALID_ARG_TYPE"), cstring(msg));
            sys::napi_throw_type_error(env, c.as_ptr(), m.as_ptr());
        }
    }
    Thrown
}

pub unsafe fn exception_pending(env: napi_env) -> bool {
    let mut pending = false;
    unsafe { sys::napi_is_exception_pending(env, &mut pending) };
    pending
}

fn cstring(s: &str) -> std::ffi::CString {
    std::ffi::CString::new(s.replace('\0', " ")).expect("NULs were replaced")
}

/// The callback's arguments, on the stack for up to 16 of them.
pub struct CbArgs {
    small: [napi_value; 16],
    big: Vec<napi_value>,
    len: usize,
    pub data: *mut c_void,
}

impl CbArgs {
    pub unsafe fn get(env: napi_env, info: sys::napi_callback_info) -> JsResult<CbArgs> {
        let mut a = CbArgs {
            small: [ptr::null_mut(); 16],
            big: Vec::new(),
            len: 16,
            data: ptr::null_mut(),
        };
        unsafe {
            ok(sys::napi_get_cb_info(
                env,
                info,
                &mut a.len,
                a.small.as_mut_ptr(),
                ptr::null_mut(),
                &mut a.data,
            ))?;
            if a.len > 16 {
                let mut n = a.len;
                a.big = vec![ptr::null_mut(); n];
                ok(sys::napi_get_cb_info(
                    env,
                    info,
                    &mut n,
                    a.big.as_mut_ptr(),
                    ptr::null_mut(),
                    ptr::null_mut(),
                ))?;
            }
        }
        Ok(a)
    }

    pub fn as_slice(&self) -> &[napi_value] {
        if self.len > 16 {
            &self.big
        } else {
            &self.small[..self.len]
        }
    }
}

pub unsafe fn type_of(env: napi_env, v: napi_value) -> sys::napi_valuetype {
    let mut t = sys::ValueType::napi_undefined;
    unsafe { sys::napi_typeof(env, v, &mut t) };
    t
}

pub unsafe fn get_u32(env: napi_env, v: napi_value, what: &str) -> JsResult<u32> {
    let mut n = 0u32;
    if unsafe { sys::napi_get_value_uint32(env, v, &mut n) } != sys::Status::napi_ok {
        return Err(unsafe { throw_type_error(env, &format!("emberkv: {what} must be a number")) });
    }
    Ok(n)
}

pub unsafe fn get_f64(env: napi_env, v: napi_value) -> JsResult<f64> {
    let mut n = 0f64;
    unsafe { ok(sys::napi_get_value_double(env, v, &mut n))? };
    Ok(n)
}

/// Appends the UTF-8 of the JS string `v` to `out` (lone surrogates become U+FFFD).
pub unsafe fn append_string(env: napi_env, v: napi_value, out: &mut Vec<u8>) -> JsResult<()> {
    // One call for the common case: write into the spare capacity. V8 never
    // splits a character at the end of the buffer, so a result that ends within
    // 4 bytes of the limit may be truncated: then ask for the exact length.
    if out.capacity() - out.len() < 64 {
        out.reserve(256);
    }
    let spare = out.capacity() - out.len();
    let mut n = 0usize;
    unsafe {
        let dst = out.as_mut_ptr().add(out.len()) as *mut std::ffi::c_char;
        ok(sys::napi_get_value_string_utf8(env, v, dst, spare, &mut n))?;
        if n + 4 < spare {
            out.set_len(out.len() + n);
            return Ok(());
        }
        ok(sys::napi_get_value_string_utf8(
            env,
            v,
            ptr::null_mut(),
            0,
            &mut n,
        ))?;
        out.reserve(n + 1);
        let dst = out.as_mut_ptr().add(out.len()) as *mut std::ffi::c_char;
        let mut m = 0usize;
        ok(sys::napi_get_value_string_utf8(env, v, dst, n + 1, &mut m))?;
        out.set_len(out.len() + m);
    }
    Ok(())
}

pub unsafe fn string_of(env: napi_env, v: napi_value) -> JsResult<String> {
    let mut buf = Vec::new();
    unsafe { append_string(env, v, &mut buf)? };
    Ok(String::from_utf8(buf)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// The bytes of a Uint8Array (Buffer), or None if `v` is not one.
pub unsafe fn uint8_bytes<'a>(env: napi_env, v: napi_value) -> Option<&'a [u8]> {
    unsafe {
        let mut is = false;
        if sys::napi_is_typedarray(env, v, &mut is) != sys::Status::napi_ok || !is {
            return None;
        }
        let mut ty = 0;
        let mut len = 0usize;
        let mut data: *mut c_void = ptr::null_mut();
        let mut ab: napi_value = ptr::null_mut();
        let mut off = 0usize;
        if sys::napi_get_typedarray_info(env, v, &mut ty, &mut len, &mut data, &mut ab, &mut off)
            != sys::Status::napi_ok
        {
            return None;
        }
        if ty != sys::TypedarrayType::uint8_array && ty != sys::TypedarrayType::uint8_clamped_array
        {
            return None;
        }
        Some(if len == 0 || data.is_null() {
            &[]
        } else {
            std::slice::from_raw_parts(data as *const u8, len)
        })
    }
}

pub unsafe fn is_array(env: napi_env, v: napi_value) -> bool {
    let mut is = false;
    unsafe { sys::napi_is_array(env, v, &mut is) };
    is
}

pub unsafe fn array_len(env: napi_env, v: napi_value) -> JsResult<u32> {
    let mut n = 0u32;
    unsafe { ok(sys::napi_get_array_length(env, v, &mut n))? };
    Ok(n)
}

pub unsafe fn element(env: napi_env, v: napi_value, i: u32) -> JsResult<napi_value> {
    let mut e = ptr::null_mut();
    unsafe { ok(sys::napi_get_element(env, v, i, &mut e))? };
    Ok(e)
}

pub unsafe fn null(env: napi_env) -> napi_value {
    let mut v = ptr::null_mut();
    unsafe { sys::napi_get_null(env, &mut v) };
    v
}

pub unsafe fn undefined(env: napi_env) -> napi_value {
    let mut v = ptr::null_mut();
    unsafe { sys::napi_get_undefined(env, &mut v) };
    v
}

pub unsafe fn string(env: napi_env, b: &[u8]) -> JsResult<napi_value> {
    let mut v = ptr::null_mut();
    unsafe {
        ok(sys::napi_create_string_utf8(
            env,
            b.as_ptr() as *const _,
            b.len() as isize,
            &mut v,
        ))?
    };
    Ok(v)
}

pub unsafe fn buffer(env: napi_env, b: &[u8]) -> JsResult<napi_value> {
    let mut v = ptr::null_mut();
    let mut data = ptr::null_mut();
    unsafe {
        ok(sys::napi_create_buffer_copy(
            env,
            b.len(),
            b.as_ptr() as *const c_void,
            &mut data,
            &mut v,
        ))?
    };
    Ok(v)
}

pub unsafe fn int64(env: napi_env, n: i64) -> JsResult<napi_value> {
    let mut v = ptr::null_mut();
    unsafe { ok(sys::napi_create_int64(env, n, &mut v))? };
    Ok(v)
}

pub unsafe fn uint32(env: napi_env, n: u32) -> JsResult<napi_value> {
    let mut v = ptr::null_mut();
    unsafe { ok(sys::napi_create_uint32(env, n, &mut v))? };
    Ok(v)
}

pub unsafe fn array(env: napi_env, len: usize) -> JsResult<napi_value> {
    let mut v = ptr::null_mut();
    unsafe { ok(sys::napi_create_array_with_length(env, len, &mut v))? };
    Ok(v)
}

pub unsafe fn set_element(env: napi_env, arr: napi_value, i: u32, v: napi_value) -> JsResult<()> {
    unsafe { ok(sys::napi_set_element(env, arr, i, v)) }
}

pub unsafe fn set_named(env: napi_env, obj: napi_value, name: &str, v: napi_value) -> JsResult<()> {
    let c = cstring(name);
    unsafe { ok(sys::napi_set_named_property(env, obj, c.as_ptr(), v)) }
}

pub unsafe fn coerce_to_string(env: napi_env, v: napi_value) -> JsResult<napi_value> {
    let mut s = ptr::null_mut();
    unsafe { ok(sys::napi_coerce_to_string(env, v, &mut s))? };
    Ok(s)
}

/// A strong reference kept across calls (constructor, callback).
pub struct Ref(pub sys::napi_ref);

impl Ref {
    pub unsafe fn new(env: napi_env, v: napi_value) -> JsResult<Ref> {
        let mut r = ptr::null_mut();
        unsafe { ok(sys::napi_create_reference(env, v, 1, &mut r))? };
        Ok(Ref(r))
    }

    pub unsafe fn value(&self, env: napi_env) -> JsResult<napi_value> {
        let mut v = ptr::null_mut();
        unsafe { ok(sys::napi_get_reference_value(env, self.0, &mut v))? };
        if v.is_null() { Err(Thrown) } else { Ok(v) }
    }

    pub unsafe fn delete(self, env: napi_env) {
        unsafe { sys::napi_delete_reference(env, self.0) };
    }
}

/// Registers `f` as `exports[name]`.
pub unsafe fn export(
    env: napi_env,
    exports: napi_value,
    name: &str,
    f: sys::napi_callback,
) -> JsResult<()> {
    let mut func = ptr::null_mut();
    unsafe {
        ok(sys::napi_create_function(
            env,
            name.as_ptr() as *const _,
            name.len() as isize,
            f,
            ptr::null_mut(),
            &mut func,
        ))?;
        set_named(env, exports, name, func)
    }
}
