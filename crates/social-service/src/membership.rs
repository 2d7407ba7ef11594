//! Whether a person is attached to this office, for a received transfer (norm 43, A.3: the
//! receiving office confirms the person is attached to it before its agents see the file):
//! `[transfers.membership]`, an extract or a PostgreSQL query ([`MembershipSource`]). Without
//! one, a social worker of the office confirms each transfer.
//!
//! STUB: the interface the transfer code calls; the sources land with the transfer issue.

use crate::settings::MembershipSource;

/// Why the source could not answer (unreadable extract, database down): the transfer waits and
/// the check is retried; never "not attached".
#[derive(Debug, thiserror::Error)]
#[error("membership source: {0}")]
pub struct MembershipError(pub String);

/// A membership source, opened from the settings.
#[async_trait::async_trait]
pub trait Membership: Send + Sync + std::fmt::Debug {
    /// Whether the person whose current NIR is `nir` is attached to this office (called from the
    /// transfers' consumer, an async task: a file is read on a blocking thread).
    async fn is_attached(&self, nir: &str) -> Result<bool, MembershipError>;
}

/// The source the settings name (checked: a missing extract is an error at start).
pub fn open(source: &MembershipSource) -> Result<Box<dyn Membership>, MembershipError> {
    Err(MembershipError(format!("not built yet: {}", kind(source))))
}

fn kind(source: &MembershipSource) -> &'static str {
    match source {
        MembershipSource::Extract { .. } => "extract",
        MembershipSource::Postgres { .. } => "postgres",
    }
}
