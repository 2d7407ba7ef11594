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

use rusqlite::{Connection, Transaction, TransactionBehavior};

mod answers;
mod cases;
mod matching;
mod persons;
mod purge;
mod records;
mod schema;
#[cfg(test)]
mod tests;

use matching::PersonIndex;
pub use records::{CaseRecord, CaseState, NewPerson, PersonRow, ProblemRecord, Stored, SubmissionRecord};
use schema::{migrate, SCHEMA_VERSION};

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
}
