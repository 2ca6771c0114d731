//! The keyspace: every database's key → value map, split into shards that
//! are locked independently, and each shard's part of a database split again
//! into fixed slots.
//!
//! Rules for whoever changes this:
//! - A key's shard and slot depend only on its hash (bits 40..50), never on
//!   table sizes, so SCAN can walk slots in order and return every key that
//!   existed throughout, whatever the tables do meanwhile.
//! - A shard holds its slice of *all* databases, so one lock covers a key in
//!   every database (MOVE, COPY … DB, SWAPDB need no extra locking).
//! - Locks are always taken in ascending shard order (see `commands::ctx`).
//! - Deadlines live twice: `expires` (key → ms) for lookups and `deadlines`
//!   (ordered) so active expiry finds due keys without scanning.

use std::collections::BTreeSet;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU32, Ordering};

use hashbrown::HashMap;
use parking_lot::RwLock;

use crate::types::{Key, Value};

mod table;
use table::Table;

pub const NSHARDS: usize = 16;
pub const SLOTS_PER_SHARD: usize = 64;
/// Slots per database: SCAN's cursor space.
pub const SLOTS: usize = NSHARDS * SLOTS_PER_SHARD;

/// One stored key.
pub struct Entry {
    pub key: Key,
    pub val: Value,
    /// Last access, unix seconds of the engine's coarse clock (OBJECT
    /// IDLETIME); 0: not accessed since the engine opened (loaded keys).
    /// Atomic because reads under a shared lock update it.
    atime: AtomicU32,
    /// The low 32 bits of the key's hash (see `table.rs`); fills what would
    /// be padding.
    tag: u32,
}

impl Clone for Entry {
    fn clone(&self) -> Entry {
        Entry {
            key: self.key.clone(),
            val: self.val.clone(),
            atime: AtomicU32::new(self.atime()),
            tag: self.tag,
        }
    }
}

impl Entry {
    /// Records an access at `now_s`. Written only when the second changed,
    /// so threads reading a hot key do not keep stealing its cache line.
    #[inline]
    pub fn touch(&self, now_s: u32) {
        if self.atime.load(Ordering::Relaxed) != now_s {
            self.atime.store(now_s, Ordering::Relaxed);
        }
    }

    #[inline]
    pub fn atime(&self) -> u32 {
        self.atime.load(Ordering::Relaxed)
    }
}

#[inline]
pub fn shard_of(h: u64) -> usize {
    ((h >> 46) as usize) & (NSHARDS - 1)
}

#[inline]
pub fn slot_of(h: u64) -> usize {
    ((h >> 40) as usize) & (SLOTS_PER_SHARD - 1)
}

#[inline]
fn tag(h: u64) -> u32 {
    h as u32
}

/// One slot: its entries in a [`Table`] (one memory miss per lookup).
type Slot = Table;

/// One slot's keys and their deadlines as they were when a snapshot began
/// (`persist/snapshot.rs`).
pub struct SlotCopy {
    slot: Slot,
    expires: Vec<(Key, u64)>,
}

/// One database's keys within one shard.
#[derive(Default)]
pub struct DbPart {
    slots: Vec<Slot>,
    expires: HashMap<Key, u64>,
    deadlines: BTreeSet<(u64, Key)>,
    len: usize,
}

impl DbPart {
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn expires_len(&self) -> usize {
        self.expires.len()
    }

    #[inline]
    pub fn get(&self, h: u64, key: &[u8]) -> Option<&Entry> {
        let slot = self.slots.get(slot_of(h))?;
        slot.find(tag(h), key).map(|p| slot.get(p))
    }

    #[inline]
    pub fn get_mut(&mut self, h: u64, key: &[u8]) -> Option<&mut Entry> {
        let slot = self.slots.get_mut(slot_of(h))?;
        let p = slot.find(tag(h), key)?;
        Some(slot.get_mut(p))
    }

    /// Inserts or overwrites the value; the deadline, if any, is kept (callers
    /// clear it where Redis does). The entry counts as not accessed since
    /// the engine opened (see `Entry::atime`).
    pub fn insert(&mut self, h: u64, key: &[u8], val: Value) -> Option<Value> {
        self.insert_at(h, key, val, 0)
    }

    /// `insert`, recording an access at `atime` (unix seconds).
    pub fn insert_at(&mut self, h: u64, key: &[u8], val: Value, atime: u32) -> Option<Value> {
        if self.slots.is_empty() {
            self.slots.resize_with(SLOTS_PER_SHARD, Slot::default);
        }
        let slot = &mut self.slots[slot_of(h)];
        if let Some(p) = slot.find(tag(h), key) {
            let e = slot.get_mut(p);
            *e.atime.get_mut() = atime;
            return Some(std::mem::replace(&mut e.val, val));
        }
        slot.insert(Entry {
            key: Key::new(key),
            val,
            atime: AtomicU32::new(atime),
            tag: tag(h),
        });
        self.len += 1;
        None
    }

    /// Removes the key and its deadline.
    pub fn remove(&mut self, h: u64, key: &[u8]) -> Option<Entry> {
        let slot = self.slots.get_mut(slot_of(h))?;
        let p = slot.find(tag(h), key)?;
        let entry = slot.remove_at(p);
        self.len -= 1;
        self.remove_expire(key);
        Some(entry)
    }

    #[inline]
    pub fn expire_of(&self, key: &[u8]) -> Option<u64> {
        if self.expires.is_empty() {
            return None;
        }
        self.expires.get(key).copied()
    }

