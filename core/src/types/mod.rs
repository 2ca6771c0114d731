//! Value types. Each type keeps its encodings and typed operations in its own
//! module (`string.rs`, `list.rs`, …); commands never reach into encodings.

pub mod bytes;

pub use bytes::{Key, Str};

/// A value stored under a key. 24 bytes: strings inline, collections boxed.
#[derive(Clone)]
pub enum Value {
    Str(Str),
}

impl Value {
    /// TYPE's answer.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
        }
    }

    /// OBJECT ENCODING's answer.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => s.encoding(),
        }
    }

    /// The commands that rebuild this value under `key` (the AOF rewrite's
    /// base), in the forms Redis's rewrite uses: `SET` for strings; `RPUSH`,
    /// `SADD`, `ZADD`, `HMSET` with at most 64 items per command for
    /// collections. The expiry is added by the caller.
    pub fn rebuild_commands(&self, key: &[u8], emit: &mut dyn FnMut(&[&[u8]])) {
        match self {
            Value::Str(s) => s.with_bytes(|b| emit(&[b"SET", key, b])),
        }
    }

    /// Approximate heap bytes owned by the value (INFO memory, MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Str(s) => s.heap_size(),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn value_is_compact() {
        assert_eq!(std::mem::size_of::<super::Value>(), 24);
    }
}
