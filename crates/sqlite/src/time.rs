//! The time codec: every store keeps a time as an `INTEGER` of milliseconds since the Unix epoch
//! (UTC), which sorts and compares in SQL and survives every time zone change.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Datelike, Utc};

/// A time as stored: milliseconds since the Unix epoch (0 for a time before it).
pub fn to_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// The inverse of [`to_ms`] (a negative value reads as the epoch).
pub fn from_ms(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)
}

/// [`from_ms`] of a nullable column.
pub fn opt_from_ms(ms: Option<i64>) -> Option<SystemTime> {
    ms.map(from_ms)
}

/// [`to_ms`] of an optional time.
pub fn opt_to_ms(t: Option<SystemTime>) -> Option<i64> {
    t.map(to_ms)
}

/// The calendar year (UTC) of a time.
pub fn year_of(t: SystemTime) -> i32 {
    DateTime::<Utc>::from(t).year()
}

/// A stored time as a UTC date and time (for display and calendar arithmetic).
pub fn to_datetime(ms: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from(from_ms(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_to_the_millisecond_and_know_their_year() {
        let t = UNIX_EPOCH + Duration::from_millis(1_750_000_000_123);
        assert_eq!(to_ms(t), 1_750_000_000_123);
        assert_eq!(from_ms(to_ms(t)), t);
        assert_eq!(year_of(t), 2025);
        assert_eq!(to_datetime(to_ms(t)).to_rfc3339(), "2025-06-15T15:06:40.123+00:00");
        assert_eq!(year_of(UNIX_EPOCH + Duration::from_secs(1_767_225_599)), 2025, "the last second of 2025");
        assert_eq!(year_of(UNIX_EPOCH + Duration::from_secs(1_767_225_600)), 2026);
        assert_eq!(opt_from_ms(None), None);
        assert_eq!(opt_to_ms(Some(t)), Some(1_750_000_000_123));
        assert_eq!(to_ms(UNIX_EPOCH - Duration::from_secs(1)), 0, "before the epoch reads as the epoch");
        assert_eq!(from_ms(-5), UNIX_EPOCH);
    }
}
