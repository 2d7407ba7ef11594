//! Storing a result chunk or a refusal: matched with the case's persons, idempotent on its
//! chunk, settling the case when nothing more is expected.

use std::time::SystemTime;

use passerelle_protocol::v1;
use passerelle_sqlite::rusqlite::params;
use passerelle_sqlite::time::to_ms;
use passerelle_sqlite::Tx;
use prost::Message as _;
use uuid::Uuid;

use super::cases::{case_by_id, mark_unwritten, settle};
use super::{CaseState, ProblemRecord, Store, StoreError, Stored};

/// What runs inside the transaction that stores a new chunk, before it commits: the machine
/// action's access entry (an error aborts the store, so a chunk is never stored unrecorded).
pub type BeforeCommit<'a> = &'a dyn Fn(Uuid) -> Result<(), StoreError>;

/// Items of a result or a refusal matched with the case's persons: (person id, item) in id
/// order, and how many items named no person of the case.
type Matched<'a, T> = (Vec<(i64, &'a T)>, u64);

impl Store {
    // ----- results and refusals -----

    /// Stores one result chunk: each person's answers, the case-level outcome, and whether the
    /// case is now complete. Idempotent on (case, chunk index).
    pub fn store_result(&self, result: &v1::Result, now: SystemTime) -> Result<Stored, StoreError> {
        self.store_result_recorded(result, now, &|_| Ok(()))
    }

    /// [`Store::store_result`], calling `before_commit` with the case id once the chunk is
    /// known to be new, inside the transaction.
    pub fn store_result_recorded(
        &self,
        result: &v1::Result,
        now: SystemTime,
        before_commit: BeforeCommit<'_>,
    ) -> Result<Stored, StoreError> {
        let Ok(case_id) = Uuid::parse_str(&result.case_id) else {
            return Ok(Stored::UnknownCase);
        };
        self.write(|tx| {
            let Some(case) = case_by_id(tx, case_id)? else {
                return Ok(Stored::UnknownCase);
            };
            if case.state == CaseState::Purged {
                return Ok(Stored::PurgedCase);
            }
            if let Some(count) = case.result_chunks {
                if count != result.chunk_count {
                    return Err(StoreError::Corrupt(format!(
                        "result chunk {} says {} chunks where an earlier one said {count}",
                        result.chunk_index, result.chunk_count
                    )));
                }
            }
            let inserted = tx.execute(
                "INSERT OR IGNORE INTO result_chunks (case_id, chunk_index, received_at) VALUES (?1, ?2, ?3)",
                params![case_id.to_string(), result.chunk_index, to_ms(now)],
            )?;
            if inserted == 0 {
                return Ok(Stored::Duplicate);
            }
            before_commit(case_id)?;
            if case.state.is_settled() {
                // Its persons' answers change: the contact list's order is computed again.
                super::worklist::forget_order(tx, case_id)?;
            }
            let (rows, unmatched) = self.matched_in_id_order(tx, case_id, &result.persons, |p| &p.nir, now)?;
            {
                // In id order, so the rows are appended to `person_answers` rather than spread
                // over it. OR REPLACE: a NIR twice in a result keeps its last answers.
                let mut stmt = tx.prepare_cached(
                    "INSERT OR REPLACE INTO person_answers (person_id, answers, received_at) VALUES (?1, ?2, ?3)",
                )?;
                let mut blob = Vec::new();
                for (id, person) in rows {
                    blob.clear();
                    encode_answers(person, &mut blob);
                    stmt.execute(params![id, blob, to_ms(now)])?;
                }
            }
            let outcome = v1::Result { bodies: result.bodies.clone(), ..Default::default() };
            tx.execute(
                "UPDATE cases SET result_chunks = ?2, completeness = ?3, bodies = ?4 WHERE id = ?1",
                params![case_id.to_string(), result.chunk_count, result.completeness, outcome.encode_to_vec()],
            )?;
            self.stored(tx, case_id, unmatched, now)
        })
    }

    /// Stores a refusal: the whole case's reasons, or each refused person's. Idempotent on (case,
    /// request chunk, whole case).
    pub fn store_refusal(&self, refusal: &v1::Refusal, now: SystemTime) -> Result<Stored, StoreError> {
        self.store_refusal_recorded(refusal, now, &|_| Ok(()))
    }

