//! The 24-month purge (decree art. 5) and the scrub that leaves no purged byte readable.

use std::path::PathBuf;
use std::time::SystemTime;

use passerelle_sqlite::rusqlite::params;
use passerelle_sqlite::time::to_ms;
use uuid::Uuid;

use super::{Store, StoreError};

/// One submission a purge removed: what went, and the result files the caller deletes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgedSubmission {
    pub id: Uuid,
    /// Its cases (one per observatory).
    pub cases: u64,
    /// The persons of its selection that were still stored.
    pub persons: u64,
    /// The result files written for it.
    pub files: Vec<PathBuf>,
}

impl Store {
    // ----- purge -----

    /// Purges every submission whose retention ended by `now`: its persons (names, contacts,
    /// NIRs, risk factors), results, refusals, offer outcomes, contact-list orders and rectification marks; the case
    /// metadata (ids, counts, dates, states) stays. Returns the purged submissions with the
    /// result files that were written for them, which the caller deletes. Then makes the freed bytes unreadable ([`Store::scrub`]).
    pub fn purge_due(&self, now: SystemTime) -> Result<Vec<PurgedSubmission>, StoreError> {
        self.purge_due_recorded(now, &|_| Ok(()))
    }

    /// [`Store::purge_due`], calling `before_commit` with the ids of every case it purges,
    /// inside the transaction, before it commits (the purge's access entries: an error aborts
    /// the purge, so no case is purged unrecorded). Not called when nothing is due.
    pub fn purge_due_recorded(
        &self,
        now: SystemTime,
        before_commit: &dyn Fn(&[Uuid]) -> Result<(), StoreError>,
    ) -> Result<Vec<PurgedSubmission>, StoreError> {
        let purged = self.write(|tx| {
            let due: Vec<String> = tx.query_all(
                "SELECT id FROM submissions WHERE purge_after <= ?1 AND purged_at IS NULL ORDER BY id",
                params![to_ms(now)],
                |r| r.get(0),
            )?;
            let mut out = Vec::new();
            let mut purged_cases: Vec<Uuid> = Vec::new();
            for id in due {
                let files: Vec<String> = tx.query_all(
                    "SELECT path FROM written_files WHERE submission_id = ?1 ORDER BY path",
                    params![id],
                    |r| r.get(0),
                )?;
                let cases = "SELECT id FROM cases WHERE submission_id = ?1";
                let case_ids: Vec<String> = tx.query_all(&format!("{cases} ORDER BY id"), params![id], |r| r.get(0))?;
                for case in &case_ids {
                    purged_cases.push(Uuid::parse_str(case).map_err(|e| StoreError::Corrupt(e.to_string()))?);
                }
                let case_count = case_ids.len() as i64;
                tx.execute(
                    &format!(
                        "DELETE FROM person_answers WHERE person_id IN
                         (SELECT id FROM persons WHERE case_id IN ({cases}))"
                    ),
                    params![id],
                )?;
                super::outcomes::purge_outcomes(tx, cases, &id)?;
                super::worklist::forget_orders(tx, cases, &id)?;
                super::rights::forget_rectifications(tx, cases, &id)?;
                let persons = tx.execute(&format!("DELETE FROM persons WHERE case_id IN ({cases})"), params![id])?;
                tx.execute(&format!("DELETE FROM result_chunks WHERE case_id IN ({cases})"), params![id])?;
                tx.execute(&format!("DELETE FROM refusals WHERE case_id IN ({cases})"), params![id])?;
                tx.execute("DELETE FROM written_files WHERE submission_id = ?1", params![id])?;
                tx.execute(
                    "UPDATE cases SET state = 'purged', purged_at = ?2, bodies = NULL, case_problems = NULL
                     WHERE submission_id = ?1",
                    params![id, to_ms(now)],
                )?;
                // The service text is the requester's own words: it may name a person. Gone too.
                tx.execute(
                    "UPDATE submissions SET purged_at = ?2, service = '', out_path = NULL WHERE id = ?1",
                    params![id, to_ms(now)],
                )?;
                let uuid = Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                out.push(PurgedSubmission {
                    id: uuid,
                    cases: case_count as u64,
                    persons: persons as u64,
                    files: files.into_iter().map(PathBuf::from).collect(),
                });
            }
            if !out.is_empty() {
                before_commit(&purged_cases)?;
            }
            Ok::<_, StoreError>(out)
        })?;
        if !purged.is_empty() {
            self.scrub()?;
        }
        Ok(purged)
    }

    /// Leaves no deleted byte readable in the store's files: rebuilds the file from its live
    /// rows and truncates the WAL ([`passerelle_sqlite::Database::rebuild`]).
    pub fn scrub(&self) -> Result<(), StoreError> {
        if !self.db.rebuild()?.wal_truncated {
            tracing::warn!(
                path = %self.path().display(),
                "another process was reading the store: its WAL is truncated once the store is idle"
            );
        }
        Ok(())
    }
}
