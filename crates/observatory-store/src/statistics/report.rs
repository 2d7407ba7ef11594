//! What analysts read from the statistics store: the aggregate tables of `passerelle stats`
//! and every appearance of one pseudonym.

use std::collections::BTreeMap;

use super::StatisticsStore;
use crate::{Result, StoreError};

/// Age bands of the report (lower bounds), from the decree's 55.
const AGE_BANDS: [(u32, &str); 7] =
    [(95, "95+"), (85, "85-94"), (80, "80-84"), (75, "75-79"), (70, "70-74"), (65, "65-69"), (55, "55-64")];

/// Aggregate tables for `passerelle stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StatisticsReport {
    pub persons: u64,
    pub distinct_pseudonyms: u64,
    pub cases: u64,
    /// Persons with the risk factor present (`true`, or any value for non-boolean categories),
    /// from any source, by category code.
    pub by_risk_factor: Vec<(String, u64)>,
    pub by_age_band: Vec<(String, u64)>,
    pub by_sex: Vec<(String, u64)>,
    /// By requester body and office.
    pub by_requester: Vec<(String, u64)>,
    pub body_answers: Vec<BodyAnswerRate>,
}

/// How one body answered, over every person it was asked about.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BodyAnswerRate {
    pub body: String,
    pub asked: u64,
    pub found: u64,
    pub not_found: u64,
    pub no_answer: u64,
    /// Persons the body left out of a response it sent (a violation; not `no_answer`).
    #[serde(default)]
    pub missing: u64,
}

/// One appearance of a pseudonym, for following a person across cases.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Appearance {
    pub case_id: String,
    /// The month it was recorded, `YYYY-MM` (the store keeps no finer time).
    pub recorded_month: String,
    pub territory: String,
    pub requester: String,
    pub requester_office: String,
    pub service: String,
    pub requested: String,
    pub sex: String,
    pub birth_year: u32,
    /// `category=value (source)`.
    pub values: Vec<String>,
}

impl StatisticsStore {
    /// The aggregate tables.
    pub fn report(&self) -> Result<StatisticsReport> {
        self.db.read(Self::report_in)
    }

    fn report_in(conn: &passerelle_sqlite::Tx<'_>) -> Result<StatisticsReport> {
        let pairs = |sql: &str| -> Result<Vec<(String, u64)>> {
            Ok(conn.query_all(sql, [], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))?)
        };
        let (persons, distinct_pseudonyms, cases) = conn.query_row(
            "SELECT COUNT(*), COUNT(DISTINCT pseudonym), COUNT(DISTINCT case_id) FROM persons",
            [],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64, r.get::<_, i64>(2)? as u64)),
        )?;
        let by_risk_factor = pairs(
            "SELECT v.value ->> 0 AS category, COUNT(DISTINCT p.id) FROM persons p, json_each(p.values_json) v \
             WHERE v.value ->> 2 NOT IN ('false', '') GROUP BY category ORDER BY category",
        )?;
        let mut band_sql = String::from("SELECT CASE");
        for (min, label) in AGE_BANDS {
            band_sql.push_str(&format!(
                " WHEN CAST(substr(recorded_at, 1, 4) AS INTEGER) - birth_year >= {min} THEN '{label}'"
            ));
        }
        band_sql.push_str(" ELSE 'under 55' END AS band, COUNT(*) FROM persons GROUP BY band ORDER BY band");
        let by_age_band = pairs(&band_sql)?;
        let by_sex = pairs("SELECT sex, COUNT(*) FROM persons GROUP BY sex ORDER BY sex")?;
        let by_requester = pairs(
            "SELECT requester || CASE WHEN requester_office = '' THEN '' ELSE ' / ' || requester_office END AS r, \
             COUNT(*) FROM persons GROUP BY r ORDER BY r",
        )?;
        let mut rates: BTreeMap<String, BodyAnswerRate> = BTreeMap::new();
        let rows = conn.query_all(
            "SELECT a.key, a.value, COUNT(*) FROM persons p, json_each(p.answers_json) a GROUP BY a.key, a.value",
            [],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)? as u64)),
        )?;
        for (body, status, n) in rows {
            let rate = rates.entry(body.clone()).or_insert_with(|| BodyAnswerRate { body, ..Default::default() });
            rate.asked += n;
            match status.as_str() {
                "found" => rate.found += n,
                "not_found" => rate.not_found += n,
                "missing" => rate.missing += n,
                _ => rate.no_answer += n,
            }
        }
        Ok(StatisticsReport {
            persons,
            distinct_pseudonyms,
            cases,
            by_risk_factor,
            by_age_band,
            by_sex,
            by_requester,
            body_answers: rates.into_values().collect(),
        })
    }

    /// Every appearance of a pseudonym, oldest first.
    pub fn follow(&self, pseudonym: &str) -> Result<Vec<Appearance>> {
        let found = self.db.read(|tx| {
            tx.query_all(
                "SELECT case_id, recorded_at, territory, requester, requester_office, service, requested, sex, \
                 birth_year, values_json FROM persons WHERE pseudonym = ?1 ORDER BY recorded_at, id",
                [pseudonym],
                |r| {
                    Ok((
                        Appearance {
                            case_id: r.get(0)?,
                            recorded_month: r.get(1)?,
                            territory: r.get(2)?,
                            requester: r.get(3)?,
                            requester_office: r.get(4)?,
                            service: r.get(5)?,
                            requested: r.get(6)?,
                            sex: r.get(7)?,
                            birth_year: r.get(8)?,
                            values: Vec::new(),
                        },
                        r.get::<_, String>(9)?,
                    ))
                },
            )
        })?;
        found
            .into_iter()
            .map(|(mut appearance, values)| {
                let mut values: Vec<[String; 3]> = serde_json::from_str(&values)
                    .map_err(|e| StoreError::Corrupt(format!("a statistics row's values: {e}")))?;
                values.sort();
                appearance.values = values
                    .into_iter()
                    .map(|[category, source, value]| format!("{category}={value} ({source})"))
                    .collect();
                Ok(appearance)
            })
            .collect()
    }
}
