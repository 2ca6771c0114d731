//! Hang-ups of clients whose command blocks their thread (BLPOP & co.,
//! scripts, DEBUG SLEEP): Redis frees such a client as soon as its socket
//! closes, so a test that closes a blocked client and then counts
//! `blocked_clients` sees it gone. A connection thread about to run such a
//! command registers its socket here (EPOLLRDHUP, one shot) and removes it
//! after; this thread kills and unblocks the client the moment the peer
//! hangs up. The cron's 100 ms sweep (`server.rs`) stays as a fallback.

use std::os::fd::RawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::server::Shared;

const WAKE: u64 = u64::MAX;

pub(crate) struct HupWatch {
    epfd: RawFd,
    wakefd: RawFd,
    stop: AtomicBool,
}

impl HupWatch {
    pub fn new() -> std::io::Result<HupWatch> {
        let (epfd, wakefd) = crate::evloop::epoll_and_eventfd()?;
        let w = HupWatch {
            epfd,
            wakefd,
            stop: AtomicBool::new(false),
        };
        w.ctl(libc::EPOLL_CTL_ADD, wakefd, libc::EPOLLIN as u32, WAKE);
        Ok(w)
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, events: u32, token: u64) -> bool {
        let mut ev = libc::epoll_event { events, u64: token };
        // SAFETY: valid epoll descriptor and event.
        unsafe { libc::epoll_ctl(self.epfd, op, fd, &mut ev) == 0 }
    }

    /// Watches connection `id`'s socket `fd` until `unwatch`: a hang-up
    /// already there is reported at once.
    pub fn watch(&self, fd: RawFd, id: u64) {
        let ev = (libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLONESHOT) as u32;
        self.ctl(libc::EPOLL_CTL_ADD, fd, ev, id);
    }

    pub fn unwatch(&self, fd: RawFd) {
        self.ctl(libc::EPOLL_CTL_DEL, fd, 0, 0);
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        let one: u64 = 1;
        // SAFETY: writes 8 bytes to the eventfd.
        unsafe {
            libc::write(self.wakefd, (&one as *const u64).cast(), 8);
        }
    }

    /// The watching thread's loop, until `stop`.
    pub fn run(sh: Arc<Shared>) {
        let w = &sh.hup;
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 64];
        // hung up, command still running: CLIENT UNBLOCK until it took (the
        // command may not have reached its wait yet) or the command ended
        let mut pending: Vec<u64> = Vec::new();
        while !w.stop.load(Ordering::Acquire) {
            let timeout = if pending.is_empty() { -1 } else { 10 };
            // SAFETY: `events` has room for `len` entries.
            let n = unsafe {
                libc::epoll_wait(
                    w.epfd,
                    events.as_mut_ptr(),
                    events.len() as libc::c_int,
                    timeout,
                )
            };
            for ev in &events[..n.max(0) as usize] {
                let id = ev.u64;
                if id != WAKE && !pending.contains(&id) {
                    pending.push(id);
                }
            }
            pending.retain(|&id| {
                let Some(c) = sh.conns.lock().get(&id).cloned() else {
                    return false;
                };
                // a command that ended: the connection thread sees the hang-up
                if c.busy_since_ms.load(Ordering::Acquire) == 0 {
                    return false;
                }
                c.kill();
                crate::server::unblock(&sh.db, id) != emberkv::Reply::Int(1)
            });
        }
    }
}

impl Drop for HupWatch {
    fn drop(&mut self) {
        // SAFETY: descriptors this value owns.
        unsafe {
            libc::close(self.epfd);
            libc::close(self.wakefd);
        }
    }
}
