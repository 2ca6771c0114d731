//! AOF rewrite (BGREWRITEAOF, the automatic rewrite, `appendonly yes` at
//! runtime): a new base built in the background from a point-in-time view
//! while writes go on.
//!
//! The sequence, crash-safe at every step (a crash leaves a manifest that
//! lists a complete chain of files):
//! 1. create the next incremental file and persist a manifest that lists it
//!    after the current files (it is empty, so nothing changes on load);
//! 2. the cut, under every shard lock for an instant: the log switches to the
//!    new file at its current end, and the snapshot epoch starts;
//! 3. a background thread writes the snapshot as commands to a temp file,
//!    fsyncs it and renames it to the next base name;
//! 4. a manifest listing the new base and the new increment (old files as
//!    history) replaces the old one atomically; then the old files are
//!    deleted and the manifest rewritten without them.
//!
//! `Mode::Enable` (`appendonly yes` at runtime) writes no manifest until the
//! base is complete, as Redis does; `Mode::BaseOnly` (BGREWRITEAOF with the
//! log off) writes a base and a manifest listing only it.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::manifest::{self, FileInfo, FileType, Manifest};
use super::writer::Target;
use super::{
    delete_files, encode_command, open_append, persist_manifest, sync_dir, with_all_shards,
};
use crate::config::Tun;
use crate::db::Engine;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The log is on: a new base plus a new increment.
    Rewrite,
    /// `appendonly yes` at runtime: the log starts at the cut.
    Enable,
    /// The log is off: only a base (what Redis 7.0 does too).
    BaseOnly,
}

pub(crate) const IN_PROGRESS: &str =
    "ERR Background append only file rewriting already in progress";

/// A background save holds the snapshot: the rewrite has to wait (Redis
/// schedules it, as when another child process is active).
pub(crate) const SNAPSHOT_BUSY: &str = "ERR a background save is in progress";

struct Plan {
    mode: Mode,
    aofdir: PathBuf,
    prefix: String,
    base_seq: u64,
    incr: Option<FileInfo>,
    tmp: PathBuf,
    /// `aof-use-rdb-preamble yes`: the base is an RDB file (`*.base.rdb`).
    rdb: bool,
}

/// Starts a rewrite in the background. The caller holds no shard lock.
pub(crate) fn start(eng: &Engine, mode: Mode) -> Result<(), String> {
    let aof = &eng.aof;
    let abort = {
        let mut c = aof.rw.lock();
        if c.in_progress {
            return Err(IN_PROGRESS.into());
        }
        if let Some(h) = c.handle.take() {
            let _ = h.join(); // finished: it cleared in_progress
        }
        if !eng.snapshot.claim() {
            return Err(SNAPSHOT_BUSY.into());
        }
        c.in_progress = true;
        c.started = Some(Instant::now());
        c.abort = Arc::new(AtomicBool::new(false));
        c.abort.clone()
    };
    let fail = |e: String| {
        eng.snapshot.release();
        finish(eng, Err(e.clone()));
        Err(e)
    };
    let (plan, target) = match prepare(eng, mode) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    if mode == Mode::Enable
        && let Err(e) = aof.start_flusher(None)
    {
        let _ = std::fs::remove_file(plan.aofdir.join(&plan.incr.as_ref().expect("enable").name));
        return fail(e.to_string());
    }
    with_all_shards(eng, |ctx| {
        if let Some(t) = target {
            aof.log.switch_at_end(Some(t));
        }
        if mode == Mode::Enable {
            aof.set_on(true);
        }
        eng.snapshot.begin(ctx);
    });
    let Some(arc) = eng.arc() else {
        eng.snapshot.end(&eng.ks);
        return fail("the database is closing".into());
    };
    let spawned = std::thread::Builder::new()
        .name("emberkv-aof-rewrite".into())
        .spawn(move || run(&arc, plan, &abort));
    match spawned {
        Ok(h) => {
            aof.rw.lock().handle = Some(h);
            Ok(())
        }
        Err(e) => {
            eng.snapshot.end(&eng.ks);
            fail(format!("cannot start the rewrite thread: {e}"))
        }
    }
}

