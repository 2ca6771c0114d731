//! The append-only file, in Redis 7's multi-part layout: `dir/appenddirname/`
//! holds a manifest, one base file and incremental files, all of which a
//! real redis-server loads (and which we load from one).
//!
//! How a write reaches the disk:
//! 1. the handler reports how it propagates (`Ctx.prop`, `dirty`,
//!    `expired_dels`); `capture` encodes that into the Ctx's `Pending`
//!    (`Engine::after_command`);
//! 2. `commit`, still under the command's shard locks, appends it to the
//!    shared log buffer (`writer::Log`), adding SELECT and MULTI/EXEC;
//! 3. after the locks are released, `settle` waits for the fsync when
//!    `appendfsync always` and turns a failure into an error reply.
//!
//! Rules for whoever changes this: `on` flips only while every shard lock is
//! held (`with_all_shards`), and a rewrite's cut (new incremental file,
//! snapshot epoch) happens under the same locks, so every command lands
//! wholly before or wholly after it. Never wait for the disk while holding a
//! shard lock.

pub(crate) mod loader;
pub(crate) mod manifest;
pub(crate) mod rewrite;
pub(crate) mod writer;

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;

use parking_lot::Mutex;

use crate::client::ClientState;
use crate::commands::Ctx;
use crate::commands::ctx::Prop;
use crate::config::{AppendFsync, Config, Tun};
use crate::db::Engine;
use crate::error::{Error, ErrorKind};
use crate::reply::Reply;

use manifest::{FileInfo, FileType, Manifest};
pub(crate) use writer::Ticket;
use writer::{Log, Target};

/// Appends `*argc` and each argument as a RESP bulk string.
///
/// Every write command of an AOF-enabled Db passes through here, so it
/// writes into reserved capacity directly: one capacity check for the whole
/// command instead of one per byte (`Vec::push` re-checks each time).
pub(crate) fn encode_command<A: AsRef<[u8]>>(out: &mut Vec<u8>, argv: &[A]) {
    // per argument: '$', up to 20 digits, CRLF, the bytes, CRLF
    let total: usize = argv.iter().map(|a| a.as_ref().len() + 25).sum::<usize>() + 23;
    out.reserve(total);
    let start = out.len();
    // SAFETY: `total` bytes past `len` are reserved and every write below
    // stays within them (each header is at most 23 bytes, each argument
    // its length + 2); `set_len` covers exactly the bytes written.
    unsafe {
        let base = out.as_mut_ptr().add(start);
        let mut at = put_header(base, b'*', argv.len());
        for a in argv {
            let a = a.as_ref();
            at += put_header(base.add(at), b'$', a.len());
            std::ptr::copy_nonoverlapping(a.as_ptr(), base.add(at), a.len());
            at += a.len();
            *base.add(at) = b'\r';
            *base.add(at + 1) = b'\n';
            at += 2;
        }
        debug_assert!(at <= total);
        out.set_len(start + at);
    }
}

