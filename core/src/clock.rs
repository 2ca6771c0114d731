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

/// Times a command (SLOWLOG, LATENCY, INFO commandstats): microseconds
/// between `start` and `elapsed_us`, from the CPU's time-stamp counter where
/// it ticks at a constant rate (x86-64 with an invariant TSC), else from
/// `Instant`. Reading the TSC costs ~10 ns and does not wait for earlier
/// instructions; `Instant::now` (`clock_gettime`) ~28–60 ns on the
/// development VM, and a command not flagged `fast` is timed twice per call
/// while the slow log is on (Redis's default).
///
/// The TSC rate is learned from `Instant` over the process's first
/// `CALIBRATE_NS`; until then the stopwatch reads both clocks and answers
/// from `Instant`.
#[derive(Clone, Copy)]
pub(crate) struct Stopwatch {
    ticks: u64,
    /// Set while the TSC rate is not known (or there is no usable TSC).
    instant: Option<std::time::Instant>,
}

impl Stopwatch {
    #[inline]
    pub fn start() -> Stopwatch {
        match tsc::ticks_per_us() {
            Some(_) => Stopwatch {
                ticks: tsc::read(),
                instant: None,
            },
            None => Stopwatch::start_slow(),
        }
    }

    #[cold]
    fn start_slow() -> Stopwatch {
        Stopwatch {
            ticks: tsc::read_if_usable(),
            instant: Some(std::time::Instant::now()),
        }
    }

    #[inline]
    pub fn elapsed_us(&self) -> u64 {
        match (self.instant, tsc::ticks_per_us()) {
            (None, Some(rate)) => (tsc::read().saturating_sub(self.ticks) as f64 / rate) as u64,
            _ => self.elapsed_us_slow(),
        }
    }

    #[cold]
    fn elapsed_us_slow(&self) -> u64 {
        match self.instant {
            Some(t) => {
                tsc::calibrate();
                t.elapsed().as_micros() as u64
            }
            // started after calibration, so the rate is known
            None => tsc::ticks_per_us().map_or(0, |r| {
                (tsc::read().saturating_sub(self.ticks) as f64 / r) as u64
            }),
        }
    }
}

/// Nanoseconds of `Instant` over which the TSC rate is measured.
const CALIBRATE_NS: u128 = 20_000_000;

#[cfg(target_arch = "x86_64")]
mod tsc {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Instant;

    /// TSC ticks per microsecond as f64 bits; 0 = not known yet.
    static RATE: AtomicU64 = AtomicU64::new(0);
    /// The first reading of both clocks; None: no invariant TSC.
    static BASE: OnceLock<Option<(Instant, u64)>> = OnceLock::new();

    #[inline]
    pub fn read() -> u64 {
        // SAFETY: RDTSC exists on every x86-64 CPU.
        unsafe { core::arch::x86_64::_rdtsc() }
    }

    #[inline]
    pub fn ticks_per_us() -> Option<f64> {
        match RATE.load(Ordering::Relaxed) {
            0 => None,
            bits => Some(f64::from_bits(bits)),
        }
    }

    /// Whether the TSC ticks at a constant rate through frequency and sleep
    /// state changes (CPUID 8000_0007h EDX bit 8, "invariant TSC").
    fn invariant() -> bool {
        // leaves above the maximum extended leaf are checked first
        let max = core::arch::x86_64::__cpuid(0x8000_0000).eax;
        max >= 0x8000_0007 && core::arch::x86_64::__cpuid(0x8000_0007).edx & (1 << 8) != 0
    }

    /// Both clocks read at (nearly) one moment: the TSC just before and
    /// just after `Instant::now`, retried while a preemption between the
    /// two readings would skew the pair (the TSC reading is the midpoint).
    fn pair() -> (Instant, u64, u64) {
        let mut best = None;
        for _ in 0..8 {
            let a = read();
            let t = Instant::now();
            let b = read();
            let gap = b.saturating_sub(a);
            if best.is_none_or(|(_, _, g)| gap < g) {
                best = Some((t, a + gap / 2, gap));
            }
            if gap < 20_000 {
                break;
            }
        }
        best.expect("at least one reading")
    }

    fn base() -> Option<(Instant, u64)> {
        *BASE.get_or_init(|| {
            invariant().then(|| {
                let (t, c, _) = pair();
                (t, c)
            })
        })
    }

    /// A TSC reading when the TSC may be used (0 otherwise).
    pub fn read_if_usable() -> u64 {
        if base().is_some() { read() } else { 0 }
    }

    /// Learns the rate once `CALIBRATE_NS` have passed since the first reading.
    pub fn calibrate() {
        let Some((t0, c0)) = base() else { return };
        let (t, c, gap) = pair();
        let ns = t.duration_since(t0).as_nanos();
        let ticks = c.saturating_sub(c0);
        // the readings' own uncertainty must be small against the window
        if ns >= super::CALIBRATE_NS && ticks > 0 && gap < ticks / 10_000 {
            let rate = ticks as f64 * 1000.0 / ns as f64;
            RATE.store(rate.to_bits(), Ordering::Relaxed);
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod tsc {
    #[inline]
    pub fn read() -> u64 {
        0
    }
    #[inline]
    pub fn ticks_per_us() -> Option<f64> {
        None
    }
    pub fn read_if_usable() -> u64 {
        0
    }
    pub fn calibrate() {}
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stopwatch agrees with `Instant` before and after the TSC rate is
    /// learned (within scheduling noise).
    #[test]
    fn stopwatch_measures_sleeps() {
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(200);
        // past the calibration window, with stopwatches running throughout
        while std::time::Instant::now() < deadline {
            let w = Stopwatch::start();
            std::thread::sleep(std::time::Duration::from_millis(2));
            assert!(w.elapsed_us() >= 1_900, "{}", w.elapsed_us());
        }
        for ms in [0u64, 1, 5, 30] {
            let outer = std::time::Instant::now();
            let w = Stopwatch::start();
            let inner = std::time::Instant::now();
            std::thread::sleep(std::time::Duration::from_millis(ms));
            let least = inner.elapsed().as_micros() as u64;
            let got = w.elapsed_us();
            let most = outer.elapsed().as_micros() as u64;
            // 1 % for the learned rate, 2 µs for rounding
            assert!(got * 101 / 100 + 2 >= least, "{ms} ms: {got} < {least}");
            assert!(got <= most * 101 / 100 + 2, "{ms} ms: {got} > {most}");
        }
        if cfg!(target_arch = "x86_64") && tsc::read_if_usable() != 0 {
            assert!(tsc::ticks_per_us().is_some(), "calibrated by now");
        }
    }
}
