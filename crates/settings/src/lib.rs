//! Settings and telemetry, once for every subcommand.
//!
//! Every role (observatory, responder, requester) defines its own typed settings struct with
//! serde; this crate loads it the same way for all: the TOML file, then `PASSERELLE_…`
//! environment variables (`__` separates levels: `PASSERELLE_BROKER__PREFIX=test` sets
//! `broker.prefix`), then whatever the command line overrides. Loading never connects to
//! anything, so a bad file fails fast with the offending key named.
#![forbid(unsafe_code)]

mod load;
mod telemetry;

pub use load::{load, load_from_str, ConfigError, ENV_PREFIX};
pub use telemetry::{init_telemetry, LogFormat};
