//! Pub/sub: channels, patterns and shard channels, the subscription object,
//! and keyspace notifications (published through the same registry).
//!
//! Rules for whoever changes this:
//! - Publishing only appends to subscriber queues (a short mutex each); it
//!   never runs user code. Callbacks run on a per-subscription delivery
//!   thread, outside every engine lock.
//! - Each queue is bounded by `client-output-buffer-limit pubsub` (hard
//!   bytes, soft bytes for N seconds). Past it the subscription is closed and
//!   its owner is told why (`ErrorKind::Overflow`); the publisher never
//!   blocks and nothing is dropped silently.
//! - Messages from one publisher reach a subscriber in publish order.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hashbrown::{HashMap, HashSet};
use parking_lot::{Condvar, Mutex, RwLock};

use crate::error::{Error, ErrorKind};
use crate::reply::Reply;
use crate::util::glob::glob_match;

/// What a pub/sub message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageKind {
    Subscribe,
    Unsubscribe,
    PSubscribe,
    PUnsubscribe,
    SSubscribe,
    SUnsubscribe,
    Message,
    PMessage,
    SMessage,
}

impl MessageKind {
    pub fn name(self) -> &'static str {
        match self {
            MessageKind::Subscribe => "subscribe",
            MessageKind::Unsubscribe => "unsubscribe",
            MessageKind::PSubscribe => "psubscribe",
            MessageKind::PUnsubscribe => "punsubscribe",
            MessageKind::SSubscribe => "ssubscribe",
            MessageKind::SUnsubscribe => "sunsubscribe",
            MessageKind::Message => "message",
            MessageKind::PMessage => "pmessage",
            MessageKind::SMessage => "smessage",
        }
    }
}

/// One message delivered to a subscription: a published message or a
/// (un)subscribe confirmation (`count` = subscriptions held afterwards).
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub kind: MessageKind,
    pub pattern: Option<Vec<u8>>,
    pub channel: Vec<u8>,
    pub payload: Vec<u8>,
    pub count: i64,
}

impl Message {
    /// Redis's push shape for this message.
    pub fn to_reply(&self) -> Reply {
        let kind = Reply::bulk(self.kind.name());
        Reply::Push(match self.kind {
            MessageKind::Message | MessageKind::SMessage => {
                vec![kind, Reply::bulk(&self.channel), Reply::bulk(&self.payload)]
            }
            MessageKind::PMessage => vec![
                kind,
                Reply::bulk(self.pattern.as_deref().unwrap_or_default()),
                Reply::bulk(&self.channel),
                Reply::bulk(&self.payload),
            ],
            _ => {
                // Unsubscribing from nothing names no channel.
                let ch = if self.channel.is_empty()
                    && self.count == 0
                    && self.pattern.is_none()
                    && is_unsub(self.kind)
                {
                    Reply::Nil
                } else {
                    Reply::bulk(&self.channel)
                };
                vec![kind, ch, Reply::Int(self.count)]
            }
        })
    }

    fn cost(&self) -> usize {
        self.channel.len() + self.payload.len() + self.pattern.as_ref().map_or(0, |p| p.len()) + 64
    }
}

fn is_unsub(k: MessageKind) -> bool {
    matches!(
        k,
        MessageKind::Unsubscribe | MessageKind::PUnsubscribe | MessageKind::SUnsubscribe
    )
}

type Callback = Arc<dyn Fn(Message) + Send + Sync>;

/// Output-buffer limits for subscribers (bytes; soft limit for `soft_secs`).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub hard: usize,
    pub soft: usize,
    pub soft_secs: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            hard: 32 * 1024 * 1024,
            soft: 8 * 1024 * 1024,
            soft_secs: 60,
        }
    }
}

struct Queue {
    msgs: VecDeque<Message>,
    bytes: usize,
    closed: Option<Error>,
    soft_since: Option<Instant>,
    callback: Option<Callback>,
    /// A delivery thread is running for the callback.
    delivering: bool,
}