/// Writes `<tag><n>\r\n` at `dst`; returns the bytes written (≤ 23).
///
/// # Safety
/// `dst` must be valid for 23 bytes of writes.
#[inline]
unsafe fn put_header(dst: *mut u8, tag: u8, n: usize) -> usize {
    // SAFETY (all writes): at most 1 + 20 + 2 = 23 bytes, as the caller
    // guarantees room for.
    unsafe {
        *dst = tag;
        let len = if n < 10 {
            *dst.add(1) = b'0' + n as u8;
            1
        } else if n < 100 {
            *dst.add(1) = b'0' + (n / 10) as u8;
            *dst.add(2) = b'0' + (n % 10) as u8;
            2
        } else {
            let mut digits = [0u8; 20];
            let mut i = digits.len();
            let mut v = n;
            while v > 0 {
                i -= 1;
                digits[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
            let len = digits.len() - i;
            std::ptr::copy_nonoverlapping(digits.as_ptr().add(i), dst.add(1), len);
            len
        };
        *dst.add(1 + len) = b'\r';
        *dst.add(2 + len) = b'\n';
        len + 3
    }
}

/// The AOF side of one Ctx: inside EXEC (`batch`), the encoded commands
/// waiting to be appended as one MULTI … EXEC block; otherwise what the
/// appends made so far require (the offset to wait for, or an error).
#[derive(Default)]
pub(crate) struct Pending {
    /// Collect instead of appending (EXEC).
    pub batch: bool,
    buf: Vec<u8>,
    /// (db, end offset in `buf`) of each command collected.
    ops: Vec<(usize, usize)>,
    /// Log offset that ends this Ctx's appends.
    end: Option<u64>,
    failed: Option<String>,
}

impl Pending {
    fn push<A: AsRef<[u8]>>(&mut self, db: usize, argv: &[A]) {
        encode_command(&mut self.buf, argv);
        self.ops.push((db, self.buf.len()));
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty() && self.end.is_none() && self.failed.is_none()
    }

    /// Empty and not collecting (what a `Ctx` leaves behind).
    #[inline]
    pub fn is_clear(&self) -> bool {
        self.is_empty() && !self.batch
    }

    /// (db, encoded command) of each command collected.
    fn ops(&self) -> impl Iterator<Item = (usize, &[u8])> {
        let mut start = 0;
        self.ops.iter().map(move |&(db, end)| {
            let s = start;
            start = end;
            (db, &self.buf[s..end])
        })
    }

    fn note(&mut self, t: Ticket) {
        match t {
            Ticket::Done => {}
            Ticket::Durable(off) => self.end = Some(self.end.unwrap_or(0).max(off)),
            Ticket::Failed(e) => self.failed = Some(e),
        }
    }

    /// What the writer waits for once its locks are released.
    fn take_ticket(&mut self) -> Ticket {
        if let Some(e) = self.failed.take() {
            self.end = None;
            return Ticket::Failed(e);
        }
        match self.end.take() {
            Some(off) => Ticket::Durable(off),
            None => Ticket::Done,
        }
    }
}

/// Where the files are and what the manifest says.
pub(crate) struct Files {
    /// `dir` (None: in memory, no files at all).
    pub dir: Option<PathBuf>,
    /// `appendfilename`: the prefix of every file name.
    pub prefix: String,
    pub dirname: String,
    pub manifest: Manifest,
}

impl Files {
    pub fn aofdir(&self) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(&self.dirname))
    }
}

/// Rewrite bookkeeping (INFO persistence).
pub(crate) struct RewriteCtl {
    pub in_progress: bool,
    pub scheduled: bool,
    /// `appendonly yes|no` asked for while locks were held (inside EXEC).
    pub pending_switch: Option<bool>,
    pub abort: Arc<AtomicBool>,
    pub handle: Option<JoinHandle<()>>,
    pub started: Option<std::time::Instant>,
    pub last_time_sec: i64,
    pub last_ok: bool,
    pub rewrites: u64,
    pub consecutive_failures: u64,
    /// Completed rewrites (successful or not), for `Db::rewrite_aof` waiters.
    pub generation: u64,
    pub last_error: Option<String>,
}

pub(crate) struct Aof {
    pub log: Arc<Log>,
    on: AtomicBool,
    pub files: Mutex<Files>,
    flusher: Mutex<Option<JoinHandle<()>>>,
    pub rw: Mutex<RewriteCtl>,
    pub rw_done: parking_lot::Condvar,
    /// Size of the base file (INFO `aof_base_size`).
    pub base_size: AtomicU64,
    /// Size of the incremental files listed before the last flusher count reset.
    pub incr_size_listed: AtomicU64,
    /// `aof_current_size` right after the last rewrite or load (auto rewrite's reference).
    pub rewrite_base_size: AtomicU64,
}

/// Redis's error for writes refused after a failed AOF write.
fn misconf(e: &str) -> Reply {
    Reply::Error(format!("MISCONF Errors writing to the AOF file: {e}"))
}

