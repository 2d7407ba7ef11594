//! Submissions and cases: creating them, their counts and states, reading them back.

use std::path::PathBuf;
use std::time::SystemTime;

use passerelle_protocol::v1;
use passerelle_sqlite::rusqlite::{self, params};
use passerelle_sqlite::time::{from_ms, opt_from_ms, to_ms};
use passerelle_sqlite::Tx;
use prost::Message as _;
use uuid::Uuid;

use super::{CaseRecord, CaseState, Store, StoreError, SubmissionRecord};

impl Store {
    pub fn insert_submission(tx: &Tx<'_>, s: &SubmissionRecord) -> Result<(), StoreError> {
        tx.execute(
            "INSERT INTO submissions (id, submitted_at, purge_after, respond_by, service, wanted, columns, separator,
                encoding, out_path, lines, rejected, offered_service)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            params![
                s.id.to_string(),
                to_ms(s.submitted_at),
                to_ms(s.purge_after),
                to_ms(s.respond_by),
                s.service,
                s.wanted.iter().map(|c| c.code()).collect::<Vec<_>>().join(","),
                serde_json::to_string(&s.columns).expect("strings serialise"),
                s.separator,
                s.encoding,
                s.out_path.as_ref().map(|p| p.to_string_lossy().into_owned()),
                s.lines as i64,
                s.rejected as i64,
                s.offered_service,
            ],
        )?;
        Ok(())
    }

    /// Sets the selection counts once the file has been read to its end.
    pub fn set_submission_counts(tx: &Tx<'_>, id: Uuid, lines: u64, rejected: u64) -> Result<(), StoreError> {
        tx.execute(
            "UPDATE submissions SET lines = ?2, rejected = ?3 WHERE id = ?1",
            params![id.to_string(), lines as i64, rejected as i64],
        )?;
        Ok(())
    }

    pub fn insert_case(
        tx: &Tx<'_>,
        id: Uuid,
        submission: Uuid,
        observatory: &str,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        tx.execute(
            "INSERT INTO cases (id, submission_id, observatory, persons, request_chunks, state, submitted_at)
             VALUES (?1, ?2, ?3, 0, 0, 'prepared', ?4)",
            params![id.to_string(), submission.to_string(), observatory, to_ms(now)],
        )?;
        Ok(())
    }

    /// Fixes a case's person and chunk counts once the selection is read.
    pub fn set_case_counts(tx: &Tx<'_>, id: Uuid, persons: u64, chunks: u32) -> Result<(), StoreError> {
        tx.execute(
            "UPDATE cases SET persons = ?2, request_chunks = ?3 WHERE id = ?1",
            params![id.to_string(), persons as i64, chunks],
        )?;
        Ok(())
    }

    pub fn mark_sent(&self, case: Uuid, now: SystemTime) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "UPDATE cases SET state = 'sent', sent_at = ?2 WHERE id = ?1 AND state = 'prepared'",
                params![case.to_string(), to_ms(now)],
            )?;
            Ok(())
        })
    }

    pub fn mark_receipt_sent(&self, case: Uuid, now: SystemTime) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute("UPDATE cases SET receipt_sent_at = ?2 WHERE id = ?1", params![case.to_string(), to_ms(now)])?;
            Ok(())
        })
    }

    /// Records result files written for a submission (the purge deletes them); `whole` when
    /// they are its consolidated result (then the daemon need not write it).
    pub fn mark_written(
        &self,
        submission: Uuid,
        files: &[PathBuf],
        now: SystemTime,
        whole: bool,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            if whole {
                tx.execute(
                    "UPDATE submissions SET written_at = ?2 WHERE id = ?1",
                    params![submission.to_string(), to_ms(now)],
                )?;
            }
            for f in files {
                tx.execute(
                    "INSERT OR IGNORE INTO written_files (submission_id, path) VALUES (?1, ?2)",
                    params![submission.to_string(), f.to_string_lossy()],
                )?;
            }
            Ok::<_, StoreError>(())
        })
    }

    pub fn submission(&self, id: Uuid) -> Result<Option<SubmissionRecord>, StoreError> {
        self.read(|conn| {
            conn.query_optional(&format!("{SUBMISSION_SELECT} WHERE id = ?1"), params![id.to_string()], submission_row)?
                .transpose()
        })
    }

    pub fn submissions(&self) -> Result<Vec<SubmissionRecord>, StoreError> {
        self.read(|conn| {
            conn.query_all(&format!("{SUBMISSION_SELECT} ORDER BY submitted_at, id"), [], submission_row)?
                .into_iter()
                .collect()
        })
    }

    /// Submissions whose every case is settled and whose result files are not written yet.
    pub fn submissions_to_write(&self) -> Result<Vec<Uuid>, StoreError> {
        self.read(|conn| {
            let ids: Vec<String> = conn.query_all(
                "SELECT s.id FROM submissions s
                 WHERE s.purged_at IS NULL AND s.written_at IS NULL
                   AND EXISTS (SELECT 1 FROM cases c WHERE c.submission_id = s.id)
                   AND NOT EXISTS (SELECT 1 FROM cases c WHERE c.submission_id = s.id
                                   AND c.state NOT IN ('answered', 'refused'))
                 ORDER BY s.submitted_at, s.id",
                [],
                |r| r.get(0),
            )?;
            ids.iter().map(|id| Uuid::parse_str(id).map_err(|e| StoreError::Corrupt(e.to_string()))).collect()
        })
    }

    pub fn case(&self, id: Uuid) -> Result<Option<CaseRecord>, StoreError> {
        self.read(|conn| case_by_id(conn, id))
    }

    /// Every case, oldest first.
    pub fn cases(&self) -> Result<Vec<CaseRecord>, StoreError> {
        self.cases_where("1 = 1", params![])
    }

    pub fn cases_of(&self, submission: Uuid) -> Result<Vec<CaseRecord>, StoreError> {
        self.cases_where("submission_id = ?1", params![submission.to_string()])
    }

    /// Cases not yet fully sent (a `submit` interrupted before every confirm).
    pub fn unsent_cases(&self) -> Result<Vec<CaseRecord>, StoreError> {
        self.cases_where("state = 'prepared'", params![])
    }

    /// Answered cases whose receipt is not yet confirmed.
    pub fn cases_awaiting_receipt(&self) -> Result<Vec<CaseRecord>, StoreError> {
        self.cases_where("state = 'answered' AND receipt_sent_at IS NULL", params![])
    }

    fn cases_where(
        &self,
        condition: &str,
        args: &[&dyn passerelle_sqlite::rusqlite::ToSql],
    ) -> Result<Vec<CaseRecord>, StoreError> {
        self.read(|conn| {
            let mut stmt =
                conn.prepare_cached(&format!("{CASE_SELECT} WHERE {condition} ORDER BY submitted_at, id"))?;
            let rows = stmt.query_map(args, case_row)?;
            let mut out = Vec::new();
            for row in rows {
                let mut case = row??;
                case.result_chunks_received = count_result_chunks(conn, case.id)?;
                out.push(case);
            }
            Ok(out)
        })
    }
}

