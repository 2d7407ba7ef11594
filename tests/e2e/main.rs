//! The root package's parallel suite, as one test binary (one link instead of one per file):
//! the operator-facing commands run as real processes (`demo`, `ctl`, `synth`, `topology`,
//! `requester check` and the requester CLI, the deploy kit, `/metrics`, `bench`, settings
//! mistakes and the exit code of each failure), hostile input
//! files, poison messages and storage faults against whole deployments. Each module is one
//! concern; `support` holds what they share.
//!
//! The fault-injection target (`tests/faults`, killed processes and broker restarts) is a
//! binary of its own, run after this suite one test at a time; `tests/tidy.rs` checks the
//! source tree.
//!
//! One module alone: `cargo nextest run --test e2e -E 'test(/^poison::/)'`, or
//! `cargo test --test e2e poison::`.

#[path = "../support/mod.rs"]
mod support;

mod agents;
mod audit_read_only;
mod bench;
mod conformance;
mod conformance_requester;
mod console;
mod console_observatory;
mod contracts;
mod cpam_requester;
mod ctl;
mod demo;
mod deploy;
mod hooks;
mod hostile_files;
mod log_safety;
mod metrics;
mod poison;
mod purge_forensics;
mod python_partner;
mod requester_api;
mod requester_check;
mod requester_cli;
mod responder_api;
mod rights;
mod roles;
mod settings_errors;
mod social_daemon;
mod social_service;
mod social_service_archive_cli;
mod social_service_cli;
mod social_service_retention_cli;
mod social_service_transfers;
mod startup;
mod statistics_agent;
mod storage_faults;
mod store_modes;
mod submit_waits;
mod synth;
mod territory_lock;
mod tls;
mod topology;
mod trails;
mod transport_security;
