//! RDB snapshots: Redis's dump format, read from any Redis version (RDB 1 to
//! 12) and written as RDB 10, which redis-server 7.0 and every newer Redis
//! load. `shared/REFERENCE.md` is the format spec this follows.
//!
//! This layer knows nothing about the engine's value types: it reads files
//! into, and writes files from, an intermediate representation ([`RdbValue`],
//! [`RdbEntry`]), one key at a time, so neither side ever holds a whole file.
//!
//! # Loading (what `Db::open` / DEBUG RELOAD do with it)
//! ```ignore
//! let mut r = rdb::RdbReader::open(path)?;          // checks the magic and version
//! while let Some(item) = r.next_item()? {
//!     match item {
//!         RdbItem::Entry(e) => { /* e.db, e.key, e.value, e.expire_at_ms, e.lru_idle, e.lfu_freq */ }
//!         RdbItem::Aux { key, value } => { /* redis-ver, ctime, aof-base, … (informational) */ }
//!         RdbItem::Function(code) => { /* a FUNCTION LOAD library body */ }
//!         RdbItem::ResizeDb { .. } | RdbItem::ModuleAux { .. } => {}
//!     }
//! }
//! // After EOF the CRC-64 has been checked; r.offset() is where an AOF tail would start.
//! ```
//! Policies that belong to the caller, not to this layer:
//! - Redis drops keys whose expiry is already past when a master loads a
//!   dump (not for an AOF base/preamble). Entries come with their expiry
//!   untouched; [`RdbEntry::expired_at`] helps.
//! - A duplicate key in one database makes Redis refuse the file: the
//!   reader streams, so the consumer detects it when inserting.
//! - SELECTDB beyond `databases`: the consumer decides (Redis exits).
//! - Empty collections are skipped here, as Redis skips them
//!   ([`RdbReader::empty_keys_skipped`]).
//! - Streams and module values (type 7, kept as opaque fields) arrive as
//!   [`RdbValue::Stream`] / [`RdbValue::Module`]: refuse them with a message
//!   naming the key until the engine has the type.
//! - Hashes with per-field TTLs (RDB 12) arrive as [`RdbValue::HashTtl`].
//!
//! # Saving (SAVE / BGSAVE / the AOF preamble)
//! ```ignore
//! let mut w = rdb::RdbWriter::with_options(file, opts); // header + aux fields
//! for lib in functions { w.function(lib)?; }
//! for db in non_empty_dbs {
//!     w.select_db(db.index, db.len, db.expires)?;    // SELECTDB + RESIZEDB
//!     for (key, value, expire) in db { w.entry(&key, &value, expire)?; }
//! }
//! let file = w.finish()?;                             // EOF + CRC-64, flushed
//! ```
//! Encodings follow Redis 7.0's choices and thresholds ([`WriteOptions`]):
//! listpack hashes/zsets (16/17) when small, else 4/5; quicklist 2 (18) for
//! lists; intset (11) or plain sets (2); streams as type 19; strings as
//! INT8/16/32 when they round-trip, LZF above 20 bytes when it saves space.
//! Atomic replacement (temp file, fsync, rename, fsync dir) is the caller's
//! job; [`save_file`] does it for a complete write.
//!
//! # DUMP / RESTORE
//! [`dump_payload`] and [`parse_payload`]: type byte, value, RDB version
//! (u16 LE) and CRC-64 (u64 LE), as Redis's DUMP.
//!
//! # Rules for whoever changes this
//! - The reader never panics and never allocates by a length read from the
//!   file beyond what the rest of the file could hold: every length is
//!   capped by the bytes remaining (or read incrementally when the size is
//!   unknown). The fuzz target `core/fuzz/fuzz_targets/rdb_load.rs` and the
//!   mutation test in `core/tests/rdb_fixtures.rs` hold it to that.
//! - The writer must never emit anything Redis 7.0 cannot load (no types
//!   20–25, no opcode 244, no version above 10).

pub mod intset;
pub mod listpack;
pub mod lzf;
mod reader;
pub mod stream;
mod writer;
pub mod ziplist;
pub mod zipmap;

#[cfg(test)]
mod tests;

pub use reader::{RdbFile, RdbItem, RdbReader, ReadOptions, read_file};
pub use stream::{StreamConsumer, StreamEntry, StreamGroup, StreamId, StreamPending, StreamValue};
pub use writer::{RdbWriter, WriteOptions, save_file};

use crate::error::{Error, ErrorKind};

/// The RDB version emberkv writes (Redis 7.0).
pub const RDB_VERSION: u16 = 10;
/// The newest RDB version emberkv reads (Redis 7.4 / 8.0).
pub const RDB_MAX_READ_VERSION: u16 = 12;

/// RDB type bytes.
pub mod types {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const MODULE_PRE_GA: u8 = 6;
    pub const MODULE_2: u8 = 7;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const STREAM_LISTPACKS: u8 = 15;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const STREAM_LISTPACKS_2: u8 = 19;
    pub const SET_LISTPACK: u8 = 20;
    pub const STREAM_LISTPACKS_3: u8 = 21;
    pub const HASH_METADATA_PRE_GA: u8 = 22;
    pub const HASH_LISTPACK_EX_PRE_GA: u8 = 23;
    pub const HASH_METADATA: u8 = 24;
    pub const HASH_LISTPACK_EX: u8 = 25;

