//! What the office sees of retention (`GET /v1/retention/flagged`, `social-service retention
//! flagged`): the files the pass flags to it and why, and the files about to leave the live
//! store. Computed now, on the same indexes and rules as the pass ([`super::retention`]): what
//! this list says is what the next pass does, unless the office acts first.
//!
//! - **Flagged, an idle action**: an open action with no activity for `idle_flag_days`; the
//!   pass closes it at the day of its last activity once idle `idle_close_days` (`closes_on`).
//! - **Flagged, an objection pending**: the file's live period ran out, but it waits for the
//!   director's decision on the person's objection (`social-service rights decide`).
//! - **Due**: the files whose live period runs out within [`DUE_WITHIN_DAYS`] (or ran out, the
//!   pass not having run since), with the day and what becomes of them.
//!
//! The list names persons' files: each file listed is a `read` of the worker in the access log,
//! written before the answer, as `list` does.

use chrono::{Days, Months, NaiveDate};
use passerelle_access_log::AccessKind;
use passerelle_protocol::value::format_date;
use serde::{Deserialize, Serialize};

use super::retention::{days, live_cutoff, v1_date, BATCH};
use super::{Result, SocialService};
use crate::store::{Candidate, Cursor, FileRow};

/// `social-service retention flagged --json`.
pub const FLAGGED_FORMAT: &str = "passerelle.social-service-retention-flagged/1";

/// How far ahead the due files are listed (days).
pub const DUE_WITHIN_DAYS: u32 = 30;

/// The office's flagged files and the files due to leave the live store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlaggedList {
    pub format: String,
    pub office: String,
    /// Today in the body's legal time zone (`YYYY-MM-DD`).
    pub today: String,
    /// The live period (`[retention] live_months`).
    pub live_months: u32,
    /// How far ahead `due` looks (days).
    pub within_days: u32,
    /// The files flagged to the office, idle actions first (oldest activity first).
    pub flagged: Vec<FlaggedFile>,
    /// The files leaving the live store within `within_days`, soonest first.
    pub due: Vec<DueFile>,
}

/// Why a file is flagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagReason {
    /// Its open action has seen no activity since `since`.
    IdleAction,
    /// Its live period ran out on `since`; an objection waits for the director's decision.
    ObjectionPending,
}

/// A flagged file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlaggedFile {
    pub file: String,
    pub reason: FlagReason,
    /// `idle_action`: the day of the last activity; `objection_pending`: the day the live
    /// period ran out.
    pub since: String,
    /// `idle_action` only: the day from which the pass closes the action (at `since`).
    pub closes_on: Option<String>,
}

/// What becomes of a file at the end of its live period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fate {
    /// Admitted to the archive, then erased from the live store.
    Archive,
    /// Erased without archive (the person refused it, or `archive_months = 0`).
    Erase,
    /// An objection is pending: the file stays until the director decides.
    Wait,
}

/// A file leaving the live store soon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DueFile {
    pub file: String,
    /// The first day the pass takes it (`YYYY-MM-DD`); today or before when the pass has not
    /// run since.
    pub leaves_on: String,
    pub fate: Fate,
}

