//! Redis's error replies, byte for byte.

use crate::reply::Reply;

pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const SYNTAX: &str = "ERR syntax error";
pub const NOT_INT: &str = "ERR value is not an integer or out of range";
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
pub const NO_KEY: &str = "ERR no such key";
pub const DB_RANGE: &str = "ERR DB index is out of range";
pub const BIT_OFFSET: &str = "ERR bit offset is not an integer or out of range";
pub const STRING_TOO_LONG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

pub fn wrongtype() -> Reply {
    Reply::error(WRONGTYPE)
}
pub fn syntax() -> Reply {
    Reply::error(SYNTAX)
}
pub fn not_int() -> Reply {
    Reply::error(NOT_INT)
}
pub fn not_float() -> Reply {
    Reply::error(NOT_FLOAT)
}
pub fn arity(name: &str) -> Reply {
    Reply::Error(format!(
        "ERR wrong number of arguments for '{name}' command"
    ))
}
/// "ERR invalid expire time in 'set' command"
pub fn invalid_expire(cmd: &str) -> Reply {
    Reply::Error(format!("ERR invalid expire time in '{cmd}' command"))
}
