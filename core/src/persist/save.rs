//! RDB snapshots of the engine: loading `dir/dbfilename` at open, SAVE,
//! BGSAVE (without fork), the `save` points, the final save at close, and
//! INFO persistence's `rdb_*` fields.
//!
//! - SAVE writes the whole keyspace while holding every shard's read lock:
//!   readers go on, writers wait until the file is complete (Redis's SAVE
//!   blocks the whole server).
//! - BGSAVE uses the point-in-time snapshot (`snapshot.rs`), shared with the
//!   AOF rewrite (one at a time, as Redis has one child): the cut takes every
//!   shard lock for an instant; then a thread writes each shard as it was at
//!   the cut. A writer about to change a key whose slot (1/1,024 of a
//!   database) is not yet written copies that slot first, so it waits for
//!   one slot copy (~0.1 ms with 1M keys), and the extra memory is bounded
//!   by the slot copies not yet written plus the shard being written: at
//!   most one copy of the dataset when writers touch every slot during the
//!   save, 1/16 of it when nobody writes (the saver's own copy).
//! - Both write a temp file in the same directory, fsync it, rename it over
//!   the dump and fsync the directory: a crash leaves the previous dump.
//! - Save points (`save "3600 1 300 100 60 10000"`): the background thread
//!   starts a BGSAVE when, for some point, at least `changes` writes happened
//!   and more than `seconds` passed since the last successful save; after a
//!   failure it waits 5 s between attempts (Redis's rules).
//! - `Db::close` with save points and a data directory saves once more, as
//!   Redis's SHUTDOWN does (also with `appendonly yes`).
//! - Loading drops keys whose expiry has passed (a master's rule); an AOF's
//!   RDB base keeps them (the AOF that follows decides).

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::client::ClientState;
use crate::commands::Ctx;
use crate::config::Config;
use crate::db::Engine;
use crate::error::{Error, ErrorKind};
use crate::persist::convert::{self, Limits};
use crate::persist::rdb::{self, RdbItem, RdbReader, RdbWriter, ReadOptions};
use crate::types::Value;

pub(crate) const BG_IN_PROGRESS: &str = "ERR Background save already in progress";
pub(crate) const BG_BUSY: &str = "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.";
pub(crate) const MISCONF: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";
/// Redis's `CONFIG_BGSAVE_RETRY_DELAY`: seconds between save-point
/// attempts after a failed one.
const RETRY_DELAY: u64 = 5;

struct State {
    in_progress: bool,
    scheduled: bool,
    started: Option<Instant>,
    abort: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
    /// Unix seconds of the last successful save (open counts as one).
    last_save: u64,
    last_bg_ok: bool,
    last_bg_time_sec: i64,
    /// Unix seconds of the last BGSAVE attempt.
    last_try: u64,
    saves: u64,
    /// `eng.dirty` as the last successful save captured it.
    dirty_saved: u64,
    /// `eng.dirty` at the running BGSAVE's cut.
    dirty_at_cut: u64,
    /// Finished BGSAVEs, for `Db::bgsave_wait`.
    generation: u64,
    last_error: Option<String>,
    loaded_keys: u64,
    loaded_expired: u64,
}

pub(crate) struct Rdb {
    dir: Option<PathBuf>,
    /// The last background save failed (mirrors `!State::last_bg_ok`).
    bg_failed: AtomicBool,
    st: Mutex<State>,
    done: Condvar,
}

/// What a load found.
#[derive(Default, Debug)]
pub(crate) struct LoadStats {
    pub keys: u64,
    pub expired: u64,
    /// Bytes of RDB data (where an old-style AOF's command tail starts).
    pub bytes: u64,
}

fn io_err(what: &std::path::Path, e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Io, format!("{}: {e}", what.display()))
}

