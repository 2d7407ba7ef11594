//! The anonymisation of closed months: one pass over the live store by pages of files
//! ([`Store::counted_files`]), each file turned into counts of the months being anonymised and
//! forgotten. Memory holds a page and the tally (one number per office, month, measure and
//! category), whatever the number of files.
//!
//! What counts where (the measures of `passerelle_social_stats`), months and days in the
//! body's legal time zone:
//! - `files-opened` in the month of `opened_at`, by age at that day (the file's I.3 birth date)
//!   and by sex (I.2);
//! - `files-closed` in the month of the file's last action end (a file closed with no action:
//!   the day of its last activity), by the whole months since its opening;
//! - `actions-started` in the month of an action's start, by the file's I.12 risks; once per
//!   file and month;
//! - `actions-ended` in the month of an action's end, by its duration; once per file and
//!   month (the action that ended last);
//! - `offer-participants` in the month the offer was made, by kind × attendance; once per file
//!   and month (the first category of the list that applies).
//!
//! A date entered after its month was anonymised is not counted: a month is counted once.

use std::collections::BTreeMap;

use passerelle_protocol::calendar::LegalCalendar;
use passerelle_protocol::value::parse_date;
use passerelle_social_file::v1;
use passerelle_social_stats::measure::{age_at, age_band, duration_band, whole_months, Day};
use passerelle_social_stats::{Measure, Month, PARTICIPATIONS};

use super::{day_of, month_of, Tally};
use crate::store::{CountedFile, FileState, Store, StoreError};

/// Files read a page (one read transaction each).
pub const PAGE: usize = 5_000;

/// The months `after` (exclusive; from the first with data when `None`) to `through`
/// (inclusive) counted from the live store: the months covered and their tally.
pub fn tally(
    store: &Store,
    calendar: &LegalCalendar,
    after: Option<Month>,
    through: Month,
) -> Result<(Vec<Month>, Tally), StoreError> {
    let mut tally = Tally::new();
    let mut first = through;
    let pending = |m: Month| after.is_none_or(|a| m > a) && m <= through;
    let mut cursor: Option<String> = None;
    loop {
        let (files, last) = store.counted_files(cursor.as_deref(), PAGE)?;
        for file in &files {
            for (month, measure, category) in counted(file, calendar) {
                if pending(month) {
                    first = first.min(month);
                    *tally.entry((file.office.clone(), month, measure, category)).or_default() += 1;
                }
            }
        }
        match last {
            Some(last) if files.len() == PAGE => cursor = Some(last),
            _ => break,
        }
    }
    let start = after.map_or(first, Month::next);
    Ok((start.through(through), tally))
}

fn day(text: &str) -> Option<Day> {
    parse_date(text).map(|d| (d.year, d.month, d.day))
}

fn month_of_day(d: Day) -> Month {
    Month { year: d.0 as u16, month: d.1 as u8 }
}

/// Every (month, measure, category) the file counts in, each person once per measure and
/// month.
pub fn counted(file: &CountedFile, calendar: &LegalCalendar) -> Vec<(Month, Measure, &'static str)> {
    let mut out = Vec::new();
    let opened = day_of(file.opened_at, calendar);
    let opened_month = month_of(file.opened_at, calendar);
    let birth = file.birth_date.as_ref().map(|d| (d.year, d.month, d.day));
    out.push((opened_month, Measure::FilesOpened, age_band(birth.map(|b| age_at(b, opened)))));
    let sex = match file.sex.and_then(|s| v1::Sex::try_from(s).ok()) {
        Some(v1::Sex::Female) => "female",
        Some(v1::Sex::Male) => "male",
        _ => "sex-unknown",
    };
    out.push((opened_month, Measure::FilesOpened, sex));

    let ends: Vec<(Day, Day)> = file.actions.iter().filter_map(|(s, e)| Some((day(s)?, day(e.as_deref()?)?))).collect();
    if file.state == FileState::Closed {
        let closed = ends.iter().map(|(_, e)| *e).max().unwrap_or_else(|| day_of(file.last_activity_at, calendar));
        out.push((month_of_day(closed), Measure::FilesClosed, duration_band(whole_months(opened, closed))));
    }

    let risk = risk_category(&file.risks);
    let mut started: Vec<Month> = file.actions.iter().filter_map(|(s, _)| day(s)).map(month_of_day).collect();
    started.sort();
    started.dedup();
    out.extend(started.into_iter().map(|m| (m, Measure::ActionsStarted, risk)));

    let mut ended: BTreeMap<Month, (Day, Day)> = BTreeMap::new();
    for &(start, end) in &ends {
        let slot = ended.entry(month_of_day(end)).or_insert((start, end));
        if (end, start) > (slot.1, slot.0) {
            *slot = (start, end);
        }
    }
    out.extend(ended.into_iter().map(|(m, (s, e))| (m, Measure::ActionsEnded, duration_band(whole_months(s, e)))));

    let mut offers: BTreeMap<Month, usize> = BTreeMap::new();
    for offer in &file.offers {
        let collective = offer.kind == v1::OfferKind::Collective as i32;
        let category = usize::from(collective) * 2 + usize::from(!offer.attended);
        let slot = offers.entry(month_of(offer.created_at, calendar)).or_insert(category);
        *slot = (*slot).min(category);
    }
    out.extend(offers.into_iter().map(|(m, c)| (m, Measure::OfferParticipants, PARTICIPATIONS[c])));
    out
}

