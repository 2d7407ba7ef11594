//! Every daemon's local API: HTTP/JSON over a Unix socket (DESIGN §7.1).
//!
//! A person reads or writes personal data only through the daemon that owns it. The daemon
//! serves an axum [`Router`](axum::Router) on a Unix socket ([`ApiServer::start`]); the caller is
//! the account the socket's **peer credentials** name (uid → account name → [`Agent`] of the
//! registry, [`RegistryHandle`]), and nothing else: no header, environment variable or flag can
//! name another. A handler takes a [`Caller`] and asks it for the roles its call needs
//! ([`Caller::require`]); a refusal is a JSON 403 (`{"error": "…", "code": "not_permitted"}`)
//! and is given to the daemon's [`AccessRecorder`], as is every call of an account the registry
//! does not know (`"code": "not_an_agent"`).
//!
//! The CLI's side is [`Client`]: JSON calls, and files streamed both ways (a download is written
//! by the CLI process, as the calling agent, 0600, under `.partial` until whole).
//!
//! Routes every server has: `GET /v1/whoami` (the calling agent: id, name, roles, office; any
//! agent). The daemons add theirs (`crates/party`).
//!
//! **API boundary.** The daemons (`crates/party`) serve through this crate; the CLI calls
//! through [`Client`].
//!
//! **Architecture invariant:** the caller is the socket's peer credentials, mapped by the
//! registry; no request content can change who the caller is.
#![forbid(unsafe_code)]

mod access;
mod caller;
mod client;
mod error;
mod registry_handle;
mod server;
mod socket;

pub use access::{Access, AccessOutcome, AccessRecorder, KeptAccesses, LogRecorder};
pub use caller::{account_name, own_account, Caller, PeerCred, RELAYED_AGENT_HEADER};
pub use client::{Client, ClientError};
pub use error::{ApiError, ErrorBody};
pub use registry_handle::RegistryHandle;
pub use server::{file_response, ApiServer};
pub use socket::{bind, SocketError};

pub use passerelle_agents::{Agent, Decision, Role};
