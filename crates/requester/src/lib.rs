//! The requester adapter (decree art. 3, first and last steps): a requesting body's prevention
//! team submits a selection of persons aged 55 and over, the adapter sends one case per
//! competent observatory carrying only what the exchange needs, receives the consolidated
//! result (or the refusal, with reasons), joins names and contact details back locally, ranks
//! the persons most at risk, writes the contact list — and forgets everything 24 months after
//! submission at the latest (art. 5).
//!
//! - [`Requester`] ([`service`]): `build`, `submit` (= `prepare` + `send`), `listen`,
//!   `wait_for_results`, `write_result`, `write_case`, `status`, `purge`, `answer_rights`,
//!   `run_until_stopped`.
//! - [`RequesterSettings`] ([`settings`]): branch, office, folders, broker, retention, ranking.
//! - [`store`]: the SQLite store with its scrubbing purge.
//! - The daemon's access log ([`Requester::accesses`], `data_dir/access.db`): every agent call
//!   of [`api`] that touches personal data, and the machine actions (a result chunk or a
//!   refusal stored, a case purged, by `daemon:requester`), recorded before they take effect.
//! - The decree's last step for the social service ([`api::worklist`], [`api::outcome`]): the
//!   office's contact lists read in rank order by its `social-service` account for a social
//!   worker, and each offer's outcome recorded here, purged with the case.
//! - The persons' rights (decree art. 6; [`Requester::answer_rights`]): the daemon reads its
//!   party's rights queue and answers an observatory's rights request with what it holds about
//!   the person (selection row, values received, offer outcome, each with its dates), or applies
//!   a rectification where the values are held, marks it and ranks the case again.
//! - [`consolidate`]: the merge rule when bodies disagree; [`ranking`]: score and rank;
//!   [`export`]: the CSV / JSON Lines / summary files and their column scheme.
//!
//! **Architecture invariant:** names, postal addresses, e-mails and phone numbers never enter a
//! message; they live in the requester's store and result files only, and both are purged.
#![forbid(unsafe_code)]

pub mod api;
pub mod consolidate;
pub mod export;
pub mod metrics;
pub mod ranking;
pub mod service;
pub mod settings;
pub mod store;

pub use export::{OutputPaths, Summary, Written};
pub use service::{Purge, Requester, RequesterError, SubmitRequest, Submitted};
pub use settings::{parse_duration, RequesterSettings, SettingsError};
pub use store::{CaseRecord, CaseState, PurgedSubmission, SubmissionRecord};
/// Case and submission ids.
pub use uuid::Uuid;
