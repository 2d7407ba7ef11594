//! The responder's integration tests, as one test binary (one link instead of one per file):
//! the scenarios on the in-process bus and on RabbitMQ, the PostgreSQL source, `responder load`, and the local API's routes. `tests/logs.rs` stays a binary of its own: it installs a capturing
//! subscriber, and `tracing` caches each callsite's interest process-wide.

#[path = "../common/mod.rs"]
mod common;

mod api;
mod in_process;
mod load;
mod matching;
mod postgres;
mod rabbitmq;
