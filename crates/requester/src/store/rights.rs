//! The persons' rights at the requester (decree art. 6; DESIGN §7.3): what the store holds about
//! a person, found by any of their NIRs, and a rectification applied where the person's values
//! are held.
//!
//! - **Found by every NIR.** A request's NIRs (current and former) are matched against each
//!   stored person's `nir` and `former_nirs`, in every case not purged. Rights requests are rare:
//!   the match scans the persons table rather than keep an index of NIRs for them.
//! - **A rectification replaces, never creates.** A corrected category replaces the value
//!   wherever the person holds one — the risk factors the selection gave (and the selection's
//!   cell of that column, which the result files echo) and every body's received value — and is
//!   marked in `rectifications` (case, line, category, where, source, request, when). A category
//!   the person's row does not hold is not created. A value already equal to the corrected one
//!   changes nothing, so a second identical rectification changes nothing.
//! - **A changed case is ranked again.** Its stored contact-list order is dropped (the service
//!   computes it again) and its result files are marked to be written again.
//! - **Once per request.** `rights_requests` keeps the ids of the requests seen (30 days, no
//!   personal data): the access entry is written the first time only, inside the transaction,
//!   before it commits; a redelivered rectification answers the changes its first delivery made.

use std::time::SystemTime;

use chrono::NaiveDate;
use passerelle_protocol::rules::OBSERVATORY_RETENTION_CAP;
use passerelle_protocol::v1::{self, Category};
use passerelle_protocol::value;
use passerelle_sqlite::rusqlite::{self, params};
use passerelle_sqlite::time::{from_ms, to_ms};
use passerelle_sqlite::Tx;
use prost::Message as _;
use uuid::Uuid;

use super::outcomes::{parse_date, Outcome};
use super::{Store, StoreError};

/// Where a rectified value was held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Held {
    /// The risk factors the requester's selection gave.
    Selection,
    /// A value a body gave in a result.
    ReceivedValues,
}

impl Held {
    fn as_str(self) -> &'static str {
        match self {
            Held::Selection => "selection",
            Held::ReceivedValues => "received_values",
        }
    }

    fn parse(text: &str) -> Result<Held, StoreError> {
        match text {
            "selection" => Ok(Held::Selection),
            "received_values" => Ok(Held::ReceivedValues),
            other => Err(StoreError::Corrupt(format!("rectification held in `{other}`"))),
        }
    }
}

/// A person's row as a rights request finds it.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldPerson {
    pub person: i64,
    pub case: Uuid,
    pub line: u64,
    /// The submission's time and end of retention.
    pub submitted_at: SystemTime,
    pub purge_after: SystemTime,
    /// The risk factors the selection gave.
    pub known: v1::CategoryValues,
    /// The bodies' answers received (NIR left empty), and when.
    pub answers: Option<(Vec<v1::BodyAnswer>, SystemTime)>,
    /// The offer's outcome recorded, with its day.
    pub outcome: Option<(Outcome, NaiveDate)>,
}

/// One value a rectification replaced.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RectifiedValue {
    pub case: Uuid,
    pub line: u64,
    pub category: Category,
    pub held: Held,
    /// The requester's own party code (selection) or the body that gave the value.
    pub source: String,
}

/// The rows of the persons `nirs` name, by `nir` or `former_nirs` (`?1`, a JSON array), in
/// cases not purged.
const HELD_SELECT: &str = "
SELECT p.id, p.case_id, p.line, s.submitted_at, s.purge_after, p.known, a.answers,
       COALESCE(a.received_at, (SELECT MIN(received_at) FROM result_chunks WHERE case_id = p.case_id)),
       o.outcome, o.date, p.cells, s.columns
FROM persons p
JOIN cases c ON c.id = p.case_id
JOIN submissions s ON s.id = c.submission_id
LEFT JOIN person_answers a ON a.person_id = p.id
LEFT JOIN offer_outcomes o ON o.case_id = p.case_id AND o.line = p.line
WHERE c.state != 'purged'
  AND EXISTS (SELECT 1 FROM json_each(?1) n
              WHERE n.value = p.nir OR instr('|' || p.former_nirs || '|', '|' || n.value || '|') > 0)
ORDER BY p.id";

/// A found row with what a rectification rewrites: the selection's cells and columns.
struct Found {
    held: HeldPerson,
    cells: Vec<String>,
    columns: Vec<String>,
}

impl Store {
    /// The rows of the person any of `nirs` names (current or former NIRs), in every case not
    /// purged, in store order.
    pub fn held_persons(&self, nirs: &[String]) -> Result<Vec<HeldPerson>, StoreError> {
        let nirs = serde_json::to_string(nirs).expect("strings serialise");
        self.read(|tx| Ok(found(tx, &nirs)?.into_iter().map(|f| f.held).collect()))
    }

