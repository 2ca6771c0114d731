//! The log writer: a shared in-memory buffer that commands append to, and
//! one flusher thread that writes it to the current incremental file and
//! fsyncs it according to `appendfsync`.
//!
//! - Writers append under a short mutex (`Log::append`), while they still
//!   hold their shard locks, so the log order is the apply order for any two
//!   commands that touch the same key. They get back the log offset that ends
//!   their bytes.
//! - `always`: after releasing the shard locks a writer waits until the
//!   flusher reports `synced >= offset` (`wait_durable`). The flusher writes
//!   and fsyncs everything pending at once, so concurrent writers share one
//!   fsync (group commit).
//! - `everysec`: the flusher writes what is pending about every millisecond
//!   and fsyncs once a second; `no`: it writes and never fsyncs.
//! - A rewrite or `appendonly no` switches the target file at an exact log
//!   offset (`switch_at`): bytes before go to the old file, which is fsynced,
//!   bytes after to the new one.
//! - A failed write is retried every second; meanwhile the error is reported
//!   (`aof_last_write_status:err`) and new writes are refused (MISCONF), as in
//!   Redis. A partial write is cut back so the file never ends mid-command.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::encode_command;
use crate::config::AppendFsync;

/// Where the flusher writes from some log offset on.
pub(crate) struct Target {
    pub file: File,
    /// The file's current length (bytes already in it).
    pub len: u64,
}

struct State {
    buf: Vec<u8>,
    spare: Vec<u8>,
    /// The database the log's last SELECT chose (None: emit one first).
    selected_db: Option<usize>,
    /// Log offset of the end of `buf`.
    appended: u64,
    /// Log offset of the start of `buf` (everything before is taken by the flusher).
    taken: u64,
    /// Log offset up to which bytes are written to a file.
    written: u64,
    /// Log offset up to which bytes are fsynced.
    synced: u64,
    /// Someone (close, a rewrite) needs everything up to here fsynced.
    sync_req: u64,
    switches: VecDeque<(u64, Option<Target>)>,
    error: Option<String>,
    /// The flusher is waiting for work: appenders must wake it.
    parked: bool,
    stop: bool,
    /// The flusher has exited: nothing more will be written.
    dead: bool,
    /// Unix seconds of the last `#TS:` annotation.
    last_ts: u64,
    /// Appends since the flusher last took the buffer (group commit sizing).
    appends: usize,
}

pub(crate) struct Log {
    st: Mutex<State>,
    /// The flusher waits here for work.
    work: Condvar,
    /// Writers waiting for durability wait here.
    done: Condvar,
    policy: AtomicU8,
    /// A write error is pending (fast check for refusing writes).
    failing: AtomicBool,
    /// Bytes written to incremental files since the count was last reset.
    pub incr_bytes: AtomicU64,
    /// fsyncs that took more than 2 s (INFO `aof_delayed_fsync`).
    pub delayed_fsync: AtomicU64,
}

/// What a writer does after releasing its locks.
pub(crate) enum Ticket {
    /// Nothing to wait for.
    Done,
    /// Wait until the log is durable up to this offset (`always`).
    Durable(u64),
    /// The append failed: reply this error instead.
    Failed(String),
}

impl Log {
    pub fn new(policy: AppendFsync) -> Log {
        Log {
            st: Mutex::new(State {
                buf: Vec::new(),
                spare: Vec::new(),
                selected_db: None,
                appended: 0,
                taken: 0,
                written: 0,
                synced: 0,
                sync_req: 0,
                switches: VecDeque::new(),
                error: None,
                parked: false,
                stop: false,
                dead: true,
                last_ts: 0,
                appends: 0,
            }),
            work: Condvar::new(),
            done: Condvar::new(),
            policy: AtomicU8::new(policy as u8),
            failing: AtomicBool::new(false),
            incr_bytes: AtomicU64::new(0),
            delayed_fsync: AtomicU64::new(0),
        }
    }

    pub fn policy(&self) -> AppendFsync {
        match self.policy.load(Ordering::Relaxed) {
            0 => AppendFsync::Always,
            1 => AppendFsync::EverySec,
            _ => AppendFsync::No,
        }
    }

