//! The requester's store (SQLite, one file `requester.db` in `data_dir`): its submissions, the
//! cases they became (one per competent observatory), the persons with their names and contact
//! details, the results and refusals received — and the purge that makes all of it unreadable
//! 24 months after submission at the latest (decree art. 5).
//!
//! **Architecture invariant:** names and contact details are written here and in result files,
//! nowhere else; they never enter a message.
//!
//! Durability: every received chunk is stored in one transaction before its delivery is acked,
//! and a case's receipt goes out only after the transaction that completed its result committed.
//! Several processes (a `submit` waiting for its cases and a `run` daemon) may share the store:
//! writes take the lock up front (`BEGIN IMMEDIATE`), and storing a chunk is idempotent.
//!
//! Purge: `secure_delete` overwrites deleted rows in place; then the WAL is checkpointed and
//! truncated and the file vacuumed, so no purged byte survives in `requester.db`, `-wal` or
//! `-shm`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use passerelle_protocol::v1::{self, Category};
use prost::Message as _;
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use uuid::Uuid;

mod matching;

use matching::PersonIndex;

/// The store's file name in `data_dir`.
pub const DB_FILE: &str = "requester.db";

/// How long a writer waits for another process's transaction (a `submit` and a `run` daemon
/// share the store) before giving up: far longer than any one chunk's transaction.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Prepared statements the connection keeps (rusqlite's default is 16), every statement run
/// through [`Cached`]: parsed once, not on every use.
const STATEMENT_CACHE: usize = 64;

/// `execute` and `query_row` with the statement's parsed form kept by the connection
/// (rusqlite's own parse the SQL again on every call).
trait Cached {
    fn execute_cached(&self, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize>;
    fn query_row_cached<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T>;
}

impl Cached for Connection {
    fn execute_cached(&self, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    fn query_row_cached<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        self.prepare_cached(sql)?.query_row(params, f)
    }
}

/// The schema version (`PRAGMA user_version`). 2: a person's answers are a row of
/// `person_answers` (they were `persons.answers`; [`Store::open`] migrates a version-1 store).
const SCHEMA_VERSION: i32 = 2;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS submissions (
    id              TEXT PRIMARY KEY,
    submitted_at    INTEGER NOT NULL,
    purge_after     INTEGER NOT NULL,
    respond_by      INTEGER NOT NULL,
    service         TEXT NOT NULL,
    wanted          TEXT NOT NULL,
    columns         TEXT NOT NULL,
    separator       INTEGER NOT NULL,
    encoding        TEXT NOT NULL,
    out_path        TEXT,
    lines           INTEGER NOT NULL,
    rejected        INTEGER NOT NULL,
    written_at      INTEGER,
    purged_at       INTEGER
);
CREATE TABLE IF NOT EXISTS cases (
    id              TEXT PRIMARY KEY,
    submission_id   TEXT NOT NULL REFERENCES submissions(id),
    observatory     TEXT NOT NULL,
    persons         INTEGER NOT NULL,
    request_chunks  INTEGER NOT NULL,
    state           TEXT NOT NULL,
    submitted_at    INTEGER NOT NULL,
    sent_at         INTEGER,
    settled_at      INTEGER,
    receipt_sent_at INTEGER,
    result_chunks   INTEGER,
    completeness    INTEGER,
    bodies          BLOB,
    case_problems   TEXT,
    refused_persons INTEGER NOT NULL DEFAULT 0,
    purged_at       INTEGER
);
CREATE INDEX IF NOT EXISTS cases_by_submission ON cases(submission_id);
CREATE TABLE IF NOT EXISTS persons (
    id              INTEGER PRIMARY KEY,
    case_id         TEXT NOT NULL REFERENCES cases(id),
    line            INTEGER NOT NULL,
    nir             TEXT NOT NULL,
    former_nirs     TEXT NOT NULL,
    sex             INTEGER NOT NULL,
    birth_year      INTEGER NOT NULL,
    commune_code    TEXT NOT NULL,
    known           BLOB NOT NULL,
    cells           TEXT NOT NULL,
    refusal         TEXT,
    UNIQUE (case_id, nir)
);
CREATE INDEX IF NOT EXISTS persons_by_case_line ON persons(case_id, line);
-- A result person's answers: the encoded v1::ResultPerson without its NIR (the person row has
-- it), keyed by the person's id. Written once per person and never grown, so storing a result
-- chunk appends small rows instead of rewriting the persons' (cells and all). No foreign key:
-- the purge deletes these rows with their persons, in the same transaction.
CREATE TABLE IF NOT EXISTS person_answers (
    person_id       INTEGER PRIMARY KEY,
    answers         BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS result_chunks (
    case_id         TEXT NOT NULL,
    chunk_index     INTEGER NOT NULL,
    received_at     INTEGER NOT NULL,
    PRIMARY KEY (case_id, chunk_index)
);
CREATE TABLE IF NOT EXISTS refusals (
    case_id         TEXT NOT NULL,
    request_chunk   INTEGER NOT NULL,
    whole_case      INTEGER NOT NULL,
    received_at     INTEGER NOT NULL,
    PRIMARY KEY (case_id, request_chunk, whole_case)
);
CREATE TABLE IF NOT EXISTS written_files (
    submission_id   TEXT NOT NULL,
    path            TEXT NOT NULL,
    PRIMARY KEY (submission_id, path)
);
";

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the store folder {path}: {source}")]
    Folder { path: PathBuf, source: std::io::Error },
    #[error("requester store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("requester store: corrupt row: {0}")]
    Corrupt(String),
    #[error("the store was written by a newer version (schema {found}, this build knows {SCHEMA_VERSION})")]
    NewerSchema { found: i32 },
}

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    /// Stored, not yet (fully) sent.
    Prepared,
    /// Every request chunk is confirmed by the broker; waiting for the result.
    Sent,
    /// Every result chunk is stored.
    Answered,
    /// The observatory refused the whole case, or every person of it.
    Refused,
    /// Its persons, results and refusals are gone (retention).
    Purged,
}

