//! When a year's chain may be dropped: its entries are kept the calendar year and the four
//! following (norm 43), in the body's legal time zone, so a year-closed checkpoint for year *Y*
//! is accepted from 1 January *Y* + 5, 00:00 local time.
//!
//! Only that one instant matters, so a zone is held as its UTC offset on 1 January: no French
//! zone changes its offset around the new year (Europe/Paris is UTC+1 then, summer time or not),
//! and no time-zone database is needed.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{NaiveDate, TimeZone, Utc};

/// How many calendar years follow the year of an entry before it may be dropped (norm 43).
pub const RETAINED_YEARS: i32 = 4;

/// A body's legal calendar, as far as closing years goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegalCalendar {
    /// Seconds east of UTC on 1 January (Europe/Paris: 3,600).
    pub new_year_utc_offset_seconds: i32,
}

impl LegalCalendar {
    /// Metropolitan France (the default legal time zone).
    pub const EUROPE_PARIS: LegalCalendar = LegalCalendar { new_year_utc_offset_seconds: 3600 };

    /// The first instant at which the year `year`'s chain may be closed: 1 January of
    /// `year + 1 + RETAINED_YEARS`, 00:00 in this calendar.
    pub fn closable_from(&self, year: i32) -> SystemTime {
        let new_year = NaiveDate::from_ymd_opt(year + 1 + RETAINED_YEARS, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| Utc.from_utc_datetime(&t).timestamp())
            .unwrap_or(i64::MAX / 2);
        let utc = new_year - i64::from(self.new_year_utc_offset_seconds);
        UNIX_EPOCH + Duration::from_secs(utc.max(0) as u64)
    }
}

impl Default for LegalCalendar {
    fn default() -> Self {
        LegalCalendar::EUROPE_PARIS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn year_2026_closes_at_the_paris_new_year_of_2031() {
        let at = LegalCalendar::EUROPE_PARIS.closable_from(2026);
        // 2031-01-01T00:00+01:00 is 2030-12-31T23:00Z.
        let expected = Utc.with_ymd_and_hms(2030, 12, 31, 23, 0, 0).unwrap().timestamp() as u64;
        assert_eq!(at, UNIX_EPOCH + Duration::from_secs(expected));
    }
}
