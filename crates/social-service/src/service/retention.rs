//! The retention pass (norm 43, "DUREE DE CONSERVATION"; DESIGN §7.2), run by the daemon at
//! start and every hour (its housekeeping, [`super::housekeeping`]) on the daemon's clock.
//!
//! - **The clock.** A file's live period (`[retention] live_months`, 18 at most) starts at the
//!   end of its last action when no action is open, or at its last activity when it has no
//!   action. An open action without activity for `idle_flag_days` is flagged to the office; for
//!   `idle_close_days` (or `live_months`, if shorter), the pass closes it at the day of its last
//!   activity, so the clock starts.
//! - **At the end of the live period.** An objection still pending: the file waits for the
//!   director's decision, flagged. The person refused the archive, or `archive_months = 0`: the
//!   file is erased. Otherwise it is admitted to the archive, **then** erased from the live
//!   store (admission is idempotent by id: a crash between the two is replayed safely).
//! - **Then** the archive erases the files whose time there ran out.
//!
//! Erased means every row of the file, in one transaction, an access-log `delete` by
//! `daemon:social-service` written before the commit, then the store rebuilt so nothing of it
//! is readable on disk. The due files are walked on indexes, a batch at a time.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use chrono::{Datelike, Months, NaiveDate, TimeZone};
use passerelle_access_log::{daemon_actor, AccessEntry, AccessKind};
use passerelle_protocol::value::format_date;
use passerelle_social_archive::ArchivedFile;
use passerelle_social_file::v1;
use serde::{Deserialize, Serialize};

use super::{Result, SocialService, SocialServiceError};
use crate::store::{rfc3339, Candidate, Cursor, FileRow, LastPass};
use crate::DAEMON;

/// Files a step of the pass reads at once: memory holds one batch, whatever is due.
pub const BATCH: usize = 500;

/// `social-service retention run --json`.
pub const RETENTION_FORMAT: &str = "passerelle.social-service-retention/1";

/// What a retention pass did. Counts, and the ids of the files it flagged to the office only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionReport {
    pub format: String,
    /// When the pass ran (RFC 3339, the daemon's clock).
    pub at: String,
    /// Files admitted to the archive and erased from the live store.
    pub archived: u64,
    /// Files erased from the live store without archive (refusal, or `archive_months = 0`).
    pub erased: u64,
    /// Files the archive erased at the end of their time there.
    pub archive_erased: u64,
    /// Idle actions the pass closed at their last activity.
    pub idle_closed: u64,
    /// Files whose open action is idle (not yet closed): the office should follow or close them.
    pub flagged_idle: Vec<String>,
    /// Files at the end of their live period with an objection pending: they wait for the
    /// director's decision (`social-service rights decide`).
    pub waiting_objection: Vec<String>,
}

pub(super) fn days(n: u32) -> Duration {
    Duration::from_secs(u64::from(n) * 86_400)
}

/// How long a worklist line stays marked as an opposed person's: the requester keeps a case
/// at most 24 months after its result (decree), and a line is marked after the result.
const OPPOSED_LINE_DAYS: u32 = 24 * 31;

fn text_of(at: SystemTime) -> String {
    rfc3339(passerelle_sqlite::time::to_ms(at))
}

/// A file's live period ran out: what becomes of it.
enum Fate {
    /// An objection is pending: the file waits, flagged.
    Wait,
    /// Erased without archive.
    Erase,
    /// Admitted to the archive, then erased from the live store.
    Archive,
}

