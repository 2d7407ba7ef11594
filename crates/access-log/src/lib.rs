//! The access log of a daemon that holds personal data (DESIGN §7.1, norm 43, decree art. 2 8°):
//! who ([`AccessEntry::agent`]: an agent, or `daemon:<name>` for a machine action), when, what
//! kind of access ([`AccessKind`]) and which object (a case, submission or file id), and, when
//! the access concerns one person, that person as a **keyed hash** only ([`PersonRef`], made by
//! [`PersonKey`] from a key file the daemon alone reads), so that a rights request can find the
//! person's entries ([`AccessLog::find_person`]) and nobody can list who is in the log.
//!
//! - **One hash chain per calendar year** of the body's legal time zone ([`LegalCalendar`],
//!   `Europe/Paris` by default): each entry holds `year, seq, prev_hash, hash` ([`chain`]).
//! - The chain covers a **salted commitment** to the person's hash (SHA-256 of a random
//!   per-entry salt and the hash), never the hash itself: when the holder's own cap for the
//!   person's data passes, [`AccessLog::drop_person_hashes_before`] deletes the hash and its
//!   salt, and the chain still verifies.
//! - **Retention** is the calendar year and the [`RETAINED_YEARS_AFTER`] following ones, fixed by
//!   the norm: [`AccessLog::drop_year`] drops a whole year once that has run (never before,
//!   whatever the caller says), then rebuilds the file; the daemon asks its witness first.
//! - [`AccessLog::verify`] is read-only ([`verify`]) and names the first entry of each year
//!   that was edited, deleted, moved or cut off; [`AccessLog::head`] gives the `(count, hash)`
//!   a signed checkpoint records.
//!
//! What a chain in the writer's own file cannot detect (see [`verify`]): a tail truncated
//! together with the head row, or a year rewritten and re-chained from its first entry. Those
//! are what checkpoints signed and kept by a witness outside the writer are for.
#![forbid(unsafe_code)]

mod accesses;
pub mod chain;
mod entry;
mod person;
mod store;
pub mod verify;

#[cfg(test)]
mod fixture;

pub use accesses::{agent_actor, daemon_actor, os_actor, relayed_actor, Accesses, ACCESS_LOG_FILE, PERSON_KEY_FILE};
pub use entry::{AccessEntry, AccessKind, NotAnIdentifier};
pub use passerelle_protocol::calendar::{LegalCalendar, UnknownTimeZone, DEFAULT_TIME_ZONE, RETAINED_YEARS_AFTER};
pub use person::{PersonKey, PersonRef};
pub use store::{AccessLog, ChainHead, Position, StoredEntry};
pub use verify::{ChainReport, Tampering, Verification};

use std::path::PathBuf;

/// Why an access log operation failed. No message carries a stored value, a person's hash or
/// the text of a refused field (it may be a NIR).
#[derive(Debug, thiserror::Error)]
pub enum AccessLogError {
    #[error("access log store: {0}")]
    Store(#[from] passerelle_sqlite::Error),
    #[error("cannot access {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// The person key file is unusable.
    #[error("the access log's person key {path}: {problem}")]
    Key { path: PathBuf, problem: String },
    /// A field of an entry was refused; see [`NotAnIdentifier`].
    #[error(transparent)]
    NotAnIdentifier(#[from] NotAnIdentifier),
    /// The store holds something this program did not write (an unknown kind, a hash of the
    /// wrong length): it was edited behind the daemon's back.
    /// A year whose retention has not run was asked to be dropped.
    #[error("the access log's year {year} is kept through {until} (norm 43: the calendar year and the 4 following); it cannot be dropped before")]
    Retained { year: i32, until: i32 },
    #[error("the access log holds {0}, which this program never writes: the file was edited; run `verify`")]
    Corrupt(String),
}

pub type Result<T, E = AccessLogError> = std::result::Result<T, E>;