impl Aof {
    pub fn new(cfg: &Config) -> Aof {
        Aof {
            log: Arc::new(Log::new(cfg.appendfsync)),
            on: AtomicBool::new(false),
            files: Mutex::new(Files {
                dir: cfg.dir.clone(),
                prefix: String::new(),
                dirname: String::new(),
                manifest: Manifest::default(),
            }),
            flusher: Mutex::new(None),
            rw: Mutex::new(RewriteCtl {
                in_progress: false,
                scheduled: false,
                pending_switch: None,
                abort: Arc::new(AtomicBool::new(false)),
                handle: None,
                started: None,
                last_time_sec: -1,
                last_ok: true,
                rewrites: 0,
                consecutive_failures: 0,
                generation: 0,
                last_error: None,
            }),
            rw_done: parking_lot::Condvar::new(),
            base_size: AtomicU64::new(0),
            incr_size_listed: AtomicU64::new(0),
            rewrite_base_size: AtomicU64::new(0),
        }
    }

    /// Whether writes are logged (hot path: one relaxed load).
    #[inline]
    pub fn is_on(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    pub(crate) fn set_on(&self, on: bool) {
        self.on.store(on, Ordering::Release);
    }

    /// `aof_current_size`: every file the manifest lists.
    pub fn current_size(&self) -> u64 {
        self.base_size.load(Ordering::Relaxed)
            + self.incr_size_listed.load(Ordering::Relaxed)
            + self.log.incr_bytes.load(Ordering::Relaxed)
    }

    /// Logs what the command that just ran propagates: expired-key DELs
    /// first, then the command as called or as rewritten (several commands
    /// in MULTI … EXEC). Appended at once, inside the command's locks; inside
    /// EXEC collected for `commit` instead.
    #[inline]
    pub fn capture(&self, ctx: &mut Ctx, argv: &[&[u8]]) {
        if self.is_on() {
            self.capture_on(ctx, argv);
        }
    }

    #[inline(never)]
    fn capture_on(&self, ctx: &mut Ctx, argv: &[&[u8]]) {
        let cmd = ctx.dirty > 0 && !matches!(ctx.prop, Prop::Nothing);
        if !cmd && ctx.cl.fx.expired_dels.is_empty() {
            return;
        }
        let db = ctx.db;
        if ctx.cl.fx.aof.batch {
            for (d, key) in &ctx.cl.fx.expired_dels {
                ctx.cl.fx.aof.push(*d, &[&b"DEL"[..], key]);
            }
            if cmd {
                match &ctx.prop {
                    Prop::Verbatim => ctx.cl.fx.aof.push(db, argv),
                    Prop::Rewritten(cmds) => {
                        for c in cmds {
                            ctx.cl.fx.aof.push(db, c);
                        }
                    }
                    Prop::Nothing => {}
                }
            }
            return;
        }
        let ts = self.timestamp(ctx);
        let t = self.log.append_with(ts, |w| {
            for (d, key) in &ctx.cl.fx.expired_dels {
                w.cmd(*d, &[&b"DEL"[..], key]);
            }
            if cmd {
                match &ctx.prop {
                    Prop::Verbatim => w.cmd(db, argv),
                    Prop::Rewritten(cmds) => {
                        let wrap = cmds.len() > 1;
                        if wrap {
                            w.cmd(db, &[b"MULTI"]);
                        }
                        for c in cmds {
                            w.cmd(db, c);
                        }
                        if wrap {
                            w.cmd(db, &[b"EXEC"]);
                        }
                    }
                    Prop::Nothing => {}
                }
            }
        });
        ctx.cl.fx.aof.note(t);
    }

    fn timestamp(&self, ctx: &Ctx) -> Option<u64> {
        (ctx.eng.params.tun(Tun::AofTimestampEnabled) != 0).then(|| ctx.now())
    }

    /// Call while the Ctx still holds its locks: appends an EXEC's commands
    /// as one block (wrapped in MULTI … EXEC when more than one), and says
    /// what to wait for after the locks are released.
    #[inline]
    pub fn commit(&self, ctx: &mut Ctx) -> Ticket {
        if ctx.cl.fx.aof.is_empty() {
            return Ticket::Done;
        }
        self.commit_slow(ctx)
    }

    #[inline(never)]
    fn commit_slow(&self, ctx: &mut Ctx) -> Ticket {
        if !ctx.cl.fx.aof.ops.is_empty() {
            let ts = self.timestamp(ctx);
            let p = &ctx.cl.fx.aof;
            let t = self.log.append_with(ts, |w| {
                let wrap = p.ops.len() > 1;
                let mut last = 0;
                for (i, (db, bytes)) in p.ops().enumerate() {
                    if wrap && i == 0 {
                        // SELECT goes before MULTI (the first command's db), as Redis does
                        w.cmd(db, &[b"MULTI"]);
                    }
                    w.raw(db, bytes);
                    last = db;
                }
                if wrap {
                    w.cmd(last, &[b"EXEC"]);
                }
            });
            ctx.cl.fx.aof.buf.clear();
            ctx.cl.fx.aof.ops.clear();
            ctx.cl.fx.aof.note(t);
        }
        ctx.cl.fx.aof.take_ticket()
    }

    /// After the locks are released: waits for durability when needed.
    #[inline]
    pub fn settle(&self, t: Ticket, reply: Reply) -> Reply {
        match t {
            Ticket::Done => reply,
            t => self.settle_slow(t, reply),
        }
    }

    #[inline(never)]
    fn settle_slow(&self, t: Ticket, reply: Reply) -> Reply {
        match t {
            Ticket::Done => reply,
            Ticket::Durable(off) => match self.log.wait_durable(off) {
                Ok(()) => reply,
                Err(e) => misconf(&e),
            },
            Ticket::Failed(e) => Reply::Error(e),
        }
    }

    /// Whether a reply produced in another command's locks (a served
    /// blocked client) must wait for the log first (`appendfsync always`).
    pub fn needs_barrier(&self) -> bool {
        self.is_on() && self.log.policy() == AppendFsync::Always
    }

    /// Everything appended so far, as a ticket to wait on.
    pub fn barrier(&self) -> Ticket {
        Ticket::Durable(self.log.appended())
    }

    /// The error a write command gets while the last AOF write failed.
    #[inline]
    pub fn write_denied(&self) -> Option<Reply> {
        if self.is_on() && self.log.is_failing() {
            return self.failing_reply();
        }
        None
    }

    #[cold]
    fn failing_reply(&self) -> Option<Reply> {
        let e = self.log.last_error()?;
        Some(misconf(&e))
    }

    /// At `Db::open`: loads the AOF when `appendonly yes`, then starts logging.
    pub fn open(&self, eng: &Engine, cfg: &Config) -> Result<(), Error> {
        let param = |n: &str| eng.params.get(n).unwrap_or_default();
        {
            let mut f = self.files.lock();
            f.prefix = param("appendfilename");
            f.dirname = param("appenddirname");
        }
        if !cfg.appendonly {
            return Ok(());
        }
        let Some(dir) = cfg.dir.clone() else {
            return Err(Error::new(
                ErrorKind::Config,
                "appendonly yes needs a data directory (dir)",
            ));
        };
        let (prefix, aofdir) = {
            let f = self.files.lock();
            (f.prefix.clone(), f.aofdir().expect("dir is set"))
        };
        std::fs::create_dir_all(&aofdir).map_err(|e| io_err(&aofdir, e))?;
        remove_rewrite_leftovers(&aofdir);
        let mpath = aofdir.join(manifest::manifest_name(&prefix));
        let mut m = if mpath.exists() {
            let text = std::fs::read(&mpath).map_err(|e| io_err(&mpath, e))?;
            Manifest::parse(&text, &mpath.display().to_string())?
        } else if let Some(m) = upgrade_single_file(&dir, &aofdir, &prefix)? {
            m
        } else {
            // first start: an empty base and the first increment, as Redis 7 does
            let base = manifest::base_name(&prefix, 1, false);
            create_empty(&aofdir.join(&base))?;
            let m = Manifest {
                base: Some(FileInfo {
                    name: base,
                    seq: 1,
                    kind: FileType::Base,
                }),
                incrs: vec![],
                history: vec![],
            };
            persist_manifest(&aofdir, &prefix, &m)?;
            m
        };
        // load
        let truncated_ok = eng.params.tun(Tun::AofLoadTruncated) != 0;
        eng.loading.store(true, Ordering::Release);
        let res = loader::load_all(eng, &aofdir, &m, truncated_ok);
        eng.loading.store(false, Ordering::Release);
        let sizes = res?;
        // history files are garbage; an increment to append to must exist
        let mut changed = false;
        if !m.history.is_empty() {
            delete_files(&aofdir, &m.history);
            m.history.clear();
            changed = true;
        }
        if m.incrs.is_empty() {
            let seq = m.incr_seq() + 1;
            let name = manifest::incr_name(&prefix, seq);
            create_empty(&aofdir.join(&name))?;
            m.incrs.push(FileInfo {
                name,
                seq,
                kind: FileType::Incr,
            });
            changed = true;
        }
        if changed {
            persist_manifest(&aofdir, &prefix, &m)?;
        }
        let last = m.incrs.last().expect("just ensured").name.clone();
        let target = open_append(&aofdir.join(&last))?;
        self.base_size.store(sizes.base, Ordering::Relaxed);
        self.incr_size_listed.store(sizes.incrs, Ordering::Relaxed);
        self.log.incr_bytes.store(0, Ordering::Relaxed);
        self.rewrite_base_size
            .store(sizes.base + sizes.incrs, Ordering::Relaxed);
        self.files.lock().manifest = m;
        self.start_flusher(Some(target))?;
        self.set_on(true);
        Ok(())
    }

    pub(crate) fn start_flusher(&self, target: Option<Target>) -> Result<(), Error> {
        let h = self.log.start(target).map_err(|e| {
            Error::new(
                ErrorKind::Io,
                format!("cannot start the AOF writer thread: {e}"),
            )
        })?;
        *self.flusher.lock() = Some(h);
        Ok(())
    }

    /// Writes and fsyncs everything, stops the writer thread.
    pub(crate) fn stop_flusher(&self) -> Result<(), String> {
        let r = self.log.sync_all();
        self.log.stop();
        if let Some(h) = self.flusher.lock().take() {
            let _ = h.join();
        }
        r
    }

    /// `Db::close` / last handle dropped: stops a rewrite, flushes, fsyncs.
    pub fn close(&self, eng: &Engine) -> Result<(), Error> {
        rewrite::abort_and_wait(eng);
        if !self.is_on() && self.flusher.lock().is_none() {
            return Ok(());
        }
        self.set_on(false);
        self.stop_flusher()
            .map_err(|e| Error::new(ErrorKind::Io, format!("AOF flush at close failed: {e}")))
    }

    /// `CONFIG SET appendonly`. `held`: the caller holds shard locks (EXEC),
    /// so the switch is left to the background thread.
    pub fn set_appendonly(&self, eng: &Engine, yes: bool, held: bool) -> Result<(), String> {
        if yes == self.is_on() && self.rw.lock().pending_switch.is_none() {
            return Ok(());
        }
        if held {
            self.rw.lock().pending_switch = Some(yes);
            return Ok(());
        }
        if yes {
            // a base-only rewrite in progress gives way to the real one
            rewrite::abort_and_wait(eng);
            match rewrite::start(eng, rewrite::Mode::Enable) {
                // a background save holds the snapshot: the cron retries
                Err(e) if e == rewrite::SNAPSHOT_BUSY => {
                    self.rw.lock().pending_switch = Some(true);
                    Ok(())
                }
                r => r,
            }
        } else {
            self.disable(eng)
        }
    }

    /// `appendonly no`: stops logging (a rewrite in progress is abandoned).
    pub fn disable(&self, eng: &Engine) -> Result<(), String> {
        rewrite::abort_and_wait(eng);
        if !self.is_on() {
            return Ok(());
        }
        with_all_shards(eng, |_| {
            self.set_on(false);
            self.log.switch_at_end(None);
        });
        self.stop_flusher()
    }

    /// Background thread's periodic work: a scheduled or automatic rewrite,
    /// an `appendonly` switch asked for inside EXEC.
    pub fn cron(&self, eng: &Engine) {
        let (switch, scheduled, busy) = {
            let mut c = self.rw.lock();
            (c.pending_switch.take(), c.scheduled, c.in_progress)
        };
        if let Some(yes) = switch
            && let Err(e) = self.set_appendonly(eng, yes, false)
        {
            eprintln!(
                "emberkv: appendonly {}: {e}",
                if yes { "yes" } else { "no" }
            );
        }
        if busy {
            return;
        }
        if scheduled {
            self.rw.lock().scheduled = false;
            let mode = if self.is_on() {
                rewrite::Mode::Rewrite
            } else {
                rewrite::Mode::BaseOnly
            };
            match rewrite::start(eng, mode) {
                Err(e) if e == rewrite::SNAPSHOT_BUSY => self.rw.lock().scheduled = true,
                Err(e) => eprintln!("emberkv: scheduled AOF rewrite: {e}"),
                Ok(()) => {}
            }
            return;
        }
        let perc = eng.params.tun(Tun::AutoAofRewritePercentage) as u64;
        let min = eng.params.tun(Tun::AutoAofRewriteMinSize) as u64;
        let cur = self.current_size();
        if self.is_on() && perc > 0 && cur > min {
            let base = self.rewrite_base_size.load(Ordering::Relaxed).max(1);
            let growth = (cur * 100 / base).saturating_sub(100);
            if growth >= perc {
                let _ = rewrite::start(eng, rewrite::Mode::Rewrite);
            }
        }
    }

    /// INFO persistence: the AOF fields, named and ordered as Redis 7.0's.
    pub fn info(&self, out: &mut String) {
        let c = self.rw.lock();
        let on = self.is_on();
        let cur_rw = c
            .started
            .filter(|_| c.in_progress)
            .map_or(-1, |s| s.elapsed().as_secs() as i64);
        let w_ok = !self.log.is_failing();
        let mut kv = |k: &str, v: &dyn std::fmt::Display| {
            let _ = write!(out, "{k}:{v}\r\n");
        };
        kv("aof_enabled", &(on as u8));
        kv("aof_rewrite_in_progress", &(c.in_progress as u8));
        kv("aof_rewrite_scheduled", &(c.scheduled as u8));
        kv("aof_last_rewrite_time_sec", &c.last_time_sec);
        kv("aof_current_rewrite_time_sec", &cur_rw);
        kv(
            "aof_last_bgrewrite_status",
            &if c.last_ok { "ok" } else { "err" },
        );
        kv("aof_rewrites", &c.rewrites);
        kv("aof_rewrites_consecutive_failures", &c.consecutive_failures);
        kv("aof_last_write_status", &if w_ok { "ok" } else { "err" });
        kv("aof_last_cow_size", &0);
        kv("module_fork_in_progress", &0);
        kv("module_fork_last_cow_size", &0);
        if on {
            kv("aof_current_size", &self.current_size());
            kv("aof_base_size", &self.base_size.load(Ordering::Relaxed));
            kv("aof_pending_rewrite", &(c.scheduled as u8));
            kv("aof_buffer_length", &self.log.buffered());
            kv("aof_pending_bio_fsync", &0);
            kv(
                "aof_delayed_fsync",
                &self.log.delayed_fsync.load(Ordering::Relaxed),
            );
        }
    }

    pub fn set_policy(&self, p: AppendFsync) {
        self.log.set_policy(p);
    }
}

/// Runs `f` while holding every shard lock (read locks: writers are held
/// off, readers go on).
pub(crate) fn with_all_shards<R>(eng: &Engine, f: impl FnOnce(&Ctx) -> R) -> R {
    let mut cl = ClientState::internal();
    let mut ctx = Ctx::new(eng, &mut cl);
    ctx.lock(Ctx::shard_mask_all(), false);
    let r = f(&ctx);
    drop(ctx);
    r
}

fn io_err(path: &Path, e: std::io::Error) -> Error {
    Error::new(ErrorKind::Io, format!("{}: {e}", path.display()))
}

fn create_empty(path: &Path) -> Result<(), Error> {
    let f = File::create(path).map_err(|e| io_err(path, e))?;
    f.sync_all().map_err(|e| io_err(path, e))?;
    Ok(())
}

/// Opens an incremental file for appending (created if missing).
pub(crate) fn open_append(path: &Path) -> Result<Target, Error> {
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| io_err(path, e))?;
    let len = file.metadata().map_err(|e| io_err(path, e))?.len();
    Ok(Target { file, len })
}