impl SocialService {
    /// The retention pass now (see the module doc).
    pub fn retention_pass(&self) -> Result<RetentionReport> {
        let now = self.now();
        let settings = self.settings().retention;
        let mut report =
            RetentionReport { format: RETENTION_FORMAT.to_owned(), at: text_of(now), ..Default::default() };
        let cutoff = self.live_cutoff(now, settings.live_months);
        let cutoff_text = format_date(&v1_date(cutoff));
        let activity_before = self.start_of(cutoff.succ_opt().unwrap_or(cutoff));
        self.idle_actions(now, activity_before, &mut report)?;
        let mut after: Option<Cursor> = None;
        loop {
            let batch = self.store().due_by_end(&cutoff_text, after.as_ref(), BATCH)?;
            self.retire(&batch, now, &mut report)?;
            if batch.len() < BATCH {
                break;
            }
            after = batch.last().map(|c| c.key.clone());
        }
        let mut after: Option<Cursor> = None;
        loop {
            let batch = self.store().due_by_activity(activity_before, after.as_ref(), BATCH)?;
            self.retire(&batch, now, &mut report)?;
            if batch.len() < BATCH {
                break;
            }
            after = batch.last().map(|c| c.key.clone());
        }
        // The archive's entries are written inside its transaction, before it commits: a crash
        // between leaves an entry for an erasure the next pass does, never an erasure unrecorded.
        let gone = self.archive().erase_due_recorded(now, |ids| {
            let entries: Vec<_> = ids.iter().map(|id| self.daemon_entry(now, AccessKind::Delete, id, None)).collect();
            self.record(&entries)
        })?;
        let mut scrub = report.archived + report.erased > 0;
        scrub |= self.erase_stray_rights()?;
        report.archive_erased = gone.len() as u64;
        if scrub {
            self.store().scrub()?;
        }
        // A worklist line's mark cannot outlive its case at the requester (the decree's cap).
        self.store()
            .forget_opposed_lines(now.checked_sub(days(OPPOSED_LINE_DAYS)).unwrap_or(SystemTime::UNIX_EPOCH))?;
        self.store().record_pass(&LastPass {
            at: Some(now),
            flagged_idle: report.flagged_idle.len() as u64,
            waiting_objection: report.waiting_objection.len() as u64,
        })?;
        tracing::info!(
            archived = report.archived,
            erased = report.erased,
            archive_erased = report.archive_erased,
            idle_closed = report.idle_closed,
            flagged_idle = report.flagged_idle.len(),
            waiting_objection = report.waiting_objection.len(),
            "retention pass done"
        );
        Ok(report)
    }

    /// Flags the open actions idle `idle_flag_days`, closes at the day of their last activity
    /// those idle `idle_close_days` — or idle since before `activity_before`, the live period
    /// counted from that last activity having run out (a `live_months` shorter than
    /// `idle_close_days` holds for them too).
    fn idle_actions(&self, now: SystemTime, activity_before: SystemTime, report: &mut RetentionReport) -> Result<()> {
        let settings = self.settings().retention;
        let flag_before = now - days(settings.idle_flag_days);
        let close_before = (now - days(settings.idle_close_days)).max(activity_before);
        let mut after: Option<Cursor> = None;
        loop {
            let batch = self.store().idle(flag_before.max(close_before), after.as_ref(), BATCH)?;
            for candidate in &batch {
                let Cursor::Activity(at, _) = &candidate.key else { continue };
                let last = passerelle_sqlite::time::from_ms(*at);
                if last >= close_before {
                    if last < flag_before {
                        report.flagged_idle.push(candidate.file.clone());
                    }
                    continue;
                }
                let Some(row) = self.store().file(&candidate.file)? else { continue };
                let end = format_date(&v1_date(self.legal_date(last)));
                self.record(&[self.daemon_entry(now, AccessKind::Update, &row.id, Some(&row))])?;
                if self.store().close_idle(&row.id, &end)? {
                    report.idle_closed += 1;
                    tracing::info!(file = %row.id, "idle action closed at its last activity");
                }
            }
            if batch.len() < BATCH {
                return Ok(());
            }
            after = batch.last().map(|c| c.key.clone());
        }
    }