/// The shared half of a subscription (held by the registry).
pub(crate) struct Subscriber {
    q: Mutex<Queue>,
    cv: Condvar,
    /// Messages queued (or closed), readable without the lock: lets a
    /// consumer spin briefly instead of sleeping, so a steady stream does
    /// not cost a futex wake per message.
    ready: AtomicUsize,
    /// Consumers asleep on `cv`: publishers skip the wake-up when zero.
    sleepers: AtomicUsize,
    subs: Mutex<Subs>,
    limits: Limits,
    /// `Subscription::set_waker`: rung after every queued message and on close.
    waker: std::sync::OnceLock<Waker>,
}

type Waker = Arc<dyn Fn() + Send + Sync>;

/// How long a consumer keeps yielding for a message before it sleeps.
const SPIN_BUDGET: Duration = Duration::from_micros(50);

impl Subs {
    fn set_mut(&mut self, class: Class) -> &mut HashSet<Vec<u8>> {
        match class {
            Class::Channel => &mut self.channels,
            Class::Pattern => &mut self.patterns,
            Class::Shard => &mut self.shard,
        }
    }

    /// The count a confirmation reports: shard channels count apart.
    fn count_for(&self, class: Class) -> i64 {
        match class {
            Class::Shard => self.shard.len() as i64,
            _ => (self.channels.len() + self.patterns.len()) as i64,
        }
    }
}

/// A (un)subscribe confirmation, returned to the caller or queued.
fn confirm(
    sub: &Subscriber,
    out: &mut Option<&mut Vec<Message>>,
    kind: MessageKind,
    channel: Vec<u8>,
    count: i64,
) {
    let m = Message {
        kind,
        pattern: None,
        channel,
        payload: Vec::new(),
        count,
    };
    match out.as_deref_mut() {
        Some(v) => v.push(m),
        None => {
            sub.push(m);
        }
    }
}

#[derive(Default)]
struct Subs {
    channels: HashSet<Vec<u8>>,
    patterns: HashSet<Vec<u8>>,
    shard: HashSet<Vec<u8>>,
}

impl Subscriber {
    /// Queues a message; false if the subscription is (now) closed.
    fn push(&self, m: Message) -> bool {
        let mut q = self.q.lock();
        if q.closed.is_some() {
            return false;
        }
        q.bytes += m.cost();
        q.msgs.push_back(m);
        let l = self.limits;
        let over_hard = l.hard > 0 && q.bytes > l.hard;
        let over_soft = l.soft > 0 && q.bytes > l.soft;
        let mut overflow = over_hard;
        if over_soft {
            let since = *q.soft_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= Duration::from_secs(l.soft_secs) {
                overflow = true;
            }
        } else {
            q.soft_since = None;
        }
        if overflow {
            q.closed = Some(Error::new(
                ErrorKind::Overflow,
                format!(
                    "subscription closed: {} bytes pending exceed client-output-buffer-limit pubsub ({} {} {})",
                    q.bytes, l.hard, l.soft, l.soft_secs
                ),
            ));
            q.msgs.clear();
            q.bytes = 0;
        }
        self.ready.store(
            q.msgs.len() + q.closed.is_some() as usize,
            Ordering::Release,
        );
        drop(q);
        self.wake();
        if let Some(w) = self.waker.get() {
            w();
        }
        !overflow
    }

    fn wake(&self) {
        if self.sleepers.load(Ordering::Acquire) > 0 {
            self.cv.notify_all();
        }
    }

    /// Spins for a message before the caller sleeps: a few µs of busy
    /// waiting, then yielding until [`SPIN_BUDGET`] has passed. Sleeping on
    /// the condvar costs a futex wake per message and, on a virtual machine
    /// whose idle vCPU halts, a wake-up that can take milliseconds; a
    /// consumer that keeps yielding for a short while after each message
    /// stays on its CPU while a steady stream flows, and gives the CPU away
    /// to anything runnable meanwhile.
    fn spin(&self) {
        for _ in 0..64 {
            if self.ready.load(Ordering::Acquire) > 0 {
                return;
            }
            std::hint::spin_loop();
        }
        let start = Instant::now();
        loop {
            for _ in 0..16 {
                if self.ready.load(Ordering::Acquire) > 0 {
                    return;
                }
                std::thread::yield_now();
            }
            if start.elapsed() >= SPIN_BUDGET {
                return;
            }
        }
    }

