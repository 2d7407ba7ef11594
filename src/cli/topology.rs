//! `passerelle topology export --config FILE`: the broker topology of a deployment as a
//! RabbitMQ definitions document (JSON on stdout, or `--out FILE`), to import with
//! `rabbitmqctl import_definitions FILE` or the management API.
//!
//! The settings file is any Passerelle TOML with a `[broker]` table (the same table every
//! service reads; other tables are ignored, so a service's own file will do):
//!
//! ```toml
//! [broker]
//! urls = ["amqps://rabbit.example:5671/passerelle"]   # the vhost of the first URL is exported
//! prefix = "passerelle"
//! observatories = ["carsat-sud-est"]
//! bodies = ["cnam", "cnav", "cnaf", "msa"]
//!
//! [broker.identity]
//! insecure_any_user = false
//! [broker.identity.users]            # one broker user per party: exported with its permissions
//! "observatory-sud-est" = ["carsat-sud-est"]
//! "body-cnam" = ["cnam"]
//! "body-cnaf" = ["cnaf"]
//! ```
//!
//! `PASSERELLE_BROKER__…` environment variables override the file. The document holds the
//! vhost, the durable exchanges, the quorum queues with their arguments (delivery limit, TTLs,
//! dead-letter exchange), the bindings, and one user per `[broker.identity.users]` entry with
//! least-privilege permissions (see `passerelle_bus::definitions`). Users are exported
//! **without a password** (empty `password_hash`: no password logs in); give each one with
//! `rabbitmqctl change_password USER` after importing, or authenticate by client certificate.

use std::path::PathBuf;

use anyhow::Context;
use passerelle_bus::BusSettings;

use crate::exit::{CliResult, Failure, Outcome};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Write the topology, users and permissions as a RabbitMQ definitions JSON.
    Export(ExportArgs),
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// A TOML settings file with a `[broker]` table.
    #[arg(long)]
    pub config: PathBuf,
    /// Where to write the JSON (default: standard output).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// The part of a settings file this command reads. The `[broker]` table is required: the
/// development defaults are never exported as a deployment's definitions.
#[derive(Debug, serde::Deserialize)]
struct TopologyFile {
    broker: BusSettings,
}

pub fn run(args: Args) -> CliResult {
    match args.command {
        Command::Export(a) => export(a),
    }
}

fn export(args: ExportArgs) -> CliResult {
    let file: TopologyFile = passerelle_settings::load(&args.config).map_err(|e| Failure::Settings(e.into()))?;
    let definitions = passerelle_bus::definitions::definitions(&file.broker)
        .map_err(|e| Failure::Settings(anyhow::Error::new(e).context("the [broker] table cannot be exported")))?;
    let mut text = serde_json::to_string_pretty(&definitions).context("cannot serialise the definitions")?;
    text.push('\n');
    match &args.out {
        Some(path) => std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{text}"),
    }
    Ok(Outcome::Success)
}
