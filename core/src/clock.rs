//! The engine's clock. Production reads the system clock; tests install a
//! `ManualClock` and advance it instead of sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A clock that only moves when told to. Clone it into `Config::clock` and
/// keep a handle to advance it.
#[derive(Clone, Debug)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// Starts at `unix_ms` milliseconds since the epoch.
    pub fn new(unix_ms: u64) -> ManualClock {
        ManualClock(Arc::new(AtomicU64::new(unix_ms * 1000)))
    }
    /// Starts at the current real time.
    pub fn starting_now() -> ManualClock {
        ManualClock(Arc::new(AtomicU64::new(real_us())))
    }
    pub fn advance_ms(&self, ms: u64) {
        self.0.fetch_add(ms * 1000, Ordering::SeqCst);
    }
    pub fn set_ms(&self, unix_ms: u64) {
        self.0.store(unix_ms * 1000, Ordering::SeqCst);
    }
    pub fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst) / 1000
    }
}

#[derive(Clone, Debug, Default)]
pub(crate) enum Clock {
    #[default]
    Real,
    Manual(ManualClock),
}

impl Clock {
    #[inline]
    pub fn now_us(&self) -> u64 {
        match self {
            Clock::Real => real_us(),
            Clock::Manual(m) => m.0.load(Ordering::SeqCst),
        }
    }
    #[inline]
    pub fn now_ms(&self) -> u64 {
        self.now_us() / 1000
    }
}

fn real_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}
