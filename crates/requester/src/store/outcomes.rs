//! The offers' outcomes (decree art. 3, last step: "les contacter"): what each person of a
//! contact list answered when the social service offered its help — accepted, declined, no
//! reply — with the date and the social worker who recorded it. Kept at the requester, under the
//! decree's cap: a case's outcomes go with its persons at the purge ([`Store::purge_due`]).
//!
//! One row per person of a case (`(case, line)`): recording `declined` or `no_reply` again
//! replaces the row (the latest outcome wins; the access log keeps each recording). `accepted`
//! is final here: the person's file then exists at the social service, so a change goes through
//! the social service (the person's rights there), and another outcome is refused
//! ([`OutcomeWrite::AlreadyAccepted`]); `accepted` again leaves the first acceptance as it is.

use std::collections::HashMap;
use std::time::SystemTime;

use passerelle_sqlite::rusqlite::params;
use passerelle_sqlite::time::{from_ms, to_ms};
use passerelle_sqlite::Tx;
use uuid::Uuid;

use super::cases::case_by_id;
use super::{CaseRecord, Store, StoreError};

/// What a person answered to the offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Accepted,
    Declined,
    NoReply,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [Outcome::Accepted, Outcome::Declined, Outcome::NoReply];

    /// The name stored and shown (`accepted`, `declined`, `no_reply`).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Declined => "declined",
            Outcome::NoReply => "no_reply",
        }
    }

    pub(super) fn parse(text: &str) -> Result<Outcome, StoreError> {
        Outcome::ALL
            .into_iter()
            .find(|o| o.as_str() == text)
            .ok_or_else(|| StoreError::Corrupt(format!("offer outcome `{text}`")))
    }
}

/// An offer's outcome as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeRecord {
    pub case: Uuid,
    /// The person's selection line (a person of the case's contact list).
    pub line: u64,
    pub outcome: Outcome,
    /// The day the person answered (or the offer lapsed), `YYYY-MM-DD`.
    pub date: chrono::NaiveDate,
    /// The social worker's agent id, as the social-service daemon relayed it.
    pub agent: String,
    pub recorded_at: SystemTime,
}

/// What recording an outcome did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutcomeWrite {
    /// The outcome as it now stands: the one given, or the person's first acceptance when they
    /// had accepted already and `accepted` was given again (nothing rewritten).
    Recorded(OutcomeRecord),
    /// The person is in no answered case's contact list (purged meanwhile): nothing written.
    NotListed,
    /// The person accepted on that day, and another outcome was given: refused, nothing
    /// written (`before_commit` not run).
    AlreadyAccepted(chrono::NaiveDate),
}

/// A person of a case's contact list, as an outcome needs them: the store's id and whether the
/// observatory refused them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListedLine {
    pub person: i64,
    pub refused: bool,
}

/// What a person's record carries beyond the selection's cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonIdentity {
    pub former_nirs: Vec<String>,
    /// `v1::Sex` as stored.
    pub sex: i32,
    pub birth_year: u32,
    pub commune_code: String,
}

impl Store {
    /// The first answered case (one with a contact list) after `after` in the order cases were
    /// submitted (`submitted_at`, then id), or the first of all.
    pub fn next_listed_case(&self, after: Option<&CaseRecord>) -> Result<Option<CaseRecord>, StoreError> {
        self.read(|tx| {
            let (at, id) = after.map_or((i64::MIN, String::new()), |c| (to_ms(c.submitted_at), c.id.to_string()));
            let next: Option<String> = tx.query_optional(
                "SELECT id FROM cases WHERE state = 'answered' AND (submitted_at, id) > (?1, ?2)
                 ORDER BY submitted_at, id LIMIT 1",
                params![at, id],
                |r| r.get(0),
            )?;
            match next {
                Some(id) => case_by_id(tx, Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?),
                None => Ok(None),
            }
        })
    }

    /// The person of `case` on selection line `line`, if any.
    pub fn person_at(&self, case: Uuid, line: u64) -> Result<Option<ListedLine>, StoreError> {
        self.read(|tx| {
            Ok(tx.query_optional(
                "SELECT id, refusal IS NOT NULL FROM persons WHERE case_id = ?1 AND line = ?2",
                params![case.to_string(), line as i64],
                |r| Ok(ListedLine { person: r.get(0)?, refused: r.get(1)? }),
            )?)
        })
    }

    /// The identity fields of a stored person that are not among the selection's cells.
    pub fn person_identity(&self, person: i64) -> Result<PersonIdentity, StoreError> {
        self.read(|tx| {
            let identity = tx.query_optional(
                "SELECT former_nirs, sex, birth_year, commune_code FROM persons WHERE id = ?1",
                params![person],
                |r| {
                    let former: String = r.get(0)?;
                    Ok(PersonIdentity {
                        former_nirs: former.split('|').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
                        sex: r.get(1)?,
                        birth_year: r.get(2)?,
                        commune_code: r.get(3)?,
                    })
                },
            )?;
            identity.ok_or_else(|| StoreError::Corrupt(format!("person {person} vanished")))
        })
    }

