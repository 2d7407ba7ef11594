//! `passerelle social-service stats`: the steering statistics (norm 43, B) a
//! `statistics-agent` reads from its body's daemon, and `stats merge`, which makes the national
//! figures from several bodies' exports on the agent's own machine (no daemon).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{anyhow, Context};
use passerelle_social_stats::{merge, text, Month, Table};

use super::requester_api::call;
use super::social_service::{json, print, Api};
use crate::exit::{CliResult, Failure};

/// The long help of `social-service stats`.
pub const HELP: &str = "\
Counts of persons for steering the social service (CNIL norm 43, B), by month, at office and
body level: files opened (by age band, and by sex) and closed (by duration), actions started
(by risk, I.12) and ended (by duration), offer participants (kind × attendance) and offer
outcomes at the worklist (accepted, declined, no-reply). Only a statistics-agent may read them.

Where they come from: once a month is over, the daemon counts it from the live store into its
own database, steering.db — counts only: no NIR, no pseudonym, no name, no free text, months
not dates. A month is served only once it is over (and counted).

What is suppressed, and why: a cell counting 1 to 10 persons could point at someone, so it is
shown as `s` (unknown). A zero is shown: it tells about nobody. Because the rows add up
(categories to the total, offices to the body), more cells are suppressed until no `s` can be
recomputed by subtracting visible cells — the table is audited exactly before it is shown. An
`s` does not say which of the two reasons hid it.

Each month is suppressed on its own, from its own counts (frozen once counted), so a month
shows the same cells in every table, whatever --from and --to: tables of different periods
cannot be combined to recompute an `s`. There is no period total: add up the months (the sum
of a row's visible cells is a lower bound when some are `s`).

National figures: each body exports its table (--export body.json); anyone holding the exports
merges them locally. A national cell is the sum of the bodies'; when a body's cell is `s`, the
national one is a lower bound, `≥N` (from 11; below, `s`), and the suppression is applied again
on the merged table.

Examples (a statistics-agent):
  passerelle social-service stats --config /etc/passerelle/social-service.toml
  passerelle social-service stats --from 2026-01 --to 2026-06 --export carsat-sud-est.json
  passerelle social-service stats merge carsat-sud-est.json carsat-nord-est.json --json > national.json";

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true, after_long_help = HELP)]
pub struct StatsArgs {
    #[command(subcommand)]
    pub merge: Option<StatsCommand>,
    #[command(flatten)]
    pub api: Api,
    /// The first month, YYYY-MM (default: 11 months before --to).
    #[arg(long, value_name = "YYYY-MM")]
    pub from: Option<String>,
    /// The last month, YYYY-MM (default: the last month counted, i.e. last month).
    #[arg(long, value_name = "YYYY-MM")]
    pub to: Option<String>,
    /// Print the table as one JSON object (`passerelle.social-service-stats/1`, docs/JSON.md).
    #[arg(long)]
    pub json: bool,
    /// Also write the table's JSON to FILE (mode 0600): what `stats merge` reads.
    #[arg(long, value_name = "FILE")]
    pub export: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
pub enum StatsCommand {
    /// National figures: several bodies' exports merged here (no daemon), suppression applied again.
    Merge(MergeArgs),
}

#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// The bodies' exports (`stats --export`), one per body, all of the same period.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Print the merged table as one JSON object (`passerelle.social-service-stats/1`).
    #[arg(long)]
    pub json: bool,
}


fn month(flag: &str, text: &str) -> Result<Month, Failure> {
    Month::parse(text.trim()).ok_or_else(|| Failure::Usage(anyhow!("{flag} takes a month YYYY-MM, not `{text}`")))
}

pub fn run(args: StatsArgs) -> CliResult {
    if let Some(StatsCommand::Merge(m)) = args.merge {
        return run_merge(m);
    }
    let mut query = Vec::new();
    if let Some(from) = &args.from {
        query.push(format!("from={}", month("--from", from)?));
    }
    if let Some(to) = &args.to {
        query.push(format!("to={}", month("--to", to)?));
    }
    let path = if query.is_empty() { "/v1/stats".to_owned() } else { format!("/v1/stats?{}", query.join("&")) };
    let table: Table = call(args.api.client()?.get_json(&path))?;
    if let Some(file) = &args.export {
        let mut f = passerelle_sqlite::private::create_file(file)
            .with_context(|| format!("cannot write {}", file.display()))?;
        f.write_all(json(&table)?.as_bytes()).with_context(|| format!("cannot write {}", file.display()))?;
        eprintln!("table written to {} (mode 0600): `stats merge` reads it", file.display());
    }
    if args.json {
        return print(&json(&table)?);
    }
    print(&text::render(&table))
}

fn run_merge(args: MergeArgs) -> CliResult {
    let mut tables = Vec::new();
    for file in &args.files {
        let content = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
        let table: Table = serde_json::from_str(&content)
            .map_err(|e| Failure::Usage(anyhow!("{}: not a steering table export: {e}", file.display())))?;
        tables.push(table);
    }
    let merged = merge(&tables).map_err(|e| Failure::Usage(anyhow!("cannot merge: {e}")))?;
    if args.json {
        return print(&json(&merged)?);
    }
    print(&text::render(&merged))
}
