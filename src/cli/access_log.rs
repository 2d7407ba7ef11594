//! `passerelle access-log show|verify`: a daemon's access log (who read, created, changed,
//! deleted, exported, transferred or was refused what; norm 43, decree art. 2 8°), for its
//! `auditor`s.
//!
//! - `show` prints one year's entries (the newest year by default), a person only as "held" or
//!   "dropped" (the keyed hash is never shown).
//! - `verify` has the daemon check the chain read-only, then against **every** checkpoint its
//!   witness holds, fetched over the broker: which entries a witnessed checkpoint covers, which
//!   are not covered yet, and the first entry rewritten, deleted or cut off (exit 1).
//!
//! Both are calls of the daemon's local API: `--socket`, or the `[api] socket` of `--config`
//! (the settings of the daemon named by `--daemon`).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{anyhow, Context};
use passerelle_local_api::Client;
use passerelle_party::api::trails::AccessLogPage;
use passerelle_party::{PartyKind, PartySettings};
use passerelle_trails::TrailReport;

use super::api;
use crate::exit::{CliResult, Failure, Outcome};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Check the chain (read-only), then against every checkpoint the witness holds.
    Verify(VerifyArgs),
    /// Print one year's entries.
    Show(ShowArgs),
}

/// Which daemon: `--socket`, or `--config` and `--daemon`.
#[derive(Debug, clap::Args)]
pub struct DaemonApi {
    /// The daemon's API socket. Default: the `[api] socket` of --config.
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// The daemon's settings file, read for its `[api] socket` only.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Which daemon --config is the settings of.
    #[arg(long, value_enum, default_value = "observatory")]
    pub daemon: Daemon,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Daemon {
    Observatory,
    Responder,
    Requester,
    SocialService,
}

impl DaemonApi {
    pub fn client(&self) -> Result<Client, Failure> {
        let kind = match self.daemon {
            Daemon::Observatory => PartyKind::Observatory,
            Daemon::Responder => PartyKind::Responder,
            Daemon::Requester => PartyKind::Requester,
            Daemon::SocialService => PartyKind::SocialService,
        };
        let socket = match (&self.socket, &self.config) {
            (Some(socket), _) => socket.clone(),
            (None, Some(config)) => PartySettings::load_local(kind, config)?.api_socket(),
            (None, None) => return Err(Failure::Usage(anyhow!("give --socket, or --config (and --daemon)"))),
        };
        Ok(Client::new(socket).for_daemon(&format!("{} run", kind.command())))
    }
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub api: DaemonApi,
    /// The report as one JSON object (`passerelle.access-log-verify/1`).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub api: DaemonApi,
    /// The calendar year (of the body's legal time zone); default: the newest.
    #[arg(long)]
    pub year: Option<i32>,
    /// From this rank of the year's chain.
    #[arg(long, default_value_t = 1)]
    pub from: i64,
    /// At most this many entries (at most 10,000).
    #[arg(long, default_value_t = 1000)]
    pub limit: usize,
    /// One JSON object per entry on stdout (`passerelle.access-log-entry/1`).
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> CliResult {
    match args.command {
        Command::Verify(a) => verify(&a),
        Command::Show(a) => show(&a),
    }
}

fn verify(args: &VerifyArgs) -> CliResult {
    let client = args.api.client()?;
    let report: TrailReport = api::call(client.get_json("/v1/access-log/verify"))?;
    if args.json {
        println!(
            "{}",
            super::json::line(super::json::ACCESS_LOG_VERIFY, &report).context("cannot serialise the report")?
        );
    } else {
        print!("{}", describe(&report));
    }
    if report.intact {
        Ok(Outcome::Success)
    } else {
        eprintln!("passerelle: the {} of {} does not verify (see above)", report.trail, report.party);
        Ok(Outcome::Rejections)
    }
}

/// The report in words, a line per year.
pub fn describe(report: &TrailReport) -> String {
    let mut text =
        format!("{} of {}: {}\n", report.trail, report.party, if report.intact { "intact" } else { "DOES NOT VERIFY" });
    match (&report.witness, report.witness_answered) {
        (Some(witness), true) => text.push_str(&format!("witness {witness}: answered\n")),
        (witness, _) => text.push_str(&format!(
            "witness {}: {} — the chain was checked on its own; no entry counts as witnessed\n",
            witness.as_deref().unwrap_or("(none)"),
            report.witness_problem.as_deref().unwrap_or("no answer")
        )),
    }
    if let Some(unreadable) = &report.unreadable {
        text.push_str(&format!("  ! {unreadable}\n"));
    }
    for y in &report.years {
        let state = if y.closed && y.entries == 0 {
            "closed at the witness and dropped (retention run)".to_owned()
        } else {
            format!(
                "{} entries; 1–{} covered by {} witnessed checkpoint(s) ({} matched); {} not yet covered",
                y.entries, y.covered, y.witnessed_checkpoints, y.matched_checkpoints, y.not_yet_covered
            )
        };
        text.push_str(&format!("  {}: {state}\n", y.year));
        for finding in &y.findings {
            text.push_str(&format!("    ! {finding}\n"));
        }
    }
    text
}

fn show(args: &ShowArgs) -> CliResult {
    let client = args.api.client()?;
    let mut path = format!("/v1/access-log/entries?from={}&limit={}", args.from, args.limit);
    if let Some(year) = args.year {
        path.push_str(&format!("&year={year}"));
    }
    let page: AccessLogPage = api::call(client.get_json(&path))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for e in &page.entries {
        if args.json {
            let text = super::json::line(super::json::ACCESS_LOG_ENTRY, e).context("cannot serialise an entry")?;
            writeln!(out, "{text}").context("cannot write the output")?;
        } else {
            let person = e.person.as_deref().map(|p| format!("  person:{p}")).unwrap_or_default();
            writeln!(out, "{:<10} {}  {:<24} {:<8} {}{person}", e.entry, e.at, e.agent, e.kind, e.object)
                .context("cannot write the output")?;
        }
    }
    out.flush().context("cannot write the output")?;
    match (page.year, page.next) {
        (None, _) => eprintln!("passerelle: the access log is empty"),
        (Some(year), Some(next)) => eprintln!("passerelle: {year} has more entries: --year {year} --from {next}"),
        (Some(_), None) => {}
    }
    Ok(Outcome::Success)
}
