//! `passerelle stats …` (not built yet).

use crate::exit::{CliResult, Failure};

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> CliResult {
    Err(Failure::Runtime(anyhow::anyhow!("`passerelle stats` is not built yet")))
}
