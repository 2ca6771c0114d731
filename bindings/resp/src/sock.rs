//! A connected socket (TCP or Unix) and the few system calls the
//! connection loop needs beyond std: non-blocking `send` without SIGPIPE,
//! `poll`, and `shutdown` from another thread.
//!
//! The socket stays in blocking mode: the loop's fast path is one blocking
//! `read` and one `send` per batch. Sends are always non-blocking
//! (`MSG_DONTWAIT`), so a slow reader never stalls the thread that serves
//! it; what the kernel does not take waits in the connection's output
//! buffer, under the output-buffer limits.

use std::io::{self, Read};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

pub(crate) enum Sock {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// What `poll` found.
#[derive(Default, Clone, Copy)]
pub(crate) struct Ready {
    pub read: bool,
    pub write: bool,
    /// The peer hung up or the socket failed.
    pub hup: bool,
}

impl Sock {
    pub fn fd(&self) -> RawFd {
        match self {
            Sock::Tcp(s) => s.as_raw_fd(),
            Sock::Unix(s) => s.as_raw_fd(),
        }
    }

    /// Blocking read.
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Sock::Tcp(s) => (&*s).read(buf),
            Sock::Unix(s) => (&*s).read(buf),
        }
    }

    /// Non-blocking read: `Ok(None)` when nothing is there.
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        // SAFETY: buf is valid for writes of buf.len() bytes; fd is open while self lives.
        let n = unsafe {
            libc::recv(
                self.fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if n >= 0 {
            return Ok(Some(n as usize));
        }
        let e = io::Error::last_os_error();
        match e.kind() {
            io::ErrorKind::WouldBlock => Ok(None),
            io::ErrorKind::Interrupted => Ok(None),
            _ => Err(e),
        }
    }

    /// Non-blocking send: bytes taken (0 when the kernel buffer is full).
    pub fn try_send(&self, data: &[u8]) -> io::Result<usize> {
        loop {
            // SAFETY: data is valid for reads of data.len() bytes; fd is open while self lives.
            let n = unsafe {
                libc::send(
                    self.fd(),
                    data.as_ptr().cast(),
                    data.len(),
                    libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                )
            };
            if n >= 0 {
                return Ok(n as usize);
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::WouldBlock => return Ok(0),
                io::ErrorKind::Interrupted => continue,
                _ => return Err(e),
            }
        }
    }

    /// Waits up to `timeout` for readability (and writability if asked).
    pub fn poll(&self, want_write: bool, timeout: Option<Duration>) -> Ready {
        poll_fd(self.fd(), want_write, timeout)
    }

    /// Wakes any thread blocked on this socket; the peer sees the close.
    pub fn shutdown(&self, how: Shutdown) {
        let _ = match self {
            Sock::Tcp(s) => s.shutdown(how),
            Sock::Unix(s) => s.shutdown(how),
        };
    }

    pub fn set_nodelay(&self) {
        if let Sock::Tcp(s) = self {
            let _ = s.set_nodelay(true);
        }
    }

    /// TCP keepalive probes after `secs` idle (`tcp-keepalive`; 0: off).
    pub fn set_keepalive(&self, secs: u64) {
        let Sock::Tcp(s) = self else { return };
        if secs == 0 {
            return;
        }
        let fd = s.as_raw_fd();
        let on: libc::c_int = 1;
        let idle = secs.min(i32::MAX as u64) as libc::c_int;
        let intvl = (idle / 3).max(1);
        let cnt: libc::c_int = 3;
        for (level, opt, v) in [
            (libc::SOL_SOCKET, libc::SO_KEEPALIVE, on),
            (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, idle),
            (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, intvl),
            (libc::IPPROTO_TCP, libc::TCP_KEEPCNT, cnt),
        ] {
            // SAFETY: v is a live c_int and its size is passed.
            unsafe {
                libc::setsockopt(
                    fd,
                    level,
                    opt,
                    (&v as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
        }
    }
}

/// `poll(2)` on one descriptor.
pub(crate) fn poll_fd(fd: RawFd, want_write: bool, timeout: Option<Duration>) -> Ready {
    poll_with_bell(fd, want_write, None, timeout).0
}

/// `poll(2)` on a socket and, optionally, a doorbell descriptor (readable
/// when rung). Returns the socket's readiness and whether the bell rang.
pub(crate) fn poll_with_bell(
    fd: RawFd,
    want_write: bool,
    bell: Option<RawFd>,
    timeout: Option<Duration>,
) -> (Ready, bool) {
    let mut events = libc::POLLIN | libc::POLLRDHUP;
    if want_write {
        events |= libc::POLLOUT;
    }
    let mut p = [
        libc::pollfd {
            fd,
            events,
            revents: 0,
        },
        libc::pollfd {
            fd: bell.unwrap_or(-1),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    let nfds = if bell.is_some() { 2 } else { 1 };
    let ms = timeout.map_or(-1, |d| d.as_millis().min(i32::MAX as u128) as libc::c_int);
    // SAFETY: `nfds` valid pollfds.
    let n = unsafe { libc::poll(p.as_mut_ptr(), nfds, ms) };
    if n <= 0 {
        return (Ready::default(), false);
    }
    let r = p[0].revents;
    (
        Ready {
            read: r & libc::POLLIN != 0,
            write: r & libc::POLLOUT != 0,
            hup: r & (libc::POLLHUP | libc::POLLERR | libc::POLLRDHUP) != 0,
        },
        bell.is_some() && p[1].revents != 0,
    )
}

/// Stops a thread blocked in `accept` on this listening descriptor (Linux
/// wakes it with an error).
pub(crate) fn shutdown_listener(fd: RawFd) {
    // SAFETY: plain syscall on a descriptor the caller keeps open.
    unsafe {
        libc::shutdown(fd, libc::SHUT_RDWR);
    }
}

/// Sets the listen backlog (`tcp-backlog`); calling listen again on a
/// listening socket only changes it.
pub(crate) fn set_backlog(fd: RawFd, backlog: i32) {
    // SAFETY: plain syscall on a descriptor the caller keeps open.
    unsafe {
        libc::listen(fd, backlog);
    }
}