impl Rdb {
    pub fn new(cfg: &Config, now_ms: u64) -> Rdb {
        Rdb {
            dir: cfg.dir.clone(),
            bg_failed: AtomicBool::new(false),
            st: Mutex::new(State {
                in_progress: false,
                scheduled: false,
                started: None,
                abort: Arc::new(AtomicBool::new(false)),
                handle: None,
                last_save: now_ms / 1000,
                last_bg_ok: true,
                last_bg_time_sec: -1,
                last_try: 0,
                saves: 0,
                dirty_saved: 0,
                dirty_at_cut: 0,
                generation: 0,
                last_error: None,
                loaded_keys: 0,
                loaded_expired: 0,
            }),
            done: Condvar::new(),
        }
    }

    /// `dir/dbfilename`, or None in memory.
    pub fn path(&self, eng: &Engine) -> Option<PathBuf> {
        let name = eng
            .params
            .get("dbfilename")
            .unwrap_or_else(|| "dump.rdb".into());
        self.dir.as_ref().map(|d| d.join(name))
    }

    pub fn in_progress(&self) -> bool {
        self.st.lock().in_progress
    }

    /// LASTSAVE.
    pub fn last_save(&self) -> u64 {
        self.st.lock().last_save
    }

    /// The error a write command gets while the last background save
    /// failed, with `stop-writes-on-bgsave-error yes` and save points
    /// configured (Redis's MISCONF). Hot path: one relaxed load.
    #[inline]
    pub fn write_denied(&self, eng: &Engine) -> Option<crate::reply::Reply> {
        if !self.bg_failed.load(Ordering::Relaxed) {
            return None;
        }
        self.write_denied_after_failure(eng)
    }

    #[cold]
    fn write_denied_after_failure(&self, eng: &Engine) -> Option<crate::reply::Reply> {
        let deny = eng.params.get("stop-writes-on-bgsave-error").as_deref() == Some("yes")
            && !save_points(eng).is_empty();
        deny.then(|| crate::reply::Reply::error(MISCONF))
    }

    /// At `Db::open` with `appendonly no`: loads the dump if there is one.
    pub fn load_at_open(&self, eng: &Engine) -> Result<(), Error> {
        let Some(path) = self.path(eng) else {
            return Ok(());
        };
        if !path.exists() {
            return Ok(());
        }
        let opts = ReadOptions {
            verify_checksum: eng.params.get("rdbchecksum").as_deref() != Some("no"),
            // elements go straight into the engine's list nodes
            flat_lists: true,
            ..Default::default()
        };
        let f = std::fs::File::open(&path).map_err(|e| io_err(&path, e))?;
        let len = f.metadata().map(|m| m.len()).ok();
        let rd = RdbReader::with_options(
            std::io::BufReader::with_capacity(1 << 16, f),
            path.display().to_string(),
            len,
            opts,
        )?;
        let stats = load(eng, rd, &path.display().to_string(), true)?;
        let mut st = self.st.lock();
        st.loaded_keys = stats.keys;
        st.loaded_expired = stats.expired;
        Ok(())
    }

