//! The case store: one row per case (its state and metadata), the persons of each case, the
//! solicitations sent per body and their chunks, and the answers received.
//!
//! The state machine itself (what moves a case from one state to the next) lives in the
//! observatory crate; this module only stores it durably. Every change goes through
//! [`CaseStore::write`], one SQLite `IMMEDIATE` transaction, so a state change, the outbox
//! messages it causes, the processed message id and the audit entry commit together or not at
//! all.
//!
//! *Payloads* (personal data: the persons' identifiers and risk factors, the answers' values,
//! the outbox's encoded messages) live in `persons`, `answer_chunks` and `outbox`, and only there;
//! [`crate::purge`] deletes them. Everything else (ids, counts, timestamps, states, body codes,
//! category numbers) is metadata kept for the audit trail and the operators.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

use crate::checkpoint::Checkpointer;
use crate::{from_ms, to_ms, Result, StoreError};

/// The schema of the case store (idempotent). `auto_vacuum` is set by [`crate::db::open`] first.
const SCHEMA: &str = r#"
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
-- No index on (case_id, nir): NIRs arrive in random order, so such an index took a random page
-- per person and every chunk's commit rewrote about one index page per person (the observatory
-- refuses a duplicate NIR from memory instead, see `Tx::person_nirs`). Dropped from older stores.
DROP INDEX IF EXISTS persons_by_nir;
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
-- the response stage's cost. Replaces the older per-person `answers` table (migrated on open).
CREATE TABLE IF NOT EXISTS answer_chunks (
    case_id TEXT NOT NULL,
    first_ref INTEGER NOT NULL,
    body TEXT NOT NULL,
    persons INTEGER NOT NULL,
    answers BLOB NOT NULL,
    UNIQUE (case_id, first_ref, body)
);
"#;

/// Where a case is in the decree's flow. Stored as its text code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CaseState {
    /// Request chunks are arriving; persons are validated and stored as they come.
    Receiving,
    /// Every chunk is in; the solicitations are in the outbox, not all confirmed by the broker.
    Soliciting,
    /// Every solicitation is published; waiting for the bodies' responses or the deadline.
    Collecting,
    /// The result is built and in the outbox, not all confirmed by the broker.
    Returning,
    /// Every result chunk is published; waiting for the requester's receipt (or the cap).
    Returned,
    /// The payloads are gone (receipt or 30-day cap); the metadata stays for the audit trail.
    Purged,
    /// The whole case was refused (a refusal went back); it never held payloads past that point.
    Refused,
}

impl CaseState {
    /// Every state, in flow order.
    pub const ALL: [CaseState; 7] = [
        CaseState::Receiving,
        CaseState::Soliciting,
        CaseState::Collecting,
        CaseState::Returning,
        CaseState::Returned,
        CaseState::Purged,
        CaseState::Refused,
    ];

    /// The states in which the case still holds payloads.
    pub const HOLDING_PAYLOADS: [CaseState; 5] =
        [CaseState::Receiving, CaseState::Soliciting, CaseState::Collecting, CaseState::Returning, CaseState::Returned];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseState::Receiving => "receiving",
            CaseState::Soliciting => "soliciting",
            CaseState::Collecting => "collecting",
            CaseState::Returning => "returning",
            CaseState::Returned => "returned",
            CaseState::Purged => "purged",
            CaseState::Refused => "refused",
        }
    }

    pub fn parse(text: &str) -> Option<CaseState> {
        CaseState::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether responses are still merged (before the result is built).
    pub fn is_collecting(self) -> bool {
        matches!(self, CaseState::Soliciting | CaseState::Collecting)
    }
}

impl std::fmt::Display for CaseState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

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
    /// The service offered (art. 3); never forwarded, kept for the statistics.
    pub purpose: String,
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

/// One solicitation: the question to one body for one case.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSolicitation {
    pub solicitation_id: String,
    pub case_id: String,
    pub body: String,
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

/// One body's answer about one person (payload).
#[derive(Clone, PartialEq)]
pub struct StoredAnswer {
    pub person_ref: u64,
    pub body: String,
    /// `v1::PersonStatus` number (found or not found).
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

/// The observatory's case store (one SQLite file). One connection, serialised by a mutex:
/// SQLite has one writer at a time anyway, and each transaction is short (one chunk). Its WAL is
/// checkpointed by a thread of its own ([`crate::checkpoint`]), never inside a commit.
pub struct CaseStore {
    conn: Mutex<Connection>,
    checkpointer: Checkpointer,
    path: PathBuf,
    /// Writes waiting for the next group commit ([`CaseStore::write_grouped`]).
    pending: Mutex<Vec<GroupedWrite>>,
    /// A [`CaseStore::write_redoable`] could not set the connection back to synced commits:
    /// every write sets it back first, and fails while it cannot.
    unsynced: AtomicBool,
}

impl std::fmt::Debug for CaseStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaseStore").field("path", &self.path).finish_non_exhaustive()
    }
}