    pub fn set_policy(&self, p: AppendFsync) {
        self.policy.store(p as u8, Ordering::Relaxed);
        let _st = self.st.lock();
        self.work.notify_one();
    }

    pub fn is_failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }

    pub fn last_error(&self) -> Option<String> {
        self.st.lock().error.clone()
    }

    /// The log offset of the end of everything appended.
    pub fn appended(&self) -> u64 {
        self.st.lock().appended
    }

    /// Bytes appended but not yet written to a file (INFO `aof_buffer_length`).
    pub fn buffered(&self) -> u64 {
        let st = self.st.lock();
        st.appended - st.written
    }

    /// Appends what `f` writes (with SELECTs where the database changes,
    /// and a `#TS` annotation first when `now_ms` is given and a second
    /// passed). Returns what the writer must wait for.
    pub fn append_with(&self, now_ms: Option<u64>, f: impl FnOnce(&mut Appender)) -> Ticket {
        let mut st = self.st.lock();
        if st.dead || st.stop {
            return Ticket::Failed("ERR the database is closed".into());
        }
        let before = st.buf.len();
        if let Some(ms) = now_ms {
            let secs = ms / 1000;
            if secs > st.last_ts {
                st.last_ts = secs;
                let ts = format!("#TS:{secs}\r\n");
                st.buf.extend_from_slice(ts.as_bytes());
            }
        }
        f(&mut Appender { st: &mut st });
        st.appends += 1;
        let added = (st.buf.len() - before) as u64;
        st.appended += added;
        let end = st.appended;
        if st.parked {
            self.work.notify_one();
        }
        drop(st);
        if self.policy() == AppendFsync::Always {
            Ticket::Durable(end)
        } else {
            Ticket::Done
        }
    }

    /// Waits until the log is fsynced up to `offset`.
    pub fn wait_durable(&self, offset: u64) -> Result<(), String> {
        let mut st = self.st.lock();
        loop {
            if st.synced >= offset {
                return Ok(());
            }
            if let Some(e) = &st.error {
                return Err(e.clone());
            }
            if st.dead {
                return Err("the append-only file was closed".into());
            }
            self.done.wait(&mut st);
        }
    }

    /// Writes and fsyncs everything appended so far; returns when done.
    pub fn sync_all(&self) -> Result<(), String> {
        let mut st = self.st.lock();
        if st.dead {
            return Ok(());
        }
        let target = st.appended;
        st.sync_req = st.sync_req.max(target);
        self.work.notify_one();
        while st.synced < target && !st.dead {
            if let Some(e) = &st.error {
                return Err(e.clone());
            }
            self.done.wait(&mut st);
        }
        if st.synced < target {
            return Err(st
                .error
                .clone()
                .unwrap_or_else(|| "the append-only file was closed".into()));
        }
        Ok(())
    }

    /// From the current end of the log on, bytes go to `target` (None: to no
    /// file). The next command appended starts with SELECT (and `#TS`). The
    /// caller holds every shard lock, so the switch is an exact cut.
    pub fn switch_at_end(&self, target: Option<Target>) {
        let mut st = self.st.lock();
        let at = st.appended;
        st.switches.push_back((at, target));
        st.selected_db = None;
        st.last_ts = 0;
        self.work.notify_one();
    }

    /// Starts the flusher thread writing to `file` (None until a switch).
    pub fn start(self: &Arc<Log>, target: Option<Target>) -> std::io::Result<JoinHandle<()>> {
        {
            let mut st = self.st.lock();
            st.dead = false;
            st.stop = false;
            st.error = None;
            st.selected_db = None;
            st.last_ts = 0;
            st.buf.clear();
            st.switches.clear();
            // offsets continue; nothing is pending
            st.taken = st.appended;
            st.written = st.appended;
            st.synced = st.appended;
            st.sync_req = st.appended;
        }
        self.failing.store(false, Ordering::Relaxed);
        let log = self.clone();
        std::thread::Builder::new()
            .name("emberkv-aof".into())
            .spawn(move || flusher(log, target))
    }

    /// Asks the flusher to write and fsync everything, then exit.
    pub fn stop(&self) {
        let mut st = self.st.lock();
        st.stop = true;
        self.work.notify_one();
    }
}

