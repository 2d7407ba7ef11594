//! The dates of the decree's time rules: from when a person counts as 55 (art. 1), and the
//! twelve months that `hospital_stays_12m` covers (art. 2, 3° c).
//!
//! **Age to the NIR's month, conservatively.** The selection gives the birth year (four digits:
//! the NIR's two cannot give the century) and the NIR gives the month (positions 4–5: `01`–`12`,
//! or `31`–`42` minus 30; see [`crate::nir::Nir::birth_month`]). The day is never known, so a
//! person born in month M of year Y is taken as born on the **last day** of M: they count as 55
//! from the last day of M in Y + 55, never before. A NIR that gives no month (the fictitious
//! `20`–`30` and `50`–`99`) counts as born in December, so such a person counts as 55 only from
//! 31 December of Y + 55. No one under 55 is thus sent, at the price of holding back some who
//! turned 55 earlier in their birth month.

use chrono::{Datelike, Months, NaiveDate};

use crate::rules::MIN_AGE;

/// The month a person is taken as born in: the NIR's, or December when it gives none.
pub fn birth_month_or_december(nir_month: Option<u8>) -> u32 {
    nir_month.filter(|m| (1..=12).contains(m)).map_or(12, u32::from)
}

/// The last day of a month.
fn last_day_of(year: i32, month: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, month, 1)?.checked_add_months(Months::new(1))?.pred_opt()
}

/// The first day on which a person born in `birth_year`, in the month the NIR gives
/// (`nir_month`, `None` when it gives none), counts as [`MIN_AGE`]: the last day of that month
/// (December when unknown) in `birth_year + 55`. `None` only for a year beyond the calendar.
pub fn aged_55_from(birth_year: u32, nir_month: Option<u8>) -> Option<NaiveDate> {
    let year = i32::try_from(birth_year).ok()?.checked_add(MIN_AGE as i32)?;
    last_day_of(year, birth_month_or_december(nir_month))
}

/// The person's age in whole years on `date`, taking them as born on the last day of their
/// birth month (December when the NIR gives none): the conservative age of the module's rule.
pub fn age_on(birth_year: u32, nir_month: Option<u8>, date: NaiveDate) -> i64 {
    let month = birth_month_or_december(nir_month);
    let mut age = i64::from(date.year()) - i64::from(birth_year);
    let birthday_passed = i32::try_from(birth_year)
        .ok()
        .and_then(|y| y.checked_add(i32::try_from(age).ok()?))
        .and_then(|y| last_day_of(y, month))
        .is_some_and(|birthday| date >= birthday);
    if !birthday_passed {
        age -= 1;
    }
    age
}

/// Whether the person counts as 55 or over on `date` (the module's rule).
pub fn is_aged_55_on(birth_year: u32, nir_month: Option<u8>, date: NaiveDate) -> bool {
    aged_55_from(birth_year, nir_month).is_some_and(|from| date >= from)
}

/// The first day of the twelve months before `date` that `hospital_stays_12m` covers: the same
/// day a year earlier (28 February for a 29 February). A stay admitted before it is older than
/// the category allows.
pub fn twelve_months_before(date: NaiveDate) -> NaiveDate {
    date.checked_sub_months(Months::new(12)).unwrap_or(NaiveDate::MIN)
}

/// The stays of a `hospital_stays_12m` value admitted before `cut_off` (see
/// [`twelve_months_before`]), or whose admission date is missing or no date: how many there are.
pub fn stays_before(stays: &crate::v1::HospitalStays, cut_off: NaiveDate) -> usize {
    stays
        .stays
        .iter()
        .filter(|stay| {
            stay.admission
                .and_then(|d| NaiveDate::from_ymd_opt(i32::try_from(d.year).ok()?, d.month, d.day))
                .is_none_or(|admitted| admitted < cut_off)
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn a_person_counts_as_55_from_the_last_day_of_the_nir_month() {
        assert_eq!(aged_55_from(1971, Some(3)), Some(date(2026, 3, 31)));
        assert!(!is_aged_55_on(1971, Some(3), date(2026, 3, 30)), "the day before");
        assert!(is_aged_55_on(1971, Some(3), date(2026, 3, 31)));
        assert_eq!(aged_55_from(1971, Some(2)), Some(date(2026, 2, 28)));
        assert_eq!(aged_55_from(1969, Some(2)), Some(date(2024, 2, 29)), "leap year");
        assert_eq!(age_on(1971, Some(3), date(2026, 3, 30)), 54);
        assert_eq!(age_on(1971, Some(3), date(2026, 3, 31)), 55);
        assert_eq!(age_on(1971, Some(3), date(2026, 12, 31)), 55);
    }

    #[test]
    fn a_nir_without_a_month_counts_as_born_in_december() {
        assert_eq!(aged_55_from(1971, None), Some(date(2026, 12, 31)));
        assert!(!is_aged_55_on(1971, None, date(2026, 12, 30)));
        assert!(is_aged_55_on(1971, None, date(2026, 12, 31)));
        assert_eq!(birth_month_or_december(Some(13)), 12);
    }

    #[test]
    fn the_twelve_months_window() {
        assert_eq!(twelve_months_before(date(2026, 12, 8)), date(2025, 12, 8));
        assert_eq!(twelve_months_before(date(2028, 2, 29)), date(2027, 2, 28));
        let stay = |y, m, d| crate::v1::HospitalStay {
            admission: Some(crate::v1::Date { year: y, month: m, day: d }),
            length_days: 3,
            mode: 1,
        };
        let stays = crate::v1::HospitalStays { stays: vec![stay(2025, 12, 7), stay(2025, 12, 8), stay(2026, 6, 1)] };
        assert_eq!(stays_before(&stays, date(2025, 12, 8)), 1);
        let undated = crate::v1::HospitalStays { stays: vec![crate::v1::HospitalStay::default()] };
        assert_eq!(stays_before(&undated, date(2025, 12, 8)), 1, "a stay without a date is no stay of the window");
    }
}