/// What a grouped write does once its group's commit is known (`None`: committed).
type GroupedFinish = Box<dyn FnOnce(Option<&str>) + Send>;

/// A write waiting for a group commit: runs inside the group's transaction (in its own
/// savepoint) and returns what to do once the commit is known, and `false` if its savepoint
/// could not be rolled back (the group must not commit then).
type GroupedWrite = Box<dyn FnOnce(&Tx<'_>) -> (GroupedFinish, bool) + Send>;

/// Where a grouped write's outcome waits for its caller.
type GroupedSlot<T> = Arc<Mutex<Option<Result<T>>>>;

/// An open transaction on the case store. The methods of [`crate::cases`], [`crate::outbox`],
/// [`crate::inbox`], [`crate::audit`] and [`crate::purge`] all run inside one.
#[derive(Debug)]
pub struct Tx<'c> {
    pub(crate) tx: rusqlite::Transaction<'c>,
}

impl CaseStore {
    /// Opens (or creates) the case store at `path`.
    pub fn open(path: &Path) -> Result<CaseStore> {
        let mut schema = String::from(SCHEMA);
        schema.push_str(crate::outbox::SCHEMA);
        schema.push_str(crate::inbox::SCHEMA);
        schema.push_str(crate::audit::SCHEMA);
        let mut conn = crate::db::open(path, &schema)?;
        crate::answers::migrate_per_person_answers(&mut conn)?;
        let checkpointer = Checkpointer::start(&conn, path)?;
        Ok(CaseStore {
            conn: Mutex::new(conn),
            checkpointer,
            path: path.to_owned(),
            pending: Mutex::new(Vec::new()),
            unsynced: AtomicBool::new(false),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in one `IMMEDIATE` transaction and commits it if `f` succeeds (rolls back
    /// otherwise).
    pub fn write<T, E: From<StoreError>>(&self, f: impl FnOnce(&Tx<'_>) -> Result<T, E>) -> Result<T, E> {
        self.write_then(f, |_| {})
    }

    /// As [`CaseStore::write`], then runs `committed` on the value once the commit succeeded,
    /// still holding the store (so nothing else is written in between): for in-memory state
    /// that must follow what is durably stored, never what a rolled-back transaction did.
    ///
    /// Each transaction logs (at `debug`) how long it waited for the store, worked and
    /// committed: the first place to look when a stage is slow.
    pub fn write_then<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, E>,
        committed: impl FnOnce(&T),
    ) -> Result<T, E> {
        let asked = Instant::now();
        let mut conn = self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        self.synced(&conn)?;
        Self::write_locked(&mut conn, &self.checkpointer, asked, f, committed)
    }

    /// Sets the connection back to synced commits if a redoable write could not.
    fn synced(&self, conn: &Connection) -> Result<()> {
        if self.unsynced.load(Ordering::SeqCst) {
            conn.pragma_update(None, "synchronous", "FULL")?;
            self.unsynced.store(false, Ordering::SeqCst);
        }
        Ok(())
    }

    /// As [`CaseStore::write`], for a transaction that the daemon does again by itself if a
    /// power loss undoes it: its commit is not synced to the disk on its own, but with the next
    /// synced commit (`synchronous = NORMAL` for this one transaction; SQLite's WAL stays
    /// consistent, and a process crash loses nothing: the commit is in the OS's cache). For the
    /// deletion of published outbox rows (undone, the messages go again under the same ids and
    /// the receivers drop them as duplicates) and the purge of a case whose receipt or
    /// retention cap is recorded (undone, the next tick purges it again). One `fsync` less for
    /// each, which every delivery waiting for the store would otherwise wait for.
    pub fn write_redoable<T, E: From<StoreError>>(&self, f: impl FnOnce(&Tx<'_>) -> Result<T, E>) -> Result<T, E> {
        let asked = Instant::now();
        let mut conn = self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        self.unsynced.store(true, Ordering::SeqCst);
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(StoreError::from)?;
        let outcome = Self::write_locked(&mut conn, &self.checkpointer, asked, f, |_| {});
        // Every other transaction is synced: if this cannot be set back, nothing is written
        // until it is (each write tries again first).
        self.synced(&conn)?;
        outcome
    }

    fn write_locked<T, E: From<StoreError>>(
        conn: &mut Connection,
        checkpointer: &Checkpointer,
        asked: Instant,
        f: impl FnOnce(&Tx<'_>) -> Result<T, E>,
        committed: impl FnOnce(&T),
    ) -> Result<T, E> {
        let locked = Instant::now();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(StoreError::from)?;
        let tx = Tx { tx };
        let value = f(&tx)?;
        let worked = Instant::now();
        let changes = tx.tx.total_changes();
        tx.tx.commit().map_err(StoreError::from)?;
        checkpointer.committed(changes);
        committed(&value);
        tracing::debug!(
            wait_us = (locked - asked).as_micros() as u64,
            work_us = (worked - locked).as_micros() as u64,
            commit_us = worked.elapsed().as_micros() as u64,
            "case store transaction"
        );
        Ok(value)
    }

    /// As [`CaseStore::write`], but *group commit*: writes asked for at the same time from
    /// several threads run one after the other in one transaction, each in its own savepoint
    /// (a write that fails is rolled back alone), and share one commit — one `fsync` for the
    /// group instead of one each. Returns only once the group's commit is known: `Ok` means
    /// this write is durably stored, exactly as with `write`.
    ///
    /// The first caller to get the connection runs every write waiting at that moment (its
    /// own included); the others find their outcome ready when they get the connection.
    pub fn write_grouped<T: Send + 'static>(&self, f: impl FnOnce(&Tx<'_>) -> Result<T> + Send + 'static) -> Result<T> {
        let slot: GroupedSlot<T> = Arc::new(Mutex::new(None));
        let mine = Arc::clone(&slot);
        let job: GroupedWrite = Box::new(move |tx: &Tx<'_>| {
            let (outcome, intact) = tx.in_savepoint(f);
            let finish = Box::new(move |commit_error: Option<&str>| {
                let outcome = match (outcome, commit_error) {
                    (Ok(value), None) => Ok(value),
                    (Ok(_), Some(e)) => Err(StoreError::GroupCommit(e.to_owned())),
                    (Err(e), _) => Err(e),
                };
                *mine.lock().unwrap_or_else(|p| p.into_inner()) = Some(outcome);
            }) as GroupedFinish;
            (finish, intact)
        });
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).push(job);
        let mut conn = self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // A group that ran while this thread waited for the connection may have taken it:
        // leaders fill every slot of their group before they release the connection.
        if let Some(outcome) = slot.lock().unwrap_or_else(|p| p.into_inner()).take() {
            return outcome;
        }
        let jobs = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        let started = Instant::now();
        let count = jobs.len();
        let commit_error = match self
            .synced(&conn)
            .and_then(|()| conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(StoreError::from))
        {
            // The writes never ran: their callers find no outcome and report the error.
            Err(e) => Some(e.to_string()),
            Ok(tx) => {
                let tx = Tx { tx };
                let mut finishes: Vec<GroupedFinish> = Vec::with_capacity(count);
                let mut intact = true;
                for job in jobs {
                    let (finish, ok) = job(&tx);
                    finishes.push(finish);
                    intact &= ok;
                }
                let worked = Instant::now();
                let error = if intact {
                    let changes = tx.tx.total_changes();
                    let error = tx.tx.commit().err().map(|e| StoreError::from(e).to_string());
                    self.checkpointer.committed(changes);
                    error
                } else {
                    // A failed write could not be undone alone: nothing of the group is kept.
                    drop(tx);
                    Some("a failed write of the group could not be rolled back alone".to_owned())
                };
                tracing::debug!(
                    writes = count,
                    work_us = (worked - started).as_micros() as u64,
                    commit_us = worked.elapsed().as_micros() as u64,
                    "case store group commit"
                );
                for finish in finishes {
                    finish(error.as_deref());
                }
                error
            }
        };
        drop(conn);
        let outcome = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
        outcome.unwrap_or_else(|| Err(StoreError::GroupCommit(commit_error.unwrap_or_default())))
    }

    /// Runs `f` in a read transaction (a consistent snapshot), never committed.
    pub fn read<T, E: From<StoreError>>(&self, f: impl FnOnce(&Tx<'_>) -> Result<T, E>) -> Result<T, E> {
        let mut conn = self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let tx = Tx { tx: conn.transaction_with_behavior(TransactionBehavior::Deferred).map_err(StoreError::from)? };
        let value = f(&tx);
        drop(tx);
        value
    }

    /// Runs `f` on the bare connection (outside any transaction), no passive checkpoint
    /// beside it: checkpoints and vacuum.
    pub(crate) fn with_connection<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        self.checkpointer.exclusive(|| f(&conn))
    }
}

/// Comma-separated category numbers.
fn join_numbers(numbers: &[i32]) -> String {
    numbers.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

fn split_numbers(text: &str) -> Vec<i32> {
    text.split(',').filter_map(|s| s.trim().parse().ok()).collect()
}

fn opt_time(ms: Option<i64>) -> Option<SystemTime> {
    ms.map(from_ms)
}

const CASE_COLUMNS: &str = "case_id, state, requester, requester_office, requester_user, purpose, legal_basis, \
    wanted, arrived_at, respond_by, remind_at, expires_at, chunk_size, request_chunk_count, request_chunks_received, \
    persons_accepted, persons_refused, reminded_at, completeness, result_chunk_count, result_at, returned_at, \
    receipt_at, purged_at, refusal, updated_at";

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
        reminded_at: opt_time(r.get(17)?),
        completeness: r.get(18)?,
        result_chunk_count: r.get(19)?,
        result_at: opt_time(r.get(20)?),
        returned_at: opt_time(r.get(21)?),
        receipt_at: opt_time(r.get(22)?),
        purged_at: opt_time(r.get(23)?),
        refusal: r.get(24)?,
        updated_at: from_ms(r.get(25)?),
    })
}