    /// Sleeps on the condvar (until `deadline`); true if it timed out.
    fn sleep(&self, q: &mut parking_lot::MutexGuard<'_, Queue>, deadline: Option<Instant>) -> bool {
        self.sleepers.fetch_add(1, Ordering::AcqRel);
        // re-check under the lock after announcing ourselves: no lost wake-up
        let timed_out = if !q.msgs.is_empty() || q.closed.is_some() {
            false
        } else {
            match deadline {
                Some(d) => self.cv.wait_until(q, d).timed_out(),
                None => {
                    self.cv.wait(q);
                    false
                }
            }
        };
        self.sleepers.fetch_sub(1, Ordering::AcqRel);
        timed_out
    }

    /// Ends the subscription (keeping an earlier reason, e.g. an overflow)
    /// and wakes whoever waits on it.
    pub(crate) fn shut(&self, reason: Error) {
        let mut q = self.q.lock();
        if q.closed.is_none() {
            q.closed = Some(reason);
        }
        q.callback = None;
        self.ready.store(q.msgs.len() + 1, Ordering::Release);
        drop(q);
        self.cv.notify_all();
        if let Some(w) = self.waker.get() {
            w();
        }
    }

    /// Whether `allowed(name, is_pattern)` holds for every channel, pattern
    /// and shard channel held.
    pub fn all_held(&self, allowed: impl Fn(&[u8], bool) -> bool) -> bool {
        let s = self.subs.lock();
        s.channels.iter().chain(&s.shard).all(|c| allowed(c, false))
            && s.patterns.iter().all(|p| allowed(p, true))
    }

    /// (channels, patterns, shard channels) held.
    pub fn counts(&self) -> [usize; 3] {
        let s = self.subs.lock();
        [s.channels.len(), s.patterns.len(), s.shard.len()]
    }

    /// Channels + patterns + shard channels held.
    pub fn total(&self) -> usize {
        let s = self.subs.lock();
        s.channels.len() + s.patterns.len() + s.shard.len()
    }
}

/// Channel → subscribers, pattern → subscribers, shard channel → subscribers.
#[derive(Default)]
pub(crate) struct Registry {
    channels: HashMap<Vec<u8>, Vec<Arc<Subscriber>>>,
    patterns: HashMap<Vec<u8>, Vec<Arc<Subscriber>>>,
    shard: HashMap<Vec<u8>, Vec<Arc<Subscriber>>>,
}

#[derive(Default)]
pub(crate) struct PubSub {
    reg: RwLock<Registry>,
    /// Every subscription made (subscribed to something or not), so closing
    /// the Db can close them all.
    all: Mutex<Vec<std::sync::Weak<Subscriber>>>,
}

#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Class {
    Channel,
    Pattern,
    Shard,
}

impl PubSub {
    pub fn new_subscriber(&self, limits: Limits) -> Arc<Subscriber> {
        let sub = Arc::new(Subscriber {
            q: Mutex::new(Queue {
                msgs: VecDeque::new(),
                bytes: 0,
                closed: None,
                soft_since: None,
                callback: None,
                delivering: false,
            }),
            cv: Condvar::new(),
            ready: AtomicUsize::new(0),
            sleepers: AtomicUsize::new(0),
            subs: Mutex::new(Subs::default()),
            limits,
            waker: std::sync::OnceLock::new(),
        });
        let mut all = self.all.lock();
        if all.len() >= 64 && all.len().is_power_of_two() {
            all.retain(|w| w.strong_count() > 0);
        }
        all.push(Arc::downgrade(&sub));
        sub
    }

    /// Closing the Db: every subscription is unsubscribed and ends, its
    /// `recv` returning a Closed error ("the database is closed").
    pub fn close_all(&self) {
        let subs: Vec<Arc<Subscriber>> = std::mem::take(&mut *self.all.lock())
            .iter()
            .filter_map(std::sync::Weak::upgrade)
            .collect();
        for sub in subs {
            self.forget(&sub);
            sub.shut(Error::new(ErrorKind::Closed, "the database is closed"));
        }
    }

