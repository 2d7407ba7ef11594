//! The persons' rights (decree art. 6, DESIGN §7.3) on the statistics store: the rows of a
//! person, found by the pseudonyms of their NIRs ([`StatisticsStore::rows_of`]), and the
//! rectification of their values ([`StatisticsStore::rectify`]).
//!
//! Rules:
//! - the caller (the observatory daemon, which holds the pseudonym key) turns each NIR into its
//!   pseudonym; no NIR reaches this store;
//! - a rectification replaces the value of each corrected category, whatever its source, in
//!   every row of the person; a category a row does not hold is not created there, and a value
//!   already equal is left alone: the same rectification twice changes nothing the second time;
//! - what a request changed is recorded with the change, in one transaction: the same request
//!   delivered again (its answer lost in a crash) is answered with what it changed the first time;
//! - finding a person scans the table (there is no index by pseudonym, on purpose: see the
//!   schema): a rights request costs one sequential read of the store, rare enough to pay.

use std::time::SystemTime;

use passerelle_protocol::catalogue;
use rusqlite::params;

use super::{is_pseudonym, values_json, StatisticsStore, StatisticsValue};
use crate::{to_ms, Result, StoreError};

/// One statistics row of a person, as a rights answer describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldRow {
    pub case_id: String,
    /// The first instant of the month it was recorded (the store keeps the month only).
    pub recorded_at: SystemTime,
    /// The requester's body code and office, as the case named them.
    pub requester: String,
    pub requester_office: String,
    /// The values with their sources, in the order received.
    pub values: Vec<StatisticsValue>,
}

/// One value a rectification replaced: its row's case and its category code.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RectifiedValue {
    pub case_id: String,
    pub category: String,
}

/// How long the store remembers what a rights request rectified: past a request's latest date
/// (the legal month and its margin), with room for a delivery held back by a broker outage.
pub(crate) const RECTIFICATIONS_KEPT: std::time::Duration = std::time::Duration::from_secs(60 * 86_400);
const RECTIFICATIONS_KEPT_MS: i64 = RECTIFICATIONS_KEPT.as_millis() as i64;

/// A stored row: id, case, month, requester, office, values JSON.
type RawRow = (i64, String, String, String, String, String);

impl StatisticsStore {
    /// Every row whose pseudonym is one of `pseudonyms`, oldest first.
    pub fn rows_of(&self, pseudonyms: &[String]) -> Result<Vec<HeldRow>> {
        check_pseudonyms(pseudonyms)?;
        let raw = self.db.read(|tx| raw_rows(tx, pseudonyms))?;
        raw.into_iter()
            .map(|(_, case_id, at, requester, requester_office, values)| {
                let recorded_at = super::month_start(&at)
                    .ok_or_else(|| StoreError::Corrupt(format!("a statistics row's month {at:?}")))?;
                Ok(HeldRow { case_id, recorded_at, requester, requester_office, values: parse_values(&values)? })
            })
            .collect()
    }

    /// Replaces, in every row of `pseudonyms`, the value of each category of `corrected`
    /// (`(category code, value in the shared syntax)`), whatever its source, for the rights
    /// request `request_id`; returns what that request changed, one entry per row and category
    /// (what it changed the first time, when it is delivered again). A category a row does not
    /// hold stays absent.
    pub fn rectify(
        &self,
        request_id: &str,
        pseudonyms: &[String],
        corrected: &[(String, String)],
        now: SystemTime,
    ) -> Result<Vec<RectifiedValue>> {
        check_pseudonyms(pseudonyms)?;
        for (category, value) in corrected {
            let info = catalogue::by_code(category).ok_or_else(|| StoreError::Identifying(category.clone()))?;
            if catalogue::is_identifying(category) {
                return Err(StoreError::Identifying(category.clone()));
            }
            if passerelle_protocol::value::parse(info.value_type, value).is_err() {
                return Err(StoreError::PersonalData("a statistics value (not a value of its category)"));
            }
        }
        self.db.write(|tx| {
            let mut changed = Vec::new();
            let mut update = tx.prepare_cached("UPDATE persons SET values_json = ?2 WHERE id = ?1")?;
            for (id, case_id, _, _, _, json) in raw_rows(tx, pseudonyms)? {
                let mut values = parse_values(&json)?;
                let mut row_changed = Vec::new();
                for v in &mut values {
                    let Some((_, new)) = corrected.iter().find(|(c, _)| *c == v.category) else { continue };
                    if v.value != *new {
                        v.value.clone_from(new);
                        if !row_changed.contains(&v.category) {
                            row_changed.push(v.category.clone());
                        }
                    }
                }
                if !row_changed.is_empty() {
                    update.execute(params![id, values_json(&values)])?;
                    changed.extend(
                        row_changed.into_iter().map(|category| RectifiedValue { case_id: case_id.clone(), category }),
                    );
                }
            }
            let at = to_ms(now);
            tx.execute("DELETE FROM rectifications WHERE recorded_at < ?1", [at - RECTIFICATIONS_KEPT_MS])?;
            let mut record = tx.prepare_cached(
                "INSERT OR IGNORE INTO rectifications (request_id, case_id, category, recorded_at) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for c in &changed {
                record.execute(params![request_id, c.case_id, c.category, at])?;
            }
            let mut done: Vec<RectifiedValue> = tx.query_all(
                "SELECT case_id, category FROM rectifications WHERE request_id = ?1",
                [request_id],
                |r| Ok(RectifiedValue { case_id: r.get(0)?, category: r.get(1)? }),
            )?;
            done.sort();
            Ok::<_, StoreError>(done)
        })
    }
}