/// Writes commands into the log buffer, under the log's lock.
pub(crate) struct Appender<'a> {
    st: &'a mut State,
}

impl Appender<'_> {
    fn select(&mut self, db: usize) {
        if self.st.selected_db != Some(db) {
            let d = db.to_string();
            encode_command(&mut self.st.buf, &[&b"SELECT"[..], d.as_bytes()]);
            self.st.selected_db = Some(db);
        }
    }

    /// One command for database `db`.
    pub fn cmd<A: AsRef<[u8]>>(&mut self, db: usize, argv: &[A]) {
        self.select(db);
        encode_command(&mut self.st.buf, argv);
    }

    /// One command already encoded.
    pub fn raw(&mut self, db: usize, bytes: &[u8]) {
        self.select(db);
        self.st.buf.extend_from_slice(bytes);
    }
}

/// A batch taken from the buffer, written in order; kept across retries.
struct Batch {
    data: Vec<u8>,
    /// Log offset of `data[0]`.
    start: u64,
    /// Bytes of `data` already written.
    done: usize,
    switches: VecDeque<(u64, Option<Target>)>,
}

/// How long the flusher waits for the writers of the previous group to
/// append again before an `always` fsync (it waits only when that group had
/// more than one writer, so a lone writer never waits).
const GROUP_COMMIT_WAIT: Duration = Duration::from_micros(200);