    /// [`Store::store_refusal`], calling `before_commit` with the case id once the refusal is
    /// known to be new, inside the transaction.
    pub fn store_refusal_recorded(
        &self,
        refusal: &v1::Refusal,
        now: SystemTime,
        before_commit: BeforeCommit<'_>,
    ) -> Result<Stored, StoreError> {
        let Ok(case_id) = Uuid::parse_str(&refusal.case_id) else {
            return Ok(Stored::UnknownCase);
        };
        self.write(|tx| {
            let Some(case) = case_by_id(tx, case_id)? else {
                return Ok(Stored::UnknownCase);
            };
            if case.state == CaseState::Purged {
                return Ok(Stored::PurgedCase);
            }
            let inserted = tx.execute(
                "INSERT OR IGNORE INTO refusals (case_id, request_chunk, whole_case, received_at) VALUES (?1, ?2, ?3, ?4)",
                params![case_id.to_string(), refusal.request_chunk_index, refusal.whole_case, to_ms(now)],
            )?;
            if inserted == 0 {
                return Ok(Stored::Duplicate);
            }
            before_commit(case_id)?;
            if case.state.is_settled() {
                // Its persons change: the contact list's order is computed again.
                super::worklist::forget_order(tx, case_id)?;
            }
            if refusal.whole_case {
                let problems: Vec<ProblemRecord> = refusal.case_problems.iter().map(ProblemRecord::from).collect();
                tx.execute(
                    "UPDATE cases SET case_problems = ?2 WHERE id = ?1",
                    params![case_id.to_string(), serde_json::to_string(&problems).expect("serialisable")],
                )?;
            }
            let (rows, unmatched) = self.matched_in_id_order(tx, case_id, &refusal.persons, |p| &p.nir, now)?;
            {
                // A NIR twice keeps its last reasons.
                let mut stmt = tx.prepare_cached("UPDATE persons SET refusal = ?2 WHERE id = ?1")?;
                for (id, person) in rows {
                    let problems: Vec<ProblemRecord> = person.problems.iter().map(ProblemRecord::from).collect();
                    stmt.execute(params![id, serde_json::to_string(&problems).expect("serialisable")])?;
                }
            }
            tx.execute(
                "UPDATE cases SET refused_persons = (SELECT COUNT(*) FROM persons WHERE case_id = ?1 AND refusal IS NOT NULL)
                 WHERE id = ?1",
                params![case_id.to_string()],
            )?;
            self.stored(tx, case_id, unmatched, now)
        })
    }

    /// The persons of the case that `items` name (by `nir`), as (person id, item) in id order
    /// so that their rows are written in order, and how many items name no person of the case.
    /// Matched in the case's table of NIRs (see [`matching`]).
    fn matched_in_id_order<'a, T>(
        &self,
        tx: &Tx<'_>,
        case_id: Uuid,
        items: &'a [T],
        nir: impl Fn(&T) -> &str,
        now: SystemTime,
    ) -> Result<Matched<'a, T>, StoreError> {
        if items.is_empty() {
            return Ok((Vec::new(), 0));
        }
        let mut index = self.persons.lock().unwrap_or_else(|e| e.into_inner());
        let (ids, unmatched) = index.ids(tx, case_id, &case_id.to_string(), items.iter().map(&nir), now)?;
        let mut rows: Vec<(i64, &T)> = ids.iter().zip(items).filter_map(|(id, item)| id.map(|id| (id, item))).collect();
        rows.sort_by_key(|&(id, _)| id);
        Ok((rows, unmatched))
    }

    /// The end of storing a result chunk or a refusal: the case settled if it is now complete
    /// (its NIR table dropped then), its result files marked to be written again.
    fn stored(&self, tx: &Tx<'_>, case_id: Uuid, unmatched: u64, now: SystemTime) -> Result<Stored, StoreError> {
        let settled = settle(tx, case_id, now)?;
        if settled {
            self.persons.lock().unwrap_or_else(|e| e.into_inner()).forget(case_id);
        }
        mark_unwritten(tx, case_id)?;
        Ok(Stored::New { settled, unmatched })
    }
}

/// A result person's answers as stored: the person's `ResultPerson` without the NIR (the
/// person's row holds it; [`person_row`] puts it back).
fn encode_answers(person: &v1::ResultPerson, out: &mut Vec<u8>) {
    let answers = v1::ResultPerson { nir: String::new(), answers: person.answers.clone() };
    answers.encode(out).expect("a Vec grows as needed");
}
