//! Event loops: a few threads (one per core), each serving many
//! connections with epoll, so a request costs a read and a write, not a
//! thread wake-up. Commands run on the loop's thread.
//!
//! Rules for whoever changes this:
//! - Nothing on a loop may block: a connection about to run a command that
//!   can block (or to subscribe) is handed to a thread of its own
//!   (`Flow::Migrate`) with the command still unread in its buffer, and
//!   comes back to a loop (`Flow::Rejoin`) once nothing holds it there.
//! - Level-triggered epoll: one read per readiness event, so a busy client
//!   cannot starve the others; EPOLLOUT is watched only while output waits.
//! - After a round with events the loop polls without sleeping for `SPIN`
//!   before it blocks again (see there).

use std::os::fd::RawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::conn::{Conn, Flow};

const WAKE: u64 = u64::MAX;

/// How long a loop keeps polling (`epoll_wait` with no timeout) after its
/// last round with events before it blocks. A blocked thread's wake-up on a
/// virtual machine costs tens of µs, more than a request; clients at
/// `-P 1` send their next request within that time, so a loop that stays
/// awake serves them without a wake-up each. An idle loop spins at most
/// once per burst, for this long. Interleaved redis-benchmark, 50 clients,
/// GET `-P 1` over TCP, 6 rounds (2-core VM): median 40.8 k req/s without,
/// 46 k with 15 µs, 48.2 k with 30 µs, 44.9 k with 60 µs, 44–46 k at 200 µs;
/// redis-server 42.5 k in the same rounds.
const SPIN: Duration = Duration::from_micros(30);

/// One loop: its epoll instance, a wake-up eventfd and the connections the
/// accept thread handed it.
pub(crate) struct Loop {
    epfd: RawFd,
    wakefd: RawFd,
    inbox: Mutex<Vec<Conn>>,
    stop: AtomicBool,
    /// Connections on this loop (to balance new ones).
    pub load: AtomicUsize,
}

// SAFETY: the descriptors are plain integers used with thread-safe syscalls.
unsafe impl Send for Loop {}
unsafe impl Sync for Loop {}

impl Loop {
    pub fn new() -> std::io::Result<Arc<Loop>> {
        let (epfd, wakefd) = epoll_and_eventfd()?;
        let l = Arc::new(Loop {
            epfd,
            wakefd,
            inbox: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            load: AtomicUsize::new(0),
        });
        l.ctl(libc::EPOLL_CTL_ADD, wakefd, libc::EPOLLIN as u32, WAKE);
        Ok(l)
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, events: u32, token: u64) -> bool {
        let mut ev = libc::epoll_event { events, u64: token };
        // SAFETY: valid epoll descriptor and event.
        unsafe { libc::epoll_ctl(self.epfd, op, fd, &mut ev) == 0 }
    }

    fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes to the eventfd.
        unsafe {
            libc::write(self.wakefd, (&one as *const u64).cast(), 8);
        }
    }

    /// Hands a connection to this loop; a loop that has stopped gives it
    /// back. (Checked under the inbox lock: the loop drains its inbox after
    /// it sees `stop`, so a connection pushed here is never left behind.)
    #[must_use]
    pub fn add(&self, c: Conn) -> Option<Conn> {
        let mut inbox = self.inbox.lock();
        if self.stop.load(Ordering::Acquire) {
            return Some(c);
        }
        self.load.fetch_add(1, Ordering::Relaxed);
        inbox.push(c);
        drop(inbox);
        self.wake();
        None
    }

    /// Asks the loop to close its connections and end.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        self.wake();
    }

    pub fn spawn(self: &Arc<Self>, i: usize) -> std::io::Result<JoinHandle<()>> {
        let l = self.clone();
        std::thread::Builder::new()
            .name(format!("emberkv-loop-{i}"))
            .spawn(move || l.run())
    }

    fn run(&self) {
        let mut slots: Vec<Option<(Conn, bool)>> = Vec::new();
        let mut free: Vec<usize> = Vec::new();
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
        // the end of the last round with events (see `SPIN`)
        let mut busy = Instant::now();
        loop {
            let timeout = if busy.elapsed() < SPIN { 0 } else { -1 };
            // SAFETY: `events` has room for `len` entries.
            let n = unsafe {
                libc::epoll_wait(
                    self.epfd,
                    events.as_mut_ptr(),
                    events.len() as libc::c_int,
                    timeout,
                )
            };
            if n == 0 {
                continue;
            }
            if n < 0 {
                if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            for ev in &events[..n as usize] {
                let (bits, token) = (ev.events, ev.u64);
                if token == WAKE {
                    self.take_inbox(&mut slots, &mut free);
                    continue;
                }
                let slot = token as usize;
                let Some((c, watching_out)) = slots.get_mut(slot).and_then(|s| s.as_mut()) else {
                    continue;
                };
                let mut flow = Flow::Go;
                if bits & (libc::EPOLLOUT as u32) != 0 && !c.on_writable() {
                    flow = Flow::Close;
                }
                let readable =
                    (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) as u32;
                if flow == Flow::Go && bits & readable != 0 {
                    flow = c.on_readable();
                }
                if flow == Flow::Go {
                    self.watch_output(slot, c, watching_out);
                } else {
                    self.retire(&mut slots, &mut free, slot, flow);
                }
            }
            busy = Instant::now();
            if self.stop.load(Ordering::Acquire) {
                for (c, _) in slots.drain(..).flatten() {
                    c.shared().kill();
                    c.finish(Flow::Close);
                }
                for c in std::mem::take(&mut *self.inbox.lock()) {
                    c.finish(Flow::Close);
                }
                return;
            }
        }
    }

    /// Registers the connections handed over: new ones from the accept
    /// thread, and ones back from a thread of their own, whose last replies
    /// are sent from here (`Flow::Rejoin`).
    fn take_inbox(&self, slots: &mut Vec<Option<(Conn, bool)>>, free: &mut Vec<usize>) {
        let mut v = 0u64;
        // SAFETY: reads 8 bytes from the eventfd.
        unsafe {
            libc::read(self.wakefd, (&mut v as *mut u64).cast(), 8);
        }
        let new = std::mem::take(&mut *self.inbox.lock());
        for mut c in new {
            let slot = free.pop().unwrap_or_else(|| {
                slots.push(None);
                slots.len() - 1
            });
            let fd = c.shared().sock.fd();
            let interest = (libc::EPOLLIN | libc::EPOLLRDHUP) as u32;
            if !self.ctl(libc::EPOLL_CTL_ADD, fd, interest, slot as u64) {
                free.push(slot);
                self.load.fetch_sub(1, Ordering::Relaxed);
                c.finish(Flow::Close);
                continue;
            }
            let sent = c.send_kept();
            let mut watching_out = false;
            if sent {
                self.watch_output(slot, &c, &mut watching_out);
            }
            slots[slot] = Some((c, watching_out));
            if !sent {
                self.retire(slots, free, slot, Flow::Close);
            }
        }
    }

    /// Watches EPOLLOUT exactly while output waits for the kernel.
    fn watch_output(&self, slot: usize, c: &Conn, watching_out: &mut bool) {
        let want_out = c.pending();
        if want_out != *watching_out {
            let mut interest = (libc::EPOLLIN | libc::EPOLLRDHUP) as u32;
            if want_out {
                interest |= libc::EPOLLOUT as u32;
            }
            self.ctl(
                libc::EPOLL_CTL_MOD,
                c.shared().sock.fd(),
                interest,
                slot as u64,
            );
            *watching_out = want_out;
        }
    }

    /// Takes a connection off the loop: to a thread of its own, or closed.
    fn retire(
        &self,
        slots: &mut [Option<(Conn, bool)>],
        free: &mut Vec<usize>,
        slot: usize,
        flow: Flow,
    ) {
        let (c, _) = slots[slot].take().expect("present");
        free.push(slot);
        self.load.fetch_sub(1, Ordering::Relaxed);
        self.ctl(libc::EPOLL_CTL_DEL, c.shared().sock.fd(), 0, 0);
        match flow {
            Flow::Migrate => {
                let (sh, probe) = (c.shared().clone(), c.block_probe());
                sh.settled.store(false, Ordering::Release);
                if let Some(h) = off_loop(c, "emberkv-conn", Conn::serve_thread) {
                    wait_settled(&sh, &probe, &h);
                    sh.listener.track(h);
                }
            }
            Flow::CloseAfterReply if c.pending() => {
                // The last replies are large or the reader slow: finish
                // writing them off the loop.
                let listener = c.shared().listener.clone();
                if let Some(h) = off_loop(c, "emberkv-close", |c| c.finish(Flow::CloseAfterReply)) {
                    listener.track(h);
                }
            }
            f => c.finish(f),
        }
    }
}

/// Runs `f(c)` on a new thread the listener joins at close; if no thread
/// can be had, the connection is closed.
/// Runs `f(c)` on a thread of its own: its handle, for the listener to track.
fn off_loop(c: Conn, name: &str, f: fn(Conn)) -> Option<JoinHandle<()>> {
    let cell = Arc::new(Mutex::new(Some(c)));
    let mine = cell.clone();
    let spawned = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            if let Some(c) = mine.lock().take() {
                f(c)
            }
        });
    match spawned {
        Ok(h) => Some(h),
        Err(_) => {
            if let Some(c) = cell.lock().take() {
                c.finish(Flow::Close);
            }
            None
        }
    }
}

/// A connection handed to its own thread for a command that may block:
/// the loop waits (briefly) until that thread has run it or is blocked in
/// it, queued behind its keys, so that commands of other connections that
/// arrived later (an LPUSH after two BRPOPLPUSH) find it blocked, in
/// arrival order, as in Redis, which runs them in order. (A command held
/// by CLIENT PAUSE is neither: the wait ends at its deadline.)
fn wait_settled(sh: &crate::conn::ConnShared, probe: &emberkv::BlockProbe, h: &JoinHandle<()>) {
    let deadline = Instant::now() + Duration::from_millis(20);
    while !sh.settled.load(Ordering::Acquire)
        && !probe.blocked()
        && !h.is_finished()
        && Instant::now() < deadline
    {
        std::thread::yield_now();
    }
}

/// A new epoll instance and a non-blocking eventfd to wake its waiter.
pub(crate) fn epoll_and_eventfd() -> std::io::Result<(RawFd, RawFd)> {
    // SAFETY: plain syscalls; results checked.
    unsafe {
        let epfd = libc::epoll_create1(libc::EPOLL_CLOEXEC);
        if epfd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let wakefd = libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC);
        if wakefd < 0 {
            let e = std::io::Error::last_os_error();
            libc::close(epfd);
            return Err(e);
        }
        Ok((epfd, wakefd))
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        // SAFETY: closing descriptors this Loop owns.
        unsafe {
            libc::close(self.wakefd);
            libc::close(self.epfd);
        }
    }
}
