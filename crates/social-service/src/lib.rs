//! The social service's daemon (CNIL norm 43, DESIGN §7.2): the health branch's social service
//! works through its requester office's ranked contact list, offers the service, and follows
//! the persons who accept in a **case file** of the norm's categories only
//! (`passerelle_social_file`, `proto/passerelle/v1/social_file.proto`).
//!
//! - [`settings`]: who it is (hosting body, office), its `data_dir`, the requester office it
//!   reads the worklist from, and its `[broker]` when it transfers files between bodies;
//! - [`store`]: `social-service.db` — files (the encoded `v1::SocialFile`, a keyed hash of the
//!   NIR), their history without values, actions, contacts, offers, rights records;
//! - [`requester_client`]: the worklist and the offer outcomes, at the requester, relaying the
//!   social worker's agent id — never copied here;
//! - [`service`]: [`SocialService`], every operation an access-log entry before its answer;
//! - [`api`]: the local API's routes and who may call them;
//! - [`printable`]: the printable page of a rights access;
//! - [`service::retention`]: the retention pass (18 months live, then the archive or erasure),
//!   run by the daemon's housekeeping; [`service::opposition`]: the refusal of the archive and
//!   the director's decision on an objection;
//! - [`service::transfers`]: a file's transfer to the insured's new body (norm 43, A.3) over
//!   the broker — sent frozen and minimised through the store's outbox, received and imported
//!   once the person's attachment is confirmed ([`membership`]), acknowledged by a receipt,
//!   rectifications and an upheld objection sent on;
//! - [`metrics`]: files open and closed, files flagged by the retention pass, transfers;
//! - [`steering`]: `steering.db`, the steering statistics' counts, anonymised beforehand (norm
//!   43, B): the closed months counted from the store, the offer outcomes as recorded.
//!
//! **Architecture invariant:** a person who declines (or does not reply) never enters this
//! store: the requester answers with the person for `accepted` only, and only then is a file
//! written. **Architecture invariant:** the history names the field, the agent and the time,
//! never a value.
#![forbid(unsafe_code)]

pub mod api;
pub mod membership;
pub mod metrics;
pub mod printable;
pub mod requester_client;
pub mod service;
pub mod settings;
pub mod steering;
pub mod store;

pub use service::housekeeping::Housekeeping;
pub use service::retention::RetentionReport;
pub use service::{SocialService, SocialServiceError};

/// The daemon's name in its access log's machine entries (`daemon:social-service`).
pub const DAEMON: &str = "social-service";
pub use settings::{RequesterLink, SocialServiceSettings};
