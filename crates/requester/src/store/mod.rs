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
//! Built on [`passerelle_sqlite`]: its pragmas (`secure_delete`, WAL, `synchronous = FULL`), its
//! numbered migrations ([`schema`]), its transactions whose statements are cached, its checkpoint
//! thread. Purge: the deleted rows are overwritten in place (`secure_delete`), then the file is
//! rebuilt and the WAL truncated ([`passerelle_sqlite::Database::rebuild`]), so no purged byte
//! survives in `requester.db`, `-wal` or `-shm`.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use passerelle_sqlite::{Database, Failure, Options, Tx};

mod answers;
mod cases;
mod matching;
mod outcomes;
mod persons;
mod purge;
pub use purge::PurgedSubmission;
mod records;
mod rights;
pub use rights::{Held, HeldPerson, RectifiedValue};
mod schema;
mod worklist;
pub use worklist::{RankedPerson, WorklistRow};
#[cfg(test)]
mod tests;

use matching::PersonIndex;
pub use outcomes::{ListedLine, Outcome, OutcomeRecord, OutcomeWrite, PersonIdentity};
pub use records::{CaseRecord, CaseState, NewPerson, PersonRow, ProblemRecord, Stored, SubmissionRecord};

/// The store's file name in `data_dir`.
pub const DB_FILE: &str = "requester.db";

/// How long a writer waits for another process's transaction (a `submit` and a `run` daemon
/// share the store) before giving up: far longer than any one chunk's transaction.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

impl From<passerelle_sqlite::Error> for StoreError {
    fn from(e: passerelle_sqlite::Error) -> Self {
        StoreError::Database(e)
    }
}

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Its message already holds its cause's (not a `source`: `{:#}` would say it twice).
    #[error("requester store: {0}")]
    Database(passerelle_sqlite::Error),
    #[error("requester store: corrupt row: {0}")]
    Corrupt(String),
    /// The access entry that must precede a change could not be written: the change is not
    /// made (no trace, no change).
    #[error(transparent)]
    AccessLog(#[from] passerelle_access_log::AccessLogError),
}

impl From<passerelle_sqlite::rusqlite::Error> for StoreError {
    fn from(e: passerelle_sqlite::rusqlite::Error) -> Self {
        StoreError::Database(e.into())
    }
}

/// The requester's SQLite store.
#[derive(Debug)]
pub struct Store {
    db: Database,
    /// NIR → person id of the cases being answered, so a result chunk is matched in memory
    /// (locked inside a write, after the database).
    persons: Mutex<PersonIndex>,
}

impl Store {
    /// Opens (creating if needed) `data_dir/requester.db`, brought to the latest schema.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        let options = Options { busy_timeout: BUSY_TIMEOUT, ..Options::named("requester store") };
        let db = Database::open_with(&data_dir.join(DB_FILE), schema::MIGRATIONS, options)?;
        Ok(Store { db, persons: Mutex::default() })
    }

    /// The database file (the `-wal` and `-shm` files sit beside it).
    pub fn path(&self) -> &Path {
        self.db.path()
    }

    /// Runs `f` in one write transaction (taken up front), committed (durably) when `f` succeeds.
    pub fn write<T, E: From<StoreError>>(&self, f: impl FnOnce(&Tx<'_>) -> Result<T, E>) -> Result<T, E> {
        self.db.write(|tx| f(tx).map_err(Failure::Caller)).map_err(Failure::into_caller::<StoreError>)
    }

    /// Runs `f` on a consistent snapshot of the store.
    fn read<T>(&self, f: impl FnOnce(&Tx<'_>) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.db.read(f)
    }
}