    /// SAVE: writes the dump now, holding every shard's read lock.
    pub fn save_sync(&self, eng: &Engine) -> Result<(), String> {
        let Some(path) = self.path(eng) else {
            return Err("ERR SAVE needs a data directory (dir): this database is in memory".into());
        };
        if self.in_progress() {
            return Err(BG_IN_PROGRESS.into());
        }
        let opts = convert::write_options(&eng.params);
        let delay = key_delay(eng);
        let mut cl = ClientState::internal();
        let mut ctx = Ctx::new(eng, &mut cl);
        ctx.lock(Ctx::shard_mask_all(), false);
        let dirty = eng.dirty.load(Ordering::Relaxed);
        let libraries = eng.scripts.library_codes();
        let res = rdb::save_file(&path, opts, |w| {
            for code in &libraries {
                w.function(code)?;
            }
            for db in 0..eng.ks.ndbs {
                let (keys, expires) = ctx
                    .parts(db)
                    .fold((0, 0), |(k, e), (_, p)| (k + p.len(), e + p.expires_len()));
                if keys == 0 {
                    continue;
                }
                w.select_db(db, keys as u64, expires as u64)?;
                for (_, part) in ctx.parts(db) {
                    for e in part.entries() {
                        write_value(w, &e.key, &e.val, part.expire_of(&e.key))?;
                        if let Some(d) = delay {
                            std::thread::sleep(d);
                        }
                    }
                }
            }
            Ok(())
        });
        drop(ctx);
        match res {
            Ok(_) => {
                let mut st = self.st.lock();
                st.last_save = eng.clock.now_ms() / 1000;
                st.dirty_saved = dirty;
                st.saves += 1;
                st.last_bg_ok = true;
                self.bg_failed.store(false, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                eprintln!("emberkv: SAVE failed: {e}");
                Err(format!("ERR {e}"))
            }
        }
    }

    /// BGSAVE [SCHEDULE]. `in_exec`: the caller holds shard locks. Returns
    /// the status reply's text.
    pub fn bgsave(
        &self,
        eng: &Engine,
        schedule: bool,
        in_exec: bool,
    ) -> Result<&'static str, String> {
        if self.dir.is_none() {
            return Err(
                "ERR BGSAVE needs a data directory (dir): this database is in memory".into(),
            );
        }
        let mut st = self.st.lock();
        if st.in_progress {
            return Err(BG_IN_PROGRESS.into());
        }
        if in_exec || eng.snapshot.is_claimed() {
            if schedule || in_exec {
                st.scheduled = true;
                return Ok("Background saving scheduled");
            }
            return Err(BG_BUSY.into());
        }
        drop(st);
        self.start(eng)?;
        Ok("Background saving started")
    }

    /// Starts a background save: the cut, then a thread.
    fn start(&self, eng: &Engine) -> Result<(), String> {
        let Some(path) = self.path(eng) else {
            return Err("ERR BGSAVE needs a data directory (dir)".into());
        };
        let abort = {
            let mut st = self.st.lock();
            if st.in_progress {
                return Err(BG_IN_PROGRESS.into());
            }
            if !eng.snapshot.claim() {
                return Err(BG_BUSY.into());
            }
            if let Some(h) = st.handle.take() {
                let _ = h.join();
            }
            st.in_progress = true;
            st.scheduled = false;
            st.started = Some(Instant::now());
            st.last_try = eng.clock.now_ms() / 1000;
            st.abort = Arc::new(AtomicBool::new(false));
            st.abort.clone()
        };
        let Some(arc) = eng.arc() else {
            eng.snapshot.release();
            self.finish(eng, Err("the database is closing".into()));
            return Err("ERR the database is closing".into());
        };
        // the cut: every shard lock for an instant
        let mut counts = vec![(0u64, 0u64); eng.ks.ndbs];
        {
            let mut cl = ClientState::internal();
            let mut ctx = Ctx::new(eng, &mut cl);
            ctx.lock(Ctx::shard_mask_all(), false);
            for (db, c) in counts.iter_mut().enumerate() {
                for (_, p) in ctx.parts(db) {
                    c.0 += p.len() as u64;
                    c.1 += p.expires_len() as u64;
                }
            }
            self.st.lock().dirty_at_cut = eng.dirty.load(Ordering::Relaxed);
            eng.snapshot.begin(&ctx);
        }
        let opts = convert::write_options(&eng.params);
        let delay = key_delay(eng);
        let spawned = std::thread::Builder::new()
            .name("emberkv-bgsave".into())
            .spawn(move || {
                let res = write_snapshot(&arc, &path, opts, &counts, delay, &abort);
                arc.snapshot.end(&arc.ks);
                arc.snapshot.release();
                arc.rdb.finish(&arc, res);
            });
        match spawned {
            Ok(h) => {
                self.st.lock().handle = Some(h);
                Ok(())
            }
            Err(e) => {
                eng.snapshot.end(&eng.ks);
                eng.snapshot.release();
                let e = format!("ERR cannot start the background save thread: {e}");
                self.finish(eng, Err(e.clone()));
                Err(e)
            }
        }
    }