const SUBMISSION_SELECT: &str = "SELECT id, submitted_at, purge_after, respond_by, service, wanted, columns, separator,
    encoding, out_path, lines, rejected, written_at, purged_at, offered_service FROM submissions";

fn submission_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<SubmissionRecord, StoreError>> {
    let id: String = r.get(0)?;
    let wanted: String = r.get(5)?;
    let columns: String = r.get(6)?;
    let out_path: Option<String> = r.get(9)?;
    let build = || -> Result<SubmissionRecord, StoreError> {
        Ok(SubmissionRecord {
            id: Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            submitted_at: from_ms(r.get(1)?),
            purge_after: from_ms(r.get(2)?),
            respond_by: from_ms(r.get(3)?),
            service: r.get(4)?,
            wanted: passerelle_protocol::catalogue::parse_list(&wanted)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            columns: serde_json::from_str(&columns).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            separator: r.get(7)?,
            encoding: r.get(8)?,
            out_path: out_path.map(PathBuf::from),
            lines: r.get::<_, i64>(10)? as u64,
            rejected: r.get::<_, i64>(11)? as u64,
            written_at: opt_from_ms(r.get(12)?),
            purged_at: opt_from_ms(r.get(13)?),
            offered_service: r.get(14)?,
        })
    };
    Ok(build())
}

