//! Conversions at the boundary, nothing more: Python arguments → argv
//! (redis-py's `Encoder.encode` rules) and `Reply` → Python values (the
//! shapes redis-py's RESP2 parser produces, before response callbacks).
//!
//! Arguments are borrowed from the Python objects wherever possible (bytes,
//! str's cached UTF-8): the argv slices live as long as the argument tuple,
//! which the caller keeps alive for the whole call.

use std::ffi::{CString, c_char};

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};
use smallvec::SmallVec;

use emberkv::Reply;

use crate::errors;

unsafe extern "C" {
    // In the limited API only from 3.10, but exported by every CPython 3.x
    // (full API since 3.3): the zero-copy way to read a str as UTF-8.
    fn PyUnicode_AsUTF8AndSize(
        unicode: *mut ffi::PyObject,
        size: *mut ffi::Py_ssize_t,
    ) -> *const c_char;
}

/// How strings are encoded (arguments) and decoded (replies).
pub(crate) struct Codec {
    /// `encoding="utf-8", encoding_errors="strict"`: the fast paths.
    utf8_strict: bool,
    encoding: CString,
    errors: CString,
    /// `decode_responses`
    pub decode: bool,
}

impl Codec {
    pub fn new(encoding: &str, errors: &str, decode: bool) -> PyResult<Codec> {
        let norm = encoding.to_ascii_lowercase().replace('_', "-");
        let utf8 = matches!(norm.as_str(), "utf-8" | "utf8" | "u8");
        let bad = |_| pyo3::exceptions::PyValueError::new_err("encoding names may not contain NUL");
        Ok(Codec {
            utf8_strict: utf8 && errors == "strict",
            encoding: CString::new(if utf8 { "utf-8" } else { encoding }).map_err(bad)?,
            errors: CString::new(errors).map_err(bad)?,
            decode,
        })
    }
}

/// One argv element.
pub(crate) enum Arg<'a> {
    /// Borrowed from a Python bytes / str object.
    B(&'a [u8]),
    /// A formatted integer (no allocation).
    I([u8; 20], u8),
    /// Produced by a conversion (repr of a float, a memoryview's bytes, …).
    O(Vec<u8>),
}

/// An argv: up to 8 arguments without a heap allocation.
pub(crate) type Argv<'a> = SmallVec<[Arg<'a>; 8]>;

impl AsRef<[u8]> for Arg<'_> {
    #[inline]
    fn as_ref(&self) -> &[u8] {
        match self {
            Arg::B(b) => b,
            Arg::I(buf, start) => &buf[*start as usize..],
            Arg::O(v) => v,
        }
    }
}

fn fmt_i64(v: i64) -> Arg<'static> {
    let mut buf = [0u8; 20];
    let mut n = v.unsigned_abs();
    let mut pos = buf.len();
    loop {
        pos -= 1;
        buf[pos] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        pos -= 1;
        buf[pos] = b'-';
    }
    Arg::I(buf, pos as u8)
}

fn invalid_type(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyErr {
    let name = obj
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into());
    errors::data_error(
        py,
        &format!(
            "Invalid input of type: '{name}'. Convert to a bytes, string, int or float first."
        ),
    )
}

fn owned_bytes(obj: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    Ok(obj.cast::<PyBytes>()?.as_bytes().to_vec())
}

