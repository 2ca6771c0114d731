//! Value types. Each type keeps its encodings and typed operations in its own
//! module (`string.rs`, `list.rs`, …); commands never reach into encodings.

pub mod bytes;
pub mod hash;
pub mod hll;
pub mod list;

pub use bytes::{Key, Str};
pub use hash::HashValue;
pub use list::ListValue;
mod member_index;
pub mod set;
pub mod stream;
pub mod zset;

pub use set::SetValue;
pub use stream::StreamValue;
pub use zset::ZsetValue;

/// A value stored under a key. 24 bytes: strings inline, collections boxed.
#[derive(Clone)]
pub enum Value {
    Str(Str),
    List(Box<ListValue>),
    Hash(Box<HashValue>),
    Set(Box<SetValue>),
    Zset(Box<ZsetValue>),
    Stream(Box<StreamValue>),
}

/// A collection type as it sits in a [`Value`]: lets command code ask for
/// "the list under this key" once, generically (`Ctx::typed`).
pub(crate) trait Typed {
    fn of(v: &Value) -> Option<&Self>;
    fn of_mut(v: &mut Value) -> Option<&mut Self>;
}

macro_rules! typed {
    ($($variant:ident => $ty:ty),*) => {$(
        impl Typed for $ty {
            #[inline]
            fn of(v: &Value) -> Option<&Self> {
                match v {
                    Value::$variant(x) => Some(x),
                    _ => None,
                }
            }
            #[inline]
            fn of_mut(v: &mut Value) -> Option<&mut Self> {
                match v {
                    Value::$variant(x) => Some(x),
                    _ => None,
                }
            }
        }
    )*};
}

typed!(List => ListValue, Hash => HashValue, Set => SetValue, Zset => ZsetValue, Stream => StreamValue);

impl Value {
    /// TYPE's answer.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::Zset(_) => "zset",
            Value::Stream(_) => "stream",
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
            Value::Stream(s) => s.encoding(),
        }
    }

    /// The commands that rebuild this value under `key` (the AOF rewrite's
    /// base), in the forms Redis's rewrite uses: `SET` for strings; `RPUSH`,
    /// `SADD`, `ZADD`, `HMSET` with at most 64 items per command for
    /// collections. The expiry is added by the caller.
    pub fn rebuild_commands(&self, key: &[u8], emit: &mut dyn FnMut(&[&[u8]])) {
        const CHUNK: usize = 64;
        fn flush(emit: &mut dyn FnMut(&[&[u8]]), head: &[&[u8]], items: &mut Vec<Vec<u8>>) {
            if items.is_empty() {
                return;
            }
            let mut argv: Vec<&[u8]> = head.to_vec();
            argv.extend(items.iter().map(|i| i.as_slice()));
            emit(&argv);
            items.clear();
        }
        let mut items: Vec<Vec<u8>> = Vec::with_capacity(2 * CHUNK);
        match self {
            Value::Str(s) => s.with_bytes(|b| emit(&[b"SET", key, b])),
            Value::List(l) => {
                for e in l.iter() {
                    items.push(e.to_vec());
                    if items.len() == CHUNK {
                        flush(emit, &[b"RPUSH", key], &mut items);
                    }
                }
                flush(emit, &[b"RPUSH", key], &mut items);
            }
            Value::Hash(h) => {
                for (f, v) in h.iter() {
                    items.push(f.to_vec());
                    items.push(v.to_vec());
                    if items.len() == 2 * CHUNK {
                        flush(emit, &[b"HMSET", key], &mut items);
                    }
                }
                flush(emit, &[b"HMSET", key], &mut items);
            }
            Value::Set(set) => {
                set.for_each(|m| {
                    items.push(m.to_vec());
                    if items.len() == CHUNK {
                        flush(emit, &[b"SADD", key], &mut items);
                    }
                });
                flush(emit, &[b"SADD", key], &mut items);
            }
            Value::Zset(z) => {
                z.for_each(|m, score| {
                    items.push(crate::util::number::fmt_g17(score).into_bytes());
                    items.push(m.to_vec());
                    if items.len() == 2 * CHUNK {
                        flush(emit, &[b"ZADD", key], &mut items);
                    }
                });
                flush(emit, &[b"ZADD", key], &mut items);
            }
            Value::Stream(s) => stream::rebuild_commands(s, key, emit),
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
            Value::Stream(s) => s.heap_size(),
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