/// Step 1: names, the new increment, the manifest that lists it.
fn prepare(eng: &Engine, mode: Mode) -> Result<(Plan, Option<Target>), String> {
    let mut files = eng.aof.files.lock();
    let Some(aofdir) = files.aofdir() else {
        return Err(
            "ERR the append only file needs a data directory (dir): this database is in memory"
                .into(),
        );
    };
    std::fs::create_dir_all(&aofdir).map_err(|e| format!("{}: {e}", aofdir.display()))?;
    let prefix = files.prefix.clone();
    if mode != Mode::Rewrite {
        // the log is off: the manifest on disk (if any) gives the sequence
        // numbers and the files to retire
        let mpath = aofdir.join(manifest::manifest_name(&prefix));
        files.manifest = match std::fs::read(&mpath) {
            Ok(text) => {
                Manifest::parse(&text, &mpath.display().to_string()).map_err(|e| e.to_string())?
            }
            Err(_) => Manifest::default(),
        };
    }
    let m = files.manifest.clone();
    let base_seq = m.base_seq() + 1;
    let mut target = None;
    let mut incr = None;
    if mode != Mode::BaseOnly {
        let seq = m.incr_seq() + 1;
        let name = manifest::incr_name(&prefix, seq);
        let path = aofdir.join(&name);
        let _ = std::fs::remove_file(&path); // a leftover that no manifest lists
        target = Some(open_append(&path).map_err(|e| e.to_string())?);
        sync_dir(&aofdir).map_err(|e| e.to_string())?;
        incr = Some(FileInfo {
            name,
            seq,
            kind: FileType::Incr,
        });
    }
    if mode == Mode::Rewrite {
        let mut m1 = m;
        m1.incrs
            .push(incr.clone().expect("rewrite has an increment"));
        persist_manifest(&aofdir, &prefix, &m1).map_err(|e| e.to_string())?;
        files.manifest = m1;
    }
    let tmp = aofdir.join(format!("temp-rewriteaof-bg-{}.aof", std::process::id()));
    Ok((
        Plan {
            mode,
            aofdir,
            prefix,
            base_seq,
            incr,
            tmp,
            rdb: eng.params.get("aof-use-rdb-preamble").as_deref() != Some("no"),
        },
        target,
    ))
}

fn run(eng: &Arc<Engine>, plan: Plan, abort: &AtomicBool) {
    let res = write_base(eng, &plan, abort);
    eng.snapshot.end(&eng.ks);
    eng.snapshot.release();
    let res = res.and_then(|size| install(eng, &plan, size));
    if res.is_err() {
        let _ = std::fs::remove_file(&plan.tmp);
        if plan.mode == Mode::Enable {
            // the log never became a valid AOF: stop it again
            with_all_shards(eng, |_| {
                eng.aof.set_on(false);
                eng.aof.log.switch_at_end(None);
            });
            let _ = eng.aof.stop_flusher();
            if let Some(i) = &plan.incr {
                let _ = std::fs::remove_file(plan.aofdir.join(&i.name));
            }
        }
    }
    finish(eng, res);
}

/// Records the outcome and wakes `Db::rewrite_aof` waiters.
fn finish(eng: &Engine, res: Result<(), String>) {
    let mut c = eng.aof.rw.lock();
    let secs = c.started.map_or(0, |s| s.elapsed().as_secs() as i64);
    c.in_progress = false;
    c.last_time_sec = secs;
    c.generation += 1;
    match res {
        Ok(()) => {
            c.last_ok = true;
            c.rewrites += 1;
            c.consecutive_failures = 0;
            c.last_error = None;
        }
        Err(e) => {
            if !c.abort.load(Ordering::Relaxed) {
                eprintln!("emberkv: background AOF rewrite failed: {e}");
            }
            c.last_ok = false;
            c.consecutive_failures += 1;
            c.last_error = Some(e);
        }
    }
    eng.aof.rw_done.notify_all();
}

