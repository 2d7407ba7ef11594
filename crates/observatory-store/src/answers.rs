//! The bodies' answers (payloads): one row per response chunk, its answers in one blob.
//!
//! A response chunk answers about the persons of one chunk of its case, and the result is built
//! chunk by chunk: the answers are written and read a chunk at a time, never a person at a
//! time. Storing them as one row per chunk and body (`answer_chunks`) costs one B-tree insert
//! per response instead of one per person, which had made merging the responses the slowest
//! stage of a big case.
//!
//! The blob is a sequence of answers, each: the person's ref, the status and the length of the
//! values (three LEB128 varints), then the values (an encoded `v1::CategoryValues`). It is
//! internal to the store: nothing outside this module reads it, and it is stored sealed with the
//! case's key ([`crate::sealed`]).

use std::ops::Range;

use passerelle_protocol::ids::BodyCode;
use rusqlite::params;

use crate::sealed::{put_varint, take_varint};
use crate::{Result, StoreError, Tx};

/// One body's answer about one person (payload).
#[derive(Clone, PartialEq)]
pub struct StoredAnswer {
    pub person_ref: u64,
    pub body: BodyCode,
    /// `v1::PersonStatus` number: found, not found, or missing (the body's response left the
    /// person out, a violation).
    pub status: i32,
    /// An encoded `v1::CategoryValues`, already reduced to what the body was asked.
    pub values: Vec<u8>,
}

impl std::fmt::Debug for StoredAnswer {
    /// Redacted: values never reach a log through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredAnswer").field("person_ref", &self.person_ref).field("body", &self.body).finish()
    }
}

impl Tx<'_> {
    /// Stores one body's answers about the chunk of persons starting at ref `first_ref`; a
    /// second time for the same chunk and body is ignored (`false`).
    pub fn insert_answer_chunk(
        &self,
        case_id: &str,
        first_ref: u64,
        body: &BodyCode,
        answers: &[StoredAnswer],
    ) -> Result<bool> {
        if let Some(other) = answers.iter().find(|a| a.body != *body) {
            return Err(StoreError::Corrupt(format!("an answer of `{}` among those of `{body}`", other.body)));
        }
        let inserted = self
            .tx
            .prepare_cached(
                "INSERT OR IGNORE INTO answer_chunks (case_id, first_ref, body, persons, answers) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                case_id,
                first_ref as i64,
                body.as_str(),
                answers.len() as i64,
                self.sealing_key(case_id)?.seal(&row(case_id, first_ref, body.as_str()), &encode(answers))
            ])?;
        Ok(inserted == 1)
    }

    /// The answers about the persons whose refs are in `refs`, by ref then body: those of the
    /// chunks that start within `refs` (the store's callers ask for whole chunks).
    pub fn answers(&self, case_id: &str, refs: Range<u64>) -> Result<Vec<StoredAnswer>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT body, answers, first_ref FROM answer_chunks WHERE case_id = ?1 AND first_ref >= ?2 AND first_ref < ?3",
        )?;
        let mut rows = stmt.query(params![case_id, refs.start as i64, refs.end as i64])?;
        let mut answers = Vec::new();
        // Without its key, a case's answers are unreadable: as good as purged (`Tx::persons`).
        let Some(key) = self.case_key(case_id)? else { return Ok(Vec::new()) };
        while let Some(r) = rows.next()? {
            let body: String = r.get(0)?;
            let blob = r.get_ref(1)?.as_blob().map_err(rusqlite::Error::from)?;
            let first_ref = r.get::<_, i64>(2)? as u64;
            let blob = key.open(&row(case_id, first_ref, &body), blob)?;
            let body = BodyCode::parse(&body)
                .map_err(|e| StoreError::Corrupt(format!("an answer chunk names no body: {e}")))?;
            decode(&blob, &body, &mut answers)?;
        }
        answers.retain(|a| refs.contains(&a.person_ref));
        answers.sort_unstable_by(|a, b| (a.person_ref, &a.body).cmp(&(b.person_ref, &b.body)));
        Ok(answers)
    }

    /// Deletes the answers of the chunks starting within `refs` (all of the case's: `None`);
    /// returns how many persons' answers went.
    pub(crate) fn delete_answer_chunks(&self, case_id: &str, refs: Option<Range<u64>>) -> Result<u64> {
        let refs = refs.unwrap_or(0..i64::MAX as u64);
        let (start, end) = (refs.start as i64, refs.end.min(i64::MAX as u64) as i64);
        let count: i64 = self
            .tx
            .prepare_cached(
                "SELECT COALESCE(SUM(persons), 0) FROM answer_chunks \
                 WHERE case_id = ?1 AND first_ref >= ?2 AND first_ref < ?3",
            )?
            .query_row(params![case_id, start, end], |r| r.get(0))?;
        self.tx
            .prepare_cached("DELETE FROM answer_chunks WHERE case_id = ?1 AND first_ref >= ?2 AND first_ref < ?3")?
            .execute(params![case_id, start, end])?;
        Ok(count as u64)
    }
}

