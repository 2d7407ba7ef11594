//! The requester's integration tests, as one test binary (one link instead of one per file):
//! its flow against test-double observatories, and the whole decree flow around it with real
//! observatories and responders.

#[path = "../support/mod.rs"]
mod support;

mod end_to_end;
mod flow;
mod offices;