impl SocialService {
    /// The office's flagged and due files (see the module doc), each listed file recorded as a
    /// read by `agent` before the answer.
    pub fn retention_flagged(&self, agent: &str) -> Result<FlaggedList> {
        let now = self.now();
        let settings = self.settings().retention;
        let today = self.legal_date(now);
        let horizon = today.checked_add_days(Days::new(u64::from(DUE_WITHIN_DAYS))).unwrap_or(today);
        let cutoff = live_cutoff(horizon, settings.live_months);
        let (mut flagged, mut due, mut listed) = (Vec::new(), Vec::new(), Vec::<FileRow>::new());

        let flag_before = now - days(settings.idle_flag_days);
        self.walk(
            |after| self.store().idle(flag_before, after, BATCH),
            |candidate| {
                let (Cursor::Activity(at, _), Some(row)) = (&candidate.key, self.office_file(&candidate.file)?) else {
                    return Ok(());
                };
                let last = passerelle_sqlite::time::from_ms(*at);
                let since = self.legal_date(last);
                // Closed once idle `idle_close_days`, or once the live period counted from the
                // last activity ran out, whichever comes first (as the pass does).
                let closes_on =
                    self.legal_date(last + days(settings.idle_close_days)).min(leaves_on(since, settings.live_months));
                flagged.push(FlaggedFile {
                    file: row.id.clone(),
                    reason: FlagReason::IdleAction,
                    since: day(since),
                    closes_on: Some(day(closes_on)),
                });
                listed.push(row);
                Ok(())
            },
        )?;

        let mut leaving = |candidate: &Candidate| -> Result<()> {
            let Some(row) = self.office_file(&candidate.file)? else { return Ok(()) };
            let start = match &candidate.key {
                Cursor::End(end, _) => NaiveDate::parse_from_str(end, "%Y-%m-%d").unwrap_or(NaiveDate::MIN),
                Cursor::Activity(at, _) => self.legal_date(passerelle_sqlite::time::from_ms(*at)),
            };
            let leaves_on = leaves_on(start, settings.live_months);
            let fate = if self.store().pending_objection(&row.id)? {
                Fate::Wait
            } else if settings.archive_months == 0 || self.store().refused_archive(&row.id)? {
                Fate::Erase
            } else {
                Fate::Archive
            };
            if fate == Fate::Wait && leaves_on <= today {
                flagged.push(FlaggedFile {
                    file: row.id.clone(),
                    reason: FlagReason::ObjectionPending,
                    since: day(leaves_on),
                    closes_on: None,
                });
            } else {
                due.push(DueFile { file: row.id.clone(), leaves_on: day(leaves_on), fate });
            }
            listed.push(row);
            Ok(())
        };
        let cutoff_text = format_date(&v1_date(cutoff));
        self.walk(|after| self.store().due_by_end(&cutoff_text, after, BATCH), &mut leaving)?;
        let activity_before = self.start_of(cutoff.succ_opt().unwrap_or(cutoff));
        self.walk(|after| self.store().due_by_activity(activity_before, after, BATCH), &mut leaving)?;
        due.sort_by(|a, b| (&a.leaves_on, &a.file).cmp(&(&b.leaves_on, &b.file)));

        let entries: Vec<_> =
            listed.iter().map(|r| self.entry(agent, AccessKind::Read, &r.id, Some(&r.file))).collect();
        self.record(&entries)?;
        Ok(FlaggedList {
            format: FLAGGED_FORMAT.to_owned(),
            office: self.office().to_owned(),
            today: day(today),
            live_months: settings.live_months,
            within_days: DUE_WITHIN_DAYS,
            flagged,
            due,
        })
    }

    /// A live file if it is of this office.
    fn office_file(&self, id: &str) -> Result<Option<FileRow>> {
        Ok(self.store().file(id)?.filter(|row| row.office == self.office()))
    }

    /// Walks a cursor-paged query a batch at a time, calling `each` on every candidate.
    fn walk(
        &self,
        mut page: impl FnMut(Option<&Cursor>) -> std::result::Result<Vec<Candidate>, crate::store::StoreError>,
        mut each: impl FnMut(&Candidate) -> Result<()>,
    ) -> Result<()> {
        let mut after: Option<Cursor> = None;
        loop {
            let batch = page(after.as_ref())?;
            for candidate in &batch {
                each(candidate)?;
            }
            if batch.len() < BATCH {
                return Ok(());
            }
            after = batch.last().map(|c| c.key.clone());
        }
    }
}

fn day(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// The first day a file whose clock started on `start` is due: `start` + `live_months`, the
/// 31st counting as a shorter month's last day ([`live_cutoff`], as the pass counts).
pub(crate) fn leaves_on(start: NaiveDate, live_months: u32) -> NaiveDate {
    start.checked_add_months(Months::new(live_months)).unwrap_or(NaiveDate::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_leaves_on_the_first_day_the_pass_finds_it_due() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(leaves_on(d("2026-01-15"), 18), d("2027-07-15"));
        assert_eq!(leaves_on(d("2025-08-31"), 18), d("2027-02-28"), "the 18th month's last day");
        let mut start = d("2025-01-01");
        while start < d("2026-12-31") {
            let left = leaves_on(start, 18);
            assert!(live_cutoff(left, 18) >= start, "due on {left}");
            assert!(live_cutoff(left.pred_opt().unwrap(), 18) < start, "not due the day before {left}");
            start = start.succ_opt().unwrap();
        }
    }
}