    fn finish(&self, eng: &Engine, res: Result<(), String>) {
        let mut st = self.st.lock();
        st.last_bg_time_sec = st.started.map_or(0, |s| s.elapsed().as_secs() as i64);
        st.in_progress = false;
        st.generation += 1;
        match res {
            Ok(()) => {
                st.last_bg_ok = true;
                self.bg_failed.store(false, Ordering::Relaxed);
                st.last_save = eng.clock.now_ms() / 1000;
                st.dirty_saved = st.dirty_at_cut;
                st.saves += 1;
                st.last_error = None;
            }
            Err(e) => {
                if !st.abort.load(Ordering::Relaxed) {
                    eprintln!("emberkv: background save failed: {e}");
                }
                st.last_bg_ok = false;
                self.bg_failed.store(true, Ordering::Relaxed);
                st.last_error = Some(e);
            }
        }
        self.done.notify_all();
    }

    /// `Db::bgsave`: starts a background save (waiting for one in progress
    /// or for an AOF rewrite to finish first) and waits for it.
    pub fn bgsave_and_wait(&self, eng: &Engine) -> Result<(), Error> {
        let seen = loop {
            let seen = {
                let mut st = self.st.lock();
                while st.in_progress {
                    self.done.wait(&mut st);
                }
                st.generation
            };
            match self.start(eng) {
                Ok(()) => break seen,
                Err(e) if e == BG_IN_PROGRESS || e == BG_BUSY => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => return Err(Error::new(ErrorKind::Io, e)),
            }
        };
        let mut st = self.st.lock();
        while st.generation <= seen {
            self.done.wait(&mut st);
        }
        if st.last_bg_ok {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::Io,
                format!(
                    "background save failed: {}",
                    st.last_error.clone().unwrap_or_default()
                ),
            ))
        }
    }

    /// Background thread: a scheduled BGSAVE, or one a save point asks for.
    pub fn cron(&self, eng: &Engine) {
        if self.dir.is_none() || eng.is_closed() {
            return;
        }
        let now = eng.clock.now_ms() / 1000;
        let due = {
            let st = self.st.lock();
            if st.in_progress || eng.snapshot.is_claimed() {
                return;
            }
            if st.scheduled {
                true
            } else {
                let changes = eng
                    .dirty
                    .load(Ordering::Relaxed)
                    .saturating_sub(st.dirty_saved);
                let retry_ok = st.last_bg_ok || now.saturating_sub(st.last_try) > RETRY_DELAY;
                retry_ok
                    && save_points(eng)
                        .iter()
                        .any(|&(secs, n)| changes >= n && now.saturating_sub(st.last_save) > secs)
            }
        };
        if due && let Err(e) = self.start(eng) {
            if e == BG_BUSY {
                return;
            }
            eprintln!("emberkv: background save: {e}");
        }
    }

    /// `Db::close`: stops a background save in progress, then saves once
    /// more when save points are configured (as Redis's SHUTDOWN).
    pub fn close(&self, eng: &Engine) -> Result<(), Error> {
        let h = {
            let mut st = self.st.lock();
            st.abort.store(true, Ordering::Relaxed);
            st.scheduled = false;
            st.handle.take()
        };
        if let Some(h) = h
            && h.thread().id() != std::thread::current().id()
        {
            let _ = h.join();
        }
        if self.dir.is_none() || save_points(eng).is_empty() {
            return Ok(());
        }
        self.save_sync(eng)
            .map_err(|e| Error::new(ErrorKind::Io, format!("final save at close failed: {e}")))
    }

    /// INFO persistence: the fields before the AOF's, named and ordered as
    /// Redis 7.0's.
    pub fn info(&self, eng: &Engine, out: &mut String) {
        use std::fmt::Write as _;
        let st = self.st.lock();
        let mut kv = |k: &str, v: &dyn std::fmt::Display| {
            let _ = write!(out, "{k}:{v}\r\n");
        };
        kv("loading", &(eng.is_loading() as u8));
        kv("async_loading", &0);
        kv("current_cow_peak", &0);
        kv("current_cow_size", &0);
        kv("current_cow_size_age", &0);
        kv("current_fork_perc", &"0.00");
        kv("current_save_keys_processed", &0);
        kv("current_save_keys_total", &0);
        kv(
            "rdb_changes_since_last_save",
            &eng.dirty
                .load(Ordering::Relaxed)
                .saturating_sub(st.dirty_saved),
        );
        kv("rdb_bgsave_in_progress", &(st.in_progress as u8));
        kv("rdb_last_save_time", &st.last_save);
        kv(
            "rdb_last_bgsave_status",
            &if st.last_bg_ok { "ok" } else { "err" },
        );
        kv("rdb_last_bgsave_time_sec", &st.last_bg_time_sec);
        let cur = st
            .started
            .filter(|_| st.in_progress)
            .map_or(-1, |s| s.elapsed().as_secs() as i64);
        kv("rdb_current_bgsave_time_sec", &cur);
        kv("rdb_saves", &st.saves);
        kv("rdb_last_cow_size", &0);
        kv("rdb_last_load_keys_expired", &st.loaded_expired);
        kv("rdb_last_load_keys_loaded", &st.loaded_keys);
    }
}