    /// Redis's name for a type byte (as redis-check-rdb prints it).
    pub fn name(t: u8) -> &'static str {
        match t {
            STRING => "string",
            LIST => "list-linkedlist",
            SET => "set-hashtable",
            ZSET => "zset-v1",
            HASH => "hash-hashtable",
            ZSET_2 => "zset-v2",
            MODULE_PRE_GA => "module-pre-release",
            MODULE_2 => "module-value",
            HASH_ZIPMAP => "hash-zipmap",
            LIST_ZIPLIST => "list-ziplist",
            SET_INTSET => "set-intset",
            ZSET_ZIPLIST => "zset-ziplist",
            HASH_ZIPLIST => "hash-ziplist",
            LIST_QUICKLIST => "quicklist",
            STREAM_LISTPACKS => "stream",
            HASH_LISTPACK => "hash-listpack",
            ZSET_LISTPACK => "zset-listpack",
            LIST_QUICKLIST_2 => "quicklist-v2",
            STREAM_LISTPACKS_2 => "stream-v2",
            SET_LISTPACK => "set-listpack",
            STREAM_LISTPACKS_3 => "stream-v3",
            HASH_METADATA_PRE_GA => "hash-hashtable-md-pre-ga",
            HASH_LISTPACK_EX_PRE_GA => "hash-listpack-md-pre-ga",
            HASH_METADATA => "hash-hashtable-md",
            HASH_LISTPACK_EX => "hash-listpack-md",
            _ => "unknown",
        }
    }
}

/// RDB opcodes (bytes 244–255 where a type byte is expected).
pub mod opcodes {
    pub const SLOT_INFO: u8 = 244;
    pub const FUNCTION2: u8 = 245;
    pub const FUNCTION_PRE_GA: u8 = 246;
    pub const MODULE_AUX: u8 = 247;
    pub const IDLE: u8 = 248;
    pub const FREQ: u8 = 249;
    pub const AUX: u8 = 250;
    pub const RESIZEDB: u8 = 251;
    pub const EXPIRETIME_MS: u8 = 252;
    pub const EXPIRETIME: u8 = 253;
    pub const SELECTDB: u8 = 254;
    pub const EOF: u8 = 255;
}

/// A value as stored in an RDB file, independent of the engine's types.
#[derive(Clone, Debug, PartialEq)]
pub enum RdbValue {
    Str(Vec<u8>),
    /// Elements head to tail.
    List(Vec<Vec<u8>>),
    /// Members, distinct, in file order.
    Set(Vec<Vec<u8>>),
    /// (member, score), distinct members, in file order. Scores are never NaN.
    ZSet(Vec<(Vec<u8>, f64)>),
    /// (field, value), distinct fields, in file order.
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    /// A hash with per-field expiry (RDB 12 types 22–25): (field, value,
    /// absolute expiry in unix ms). Only produced when some field has a TTL.
    HashTtl(Vec<(Vec<u8>, Vec<u8>, Option<u64>)>),
    Stream(Box<StreamValue>),
    /// A list read with [`ReadOptions::flat_lists`]: the same elements as
    /// `List`, stored back to back (no allocation per element), for loaders
    /// that copy them into their own structures anyway.
    ListFlat(FlatList),
    /// A module value (type 7), kept opaque so it can be written back.
    Module(ModuleValue),
}

/// List elements back to back: `ends[i]` is where element `i` ends in `data`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FlatList {
    pub data: Vec<u8>,
    pub ends: Vec<u32>,
}

impl FlatList {
    pub fn push(&mut self, e: &[u8]) {
        self.data.extend_from_slice(e);
        self.ends.push(self.data.len() as u32);
    }

    /// Pushes a listpack or ziplist entry (integers as decimal text).
    pub fn push_item(&mut self, i: listpack::LpItem<'_>) {
        match i {
            listpack::LpItem::Str(s) => self.push(s),
            listpack::LpItem::Int(v) => self.push(listpack::int_digits(v, &mut [0; 20])),
        }
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + Clone + '_ {
        let mut start = 0usize;
        self.ends.iter().map(move |&e| {
            let s = &self.data[start..e as usize];
            start = e as usize;
            s
        })
    }
}

impl RdbValue {
    /// Redis's TYPE name.
    pub fn type_name(&self) -> &str {
        match self {
            RdbValue::Str(_) => "string",
            RdbValue::List(_) | RdbValue::ListFlat(_) => "list",
            RdbValue::Set(_) => "set",
            RdbValue::ZSet(_) => "zset",
            RdbValue::Hash(_) | RdbValue::HashTtl(_) => "hash",
            RdbValue::Stream(_) => "stream",
            RdbValue::Module(m) => m.name(),
        }
    }
}

/// One field of a module value's opcode-tagged serialization.
#[derive(Clone, Debug, PartialEq)]
pub enum ModuleField {
    SInt(u64),
    UInt(u64),
    Float(f32),
    Double(f64),
    Str(Vec<u8>),
}

