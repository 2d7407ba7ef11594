//! The persons of each case (payloads): the identifiers and risk factors of every accepted
//! person, written as request chunks arrive and read back chunk by chunk. Deleted by the case's
//! purge ([`crate::purge`]), never before its statistics are written.

use std::ops::Range;

use rusqlite::params;

use crate::{Result, Tx};

/// One accepted person of a case (payload).
#[derive(Clone, PartialEq)]
pub struct StoredPerson {
    /// Observatory-local reference, dense from 0 in order of acceptance.
    pub person_ref: u64,
    /// The normalised NIR/NIA.
    pub nir: String,
    pub former_nirs: Vec<String>,
    /// `v1::Sex` number.
    pub sex: i32,
    pub birth_year: u32,
    /// The département the commune list records for the residence commune (the commune itself
    /// is not kept: the statistics need only the territory).
    pub departement: String,
    /// The requester's known risk factors, an encoded `v1::CategoryValues` (never forwarded).
    pub risk_factors: Vec<u8>,
}

impl std::fmt::Debug for StoredPerson {
    /// Redacted: a person never reaches a log through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredPerson").field("person_ref", &self.person_ref).finish_non_exhaustive()
    }
}

/// The persons of a case.
impl Tx<'_> {
    /// Stores an accepted person and counts it. The caller assigns `person_ref` =
    /// the case's `persons_accepted` before the call.
    pub fn insert_person(&self, case_id: &str, p: &StoredPerson) -> Result<()> {
        self.insert_persons(case_id, std::slice::from_ref(p))
    }

    /// Stores a chunk's accepted persons and counts them (one update of the case row). The
    /// caller assigns their `person_ref`s densely from the case's `persons_accepted`.
    pub fn insert_persons(&self, case_id: &str, persons: &[StoredPerson]) -> Result<()> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO persons (case_id, person_ref, nir, former_nirs, sex, birth_year, departement, \
             risk_factors) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for p in persons {
            stmt.execute(params![
                case_id,
                p.person_ref as i64,
                p.nir,
                p.former_nirs.join("|"),
                p.sex,
                p.birth_year,
                p.departement,
                p.risk_factors,
            ])?;
        }
        if !persons.is_empty() {
            self.tx
                .prepare_cached("UPDATE cases SET persons_accepted = persons_accepted + ?2 WHERE case_id = ?1")?
                .execute(params![case_id, persons.len() as i64])?;
        }
        Ok(())
    }

    /// Calls `f` with the NIR of every accepted person of a case, in ref order (one sequential
    /// pass: how the observatory rebuilds its in-memory duplicate check after a start).
    pub fn person_nirs(&self, case_id: &str, mut f: impl FnMut(&str)) -> Result<()> {
        let mut stmt = self.tx.prepare_cached("SELECT nir FROM persons WHERE case_id = ?1 ORDER BY person_ref")?;
        let mut rows = stmt.query([case_id])?;
        while let Some(row) = rows.next()? {
            f(&row.get::<_, String>(0)?);
        }
        Ok(())
    }

    /// Whether a NIR is already among the case's accepted persons (a scan of the case: for
    /// tools and tests; the daemon checks from memory).
    pub fn has_person_nir(&self, case_id: &str, nir: &str) -> Result<bool> {
        Ok(self.tx.exists("SELECT 1 FROM persons WHERE case_id = ?1 AND nir = ?2", params![case_id, nir])?)
    }

    /// The accepted persons whose refs are in `refs`, in ref order.
    pub fn persons(&self, case_id: &str, refs: Range<u64>) -> Result<Vec<StoredPerson>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT person_ref, nir, former_nirs, sex, birth_year, departement, risk_factors FROM persons \
             WHERE case_id = ?1 AND person_ref >= ?2 AND person_ref < ?3 ORDER BY person_ref",
        )?;
        let rows = stmt
            .query_map(params![case_id, refs.start as i64, refs.end as i64], |r| {
                let former: String = r.get(2)?;
                Ok(StoredPerson {
                    person_ref: r.get::<_, i64>(0)? as u64,
                    nir: r.get(1)?,
                    former_nirs: former.split('|').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
                    sex: r.get(3)?,
                    birth_year: r.get(4)?,
                    departement: r.get(5)?,
                    risk_factors: r.get(6)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}
