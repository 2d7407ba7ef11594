//! Agents and roles (DESIGN §7.1): who may do what through a daemon's local API.
//!
//! A daemon identifies its caller by the Unix socket's peer credentials (uid → OS account
//! name); the **agent registry** maps that account to an [`Agent`] — its agent id (what the
//! audit trail and the access log name), a display name, its [`Role`]s and, for the roles
//! scoped to an office, its office. The registry is a TOML file the body's director controls
//! ([`Registry::load`]); a daemon reloads it on SIGHUP and records [`Registry::changes`]
//! (before/after, per agent) in its audit trail.
//!
//! Each call a daemon serves asks [`Agent::allows`] (or [`Agent::allows_any`],
//! [`Agent::allows_in_office`]) and refuses on a [`Decision::Refused`], whose reason is said to
//! the agent. Roles are checked in the daemon, never only in the CLI.
//!
//! **API boundary.** The daemons' local API (`crates/local-api`) and every daemon that checks a
//! role use this crate; it does no IO but reading the registry file.
#![forbid(unsafe_code)]

mod agent;
mod changes;
mod parse;
mod registry;
mod role;
pub mod settings;

pub use agent::{Agent, Decision};
pub use changes::{AgentChange, ChangeKind};
pub use registry::{Problem, Registry, RegistryError};
pub use role::{Role, UnknownRole};
pub use settings::{AgentsSettings, ApiSettings};
