//! `passerelle audit verify|show --config FILE`: the observatory's hash-chained audit trail
//! (art. 2, 8°).
//!
//! - `verify` recomputes every SHA-256 hash and link, year by year, and names the first entry
//!   altered, deleted or moved (exit 1), or says how many entries verified (exit 0).
//! - `show [--case ID]` prints the entries (ids and counts, never a NIR).
//!
//! Both are calls of the observatory daemon's local API (`--socket`, or the `[api] socket` of
//! `--config`): the daemon reads its store, checks the caller's role (`auditor` or
//! `observatory-agent`, README "Agents and roles") and records the read in its access log
//! (kind `read`, object `audit` or the case, the calling agent's id from its registry) — never
//! in the audit trail: `verify` is read-only.

use std::io::Write;

use anyhow::Context;
use passerelle_observatory_store::AuditRecord;
use passerelle_trails::TrailReport;

use super::api::{self, ObservatoryApi};
use crate::exit::{CliResult, Outcome};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Check every hash and link; name the first entry altered, deleted or moved.
    Verify(VerifyArgs),
    /// Print the entries (all, or one case's).
    Show(ShowArgs),
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub api: ObservatoryApi,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub api: ObservatoryApi,
    /// Only this case's entries.
    #[arg(long = "case", value_name = "ID")]
    pub case_id: Option<String>,
    /// One JSON object per entry on stdout.
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
    let report: TrailReport = api::call(client.get_json("/v1/audit/verify"))?;
    let entries: u64 = report.years.iter().map(|y| y.entries).sum();
    let years = match (report.years.first(), report.years.last()) {
        (Some(first), Some(last)) if first.year != last.year => format!("years {}–{}", first.year, last.year),
        (Some(y), _) => format!("year {}", y.year),
        _ => "no year".to_owned(),
    };
    if report.intact {
        println!("audit trail intact: {entries} entries verified ({years})");
    } else {
        let first = report.years.iter().flat_map(|y| y.findings.iter()).next().cloned().unwrap_or_default();
        println!("audit trail BROKEN: {first}");
    }
    print!("{}", super::access_log::describe(&report));
    if report.intact {
        Ok(Outcome::Success)
    } else {
        eprintln!(
            "passerelle: the audit trail of the observatory at {} does not verify (see above)",
            client.socket().display()
        );
        Ok(Outcome::Rejections)
    }
}

fn show(args: &ShowArgs) -> CliResult {
    let client = args.api.client()?;
    let path = match &args.case_id {
        Some(case_id) => format!("/v1/audit/entries?case={}", query_value(case_id)),
        None => "/v1/audit/entries".to_owned(),
    };
    let entries: Vec<AuditRecord> = api::call(client.get_json(&path))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for e in &entries {
        if args.json {
            let text = super::json::line(super::json::AUDIT_ENTRY, e).context("cannot serialise an entry")?;
            writeln!(out, "{text}").context("cannot write the output")?;
        } else {
            writeln!(out, "{}", line(e)).context("cannot write the output")?;
        }
    }
    out.flush().context("cannot write the output")?;
    if entries.is_empty() {
        eprintln!(
            "passerelle: no audit entry{}",
            args.case_id.as_ref().map(|c| format!(" for case {c}")).unwrap_or_default()
        );
    }
    Ok(Outcome::Success)
}

/// A query string value, percent-encoded (a case id is a UUID, but the text is the agent's).
fn query_value(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `2026#17  2026-11-23T09:48:43Z  request_received  case=…  body:cnaf user:cnaf  {…}`.
fn line(e: &AuditRecord) -> String {
    let at = chrono::DateTime::<chrono::Utc>::from(e.at()).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    format!(
        "{:<10} {at}  {:<18} case={}  {}  {}",
        e.name(),
        e.action,
        e.case_id.as_deref().unwrap_or("-"),
        e.actor,
        e.detail
    )
}