    /// The files of a batch whose live period ran out: each waits, is erased, or is archived
    /// then erased; the erasures of the batch in one transaction, their entries before it commits.
    fn retire(&self, batch: &[Candidate], now: SystemTime, report: &mut RetentionReport) -> Result<()> {
        let settings = self.settings().retention;
        let mut entries = HashMap::new();
        let mut erase = Vec::new();
        let mut admitted = HashSet::new();
        for candidate in batch {
            let id = &candidate.file;
            let fate = if self.store().pending_objection(id)? {
                Fate::Wait
            } else if settings.archive_months == 0 || self.store().refused_archive(id)? {
                Fate::Erase
            } else {
                Fate::Archive
            };
            if let Fate::Wait = fate {
                report.waiting_objection.push(id.clone());
                continue;
            }
            let Some(row) = self.store().file(id)? else { continue };
            if let Fate::Archive = fate {
                let file = self.archived_file(&row, candidate)?;
                let delete_at = chrono::DateTime::<chrono::Utc>::from(now)
                    .checked_add_months(Months::new(settings.archive_months))
                    .map(SystemTime::from)
                    .unwrap_or(now);
                self.archive().admit(&file, now, delete_at).map_err(SocialServiceError::Archive)?;
                admitted.insert(row.id.clone());
            } else {
                // A copy a pass admitted before it stopped (a crash), the refusal recorded since:
                // out of the archive first, while the live file still holds the refusal.
                self.erase_archive_copy(now, &row.id)?;
            }
            entries.insert(row.id.clone(), self.daemon_entry(now, AccessKind::Delete, &row.id, Some(&row)));
            erase.push(row.id);
        }
        if erase.is_empty() {
            return Ok(());
        }
        let erased = self.store().erase_retired(&erase, &admitted, |ids| {
            let due: Vec<_> = ids.iter().filter_map(|id| entries.get(id).cloned()).collect();
            self.record(&due)
        })?;
        let erased: HashSet<String> = erased.into_iter().collect();
        for id in &admitted {
            if erased.contains(id) {
                report.archived += 1;
            } else if self.store().file(id)?.is_some() {
                // A right recorded on the live file while the pass ran: it stays live (it waits,
                // or is erased by the next pass), its archive copy goes. (Not found live: another
                // pass — `retention run` beside the hourly one — archived it first; it stays.)
                self.erase_archive_copy(now, id)?;
            }
        }
        report.erased += erased.iter().filter(|id| !admitted.contains(*id)).count() as u64;
        Ok(())
    }

    /// Erases the rights records of the files neither the live store nor the archive holds:
    /// those the archive just erased, and those a crash left behind (between the archive's
    /// erasure and theirs) — an objection's reasons are free text about the person. `true` if
    /// some went.
    fn erase_stray_rights(&self) -> Result<bool> {
        let mut erased = false;
        let mut after = String::new();
        loop {
            let batch = self.store().rights_without_live_file(&after, BATCH)?;
            for id in &batch {
                if !self.archive().contains(id).map_err(SocialServiceError::Archive)? {
                    erased |= self.store().erase_rights(id)?;
                }
            }
            match batch.last() {
                Some(last) if batch.len() == BATCH => after = last.clone(),
                _ => return Ok(erased),
            }
        }
    }

    /// Erases the archive's copy of a file the live store still holds, if there is one, the
    /// daemon's `delete` entry first.
    fn erase_archive_copy(&self, now: SystemTime, id: &str) -> Result<()> {
        if self.archive().contains(id).map_err(SocialServiceError::Archive)? {
            self.record(&[self.daemon_entry(now, AccessKind::Delete, id, None)])?;
            self.archive().erase(id).map_err(SocialServiceError::Archive)?;
            tracing::info!(file = %id, "the archive's copy of a live file erased (a right recorded since its admission)");
        }
        Ok(())
    }