/// Step 3: the snapshot as an RDB file (`aof-use-rdb-preamble yes`, as
/// Redis 7 writes it: AUX `aof-base` 1, keys already expired kept), in a
/// temp file, fsynced.
fn write_rdb_base(eng: &Engine, plan: &Plan, abort: &AtomicBool) -> Result<u64, String> {
    use crate::persist::rdb::RdbWriter;
    let ioe = |e: std::io::Error| format!("{}: {e}", plan.tmp.display());
    let f = File::create(&plan.tmp).map_err(ioe)?;
    let mut opts = crate::persist::convert::write_options(&eng.params);
    opts.aof_base = true;
    let mut w = RdbWriter::with_options(BufWriter::with_capacity(1 << 20, f), opts);
    let s = |e: crate::error::Error| e.to_string();
    for code in eng.scripts.library_codes() {
        w.function(&code).map_err(s)?;
    }
    crate::persist::snapshot::for_each_part(
        eng,
        abort,
        |m| m.to_string(),
        |db, part| {
            w.switch_db(db).map_err(s)?;
            for (n, e) in part.entries().enumerate() {
                crate::persist::save::write_value(&mut w, &e.key, &e.val, part.expire_of(&e.key))
                    .map_err(s)?;
                if n % 1024 == 1023 && abort.load(Ordering::Relaxed) {
                    return Err("aborted".into());
                }
            }
            Ok(())
        },
    )?;
    let size = w.bytes_written() + 9;
    let f = w
        .finish()
        .map_err(s)?
        .into_inner()
        .map_err(|e| ioe(e.into_error()))?;
    f.sync_all().map_err(ioe)?;
    Ok(size)
}

/// Step 3: the snapshot as commands, in a temp file, fsynced.
fn write_base(eng: &Engine, plan: &Plan, abort: &AtomicBool) -> Result<u64, String> {
    if plan.rdb {
        return write_rdb_base(eng, plan, abort);
    }
    let ioe = |e: std::io::Error| format!("{}: {e}", plan.tmp.display());
    let f = File::create(&plan.tmp).map_err(ioe)?;
    let mut w = BufWriter::with_capacity(1 << 20, f);
    let mut buf = Vec::with_capacity(1 << 16);
    let mut total = 0u64;
    if eng.params.tun(Tun::AofTimestampEnabled) != 0 {
        buf.extend_from_slice(format!("#TS:{}\r\n", eng.clock.now_ms() / 1000).as_bytes());
    }
    for code in eng.scripts.library_codes() {
        encode_command(&mut buf, &[&b"FUNCTION"[..], b"LOAD", &code]);
    }
    let mut cur_db = None;
    crate::persist::snapshot::for_each_part(
        eng,
        abort,
        |m| m.to_string(),
        |db, part| {
            if cur_db != Some(db) {
                encode_command(&mut buf, &[&b"SELECT"[..], db.to_string().as_bytes()]);
                cur_db = Some(db);
            }
            for (n, e) in part.entries().enumerate() {
                e.val
                    .rebuild_commands(&e.key, &mut |argv| encode_command(&mut buf, argv));
                if let Some(at) = part.expire_of(&e.key) {
                    encode_command(
                        &mut buf,
                        &[&b"PEXPIREAT"[..], &e.key, at.to_string().as_bytes()],
                    );
                }
                if buf.len() >= 1 << 16 {
                    w.write_all(&buf).map_err(ioe)?;
                    total += buf.len() as u64;
                    buf.clear();
                    if n % 256 == 0 && abort.load(Ordering::Relaxed) {
                        return Err("aborted".into());
                    }
                }
            }
            Ok(())
        },
    )?;
    w.write_all(&buf).map_err(ioe)?;
    total += buf.len() as u64;
    let f = w.into_inner().map_err(|e| ioe(e.into_error()))?;
    f.sync_all().map_err(ioe)?;
    Ok(total)
}

