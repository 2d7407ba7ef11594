//! The regional observatory of fragility situations: the router daemon of Décret n° 2017-334.
//!
//! It receives the requester's selection (request chunks), asks each *other* body for the
//! requested categories with the match keys only (solicitations), gathers their answers
//! (responses), returns the consolidated result per person to the requester, and forgets: the
//! payloads are purged on the requester's receipt and in any case 30 days after arrival.
//!
//! ```text
//! request chunks ─▶ receiving ─▶ soliciting ─▶ collecting ─▶ returning ─▶ returned ─▶ purged
//!                      │  (outbox confirmed)     │ deadline: partial    (receipt or 30-day cap)
//!                      └─▶ refused               └─ halfway: reminder
//! ```
//!
//! Entry points: [`Observatory::build`] and [`Observatory::run_until_stopped`]; read access
//! through [`StatusReader`]; the persons' rights (decree art. 6) in `rights` and through
//! [`Observatory::rights_desk`]. Code map: [`settings`] (the TOML), [`validate`] (what is accepted),
//! [`solicit`] (routing table, solicitation messages), [`aggregate`] (minimisation on receipt,
//! the result, the statistics rows); the engine's handlers (requests, responses, deadlines,
//! publisher) share one SQLite case store ([`passerelle_observatory_store`]).
//!
//! Architecture invariants:
//! - a state change and the messages it causes commit in one transaction (the outbox); a
//!   delivery is acknowledged only after its transaction committed;
//! - solicitations never carry risk factors, the service text, the commune or names, and the
//!   requester's own branch is never solicited;
//! - nothing identifying enters the statistics store; no NIR enters the audit trail or a log.
#![forbid(unsafe_code)]

mod accesses;
pub mod aggregate;
mod deadlines;
mod engine;
pub mod metrics;
mod notices;
pub mod operator_status;
mod publisher;
mod purge;
mod receipt;
mod requests;
mod responses;
mod rights;
mod service;
pub mod settings;
pub mod solicit;
mod status;
pub mod validate;

pub use service::Observatory;
pub use settings::{Config, ObservatorySettings, SettingsError};
pub use status::{AuditTrail, ObservatoryStatus, StatusReader};

impl From<passerelle_observatory_store::StoreError> for ObservatoryError {
    fn from(e: passerelle_observatory_store::StoreError) -> Self {
        ObservatoryError::Store(e)
    }
}

/// Why the observatory could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum ObservatoryError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// Its message already holds its cause's (not a `source`: `{:#}` would say it twice).
    #[error("storage: {0}")]
    Store(passerelle_observatory_store::StoreError),
    #[error("broker: {0}")]
    Bus(#[from] passerelle_bus::BusError),
    #[error("the consumer of observatory {0} stopped on its own (fatal broker error)")]
    ConsumerEnded(String),
    #[error("an internal task failed: {0}")]
    Task(String),
    /// The access log (`data_dir/access.db`) or its person key could not be opened.
    #[error("access log: {0}")]
    AccessLog(#[from] passerelle_access_log::AccessLogError),
    /// The rights desk (`data_dir/rights.db`) could not be opened.
    #[error("rights desk: {0}")]
    Rights(passerelle_rights::RightsError),
}
