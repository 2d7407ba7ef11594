//! `passerelle requester …`: the requesting body's side of the exchange.

use crate::exit::{CliResult, Failure};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Check a selection file: report every rejected record with its line number and reason.
    Check(CheckArgs),
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The selection file (CSV with a header row).
    pub file: std::path::PathBuf,
}

pub fn run(command: Command) -> CliResult {
    match command {
        Command::Check(_) => Err(Failure::Runtime(anyhow::anyhow!("not implemented yet"))),
    }
}
