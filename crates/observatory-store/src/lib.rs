//! The observatory's SQLite stores, built on [`passerelle_sqlite`].
//!
//! Two database files, on purpose:
//! - the **case store** ([`CaseStore`], `observatory.db`): the durable per-case state machine
//!   ([`state`], [`cases`]), the persons and answers of each case (the *payloads*, [`persons`],
//!   [`answers`]; purged on the requester's receipt and at the 30-day cap, [`purge`]), the
//!   solicitations ([`solicitations`]), the transactional outbox of messages to publish
//!   ([`outbox`]), the inbox of processed message ids ([`inbox`]) and the hash-chained audit
//!   trail ([`audit`]). Keeping them in one file lets a state change, the messages it causes, the
//!   processed message id and its audit entry commit in *one* transaction;
//! - the **statistics store** ([`statistics::StatisticsStore`], `statistics/statistics.db`): the
//!   separate logical store of art. 4–5, pseudonymised, with no identifying column, alone in its
//!   folder; its pseudonym key stays beside the case store ([`statistics::placement`]).
//!
//! Pragmas, durability, migrations, group commit, redoable writes, the checkpoint thread and the
//! rebuild after a purge are [`passerelle_sqlite`]'s; each file's schema is its list of numbered
//! migrations ([`store`] for the case store, [`statistics`] for the other).
//!
//! Architecture invariant: no error of this crate carries personal data (the SQLite messages
//! name tables and columns, never values), so they can be logged.
#![forbid(unsafe_code)]

mod answers;
pub mod audit;
pub mod cases;
pub mod inbox;
pub mod keys;
pub mod outbox;
pub mod persons;
pub mod purge;
mod sealed;
pub mod solicitations;
pub mod state;
pub mod statistics;
pub mod store;

use std::path::PathBuf;

pub use passerelle_sqlite::time::year_of;
pub(crate) use passerelle_sqlite::time::{from_ms, to_ms};
pub use passerelle_sqlite::Reclaimed;

pub use answers::StoredAnswer;
pub use audit::{Action, AuditEntry, AuditRecord, Verification};
pub use cases::{CaseRecord, NewCase};
pub use outbox::{OutboxEntry, OutboxRow};
pub use persons::StoredPerson;
pub use purge::PurgeCounts;
pub use solicitations::{ChunkStatus, StoredSolicitation};
pub use state::{next, CaseEvent, CaseState};
pub use statistics::{
    is_service_code, month_of, parse_pseudonym, service_code, ChunkStatistics, NotAPseudonym, Pseudonymiser,
    StatisticsPlacement, StatisticsReport, StatisticsRow, StatisticsStore, StatisticsValue,
};
pub use store::{CaseStore, Tx};

/// Why a store operation failed. Messages never contain personal data.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database underneath (SQLite, the file, its schema version, a group commit).
    #[error(transparent)]
    Database(#[from] passerelle_sqlite::Error),
    #[error("cannot access {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// A write to the statistics store named an identifying field (art. 4): refused.
    #[error("`{0}` is identifying data (art. 2, 1° a, b or e) and may not enter the statistics store")]
    Identifying(String),
    /// A value that looks like personal data where only ids and counts may go (audit trail).
    #[error("refused to store personal data in {0}")]
    PersonalData(&'static str),
    /// A statistics file is in two places that differ ([`statistics::settle`]): the operator
    /// chooses which one stays.
    #[error("{what} is in two places that differ, {stray} and {kept}: {why}")]
    Misplaced { what: &'static str, kept: PathBuf, stray: PathBuf, why: &'static str },
    /// The pseudonym key's place is inside the statistics folder, which a statistics agent reads.
    #[error("the pseudonym key {key} is inside the statistics folder {folder}: a statistics agent reads that folder, and the key must stay where the observatory daemon alone reads it")]
    KeyInStatisticsFolder { key: PathBuf, folder: PathBuf },
    /// The database holds something this code cannot read (a bad value).
    #[error("the database is not usable: {0}")]
    Corrupt(String),
    /// The case state machine does not allow this move (a bug in the caller).
    #[error(transparent)]
    Transition(#[from] state::Refused),
    /// The case is no longer in the state the caller read (another transaction moved it, or the
    /// caller's copy was stale): nothing was changed.
    #[error("case {case_id} is no longer {expected} (it is {}): its state was not changed", found.as_deref().unwrap_or("gone"))]
    StateMoved { case_id: String, expected: CaseState, found: Option<String> },
    /// The daemon's access log, written with the transaction it describes, refused or failed
    /// (its message, which holds no stored value): the transaction is rolled back.
    #[error("access log: {0}")]
    AccessLog(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.into())
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

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