/// The `save` points: (seconds, changes).
pub(crate) fn save_points(eng: &Engine) -> Vec<(u64, u64)> {
    parse_save(&eng.params.get("save").unwrap_or_default()).unwrap_or_default()
}

/// Parses a `save` value as Redis 7.0 does: pairs of "seconds changes"
/// separated by single spaces, seconds ≥ 1, changes ≥ 0; "" = none.
pub(crate) fn parse_save(v: &str) -> Option<Vec<(u64, u64)>> {
    if v.is_empty() {
        return Some(Vec::new());
    }
    let words: Vec<&str> = v.split(' ').collect();
    if !words.len().is_multiple_of(2) {
        return None;
    }
    let num = |w: &str| crate::util::number::parse_i64(w.as_bytes());
    let mut out = Vec::new();
    for p in words.chunks(2) {
        let secs = num(p[0]).filter(|&s| s >= 1)?;
        let changes = num(p[1]).filter(|&c| c >= 0)?;
        out.push((secs as u64, changes as u64));
    }
    Some(out)
}

/// `rdb-key-save-delay` (microseconds slept per key written; a testing
/// knob, as in Redis).
fn key_delay(eng: &Engine) -> Option<Duration> {
    let us: i64 = eng
        .params
        .get("rdb-key-save-delay")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    (us > 0).then(|| Duration::from_micros(us as u64))
}

/// One key into the writer (strings without an intermediate copy).
pub(crate) fn write_value<W: std::io::Write>(
    w: &mut RdbWriter<W>,
    key: &[u8],
    val: &Value,
    expire: Option<u64>,
) -> Result<(), Error> {
    match val {
        Value::Str(s) => s.with_bytes(|b| w.string_entry(key, b, expire)),
        Value::List(l) => w.list_entry(key, l.iter().peekable(), expire),
        v => w.entry(key, &convert::from_value(v), expire),
    }
}

/// The BGSAVE thread's work: every shard as it was at the cut.
fn write_snapshot(
    eng: &Engine,
    path: &std::path::Path,
    opts: rdb::WriteOptions,
    counts: &[(u64, u64)],
    delay: Option<Duration>,
    abort: &AtomicBool,
) -> Result<(), String> {
    let mut selected = vec![false; counts.len()];
    let libraries = eng.scripts.library_codes();
    rdb::save_file(path, opts, |w| {
        for code in &libraries {
            w.function(code)?;
        }
        let io = |m: &'static str| Error::new(ErrorKind::Io, m);
        crate::persist::snapshot::for_each_part(eng, abort, io, |db, part| {
            if !selected[db] {
                w.select_db(db, counts[db].0, counts[db].1)?;
                selected[db] = true;
            } else {
                w.switch_db(db)?;
            }
            for (n, e) in part.entries().enumerate() {
                write_value(w, &e.key, &e.val, part.expire_of(&e.key))?;
                if let Some(d) = delay {
                    std::thread::sleep(d);
                }
                if n % 1024 == 1023 && abort.load(Ordering::Relaxed) {
                    return Err(io("aborted"));
                }
            }
            Ok(())
        })?;
        Ok(())
    })
    .map(|_| ())
    .map_err(|e| e.to_string())
}