/// Encodes one argument as redis-py's `Encoder.encode` does: bytes and
/// memoryview as they are, str encoded, int and float by `repr`, bool and
/// everything else refused with `DataError`.
///
/// # Safety of the borrow
/// The returned slice points into `obj` (bytes buffer or str's cached
/// UTF-8); the caller keeps `obj` alive for `'a`.
fn encode_one<'a>(
    py: Python<'_>,
    obj: Borrowed<'a, '_, PyAny>,
    codec: &Codec,
) -> PyResult<Arg<'a>> {
    let p = obj.as_ptr();
    let obj: &Bound<'_, PyAny> = &obj;
    unsafe {
        if ffi::PyBytes_Check(p) != 0 {
            let ptr = ffi::PyBytes_AsString(p) as *const u8;
            let len = ffi::PyBytes_Size(p) as usize;
            return Ok(Arg::B(std::slice::from_raw_parts(ptr, len)));
        }
        if ffi::PyUnicode_Check(p) != 0 {
            if codec.utf8_strict {
                let mut len: ffi::Py_ssize_t = 0;
                let ptr = PyUnicode_AsUTF8AndSize(p, &mut len);
                if ptr.is_null() {
                    return Err(PyErr::fetch(py));
                }
                return Ok(Arg::B(std::slice::from_raw_parts(
                    ptr as *const u8,
                    len as usize,
                )));
            }
            let enc =
                ffi::PyUnicode_AsEncodedString(p, codec.encoding.as_ptr(), codec.errors.as_ptr());
            let enc = Bound::from_owned_ptr_or_err(py, enc)?;
            return Ok(Arg::O(owned_bytes(&enc)?));
        }
        if ffi::PyBool_Check(p) != 0 {
            return Err(invalid_type(py, obj));
        }
        if ffi::PyLong_CheckExact(p) != 0 {
            let mut overflow = 0;
            let v = ffi::PyLong_AsLongLongAndOverflow(p, &mut overflow);
            if overflow == 0 && (v != -1 || ffi::PyErr_Occurred().is_null()) {
                return Ok(fmt_i64(v));
            }
            ffi::PyErr_Clear();
        }
        if ffi::PyLong_Check(p) != 0 || ffi::PyFloat_Check(p) != 0 {
            // redis-py: repr(value).encode()
            let r = obj.repr()?;
            return Ok(Arg::O(r.to_string_lossy().as_bytes().to_vec()));
        }
        if ffi::PyMemoryView_Check(p) != 0 {
            let b = Bound::from_owned_ptr_or_err(py, ffi::PyBytes_FromObject(p))?;
            return Ok(Arg::O(owned_bytes(&b)?));
        }
    }
    Err(invalid_type(py, obj))
}

const WS: &[u8] = b" \t\n\r\x0b\x0c";

/// Encodes a whole command. A first argument with spaces (`"CONFIG GET"`)
/// is split into words, as redis-py's `pack_command` does.
pub(crate) fn encode_argv<'a>(
    py: Python<'_>,
    args: &'a Bound<'_, PyTuple>,
    codec: &Codec,
    out: &mut Argv<'a>,
) -> PyResult<()> {
    let n = args.len();
    if n == 0 {
        return Err(errors::data_error(py, "no command given"));
    }
    out.reserve(n + 1);
    // Items of a tuple live as long as the tuple, which outlives 'a.
    for (i, obj) in args.iter_borrowed().enumerate() {
        let a = encode_one(py, obj, codec)?;
        if i == 0 && a.as_ref().iter().any(|c| WS.contains(c)) {
            match a {
                Arg::B(b) => out.extend(
                    b.split(|c| WS.contains(c))
                        .filter(|w| !w.is_empty())
                        .map(Arg::B),
                ),
                other => {
                    let v = other.as_ref().to_vec();
                    out.extend(
                        v.split(|c| WS.contains(c))
                            .filter(|w| !w.is_empty())
                            .map(|w| Arg::O(w.to_vec())),
                    );
                }
            }
            if out.is_empty() {
                return Err(errors::data_error(py, "empty command name"));
            }
        } else {
            out.push(a);
        }
    }
    Ok(())
}

/// Encodes every item of `args` (channel names: no splitting).
pub(crate) fn encode_each<'a>(
    py: Python<'_>,
    args: &'a Bound<'_, PyTuple>,
    codec: &Codec,
    out: &mut Argv<'a>,
) -> PyResult<()> {
    for obj in args.iter_borrowed() {
        out.push(encode_one(py, obj, codec)?);
    }
    Ok(())
}

