//! The observatory's integration tests, as one test binary (one link instead of one per file):
//! the scenarios of `common::scenarios` on the in-process bus and on RabbitMQ.

#[path = "../common/mod.rs"]
mod common;

mod access_log;
mod in_process;
mod offices;
mod rabbitmq;
mod requester_rules;
mod rights;
