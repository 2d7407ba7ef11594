//! The persons of a case: stored with the case, read back in pages for the requests and one by
//! one for the result files.

use passerelle_protocol::v1;
use passerelle_sqlite::rusqlite::{self, params};
use passerelle_sqlite::Tx;
use prost::Message as _;
use uuid::Uuid;

use super::{NewPerson, PersonRow, ProblemRecord, Store, StoreError};

impl Store {
    pub fn insert_person(tx: &Tx<'_>, case: Uuid, p: &NewPerson) -> Result<(), StoreError> {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO persons (case_id, line, nir, former_nirs, sex, birth_year, commune_code, known, cells)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        stmt.execute(params![
            case.to_string(),
            p.line as i64,
            p.nir,
            p.former_nirs.join("|"),
            p.sex,
            p.birth_year,
            p.commune_code,
            p.known.encode_to_vec(),
            serde_json::to_string(&p.cells).expect("strings serialise"),
        ])?;
        Ok(())
    }

    /// The next request persons of a case, in selection order: up to `limit` persons whose line
    /// is after `after_line` (keyset paging: each chunk costs the same, however far into a
    /// million-person case). Returns them with the last line read.
    pub fn request_persons(
        &self,
        case: Uuid,
        after_line: u64,
        limit: usize,
    ) -> Result<(Vec<v1::RequestedPerson>, u64), StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT line, nir, former_nirs, sex, birth_year, commune_code, known FROM persons
                 WHERE case_id = ?1 AND line > ?2 ORDER BY line LIMIT ?3",
            )?;
            let mut rows = stmt.query(params![case.to_string(), after_line as i64, limit as i64])?;
            let mut out = Vec::new();
            let mut last = after_line;
            while let Some(r) = rows.next()? {
                last = r.get::<_, i64>(0)? as u64;
                let former: String = r.get(2)?;
                let known: Vec<u8> = r.get(6)?;
                let known =
                    v1::CategoryValues::decode(known.as_slice()).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                out.push(v1::RequestedPerson {
                    nir: r.get(1)?,
                    former_nirs: former.split('|').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
                    sex: r.get(3)?,
                    birth_year: r.get(4)?,
                    commune_code: r.get(5)?,
                    known_risk_factors: Some(known),
                });
            }
            Ok((out, last))
        })
    }

    // ----- reading persons for result files -----

    /// Calls `f` on every person of the given cases (without their cells), in selection order.
    pub fn for_each_person(
        &self,
        cases: &[Uuid],
        mut f: impl FnMut(PersonRow) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT p.id, p.case_id, p.line, p.nir, p.known, a.answers, p.refusal
                 FROM persons p LEFT JOIN person_answers a ON a.person_id = p.id
                 WHERE p.case_id = ?1 ORDER BY p.line",
            )?;
            for case in cases {
                let mut rows = stmt.query(params![case.to_string()])?;
                while let Some(r) = rows.next()? {
                    f(person_row(r, false)?)?;
                }
            }
            Ok(())
        })
    }

    /// One person with the selection's cells.
    pub fn person(&self, id: i64) -> Result<PersonRow, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT p.id, p.case_id, p.line, p.nir, p.known, a.answers, p.refusal, p.cells
                 FROM persons p LEFT JOIN person_answers a ON a.person_id = p.id WHERE p.id = ?1",
            )?;
            let mut rows = stmt.query(params![id])?;
            let row = rows.next()?.ok_or_else(|| StoreError::Corrupt(format!("person {id} vanished")))?;
            person_row(row, true)
        })
    }

    /// The refused persons of a case: (line, problems), in selection order.
    pub fn refused_persons(&self, case: Uuid) -> Result<Vec<(u64, Vec<ProblemRecord>)>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT line, refusal FROM persons WHERE case_id = ?1 AND refusal IS NOT NULL ORDER BY line",
            )?;
            let rows =
                stmt.query_map(params![case.to_string()], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
            let mut out = Vec::new();
            for row in rows {
                let (line, json) = row?;
                let problems = serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                out.push((line as u64, problems));
            }
            Ok(out)
        })
    }
}

fn person_row(r: &rusqlite::Row<'_>, with_cells: bool) -> Result<PersonRow, StoreError> {
    let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt(e.to_string());
    let case: String = r.get(1)?;
    let known: Vec<u8> = r.get(4)?;
    let answers: Option<Vec<u8>> = r.get(5)?;
    let refusal: Option<String> = r.get(6)?;
    let cells = if with_cells {
        let json: String = r.get(7)?;
        serde_json::from_str(&json).map_err(|e| corrupt(&e))?
    } else {
        Vec::new()
    };
    let nir: String = r.get(3)?;
    let answers = answers
        .map(|a| v1::ResultPerson::decode(a.as_slice()).map(|a| v1::ResultPerson { nir: nir.clone(), ..a }))
        .transpose()
        .map_err(|e| corrupt(&e))?;
    Ok(PersonRow {
        id: r.get(0)?,
        case_id: Uuid::parse_str(&case).map_err(|e| corrupt(&e))?,
        line: r.get::<_, i64>(2)? as u64,
        nir,
        known: v1::CategoryValues::decode(known.as_slice()).map_err(|e| corrupt(&e))?,
        answers,
        refusal: refusal.map(|j| serde_json::from_str(&j)).transpose().map_err(|e| corrupt(&e))?,
        cells,
    })
}
