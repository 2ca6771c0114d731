//! Redis's `sdscatrepr`: how MONITOR shows arguments and the AOF manifest
//! quotes file names.

/// Appends `a` quoted: `\\ \" \n \r \t \a \b` escaped, other bytes outside
/// printable ASCII as `\xhh`.
pub fn push_repr(s: &mut String, a: &[u8]) {
    s.push('"');
    for &b in a {
        match b {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            7 => s.push_str("\\a"),
            8 => s.push_str("\\b"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('"');
}
