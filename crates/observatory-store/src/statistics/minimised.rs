//! What the statistics store keeps in place of free text and exact times (minimisation, art. 4–5):
//! the service offered as a **code** of the closed list (`Request.service`, the proto's
//! `OfferedService`: `prevention-workshop`, …, `other`, or `unspecified`), never the request's
//! free-text purpose; and every date as its **month** in the legal time zone (`YYYY-MM`). The
//! writer refuses a service that is not a code of the list ([`is_service_code`]).
//!
//! Migration 3 ([`minimise_existing_rows`]) rewrites the rows of earlier files: their service,
//! free text, becomes `unspecified`; their time becomes its month (UTC: SQLite has no time
//! zone). [`super::StatisticsStore::open`] then rebuilds the file, so no byte of the old text
//! survives in its free pages or WAL.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use passerelle_protocol::calendar::DEFAULT_TIME_ZONE;
use passerelle_protocol::offered_service;
use passerelle_protocol::v1::OfferedService;

/// The code of a service ([`offered_service::code`]); `unspecified` for
/// `UNSPECIFIED` and for a number outside the list.
pub fn service_code(service: i32) -> String {
    let service = OfferedService::try_from(service).unwrap_or(OfferedService::Unspecified);
    offered_service::code(service).to_owned()
}

/// Whether `code` is the code of a service of the list (`unspecified` included).
pub fn is_service_code(code: &str) -> bool {
    code == offered_service::code(OfferedService::Unspecified) || offered_service::codes().contains(&code)
}

/// The month of `t` in the legal time zone: `YYYY-MM`.
pub fn month_of(t: SystemTime) -> String {
    let at = DateTime::<Utc>::from(t).with_timezone(&DEFAULT_TIME_ZONE);
    format!("{:04}-{:02}", at.year(), at.month())
}

/// The first instant of a `YYYY-MM` month in the legal time zone (`None` if it is no month).
pub fn month_start(month: &str) -> Option<SystemTime> {
    let (year, month) = month.split_once('-')?;
    let day = NaiveDate::from_ymd_opt(year.parse().ok()?, month.parse().ok()?, 1)?;
    let start = DEFAULT_TIME_ZONE.from_local_datetime(&day.and_hms_opt(0, 0, 0)?).earliest()?;
    let seconds = u64::try_from(start.timestamp()).ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(seconds))
}

/// Migration 3: the persons table again, with `recorded_at` a month (text) and `service` a code;
/// every existing service becomes `unspecified` (it was the request's free text).
pub(crate) fn minimise_existing_rows(tx: &passerelle_sqlite::Tx<'_>) -> passerelle_sqlite::Result<()> {
    tx.execute_batch(
        "ALTER TABLE persons RENAME TO persons_before_minimisation;
         DROP INDEX IF EXISTS persons_by_case;
         DROP INDEX IF EXISTS persons_by_time;",
    )?;
    tx.execute_batch(super::PERSONS)?;
    tx.execute_batch(
        "INSERT INTO persons (id, pseudonym, case_id, recorded_at, territory, requester, requester_office, \
             service, requested, sex, birth_year, values_json, answers_json) \
         SELECT id, pseudonym, case_id, strftime('%Y-%m', recorded_at / 1000, 'unixepoch'), territory, requester, \
             requester_office, 'unspecified', requested, sex, birth_year, values_json, answers_json \
         FROM persons_before_minimisation;
         DROP TABLE persons_before_minimisation;",
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_proto_list() {
        assert_eq!(service_code(OfferedService::PreventionWorkshop as i32), "prevention-workshop");
        assert_eq!(service_code(0), "unspecified");
        assert_eq!(service_code(99), "unspecified");
        assert!(is_service_code("home-adaptation") && is_service_code("other") && is_service_code("unspecified"));
        assert!(!is_service_code("falls workshop"));
    }

    #[test]
    fn months_are_the_legal_time_zones() {
        // 31 December 2026, 23:30 UTC is already January in Paris.
        let t = UNIX_EPOCH + Duration::from_secs(1_798_759_800);
        assert_eq!(month_of(t), "2027-01");
        assert_eq!(month_of(month_start("2027-01").unwrap()), "2027-01");
        assert!(month_start("2027-01").unwrap() <= t);
        assert_eq!(month_start("falls"), None);
    }
}
