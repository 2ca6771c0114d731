//! The RDB writer: RDB version 10, the encodings Redis 7.0 itself chooses,
//! streamed through a buffer that feeds the CRC-64 as it is flushed.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::Path;

use super::stream::{self, NodeLimits, StreamValue};
use super::{
    ModuleField, RDB_VERSION, RdbEntry, RdbValue, intset, listpack, lzf, opcodes as op, types as ty,
};
use crate::error::{Error, ErrorKind};
use crate::util::number::{fmt_g17, parse_i64};

const FLUSH_AT: usize = 256 * 1024;
/// Redis's `packed_threshold`: larger list elements get a PLAIN node.
const PLAIN_THRESHOLD: usize = 1 << 30;
/// Quicklist node size limits for `list-max-listpack-size` -1 … -5.
const QL_LEVELS: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
const QL_SAFETY_LIMIT: usize = 8192;

/// What to write and how, with redis.conf's names and Redis 7.0's defaults.
#[derive(Clone, Debug)]
pub struct WriteOptions {
    /// `rdbcompression`: LZF for strings and blobs longer than 20 bytes.
    pub compression: bool,
    /// `rdbchecksum`: when off the trailer is 8 zero bytes.
    pub checksum: bool,
    /// AUX `redis-ver`.
    pub redis_ver: String,
    /// AUX `ctime` (unix seconds); `None` = now.
    pub ctime: Option<u64>,
    /// AUX `used-mem`.
    pub used_mem: u64,
    /// AUX `aof-base`: 1 inside an AOF base file.
    pub aof_base: bool,
    pub hash_max_listpack_entries: usize,
    pub hash_max_listpack_value: usize,
    pub zset_max_listpack_entries: usize,
    pub zset_max_listpack_value: usize,
    pub set_max_intset_entries: usize,
    /// `list-max-listpack-size`: negative = node byte limit (-2 = 8 KiB),
    /// positive = entries per node.
    pub list_max_listpack_size: i64,
    pub stream_node_max_bytes: usize,
    pub stream_node_max_entries: usize,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            compression: true,
            checksum: true,
            redis_ver: crate::REDIS_VERSION.to_string(),
            ctime: None,
            used_mem: 0,
            aof_base: false,
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            set_max_intset_entries: 512,
            list_max_listpack_size: -2,
            stream_node_max_bytes: 4096,
            stream_node_max_entries: 100,
        }
    }
}

fn unsupported(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::Unsupported, msg)
}

