//! The responder adapter: a solicited body (CNAM, CNAV, CNAF, MSA) answers the observatory's
//! solicitations from its own data — only what it was asked, nothing more (Décret n° 2017-334,
//! art. 3, need-to-know).
//!
//! A body deploys one responder next to its data. It consumes its solicitation queue, looks each
//! chunk up in its [data source](source) — an [extract](source::extract) indexed locally by
//! `passerelle responder load`, or its [PostgreSQL](source::postgres) database — and publishes
//! one response per chunk to the observatory that asked.
//!
//! - **Matching** by NIR or former NIR; a sex or birth year the body knows that disagrees with
//!   the solicitation makes the person *not found* (policy in [`source`]). *Not found* is an
//!   answer like any other.
//! - **Minimisation, enforced** ([`answer`]): only asked ∩ held categories are answered; the
//!   rest is declined with a reason (`NOT_IN_DECREE`, `NOT_HELD`, `SOURCE_UNAVAILABLE`).
//! - **Batching**: one read transaction (or one query per category) per chunk, never one per
//!   person.
//! - **Duplicates and reminders**: a chunk seen before is answered again, in full, from the data
//!   as it is then — the reminder exists for a response that was lost.
//! - **Access log** (DESIGN §7.1): each chunk answered is an `export` by `daemon:responder`
//!   (per chunk, never per person; [`service`]), each extract loaded a `create` by whoever
//!   loaded it ([`load`]), in the daemon's `data_dir/access.db`; identifiers only.
//! - **Logs never contain NIRs**: events carry case ids, chunk indexes, counts and body codes.
#![forbid(unsafe_code)]

pub mod answer;
pub mod api;
pub mod index;
pub mod load;
pub mod metrics;
pub mod service;
pub mod settings;
pub mod source;

pub use index::{IndexStats, INDEX_FILE};
pub use load::{
    check_extract_source, load_extract, load_extract_from, load_extract_recorded, load_extract_with, LoadError,
    LoadOptions, LoadRecord, LoadSummary, DEFAULT_MAX_LOSS_PERCENT,
};
pub use service::{Responder, ResponderError, ResponderStats, StatsSnapshot, DAEMON};
pub use settings::{ExtractSettings, PostgresSettings, ResponderSettings, SettingsError, SourceSettings};
pub use source::extract::ExtractSource;
pub use source::postgres::PostgresSource;
pub use source::{DataSource, SourceAnswer, SourceError, Subject};
