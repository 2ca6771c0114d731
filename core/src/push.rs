//! `Outbox`: what the engine sends a client outside its command replies —
//! MONITOR lines and CLIENT TRACKING invalidations — queued until the
//! client's front end takes them (`Client::try_recv_push`).
//!
//! Producers are other clients' threads (the command being monitored, the
//! write that invalidates a key) and run inside the producer's shard locks:
//! pushing is one short mutex and a waker call, never a wait. The queue is
//! bounded: past `HARD_LIMIT` bytes it is cleared and marked overflowed,
//! and the front end closes the connection (Redis disconnects a client over
//! its output-buffer limit the same way).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use parking_lot::Mutex;

use crate::reply::Reply;

/// Bytes a slow reader may leave queued before it is cut off.
const HARD_LIMIT: usize = 256 * 1024 * 1024;

type Waker = Arc<dyn Fn() + Send + Sync>;

#[derive(Default)]
struct Queue {
    items: VecDeque<Reply>,
    /// Held until the reply of the client's running command is out (its
    /// own command's invalidations: Redis sends them after the reply).
    after: VecDeque<Reply>,
    bytes: usize,
}

/// One client's queue of out-of-band replies.
#[derive(Default)]
pub(crate) struct Outbox {
    q: Mutex<Queue>,
    /// Items queued, readable without the lock (an empty poll is one load).
    ready: AtomicUsize,
    overflowed: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Outbox {
    /// Queues `r` (costing about `cost` bytes) and rings the waker.
    pub fn push(&self, r: Reply, cost: usize) {
        self.push_as(r, cost, false)
    }

    /// `push`; `after_reply`: caused by the client's own running command,
    /// so it follows that command's reply.
    pub fn push_as(&self, r: Reply, cost: usize, after_reply: bool) {
        if self.overflowed.load(Ordering::Relaxed) {
            return;
        }
        {
            let mut q = self.q.lock();
            q.bytes += cost + 32;
            if q.bytes > HARD_LIMIT {
                q.items.clear();
                q.after.clear();
                q.bytes = 0;
                self.overflowed.store(true, Ordering::Release);
            } else if after_reply {
                q.after.push_back(r);
            } else {
                q.items.push_back(r);
            }
            self.ready
                .store(q.items.len() + q.after.len(), Ordering::Release);
        }
        let w = self.waker.lock().clone();
        if let Some(w) = w {
            w();
        }
    }

    /// The next item; `before_reply`: only those that go before the reply
    /// of the command just run.
    pub fn try_recv(&self, before_reply: bool) -> Option<Reply> {
        if self.ready.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut q = self.q.lock();
        let r = match q.items.pop_front() {
            Some(r) => Some(r),
            None if before_reply => None,
            None => q.after.pop_front(),
        };
        if q.items.is_empty() && q.after.is_empty() {
            q.bytes = 0;
        }
        self.ready
            .store(q.items.len() + q.after.len(), Ordering::Release);
        r
    }

    /// The reader fell too far behind and lost items: it must disconnect.
    pub fn overflowed(&self) -> bool {
        self.overflowed.load(Ordering::Acquire)
    }

    pub fn set_waker(&self, f: Waker) {
        *self.waker.lock() = Some(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queues_in_order_and_rings() {
        let o = Outbox::default();
        let rung = Arc::new(AtomicUsize::new(0));
        let r2 = rung.clone();
        o.set_waker(Arc::new(move || {
            r2.fetch_add(1, Ordering::Relaxed);
        }));
        assert!(o.try_recv(false).is_none());
        o.push(Reply::simple("a"), 1);
        o.push(Reply::simple("b"), 1);
        assert_eq!(rung.load(Ordering::Relaxed), 2);
        assert_eq!(o.try_recv(false), Some(Reply::simple("a")));
        assert_eq!(o.try_recv(false), Some(Reply::simple("b")));
        assert!(o.try_recv(false).is_none());
        o.push_as(Reply::simple("later"), 1, true);
        o.push(Reply::simple("now"), 1);
        assert_eq!(o.try_recv(true), Some(Reply::simple("now")));
        assert!(o.try_recv(true).is_none());
        assert_eq!(o.try_recv(false), Some(Reply::simple("later")));
    }

    #[test]
    fn overflow_drops_and_flags() {
        let o = Outbox::default();
        o.push(Reply::simple("x"), HARD_LIMIT + 1);
        assert!(o.overflowed());
        assert!(o.try_recv(false).is_none());
    }
}
