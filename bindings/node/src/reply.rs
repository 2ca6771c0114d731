//! `Reply` → JS value, the way ioredis decodes RESP2: bulk and status strings
//! become strings (or Buffers for the `*Buffer` methods), integers numbers,
//! nil `null`, maps flat arrays, doubles their `%.17g` text, booleans 1/0.
//! Error replies become `ReplyError` objects (thrown at the top level, values
//! inside arrays such as EXEC's).

use emberkv::Reply;
use napi::sys::{napi_env, napi_value};

use crate::js::{self, JsResult, Thrown};
use crate::state;

/// Bulk and status replies as Buffers instead of strings.
pub const BUF: u32 = 1;
/// Integer replies as strings (ioredis's `stringNumbers`).
pub const STRNUM: u32 = 2;
/// With BUF, a bulk reply that fits goes into the scratch Buffer (length in
/// its first 4 bytes) and `run` returns undefined: JS copies it into a pooled
/// Buffer, ~4x cheaper than a fresh `napi_create_buffer_copy` per reply.
pub const SCRATCH: u32 = 4;

/// Converts `r`; an error reply at the top is thrown.
pub unsafe fn to_js_throwing(env: napi_env, r: &Reply, flags: u32) -> JsResult<napi_value> {
    if let Reply::Error(msg) = r {
        unsafe {
            let e = reply_error(env, msg)?;
            napi::sys::napi_throw(env, e);
        }
        return Err(Thrown);
    }
    unsafe { to_js(env, r, flags) }
}

/// Converts `r`; error replies become `ReplyError` values.
pub unsafe fn to_js(env: napi_env, r: &Reply, flags: u32) -> JsResult<napi_value> {
    unsafe {
        match r {
            Reply::Nil | Reply::NilArray => Ok(js::null(env)),
            Reply::Bulk(b) => bytes(env, b, flags),
            Reply::Verbatim(_, b) => bytes(env, b, flags),
            Reply::Simple(s) => bytes(env, s.as_bytes(), flags),
            Reply::BigNumber(s) => bytes(env, s.as_bytes(), flags),
            Reply::Int(i) => {
                if flags & STRNUM != 0 {
                    js::string(env, i.to_string().as_bytes())
                } else {
                    js::int64(env, *i)
                }
            }
            Reply::Bool(b) => js::int64(env, *b as i64),
            Reply::Double(d) => bytes(env, &double_text(*d), flags),
            Reply::Error(msg) => reply_error(env, msg),
            Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => {
                let arr = js::array(env, items.len())?;
                for (i, it) in items.iter().enumerate() {
                    js::set_element(env, arr, i as u32, to_js(env, it, flags)?)?;
                }
                Ok(arr)
            }
            Reply::Map(pairs) => {
                let arr = js::array(env, pairs.len() * 2)?;
                for (i, (k, v)) in pairs.iter().enumerate() {
                    js::set_element(env, arr, 2 * i as u32, to_js(env, k, flags)?)?;
                    js::set_element(env, arr, 2 * i as u32 + 1, to_js(env, v, flags)?)?;
                }
                Ok(arr)
            }
        }
    }
}

unsafe fn bytes(env: napi_env, b: &[u8], flags: u32) -> JsResult<napi_value> {
    unsafe {
        if flags & BUF != 0 {
            js::buffer(env, b)
        } else {
            js::string(env, b)
        }
    }
}

/// Redis's double reply text (`%.17g`, `inf`, `-inf`), taken from the engine's
/// own RESP2 writer so the two can never differ.
fn double_text(d: f64) -> Vec<u8> {
    let resp = Reply::Double(d).to_resp2(); // "$<len>\r\n<text>\r\n"
    let start = resp.iter().position(|&b| b == b'\n').map_or(0, |p| p + 1);
    resp[start..resp.len().saturating_sub(2)].to_vec()
}

/// `new ReplyError(msg)` with the constructor index.js registered.
pub unsafe fn reply_error(env: napi_env, msg: &str) -> JsResult<napi_value> {
    unsafe {
        let m = js::string(env, msg.as_bytes())?;
        match state::reply_error_ctor(env) {
            Some(ctor) => {
                let mut out = std::ptr::null_mut();
                js::ok(napi::sys::napi_new_instance(env, ctor, 1, &m, &mut out))?;
                Ok(out)
            }
            None => {
                let mut out = std::ptr::null_mut();
                let code = js::string(env, msg.split(' ').next().unwrap_or("ERR").as_bytes())?;
                js::ok(napi::sys::napi_create_error(env, code, m, &mut out))?;
                Ok(out)
            }
        }
    }
}