impl Tx<'_> {
    /// Runs one statement with its parsed form kept by the connection (rusqlite's own
    /// `execute` parses it again each time): for every statement of the hot paths.
    pub(crate) fn execute(&self, sql: &str, params: impl rusqlite::Params) -> Result<usize> {
        Ok(self.tx.prepare_cached(sql)?.execute(params)?)
    }

    /// As [`Tx::execute`], for a query of one row.
    pub(crate) fn query_row<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        f: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<T> {
        Ok(self.tx.prepare_cached(sql)?.query_row(params, f)?)
    }

    /// Runs `f` inside a savepoint of this transaction: if it fails, what it wrote is rolled
    /// back and the rest of the transaction stands.
    /// The `bool` is `false` when the savepoint could not be rolled back or released: the
    /// transaction then holds a partial write and must not commit.
    pub(crate) fn in_savepoint<T>(&self, f: impl FnOnce(&Tx<'_>) -> Result<T>) -> (Result<T>, bool) {
        if let Err(e) = self.tx.execute_batch("SAVEPOINT grouped_write") {
            return (Err(e.into()), true);
        }
        match f(self) {
            Ok(value) => match self.tx.execute_batch("RELEASE grouped_write") {
                Ok(()) => (Ok(value), true),
                Err(e) => (Err(e.into()), false),
            },
            Err(e) => {
                let undone = self.tx.execute_batch("ROLLBACK TO grouped_write; RELEASE grouped_write").is_ok();
                (Err(e), undone)
            }
        }
    }
}

