//! The cases: one row per case (its state and metadata) and the request chunks received.
//!
//! A case moves only through [`Tx::transition`] and the recording methods built on it
//! ([`Tx::record_result`], [`Tx::mark_refused`]): each checks the move with
//! [`crate::state::next`] and updates the row only if the case is still in the state the caller
//! read (`UPDATE … WHERE state = ?from`), so a bug cannot move a case backwards. Every change
//! goes through one transaction of [`crate::CaseStore`], so a state change, the outbox messages
//! it causes, the processed message id and the audit entry commit together or not at all.
//!
//! Everything in `cases` and `request_chunks` is metadata (ids, counts, timestamps, states, body
//! codes, category numbers) kept for the audit trail and the operators; the payloads are in
//! [`crate::persons`], [`crate::answers`] and [`crate::outbox`].

use std::ops::Range;
use std::time::SystemTime;

use passerelle_sqlite::time::{from_ms, opt_from_ms, to_ms};
use rusqlite::{params, OptionalExtension, Row};

use crate::state::{next, CaseEvent, CaseState};
use crate::{Result, StoreError, Tx};

/// The tables of the case store but the outbox, inbox and audit trail (migration 1). The
/// `auto_vacuum` pragma is set by [`passerelle_sqlite::open`] first.
pub(crate) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS cases (
    case_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    requester TEXT NOT NULL,
    requester_office TEXT NOT NULL,
    requester_user TEXT NOT NULL,
    purpose TEXT NOT NULL,
    legal_basis TEXT NOT NULL,
    wanted TEXT NOT NULL,
    arrived_at INTEGER NOT NULL,
    respond_by INTEGER NOT NULL,
    remind_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    chunk_size INTEGER NOT NULL,
    request_chunk_count INTEGER NOT NULL,
    request_chunks_received INTEGER NOT NULL DEFAULT 0,
    persons_accepted INTEGER NOT NULL DEFAULT 0,
    persons_refused INTEGER NOT NULL DEFAULT 0,
    reminded_at INTEGER,
    completeness TEXT,
    result_chunk_count INTEGER,
    result_at INTEGER,
    returned_at INTEGER,
    receipt_at INTEGER,
    purged_at INTEGER,
    refusal TEXT,
    updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS cases_by_state ON cases(state);
CREATE TABLE IF NOT EXISTS request_chunks (
    case_id TEXT NOT NULL,
    chunk_index INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    accepted INTEGER NOT NULL,
    refused INTEGER NOT NULL,
    PRIMARY KEY (case_id, chunk_index)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS persons (
    case_id TEXT NOT NULL,
    person_ref INTEGER NOT NULL,
    nir TEXT NOT NULL,
    former_nirs TEXT NOT NULL,
    sex INTEGER NOT NULL,
    birth_year INTEGER NOT NULL,
    departement TEXT NOT NULL,
    risk_factors BLOB NOT NULL,
    PRIMARY KEY (case_id, person_ref)
);
-- No index on (case_id, nir): NIRs arrive in random order, so such an index would take a random
-- page per person and every chunk's commit would rewrite about one index page per person (the
-- observatory refuses a duplicate NIR from memory instead, see `Tx::person_nirs`).
CREATE TABLE IF NOT EXISTS solicitations (
    solicitation_id TEXT PRIMARY KEY,
    case_id TEXT NOT NULL,
    body TEXT NOT NULL,
    categories TEXT NOT NULL,
    chunk_count INTEGER NOT NULL,
    declines BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS solicitations_by_case ON solicitations(case_id);
CREATE TABLE IF NOT EXISTS solicitation_chunks (
    solicitation_id TEXT NOT NULL,
    chunk_index INTEGER NOT NULL,
    answered_at INTEGER,
    reminded_at INTEGER,
    PRIMARY KEY (solicitation_id, chunk_index)
) WITHOUT ROWID;
-- The chunks still unanswered only: every response asks whether its case has any left, which
-- must not cost a pass over every chunk of a big case.
CREATE INDEX IF NOT EXISTS solicitation_chunks_unanswered ON solicitation_chunks(solicitation_id)
    WHERE answered_at IS NULL;
-- One body's answers about one chunk of persons, in one row (`crate::answers`): a response
-- chunk is stored and read back whole. One row per person made the per-person B-tree inserts
-- the response stage's cost.
CREATE TABLE IF NOT EXISTS answer_chunks (
    case_id TEXT NOT NULL,
    first_ref INTEGER NOT NULL,
    body TEXT NOT NULL,
    persons INTEGER NOT NULL,
    answers BLOB NOT NULL,
    UNIQUE (case_id, first_ref, body)
);
"#;

/// A case as first stored (from the first request chunk that arrives).
#[derive(Debug, Clone)]
pub struct NewCase {
    pub case_id: String,
    pub state: CaseState,
    /// The requester's body code (the request's `sender`): the result's routing key, and the
    /// branch never solicited.
    pub requester: String,
    pub requester_office: String,
    /// The broker-validated user that published the first chunk (for the audit trail).
    pub requester_user: String,
    /// The service offered (art. 3) in words; never forwarded, forgotten at the purge.
    pub purpose: String,
    /// The service offered as a code of the closed list (`Request.service`, the proto's
    /// `OfferedService` number): what the statistics keep.
    pub service: i32,
    pub legal_basis: String,
    /// The requested categories (wire numbers), sorted, without duplicates.
    pub wanted: Vec<i32>,
    pub arrived_at: SystemTime,
    pub respond_by: SystemTime,
    /// Halfway to the deadline: silent bodies get a reminder.
    pub remind_at: SystemTime,
    /// Arrival + the retention cap: every payload is purged then, whatever the state.
    pub expires_at: SystemTime,
    /// Persons per chunk, fixed for the case's life so chunks stay the same across restarts.
    pub chunk_size: u32,
    pub request_chunk_count: u32,
}

/// A case as stored.
#[derive(Debug, Clone)]
pub struct CaseRecord {
    pub case_id: String,
    pub state: CaseState,
    pub requester: String,
    pub requester_office: String,
    pub requester_user: String,
    pub purpose: String,
    /// The `OfferedService` number (see [`NewCase::service`]).
    pub service: i32,
    pub legal_basis: String,
    pub wanted: Vec<i32>,
    pub arrived_at: SystemTime,
    pub respond_by: SystemTime,
    pub remind_at: SystemTime,
    pub expires_at: SystemTime,
    pub chunk_size: u32,
    pub request_chunk_count: u32,
    pub request_chunks_received: u32,
    pub persons_accepted: u64,
    pub persons_refused: u64,
    pub reminded_at: Option<SystemTime>,
    /// `complete` or `partial`, once the result is built.
    pub completeness: Option<String>,
    pub result_chunk_count: Option<u32>,
    pub result_at: Option<SystemTime>,
    pub returned_at: Option<SystemTime>,
    pub receipt_at: Option<SystemTime>,
    pub purged_at: Option<SystemTime>,
    /// Why the whole case was refused (no personal data).
    pub refusal: Option<String>,
    pub updated_at: SystemTime,
}

impl CaseRecord {
    /// The person references of chunk `index` (chunk `i` holds refs `i*size .. (i+1)*size`).
    pub fn chunk_refs(&self, index: u32) -> Range<u64> {
        let size = u64::from(self.chunk_size.max(1));
        let start = u64::from(index) * size;
        start.min(self.persons_accepted)..(start + size).min(self.persons_accepted)
    }

    /// How many chunks the accepted persons make (at least 1, so an empty case has one result
    /// chunk).
    pub fn person_chunk_count(&self) -> u32 {
        let size = u64::from(self.chunk_size.max(1));
        (self.persons_accepted.div_ceil(size)).max(1) as u32
    }
}

/// Comma-separated category numbers.
pub(crate) fn join_numbers(numbers: &[i32]) -> String {
    numbers.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

pub(crate) fn split_numbers(text: &str) -> Vec<i32> {
    text.split(',').filter_map(|s| s.trim().parse().ok()).collect()
}

const CASE_COLUMNS: &str = "case_id, state, requester, requester_office, requester_user, purpose, legal_basis, \
    wanted, arrived_at, respond_by, remind_at, expires_at, chunk_size, request_chunk_count, request_chunks_received, \
    persons_accepted, persons_refused, reminded_at, completeness, result_chunk_count, result_at, returned_at, \
    receipt_at, purged_at, refusal, updated_at, service";

fn case_from_row(r: &Row<'_>) -> rusqlite::Result<CaseRecord> {
    let state: String = r.get(1)?;
    let state = CaseState::parse(&state).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            1,
            rusqlite::types::Type::Text,
            format!("unknown state {state}").into(),
        )
    })?;
    Ok(CaseRecord {
        case_id: r.get(0)?,
        state,
        requester: r.get(2)?,
        requester_office: r.get(3)?,
        requester_user: r.get(4)?,
        purpose: r.get(5)?,
        legal_basis: r.get(6)?,
        wanted: split_numbers(&r.get::<_, String>(7)?),
        arrived_at: from_ms(r.get(8)?),
        respond_by: from_ms(r.get(9)?),
        remind_at: from_ms(r.get(10)?),
        expires_at: from_ms(r.get(11)?),
        chunk_size: r.get(12)?,
        request_chunk_count: r.get(13)?,
        request_chunks_received: r.get(14)?,
        persons_accepted: r.get::<_, i64>(15)? as u64,
        persons_refused: r.get::<_, i64>(16)? as u64,
        reminded_at: opt_from_ms(r.get(17)?),
        completeness: r.get(18)?,
        result_chunk_count: r.get(19)?,
        result_at: opt_from_ms(r.get(20)?),
        returned_at: opt_from_ms(r.get(21)?),
        receipt_at: opt_from_ms(r.get(22)?),
        purged_at: opt_from_ms(r.get(23)?),
        refusal: r.get(24)?,
        updated_at: from_ms(r.get(25)?),
        service: r.get(26)?,
    })
}