fn check_pseudonyms(pseudonyms: &[String]) -> Result<()> {
    if pseudonyms.iter().all(|p| is_pseudonym(p)) {
        Ok(())
    } else {
        Err(StoreError::PersonalData("a statistics query (not a pseudonym)"))
    }
}

/// The rows of the pseudonyms, by time then id (one scan of the table per pseudonym).
fn raw_rows(tx: &passerelle_sqlite::Tx<'_>, pseudonyms: &[String]) -> Result<Vec<RawRow>> {
    let mut rows = Vec::new();
    for pseudonym in pseudonyms {
        rows.extend(tx.query_all(
            "SELECT id, case_id, recorded_at, requester, requester_office, values_json FROM persons \
             WHERE pseudonym = ?1 ORDER BY recorded_at, id",
            [pseudonym],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
        )?);
    }
    rows.sort_by(|a: &RawRow, b: &RawRow| (&a.2, a.0).cmp(&(&b.2, b.0)));
    rows.dedup_by_key(|r| r.0);
    Ok(rows)
}

fn parse_values(json: &str) -> Result<Vec<StatisticsValue>> {
    let triples: Vec<[String; 3]> =
        serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("a statistics row's values: {e}")))?;
    Ok(triples.into_iter().map(|[category, source, value]| StatisticsValue { category, source, value }).collect())
}

#[cfg(test)]
mod tests {
    use super::super::{ChunkStatistics, Pseudonymiser, StatisticsRow};
    use super::*;

    fn row(pseudonym: String, case_id: &str) -> StatisticsRow {
        StatisticsRow {
            pseudonym,
            case_id: case_id.into(),
            recorded_at: SystemTime::now(),
            territory: "13".into(),
            requester: "cnaf".into(),
            requester_office: "caf-13".into(),
            service: "prevention-workshop".into(),
            requested: vec!["housing_aid".into(), "family_situation".into()],
            sex: "F".into(),
            birth_year: 1950,
            values: vec![
                StatisticsValue { category: "housing_aid".into(), source: "requester".into(), value: "true".into() },
                StatisticsValue { category: "housing_aid".into(), source: "msa".into(), value: "true".into() },
                StatisticsValue { category: "family_situation".into(), source: "cnav".into(), value: "widowed".into() },
            ],
            answers: vec![("cnav".into(), "found".into())],
        }
    }

    #[test]
    fn a_person_s_rows_are_found_and_rectified_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = StatisticsStore::open(&dir.path().join("s.db")).unwrap();
        let p = Pseudonymiser::new(b"0123456789abcdef0123456789abcdef");
        let nir = passerelle_protocol::nir::with_key("2500513055001").unwrap();
        let other = passerelle_protocol::nir::with_key("2500513055002").unwrap();
        let (mine, theirs) = (p.pseudonym(nir.as_str()), p.pseudonym(other.as_str()));
        let chunks = [
            ChunkStatistics { case_id: "c1".into(), chunk: 0, rows: vec![row(mine.clone(), "c1")] },
            ChunkStatistics { case_id: "c2".into(), chunk: 0, rows: vec![row(theirs.clone(), "c2")] },
        ];
        store.record(&chunks).unwrap();
        let held = store.rows_of(std::slice::from_ref(&mine)).unwrap();
        assert_eq!(held.iter().map(|r| r.case_id.as_str()).collect::<Vec<_>>(), ["c1"]);
        assert_eq!(held[0].values.len(), 3);
        assert!(store.rows_of(&[p.pseudonym("nobody")]).unwrap().is_empty());
        assert!(matches!(store.rows_of(&[nir.as_str().to_owned()]), Err(StoreError::PersonalData(_))));

        let corrected = vec![("housing_aid".to_owned(), "false".to_owned()), ("css".to_owned(), "true".to_owned())];
        let now = SystemTime::now();
        let changed = store.rectify("r1", std::slice::from_ref(&mine), &corrected, now).unwrap();
        assert_eq!(changed, vec![RectifiedValue { case_id: "c1".into(), category: "housing_aid".into() }]);
        let after = store.rows_of(std::slice::from_ref(&mine)).unwrap();
        let housing: Vec<&str> =
            after[0].values.iter().filter(|v| v.category == "housing_aid").map(|v| v.value.as_str()).collect();
        assert_eq!(housing, ["false", "false"], "every source's value is replaced");
        assert!(after[0].values.iter().all(|v| v.category != "css"), "a value not held is not created");
        let again = store.rectify("r1", std::slice::from_ref(&mine), &corrected, now).unwrap();
        assert_eq!(again, changed, "the same request delivered again: what it changed the first time");
        let second = store.rectify("r2", std::slice::from_ref(&mine), &corrected, now).unwrap();
        assert!(second.is_empty(), "a second identical request: nothing");
        let later = now + RECTIFICATIONS_KEPT + std::time::Duration::from_secs(1);
        assert!(store.rectify("r3", std::slice::from_ref(&mine), &corrected, later).unwrap().is_empty());
        let remembered: i64 = rusqlite::Connection::open(dir.path().join("s.db"))
            .unwrap()
            .query_row("SELECT count(*) FROM rectifications", [], |r| r.get(0))
            .unwrap();
        assert_eq!(remembered, 0, "what r1 changed is forgotten after {RECTIFICATIONS_KEPT:?}");
        let untouched = store.rows_of(&[theirs]).unwrap();
        assert!(untouched[0].values.iter().all(|v| v.category != "housing_aid" || v.value == "true"));
        let bad = [("housing_aid".to_owned(), "maybe".to_owned())];
        assert!(store.rectify("r4", &[mine], &bad, now).is_err(), "a malformed value is refused");
    }
}
