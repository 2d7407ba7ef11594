//! The measures of the steering table and their categories: what is counted, in which bands,
//! and the pure helpers (age, duration) that put a person in a band.

use serde::{Deserialize, Serialize};

/// The category every measure has: the sum of each of its category groups.
pub const TOTAL: &str = "total";

/// Age at the opening of the file, in whole years; `age-unknown` when the file has no birth
/// date (I.3 is the worker's to record: the decree carries only the year, left behind).
pub const AGE_BANDS: [&str; 7] = ["under-40", "40-54", "55-64", "65-74", "75-84", "85-plus", "age-unknown"];
/// Sex of the person (I.2); `sex-unknown` when it is not recorded.
pub const SEXES: [&str; 3] = ["female", "male", "sex-unknown"];
/// A duration in whole months (files from opening to closing, actions from start to end).
pub const DURATION_BANDS: [&str; 5] = ["under-3-months", "3-6-months", "6-12-months", "12-24-months", "24-months-plus"];
/// The file's risk concerned (I.12) when the action starts: one risk, `several`, or `none`.
pub const RISKS: [&str; 7] =
    ["illness", "maternity", "work-accident", "occupational-disease", "invalidity", "several", "none"];
/// An offer's kind × whether the person attended at least one of its sessions.
pub const PARTICIPATIONS: [&str; 4] =
    ["individual-attended", "individual-not-attended", "collective-attended", "collective-not-attended"];
/// The outcome of an offer at the worklist, as the requester records it.
pub const OUTCOMES: [&str; 3] = ["accepted", "declined", "no-reply"];

/// What a cell counts (the crate's documentation describes each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Measure {
    FilesOpened,
    FilesClosed,
    ActionsStarted,
    ActionsEnded,
    OfferParticipants,
    OfferOutcomes,
}

impl Measure {
    /// Every measure, in the order the tables are printed.
    pub const ALL: [Measure; 6] = [
        Measure::FilesOpened,
        Measure::FilesClosed,
        Measure::ActionsStarted,
        Measure::ActionsEnded,
        Measure::OfferParticipants,
        Measure::OfferOutcomes,
    ];

    /// The measure's code in the JSON and the text (`files-opened`).
    pub fn code(self) -> &'static str {
        match self {
            Measure::FilesOpened => "files-opened",
            Measure::FilesClosed => "files-closed",
            Measure::ActionsStarted => "actions-started",
            Measure::ActionsEnded => "actions-ended",
            Measure::OfferParticipants => "offer-participants",
            Measure::OfferOutcomes => "offer-outcomes",
        }
    }

    /// The measure of a code.
    pub fn parse(code: &str) -> Option<Measure> {
        Measure::ALL.into_iter().find(|m| m.code() == code)
    }

    /// The category groups: each group's categories sum to [`TOTAL`]. `files-opened` has two
    /// (age bands and sexes) over one total, so the two breakdowns share their total cell and
    /// the suppression sees both at once.
    pub fn groups(self) -> &'static [&'static [&'static str]] {
        match self {
            Measure::FilesOpened => &[&AGE_BANDS, &SEXES],
            Measure::FilesClosed | Measure::ActionsEnded => &[&DURATION_BANDS],
            Measure::ActionsStarted => &[&RISKS],
            Measure::OfferParticipants => &[&PARTICIPATIONS],
            Measure::OfferOutcomes => &[&OUTCOMES],
        }
    }

    /// Every category of the measure, its groups' in order, then [`TOTAL`].
    pub fn categories(self) -> Vec<&'static str> {
        let mut all: Vec<&'static str> = self.groups().iter().flat_map(|g| g.iter().copied()).collect();
        all.push(TOTAL);
        all
    }

    /// The category as the measure spells it, or `None` for a category it does not have.
    pub fn category(self, name: &str) -> Option<&'static str> {
        self.categories().into_iter().find(|c| *c == name)
    }
}

impl std::fmt::Display for Measure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// A calendar day, for the band helpers: (year, month, day).
pub type Day = (u32, u32, u32);

/// Whole years from `birth` to `at` (0 when `at` is before `birth`).
pub fn age_at(birth: Day, at: Day) -> u32 {
    let years = at.0.saturating_sub(birth.0);
    if (at.1, at.2) < (birth.1, birth.2) {
        years.saturating_sub(1)
    } else {
        years
    }
}

/// Whole months from `start` to `end` (0 when `end` is before `start`).
pub fn whole_months(start: Day, end: Day) -> u32 {
    let months = (end.0 * 12 + end.1).saturating_sub(start.0 * 12 + start.1);
    if end.2 < start.2 {
        months.saturating_sub(1)
    } else {
        months
    }
}

/// The age band of an age in whole years, `age-unknown` for none.
pub fn age_band(age: Option<u32>) -> &'static str {
    match age {
        None => "age-unknown",
        Some(a) if a < 40 => "under-40",
        Some(a) if a < 55 => "40-54",
        Some(a) if a < 65 => "55-64",
        Some(a) if a < 75 => "65-74",
        Some(a) if a < 85 => "75-84",
        Some(_) => "85-plus",
    }
}

/// The duration band of a duration in whole months.
pub fn duration_band(months: u32) -> &'static str {
    match months {
        0..=2 => "under-3-months",
        3..=5 => "3-6-months",
        6..=11 => "6-12-months",
        12..=23 => "12-24-months",
        _ => "24-months-plus",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_cut_where_their_names_say() {
        assert_eq!(age_at((1950, 6, 15), (2026, 6, 14)), 75);
        assert_eq!(age_at((1950, 6, 15), (2026, 6, 15)), 76);
        assert_eq!(age_band(Some(39)), "under-40");
        assert_eq!(age_band(Some(40)), "40-54");
        assert_eq!(age_band(Some(85)), "85-plus");
        assert_eq!(age_band(None), "age-unknown");
        assert_eq!(whole_months((2026, 1, 31), (2026, 4, 30)), 2);
        assert_eq!(whole_months((2026, 1, 15), (2026, 4, 15)), 3);
        assert_eq!(duration_band(2), "under-3-months");
        assert_eq!(duration_band(3), "3-6-months");
        assert_eq!(duration_band(12), "12-24-months");
        assert_eq!(duration_band(24), "24-months-plus");
    }

    #[test]
    fn every_measure_has_its_code_and_total_last() {
        for m in Measure::ALL {
            assert_eq!(Measure::parse(m.code()), Some(m));
            assert_eq!(m.categories().last(), Some(&TOTAL));
            assert!(m.groups().iter().all(|g| g.len() >= 2), "a group of one would equal its total");
        }
        assert_eq!(Measure::FilesOpened.categories().len(), 7 + 3 + 1);
    }
}