pub(super) fn put_len(out: &mut Vec<u8>, n: u64) {
    if n < 64 {
        out.push(n as u8);
    } else if n < 16384 {
        out.push(0x40 | (n >> 8) as u8);
        out.push(n as u8);
    } else if n <= u32::MAX as u64 {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// An rdb-string as Redis's `rdbSaveRawString` writes it: INT8/16/32 when
/// the text is a canonical integer of at most 11 bytes that fits, LZF when
/// compression is on, the string is over 20 bytes and LZF saves ≥ 4 bytes.
pub(super) fn put_string(out: &mut Vec<u8>, s: &[u8], compress: bool) {
    if s.len() <= 11
        && let Some(v) = parse_i64(s)
    {
        if let Ok(v) = i8::try_from(v) {
            out.push(0xC0);
            out.push(v as u8);
            return;
        }
        if let Ok(v) = i16::try_from(v) {
            out.push(0xC1);
            out.extend_from_slice(&v.to_le_bytes());
            return;
        }
        if let Ok(v) = i32::try_from(v) {
            out.push(0xC2);
            out.extend_from_slice(&v.to_le_bytes());
            return;
        }
    }
    if compress
        && s.len() > 20
        && let Some(c) = lzf::compress(s, s.len() - 4)
    {
        out.push(0xC3);
        put_len(out, c.len() as u64);
        put_len(out, s.len() as u64);
        out.extend_from_slice(&c);
        return;
    }
    put_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// The type byte Redis 7.0 would choose for this value.
fn choose_type(v: &RdbValue, o: &WriteOptions) -> Result<u8, Error> {
    Ok(match v {
        RdbValue::Str(_) => ty::STRING,
        RdbValue::List(_) | RdbValue::ListFlat(_) => ty::LIST_QUICKLIST_2,
        RdbValue::Set(m) => {
            if m.len() <= o.set_max_intset_entries && m.iter().all(|x| parse_i64(x).is_some()) {
                ty::SET_INTSET
            } else {
                ty::SET
            }
        }
        RdbValue::ZSet(z) => {
            if z.len() <= o.zset_max_listpack_entries
                && z.iter().all(|(m, _)| m.len() <= o.zset_max_listpack_value)
            {
                ty::ZSET_LISTPACK
            } else {
                ty::ZSET_2
            }
        }
        RdbValue::Hash(h) => {
            if h.len() <= o.hash_max_listpack_entries
                && h.iter().all(|(f, v)| {
                    f.len() <= o.hash_max_listpack_value && v.len() <= o.hash_max_listpack_value
                })
            {
                ty::HASH_LISTPACK
            } else {
                ty::HASH
            }
        }
        RdbValue::HashTtl(h) => {
            if h.iter().any(|(_, _, e)| e.is_some()) {
                return Err(unsupported(
                    "hash fields with their own TTL cannot be written in RDB version 10",
                ));
            }
            ty::HASH
        }
        RdbValue::Stream(_) => ty::STREAM_LISTPACKS_2,
        RdbValue::Module(_) => ty::MODULE_2,
    })
}

fn ql_node_allows(fill: i64, node_bytes: usize, count: usize, sz: usize) -> bool {
    let overhead = if sz < 254 { 1 } else { 5 }
        + if sz < 64 {
            1
        } else if sz < 16384 {
            2
        } else {
            5
        };
    let new_sz = node_bytes + sz + overhead;
    if fill < 0 {
        let lvl = (-fill - 1) as usize;
        if lvl < QL_LEVELS.len() {
            return new_sz <= QL_LEVELS[lvl];
        }
    }
    new_sz <= QL_SAFETY_LIMIT && (count as i64) < fill
}

fn put_list(out: &mut Vec<u8>, items: &[Vec<u8>], o: &WriteOptions) {
    put_list_iter(out, items.iter().map(|v| v.as_slice()), o)
}

fn put_list_iter<'a>(out: &mut Vec<u8>, items: impl Iterator<Item = &'a [u8]>, o: &WriteOptions) {
    // Nodes: (is_plain, blob).
    let mut nodes: Vec<(bool, Vec<u8>)> = Vec::new();
    let mut cur: Option<listpack::Builder> = None;
    for it in items {
        if it.len() >= PLAIN_THRESHOLD {
            if let Some(b) = cur.take() {
                nodes.push((false, b.finish()));
            }
            nodes.push((true, it.to_vec()));
            continue;
        }
        if let Some(b) = &cur
            && !ql_node_allows(o.list_max_listpack_size, b.bytes(), b.len(), it.len())
        {
            nodes.push((false, cur.take().unwrap().finish()));
        }
        cur.get_or_insert_with(listpack::Builder::new).push(it);
    }
    if let Some(b) = cur.take() {
        nodes.push((false, b.finish()));
    }
    put_len(out, nodes.len() as u64);
    for (plain, blob) in nodes {
        put_len(out, if plain { 1 } else { 2 });
        put_string(out, &blob, o.compression);
    }
}

fn put_stream(out: &mut Vec<u8>, s: &StreamValue, o: &WriteOptions) {
    let nodes = stream::encode_nodes(
        &s.entries,
        NodeLimits {
            max_bytes: o.stream_node_max_bytes,
            max_entries: o.stream_node_max_entries,
        },
    );
    put_len(out, nodes.len() as u64);
    for (master, lp) in &nodes {
        put_string(out, &master.to_be_bytes(), o.compression);
        put_string(out, lp, o.compression);
    }
    put_len(out, s.entries.len() as u64);
    put_len(out, s.last_id.ms);
    put_len(out, s.last_id.seq);
    put_len(out, s.first_id.ms);
    put_len(out, s.first_id.seq);
    put_len(out, s.max_deleted_id.ms);
    put_len(out, s.max_deleted_id.seq);
    put_len(out, s.entries_added);
    put_len(out, s.groups.len() as u64);
    for g in &s.groups {
        put_string(out, &g.name, o.compression);
        put_len(out, g.last_delivered_id.ms);
        put_len(out, g.last_delivered_id.seq);
        put_len(out, g.entries_read.unwrap_or(u64::MAX));
        put_len(out, g.pel.len() as u64);
        for p in &g.pel {
            out.extend_from_slice(&p.id.to_be_bytes());
            out.extend_from_slice(&p.delivery_time_ms.to_le_bytes());
            put_len(out, p.delivery_count);
        }
        put_len(out, g.consumers.len() as u64);
        for c in &g.consumers {
            put_string(out, &c.name, o.compression);
            out.extend_from_slice(&c.seen_time_ms.to_le_bytes());
            put_len(out, c.pel.len() as u64);
            for id in &c.pel {
                out.extend_from_slice(&id.to_be_bytes());
            }
        }
    }
}

/// Writes the value body for type byte `t` (from `choose_type`).
fn put_value(out: &mut Vec<u8>, v: &RdbValue, t: u8, o: &WriteOptions) {
    let c = o.compression;
    match v {
        RdbValue::Str(s) => put_string(out, s, c),
        RdbValue::List(items) => put_list(out, items, o),
        RdbValue::ListFlat(l) => put_list_iter(out, l.iter(), o),
        RdbValue::Set(m) => {
            if t == ty::SET_INTSET {
                let mut ints: Vec<i64> = m.iter().filter_map(|x| parse_i64(x)).collect();
                ints.sort_unstable();
                ints.dedup();
                put_string(out, &intset::build(&ints), c);
            } else {
                put_len(out, m.len() as u64);
                for x in m {
                    put_string(out, x, c);
                }
            }
        }
        RdbValue::ZSet(z) => {
            if t == ty::ZSET_LISTPACK {
                let mut sorted: Vec<&(Vec<u8>, f64)> = z.iter().collect();
                sorted.sort_by(|a, b| {
                    a.1.partial_cmp(&b.1)
                        .unwrap_or(std::cmp::Ordering::Equal)
                        .then_with(|| a.0.cmp(&b.0))
                });
                let mut b = listpack::Builder::new();
                for (m, s) in sorted {
                    b.push(m);
                    b.push(fmt_g17(*s).as_bytes());
                }
                put_string(out, &b.finish(), c);
            } else {
                // Redis walks its skiplist from the tail: highest score first.
                put_len(out, z.len() as u64);
                for (m, s) in z.iter().rev() {
                    put_string(out, m, c);
                    out.extend_from_slice(&s.to_le_bytes());
                }
            }
        }
        RdbValue::Hash(h) => {
            if t == ty::HASH_LISTPACK {
                let mut b = listpack::Builder::new();
                for (f, v) in h {
                    b.push(f);
                    b.push(v);
                }
                put_string(out, &b.finish(), c);
            } else {
                put_len(out, h.len() as u64);
                for (f, v) in h {
                    put_string(out, f, c);
                    put_string(out, v, c);
                }
            }
        }
        RdbValue::HashTtl(h) => {
            put_len(out, h.len() as u64);
            for (f, v, _) in h {
                put_string(out, f, c);
                put_string(out, v, c);
            }
        }
        RdbValue::Stream(s) => put_stream(out, s, o),
        RdbValue::Module(m) => {
            put_len(out, m.module_id);
            for f in &m.fields {
                match f {
                    ModuleField::SInt(v) => {
                        put_len(out, 1);
                        put_len(out, *v);
                    }
                    ModuleField::UInt(v) => {
                        put_len(out, 2);
                        put_len(out, *v);
                    }
                    ModuleField::Float(v) => {
                        put_len(out, 3);
                        out.extend_from_slice(&v.to_le_bytes());
                    }
                    ModuleField::Double(v) => {
                        put_len(out, 4);
                        out.extend_from_slice(&v.to_le_bytes());
                    }
                    ModuleField::Str(s) => {
                        put_len(out, 5);
                        put_string(out, s, c);
                    }
                }
            }
            put_len(out, 0);
        }
    }
}

/// An empty collection: Redis skips such keys on load (and redis-check-rdb
/// reports them), so the writer never emits one.
fn is_empty_collection(v: &RdbValue) -> bool {
    match v {
        RdbValue::List(x) | RdbValue::Set(x) => x.is_empty(),
        RdbValue::ListFlat(x) => x.is_empty(),
        RdbValue::ZSet(x) => x.is_empty(),
        RdbValue::Hash(x) => x.is_empty(),
        RdbValue::HashTtl(x) => x.is_empty(),
        _ => false,
    }
}

fn check_value(v: &RdbValue) -> Result<(), Error> {
    if is_empty_collection(v) {
        return Err(unsupported(
            "an empty collection has no RDB form (Redis drops such keys)",
        ));
    }
    match v {
        RdbValue::ZSet(z) if z.iter().any(|(_, s)| s.is_nan()) => {
            Err(unsupported("a sorted set score is NaN"))
        }
        _ => Ok(()),
    }
}

/// Type byte + value, as inside a file or a DUMP payload.
pub(super) fn encode_value(v: &RdbValue, o: &WriteOptions) -> Result<Vec<u8>, Error> {
    check_value(v)?;
    let t = choose_type(v, o)?;
    let mut out = vec![t];
    put_value(&mut out, v, t, o);
    Ok(out)
}

/// A streaming RDB writer. `new` writes the header and the aux fields;
/// then any `aux`/`function` calls, then per database `select_db` and its
/// entries; `finish` writes EOF and the CRC-64 and flushes.
pub struct RdbWriter<W: Write> {
    w: W,
    buf: Vec<u8>,
    crc: u64,
    written: u64,
    opts: WriteOptions,
    db: Option<usize>,
}

impl<W: Write> RdbWriter<W> {
    pub fn new(w: W) -> RdbWriter<W> {
        RdbWriter::with_options(w, WriteOptions::default())
    }

    pub fn with_options(w: W, opts: WriteOptions) -> RdbWriter<W> {
        let mut me = RdbWriter {
            w,
            buf: Vec::with_capacity(FLUSH_AT + 4096),
            crc: 0,
            written: 0,
            opts,
            db: None,
        };
        me.buf
            .extend_from_slice(format!("REDIS{RDB_VERSION:04}").as_bytes());
        let ctime = me.opts.ctime.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        });
        let ver = me.opts.redis_ver.clone();
        me.put_aux(b"redis-ver", ver.as_bytes());
        me.put_aux(b"redis-bits", b"64");
        me.put_aux(b"ctime", ctime.to_string().as_bytes());
        let mem = me.opts.used_mem.to_string();
        me.put_aux(b"used-mem", mem.as_bytes());
        let base: &[u8] = if me.opts.aof_base { b"1" } else { b"0" };
        me.put_aux(b"aof-base", base);
        me
    }

    fn put_aux(&mut self, key: &[u8], value: &[u8]) {
        self.buf.push(op::AUX);
        put_string(&mut self.buf, key, self.opts.compression);
        put_string(&mut self.buf, value, self.opts.compression);
    }

    fn flush_buf(&mut self) -> Result<(), Error> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.crc = crc64::crc64(self.crc, &self.buf);
        self.w.write_all(&self.buf)?;
        self.written += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    fn maybe_flush(&mut self) -> Result<(), Error> {
        if self.buf.len() >= FLUSH_AT {
            self.flush_buf()?;
        }
        Ok(())
    }

    /// Bytes produced so far (written or buffered).
    pub fn bytes_written(&self) -> u64 {
        self.written + self.buf.len() as u64
    }

    /// An extra AUX field (Redis loaders ignore unknown ones).
    pub fn aux(&mut self, key: &[u8], value: &[u8]) -> Result<(), Error> {
        self.put_aux(key, value);
        self.maybe_flush()
    }

    /// A function library (FUNCTION2 opcode): its full source code.
    pub fn function(&mut self, code: &[u8]) -> Result<(), Error> {
        self.buf.push(op::FUNCTION2);
        put_string(&mut self.buf, code, self.opts.compression);
        self.maybe_flush()
    }

    /// Starts database `db`: SELECTDB, then RESIZEDB with the key and
    /// expiry counts (hints for the loader's table sizes).
    pub fn select_db(&mut self, db: usize, keys: u64, expires: u64) -> Result<(), Error> {
        self.buf.push(op::SELECTDB);
        put_len(&mut self.buf, db as u64);
        self.buf.push(op::RESIZEDB);
        put_len(&mut self.buf, keys);
        put_len(&mut self.buf, expires);
        self.db = Some(db);
        self.maybe_flush()
    }

    /// One key in the current database. Empty collections are skipped, as
    /// Redis skips them on load.
    pub fn entry(
        &mut self,
        key: &[u8],
        value: &RdbValue,
        expire_at_ms: Option<u64>,
    ) -> Result<(), Error> {
        self.entry_with(key, value, expire_at_ms, None, None)
    }

    /// One key with the LRU idle time / LFU counter Redis writes under an
    /// LRU / LFU `maxmemory-policy`.
    pub fn entry_with(
        &mut self,
        key: &[u8],
        value: &RdbValue,
        expire_at_ms: Option<u64>,
        lru_idle: Option<u64>,
        lfu_freq: Option<u8>,
    ) -> Result<(), Error> {
        if is_empty_collection(value) {
            return Ok(()); // what Redis would do with it on load
        }
        check_value(value)?;
        let t = choose_type(value, &self.opts)?;
        if let Some(ms) = expire_at_ms {
            self.buf.push(op::EXPIRETIME_MS);
            self.buf.extend_from_slice(&ms.to_le_bytes());
        }
        if let Some(idle) = lru_idle {
            self.buf.push(op::IDLE);
            put_len(&mut self.buf, idle);
        }
        if let Some(f) = lfu_freq {
            self.buf.push(op::FREQ);
            self.buf.push(f);
        }
        self.buf.push(t);
        put_string(&mut self.buf, key, self.opts.compression);
        put_value(&mut self.buf, value, t, &self.opts);
        self.maybe_flush()
    }

    /// A string key straight from its bytes (no [`RdbValue`] built).
    pub fn string_entry(
        &mut self,
        key: &[u8],
        value: &[u8],
        expire_at_ms: Option<u64>,
    ) -> Result<(), Error> {
        if let Some(ms) = expire_at_ms {
            self.buf.push(op::EXPIRETIME_MS);
            self.buf.extend_from_slice(&ms.to_le_bytes());
        }
        self.buf.push(ty::STRING);
        put_string(&mut self.buf, key, self.opts.compression);
        put_string(&mut self.buf, value, self.opts.compression);
        self.maybe_flush()
    }

    /// A list key straight from its elements, head to tail (no
    /// [`RdbValue`] built). An empty list is skipped.
    pub fn list_entry<'a>(
        &mut self,
        key: &[u8],
        mut items: std::iter::Peekable<impl Iterator<Item = &'a [u8]>>,
        expire_at_ms: Option<u64>,
    ) -> Result<(), Error> {
        if items.peek().is_none() {
            return Ok(());
        }
        if let Some(ms) = expire_at_ms {
            self.buf.push(op::EXPIRETIME_MS);
            self.buf.extend_from_slice(&ms.to_le_bytes());
        }
        self.buf.push(ty::LIST_QUICKLIST_2);
        put_string(&mut self.buf, key, self.opts.compression);
        put_list_iter(&mut self.buf, items, &self.opts);
        self.maybe_flush()
    }

    /// Back to a database already started with `select_db`: SELECTDB only.
    pub fn switch_db(&mut self, db: usize) -> Result<(), Error> {
        if self.db != Some(db) {
            self.buf.push(op::SELECTDB);
            put_len(&mut self.buf, db as u64);
            self.db = Some(db);
        }
        self.maybe_flush()
    }

    /// An entry, switching database (SELECTDB without RESIZEDB) when its
    /// `db` differs from the current one.
    pub fn write_entry(&mut self, e: &RdbEntry) -> Result<(), Error> {
        if self.db != Some(e.db) {
            self.buf.push(op::SELECTDB);
            put_len(&mut self.buf, e.db as u64);
            self.db = Some(e.db);
        }
        self.entry_with(&e.key, &e.value, e.expire_at_ms, e.lru_idle, e.lfu_freq)
    }

    /// EOF and the CRC-64 trailer; flushes and returns the sink.
    pub fn finish(mut self) -> Result<W, Error> {
        self.buf.push(op::EOF);
        self.flush_buf()?;
        let crc = if self.opts.checksum { self.crc } else { 0 };
        self.w.write_all(&crc.to_le_bytes())?;
        self.written += 8;
        self.w.flush()?;
        Ok(self.w)
    }
}

