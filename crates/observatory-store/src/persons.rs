//! The persons of each case (payloads): the identifiers and risk factors of every accepted
//! person, written as request chunks arrive and read back chunk by chunk. Deleted by the case's
//! purge ([`crate::purge`]), never before its statistics are written. Each person is one row:
//! its case and ref in the clear, the rest sealed with the case's key ([`crate::sealed`]).

use std::ops::Range;

use rusqlite::params;

use crate::keys::CaseKey;
use crate::sealed::{self, put_bytes, put_varint, take_bytes, take_varint};
use crate::{Result, StoreError, Tx};

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

    /// Stores a chunk's accepted persons, each sealed with the case's key, and counts them (one
    /// update of the case row). The caller assigns their `person_ref`s densely from the case's
    /// `persons_accepted`.
    pub fn insert_persons(&self, case_id: &str, persons: &[StoredPerson]) -> Result<()> {
        if persons.is_empty() {
            return Ok(());
        }
        let key = self.sealing_key(case_id)?;
        let mut stmt =
            self.tx.prepare_cached("INSERT INTO persons (case_id, person_ref, sealed) VALUES (?1, ?2, ?3)")?;
        for p in persons {
            stmt.execute(params![case_id, p.person_ref as i64, seal_person(&key, case_id, p)])?;
        }
        self.tx
            .prepare_cached("UPDATE cases SET persons_accepted = persons_accepted + ?2 WHERE case_id = ?1")?
            .execute(params![case_id, persons.len() as i64])?;
        Ok(())
    }

    /// Calls `f` with the NIR of every accepted person of a case, in ref order (one sequential
    /// pass: how the observatory rebuilds its in-memory duplicate check after a start).
    pub fn person_nirs(&self, case_id: &str, mut f: impl FnMut(&str)) -> Result<()> {
        self.each_person(case_id, 0..i64::MAX as u64, |p| f(&p.nir))
    }

    /// Whether a NIR is already among the case's accepted persons (a scan of the case: for
    /// tools and tests; the daemon checks from memory).
    pub fn has_person_nir(&self, case_id: &str, nir: &str) -> Result<bool> {
        let mut found = false;
        self.each_person(case_id, 0..i64::MAX as u64, |p| found |= p.nir == nir)?;
        Ok(found)
    }

    /// The accepted persons of a case whose NIR or one of whose former NIRs is among `nirs` (a
    /// rights request: the person under any of their numbers). A scan of the case, each person
    /// opened: its cost is the case's size, and a rights request pays it once per case in flight.
    pub fn persons_matching(&self, case_id: &str, nirs: &[&str]) -> Result<Vec<StoredPerson>> {
        let mut found = Vec::new();
        self.each_person(case_id, 0..i64::MAX as u64, |p| {
            if nirs.contains(&p.nir.as_str()) || p.former_nirs.iter().any(|f| nirs.contains(&f.as_str())) {
                found.push(p);
            }
        })?;
        Ok(found)
    }

    /// The accepted persons whose refs are in `refs`, in ref order.
    pub fn persons(&self, case_id: &str, refs: Range<u64>) -> Result<Vec<StoredPerson>> {
        let mut persons = Vec::new();
        self.each_person(case_id, refs, |p| persons.push(p))?;
        Ok(persons)
    }

    /// Calls `f` with each accepted person whose ref is in `refs`, opened, in ref order.
    fn each_person(&self, case_id: &str, refs: Range<u64>, mut f: impl FnMut(StoredPerson)) -> Result<()> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT person_ref, sealed FROM persons \
             WHERE case_id = ?1 AND person_ref >= ?2 AND person_ref < ?3 ORDER BY person_ref",
        )?;
        let mut rows = stmt.query(params![case_id, refs.start as i64, refs.end.min(i64::MAX as u64) as i64])?;
        // Without its key (destroyed by a purge whose commit a crash or a failure undid), a
        // case's payloads are unreadable: as good as purged, and the purge, done again,
        // deletes them.
        let Some(key) = self.case_key(case_id)? else { return Ok(()) };
        while let Some(r) = rows.next()? {
            let person_ref = r.get::<_, i64>(0)? as u64;
            let sealed = r.get_ref(1)?.as_blob().map_err(rusqlite::Error::from)?;
            let plain = key.open(&row(case_id, person_ref), sealed)?;
            f(decode(person_ref, &plain).ok_or_else(|| StoreError::Corrupt("a person cannot be decoded".into()))?);
        }
        Ok(())
    }
}

/// The identity a person's sealed payload is bound to.
fn row(case_id: &str, person_ref: u64) -> Vec<u8> {
    sealed::row_id("persons", &[case_id, &person_ref.to_string()])
}

/// A person's payload, sealed with its case's key (the ref stays in the clear, in the row).
pub(crate) fn seal_person(key: &CaseKey, case_id: &str, p: &StoredPerson) -> Vec<u8> {
    let mut plain = Vec::with_capacity(64 + p.risk_factors.len());
    put_bytes(&mut plain, p.nir.as_bytes());
    put_bytes(&mut plain, p.former_nirs.join("|").as_bytes());
    put_varint(&mut plain, u64::from(p.sex as u32));
    put_varint(&mut plain, u64::from(p.birth_year));
    put_bytes(&mut plain, p.departement.as_bytes());
    put_bytes(&mut plain, &p.risk_factors);
    key.seal(&row(case_id, p.person_ref), &plain)
}

fn decode(person_ref: u64, mut plain: &[u8]) -> Option<StoredPerson> {
    let text = |bytes: &[u8]| String::from_utf8(bytes.to_vec()).ok();
    let nir = text(take_bytes(&mut plain)?)?;
    let former = text(take_bytes(&mut plain)?)?;
    let sex = u32::try_from(take_varint(&mut plain)?).ok()? as i32;
    let birth_year = u32::try_from(take_varint(&mut plain)?).ok()?;
    let departement = text(take_bytes(&mut plain)?)?;
    let risk_factors = take_bytes(&mut plain)?.to_vec();
    Some(StoredPerson {
        person_ref,
        nir,
        former_nirs: former.split('|').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        sex,
        birth_year,
        departement,
        risk_factors,
    })
}