/// Cases and their request chunks.
impl Tx<'_> {
    /// Stores a new case. Fails if the id exists.
    pub fn insert_case(&self, c: &NewCase, now: SystemTime) -> Result<()> {
        self.execute(
            "INSERT INTO cases (case_id, state, requester, requester_office, requester_user, purpose, legal_basis, \
             wanted, arrived_at, respond_by, remind_at, expires_at, chunk_size, request_chunk_count, updated_at, \
             service) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            params![
                c.case_id,
                c.state.as_str(),
                c.requester,
                c.requester_office,
                c.requester_user,
                c.purpose,
                c.legal_basis,
                join_numbers(&c.wanted),
                to_ms(c.arrived_at),
                to_ms(c.respond_by),
                to_ms(c.remind_at),
                to_ms(c.expires_at),
                c.chunk_size,
                c.request_chunk_count,
                to_ms(now),
                c.service,
            ],
        )?;
        Ok(())
    }

    /// The case of an id.
    pub fn case(&self, case_id: &str) -> Result<Option<CaseRecord>> {
        let sql = format!("SELECT {CASE_COLUMNS} FROM cases WHERE case_id = ?1");
        Ok(self.tx.prepare_cached(&sql)?.query_row([case_id], case_from_row).optional()?)
    }

    /// Every case in one of `states`, oldest first.
    pub fn cases_in(&self, states: &[CaseState]) -> Result<Vec<CaseRecord>> {
        let list: Vec<String> = states.iter().map(|s| format!("'{}'", s.as_str())).collect();
        // The same few lists of states each time: cached like any other statement.
        let sql = format!("SELECT {CASE_COLUMNS} FROM cases WHERE state IN ({}) ORDER BY arrived_at", list.join(","));
        self.query_all(&sql, [], case_from_row)
    }

    /// Every case, newest first (for `ctl` and tests).
    pub fn all_cases(&self) -> Result<Vec<CaseRecord>> {
        self.cases_in(&CaseState::ALL).map(|mut v| {
            v.reverse();
            v
        })
    }

    /// Moves a case in state `from` by `event` ([`crate::state::next`]); fails if the machine
    /// refuses the move, or if the case is no longer in state `from` (nothing is changed then).
    /// Returns the new state.
    pub fn transition(&self, case_id: &str, from: CaseState, event: CaseEvent, now: SystemTime) -> Result<CaseState> {
        let to = next(from, event)?;
        let sql = match event {
            CaseEvent::ResultPublished => {
                "UPDATE cases SET state = ?3, returned_at = ?4, updated_at = ?4 WHERE case_id = ?1 AND state = ?2"
            }
            _ => "UPDATE cases SET state = ?3, updated_at = ?4 WHERE case_id = ?1 AND state = ?2",
        };
        let changed = self.execute(sql, params![case_id, from.as_str(), to.as_str(), to_ms(now)])?;
        self.moved(case_id, from, changed)?;
        Ok(to)
    }

    /// Records the result built: `from` (soliciting or collecting) → `returning`.
    pub fn record_result(
        &self,
        case_id: &str,
        from: CaseState,
        completeness: &str,
        chunk_count: u32,
        now: SystemTime,
    ) -> Result<()> {
        let to = next(from, CaseEvent::ResultBuilt)?;
        let changed = self.execute(
            "UPDATE cases SET state = ?3, completeness = ?4, result_chunk_count = ?5, result_at = ?6, \
             updated_at = ?6 WHERE case_id = ?1 AND state = ?2",
            params![case_id, from.as_str(), to.as_str(), completeness, chunk_count, to_ms(now)],
        )?;
        self.moved(case_id, from, changed)
    }

    /// Refuses the whole case with a reason (no personal data): `receiving` → `refused`.
    pub fn mark_refused(&self, case_id: &str, from: CaseState, reason: &str, now: SystemTime) -> Result<()> {
        let to = next(from, CaseEvent::Refuse)?;
        let changed = self.execute(
            "UPDATE cases SET state = ?3, refusal = ?4, updated_at = ?5 WHERE case_id = ?1 AND state = ?2",
            params![case_id, from.as_str(), to.as_str(), reason, to_ms(now)],
        )?;
        self.moved(case_id, from, changed)
    }

    /// An update of a case's state changed `changed` rows: an error unless it changed the one.
    fn moved(&self, case_id: &str, from: CaseState, changed: usize) -> Result<()> {
        if changed == 1 {
            return Ok(());
        }
        let now_in = self.query_row("SELECT state FROM cases WHERE case_id = ?1", [case_id], |r| r.get::<_, String>(0));
        Err(StoreError::StateMoved { case_id: case_id.to_owned(), expected: from, found: now_in.ok() })
    }

    /// Records one request chunk; `false` if it was already recorded (a duplicate).
    pub fn record_request_chunk(
        &self,
        case_id: &str,
        index: u32,
        accepted: u64,
        refused: u64,
        now: SystemTime,
    ) -> Result<bool> {
        let inserted = self.execute(
            "INSERT OR IGNORE INTO request_chunks (case_id, chunk_index, received_at, accepted, refused) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![case_id, index, to_ms(now), accepted as i64, refused as i64],
        )?;
        if inserted == 1 {
            self.execute(
                "UPDATE cases SET request_chunks_received = request_chunks_received + 1, \
                 persons_refused = persons_refused + ?2, updated_at = ?3 WHERE case_id = ?1",
                params![case_id, refused as i64, to_ms(now)],
            )?;
        }
        Ok(inserted == 1)
    }

    /// Whether a request chunk was already recorded.
    pub fn has_request_chunk(&self, case_id: &str, index: u32) -> Result<bool> {
        Ok(self
            .tx
            .exists("SELECT 1 FROM request_chunks WHERE case_id = ?1 AND chunk_index = ?2", params![case_id, index])?)
    }

    /// Records the reminder of a case.
    pub fn mark_reminded(&self, case_id: &str, now: SystemTime) -> Result<()> {
        self.execute(
            "UPDATE cases SET reminded_at = ?2, updated_at = ?2 WHERE case_id = ?1",
            params![case_id, to_ms(now)],
        )?;
        Ok(())
    }

    /// Records the requester's receipt.
    pub fn mark_receipt(&self, case_id: &str, now: SystemTime) -> Result<()> {
        self.execute(
            "UPDATE cases SET receipt_at = ?2, updated_at = ?2 WHERE case_id = ?1",
            params![case_id, to_ms(now)],
        )?;
        Ok(())
    }

    /// The number of cases per state.
    pub fn state_counts(&self) -> Result<Vec<(CaseState, u64)>> {
        let rows = self.query_all("SELECT state, COUNT(*) FROM cases GROUP BY state", [], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
        })?;
        Ok(rows.into_iter().filter_map(|(s, n)| CaseState::parse(&s).map(|s| (s, n))).collect())
    }

    /// Totals since the store was created: purged cases, refused cases, refused persons.
    pub fn totals(&self) -> Result<(u64, u64, u64)> {
        self.query_row(
            "SELECT COALESCE(SUM(purged_at IS NOT NULL), 0), COALESCE(SUM(state = 'refused'), 0), \
             COALESCE(SUM(persons_refused), 0) FROM cases",
            [],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64, r.get::<_, i64>(2)? as u64)),
        )
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::{CaseStore, StoredPerson};
    use std::time::{Duration, UNIX_EPOCH};

    pub(crate) fn new_case(id: &str) -> NewCase {
        let t0 = UNIX_EPOCH + Duration::from_secs(1_750_000_000);
        NewCase {
            case_id: id.into(),
            state: CaseState::Receiving,
            requester: "cnaf".into(),
            requester_office: "caf-13".into(),
            requester_user: "cnaf".into(),
            purpose: "falls workshop".into(),
            service: 1,
            legal_basis: "Décret n° 2017-334, art. 3".into(),
            wanted: vec![2, 15],
            arrived_at: t0,
            respond_by: t0 + Duration::from_secs(7 * 86400),
            remind_at: t0 + Duration::from_secs(7 * 43200),
            expires_at: t0 + Duration::from_secs(30 * 86400),
            chunk_size: 2,
            request_chunk_count: 2,
        }
    }

    pub(crate) fn person(r: u64) -> StoredPerson {
        StoredPerson {
            person_ref: r,
            nir: format!("18405751234{r:02}12"),
            former_nirs: vec![],
            sex: 1,
            birth_year: 1950,
            departement: "13".into(),
            risk_factors: vec![],
        }
    }

    #[test]
    fn a_case_round_trips_and_counts_its_chunks_and_persons() {
        let dir = tempfile::tempdir().unwrap();
        let store = CaseStore::open(&dir.path().join("o.db")).unwrap();
        let now = SystemTime::now();
        store
            .write(|tx| {
                tx.insert_case(&new_case("c1"), now)?;
                assert!(tx.record_request_chunk("c1", 0, 3, 1, now)?);
                assert!(!tx.record_request_chunk("c1", 0, 3, 1, now)?, "duplicate chunk");
                assert!(tx.has_request_chunk("c1", 0)?);
                for r in 0..3 {
                    tx.insert_person("c1", &person(r))?;
                }
                Ok::<_, StoreError>(())
            })
            .unwrap();
        let case = store.read(|tx| tx.case("c1")).unwrap().unwrap();
        assert_eq!((case.state, case.persons_accepted, case.persons_refused), (CaseState::Receiving, 3, 1));
        assert_eq!(case.wanted, vec![2, 15]);
        assert_eq!(case.person_chunk_count(), 2);
        assert_eq!(case.chunk_refs(1), 2..3);
        let persons = store.read(|tx| tx.persons("c1", 1..3)).unwrap();
        assert_eq!(persons.iter().map(|p| p.person_ref).collect::<Vec<_>>(), vec![1, 2]);
        assert!(store.read(|tx| tx.has_person_nir("c1", &person(2).nir)).unwrap());
        assert!(!format!("{:?}", persons[0]).contains(&persons[0].nir), "Debug is redacted");
    }

    #[test]
    fn a_failed_closure_rolls_everything_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = CaseStore::open(&dir.path().join("o.db")).unwrap();
        let result: Result<()> = store.write(|tx| {
            tx.insert_case(&new_case("c1"), SystemTime::now())?;
            Err(StoreError::Corrupt("boom".into()))
        });
        assert!(result.is_err());
        assert!(store.read(|tx| tx.case("c1")).unwrap().is_none());
    }

    #[test]
    fn a_case_moves_only_forward_and_only_from_the_state_its_caller_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = CaseStore::open(&dir.path().join("o.db")).unwrap();
        let now = SystemTime::now();
        let state = |store: &CaseStore| store.read(|tx| tx.case("c1")).unwrap().unwrap().state;
        store.write(|tx| tx.insert_case(&new_case("c1"), now)).unwrap();
        let moved = store.write(|tx| tx.transition("c1", CaseState::Receiving, CaseEvent::SolicitationsQueued, now));
        assert_eq!(moved.unwrap(), CaseState::Soliciting);
        // A caller that read `receiving` before another transaction moved the case changes nothing.
        let stale = store.write(|tx| tx.transition("c1", CaseState::Receiving, CaseEvent::SolicitationsQueued, now));
        assert!(
            matches!(&stale, Err(StoreError::StateMoved { expected: CaseState::Receiving, found: Some(f), .. }) if f == "soliciting"),
            "{stale:?}"
        );
        store.write(|tx| tx.transition("c1", CaseState::Soliciting, CaseEvent::SolicitationsPublished, now)).unwrap();
        store.write(|tx| tx.record_result("c1", CaseState::Collecting, "complete", 1, now)).unwrap();
        store.write(|tx| tx.transition("c1", CaseState::Returning, CaseEvent::ResultPublished, now)).unwrap();
        let case = store.read(|tx| tx.case("c1")).unwrap().unwrap();
        assert_eq!(
            (case.state, case.completeness.as_deref(), case.result_chunk_count),
            (CaseState::Returned, Some("complete"), Some(1))
        );
        assert!(case.returned_at.is_some() && case.result_at.is_some());
        store.write(|tx| tx.transition("c1", CaseState::Returned, CaseEvent::Purge, now)).unwrap();
        // Purged is final: neither the machine nor a caller claiming another state moves it back.
        let back = store.write(|tx| tx.transition("c1", CaseState::Purged, CaseEvent::SolicitationsPublished, now));
        assert!(matches!(back, Err(StoreError::Transition(_))), "{back:?}");
        let lying =
            store.write(|tx| tx.transition("c1", CaseState::Soliciting, CaseEvent::SolicitationsPublished, now));
        assert!(matches!(lying, Err(StoreError::StateMoved { .. })), "{lying:?}");
        assert_eq!(state(&store), CaseState::Purged);
        // Refusal: only while receiving, with its reason.
        store.write(|tx| tx.insert_case(&new_case("c2"), now)).unwrap();
        store.write(|tx| tx.mark_refused("c2", CaseState::Receiving, "no person", now)).unwrap();
        let c2 = store.read(|tx| tx.case("c2")).unwrap().unwrap();
        assert_eq!((c2.state, c2.refusal.as_deref()), (CaseState::Refused, Some("no person")));
        assert!(store.write(|tx| tx.mark_refused("c2", CaseState::Refused, "again", now)).is_err());
    }

    #[test]
    fn grouped_writes_share_a_commit_and_a_failed_one_is_rolled_back_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(CaseStore::open(&dir.path().join("o.db")).unwrap());
        let now = SystemTime::now();
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let store = std::sync::Arc::clone(&store);
                std::thread::spawn(move || {
                    store.write_grouped(move |tx| {
                        tx.insert_case(&new_case(&format!("c{i}")), now)?;
                        if i % 2 == 1 {
                            return Err(StoreError::Corrupt("this write fails".into()));
                        }
                        Ok(i)
                    })
                })
            })
            .collect();
        let outcomes: Vec<Result<i32>> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        for (i, outcome) in outcomes.iter().enumerate() {
            assert_eq!(outcome.is_ok(), i % 2 == 0, "write {i}: {outcome:?}");
        }
        let mut ids: Vec<String> = store.read(|tx| tx.all_cases()).unwrap().into_iter().map(|c| c.case_id).collect();
        ids.sort();
        assert_eq!(ids, ["c0", "c2", "c4", "c6"], "the failed writes left nothing, the others are stored");
    }
}