impl CaseState {
    pub fn as_str(self) -> &'static str {
        match self {
            CaseState::Prepared => "prepared",
            CaseState::Sent => "sent",
            CaseState::Answered => "answered",
            CaseState::Refused => "refused",
            CaseState::Purged => "purged",
        }
    }

    fn parse(s: &str) -> Result<CaseState, StoreError> {
        Ok(match s {
            "prepared" => CaseState::Prepared,
            "sent" => CaseState::Sent,
            "answered" => CaseState::Answered,
            "refused" => CaseState::Refused,
            "purged" => CaseState::Purged,
            other => return Err(StoreError::Corrupt(format!("case state `{other}`"))),
        })
    }

    /// Answered or refused: nothing more is expected.
    pub fn is_settled(self) -> bool {
        matches!(self, CaseState::Answered | CaseState::Refused | CaseState::Purged)
    }
}

impl std::fmt::Display for CaseState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A submission: one selection file submitted once, split into cases.
#[derive(Debug, Clone)]
pub struct SubmissionRecord {
    pub id: Uuid,
    pub submitted_at: SystemTime,
    /// When everything of it is purged (submission + retention).
    pub purge_after: SystemTime,
    pub respond_by: SystemTime,
    /// The service offered (art. 3), as typed.
    pub service: String,
    pub wanted: Vec<Category>,
    /// The selection's column names, in file order.
    pub columns: Vec<String>,
    /// The selection's separator byte, for the CSV result.
    pub separator: u8,
    /// The selection's encoding name (`utf-8`, `windows-1252`), for the CSV result.
    pub encoding: String,
    /// Where the result goes (`--out`), if the user said.
    pub out_path: Option<PathBuf>,
    /// Data records of the selection, and how many were rejected.
    pub lines: u64,
    pub rejected: u64,
    /// When the consolidated result was last written.
    pub written_at: Option<SystemTime>,
    pub purged_at: Option<SystemTime>,
}

/// A case: the persons of one submission for one observatory.
#[derive(Debug, Clone)]
pub struct CaseRecord {
    pub id: Uuid,
    pub submission_id: Uuid,
    pub observatory: String,
    pub persons: u64,
    pub request_chunks: u32,
    pub state: CaseState,
    pub submitted_at: SystemTime,
    pub sent_at: Option<SystemTime>,
    pub settled_at: Option<SystemTime>,
    pub receipt_sent_at: Option<SystemTime>,
    /// The result's chunk count, once a chunk arrived; and how many are stored.
    pub result_chunks: Option<u32>,
    pub result_chunks_received: u32,
    pub completeness: v1::Completeness,
    /// Per solicited body, the case-level outcome (asked, answered, declined).
    pub bodies: Vec<v1::BodyOutcome>,
    /// Why the whole case was refused, if it was.
    pub case_problems: Vec<ProblemRecord>,
    pub refused_persons: u64,
}

/// A refusal reason: the field concerned (empty for the whole) and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProblemRecord {
    pub field: String,
    pub reason: String,
}

impl From<&v1::Problem> for ProblemRecord {
    fn from(p: &v1::Problem) -> Self {
        ProblemRecord { field: p.field.clone(), reason: p.reason.clone() }
    }
}

/// A person as stored: what the request needs, what the result file needs.
#[derive(Debug, Clone, Default)]
pub struct NewPerson {
    pub line: u64,
    pub nir: String,
    pub former_nirs: Vec<String>,
    pub sex: i32,
    pub birth_year: u32,
    pub commune_code: String,
    pub known: v1::CategoryValues,
    /// The selection's cells, one per column, canonical text.
    pub cells: Vec<String>,
}

/// A stored person, for writing the result.
#[derive(Debug, Clone)]
pub struct PersonRow {
    pub id: i64,
    pub case_id: Uuid,
    pub line: u64,
    pub nir: String,
    pub known: v1::CategoryValues,
    pub answers: Option<v1::ResultPerson>,
    pub refusal: Option<Vec<ProblemRecord>>,
    /// Empty unless asked for ([`Store::person`]).
    pub cells: Vec<String>,
}

/// What storing a result chunk or a refusal did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// Stored; `settled` when the case needs nothing more.
    New { settled: bool, unmatched: u64 },
    /// Already stored (a redelivery): nothing changed.
    Duplicate,
    /// No such case here.
    UnknownCase,
    /// The case was purged: a late copy, dropped.
    PurgedCase,
}

/// Milliseconds since the epoch, the store's time unit.
pub fn to_millis(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

pub fn from_millis(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)
}

fn opt_time(ms: Option<i64>) -> Option<SystemTime> {
    ms.map(from_millis)
}

/// The requester's SQLite store.
#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
    /// NIR → person id of the cases being answered, so a result chunk is matched in memory
    /// (locked inside a write, after `conn`).
    persons: Mutex<PersonIndex>,
}

/// Items of a result or a refusal matched with the case's persons: (person id, item) in id
/// order, and how many items named no person of the case.
type Matched<'a, T> = (Vec<(i64, &'a T)>, u64);

impl Store {
    /// Opens (creating if needed) `data_dir/requester.db`.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::Folder { path: data_dir.to_owned(), source })?;
        let path = data_dir.join(DB_FILE);
        let mut conn = Connection::open(&path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        // secure_delete first: every page freed from now on is zeroed.
        conn.pragma_update(None, "secure_delete", "ON")?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // VACUUM's temporary copy stays in memory, never in a temp file outside data_dir.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        migrate(&mut conn)?;
        Ok(Store { conn: Mutex::new(conn), path, persons: Mutex::default() })
    }