/// Loads an RDB stream into the keyspace (empty or not: keys already
/// there are an error, as duplicates in a dump are). `master`: drop keys
/// whose expiry has passed (a dump), or keep them (an AOF's RDB base).
pub(crate) fn load<R: Read>(
    eng: &Engine,
    mut rd: RdbReader<R>,
    name: &str,
    master: bool,
) -> Result<LoadStats, Error> {
    let lim = Limits::from_params(&eng.params);
    let now = eng.clock.now_ms();
    let mut cl = ClientState::internal();
    let mut ctx = Ctx::new(eng, &mut cl);
    ctx.lock(Ctx::shard_mask_all(), true);
    let was_loading = eng.loading.swap(true, Ordering::AcqRel);
    let mut stats = LoadStats::default();
    let res = (|| {
        while let Some(item) = rd.next_item()? {
            match item {
                RdbItem::Entry(e) => {
                    if e.db >= eng.ks.ndbs {
                        return Err(Error::new(
                            ErrorKind::Config,
                            format!(
                                "{name}: key in database {} but the engine has {} databases (raise `databases`)",
                                e.db, eng.ks.ndbs
                            ),
                        ));
                    }
                    if master && e.expired_at(now) {
                        stats.expired += 1;
                        continue;
                    }
                    let Some(val) = convert::to_value(&e.key, e.value, &lim, now)
                        .map_err(|err| Error::new(err.kind(), format!("{name}: {err}")))?
                    else {
                        continue;
                    };
                    let (part, h) = ctx.part_mut(e.db, &e.key);
                    if part.insert(h, &e.key, val).is_some() {
                        return Err(Error::new(
                            ErrorKind::Corrupt,
                            format!(
                                "{name}: duplicate key '{}' in database {}",
                                String::from_utf8_lossy(&e.key),
                                e.db
                            ),
                        ));
                    }
                    if let Some(at) = e.expire_at_ms {
                        part.set_expire(&e.key, at);
                    }
                    stats.keys += 1;
                }
                RdbItem::Function(code) => {
                    if let Err(e) = eng.scripts.load_library(&code) {
                        let lib = library_name(&code);
                        return Err(Error::new(
                            ErrorKind::Corrupt,
                            format!("{name}: the function library '{lib}' does not load: {e}"),
                        ));
                    }
                }
                RdbItem::Aux { .. } | RdbItem::ModuleAux { .. } | RdbItem::ResizeDb { .. } => {}
            }
        }
        Ok(())
    })();
    if !was_loading {
        eng.loading.store(false, Ordering::Release);
    }
    res?;
    stats.bytes = rd.offset();
    Ok(stats)
}

/// `#!lua name=mylib …` → `mylib`.
fn library_name(code: &[u8]) -> String {
    let first = code.split(|&c| c == b'\n').next().unwrap_or_default();
    let first = String::from_utf8_lossy(first);
    first
        .split_whitespace()
        .find_map(|w| w.strip_prefix("name="))
        .unwrap_or("?")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_points_parse_as_redis() {
        assert_eq!(
            parse_save("3600 1 300 100 60 10000"),
            Some(vec![(3600, 1), (300, 100), (60, 10000)])
        );
        assert_eq!(parse_save(""), Some(vec![]));
        assert_eq!(parse_save("100 0"), Some(vec![(100, 0)]));
        for bad in [
            "abc", "100", "100 -1", "0 5", "100 5 ", " 100 5", "100  5", "1 x",
        ] {
            assert_eq!(parse_save(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn library_names() {
        assert_eq!(
            library_name(b"#!lua name=mylib\nredis.register_function('f', ...)"),
            "mylib"
        );
        assert_eq!(library_name(b"junk"), "?");
    }
}
