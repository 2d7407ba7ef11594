//! `passerelle synth`: a synthetic population for the demo, tests and benchmarks.

use crate::exit::{CliResult, Failure};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// How many persons.
    #[arg(long)]
    pub persons: u64,
}

pub fn run(_args: Args) -> CliResult {
    Err(Failure::Runtime(anyhow::anyhow!("not implemented yet")))
}
