//! The legal limits of the exchange as named constants, and the clock every time rule reads.
//!
//! These are the decree's numbers (art. 1, art. 5) and the norm's (access logs). Configuration
//! may *lower* a retention, never raise it: a setting outside its [`LegalRange`] is refused.

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

/// A setting's legal range, with where it comes from. Configuration chooses within it; a value
/// outside is refused when the settings are checked, never lowered behind the operator's back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegalRange {
    pub min: u64,
    pub max: u64,
    /// The unit, plural (`days`, `years`).
    pub unit: &'static str,
    /// The text that sets the limit, and what it says.
    pub source: &'static str,
}

impl LegalRange {
    /// The value when it is in range; otherwise a sentence with the range and its source.
    pub fn check(&self, value: u64) -> Result<u64, String> {
        if (self.min..=self.max).contains(&value) {
            Ok(value)
        } else {
            Err(format!("{value} is out of range: from {} to {} {} ({})", self.min, self.max, self.unit, self.source))
        }
    }
}

/// `retention_days` of an observatory.
pub const OBSERVATORY_RETENTION_DAYS: LegalRange = LegalRange {
    min: 1,
    max: OBSERVATORY_RETENTION_CAP.as_secs() / 86_400,
    unit: "days",
    source: "Décret n° 2017-334, art. 5: the observatory keeps the data 30 days at most",
};

/// `respond_by_default_days` of an observatory (and the longest `--respond-by`).
pub const RESPOND_BY_DAYS: LegalRange = LegalRange {
    min: 1,
    max: MAX_RESPOND_BY.as_secs() / 86_400,
    unit: "days",
    source: "a deadline leaves the result and its receipt time inside the 30 days of Décret n° 2017-334, art. 5",
};

/// `retention_days` of a requester.
pub const REQUESTER_RETENTION_DAYS: LegalRange = LegalRange {
    min: 1,
    max: REQUESTER_RETENTION_CAP.as_secs() / 86_400,
    unit: "days",
    source: "Décret n° 2017-334, art. 5: the requester keeps the data 24 months at most",
};

/// `statistics_retention_days` of an observatory.
pub const STATISTICS_RETENTION_DAYS: LegalRange = LegalRange {
    min: 1,
    max: STATISTICS_RETENTION_CAP.as_secs() / 86_400,
    unit: "days",
    source: "Décret n° 2017-334, art. 5: statistics are kept 5 years at most",
};

/// `audit_retention_years` of an observatory: years kept besides the current one.
pub const AUDIT_RETENTION_YEARS: LegalRange = LegalRange {
    min: 4,
    max: 4,
    unit: "years besides the current one",
    source: "the CNIL norm: access logs are kept the current year and the 4 following",
};

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
    fn a_legal_range_refuses_what_is_outside_and_names_its_source() {
        assert_eq!(OBSERVATORY_RETENTION_DAYS.check(30), Ok(30));
        let e = OBSERVATORY_RETENTION_DAYS.check(45).unwrap_err();
        assert!(e.starts_with("45 is out of range: from 1 to 30 days (Décret n° 2017-334, art. 5"), "{e}");
        assert!(RESPOND_BY_DAYS.check(0).is_err());
        assert_eq!((REQUESTER_RETENTION_DAYS.max, STATISTICS_RETENTION_DAYS.max, RESPOND_BY_DAYS.max), (730, 1826, 21));
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::starting_at(UNIX_EPOCH + days(1));
        let shared = c.clone();
        c.advance(days(2));
        assert_eq!(shared.now(), UNIX_EPOCH + days(3));
    }
}