    /// The database file (the `-wal` and `-shm` files sit beside it).
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` in one write transaction (taken up front), committed when `f` succeeds.
    pub fn write<T, E: From<StoreError>>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T, E>) -> Result<T, E> {
        let asked = std::time::Instant::now();
        let mut conn = self.lock();
        let locked = std::time::Instant::now();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(StoreError::from)?;
        let out = f(&tx)?;
        let worked = std::time::Instant::now();
        tx.commit().map_err(StoreError::from)?;
        tracing::debug!(
            wait_us = (locked - asked).as_micros() as u64,
            work_us = (worked - locked).as_micros() as u64,
            commit_us = worked.elapsed().as_micros() as u64,
            "requester store transaction"
        );
        Ok(out)
    }

    // ----- submissions and cases -----

    pub fn insert_submission(tx: &Transaction<'_>, s: &SubmissionRecord) -> Result<(), StoreError> {
        tx.execute_cached(
            "INSERT INTO submissions (id, submitted_at, purge_after, respond_by, service, wanted, columns, separator,
                encoding, out_path, lines, rejected)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                s.id.to_string(),
                to_millis(s.submitted_at),
                to_millis(s.purge_after),
                to_millis(s.respond_by),
                s.service,
                s.wanted.iter().map(|c| c.code()).collect::<Vec<_>>().join(","),
                serde_json::to_string(&s.columns).expect("strings serialise"),
                s.separator,
                s.encoding,
                s.out_path.as_ref().map(|p| p.to_string_lossy().into_owned()),
                s.lines as i64,
                s.rejected as i64,
            ],
        )?;
        Ok(())
    }

    /// Sets the selection counts once the file has been read to its end.
    pub fn set_submission_counts(tx: &Transaction<'_>, id: Uuid, lines: u64, rejected: u64) -> Result<(), StoreError> {
        tx.execute_cached(
            "UPDATE submissions SET lines = ?2, rejected = ?3 WHERE id = ?1",
            params![id.to_string(), lines as i64, rejected as i64],
        )?;
        Ok(())
    }

    pub fn insert_case(
        tx: &Transaction<'_>,
        id: Uuid,
        submission: Uuid,
        observatory: &str,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        tx.execute_cached(
            "INSERT INTO cases (id, submission_id, observatory, persons, request_chunks, state, submitted_at)
             VALUES (?1, ?2, ?3, 0, 0, 'prepared', ?4)",
            params![id.to_string(), submission.to_string(), observatory, to_millis(now)],
        )?;
        Ok(())
    }

    /// Fixes a case's person and chunk counts once the selection is read.
    pub fn set_case_counts(tx: &Transaction<'_>, id: Uuid, persons: u64, chunks: u32) -> Result<(), StoreError> {
        tx.execute_cached(
            "UPDATE cases SET persons = ?2, request_chunks = ?3 WHERE id = ?1",
            params![id.to_string(), persons as i64, chunks],
        )?;
        Ok(())
    }

    pub fn insert_person(tx: &Transaction<'_>, case: Uuid, p: &NewPerson) -> Result<(), StoreError> {
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
        let conn = self.lock();
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
            let known = v1::CategoryValues::decode(known.as_slice()).map_err(|e| StoreError::Corrupt(e.to_string()))?;
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
    }

    pub fn mark_sent(&self, case: Uuid, now: SystemTime) -> Result<(), StoreError> {
        self.lock().execute_cached(
            "UPDATE cases SET state = 'sent', sent_at = ?2 WHERE id = ?1 AND state = 'prepared'",
            params![case.to_string(), to_millis(now)],
        )?;
        Ok(())
    }

    pub fn mark_receipt_sent(&self, case: Uuid, now: SystemTime) -> Result<(), StoreError> {
        self.lock().execute_cached(
            "UPDATE cases SET receipt_sent_at = ?2 WHERE id = ?1",
            params![case.to_string(), to_millis(now)],
        )?;
        Ok(())
    }

    /// Records result files written for a submission (the purge deletes them); `whole` when
    /// they are its consolidated result (then the daemon need not write it).
    pub fn mark_written(
        &self,
        submission: Uuid,
        files: &[PathBuf],
        now: SystemTime,
        whole: bool,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            if whole {
                tx.execute_cached(
                    "UPDATE submissions SET written_at = ?2 WHERE id = ?1",
                    params![submission.to_string(), to_millis(now)],
                )?;
            }
            for f in files {
                tx.execute_cached(
                    "INSERT OR IGNORE INTO written_files (submission_id, path) VALUES (?1, ?2)",
                    params![submission.to_string(), f.to_string_lossy()],
                )?;
            }
            Ok::<_, StoreError>(())
        })
    }

    pub fn submission(&self, id: Uuid) -> Result<Option<SubmissionRecord>, StoreError> {
        let conn = self.lock();
        conn.query_row_cached(&format!("{SUBMISSION_SELECT} WHERE id = ?1"), params![id.to_string()], submission_row)
            .optional()?
            .transpose()
    }

    pub fn submissions(&self) -> Result<Vec<SubmissionRecord>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare(&format!("{SUBMISSION_SELECT} ORDER BY submitted_at, id"))?;
        let rows = stmt.query_map([], submission_row)?;
        rows.map(|r| r?).collect()
    }

    /// Submissions whose every case is settled and whose result files are not written yet.
    pub fn submissions_to_write(&self) -> Result<Vec<Uuid>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT s.id FROM submissions s
             WHERE s.purged_at IS NULL AND s.written_at IS NULL
               AND EXISTS (SELECT 1 FROM cases c WHERE c.submission_id = s.id)
               AND NOT EXISTS (SELECT 1 FROM cases c WHERE c.submission_id = s.id
                               AND c.state NOT IN ('answered', 'refused'))
             ORDER BY s.submitted_at, s.id",
        )?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.map(|r| Uuid::parse_str(&r?).map_err(|e| StoreError::Corrupt(e.to_string()))).collect()
    }

    pub fn case(&self, id: Uuid) -> Result<Option<CaseRecord>, StoreError> {
        let conn = self.lock();
        case_by_id(&conn, id)
    }

    /// Every case, oldest first.
    pub fn cases(&self) -> Result<Vec<CaseRecord>, StoreError> {
        self.cases_where("1 = 1", params![])
    }

    pub fn cases_of(&self, submission: Uuid) -> Result<Vec<CaseRecord>, StoreError> {
        self.cases_where("submission_id = ?1", params![submission.to_string()])
    }

    /// Cases not yet fully sent (a `submit` interrupted before every confirm).
    pub fn unsent_cases(&self) -> Result<Vec<CaseRecord>, StoreError> {
        self.cases_where("state = 'prepared'", params![])
    }

    /// Answered cases whose receipt is not yet confirmed.
    pub fn cases_awaiting_receipt(&self) -> Result<Vec<CaseRecord>, StoreError> {
        self.cases_where("state = 'answered' AND receipt_sent_at IS NULL", params![])
    }

    fn cases_where(&self, condition: &str, args: &[&dyn rusqlite::ToSql]) -> Result<Vec<CaseRecord>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare(&format!("{CASE_SELECT} WHERE {condition} ORDER BY submitted_at, id"))?;
        let rows = stmt.query_map(args, case_row)?;
        let mut out = Vec::new();
        for row in rows {
            let mut case = row??;
            case.result_chunks_received = count_result_chunks(&conn, case.id)?;
            out.push(case);
        }
        Ok(out)
    }

    // ----- results and refusals -----

    /// Stores one result chunk: each person's answers, the case-level outcome, and whether the
    /// case is now complete. Idempotent on (case, chunk index).
    pub fn store_result(&self, result: &v1::Result, now: SystemTime) -> Result<Stored, StoreError> {
        let Ok(case_id) = Uuid::parse_str(&result.case_id) else {
            return Ok(Stored::UnknownCase);
        };
        self.write(|tx| {
            let Some(case) = case_by_id(tx, case_id)? else {
                return Ok(Stored::UnknownCase);
            };
            if case.state == CaseState::Purged {
                return Ok(Stored::PurgedCase);
            }
            if let Some(count) = case.result_chunks {
                if count != result.chunk_count {
                    return Err(StoreError::Corrupt(format!(
                        "result chunk {} says {} chunks where an earlier one said {count}",
                        result.chunk_index, result.chunk_count
                    )));
                }
            }
            let inserted = tx.execute_cached(
                "INSERT OR IGNORE INTO result_chunks (case_id, chunk_index, received_at) VALUES (?1, ?2, ?3)",
                params![case_id.to_string(), result.chunk_index, to_millis(now)],
            )?;
            if inserted == 0 {
                return Ok(Stored::Duplicate);
            }
            let (rows, unmatched) = self.matched_in_id_order(tx, case_id, &result.persons, |p| &p.nir, now)?;
            {
                // In id order, so the rows are appended to `person_answers` rather than spread
                // over it. OR REPLACE: a NIR twice in a result keeps its last answers, as the
                // former in-place update did.
                let mut stmt =
                    tx.prepare_cached("INSERT OR REPLACE INTO person_answers (person_id, answers) VALUES (?1, ?2)")?;
                let mut blob = Vec::new();
                for (id, person) in rows {
                    blob.clear();
                    encode_answers(person, &mut blob);
                    stmt.execute(params![id, blob])?;
                }
            }
            let outcome = v1::Result { bodies: result.bodies.clone(), ..Default::default() };
            tx.execute_cached(
                "UPDATE cases SET result_chunks = ?2, completeness = ?3, bodies = ?4 WHERE id = ?1",
                params![case_id.to_string(), result.chunk_count, result.completeness, outcome.encode_to_vec()],
            )?;
            self.stored(tx, case_id, unmatched, now)
        })
    }

    /// Stores a refusal: the whole case's reasons, or each refused person's. Idempotent on (case,
    /// request chunk, whole case).
    pub fn store_refusal(&self, refusal: &v1::Refusal, now: SystemTime) -> Result<Stored, StoreError> {
        let Ok(case_id) = Uuid::parse_str(&refusal.case_id) else {
            return Ok(Stored::UnknownCase);
        };
        self.write(|tx| {
            let Some(case) = case_by_id(tx, case_id)? else {
                return Ok(Stored::UnknownCase);
            };
            if case.state == CaseState::Purged {
                return Ok(Stored::PurgedCase);
            }
            let inserted = tx.execute_cached(
                "INSERT OR IGNORE INTO refusals (case_id, request_chunk, whole_case, received_at) VALUES (?1, ?2, ?3, ?4)",
                params![case_id.to_string(), refusal.request_chunk_index, refusal.whole_case, to_millis(now)],
            )?;
            if inserted == 0 {
                return Ok(Stored::Duplicate);
            }
            if refusal.whole_case {
                let problems: Vec<ProblemRecord> = refusal.case_problems.iter().map(ProblemRecord::from).collect();
                tx.execute_cached(
                    "UPDATE cases SET case_problems = ?2 WHERE id = ?1",
                    params![case_id.to_string(), serde_json::to_string(&problems).expect("serialisable")],
                )?;
            }
            let (rows, unmatched) = self.matched_in_id_order(tx, case_id, &refusal.persons, |p| &p.nir, now)?;
            {
                // A NIR twice keeps its last reasons.
                let mut stmt = tx.prepare_cached("UPDATE persons SET refusal = ?2 WHERE id = ?1")?;
                for (id, person) in rows {
                    let problems: Vec<ProblemRecord> = person.problems.iter().map(ProblemRecord::from).collect();
                    stmt.execute(params![id, serde_json::to_string(&problems).expect("serialisable")])?;
                }
            }
            tx.execute_cached(
                "UPDATE cases SET refused_persons = (SELECT COUNT(*) FROM persons WHERE case_id = ?1 AND refusal IS NOT NULL)
                 WHERE id = ?1",
                params![case_id.to_string()],
            )?;
            self.stored(tx, case_id, unmatched, now)
        })
    }

    /// The persons of the case that `items` name (by `nir`), as (person id, item) in id order
    /// so that their rows are written in order, and how many items name no person of the case.
    /// Matched in the case's table of NIRs (see [`matching`]).
    fn matched_in_id_order<'a, T>(
        &self,
        tx: &Transaction<'_>,
        case_id: Uuid,
        items: &'a [T],
        nir: impl Fn(&T) -> &str,
        now: SystemTime,
    ) -> Result<Matched<'a, T>, StoreError> {
        if items.is_empty() {
            return Ok((Vec::new(), 0));
        }
        let mut index = self.persons.lock().unwrap_or_else(|e| e.into_inner());
        let (ids, unmatched) = index.ids(tx, case_id, &case_id.to_string(), items.iter().map(&nir), now)?;
        let mut rows: Vec<(i64, &T)> = ids.iter().zip(items).filter_map(|(id, item)| id.map(|id| (id, item))).collect();
        rows.sort_by_key(|&(id, _)| id);
        Ok((rows, unmatched))
    }

    /// The end of storing a result chunk or a refusal: the case settled if it is now complete
    /// (its NIR table dropped then), its result files marked to be written again.
    fn stored(
        &self,
        tx: &Transaction<'_>,
        case_id: Uuid,
        unmatched: u64,
        now: SystemTime,
    ) -> Result<Stored, StoreError> {
        let settled = settle(tx, case_id, now)?;
        if settled {
            self.persons.lock().unwrap_or_else(|e| e.into_inner()).forget(case_id);
        }
        mark_unwritten(tx, case_id)?;
        Ok(Stored::New { settled, unmatched })
    }

    // ----- reading persons for result files -----

    /// Calls `f` on every person of the given cases (without their cells), in selection order.
    pub fn for_each_person(
        &self,
        cases: &[Uuid],
        mut f: impl FnMut(PersonRow) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let conn = self.lock();
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
    }

    /// One person with the selection's cells.
    pub fn person(&self, id: i64) -> Result<PersonRow, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT p.id, p.case_id, p.line, p.nir, p.known, a.answers, p.refusal, p.cells
             FROM persons p LEFT JOIN person_answers a ON a.person_id = p.id WHERE p.id = ?1",
        )?;
        let mut rows = stmt.query(params![id])?;
        let row = rows.next()?.ok_or_else(|| StoreError::Corrupt(format!("person {id} vanished")))?;
        person_row(row, true)
    }

    /// The refused persons of a case: (line, problems), in selection order.
    pub fn refused_persons(&self, case: Uuid) -> Result<Vec<(u64, Vec<ProblemRecord>)>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT line, refusal FROM persons WHERE case_id = ?1 AND refusal IS NOT NULL ORDER BY line",
        )?;
        let rows = stmt.query_map(params![case.to_string()], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (line, json) = row?;
            let problems = serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            out.push((line as u64, problems));
        }
        Ok(out)
    }

    // ----- purge -----

    /// Purges every submission whose retention ended by `now`: its persons (names, contacts,
    /// NIRs, risk factors), results and refusals; the case metadata (ids, counts, dates, states)
    /// stays. Returns the purged submissions with the result files that were written for them,
    /// which the caller deletes. Then makes the freed bytes unreadable ([`Store::scrub`]).
    pub fn purge_due(&self, now: SystemTime) -> Result<Vec<(Uuid, Vec<PathBuf>)>, StoreError> {
        let purged = self.write(|tx| {
            let due: Vec<String> = {
                let mut stmt =
                    tx.prepare("SELECT id FROM submissions WHERE purge_after <= ?1 AND purged_at IS NULL ORDER BY id")?;
                let rows = stmt.query_map(params![to_millis(now)], |r| r.get(0))?;
                rows.collect::<Result<_, _>>()?
            };
            let mut out = Vec::new();
            for id in due {
                let files: Vec<String> = {
                    let mut stmt =
                        tx.prepare("SELECT path FROM written_files WHERE submission_id = ?1 ORDER BY path")?;
                    let rows = stmt.query_map(params![id], |r| r.get(0))?;
                    rows.collect::<Result<_, _>>()?
                };
                let cases = "SELECT id FROM cases WHERE submission_id = ?1";
                tx.execute_cached(
                    &format!(
                        "DELETE FROM person_answers WHERE person_id IN
                         (SELECT id FROM persons WHERE case_id IN ({cases}))"
                    ),
                    params![id],
                )?;
                tx.execute_cached(&format!("DELETE FROM persons WHERE case_id IN ({cases})"), params![id])?;
                tx.execute_cached(&format!("DELETE FROM result_chunks WHERE case_id IN ({cases})"), params![id])?;
                tx.execute_cached(&format!("DELETE FROM refusals WHERE case_id IN ({cases})"), params![id])?;
                tx.execute_cached("DELETE FROM written_files WHERE submission_id = ?1", params![id])?;
                tx.execute_cached(
                    "UPDATE cases SET state = 'purged', purged_at = ?2, bodies = NULL, case_problems = NULL
                     WHERE submission_id = ?1",
                    params![id, to_millis(now)],
                )?;
                // The service text is the requester's own words: it may name a person. Gone too.
                tx.execute_cached(
                    "UPDATE submissions SET purged_at = ?2, service = '', out_path = NULL WHERE id = ?1",
                    params![id, to_millis(now)],
                )?;
                let uuid = Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                out.push((uuid, files.into_iter().map(PathBuf::from).collect()));
            }
            Ok::<_, StoreError>(out)
        })?;
        if !purged.is_empty() {
            self.scrub()?;
        }
        Ok(purged)
    }

    /// Leaves no deleted byte readable in the store's files: checkpoints the WAL into the
    /// database and truncates it, rebuilds the file (VACUUM: no free page keeps old content,
    /// and the file shrinks), then truncates the WAL that VACUUM filled again.
    pub fn scrub(&self) -> Result<(), StoreError> {
        let conn = self.lock();
        conn.query_row_cached("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        conn.execute_batch("VACUUM")?;
        conn.query_row_cached("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }
}

/// Creates the schema, or brings an older store's up to date, in one transaction (a second
/// process opening the store meanwhile waits, then finds it done).
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i32 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema { found: version });
    }
    tx.execute_batch(SCHEMA)?;
    if version == 1 {
        // 1 → 2: the answers move out of the persons' rows. The column goes too, so nothing
        // reads two places and a store has one shape whatever its history.
        tx.execute_batch(
            "INSERT INTO person_answers (person_id, answers)
                 SELECT id, answers FROM persons WHERE answers IS NOT NULL ORDER BY id;
             ALTER TABLE persons DROP COLUMN answers;",
        )?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

const SUBMISSION_SELECT: &str = "SELECT id, submitted_at, purge_after, respond_by, service, wanted, columns, separator,
    encoding, out_path, lines, rejected, written_at, purged_at FROM submissions";

fn submission_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<SubmissionRecord, StoreError>> {
    let id: String = r.get(0)?;
    let wanted: String = r.get(5)?;
    let columns: String = r.get(6)?;
    let out_path: Option<String> = r.get(9)?;
    let build = || -> Result<SubmissionRecord, StoreError> {
        Ok(SubmissionRecord {
            id: Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            submitted_at: from_millis(r.get(1)?),
            purge_after: from_millis(r.get(2)?),
            respond_by: from_millis(r.get(3)?),
            service: r.get(4)?,
            wanted: passerelle_protocol::catalogue::parse_list(&wanted)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            columns: serde_json::from_str(&columns).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            separator: r.get(7)?,
            encoding: r.get(8)?,
            out_path: out_path.map(PathBuf::from),
            lines: r.get::<_, i64>(10)? as u64,
            rejected: r.get::<_, i64>(11)? as u64,
            written_at: opt_time(r.get(12)?),
            purged_at: opt_time(r.get(13)?),
        })
    };
    Ok(build())
}

const CASE_SELECT: &str =
    "SELECT id, submission_id, observatory, persons, request_chunks, state, submitted_at, sent_at,
    settled_at, receipt_sent_at, result_chunks, completeness, bodies, case_problems, refused_persons FROM cases";

fn case_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<CaseRecord, StoreError>> {
    let id: String = r.get(0)?;
    let submission: String = r.get(1)?;
    let state: String = r.get(5)?;
    let bodies: Option<Vec<u8>> = r.get(12)?;
    let problems: Option<String> = r.get(13)?;
    let build = || -> Result<CaseRecord, StoreError> {
        let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt(e.to_string());
        Ok(CaseRecord {
            id: Uuid::parse_str(&id).map_err(|e| corrupt(&e))?,
            submission_id: Uuid::parse_str(&submission).map_err(|e| corrupt(&e))?,
            observatory: r.get(2)?,
            persons: r.get::<_, i64>(3)? as u64,
            request_chunks: r.get(4)?,
            state: CaseState::parse(&state)?,
            submitted_at: from_millis(r.get(6)?),
            sent_at: opt_time(r.get(7)?),
            settled_at: opt_time(r.get(8)?),
            receipt_sent_at: opt_time(r.get(9)?),
            result_chunks: r.get(10)?,
            result_chunks_received: 0,
            completeness: r
                .get::<_, Option<i32>>(11)?
                .and_then(|c| v1::Completeness::try_from(c).ok())
                .unwrap_or(v1::Completeness::Unspecified),
            bodies: match bodies {
                Some(b) => v1::Result::decode(b.as_slice()).map_err(|e| corrupt(&e))?.bodies,
                None => Vec::new(),
            },
            case_problems: match problems {
                Some(p) => serde_json::from_str(&p).map_err(|e| corrupt(&e))?,
                None => Vec::new(),
            },
            refused_persons: r.get::<_, i64>(14)? as u64,
        })
    };
    Ok(build())
}

fn case_by_id(conn: &Connection, id: Uuid) -> Result<Option<CaseRecord>, StoreError> {
    let case =
        conn.query_row_cached(&format!("{CASE_SELECT} WHERE id = ?1"), params![id.to_string()], case_row).optional()?;
    match case {
        Some(case) => {
            let mut case = case?;
            case.result_chunks_received = count_result_chunks(conn, id)?;
            Ok(Some(case))
        }
        None => Ok(None),
    }
}

/// A result person's answers as stored: the person's `ResultPerson` without the NIR (the
/// person's row holds it; [`person_row`] puts it back).
fn encode_answers(person: &v1::ResultPerson, out: &mut Vec<u8>) {
    let answers = v1::ResultPerson { nir: String::new(), answers: person.answers.clone() };
    answers.encode(out).expect("a Vec grows as needed");
}

/// Something new arrived for a case: its submission's result files must be written (again).
fn mark_unwritten(tx: &Transaction<'_>, case_id: Uuid) -> Result<(), StoreError> {
    tx.execute_cached(
        "UPDATE submissions SET written_at = NULL WHERE id = (SELECT submission_id FROM cases WHERE id = ?1)",
        params![case_id.to_string()],
    )?;
    Ok(())
}

fn count_result_chunks(conn: &Connection, case: Uuid) -> Result<u32, StoreError> {
    Ok(conn
        .query_row("SELECT COUNT(*) FROM result_chunks WHERE case_id = ?1", params![case.to_string()], |r| r.get(0))?)
}

/// Moves a case to `answered` or `refused` when nothing more is expected: every result chunk
/// stored, the whole case refused, or every person refused. Returns whether it is settled.
fn settle(tx: &Transaction<'_>, case_id: Uuid, now: SystemTime) -> Result<bool, StoreError> {
    let case = case_by_id(tx, case_id)?.ok_or_else(|| StoreError::Corrupt("case vanished".into()))?;
    if case.state.is_settled() {
        return Ok(true);
    }
    let whole_refused = !case.case_problems.is_empty()
        || tx.query_row_cached(
            "SELECT COUNT(*) FROM refusals WHERE case_id = ?1 AND whole_case = 1",
            params![case_id.to_string()],
            |r| r.get::<_, i64>(0),
        )? > 0;
    let new_state = if case.result_chunks.is_some_and(|n| case.result_chunks_received >= n) {
        Some(CaseState::Answered)
    } else if whole_refused || (case.persons > 0 && case.refused_persons >= case.persons) {
        Some(CaseState::Refused)
    } else {
        None
    };
    if let Some(state) = new_state {
        tx.execute_cached(
            "UPDATE cases SET state = ?2, settled_at = ?3 WHERE id = ?1",
            params![case_id.to_string(), state.as_str(), to_millis(now)],
        )?;
    }
    Ok(new_state.is_some())
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A synthetic, valid NIR (a man born in March 1950 in Paris), order number from `n`.
    fn nir(n: u32) -> String {
        let body = format!("1500375{:03}{:03}", 1 + (n / 999) % 999, 1 + n % 999);
        let key = 97 - body.parse::<u64>().unwrap() % 97;
        format!("{body}{key:02}")
    }

    fn answers(n: u32) -> Vec<v1::BodyAnswer> {
        let status = if n % 2 == 0 { v1::PersonStatus::Found } else { v1::PersonStatus::NotFound };
        vec![v1::BodyAnswer { body: "cnam".into(), status: status as i32, values: None }]
    }

    /// A store with one submission and one case of `persons` persons (lines 1.., NIRs `nir(line)`
    /// in reverse order, so that lines and NIRs are not in the same order).
    fn store_with_case(dir: &Path, persons: u32) -> (Store, Uuid) {
        let store = Store::open(dir).unwrap();
        let now = SystemTime::now();
        let (submission, case) = (Uuid::now_v7(), Uuid::now_v7());
        store
            .write(|tx| {
                Store::insert_submission(
                    tx,
                    &SubmissionRecord {
                        id: submission,
                        submitted_at: now,
                        purge_after: now + Duration::from_secs(86_400),
                        respond_by: now,
                        service: "visite".into(),
                        wanted: vec![Category::LongTermCondition],
                        columns: vec!["nir".into(), "family_name".into()],
                        separator: b',',
                        encoding: "utf-8".into(),
                        out_path: None,
                        lines: persons.into(),
                        rejected: 0,
                        written_at: None,
                        purged_at: None,
                    },
                )?;
                Store::insert_case(tx, case, submission, "carsat-sud-est", now)?;
                for line in 1..=persons {
                    let p = NewPerson {
                        line: line.into(),
                        nir: nir(persons - line),
                        cells: vec![nir(persons - line), format!("Zorglub{line:04}")],
                        ..Default::default()
                    };
                    Store::insert_person(tx, case, &p)?;
                }
                Store::set_case_counts(tx, case, persons.into(), 1)
            })
            .unwrap();
        (store, case)
    }

    fn result(case: Uuid, index: u32, count: u32, nirs: impl IntoIterator<Item = u32>) -> v1::Result {
        v1::Result {
            case_id: case.to_string(),
            chunk_index: index,
            chunk_count: count,
            persons: nirs.into_iter().map(|n| v1::ResultPerson { nir: nir(n), answers: answers(n) }).collect(),
            ..Default::default()
        }
    }

    /// Each person's (line, NIR of its answers, its answers), in selection order.
    fn stored_answers(store: &Store, case: Uuid) -> Vec<(u64, Option<v1::ResultPerson>)> {
        let mut out = Vec::new();
        store
            .for_each_person(&[case], |p| {
                out.push((p.line, p.answers));
                Ok(())
            })
            .unwrap();
        out
    }

    #[test]
    fn result_chunks_are_matched_by_nir_counted_when_unknown_and_stored_once() {
        let dir = tempfile::tempdir().unwrap();
        let (store, case) = store_with_case(dir.path(), 6);
        let now = SystemTime::now();
        // Chunk 1 first, with a NIR that is not in the case (counted, not stored).
        let stored = store.store_result(&result(case, 1, 2, [3, 4, 5, 999]), now).unwrap();
        assert_eq!(stored, Stored::New { settled: false, unmatched: 1 });
        // A redelivery with other answers changes nothing.
        let mut again = result(case, 1, 2, [3, 4, 5]);
        again.persons[0].answers.clear();
        assert_eq!(store.store_result(&again, now).unwrap(), Stored::Duplicate);
        assert_eq!(
            store.store_result(&result(case, 0, 2, [0, 1, 2]), now).unwrap(),
            Stored::New { settled: true, unmatched: 0 }
        );
        assert_eq!(store.case(case).unwrap().unwrap().state, CaseState::Answered);
        // Line l holds nir(6 - l): every person got its own answers, with its NIR.
        for (line, answers) in stored_answers(&store, case) {
            let n = 6 - line as u32;
            let answers = answers.unwrap_or_else(|| panic!("line {line} has no answers"));
            assert_eq!(answers.nir, nir(n));
            assert_eq!(answers.answers, self::answers(n), "line {line}");
        }
        let one = store.person(1).unwrap();
        assert_eq!(one.answers.unwrap().answers, answers(5));
        assert_eq!(one.cells[1], "Zorglub0001");
    }

    #[test]
    fn a_person_without_answers_reads_as_none_and_the_purge_deletes_the_answers() {
        let dir = tempfile::tempdir().unwrap();
        let (store, case) = store_with_case(dir.path(), 3);
        let now = SystemTime::now();
        store.store_result(&result(case, 0, 1, [0, 1]), now).unwrap();
        let got: Vec<bool> = stored_answers(&store, case).iter().map(|(_, a)| a.is_some()).collect();
        // Line 1 is nir(2), which the result did not name.
        assert_eq!(got, vec![false, true, true]);
        assert_eq!(store.purge_due(now + Duration::from_secs(2 * 86_400)).unwrap().len(), 1);
        let conn = store.lock();
        let left: i64 = conn.query_row("SELECT COUNT(*) FROM person_answers", [], |r| r.get(0)).unwrap();
        assert_eq!(left, 0);
    }

    #[test]
    fn a_version_1_store_keeps_its_answers_after_the_upgrade() {
        let dir = tempfile::tempdir().unwrap();
        let (store, case) = store_with_case(dir.path(), 3);
        drop(store);
        // Back to version 1's shape: the answers in the persons' rows.
        {
            let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
            conn.execute_batch("DROP TABLE person_answers; ALTER TABLE persons ADD COLUMN answers BLOB;").unwrap();
            let old = v1::ResultPerson { nir: nir(2), answers: answers(2) };
            conn.execute("UPDATE persons SET answers = ?1 WHERE line = 1", params![old.encode_to_vec()]).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        {
            let conn = store.lock();
            let version: i32 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
            assert_eq!(version, SCHEMA_VERSION);
            let columns: i64 = conn
                .query_row("SELECT COUNT(*) FROM pragma_table_info('persons') WHERE name = 'answers'", [], |r| r.get(0))
                .unwrap();
            assert_eq!(columns, 0, "the old column is gone");
        }
        let stored = stored_answers(&store, case);
        assert_eq!(stored[0].1.as_ref().map(|a| a.answers.clone()), Some(answers(2)));
        assert!(stored[1].1.is_none());
        // And the upgraded store takes new results.
        store.store_result(&result(case, 0, 1, [0, 1]), SystemTime::now()).unwrap();
        assert!(stored_answers(&store, case).iter().all(|(_, a)| a.is_some()));
        // Opening it again migrates nothing twice.
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(stored_answers(&store, case).len(), 3);
    }

    /// A further case of the store's submission, its persons `nirs` on lines 1…
    fn add_case(store: &Store, nirs: &[String]) -> Uuid {
        let now = SystemTime::now();
        let case = Uuid::now_v7();
        let submission = store.submissions().unwrap()[0].id;
        store
            .write(|tx| {
                Store::insert_case(tx, case, submission, "cnav-idf", now)?;
                for (line, nir) in nirs.iter().enumerate() {
                    let person = NewPerson { line: line as u64 + 1, nir: nir.clone(), ..Default::default() };
                    Store::insert_person(tx, case, &person)?;
                }
                Store::set_case_counts(tx, case, nirs.len() as u64, nirs.len() as u32)
            })
            .unwrap();
        case
    }

    #[test]
    fn tables_are_kept_within_the_bound_without_evicting_a_case_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let (store, first) = store_with_case(dir.path(), 3);
        let second = add_case(&store, &[nir(500)]);
        let now = SystemTime::now();
        let mut index = PersonIndex::default();
        let conn = &mut *store.lock();
        let tx = conn.transaction().unwrap();
        let nirs = [nir(0), nir(7)];
        let (ids, unmatched) = index.ids(&tx, first, &first.to_string(), nirs.iter().map(String::as_str), now).unwrap();
        assert_eq!((ids[0].is_some(), ids[1], unmatched), (true, None, 1));
        let nirs = [nir(500)];
        let (ids, _) = index.ids(&tx, second, &second.to_string(), nirs.iter().map(String::as_str), now).unwrap();
        assert!(ids[0].is_some());
        assert_eq!(index.held(), vec![first, second]);
        index.forget(first);
        assert_eq!(index.held(), vec![second]);
        // Idle tables go when another case needs a table.
        let later = now + matching::IDLE;
        let nirs = [nir(1)];
        let (ids, _) = index.ids(&tx, first, &first.to_string(), nirs.iter().map(String::as_str), later).unwrap();
        assert!(ids[0].is_some());
        assert_eq!(index.held(), vec![first]);
    }

    #[test]
    fn nirs_that_do_not_pack_are_matched_in_the_index() {
        let dir = tempfile::tempdir().unwrap();
        let (store, case) = store_with_case(dir.path(), 3);
        // A second case whose stored NIRs include one that does not pack (a lowercase letter):
        // the whole case is matched person by person in the (case, NIR) index.
        let odd_case = add_case(&store, &[nir(40), "2a0000000000000".to_owned()]);
        let now = SystemTime::now();
        let mut index = PersonIndex::default();
        let conn = &mut *store.lock();
        let tx = conn.transaction().unwrap();
        let id_of = |case: Uuid, nir: &str| -> i64 {
            tx.query_row(
                "SELECT id FROM persons WHERE case_id = ?1 AND nir = ?2",
                params![case.to_string(), nir],
                |r| r.get(0),
            )
            .unwrap()
        };
        let nirs = [nir(40), "2a0000000000000".to_owned(), nir(41)];
        let (ids, unmatched) =
            index.ids(&tx, odd_case, &odd_case.to_string(), nirs.iter().map(String::as_str), now).unwrap();
        assert_eq!(ids, vec![Some(id_of(odd_case, &nirs[0])), Some(id_of(odd_case, &nirs[1])), None]);
        assert_eq!(unmatched, 1);
        assert!(index.held().is_empty(), "no table for a case with a NIR that does not pack");
        // A case held as a table still matches, in the index, a result NIR that does not pack.
        let nirs = [nir(1), "not a NIR".to_owned()];
        let (ids, unmatched) = index.ids(&tx, case, &case.to_string(), nirs.iter().map(String::as_str), now).unwrap();
        assert_eq!(ids, vec![Some(id_of(case, &nirs[0])), None]);
        assert_eq!(unmatched, 1);
        assert_eq!(index.held(), vec![case]);
    }

    #[test]
    fn refused_persons_are_matched_by_nir_counted_when_unknown_and_stored_once() {
        let dir = tempfile::tempdir().unwrap();
        let (store, case) = store_with_case(dir.path(), 3);
        let now = SystemTime::now();
        let problem = v1::Problem { field: "birth_year".into(), reason: "under 55".into() };
        let refusal = v1::Refusal {
            case_id: case.to_string(),
            request_chunk_index: 0,
            persons: [nir(2), nir(999)]
                .into_iter()
                .map(|nir| v1::RefusedPerson { nir, problems: vec![problem.clone()] })
                .collect(),
            ..Default::default()
        };
        assert_eq!(store.store_refusal(&refusal, now).unwrap(), Stored::New { settled: false, unmatched: 1 });
        assert_eq!(store.store_refusal(&refusal, now).unwrap(), Stored::Duplicate);
        assert_eq!(store.case(case).unwrap().unwrap().refused_persons, 1);
        let conn = store.lock();
        let refused: Vec<(String, String)> = conn
            .prepare("SELECT nir, refusal FROM persons WHERE case_id = ?1 AND refusal IS NOT NULL")
            .unwrap()
            .query_map([case.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].0, nir(2));
        assert!(refused[0].1.contains("under 55"), "{}", refused[0].1);
    }
}