/// Cases, persons, solicitations and answers.
impl Tx<'_> {
    /// Stores a new case. Fails if the id exists.
    pub fn insert_case(&self, c: &NewCase, now: SystemTime) -> Result<()> {
        self.execute(
            "INSERT INTO cases (case_id, state, requester, requester_office, requester_user, purpose, legal_basis, \
             wanted, arrived_at, respond_by, remind_at, expires_at, chunk_size, request_chunk_count, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
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
        let sql = format!("SELECT {CASE_COLUMNS} FROM cases WHERE state IN ({}) ORDER BY arrived_at", list.join(","));
        let mut stmt = self.tx.prepare(&sql)?;
        let rows = stmt.query_map([], case_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Every case, newest first (for `ctl` and tests).
    pub fn all_cases(&self) -> Result<Vec<CaseRecord>> {
        self.cases_in(&CaseState::ALL).map(|mut v| {
            v.reverse();
            v
        })
    }

    /// Moves a case to `state`.
    pub fn set_state(&self, case_id: &str, state: CaseState, now: SystemTime) -> Result<()> {
        self.execute(
            "UPDATE cases SET state = ?2, updated_at = ?3 WHERE case_id = ?1",
            params![case_id, state.as_str(), to_ms(now)],
        )?;
        Ok(())
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
            .prepare_cached("SELECT 1 FROM request_chunks WHERE case_id = ?1 AND chunk_index = ?2")?
            .exists(params![case_id, index])?)
    }

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
        Ok(self
            .tx
            .prepare_cached("SELECT 1 FROM persons WHERE case_id = ?1 AND nir = ?2")?
            .exists(params![case_id, nir])?)
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

    /// Stores a solicitation and its `chunk_count` chunks, none answered.
    pub fn insert_solicitation(&self, s: &StoredSolicitation) -> Result<()> {
        self.execute(
            "INSERT INTO solicitations (solicitation_id, case_id, body, categories, chunk_count, declines, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                s.solicitation_id,
                s.case_id,
                s.body,
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
                    body: r.get(2)?,
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
                Ok(ChunkStatus { index: r.get(0)?, answered_at: opt_time(r.get(1)?), reminded_at: opt_time(r.get(2)?) })
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

    /// Records the reminder of a case.
    pub fn mark_reminded(&self, case_id: &str, now: SystemTime) -> Result<()> {
        self.execute(
            "UPDATE cases SET reminded_at = ?2, updated_at = ?2 WHERE case_id = ?1",
            params![case_id, to_ms(now)],
        )?;
        Ok(())
    }

    /// Records the result built (`returning`).
    pub fn record_result(&self, case_id: &str, completeness: &str, chunk_count: u32, now: SystemTime) -> Result<()> {
        self.execute(
            "UPDATE cases SET state = 'returning', completeness = ?2, result_chunk_count = ?3, result_at = ?4, \
             updated_at = ?4 WHERE case_id = ?1",
            params![case_id, completeness, chunk_count, to_ms(now)],
        )?;
        Ok(())
    }

    /// Records that every result chunk is published (`returned`).
    pub fn mark_returned(&self, case_id: &str, now: SystemTime) -> Result<()> {
        self.execute(
            "UPDATE cases SET state = 'returned', returned_at = ?2, updated_at = ?2 WHERE case_id = ?1",
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

    /// Refuses the whole case with a reason (no personal data).
    pub fn mark_refused(&self, case_id: &str, reason: &str, now: SystemTime) -> Result<()> {
        self.execute(
            "UPDATE cases SET state = 'refused', refusal = ?2, updated_at = ?3 WHERE case_id = ?1",
            params![case_id, reason, to_ms(now)],
        )?;
        Ok(())
    }

    /// The number of cases per state.
    pub fn state_counts(&self) -> Result<Vec<(CaseState, u64)>> {
        let mut stmt = self.tx.prepare_cached("SELECT state, COUNT(*) FROM cases GROUP BY state")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows.into_iter().filter_map(|(s, n)| CaseState::parse(&s).map(|s| (s, n))).collect())
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
mod tests {
    use super::*;
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

    fn person(r: u64) -> StoredPerson {
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
                    body: "cnav".into(),
                    categories: vec![2],
                    chunk_count: 2,
                    declines: vec![],
                    created_at: now,
                })?;
                assert_eq!(tx.unanswered_chunks("c1")?, 2);
                assert!(tx.mark_chunk_answered("s1", 1, now)?);
                assert!(!tx.mark_chunk_answered("s1", 1, now)?);
                assert_eq!(tx.unanswered_chunks("c1")?, 1);
                tx.set_state("c1", CaseState::Collecting, now)?;
                assert_eq!(tx.pending_chunks_by_body()?, vec![("cnav".to_owned(), 1)]);
                Ok::<_, StoreError>(())
            })
            .unwrap();
    }

    #[test]
    fn a_redoable_write_commits_and_every_other_write_stays_synced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.db");
        let store = CaseStore::open(&path).unwrap();
        let synchronous = |store: &CaseStore| -> i64 {
            store.conn.lock().unwrap().query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap()
        };
        const FULL: i64 = 2;
        assert_eq!(synchronous(&store), FULL);
        store.write_redoable(|tx| tx.insert_case(&new_case("c1"), SystemTime::now())).unwrap();
        assert_eq!(synchronous(&store), FULL, "the next write is synced again");
        // A failing redoable write leaves it synced too.
        let failed: Result<()> = store.write_redoable(|_| Err(StoreError::Corrupt("fails".into())));
        assert!(failed.is_err());
        assert_eq!(synchronous(&store), FULL);
        drop(store);
        let store = CaseStore::open(&path).unwrap();
        assert!(store.read(|tx| tx.case("c1")).unwrap().is_some(), "the redoable write was committed");
    }

    #[test]
    fn grouped_writes_share_a_commit_and_a_failed_one_is_rolled_back_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(CaseStore::open(&dir.path().join("o.db")).unwrap());
        let now = SystemTime::now();
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let store = Arc::clone(&store);
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
        let ids: Vec<String> = store.read(|tx| tx.all_cases()).unwrap().into_iter().map(|c| c.case_id).collect();
        let mut ids = ids;
        ids.sort();
        assert_eq!(ids, ["c0", "c2", "c4", "c6"], "the failed writes left nothing, the others are stored");
    }
}