    /// PUBLISH: the number of deliveries (channel subscribers plus pattern
    /// matches). Subscribers that overflow are dropped from the registry.
    pub fn publish(&self, channel: &[u8], payload: &[u8]) -> i64 {
        let mut dead = Vec::new();
        let mut n = 0;
        {
            let reg = self.reg.read();
            let mut deliver = |s: &Arc<Subscriber>, m: Message| {
                if s.push(m) {
                    n += 1;
                } else {
                    dead.push(s.clone());
                }
            };
            if let Some(subs) = reg.channels.get(channel) {
                for s in subs {
                    let m = Message {
                        kind: MessageKind::Message,
                        pattern: None,
                        channel: channel.to_vec(),
                        payload: payload.to_vec(),
                        count: 0,
                    };
                    deliver(s, m);
                }
            }
            for (pat, subs) in reg.patterns.iter() {
                if glob_match(pat, channel) {
                    for s in subs {
                        let m = Message {
                            kind: MessageKind::PMessage,
                            pattern: Some(pat.clone()),
                            channel: channel.to_vec(),
                            payload: payload.to_vec(),
                            count: 0,
                        };
                        deliver(s, m);
                    }
                }
            }
        }
        for s in dead {
            self.forget(&s);
        }
        n
    }

    /// SPUBLISH.
    pub fn spublish(&self, channel: &[u8], payload: &[u8]) -> i64 {
        let mut dead = Vec::new();
        let mut n = 0;
        {
            let reg = self.reg.read();
            if let Some(subs) = reg.shard.get(channel) {
                for s in subs {
                    let m = Message {
                        kind: MessageKind::SMessage,
                        pattern: None,
                        channel: channel.to_vec(),
                        payload: payload.to_vec(),
                        count: 0,
                    };
                    if s.push(m) {
                        n += 1;
                    } else {
                        dead.push(s.clone());
                    }
                }
            }
        }
        for s in dead {
            self.forget(&s);
        }
        n
    }

    fn map(reg: &mut Registry, class: Class) -> &mut HashMap<Vec<u8>, Vec<Arc<Subscriber>>> {
        match class {
            Class::Channel => &mut reg.channels,
            Class::Pattern => &mut reg.patterns,
            Class::Shard => &mut reg.shard,
        }
    }

    pub(crate) fn subscribe_generic(
        &self,
        sub: &Arc<Subscriber>,
        names: &[&[u8]],
        class: Class,
        mut out: Option<&mut Vec<Message>>,
    ) {
        let kind = match class {
            Class::Channel => MessageKind::Subscribe,
            Class::Pattern => MessageKind::PSubscribe,
            Class::Shard => MessageKind::SSubscribe,
        };
        let mut reg = self.reg.write();
        for name in names {
            let added = sub.subs.lock().set_mut(class).insert(name.to_vec());
            if added {
                Self::map(&mut reg, class)
                    .entry(name.to_vec())
                    .or_default()
                    .push(sub.clone());
            }
            let count = sub.subs.lock().count_for(class);
            confirm(sub, &mut out, kind, name.to_vec(), count);
        }
    }

    pub(crate) fn unsubscribe_generic(
        &self,
        sub: &Arc<Subscriber>,
        names: &[&[u8]],
        class: Class,
        mut out: Option<&mut Vec<Message>>,
    ) {
        let kind = match class {
            Class::Channel => MessageKind::Unsubscribe,
            Class::Pattern => MessageKind::PUnsubscribe,
            Class::Shard => MessageKind::SUnsubscribe,
        };
        let mut reg = self.reg.write();
        let names: Vec<Vec<u8>> = if names.is_empty() {
            let mut s = sub.subs.lock();
            let mut v: Vec<Vec<u8>> = s.set_mut(class).iter().cloned().collect();
            v.sort();
            v
        } else {
            names.iter().map(|n| n.to_vec()).collect()
        };
        if names.is_empty() {
            let count = sub.subs.lock().count_for(class);
            confirm(sub, &mut out, kind, Vec::new(), count);
            return;
        }
        for name in names {
            let removed = sub.subs.lock().set_mut(class).remove(&name);
            if removed {
                let map = Self::map(&mut reg, class);
                if let Some(list) = map.get_mut(&name) {
                    list.retain(|s| !Arc::ptr_eq(s, sub));
                    if list.is_empty() {
                        map.remove(&name);
                    }
                }
            }
            let count = sub.subs.lock().count_for(class);
            confirm(sub, &mut out, kind, name, count);
        }
    }

