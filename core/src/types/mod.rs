//! Value types. Each type keeps its encodings and typed operations in its own
//! module (`string.rs`, `list.rs`, …); commands never reach into encodings.

pub mod bytes;
pub mod hash;
pub mod list;

pub use bytes::{Key, Str};
pub use hash::HashValue;
pub use list::ListValue;
mod member_index;
pub mod set;
pub mod zset;

pub use set::SetValue;
pub use zset::ZsetValue;

/// A value stored under a key. 24 bytes: strings inline, collections boxed.
#[derive(Clone)]
pub enum Value {
    Str(Str),
    List(Box<ListValue>),
    Hash(Box<HashValue>),
    Set(Box<SetValue>),
    Zset(Box<ZsetValue>),
}

impl Value {
    /// TYPE's answer.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::Zset(_) => "zset",
        }
    }

    /// OBJECT ENCODING's answer.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => s.encoding(),
            Value::List(l) => l.encoding(),
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::Zset(z) => z.encoding(),
        }
    }

    /// Approximate heap bytes owned by the value (INFO memory, MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Str(s) => s.heap_size(),
            Value::List(l) => l.heap_size(),
            Value::Hash(h) => h.heap_size(),
            Value::Set(s) => std::mem::size_of::<SetValue>() + s.heap_size(),
            Value::Zset(z) => std::mem::size_of::<ZsetValue>() + z.heap_size(),
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