/// A module value: its 64-bit module type id (name + encoding version)
/// and its fields, uninterpreted.
#[derive(Clone, Debug, PartialEq)]
pub struct ModuleValue {
    pub module_id: u64,
    pub fields: Vec<ModuleField>,
    name: String,
}

impl ModuleValue {
    pub fn new(module_id: u64, fields: Vec<ModuleField>) -> ModuleValue {
        ModuleValue {
            module_id,
            fields,
            name: module_name(module_id).0,
        }
    }
    /// The module type's 9-character name (what TYPE reports).
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Decodes a module type id: (9-character name, encoding version).
pub fn module_name(id: u64) -> (String, u16) {
    const CHARSET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut name = String::with_capacity(9);
    let mut v = id >> 10;
    let mut chars = [0u8; 9];
    for c in chars.iter_mut().rev() {
        *c = CHARSET[(v & 63) as usize];
        v >>= 6;
    }
    for c in chars {
        name.push(c as char);
    }
    (name, (id & 1023) as u16)
}

/// One key of a dump.
#[derive(Clone, Debug, PartialEq)]
pub struct RdbEntry {
    pub db: usize,
    pub key: Vec<u8>,
    pub value: RdbValue,
    /// Absolute unix time in ms (EXPIRETIME_MS, or EXPIRETIME × 1000).
    pub expire_at_ms: Option<u64>,
    /// Seconds idle (IDLE opcode, written under an LRU maxmemory-policy).
    pub lru_idle: Option<u64>,
    /// LFU counter (FREQ opcode, written under an LFU maxmemory-policy).
    pub lfu_freq: Option<u8>,
}

impl RdbEntry {
    pub fn new(db: usize, key: impl Into<Vec<u8>>, value: RdbValue) -> RdbEntry {
        RdbEntry {
            db,
            key: key.into(),
            value,
            expire_at_ms: None,
            lru_idle: None,
            lfu_freq: None,
        }
    }

    /// Whether the key's expiry is at or before `now_ms`.
    pub fn expired_at(&self, now_ms: u64) -> bool {
        self.expire_at_ms.is_some_and(|t| t <= now_ms)
    }
}

pub(crate) fn corrupt(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::Corrupt, msg)
}

/// Serializes a value as Redis's DUMP does: type byte, value, RDB version
/// (u16 LE) and the CRC-64 of all that (u64 LE). Strings use LZF when it
/// pays, as with `rdbcompression yes`.
pub fn dump_payload(value: &RdbValue) -> Result<Vec<u8>, Error> {
    dump_payload_with(value, &WriteOptions::default())
}

/// [`dump_payload`] with the encodings and compression of `opts`.
pub fn dump_payload_with(value: &RdbValue, opts: &WriteOptions) -> Result<Vec<u8>, Error> {
    let mut out = writer::encode_value(value, opts)?;
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64::crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(out)
}

/// FUNCTION DUMP's payload, as Redis writes it: per library the FUNCTION2
/// opcode and its source, then the RDB version and the CRC-64.
pub fn functions_payload<'a>(codes: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for code in codes {
        out.push(opcodes::FUNCTION2);
        writer::put_string(&mut out, code, true);
    }
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64::crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The library sources of a FUNCTION DUMP payload, or Redis's error text
/// (without its code).
pub fn parse_functions_payload(payload: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    const BAD: &str = "DUMP payload version or checksum are wrong";
    if payload.len() < 10 {
        return Err(BAD.into());
    }
    let (body, footer) = payload.split_at(payload.len() - 10);
    let ver = u16::from_le_bytes([footer[0], footer[1]]);
    let stored = u64::from_le_bytes(footer[2..10].try_into().expect("8 bytes"));
    if ver > RDB_MAX_READ_VERSION || stored != crc64::crc64(0, &payload[..payload.len() - 8]) {
        return Err(BAD.into());
    }
    reader::parse_functions_body(body)
}

/// Parses a DUMP payload (from any Redis up to RDB 12), checking its
/// version and CRC-64.
pub fn parse_payload(payload: &[u8]) -> Result<RdbValue, Error> {
    if payload.len() < 11 {
        return Err(corrupt(
            "DUMP payload version or checksum are wrong: too short",
        ));
    }
    let (body, footer) = payload.split_at(payload.len() - 10);
    let ver = u16::from_le_bytes([footer[0], footer[1]]);
    if ver > RDB_MAX_READ_VERSION {
        return Err(corrupt(format!(
            "DUMP payload version or checksum are wrong: RDB version {ver} is newer than {RDB_MAX_READ_VERSION}"
        )));
    }
    let stored = u64::from_le_bytes(footer[2..10].try_into().unwrap());
    let computed = crc64::crc64(0, &payload[..payload.len() - 8]);
    if stored != computed {
        return Err(corrupt(format!(
            "DUMP payload version or checksum are wrong: CRC-64 {stored:016x}, computed {computed:016x}"
        )));
    }
    reader::parse_value_payload(body, ver as u32)
}