    /// Removes a subscriber from every channel and pattern (close/drop).
    pub fn forget(&self, sub: &Arc<Subscriber>) {
        let mut reg = self.reg.write();
        let s = std::mem::take(&mut *sub.subs.lock());
        for (class, set) in [
            (Class::Channel, s.channels),
            (Class::Pattern, s.patterns),
            (Class::Shard, s.shard),
        ] {
            let map = Self::map(&mut reg, class);
            for name in set {
                if let Some(list) = map.get_mut(&name) {
                    list.retain(|x| !Arc::ptr_eq(x, sub));
                    if list.is_empty() {
                        map.remove(&name);
                    }
                }
            }
        }
    }

    /// PUBSUB CHANNELS / SHARDCHANNELS.
    pub fn active_channels(&self, pattern: Option<&[u8]>, shard: bool) -> Vec<Vec<u8>> {
        let reg = self.reg.read();
        let map = if shard { &reg.shard } else { &reg.channels };
        map.keys()
            .filter(|c| pattern.is_none_or(|p| glob_match(p, c)))
            .cloned()
            .collect()
    }

    /// PUBSUB NUMSUB / SHARDNUMSUB.
    pub fn numsub(&self, channel: &[u8], shard: bool) -> usize {
        let reg = self.reg.read();
        let map = if shard { &reg.shard } else { &reg.channels };
        map.get(channel).map_or(0, |v| v.len())
    }

    /// PUBSUB NUMPAT: patterns with at least one subscriber.
    pub fn numpat(&self) -> usize {
        self.reg.read().patterns.len()
    }

    /// Subscribers with at least one subscription (INFO pubsub_clients).
    pub fn channel_count(&self) -> (usize, usize) {
        let reg = self.reg.read();
        (reg.channels.len(), reg.patterns.len())
    }
}

/// A subscription: a queue of messages for the channels and patterns it
/// holds. `Send + Sync`; methods take `&self`. Dropping it unsubscribes.
pub struct Subscription {
    ps: Arc<PubSub>,
    pub(crate) sub: Arc<Subscriber>,
}

impl Subscription {
    pub(crate) fn new(ps: Arc<PubSub>, limits: Limits) -> Subscription {
        let sub = ps.new_subscriber(limits);
        Subscription { ps, sub }
    }

    fn names<A: AsRef<[u8]>>(v: &[A]) -> Vec<&[u8]> {
        v.iter().map(|a| a.as_ref()).collect()
    }

    pub fn subscribe<A: AsRef<[u8]>>(&self, channels: &[A]) {
        self.ps
            .subscribe_generic(&self.sub, &Self::names(channels), Class::Channel, None)
    }
    pub fn psubscribe<A: AsRef<[u8]>>(&self, patterns: &[A]) {
        self.ps
            .subscribe_generic(&self.sub, &Self::names(patterns), Class::Pattern, None)
    }
    pub fn ssubscribe<A: AsRef<[u8]>>(&self, channels: &[A]) {
        self.ps
            .subscribe_generic(&self.sub, &Self::names(channels), Class::Shard, None)
    }
    /// An empty slice unsubscribes from every channel.
    pub fn unsubscribe<A: AsRef<[u8]>>(&self, channels: &[A]) {
        self.ps
            .unsubscribe_generic(&self.sub, &Self::names(channels), Class::Channel, None)
    }
    pub fn punsubscribe<A: AsRef<[u8]>>(&self, patterns: &[A]) {
        self.ps
            .unsubscribe_generic(&self.sub, &Self::names(patterns), Class::Pattern, None)
    }
    pub fn sunsubscribe<A: AsRef<[u8]>>(&self, channels: &[A]) {
        self.ps
            .unsubscribe_generic(&self.sub, &Self::names(channels), Class::Shard, None)
    }

    /// Channels, patterns and shard channels held.
    pub fn channel_count(&self) -> usize {
        self.sub.total()
    }

    fn take(&self, q: &mut Queue) -> Option<Message> {
        let m = q.msgs.pop_front()?;
        q.bytes -= m.cost();
        self.sub.ready.store(
            q.msgs.len() + q.closed.is_some() as usize,
            Ordering::Release,
        );
        Some(m)
    }