    /// The outcomes recorded for the persons of `case`, by selection line.
    pub fn outcomes_of(&self, case: Uuid) -> Result<HashMap<u64, OutcomeRecord>, StoreError> {
        self.read(|tx| {
            let rows = tx.query_all(
                "SELECT line, outcome, date, agent, recorded_at FROM offer_outcomes WHERE case_id = ?1",
                params![case.to_string()],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, i64>(4)?,
                    ))
                },
            )?;
            let mut out = HashMap::with_capacity(rows.len());
            for (line, outcome, date, agent, recorded_at) in rows {
                let date = parse_date(&date)?;
                let line = line as u64;
                let outcome = Outcome::parse(&outcome)?;
                out.insert(line, OutcomeRecord { case, line, outcome, date, agent, recorded_at: from_ms(recorded_at) });
            }
            Ok(out)
        })
    }

    /// Records an outcome if the person is still in an answered case, replacing their earlier
    /// `declined` or `no_reply`; an earlier `accepted` stays (see [`OutcomeWrite`]).
    /// `before_commit` runs inside the transaction, before it commits, whenever the outcome is
    /// recorded (the access entries: an error aborts the recording).
    pub fn record_outcome(
        &self,
        record: &OutcomeRecord,
        before_commit: &dyn Fn() -> Result<(), StoreError>,
    ) -> Result<OutcomeWrite, StoreError> {
        let case = record.case.to_string();
        self.write(|tx| {
            let listed = tx.exists(
                "SELECT 1 FROM persons p JOIN cases c ON c.id = p.case_id
                 WHERE p.case_id = ?1 AND p.line = ?2 AND p.refusal IS NULL AND c.state = 'answered'",
                params![case, record.line as i64],
            )?;
            if !listed {
                return Ok(OutcomeWrite::NotListed);
            }
            let earlier: Option<(String, String, String, i64)> = tx.query_optional(
                "SELECT outcome, date, agent, recorded_at FROM offer_outcomes WHERE case_id = ?1 AND line = ?2",
                params![case, record.line as i64],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )?;
            if let Some((outcome, date, agent, recorded_at)) = earlier {
                if Outcome::parse(&outcome)? == Outcome::Accepted {
                    let date = parse_date(&date)?;
                    if record.outcome != Outcome::Accepted {
                        return Ok(OutcomeWrite::AlreadyAccepted(date));
                    }
                    before_commit()?;
                    let first = OutcomeRecord {
                        case: record.case,
                        line: record.line,
                        outcome: Outcome::Accepted,
                        date,
                        agent,
                        recorded_at: from_ms(recorded_at),
                    };
                    return Ok(OutcomeWrite::Recorded(first));
                }
            }
            tx.execute(
                "INSERT INTO offer_outcomes (case_id, line, outcome, date, agent, recorded_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (case_id, line) DO UPDATE SET outcome = excluded.outcome, date = excluded.date,
                     agent = excluded.agent, recorded_at = excluded.recorded_at",
                params![
                    case,
                    record.line as i64,
                    record.outcome.as_str(),
                    record.date.format("%Y-%m-%d").to_string(),
                    record.agent,
                    to_ms(record.recorded_at),
                ],
            )?;
            before_commit()?;
            Ok(OutcomeWrite::Recorded(record.clone()))
        })
    }

    /// How many outcomes the store holds, by outcome (every outcome, 0 when none).
    pub fn outcome_counts(&self) -> Result<Vec<(Outcome, u64)>, StoreError> {
        self.read(|tx| {
            let rows: Vec<(String, i64)> =
                tx.query_all("SELECT outcome, COUNT(*) FROM offer_outcomes GROUP BY outcome", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
            let count = |o: Outcome| rows.iter().find(|(name, _)| name == o.as_str()).map_or(0, |(_, n)| *n as u64);
            Ok(Outcome::ALL.into_iter().map(|o| (o, count(o))).collect())
        })
    }

    /// Persons of the contact lists (answered cases, not refused) with no outcome yet.
    pub fn persons_awaiting_outcome(&self) -> Result<u64, StoreError> {
        self.read(|tx| {
            let n: i64 = tx.query_row(
                "SELECT COUNT(*) FROM persons p JOIN cases c ON c.id = p.case_id
                 WHERE c.state = 'answered' AND p.refusal IS NULL AND NOT EXISTS
                     (SELECT 1 FROM offer_outcomes o WHERE o.case_id = p.case_id AND o.line = p.line)",
                [],
                |r| r.get(0),
            )?;
            Ok(n as u64)
        })
    }
}

/// An outcome's stored date (`YYYY-MM-DD`).
pub(super) fn parse_date(text: &str) -> Result<chrono::NaiveDate, StoreError> {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| StoreError::Corrupt("an offer outcome's date".into()))
}

/// Deletes the outcomes of the cases `cases_sql` selects (with `?1` its parameter): the purge's.
pub(super) fn purge_outcomes(tx: &Tx<'_>, cases_sql: &str, submission: &str) -> Result<usize, StoreError> {
    Ok(tx.execute(&format!("DELETE FROM offer_outcomes WHERE case_id IN ({cases_sql})"), params![submission])?)
}