/// Writes a dump to `path` atomically: a temp file in the same directory,
/// fsync, rename over `path`, fsync of the directory. A crash at any point
/// leaves the previous file intact. `fill` writes everything after the
/// header (functions, databases, entries).
pub fn save_file(
    path: impl AsRef<Path>,
    opts: WriteOptions,
    fill: impl FnOnce(&mut RdbWriter<BufWriter<File>>) -> Result<(), Error>,
) -> Result<u64, Error> {
    let path = path.as_ref();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let tmp = dir.join(format!("temp-{}-{}.rdb", std::process::id(), unique()));
    let io = |e: std::io::Error, what: &Path| {
        Error::new(ErrorKind::Io, format!("{}: {e}", what.display()))
    };
    let result = (|| {
        let f = File::create(&tmp).map_err(|e| io(e, &tmp))?;
        let mut w = RdbWriter::with_options(BufWriter::with_capacity(1 << 16, f), opts);
        fill(&mut w)?;
        let size = w.bytes_written() + 9;
        let f = w
            .finish()?
            .into_inner()
            .map_err(|e| io(e.into_error(), &tmp))?;
        f.sync_all().map_err(|e| io(e, &tmp))?;
        drop(f);
        fs::rename(&tmp, path).map_err(|e| io(e, path))?;
        if let Ok(d) = File::open(&dir) {
            d.sync_all().map_err(|e| io(e, &dir))?;
        }
        Ok(size)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}
