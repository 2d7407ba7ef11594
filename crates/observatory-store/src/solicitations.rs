//! The solicitations: the question sent to each body for a case, and the state of each of its
//! chunks (answered, reminded). Metadata only: the persons a solicitation names are read from
//! [`crate::persons`] when it is built.

use std::time::SystemTime;

use passerelle_protocol::ids::BodyCode;
use passerelle_sqlite::time::{from_ms, opt_from_ms, to_ms};
use rusqlite::params;

use crate::cases::{join_numbers, split_numbers};
use crate::{Result, Tx};

/// One solicitation: the question to one body for one case.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSolicitation {
    pub solicitation_id: String,
    pub case_id: String,
    pub body: BodyCode,
    /// The categories asked of this body (wire numbers).
    pub categories: Vec<i32>,
    pub chunk_count: u32,
    /// The body's declines, an encoded list of `v1::Decline` (as the last response gave them).
    pub declines: Vec<u8>,
    pub created_at: SystemTime,
}

/// The status of one solicitation chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkStatus {
    pub index: u32,
    pub answered_at: Option<SystemTime>,
    pub reminded_at: Option<SystemTime>,
}

/// Solicitations and their chunks.
impl Tx<'_> {
    /// Stores a solicitation and its `chunk_count` chunks, none answered.
    pub fn insert_solicitation(&self, s: &StoredSolicitation) -> Result<()> {
        self.execute(
            "INSERT INTO solicitations (solicitation_id, case_id, body, categories, chunk_count, declines, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                s.solicitation_id,
                s.case_id,
                s.body.as_str(),
                join_numbers(&s.categories),
                s.chunk_count,
                s.declines,
                to_ms(s.created_at)
            ],
        )?;
        let mut stmt =
            self.tx.prepare_cached("INSERT INTO solicitation_chunks (solicitation_id, chunk_index) VALUES (?1, ?2)")?;
        for index in 0..s.chunk_count {
            stmt.execute(params![s.solicitation_id, index])?;
        }
        Ok(())
    }

    fn solicitation_rows(&self, sql: &str, key: &str) -> Result<Vec<StoredSolicitation>> {
        let mut stmt = self.tx.prepare_cached(sql)?;
        let rows = stmt
            .query_map([key], |r| {
                Ok(StoredSolicitation {
                    solicitation_id: r.get(0)?,
                    case_id: r.get(1)?,
                    body: BodyCode::parse(&r.get::<_, String>(2)?).map_err(|e| {
                        rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, Box::new(e))
                    })?,
                    categories: split_numbers(&r.get::<_, String>(3)?),
                    chunk_count: r.get(4)?,
                    declines: r.get(5)?,
                    created_at: from_ms(r.get(6)?),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// The solicitations of a case, in the order they were created.
    pub fn solicitations(&self, case_id: &str) -> Result<Vec<StoredSolicitation>> {
        self.solicitation_rows(
            "SELECT solicitation_id, case_id, body, categories, chunk_count, declines, created_at FROM solicitations \
             WHERE case_id = ?1 ORDER BY rowid",
            case_id,
        )
    }

    /// How many bodies a case solicited, and how many of them have answered every chunk:
    /// `(solicited, answered)` (ids and counts only; the unanswered chunks are indexed).
    pub fn solicitation_progress(&self, case_id: &str) -> Result<(u64, u64)> {
        let (solicited, answered): (i64, i64) = self
            .tx
            .prepare_cached(
                "SELECT COUNT(*), COALESCE(SUM(NOT EXISTS (SELECT 1 FROM solicitation_chunks c \
                 WHERE c.solicitation_id = s.solicitation_id AND c.answered_at IS NULL)), 0) \
                 FROM solicitations s WHERE s.case_id = ?1",
            )?
            .query_row([case_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok((solicited as u64, answered as u64))
    }

    /// A solicitation by id.
    pub fn solicitation(&self, solicitation_id: &str) -> Result<Option<StoredSolicitation>> {
        Ok(self
            .solicitation_rows(
                "SELECT solicitation_id, case_id, body, categories, chunk_count, declines, created_at \
                 FROM solicitations WHERE solicitation_id = ?1",
                solicitation_id,
            )?
            .pop())
    }

    /// Replaces a solicitation's declines.
    pub fn set_declines(&self, solicitation_id: &str, declines: &[u8]) -> Result<()> {
        self.execute(
            "UPDATE solicitations SET declines = ?2 WHERE solicitation_id = ?1",
            params![solicitation_id, declines],
        )?;
        Ok(())
    }

    /// The chunks of a solicitation, by index.
    pub fn solicitation_chunks(&self, solicitation_id: &str) -> Result<Vec<ChunkStatus>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT chunk_index, answered_at, reminded_at FROM solicitation_chunks WHERE solicitation_id = ?1 \
             ORDER BY chunk_index",
        )?;
        let rows = stmt
            .query_map([solicitation_id], |r| {
                Ok(ChunkStatus {
                    index: r.get(0)?,
                    answered_at: opt_from_ms(r.get(1)?),
                    reminded_at: opt_from_ms(r.get(2)?),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Marks a solicitation chunk answered; `false` if it already was (a duplicate response).
    pub fn mark_chunk_answered(&self, solicitation_id: &str, index: u32, now: SystemTime) -> Result<bool> {
        let changed = self.execute(
            "UPDATE solicitation_chunks SET answered_at = ?3 WHERE solicitation_id = ?1 AND chunk_index = ?2 \
             AND answered_at IS NULL",
            params![solicitation_id, index, to_ms(now)],
        )?;
        Ok(changed == 1)
    }

    /// Marks a solicitation chunk reminded.
    pub fn mark_chunk_reminded(&self, solicitation_id: &str, index: u32, now: SystemTime) -> Result<()> {
        self.execute(
            "UPDATE solicitation_chunks SET reminded_at = ?3 WHERE solicitation_id = ?1 AND chunk_index = ?2",
            params![solicitation_id, index, to_ms(now)],
        )?;
        Ok(())
    }

    /// How many solicitation chunks of a case are still unanswered.
    pub fn unanswered_chunks(&self, case_id: &str) -> Result<u64> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT COUNT(*) FROM solicitation_chunks c INDEXED BY solicitation_chunks_unanswered \
                 JOIN solicitations s USING (solicitation_id) WHERE s.case_id = ?1 AND c.answered_at IS NULL",
            )?
            .query_row([case_id], |r| r.get::<_, i64>(0))? as u64)
    }

    /// Unanswered solicitation chunks of cases still collecting, per body.
    pub fn pending_chunks_by_body(&self) -> Result<Vec<(String, u64)>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT s.body, COUNT(*) FROM solicitation_chunks c JOIN solicitations s USING (solicitation_id) \
             JOIN cases k ON k.case_id = s.case_id \
             WHERE c.answered_at IS NULL AND k.state IN ('soliciting', 'collecting') GROUP BY s.body ORDER BY s.body",
        )?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cases::tests::new_case;
    use crate::{CaseEvent, CaseState, CaseStore, StoreError};

    #[test]
    fn solicitation_chunks_are_answered_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = CaseStore::open(&dir.path().join("o.db")).unwrap();
        let now = SystemTime::now();
        store
            .write(|tx| {
                tx.insert_case(&new_case("c1"), now)?;
                tx.insert_solicitation(&StoredSolicitation {
                    solicitation_id: "s1".into(),
                    case_id: "c1".into(),
                    body: BodyCode::parse("cnav").unwrap(),
                    categories: vec![2],
                    chunk_count: 2,
                    declines: vec![],
                    created_at: now,
                })?;
                assert_eq!(tx.unanswered_chunks("c1")?, 2);
                assert!(tx.mark_chunk_answered("s1", 1, now)?);
                assert!(!tx.mark_chunk_answered("s1", 1, now)?);
                assert_eq!(tx.unanswered_chunks("c1")?, 1);
                assert_eq!(tx.solicitations("c1")?[0].categories, vec![2]);
                assert!(tx.solicitation_chunks("s1")?[1].answered_at.is_some());
                tx.transition("c1", CaseState::Receiving, CaseEvent::NoBodyToAsk, now)?;
                assert_eq!(tx.pending_chunks_by_body()?, vec![("cnav".to_owned(), 1)]);
                Ok::<_, StoreError>(())
            })
            .unwrap();
    }
}
