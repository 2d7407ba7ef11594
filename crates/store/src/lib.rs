//! The observatory's SQLite stores (rusqlite, SQLite bundled).
//!
//! Two database files, on purpose:
//! - the **case store** ([`CaseStore`], `observatory.db`): the durable per-case state machine
//!   ([`cases`]), the persons and answers of each case (the *payloads*, purged on the requester's
//!   receipt and at the 30-day cap, [`purge`]), the transactional outbox of messages to publish
//!   ([`outbox`]), the inbox of processed message ids ([`inbox`]) and the hash-chained audit
//!   trail ([`audit`]). Keeping them in one file lets a state change, the messages it causes, the
//!   processed message id and its audit entry commit in *one* transaction;
//! - the **statistics store** ([`statistics::StatisticsStore`], `statistics.db`): the separate
//!   logical store of art. 4–5, pseudonymised, with no identifying column.
//!
//! Every connection runs with `secure_delete=ON` (deleted content is overwritten with zeros),
//! `auto_vacuum=INCREMENTAL` (freed pages can go back to the file system), WAL journaling with
//! `synchronous=FULL` (a committed transaction survives `kill -9` and power loss; the one
//! exception, [`CaseStore::write_redoable`], is for what the daemon redoes itself) and temporary
//! data in memory (no temporary file ever holds a payload, not even `VACUUM`'s copy). A purge
//! ends with `VACUUM` and a truncating WAL checkpoint ([`purge`] explains why secure_delete alone
//! is not enough).
//!
//! Architecture invariant: no error of this crate carries personal data (the SQLite messages
//! name tables and columns, never values), so they can be logged.
#![forbid(unsafe_code)]

mod answers;
pub mod audit;
pub mod cases;
mod checkpoint;
mod db;
pub mod inbox;
pub mod outbox;
pub mod purge;
pub mod statistics;

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use audit::{Action, AuditEntry, AuditRecord, Verification};
pub use cases::{CaseRecord, CaseState, CaseStore, NewCase, StoredAnswer, StoredPerson, StoredSolicitation, Tx};
pub use outbox::{OutboxEntry, OutboxRow};
pub use purge::{PurgeCounts, Reclaimed};
pub use statistics::{
    ChunkStatistics, Pseudonymiser, StatisticsReport, StatisticsRow, StatisticsStore, StatisticsValue,
};

/// Why a store operation failed. Messages never contain personal data.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("SQLite error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot access {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// A write to the statistics store named an identifying field (art. 4): refused.
    #[error("`{0}` is identifying data (art. 2, 1° a, b or e) and may not enter the statistics store")]
    Identifying(String),
    /// A value that looks like personal data where only ids and counts may go (audit trail).
    #[error("refused to store personal data in {0}")]
    PersonalData(&'static str),
    /// The database holds something this code cannot read (a newer schema, a bad value).
    #[error("the database is not usable: {0}")]
    Corrupt(String),
    /// The transaction a write was grouped into did not commit (the write is not stored).
    #[error("the grouped transaction did not commit: {0}")]
    GroupCommit(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A time as stored: milliseconds since the Unix epoch.
pub(crate) fn to_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// The inverse of [`to_ms`].
pub(crate) fn from_ms(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)
}

/// The calendar year (UTC) of a time.
pub fn year_of(t: SystemTime) -> i32 {
    time::OffsetDateTime::from(t).year()
}

/// Whether a text contains a valid NIR (15 alphanumerics in a row that pass the key check).
pub(crate) fn contains_nir(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    chars.split(|c| !c.is_ascii_alphanumeric()).filter(|run| run.len() >= passerelle_protocol::nir::NIR_LEN).any(
        |run| {
            run.windows(passerelle_protocol::nir::NIR_LEN)
                .any(|w| passerelle_protocol::nir::Nir::parse(&w.iter().collect::<String>()).is_ok())
        },
    )
}