    /// The next message, waiting as long as needed.
    pub fn recv(&self) -> Result<Message, Error> {
        self.sub.spin();
        let mut q = self.sub.q.lock();
        loop {
            if let Some(m) = self.take(&mut q) {
                return Ok(m);
            }
            if let Some(e) = &q.closed {
                return Err(e.clone());
            }
            self.sub.sleep(&mut q, None);
        }
    }

    /// The next message, or `None` after `d` without one.
    pub fn recv_timeout(&self, d: Duration) -> Result<Option<Message>, Error> {
        let deadline = Instant::now() + d;
        self.sub.spin();
        let mut q = self.sub.q.lock();
        loop {
            if let Some(m) = self.take(&mut q) {
                return Ok(Some(m));
            }
            if let Some(e) = &q.closed {
                return Err(e.clone());
            }
            if self.sub.sleep(&mut q, Some(deadline)) {
                return Ok(self.take(&mut q));
            }
        }
    }

    /// The next message if one is queued.
    pub fn try_recv(&self) -> Result<Option<Message>, Error> {
        if self.sub.ready.load(Ordering::Acquire) == 0 {
            return Ok(None);
        }
        let mut q = self.sub.q.lock();
        match self.take(&mut q) {
            Some(m) => Ok(Some(m)),
            None => match &q.closed {
                Some(e) => Err(e.clone()),
                None => Ok(None),
            },
        }
    }

    /// Push mode: `f` is called for every message (queued ones first) on a
    /// delivery thread of this subscription, never under an engine lock.
    /// After an overflow or close, `f` is not called again.
    /// Pull mode for event loops that wait on their own descriptors: `f`
    /// is called right after a message is queued (on the publishing
    /// thread, so before PUBLISH returns) and when the subscription closes
    /// or overflows; the loop then takes messages with `try_recv`. `f` must
    /// be quick and must not call into the engine. Set at most once: later
    /// calls are ignored.
    pub fn set_waker(&self, f: impl Fn() + Send + Sync + 'static) {
        let _ = self.sub.waker.set(Arc::new(f));
    }

    pub fn set_callback(&self, f: impl Fn(Message) + Send + Sync + 'static) {
        let mut q = self.sub.q.lock();
        q.callback = Some(Arc::new(f));
        if q.delivering {
            self.sub.cv.notify_all();
            return;
        }
        q.delivering = true;
        drop(q);
        let sub = self.sub.clone();
        let _ = std::thread::Builder::new()
            .name("emberkv-pubsub".into())
            .spawn(move || deliver(sub));
    }

    /// Unsubscribes from everything and wakes any waiting `recv`.
    pub fn close(&self) {
        self.ps.forget(&self.sub);
        self.sub
            .shut(Error::new(ErrorKind::Closed, "subscription closed"));
    }

    /// Whether the subscription was closed (by `close` or an overflow), and why.
    pub fn closed_reason(&self) -> Option<Error> {
        self.sub.q.lock().closed.clone()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.close();
    }
}

fn deliver(sub: Arc<Subscriber>) {
    loop {
        let (batch, cb) = {
            sub.spin();
            let mut q = sub.q.lock();
            loop {
                if q.callback.is_none() || (q.closed.is_some() && q.msgs.is_empty()) {
                    q.delivering = false;
                    return;
                }
                if !q.msgs.is_empty() {
                    break;
                }
                sub.sleep(&mut q, None);
            }
            let batch: Vec<Message> = q.msgs.drain(..).collect();
            q.bytes = 0;
            sub.ready
                .store(q.closed.is_some() as usize, Ordering::Release);
            (batch, q.callback.clone().expect("checked"))
        };
        for m in batch {
            cb(m);
        }
    }
}

/// Keyspace notification channels for one event.
pub(crate) fn notify(ps: &PubSub, flags: u32, event: &str, db: usize, key: &[u8]) {
    use crate::notify::{KEYEVENT, KEYSPACE};
    if flags & KEYSPACE != 0 {
        let mut ch = format!("__keyspace@{db}__:").into_bytes();
        ch.extend_from_slice(key);
        ps.publish(&ch, event.as_bytes());
    }
    if flags & KEYEVENT != 0 {
        let ch = format!("__keyevent@{db}__:{event}").into_bytes();
        ps.publish(&ch, key);
    }
}