    /// What enters the archive: the file, its actions without the offers' ids (they name other
    /// persons' files), the day its clock started, its person hash.
    fn archived_file(&self, row: &FileRow, candidate: &Candidate) -> Result<ArchivedFile> {
        let mut actions = self.store().actions(&row.id)?;
        for action in &mut actions {
            action.offer_ids.clear();
        }
        let retention_start = match &candidate.key {
            Cursor::End(end, _) => passerelle_protocol::value::parse_date(end).unwrap_or_default(),
            Cursor::Activity(at, _) => v1_date(self.legal_date(passerelle_sqlite::time::from_ms(*at))),
        };
        let person = self.store().person_of(&row.id)?.unwrap_or_default();
        Ok(ArchivedFile {
            id: row.id.clone(),
            office: row.office.clone(),
            opened_at: row.opened_at,
            retention_start,
            file: row.file.clone(),
            actions,
            person,
        })
    }

    /// A machine entry of the daemon, about the file's person when the file is given.
    pub(crate) fn daemon_entry(
        &self,
        at: SystemTime,
        kind: AccessKind,
        object: &str,
        row: Option<&FileRow>,
    ) -> AccessEntry {
        let entry = AccessEntry::new(at, daemon_actor(DAEMON), kind, object);
        match row.and_then(|r| self.log_person(&r.file)) {
            Some(person) => entry.about(person),
            None => entry,
        }
    }

    /// The day of `at` in the body's legal time zone.
    pub(crate) fn legal_date(&self, at: SystemTime) -> NaiveDate {
        let zone = self.settings().trails.time_zone.zone();
        chrono::DateTime::<chrono::Utc>::from(at).with_timezone(&zone).date_naive()
    }

    /// The first instant of `day` in the body's legal time zone.
    pub(super) fn start_of(&self, day: NaiveDate) -> SystemTime {
        let zone = self.settings().trails.time_zone.zone();
        let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
        zone.from_local_datetime(&midnight)
            .earliest()
            .map(|t| SystemTime::from(t.with_timezone(&chrono::Utc)))
            .unwrap_or_else(|| SystemTime::from(midnight.and_utc()))
    }

    /// The last day a clock may have started on for the file to be due today (legal time zone).
    fn live_cutoff(&self, now: SystemTime, live_months: u32) -> NaiveDate {
        live_cutoff(self.legal_date(now), live_months)
    }
}

/// The last day `start` such that `start + months` (the 31st counting as the month's last day)
/// is `today` or before: `months` before today, or, on the last day of a month, the last day of
/// the month `months` before — a clock started on 31 August runs out on the last day of
/// February, not on 1 March.
pub(super) fn live_cutoff(today: NaiveDate, months: u32) -> NaiveDate {
    let back = today.checked_sub_months(Months::new(months)).unwrap_or(NaiveDate::MIN);
    let month_end = today.succ_opt().is_none_or(|next| next.day() == 1);
    if !month_end {
        return back;
    }
    let first_of_next = back.with_day(1).and_then(|d| d.checked_add_months(Months::new(1)));
    first_of_next.and_then(|d| d.pred_opt()).unwrap_or(back)
}

pub(super) fn v1_date(d: NaiveDate) -> v1::Date {
    v1::Date { year: d.year() as u32, month: d.month(), day: d.day() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn the_cutoff_is_the_last_start_whose_months_ran_out() {
        for (today, cutoff) in [
            ("2027-07-15", "2026-01-15"),
            ("2028-02-28", "2026-08-28"),
            ("2028-02-29", "2026-08-31"),
            ("2027-02-28", "2025-08-31"),
            ("2027-04-30", "2025-10-31"),
            ("2027-03-31", "2025-09-30"),
            ("2027-03-30", "2025-09-30"),
        ] {
            assert_eq!(live_cutoff(day(today), 18), day(cutoff), "today {today}");
        }
        // Every start up to the cutoff, and none after, is due: start + 18 months <= today.
        let mut today = day("2027-01-01");
        while today < day("2029-01-01") {
            let cutoff = live_cutoff(today, 18);
            assert!(cutoff.checked_add_months(Months::new(18)).unwrap() <= today, "{today}");
            let next = cutoff.succ_opt().unwrap();
            assert!(next.checked_add_months(Months::new(18)).unwrap() > today, "{today}");
            today = today.succ_opt().unwrap();
        }
    }
}
