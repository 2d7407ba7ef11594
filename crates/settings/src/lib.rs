//! Settings and telemetry, once for every subcommand.
//!
//! Every role (observatory, responder, requester) defines its own typed settings struct with
//! serde; this crate loads it the same way for all: the TOML file, then `PASSERELLE_…`
//! environment variables (`__` separates levels: `PASSERELLE_BROKER__PREFIX=test` sets
//! `broker.prefix`), then whatever the command line overrides. Loading never connects to
//! anything, so a bad file fails fast. Every error names its source — the variable, or the
//! file's line and column — says the expected type in words, and offers the key a misspelt one
//! most likely meant.
#![forbid(unsafe_code)]

mod explain;
mod load;
mod sources;
mod telemetry;

pub use explain::did_you_mean;
pub use load::{load, load_from_str, load_sourced, load_sourced_from_str, ConfigError, Loaded, ENV_PREFIX};
pub use sources::{Origin, Sources};
pub use telemetry::{init_telemetry, use_colour, LogFormat};