    /// Records that the rights request `request_id` is seen, calling `first_time` inside the
    /// transaction when it is new (its access entry). Returns whether it is new.
    pub fn rights_request_seen(
        &self,
        request_id: &str,
        now: SystemTime,
        first_time: &dyn Fn() -> Result<(), StoreError>,
    ) -> Result<bool, StoreError> {
        self.write(|tx| seen(tx, request_id, now, first_time))
    }

    /// Applies the rectification `request_id` to the person any of `nirs` names: each category
    /// of `corrected` replaces the value wherever the person holds one (see the module
    /// documentation); `own` is the requester's party code, the source of the selection's
    /// values. Calls `first_time` inside the transaction when the request is new. Returns the
    /// values replaced now — for a request seen before, those its first delivery replaced — and
    /// the cases whose values changed (their orders dropped).
    pub fn rectify(
        &self,
        request_id: &str,
        nirs: &[String],
        corrected: &v1::CategoryValues,
        own: &str,
        now: SystemTime,
        first_time: &dyn Fn() -> Result<(), StoreError>,
    ) -> Result<(Vec<RectifiedValue>, Vec<Uuid>), StoreError> {
        let nirs = serde_json::to_string(nirs).expect("strings serialise");
        self.write(|tx| {
            if !seen(tx, request_id, now, first_time)? {
                return Ok((rectified_by(tx, request_id)?, Vec::new()));
            }
            let mut changes = Vec::new();
            let mut cases = Vec::new();
            for mut f in found(tx, &nirs)? {
                let before = changes.len();
                rectify_row(&mut f, corrected, own, &mut changes)?;
                if changes.len() == before {
                    continue;
                }
                write_row(tx, &f)?;
                for change in &changes[before..] {
                    tx.execute(
                        "INSERT OR REPLACE INTO rectifications
                         (case_id, line, category, held, source, request_id, rectified_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        params![
                            change.case.to_string(),
                            change.line as i64,
                            change.category as i32,
                            change.held.as_str(),
                            change.source,
                            request_id,
                            to_ms(now)
                        ],
                    )?;
                }
                if !cases.contains(&f.held.case) {
                    // The person's values changed: the contact list is ranked again and the
                    // result files are written again, with the rectified values.
                    super::worklist::forget_order(tx, f.held.case)?;
                    super::cases::mark_unwritten(tx, f.held.case)?;
                    cases.push(f.held.case);
                }
            }
            Ok((changes, cases))
        })
    }

    /// The values of `case` rectified so far: (line, category, where, when), in line order.
    pub fn rectifications_of(&self, case: Uuid) -> Result<Vec<(u64, Category, Held, SystemTime)>, StoreError> {
        self.read(|tx| {
            let rows: Vec<(i64, i32, String, i64)> = tx.query_all(
                "SELECT line, category, held, rectified_at FROM rectifications WHERE case_id = ?1
                 ORDER BY line, category, held, source",
                params![case.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )?;
            rows.into_iter()
                .map(|(line, category, held, at)| {
                    Ok((line as u64, category_of(category)?, Held::parse(&held)?, from_ms(at)))
                })
                .collect()
        })
    }
}

/// Marks `request_id` seen (and forgets those seen more than 30 days ago); calls `first_time`
/// when it is new.
fn seen(
    tx: &Tx<'_>,
    request_id: &str,
    now: SystemTime,
    first_time: &dyn Fn() -> Result<(), StoreError>,
) -> Result<bool, StoreError> {
    let cutoff = now.checked_sub(OBSERVATORY_RETENTION_CAP).unwrap_or(SystemTime::UNIX_EPOCH);
    tx.execute("DELETE FROM rights_requests WHERE first_seen < ?1", params![to_ms(cutoff)])?;
    let new = tx.execute(
        "INSERT OR IGNORE INTO rights_requests (request_id, first_seen) VALUES (?1, ?2)",
        params![request_id, to_ms(now)],
    )? == 1;
    if new {
        first_time()?;
    }
    Ok(new)
}

fn found(tx: &Tx<'_>, nirs_json: &str) -> Result<Vec<Found>, StoreError> {
    let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt(e.to_string());
    type Row = (
        i64,
        String,
        i64,
        i64,
        i64,
        Vec<u8>,
        Option<Vec<u8>>,
        Option<i64>,
        Option<String>,
        Option<String>,
        String,
        String,
    );
    let rows: Vec<Row> = tx.query_all(HELD_SELECT, params![nirs_json], |r: &rusqlite::Row<'_>| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
            r.get(7)?,
            r.get(8)?,
            r.get(9)?,
            r.get(10)?,
            r.get(11)?,
        ))
    })?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, case, line, submitted_at, purge_after, known, answers, received_at, outcome, date, cells, columns) in rows
    {
        let answers = match answers {
            None => None,
            Some(blob) => {
                let person = v1::ResultPerson::decode(blob.as_slice()).map_err(|e| corrupt(&e))?;
                let at = received_at.map(from_ms).ok_or_else(|| corrupt(&"answers without a result chunk"))?;
                Some((person.answers, at))
            }
        };
        let outcome = match (outcome, date) {
            (Some(outcome), Some(date)) => Some((Outcome::parse(&outcome)?, parse_date(&date)?)),
            _ => None,
        };
        out.push(Found {
            held: HeldPerson {
                person: id,
                case: Uuid::parse_str(&case).map_err(|e| corrupt(&e))?,
                line: line as u64,
                submitted_at: from_ms(submitted_at),
                purge_after: from_ms(purge_after),
                known: v1::CategoryValues::decode(known.as_slice()).map_err(|e| corrupt(&e))?,
                answers,
                outcome,
            },
            cells: serde_json::from_str(&cells).map_err(|e| corrupt(&e))?,
            columns: serde_json::from_str(&columns).map_err(|e| corrupt(&e))?,
        });
    }
    Ok(out)
}

