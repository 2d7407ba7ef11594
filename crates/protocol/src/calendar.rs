//! The calendar of the body's legal time zone: which chain (calendar year) an entry of a trail
//! belongs to, which years the retention of norm 43 has run out for, and from when a year's
//! chain may be closed.

use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

/// The time zone when the settings name none: metropolitan France's legal time.
pub const DEFAULT_TIME_ZONE: Tz = chrono_tz::Europe::Paris;

/// The entries of a calendar year are kept that year and this many following ones (norm 43:
/// "l'année civile et les quatre années suivantes"). A constant, not a setting: no setting can
/// shorten or lengthen it.
pub const RETAINED_YEARS_AFTER: i32 = 4;

/// The body's legal calendar: an IANA time zone (a setting, `Europe/Paris` by default). In
/// settings it is the zone's name (`time_zone = "Europe/Paris"`); an unknown name is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LegalCalendar {
    zone: Tz,
}

impl Default for LegalCalendar {
    fn default() -> Self {
        LegalCalendar { zone: DEFAULT_TIME_ZONE }
    }
}

/// A time zone name the IANA database does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown time zone {name:?}: give the body's legal time zone by its IANA name, as `Europe/Paris`, \
     `America/Cayenne` or `Indian/Reunion`"
)]
pub struct UnknownTimeZone {
    pub name: String,
}

impl FromStr for LegalCalendar {
    type Err = UnknownTimeZone;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        let shown = crate::untrusted::Shown::text(name).to_string();
        name.trim().parse::<Tz>().map(LegalCalendar::new).map_err(|_| UnknownTimeZone { name: shown })
    }
}

impl TryFrom<String> for LegalCalendar {
    type Error = UnknownTimeZone;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        name.parse()
    }
}

impl From<LegalCalendar> for String {
    fn from(calendar: LegalCalendar) -> String {
        calendar.zone.name().to_owned()
    }
}

impl LegalCalendar {
    pub fn new(zone: Tz) -> LegalCalendar {
        LegalCalendar { zone }
    }

    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// The day of `t` in the legal time zone ("today" for the age rule of a submission).
    pub fn date_of(&self, t: SystemTime) -> NaiveDate {
        DateTime::<Utc>::from(t).with_timezone(&self.zone).date_naive()
    }

    /// The calendar year of `t` in the legal time zone (the chain an entry at `t` goes to).
    pub fn year_of(&self, t: SystemTime) -> i32 {
        DateTime::<Utc>::from(t).with_timezone(&self.zone).year()
    }

    /// The last year whose entries are still kept at `now`: entries of a year `Y` are kept
    /// through `Y + 4` and purged from `Y + 5` on.
    pub fn oldest_retained_year(&self, now: SystemTime) -> i32 {
        self.year_of(now) - RETAINED_YEARS_AFTER
    }

    /// The first instant at which the chain of `year` may be closed (dropped): 1 January of
    /// `year + 1 + RETAINED_YEARS_AFTER`, 00:00 in the legal time zone.
    pub fn closable_from(&self, year: i32) -> SystemTime {
        let midnight =
            NaiveDate::from_ymd_opt(year + 1 + RETAINED_YEARS_AFTER, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0));
        let utc =
            midnight.and_then(|t| self.zone.from_local_datetime(&t).earliest()).map_or(i64::MAX / 4, |t| t.timestamp());
        UNIX_EPOCH + Duration::from_secs(utc.max(0) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(rfc3339: &str) -> SystemTime {
        let t = DateTime::parse_from_rfc3339(rfc3339).unwrap();
        UNIX_EPOCH + Duration::from_millis(t.timestamp_millis() as u64)
    }

    #[test]
    fn the_year_is_the_legal_time_zones_not_utcs() {
        let paris = LegalCalendar::default();
        assert_eq!(paris.year_of(at("2026-12-31T22:59:59Z")), 2026);
        assert_eq!(paris.year_of(at("2026-12-31T23:30:00Z")), 2027, "00:30 on 1 January in Paris");
        let cayenne: LegalCalendar = "America/Cayenne".parse().unwrap();
        assert_eq!(cayenne.year_of(at("2027-01-01T02:00:00Z")), 2026, "23:00 on 31 December in Cayenne");
    }

    #[test]
    fn an_unknown_zone_is_refused_with_examples() {
        let refused = "Europe/Pariss".parse::<LegalCalendar>().unwrap_err().to_string();
        assert!(refused.contains("\"Europe/Pariss\"") && refused.contains("Europe/Paris"), "{refused}");
    }

    #[test]
    fn a_setting_names_the_zone_and_an_unknown_one_is_refused() {
        #[derive(Debug, serde::Deserialize)]
        struct Settings {
            time_zone: LegalCalendar,
        }
        let read: Settings = toml::from_str("time_zone = \"Indian/Reunion\"").unwrap();
        assert_eq!(read.time_zone.zone(), chrono_tz::Indian::Reunion);
        assert_eq!(String::from(LegalCalendar::default()), "Europe/Paris");
        let refused = toml::from_str::<Settings>("time_zone = \"Paris\"").unwrap_err().to_string();
        assert!(refused.contains("unknown time zone \"Paris\""), "{refused}");
    }

    #[test]
    fn a_year_is_retained_through_the_fourth_following_year() {
        let paris = LegalCalendar::default();
        assert_eq!(paris.oldest_retained_year(at("2031-06-01T00:00:00Z")), 2027);
        assert_eq!(paris.oldest_retained_year(at("2031-12-31T23:30:00Z")), 2028, "already 2032 in Paris");
    }

    #[test]
    fn a_year_closes_at_the_legal_new_year_five_years_on() {
        assert_eq!(LegalCalendar::default().closable_from(2026), at("2030-12-31T23:00:00Z"), "midnight in Paris");
        let reunion: LegalCalendar = "Indian/Reunion".parse().unwrap();
        assert_eq!(reunion.closable_from(2026), at("2030-12-31T20:00:00Z"));
    }
}