    pub fn set_expire(&mut self, key: &[u8], at: u64) {
        let k = Key::new(key);
        if let Some(old) = self.expires.insert(k.clone(), at) {
            self.deadlines.remove(&(old, k.clone()));
        }
        self.deadlines.insert((at, k));
    }

    /// Clears the deadline; true if there was one.
    #[inline]
    pub fn remove_expire(&mut self, key: &[u8]) -> bool {
        !self.expires.is_empty() && self.remove_expire_slow(key)
    }

    fn remove_expire_slow(&mut self, key: &[u8]) -> bool {
        match self.expires.remove_entry(key) {
            Some((k, at)) => {
                self.deadlines.remove(&(at, k));
                true
            }
            None => false,
        }
    }

    /// The earliest deadline at or before `now`, if any.
    pub fn first_due(&self, now: u64) -> Option<(u64, &Key)> {
        self.deadlines
            .first()
            .filter(|(at, _)| *at <= now)
            .map(|(at, k)| (*at, k))
    }

    /// Up to `n` keys with a deadline, in deadline order from the first at
    /// or after `from`, wrapping round to the earliest: eviction's sample of
    /// volatile keys (`evict.rs`).
    pub fn volatile_from(&self, from: u64, n: usize) -> impl Iterator<Item = (u64, &Key)> {
        let start = (from, Key::new(b""));
        self.deadlines
            .range(start..)
            .chain(self.deadlines.iter())
            .take(n.min(self.deadlines.len()))
            .map(|(at, k)| (*at, k))
    }

    /// The earliest and latest deadlines, if any key has one.
    pub fn deadline_span(&self) -> Option<(u64, u64)> {
        Some((self.deadlines.first()?.0, self.deadlines.last()?.0))
    }

    /// Entries of slot `slot` (`0..SLOTS_PER_SHARD`).
    pub fn slot_entries(&self, slot: usize) -> impl Iterator<Item = &Entry> {
        self.slots.get(slot).into_iter().flat_map(|t| t.iter())
    }

    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.slots.iter().flat_map(|t| t.iter())
    }

    /// The `n`-th entry in slot order (`n < len`).
    pub fn nth(&self, mut n: usize) -> Option<&Entry> {
        for t in &self.slots {
            if n < t.len() {
                return t.iter().nth(n);
            }
            n -= t.len();
        }
        None
    }

    /// Bit `s` set for every slot holding keys.
    pub fn occupied_slots(&self) -> u64 {
        let mut bits = 0u64;
        for (s, t) in self.slots.iter().enumerate() {
            if t.len() > 0 {
                bits |= 1 << s;
            }
        }
        bits
    }

    /// A copy of slot `s`'s keys, values and deadlines.
    pub fn copy_slot(&self, s: usize) -> SlotCopy {
        let Some(slot) = self.slots.get(s) else {
            return SlotCopy {
                slot: Slot::default(),
                expires: Vec::new(),
            };
        };
        let expires = if self.expires.is_empty() {
            Vec::new()
        } else {
            slot.iter()
                .filter_map(|e| self.expires.get(&*e.key).map(|at| (e.key.clone(), *at)))
                .collect()
        };
        SlotCopy {
            slot: slot.clone(),
            expires,
        }
    }

    /// A part made of slot copies, for reading only: its deadlines answer
    /// `expire_of` but are not ordered for active expiry.
    pub fn from_copies(copies: Vec<(usize, SlotCopy)>) -> DbPart {
        let mut part = DbPart::default();
        if copies.is_empty() {
            return part;
        }
        part.slots.resize_with(SLOTS_PER_SHARD, Slot::default);
        for (s, c) in copies {
            part.len += c.slot.len();
            part.expires.extend(c.expires);
            part.slots[s] = c.slot;
        }
        part
    }

    /// Approximate bytes used: table cells, and what keys and values own.
    pub fn memory(&self) -> usize {
        let mut total = self.slots.capacity() * std::mem::size_of::<Slot>();
        for t in &self.slots {
            total += t.cells() * std::mem::size_of::<Option<Entry>>();
            for e in t.iter() {
                total += e.key.heap_size() + e.val.heap_size();
            }
        }
        total += self.expires.capacity() * (std::mem::size_of::<(Key, u64)>() + 1);
        total += self.deadlines.len() * (std::mem::size_of::<(u64, Key)>() * 3 / 2);
        total
    }
}

/// One shard: its part of every database.
pub struct Shard {
    pub dbs: Vec<DbPart>,
}

/// Hashes keys; one seed per engine.
#[derive(Clone)]
pub struct KeyHasher(foldhash::fast::RandomState);

impl KeyHasher {
    #[inline]
    pub fn hash(&self, key: &[u8]) -> u64 {
        self.0.hash_one(key)
    }
}

pub struct Keyspace {
    pub shards: Box<[RwLock<Shard>]>,
    pub hasher: KeyHasher,
    pub ndbs: usize,
}

impl Keyspace {
    pub fn new(ndbs: usize) -> Keyspace {
        let shards = (0..NSHARDS)
            .map(|_| {
                RwLock::new(Shard {
                    dbs: (0..ndbs).map(|_| DbPart::default()).collect(),
                })
            })
            .collect();
        Keyspace {
            shards,
            hasher: KeyHasher(foldhash::fast::RandomState::default()),
            ndbs,
        }
    }

    #[inline]
    pub fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash(key)
    }
}

/// Shard index and slot index of a global SCAN slot.
pub fn split_slot(global: usize) -> (usize, usize) {
    (global / SLOTS_PER_SHARD, global % SLOTS_PER_SHARD)
}