/// Replaces, in one found row, each corrected value it holds and that differs; lists each.
fn rectify_row(
    f: &mut Found,
    corrected: &v1::CategoryValues,
    own: &str,
    changes: &mut Vec<RectifiedValue>,
) -> Result<(), StoreError> {
    let wrong = |e: value::WrongType| StoreError::Corrupt(e.0.to_owned());
    let (case, line) = (f.held.case, f.held.line);
    for (category, new) in corrected.present() {
        if f.held.known.get(category).is_some_and(|old| old != new) {
            f.held.known.set(category, new.clone()).map_err(wrong)?;
            // The result files echo the selection's cell of a risk-factor column not asked for.
            if let Some(i) = f.columns.iter().position(|c| c == category.code()) {
                if let Some(cell) = f.cells.get_mut(i) {
                    *cell = value::format(&new);
                }
            }
            changes.push(RectifiedValue { case, line, category, held: Held::Selection, source: own.to_owned() });
        }
        if let Some((answers, _)) = f.held.answers.as_mut() {
            for answer in answers {
                let Some(values) = answer.values.as_mut() else { continue };
                if values.get(category).is_some_and(|old| old != new) {
                    values.set(category, new.clone()).map_err(wrong)?;
                    changes.push(RectifiedValue {
                        case,
                        line,
                        category,
                        held: Held::ReceivedValues,
                        source: answer.body.clone(),
                    });
                }
            }
        }
    }
    Ok(())
}

/// Writes a rectified row back: its risk factors, cells and answers.
fn write_row(tx: &Tx<'_>, f: &Found) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE persons SET known = ?2, cells = ?3 WHERE id = ?1",
        params![
            f.held.person,
            f.held.known.encode_to_vec(),
            serde_json::to_string(&f.cells).expect("strings serialise")
        ],
    )?;
    if let Some((answers, _)) = &f.held.answers {
        let person = v1::ResultPerson { nir: String::new(), answers: answers.clone() };
        tx.execute(
            "UPDATE person_answers SET answers = ?2 WHERE person_id = ?1",
            params![f.held.person, person.encode_to_vec()],
        )?;
    }
    Ok(())
}

/// The values the rectification `request_id` replaced, as it marked them (those a later
/// rectification replaced again are no longer its own).
fn rectified_by(tx: &Tx<'_>, request_id: &str) -> Result<Vec<RectifiedValue>, StoreError> {
    let rows: Vec<(String, i64, i32, String, String)> = tx.query_all(
        "SELECT case_id, line, category, held, source FROM rectifications WHERE request_id = ?1
         ORDER BY case_id, line, category, held, source",
        params![request_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
    )?;
    rows.into_iter()
        .map(|(case, line, category, held, source)| {
            Ok(RectifiedValue {
                case: Uuid::parse_str(&case).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                line: line as u64,
                category: category_of(category)?,
                held: Held::parse(&held)?,
                source,
            })
        })
        .collect()
}

fn category_of(number: i32) -> Result<Category, StoreError> {
    Category::try_from(number).map_err(|_| StoreError::Corrupt(format!("rectified category {number}")))
}

/// Deletes the rectification marks of the cases `cases_sql` selects (with `?1` its parameter):
/// the purge's.
pub(super) fn forget_rectifications(tx: &Tx<'_>, cases_sql: &str, submission: &str) -> Result<(), StoreError> {
    tx.execute(&format!("DELETE FROM rectifications WHERE case_id IN ({cases_sql})"), params![submission])?;
    Ok(())
}