/// The file's I.12 risks as a category: the one risk, `several`, or `none`.
fn risk_category(risks: &[i32]) -> &'static str {
    let mut distinct: Vec<i32> = risks.iter().copied().filter(|&r| r != 0).collect();
    distinct.sort_unstable();
    distinct.dedup();
    match distinct[..] {
        [] => "none",
        [one] => match v1::Risk::try_from(one) {
            Ok(v1::Risk::Illness) => "illness",
            Ok(v1::Risk::Maternity) => "maternity",
            Ok(v1::Risk::WorkAccident) => "work-accident",
            Ok(v1::Risk::OccupationalDisease) => "occupational-disease",
            Ok(v1::Risk::Invalidity) => "invalidity",
            _ => "none",
        },
        _ => "several",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::CountedOffer;
    use std::time::{Duration, UNIX_EPOCH};

    fn at(rfc3339: &str) -> std::time::SystemTime {
        let t = chrono::DateTime::parse_from_rfc3339(rfc3339).unwrap();
        UNIX_EPOCH + Duration::from_millis(t.timestamp_millis() as u64)
    }

    #[test]
    fn a_file_counts_once_per_measure_and_month_in_one_category() {
        let file = CountedFile {
            office: "ss-1".into(),
            state: FileState::Closed,
            // 31 January 23:30 UTC is 1 February in Paris: opened in February.
            opened_at: at("2026-01-31T23:30:00Z"),
            last_activity_at: at("2026-09-01T10:00:00Z"),
            sex: Some(v1::Sex::Female as i32),
            birth_date: Some(v1::Date { year: 1950, month: 6, day: 15 }),
            risks: vec![1, 3, 1],
            actions: vec![
                ("2026-02-01".into(), Some("2026-03-10".into())),
                ("2026-03-20".into(), Some("2026-03-25".into())),
                ("2026-04-01".into(), Some("2026-08-20".into())),
            ],
            offers: vec![
                CountedOffer { kind: 2, created_at: at("2026-02-10T10:00:00Z"), attended: false },
                CountedOffer { kind: 2, created_at: at("2026-02-12T10:00:00Z"), attended: true },
            ],
        };
        let m = |t: &str| Month::parse(t).unwrap();
        let counted = counted(&file, &LegalCalendar::default());
        assert_eq!(
            counted,
            vec![
                (m("2026-02"), Measure::FilesOpened, "75-84"),
                (m("2026-02"), Measure::FilesOpened, "female"),
                (m("2026-08"), Measure::FilesClosed, "6-12-months"),
                (m("2026-02"), Measure::ActionsStarted, "several"),
                (m("2026-03"), Measure::ActionsStarted, "several"),
                (m("2026-04"), Measure::ActionsStarted, "several"),
                (m("2026-03"), Measure::ActionsEnded, "under-3-months"),
                (m("2026-08"), Measure::ActionsEnded, "3-6-months"),
                (m("2026-02"), Measure::OfferParticipants, "collective-attended"),
            ]
        );
    }
}
