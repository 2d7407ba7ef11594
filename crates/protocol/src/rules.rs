//! The legal limits of the exchange as named constants, and the clock every time rule reads.
//!
//! These are the decree's numbers (art. 1, art. 5) and the norm's (access logs). Configuration
//! may *lower* a retention, never raise it: every setting is clamped against these caps.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const DAY: Duration = Duration::from_secs(24 * 3600);

/// Art. 1: the exchange concerns persons aged 55 and over (age = reference year − birth year).
pub const MIN_AGE: u32 = 55;

/// Art. 5: the observatory keeps the data only as long as needed to answer, 30 days at most,
/// counted from the request's arrival. Also the cap on every copy in the broker.
pub const OBSERVATORY_RETENTION_CAP: Duration = Duration::from_secs(30 * 24 * 3600);

/// Art. 5: the requester keeps the data 24 months at most (counted as 730 days).
pub const REQUESTER_RETENTION_CAP: Duration = Duration::from_secs(730 * 24 * 3600);

/// Art. 5: statistics are kept 5 years at most (counted as 1826 days).
pub const STATISTICS_RETENTION_CAP: Duration = Duration::from_secs(1826 * 24 * 3600);

/// The latest a respond-by deadline may fall after a request's arrival: well before the cap, so
/// the result (even partial) goes back and the receipt can arrive inside the 30 days.
pub const MAX_RESPOND_BY: Duration = Duration::from_secs(21 * 24 * 3600);

/// The default respond-by deadline of a case.
pub const DEFAULT_RESPOND_BY: Duration = Duration::from_secs(7 * 24 * 3600);

/// Persons per chunk of a request, solicitation, response or result, the same in production and
/// benchmarks: big enough that per-message overhead is small, small enough (tens of kB) that a
/// chunk is one SQLite transaction and one broker message of modest size.
pub const DEFAULT_CHUNK_SIZE: usize = 1000;

/// Clamps a configured retention to its legal cap.
pub fn clamp_retention(configured: Duration, cap: Duration) -> Duration {
    configured.min(cap)
}

/// A duration of whole days (for settings and messages).
pub fn days(n: u64) -> Duration {
    DAY * n as u32
}

/// The time source of every time rule (deadlines, reminders, purges), injectable in tests.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> SystemTime;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that tests move by hand; clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// Starts at the given time.
    pub fn starting_at(t: SystemTime) -> Self {
        ManualClock(Arc::new(AtomicU64::new(t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64)))
    }
    /// Moves time forward.
    pub fn advance(&self, d: Duration) {
        self.0.fetch_add(d.as_millis() as u64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_can_lower_a_retention_but_never_raise_it() {
        assert_eq!(clamp_retention(days(45), OBSERVATORY_RETENTION_CAP), days(30));
        assert_eq!(clamp_retention(days(10), OBSERVATORY_RETENTION_CAP), days(10));
        assert!(MAX_RESPOND_BY < OBSERVATORY_RETENTION_CAP);
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::starting_at(UNIX_EPOCH + days(1));
        let shared = c.clone();
        c.advance(days(2));
        assert_eq!(shared.now(), UNIX_EPOCH + days(3));
    }
}