fn encode(answers: &[StoredAnswer]) -> Vec<u8> {
    let mut out = Vec::with_capacity(answers.iter().map(|a| a.values.len() + 8).sum());
    for a in answers {
        put_varint(&mut out, a.person_ref);
        put_varint(&mut out, a.status as u32 as u64);
        put_varint(&mut out, a.values.len() as u64);
        out.extend_from_slice(&a.values);
    }
    out
}

fn decode(mut blob: &[u8], body: &BodyCode, out: &mut Vec<StoredAnswer>) -> Result<()> {
    let corrupt = || StoreError::Corrupt("an answer chunk cannot be decoded".into());
    while !blob.is_empty() {
        let person_ref = take_varint(&mut blob).ok_or_else(corrupt)?;
        let status = take_varint(&mut blob).and_then(|s| u32::try_from(s).ok()).ok_or_else(corrupt)? as i32;
        let len = take_varint(&mut blob).and_then(|l| usize::try_from(l).ok()).ok_or_else(corrupt)?;
        let values = blob.get(..len).ok_or_else(corrupt)?.to_vec();
        blob = &blob[len..];
        out.push(StoredAnswer { person_ref, body: body.clone(), status, values });
    }
    Ok(())
}

/// The identity an answer chunk's sealed blob is bound to.
pub(crate) fn row(case_id: &str, first_ref: u64, body: &str) -> Vec<u8> {
    crate::sealed::row_id("answer_chunks", &[case_id, &first_ref.to_string(), body])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CaseStore;

    fn code(text: &str) -> BodyCode {
        BodyCode::parse(text).unwrap()
    }

    fn answer(person_ref: u64, body: &str, values: &[u8]) -> StoredAnswer {
        StoredAnswer {
            person_ref,
            body: BodyCode::parse(body).unwrap(),
            status: 1 + (person_ref % 2) as i32,
            values: values.to_vec(),
        }
    }

    #[test]
    fn a_chunk_of_answers_reads_back_whole_by_ref_then_body() {
        let dir = tempfile::tempdir().unwrap();
        let store = CaseStore::open(&dir.path().join("c.db")).unwrap();
        let cnav: Vec<StoredAnswer> = (100..200).map(|r| answer(r, "cnav", &[r as u8; 3])).collect();
        let cnam: Vec<StoredAnswer> = (100..200).map(|r| answer(r, "cnam", &vec![7; r as usize])).collect();
        let later: Vec<StoredAnswer> = (200..300).map(|r| answer(r, "cnam", &[])).collect();
        store
            .write(|tx| {
                assert!(tx.insert_answer_chunk("case-a", 100, &code("cnav"), &cnav)?);
                assert!(tx.insert_answer_chunk("case-a", 100, &code("cnam"), &cnam)?);
                assert!(!tx.insert_answer_chunk("case-a", 100, &code("cnam"), &later)?, "a chunk is stored once");
                assert!(tx.insert_answer_chunk("case-a", 200, &code("cnam"), &later)?);
                assert!(tx.insert_answer_chunk("case-b", 100, &code("cnam"), &later)?);
                assert!(tx.insert_answer_chunk("case-a", 300, &code("msa"), &cnav).is_err(), "one body per chunk");
                Ok::<_, StoreError>(())
            })
            .unwrap();
        let read = store.read(|tx| tx.answers("case-a", 100..200)).unwrap();
        assert_eq!(read.len(), 200);
        for (i, pair) in read.chunks(2).enumerate() {
            assert_eq!(pair[0], cnam[i]);
            assert_eq!(pair[1], cnav[i]);
        }
        assert_eq!(store.read(|tx| tx.answers("case-a", 100..300)).unwrap().len(), 300);
        let deleted = store.write(|tx| tx.delete_answer_chunks("case-a", Some(100..200))).unwrap();
        assert_eq!(deleted, 200);
        assert_eq!(store.write(|tx| tx.delete_answer_chunks("case-a", None)).unwrap(), 100);
        assert!(store.read(|tx| tx.answers("case-a", 0..1000)).unwrap().is_empty());
        assert_eq!(store.read(|tx| tx.answers("case-b", 0..1000)).unwrap().len(), 100);
    }
}
