//! `passerelle console open`: a one-time URL that opens a web console session (DESIGN §7.4) for
//! the agent whose OS account runs the command — the daemon knows it by its socket's peer
//! credentials, as every call of its local API; no password exists anywhere.
//!
//! The URL alone goes to stdout (so `xdg-open "$(passerelle console open …)"` works); what it is
//! and how long it lasts goes to stderr.

use anyhow::anyhow;
use passerelle_console::{OpenedTicket, OPEN_ROUTE};
use passerelle_local_api::ClientError;

use super::access_log::DaemonApi;
use super::api;
use crate::exit::{CliResult, Failure, Outcome};

/// What `console --help` adds.
pub const HELP: &str = "\
A daemon serves its console when its settings set `[api] console_addr` (a loopback address, e.g.
\"127.0.0.1:8443\"; behind the organisation's TLS reverse proxy, also `[api] console_url`, the
address the browsers reach). Pages show only what your roles open, and every page that shows a
person is written to the daemon's access log under your agent id, as the CLI's calls are.

Example, a prevention agent of a requester office:
  passerelle console open --config /etc/passerelle/requester.toml --daemon requester
  → http://127.0.0.1:8443/session/3f9c…   (open it within 2 minutes; it works once)";

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print a one-time URL opening a console session for you (valid 2 minutes, once).
    Open(OpenArgs),
}

#[derive(Debug, clap::Args)]
pub struct OpenArgs {
    #[command(flatten)]
    pub api: DaemonApi,
}

pub fn run(args: Args) -> CliResult {
    match args.command {
        Command::Open(a) => open(a),
    }
}

fn open(args: OpenArgs) -> CliResult {
    let client = args.api.client()?;
    let ticket: OpenedTicket = api::call(async { client.post_json(OPEN_ROUTE, &serde_json::json!({})).await })
        .map_err(|e| match e {
            Failure::Usage(e) if is_not_found(&e) => Failure::Usage(anyhow!(
                "this daemon serves no console: set `[api] console_addr` in its settings (e.g. \"127.0.0.1:8443\") \
                 and restart it"
            )),
            other => other,
        })?;
    println!("{}", ticket.url);
    eprintln!(
        "A console session for agent {}: open this link in your browser within {} seconds; it works once. \
         The session ends when you log out, after a pause without activity, or at the end of the day.",
        ticket.agent, ticket.expires_in_seconds
    );
    Ok(Outcome::Success)
}

fn is_not_found(e: &anyhow::Error) -> bool {
    matches!(e.downcast_ref::<ClientError>(), Some(ClientError::Refused { status: 404, .. }))
}