fn flusher(log: Arc<Log>, mut target: Option<Target>) {
    let mut last_fsync = Instant::now();
    let mut carry: Option<Batch> = None;
    let mut failed_at: Option<Instant> = None;
    // appends the previous batch held
    let mut last_group = 0usize;
    loop {
        let policy = log.policy();
        let mut st = log.st.lock();
        // wait for work
        loop {
            let retry_due = failed_at.is_none_or(|t| t.elapsed() >= Duration::from_secs(1));
            let unsynced = st.written > st.synced;
            let fsync_due = policy == AppendFsync::EverySec
                && failed_at.is_none()
                && unsynced
                && last_fsync.elapsed() >= Duration::from_secs(1);
            let has_work = !st.buf.is_empty()
                || !st.switches.is_empty()
                || carry.is_some()
                || st.sync_req > st.synced
                || (policy == AppendFsync::Always && unsynced);
            if (has_work && retry_due)
                || fsync_due
                || (st.stop && !has_work)
                || (st.stop && failed_at.is_some())
            {
                break;
            }
            let wait = if failed_at.is_some() {
                Duration::from_millis(1000)
            } else if policy == AppendFsync::EverySec && unsynced {
                Duration::from_secs(1).saturating_sub(last_fsync.elapsed())
            } else {
                Duration::from_secs(1)
            };
            st.parked = true;
            log.work
                .wait_for(&mut st, wait.max(Duration::from_millis(1)));
            st.parked = false;
        }
        let stopping = st.stop;
        // Group commit under `always`: when the last fsync covered several
        // writers, they are appending again right now; wait (briefly) for
        // as many before the next fsync, instead of syncing the first one
        // alone and the rest a whole fsync later.
        if policy == AppendFsync::Always && !stopping && last_group > 1 && carry.is_none() {
            let deadline = Instant::now() + GROUP_COMMIT_WAIT;
            while st.appends < last_group && !st.stop {
                st.parked = true;
                let timed_out = log.work.wait_until(&mut st, deadline).timed_out();
                st.parked = false;
                if timed_out {
                    break;
                }
            }
        }
        if carry.is_none() && (!st.buf.is_empty() || !st.switches.is_empty()) {
            last_group = std::mem::take(&mut st.appends);
            let spare = std::mem::take(&mut st.spare);
            let data = std::mem::replace(&mut st.buf, spare);
            let start = st.taken;
            st.taken += data.len() as u64;
            carry = Some(Batch {
                data,
                start,
                done: 0,
                switches: std::mem::take(&mut st.switches),
            });
        }
        let want_sync = st.sync_req > st.synced || stopping;
        drop(st);

        // write
        let mut result: Result<(), String> = Ok(());
        let mut end = None;
        if let Some(b) = carry.as_mut() {
            result = write_batch(&log, b, &mut target);
            if result.is_ok() {
                end = Some(b.start + b.data.len() as u64);
            }
        }
        // fsync
        let mut synced_to = None;
        if result.is_ok() {
            let written = match end {
                Some(e) => e,
                None => log.st.lock().written,
            };
            let policy = log.policy();
            let need = policy == AppendFsync::Always
                || want_sync
                || (policy == AppendFsync::EverySec
                    && last_fsync.elapsed() >= Duration::from_secs(1));
            if need {
                let t = Instant::now();
                match target.as_ref().map(|t| t.file.sync_data()) {
                    Some(Err(e)) => result = Err(format!("fsync: {e}")),
                    _ => {
                        synced_to = Some(written);
                        last_fsync = Instant::now();
                        if t.elapsed() > Duration::from_secs(2) {
                            log.delayed_fsync.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
        }
        let mut st = log.st.lock();
        match &result {
            Ok(()) => {
                if let Some(e) = end {
                    st.written = e;
                    if let Some(mut b) = carry.take() {
                        b.data.clear();
                        if b.data.capacity() <= 16 << 20 {
                            st.spare = b.data;
                        }
                    }
                }
                if let Some(s) = synced_to {
                    st.synced = st.synced.max(s);
                }
                if st.error.take().is_some() {
                    log.failing.store(false, Ordering::Relaxed);
                }
                failed_at = None;
            }
            Err(e) => {
                st.error = Some(e.clone());
                log.failing.store(true, Ordering::Relaxed);
                failed_at = Some(Instant::now());
            }
        }
        log.done.notify_all();
        let finished = st.stop
            && (failed_at.is_some()
                || (st.buf.is_empty()
                    && st.switches.is_empty()
                    && carry.is_none()
                    && st.synced >= st.written));
        if finished {
            st.dead = true;
            log.done.notify_all();
            return;
        }
        let busy = !st.buf.is_empty();
        drop(st);
        if busy && failed_at.is_none() && log.policy() != AppendFsync::Always && !stopping {
            // let appends gather: one write a millisecond is plenty
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// Writes what is left of a batch, switching files at their offsets.
fn write_batch(log: &Log, b: &mut Batch, target: &mut Option<Target>) -> Result<(), String> {
    loop {
        let pos = b.start + b.done as u64;
        let next_switch = b.switches.front().map(|(at, _)| *at);
        let upto = match next_switch {
            Some(at) if at <= b.start + b.data.len() as u64 => at.max(pos),
            _ => b.start + b.data.len() as u64,
        };
        let chunk_end = (upto - b.start) as usize;
        if chunk_end > b.done {
            let chunk = &b.data[b.done..chunk_end];
            if let Some(t) = target.as_mut() {
                write_all_or_cut(t, chunk)?;
                log.incr_bytes
                    .fetch_add(chunk.len() as u64, Ordering::Relaxed);
            }
            b.done = chunk_end;
        }
        match next_switch {
            Some(at) if at <= b.start + b.data.len() as u64 => {
                // everything before the switch is durable before the new file gets bytes
                if let Some(t) = target.as_ref() {
                    t.file.sync_data().map_err(|e| format!("fsync: {e}"))?;
                }
                let (_, next) = b.switches.pop_front().expect("checked");
                *target = next;
            }
            _ => return Ok(()),
        }
    }
}

/// Writes `data` whole; on failure cuts the file back to where it was, so
/// it never ends inside a command.
fn write_all_or_cut(t: &mut Target, data: &[u8]) -> Result<(), String> {
    match t.file.write_all(data) {
        Ok(()) => {
            t.len += data.len() as u64;
            Ok(())
        }
        Err(e) => {
            let msg = e.to_string();
            if let Err(e2) = t.file.set_len(t.len) {
                return Err(format!(
                    "{msg} (and the file could not be cut back to {} bytes: {e2})",
                    t.len
                ));
            }
            // O_APPEND: the next write lands at the (restored) end
            Err(msg)
        }
    }
}