/// Step 4: the new base in place, the manifest switched, old files gone.
fn install(eng: &Engine, plan: &Plan, base_size: u64) -> Result<(), String> {
    let s = |e: crate::error::Error| e.to_string();
    let base_name = manifest::base_name(&plan.prefix, plan.base_seq, plan.rdb);
    let base_path = plan.aofdir.join(&base_name);
    std::fs::rename(&plan.tmp, &base_path).map_err(|e| format!("{}: {e}", base_path.display()))?;
    sync_dir(&plan.aofdir).map_err(s)?;
    let mut files = eng.aof.files.lock();
    let old = files.manifest.clone();
    let new_incr_seq = plan.incr.as_ref().map_or(u64::MAX, |i| i.seq);
    let mut m = Manifest {
        base: Some(FileInfo {
            name: base_name,
            seq: plan.base_seq,
            kind: FileType::Base,
        }),
        incrs: old
            .incrs
            .iter()
            .filter(|i| i.seq >= new_incr_seq)
            .cloned()
            .collect(),
        history: old.history.clone(),
    };
    if plan.mode == Mode::Enable {
        m.incrs = vec![plan.incr.clone().expect("enable has an increment")];
    }
    let retired = old
        .base
        .iter()
        .chain(old.incrs.iter())
        .filter(|f| !m.incrs.contains(f));
    for f in retired {
        m.history.push(FileInfo {
            kind: FileType::History,
            ..f.clone()
        });
    }
    persist_manifest(&plan.aofdir, &plan.prefix, &m).map_err(s)?;
    files.manifest = m.clone();
    // the switch is durable: the old files can go
    delete_files(&plan.aofdir, &m.history);
    m.history.clear();
    persist_manifest(&plan.aofdir, &plan.prefix, &m).map_err(s)?;
    let incr_len: u64 = m
        .incrs
        .iter()
        .filter_map(|i| std::fs::metadata(plan.aofdir.join(&i.name)).ok())
        .map(|md| md.len())
        .sum();
    files.manifest = m;
    drop(files);
    let aof = &eng.aof;
    aof.base_size.store(base_size, Ordering::Relaxed);
    aof.log.incr_bytes.store(0, Ordering::Relaxed);
    aof.incr_size_listed.store(incr_len, Ordering::Relaxed);
    aof.rewrite_base_size
        .store(aof.current_size(), Ordering::Relaxed);
    Ok(())
}

/// Stops a rewrite in progress (its files are left as a valid chain) and
/// waits for its thread.
pub(crate) fn abort_and_wait(eng: &Engine) {
    let h = {
        let mut c = eng.aof.rw.lock();
        c.abort.store(true, Ordering::Relaxed);
        c.handle.take()
    };
    if let Some(h) = h
        && h.thread().id() != std::thread::current().id()
    {
        let _ = h.join();
    }
}

/// `Db::rewrite_aof`: waits for a rewrite in progress, runs one, waits for it.
pub(crate) fn run_and_wait(eng: &Engine) -> Result<(), crate::error::Error> {
    use crate::error::{Error, ErrorKind};
    let aof = &eng.aof;
    let generation_seen = loop {
        let generation_seen = {
            let mut c = aof.rw.lock();
            while c.in_progress {
                aof.rw_done.wait(&mut c);
            }
            c.generation
        };
        let mode = if aof.is_on() {
            Mode::Rewrite
        } else {
            Mode::BaseOnly
        };
        match start(eng, mode) {
            Ok(()) => break generation_seen,
            Err(e) if e == IN_PROGRESS => continue,
            Err(e) if e == SNAPSHOT_BUSY => {
                std::thread::sleep(std::time::Duration::from_millis(5));
                continue;
            }
            Err(e) => return Err(Error::new(ErrorKind::Io, e)),
        }
    };
    let mut c = aof.rw.lock();
    while c.generation <= generation_seen {
        aof.rw_done.wait(&mut c);
    }
    match &c.last_error {
        None if c.last_ok => Ok(()),
        e => Err(Error::new(
            ErrorKind::Io,
            format!(
                "AOF rewrite failed: {}",
                e.clone().unwrap_or_else(|| "unknown error".into())
            ),
        )),
    }
}