/// fsyncs a directory, so a rename or a new file in it is durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err(dir, e))
}

/// Replaces the manifest atomically: temp file, fsync, rename, fsync dir.
pub(crate) fn persist_manifest(aofdir: &Path, prefix: &str, m: &Manifest) -> Result<(), Error> {
    let tmp = aofdir.join(manifest::temp_manifest_name(prefix));
    let dst = aofdir.join(manifest::manifest_name(prefix));
    let mut f = File::create(&tmp).map_err(|e| io_err(&tmp, e))?;
    f.write_all(m.format().as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| io_err(&tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, &dst).map_err(|e| io_err(&dst, e))?;
    sync_dir(aofdir)
}

/// Removes files that are no longer part of the log (best effort).
pub(crate) fn delete_files(aofdir: &Path, files: &[FileInfo]) {
    for f in files {
        let _ = std::fs::remove_file(aofdir.join(&f.name));
    }
}

/// A rewrite cut short by a crash leaves its temp base behind: no manifest
/// lists it, so it goes.
fn remove_rewrite_leftovers(aofdir: &Path) {
    let Ok(dir) = std::fs::read_dir(aofdir) else {
        return;
    };
    for e in dir.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("temp-rewriteaof-bg-") && name.ends_with(".aof") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// An AOF from before Redis 7 (`dir/appendonly.aof`, one file): moved into
/// the directory as the base, as Redis 7 does on first start.
fn upgrade_single_file(dir: &Path, aofdir: &Path, prefix: &str) -> Result<Option<Manifest>, Error> {
    let old = dir.join(prefix);
    let moved = aofdir.join(prefix);
    if old.is_file() {
        std::fs::rename(&old, &moved).map_err(|e| io_err(&old, e))?;
        sync_dir(aofdir)?;
        sync_dir(dir)?;
    } else if !moved.is_file() {
        return Ok(None);
    }
    let m = Manifest {
        base: Some(FileInfo {
            name: prefix.to_string(),
            seq: 1,
            kind: FileType::Base,
        }),
        incrs: vec![],
        history: vec![],
    };
    persist_manifest(aofdir, prefix, &m)?;
    Ok(Some(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_resp() {
        let mut v = Vec::new();
        encode_command(&mut v, &[&b"SET"[..], b"k", b""]);
        assert_eq!(v, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
    }

    #[test]
    fn pending_ops() {
        let mut p = Pending::default();
        p.push(1, &[&b"DEL"[..], b"a"]);
        p.push(0, &[&b"INCR"[..], b"b"]);
        let ops: Vec<_> = p.ops().collect();
        assert_eq!(ops[0], (1, &b"*2\r\n$3\r\nDEL\r\n$1\r\na\r\n"[..]));
        assert_eq!(ops[1].1, b"*2\r\n$4\r\nINCR\r\n$1\r\nb\r\n");
    }

    #[test]
    fn encodes_long_lengths() {
        let mut v = Vec::new();
        let big = vec![b'x'; 12345];
        encode_command(&mut v, &[&big[..]]);
        assert!(v.starts_with(b"*1\r\n$12345\r\nxxx"));
        assert_eq!(v.len(), 4 + 8 + 12345 + 2);
    }
}
