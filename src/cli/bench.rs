//! `passerelle bench …` (not built yet).

use crate::exit::{CliResult, Failure};

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> CliResult {
    Err(Failure::Runtime(anyhow::anyhow!("`passerelle bench` is not built yet")))
}
