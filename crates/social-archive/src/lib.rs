//! The social service's archive (CNIL norm 43, "DUREE DE CONSERVATION"; DESIGN §7.2): after
//! the 18 months a file is kept in the live store, and unless the person refused it, the file
//! may be kept **at most 3 years in a separate logical environment**, for evaluating the
//! service's schemes, readable only by agents habilitated **jointly** by the director and the
//! médecin-conseil, for a closed list of purposes.
//!
//! - a separate store, `archive.db`, in a folder of its own (`archive_dir`), opened by this
//!   crate only: the live store's code (`passerelle-social-service`'s `store`) has no path that
//!   reads it — the daemon gives files in ([`Archive::admit`]) and erases them by id
//!   ([`Archive::erase`]), and only [`Archive::read`] gives content out, under a grant;
//! - [`grant`]: an `archive-reader`'s grant, valid once a director's delegate and a médecin-conseil
//!   (two distinct agents) have each signed it;
//! - every read names its [`Purpose`] from the norm's list and is recorded here, in the same
//!   transaction as the grant's check (the daemon writes its access-log entry);
//! - a file leaves the archive at its `delete_at` ([`Archive::erase_due`]) or at once on a
//!   refusal of the archive or an upheld objection ([`Archive::erase`]); erased means
//!   unreadable on disk (secure delete, then the base's rebuild: [`passerelle_sqlite`]).
//!
//! **Architecture invariant:** no archived content leaves this crate except through
//! [`Archive::read`], which checks the reader's grant and records the read with its purpose in
//! one transaction.
#![forbid(unsafe_code)]

pub mod grant;
mod purpose;
mod reading;
mod records;
mod schema;
mod store;
#[cfg(test)]
mod tests;

pub use grant::{Grant, GrantState, Signer, SignerRole};
pub use purpose::Purpose;
pub use reading::ArchiveRead;
pub use records::{ArchivedFile, ArchivedRecord, ArchivedSummary};
pub use store::Archive;

/// The archive's database file in `archive_dir`.
pub const DB_FILE: &str = "archive.db";

/// Why an archive operation failed. No message carries a stored value.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error(transparent)]
    Db(#[from] passerelle_sqlite::Error),
    #[error("the archived file {0} cannot be decoded: the archive is damaged")]
    Corrupt(String),
    /// The reader holds no grant signed by both a director's delegate and a médecin-conseil
    /// (or it expired, or was revoked).
    #[error("{0}")]
    NoGrant(String),
    /// A signature that breaks the co-signature rule (same agent twice, same role twice, a
    /// grant already complete), said in words.
    #[error("{0}")]
    Signature(String),
    #[error("no grant {0}: `social-service archive grants` lists them")]
    NoSuchGrant(String),
    #[error("no archived file {0}")]
    NoFile(String),
}

pub type Result<T> = std::result::Result<T, ArchiveError>;
