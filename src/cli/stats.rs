//! `passerelle stats --config FILE [--pseudonym P] [--json]`: aggregate tables from the
//! observatory's pseudonymised statistics store (art. 1 second paragraph, art. 4–5).
//!
//! Without `--pseudonym`: persons by risk factor, age band, sex and requester, and each body's
//! answer rates. With it: every appearance of one pseudonymised person across cases. The
//! observatory daemon reads its statistics store for the calling agent (role
//! `statistics-agent`, local API) and records the read in its access log (kind `read`, object
//! `statistics`).
//!
//! No NIR goes in: `--pseudonym` takes a pseudonym as the store holds it and refuses a NIR
//! without repeating it, and the command never reads the pseudonym key (the observatory
//! daemon's alone, outside the statistics folder).

use std::io::Write;

use anyhow::{anyhow, Context};
use passerelle_observatory_store::statistics::Appearance;
use passerelle_observatory_store::{parse_pseudonym, StatisticsReport};

use super::api::{self, ObservatoryApi};
use crate::exit::{CliResult, Failure, Outcome};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub api: ObservatoryApi,
    /// Follow one person over time: their pseudonym, 64 hexadecimal digits as the statistics
    /// store holds it (its `persons.pseudonym` column). A NIR is refused: no command turns a NIR
    /// into a pseudonym, only the observatory daemon holds the key.
    #[arg(long, value_name = "P")]
    pub pseudonym: Option<String>,
    /// JSON on stdout instead of tables.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> CliResult {
    // Checked first: a NIR given here reaches no daemon, no log and no message.
    let pseudonym = match &args.pseudonym {
        Some(text) => Some(parse_pseudonym(text).map_err(|e| Failure::Usage(anyhow!("--pseudonym: {e}")))?),
        None => None,
    };
    let client = args.api.client()?;
    enum Read {
        Report(StatisticsReport),
        Appearances(Vec<Appearance>),
    }
    let read = match &pseudonym {
        Some(pseudonym) => Read::Appearances(api::call(async {
            client.post_json("/v1/statistics/follow", &serde_json::json!({ "pseudonym": pseudonym })).await
        })?),
        None => Read::Report(api::call(async { client.get_json("/v1/statistics").await })?),
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let write_err = |e: std::io::Error| Failure::Runtime(anyhow!(e).context("cannot write the output"));
    let report = match read {
        Read::Report(report) => report,
        Read::Appearances(appearances) => {
            if args.json {
                let object = serde_json::json!({ "format": super::json::STATS_PSEUDONYM, "appearances": appearances });
                serde_json::to_writer_pretty(&mut out, &object).context("cannot write the output")?;
                writeln!(out).map_err(write_err)?;
            } else {
                for a in &appearances {
                    let at = &a.recorded_month;
                    writeln!(
                    out,
                    "{at}  case {}  territory {}  requester {} / {}  service {}  sex {}  born {}\n    requested: {}\n    values: {}",
                    a.case_id,
                    a.territory,
                    a.requester,
                    a.requester_office,
                    a.service,
                    a.sex,
                    a.birth_year,
                    a.requested,
                    if a.values.is_empty() { "-".to_owned() } else { a.values.join(", ") }
                )
                .map_err(write_err)?;
                }
                if appearances.is_empty() {
                    eprintln!("passerelle: no row for this pseudonym");
                }
            }
            out.flush().map_err(write_err)?;
            return Ok(Outcome::Success);
        }
    };
    if args.json {
        let object = super::json::Versioned { format: super::json::STATS, body: &report };
        serde_json::to_writer_pretty(&mut out, &object).context("cannot write the output")?;
        writeln!(out).map_err(write_err)?;
        out.flush().map_err(write_err)?;
        return Ok(Outcome::Success);
    }
    writeln!(
        out,
        "{} person rows, {} distinct persons, {} cases",
        report.persons, report.distinct_pseudonyms, report.cases
    )
    .map_err(write_err)?;
    for (title, rows) in [
        ("persons by risk factor (present, any source)", &report.by_risk_factor),
        ("persons by age band", &report.by_age_band),
        ("persons by sex", &report.by_sex),
        ("persons by requester", &report.by_requester),
    ] {
        writeln!(out, "\n{title}").map_err(write_err)?;
        for (key, n) in rows {
            writeln!(out, "  {key:<40} {n:>8}").map_err(write_err)?;
        }
    }
    writeln!(out, "\nbody answers          asked    found  not found  no answer    missing  answer rate")
        .map_err(write_err)?;
    for b in &report.body_answers {
        let rate = if b.asked == 0 { 0.0 } else { 100.0 * (b.found + b.not_found) as f64 / b.asked as f64 };
        writeln!(
            out,
            "  {:<16} {:>8} {:>8} {:>10} {:>10} {:>10} {:>11.1}%",
            b.body, b.asked, b.found, b.not_found, b.no_answer, b.missing, rate
        )
        .map_err(write_err)?;
    }
    out.flush().map_err(write_err)?;
    Ok(Outcome::Success)
}