/// Total payload size of an argv (for the GIL policy).
pub(crate) fn argv_bytes(argv: &[Arg<'_>]) -> usize {
    argv.iter().map(|a| a.as_ref().len()).sum()
}

/// Redis's RESP2 text of a double (`%.17g`), taken from the engine's own
/// serialiser so the two can never differ.
fn double_text(d: f64) -> Vec<u8> {
    let wire = Reply::Double(d).to_resp2();
    let start = wire.iter().position(|&c| c == b'\n').map_or(0, |i| i + 1);
    wire[start..wire.len().saturating_sub(2)].to_vec()
}

/// Bytes → `bytes`, or `str` under `decode_responses`.
pub(crate) fn text<'py>(py: Python<'py>, b: &[u8], codec: &Codec) -> PyResult<Bound<'py, PyAny>> {
    if !codec.decode {
        return Ok(PyBytes::new(py, b).into_any());
    }
    unsafe {
        let ptr = b.as_ptr() as *const c_char;
        let len = b.len() as ffi::Py_ssize_t;
        let obj = if codec.utf8_strict {
            ffi::PyUnicode_DecodeUTF8(ptr, len, c"strict".as_ptr())
        } else {
            ffi::PyUnicode_Decode(ptr, len, codec.encoding.as_ptr(), codec.errors.as_ptr())
        };
        Bound::from_owned_ptr_or_err(py, obj)
    }
}

/// A reply as redis-py's RESP2 parser returns it; error replies are raised
/// at the top level and returned as exception instances inside arrays (as
/// in EXEC results). `resp3`: the client switched with HELLO 3, so maps,
/// doubles and booleans keep their RESP3 types.
pub(crate) fn reply<'py>(
    py: Python<'py>,
    r: &Reply,
    codec: &Codec,
    resp3: bool,
) -> PyResult<Bound<'py, PyAny>> {
    match r {
        Reply::Error(e) => Err(errors::reply_error(py, e)),
        _ => value(py, r, codec, resp3),
    }
}

fn value<'py>(
    py: Python<'py>,
    r: &Reply,
    codec: &Codec,
    resp3: bool,
) -> PyResult<Bound<'py, PyAny>> {
    Ok(match r {
        Reply::Nil | Reply::NilArray => py.None().into_bound(py),
        Reply::Simple(s) => text(py, s.as_bytes(), codec)?,
        Reply::Error(e) => errors::reply_error(py, e)
            .into_value(py)
            .into_bound(py)
            .into_any(),
        Reply::Int(i) => i.into_pyobject(py)?.into_any(),
        Reply::Double(d) if resp3 => d.into_pyobject(py)?.into_any(),
        Reply::Double(d) => text(py, &double_text(*d), codec)?,
        Reply::Bool(b) if resp3 => pyo3::types::PyBool::new(py, *b).to_owned().into_any(),
        Reply::Bool(b) => (*b as i64).into_pyobject(py)?.into_any(),
        Reply::Bulk(b) => text(py, b, codec)?,
        Reply::Verbatim(_, b) => text(py, b, codec)?,
        Reply::BigNumber(n) => text(py, n.as_bytes(), codec)?,
        Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => {
            list(py, items, codec, resp3)?.into_any()
        }
        Reply::Map(pairs) if resp3 => {
            let d = PyDict::new(py);
            for (k, v) in pairs {
                d.set_item(value(py, k, codec, resp3)?, value(py, v, codec, resp3)?)?;
            }
            d.into_any()
        }
        Reply::Map(pairs) => {
            let l = PyList::empty(py);
            for (k, v) in pairs {
                l.append(value(py, k, codec, resp3)?)?;
                l.append(value(py, v, codec, resp3)?)?;
            }
            l.into_any()
        }
    })
}

fn list<'py>(
    py: Python<'py>,
    items: &[Reply],
    codec: &Codec,
    resp3: bool,
) -> PyResult<Bound<'py, PyList>> {
    let mut out = Vec::with_capacity(items.len());
    for it in items {
        out.push(value(py, it, codec, resp3)?);
    }
    PyList::new(py, out)
}

/// A reply as a value, never raising for an error reply (pipelines).
pub(crate) fn reply_no_raise<'py>(
    py: Python<'py>,
    r: &Reply,
    codec: &Codec,
    resp3: bool,
) -> PyResult<Bound<'py, PyAny>> {
    value(py, r, codec, resp3)
}
