//! The SQLite base every Passerelle store is built on (rusqlite, SQLite bundled).
//!
//! A store declares its schema as an ordered list of [`Migration`]s and opens its file with
//! [`Database::open`]; everything else a store needs from SQLite is here, once:
//! - **pragmas** ([`open`]): `secure_delete=ON` (deleted content is overwritten with zeros),
//!   `auto_vacuum=INCREMENTAL` (freed pages can go back to the file system), WAL journaling with
//!   `synchronous=FULL` (a committed transaction survives `kill -9` and power loss), temporary
//!   data in memory (no temporary file ever holds a payload, not even `VACUUM`'s copy), foreign
//!   keys on, and a statement cache of [`STATEMENT_CACHE`] per connection;
//! - **migrations** ([`migrate`]): `PRAGMA user_version` counts the steps applied; the missing
//!   ones run on open, in one transaction; a file newer than the code is refused;
//! - **transactions** ([`Database::write`], [`Tx`]): one `IMMEDIATE` transaction per write, whose
//!   `execute`/`query_row` keep the parsed statement; the **group commit**
//!   ([`Database::write_grouped`]); the **redoable** write ([`Database::write_redoable`],
//!   `synchronous=NORMAL` for one transaction the daemon redoes itself);
//! - the **checkpoint thread** ([`checkpoint`]): no commit pays for a WAL checkpoint;
//! - the **rebuild** ([`Database::rebuild`]): `VACUUM` then a truncating WAL checkpoint, which is
//!   what makes a purge unreadable on disk ([`rebuild`] explains why `secure_delete` alone is not);
//! - **snapshots** ([`snapshot`]): a file written once without a journal, synced and renamed
//!   into place, then only read (the responder's extract index);
//! - **private files** ([`private`]): a store and its `-wal`/`-shm` are created 0600 (folders
//!   0700) whatever the umask, and a store group or others can access is refused on open;
//! - the **time codec** ([`time`]): milliseconds since the Unix epoch.
//!
//! Architecture invariant: no error of this crate carries a stored value (SQLite's messages name
//! tables and columns, never values), so they can be logged.
#![forbid(unsafe_code)]

pub mod checkpoint;
mod database;
pub mod migrate;
pub mod open;
pub mod private;
pub mod rebuild;
pub mod snapshot;
#[cfg(feature = "testing")]
pub mod testing;
pub mod time;
mod tx;

use std::path::PathBuf;

pub use database::{Database, Options};
pub use migrate::{Migration, Step};
pub use open::STATEMENT_CACHE;
pub use rebuild::Reclaimed;
pub use tx::Tx;

/// The SQLite binding the stores use, re-exported so that they all use this one.
pub use rusqlite;
pub use rusqlite::{params, OptionalExtension, Row};

/// Why a database operation failed. Messages never contain stored values.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("SQLite error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot access {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// The file was written by a newer program: this one does not know its schema.
    #[error(
        "{path} has schema version {found}, newer than this program's {known}: it was written by a newer \
         Passerelle; run that version, or restore a backup made by this one"
    )]
    NewerSchema { path: PathBuf, found: u32, known: u32 },
    /// A snapshot ([`snapshot`]) was written with another layout than this program reads.
    #[error(
        "{path} has layout version {found}, this program reads version {expected}: write it again with this program"
    )]
    OtherLayout { path: PathBuf, found: u32, expected: u32 },
    /// A migration step failed; the file is left as it was (the steps run in one transaction).
    #[error("cannot bring {path} to schema version {version} ({name}): {source}")]
    Migration { path: PathBuf, version: u32, name: &'static str, source: Box<Error> },
    /// Group or others may read or write the store: only the daemon's account may.
    #[error(
        "{path} has mode {mode:04o}: a store must be readable and writable by its owner only; run `chmod 600 {path}`"
    )]
    Exposed { path: PathBuf, mode: u32 },
    /// The file cannot be used as every store needs it (WAL journaling).
    #[error("{0}")]
    Unusable(String),
    /// The transaction a write was grouped into did not commit (the write is not stored).
    #[error("the grouped transaction did not commit: {0}")]
    GroupCommit(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A failure inside one of [`Database`]'s transactions: the base's own, or the caller's error
/// kept as it is. A store whose methods take closures returning the caller's `E` runs them as
/// `db.write(|tx| f(tx).map_err(Failure::Caller)).map_err(Failure::into_caller::<StoreError>)`,
/// so that the caller gets its own error back, and the base's through the store's error.
#[derive(Debug)]
pub enum Failure<E> {
    Base(Error),
    Caller(E),
}

impl<E> From<Error> for Failure<E> {
    fn from(e: Error) -> Self {
        Failure::Base(e)
    }
}

impl<E> Failure<E> {
    /// The caller's error, or the base's converted through the store's error `S`.
    pub fn into_caller<S>(self) -> E
    where
        S: From<Error>,
        E: From<S>,
    {
        match self {
            Failure::Caller(e) => e,
            Failure::Base(e) => E::from(S::from(e)),
        }
    }
}