const CASE_SELECT: &str =
    "SELECT id, submission_id, observatory, persons, request_chunks, state, submitted_at, sent_at,
    settled_at, receipt_sent_at, result_chunks, completeness, bodies, case_problems, refused_persons FROM cases";

fn case_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<CaseRecord, StoreError>> {
    let id: String = r.get(0)?;
    let submission: String = r.get(1)?;
    let state: String = r.get(5)?;
    let bodies: Option<Vec<u8>> = r.get(12)?;
    let problems: Option<String> = r.get(13)?;
    let build = || -> Result<CaseRecord, StoreError> {
        let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt(e.to_string());
        Ok(CaseRecord {
            id: Uuid::parse_str(&id).map_err(|e| corrupt(&e))?,
            submission_id: Uuid::parse_str(&submission).map_err(|e| corrupt(&e))?,
            observatory: r.get(2)?,
            persons: r.get::<_, i64>(3)? as u64,
            request_chunks: r.get(4)?,
            state: CaseState::parse(&state)?,
            submitted_at: from_ms(r.get(6)?),
            sent_at: opt_from_ms(r.get(7)?),
            settled_at: opt_from_ms(r.get(8)?),
            receipt_sent_at: opt_from_ms(r.get(9)?),
            result_chunks: r.get(10)?,
            result_chunks_received: 0,
            completeness: r
                .get::<_, Option<i32>>(11)?
                .and_then(|c| v1::Completeness::try_from(c).ok())
                .unwrap_or(v1::Completeness::Unspecified),
            bodies: match bodies {
                Some(b) => v1::Result::decode(b.as_slice()).map_err(|e| corrupt(&e))?.bodies,
                None => Vec::new(),
            },
            case_problems: match problems {
                Some(p) => serde_json::from_str(&p).map_err(|e| corrupt(&e))?,
                None => Vec::new(),
            },
            refused_persons: r.get::<_, i64>(14)? as u64,
        })
    };
    Ok(build())
}

pub(super) fn case_by_id(conn: &Tx<'_>, id: Uuid) -> Result<Option<CaseRecord>, StoreError> {
    let case = conn.query_optional(&format!("{CASE_SELECT} WHERE id = ?1"), params![id.to_string()], case_row)?;
    match case {
        Some(case) => {
            let mut case = case?;
            case.result_chunks_received = count_result_chunks(conn, id)?;
            Ok(Some(case))
        }
        None => Ok(None),
    }
}

/// Something new arrived for a case: its submission's result files must be written (again).
pub(super) fn mark_unwritten(tx: &Tx<'_>, case_id: Uuid) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE submissions SET written_at = NULL WHERE id = (SELECT submission_id FROM cases WHERE id = ?1)",
        params![case_id.to_string()],
    )?;
    Ok(())
}

fn count_result_chunks(conn: &Tx<'_>, case: Uuid) -> Result<u32, StoreError> {
    Ok(conn
        .query_row("SELECT COUNT(*) FROM result_chunks WHERE case_id = ?1", params![case.to_string()], |r| r.get(0))?)
}

/// Moves a case to `answered` or `refused` when nothing more is expected: every result chunk
/// stored, the whole case refused, or every person refused. Returns whether it is settled.
pub(super) fn settle(tx: &Tx<'_>, case_id: Uuid, now: SystemTime) -> Result<bool, StoreError> {
    let case = case_by_id(tx, case_id)?.ok_or_else(|| StoreError::Corrupt("case vanished".into()))?;
    if case.state.is_settled() {
        return Ok(true);
    }
    let whole_refused = !case.case_problems.is_empty()
        || tx.query_row(
            "SELECT COUNT(*) FROM refusals WHERE case_id = ?1 AND whole_case = 1",
            params![case_id.to_string()],
            |r| r.get::<_, i64>(0),
        )? > 0;
    let new_state = if case.result_chunks.is_some_and(|n| case.result_chunks_received >= n) {
        Some(CaseState::Answered)
    } else if whole_refused || (case.persons > 0 && case.refused_persons >= case.persons) {
        Some(CaseState::Refused)
    } else {
        None
    };
    if let Some(state) = new_state {
        tx.execute(
            "UPDATE cases SET state = ?2, settled_at = ?3 WHERE id = ?1",
            params![case_id.to_string(), state.as_str(), to_ms(now)],
        )?;
    }
    Ok(new_state.is_some())
}
