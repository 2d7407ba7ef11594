//! `passerelle stats --config FILE [--pseudonym P] [--json]`: aggregate tables from the
//! observatory's pseudonymised statistics store (art. 1 second paragraph, art. 4–5).
//!
//! Without `--pseudonym`: persons by risk factor, age band, sex and requester, and each body's
//! answer rates. With it: every appearance of one pseudonymised person across cases. The
//! command is recorded in the audit trail (`cli_read`).
//!
//! No NIR goes in: `--pseudonym` takes a pseudonym as the store holds it and refuses a NIR
//! without repeating it, and the command never reads the pseudonym key (the observatory
//! daemon's alone, outside the statistics folder).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{anyhow, Context};
use passerelle_observatory_store::{parse_pseudonym, StatisticsStore};

use super::audit::{open_case_store, record_cli_read};
use crate::exit::{CliResult, Failure, Outcome};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The observatory's settings file (TOML): the statistics store is in `data_dir/statistics/`.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
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
    // Checked first: a NIR given here reaches no file, no log and no message.
    let pseudonym = match &args.pseudonym {
        Some(text) => Some(parse_pseudonym(text).map_err(|e| Failure::Usage(anyhow!("--pseudonym: {e}")))?),
        None => None,
    };
    let settings = super::observatory::settings(&args.config)?;
    let path = settings.statistics_db_path();
    if !path.exists() {
        let earlier = settings.statistics_placement().legacy_store;
        if earlier.exists() {
            return Err(Failure::Runtime(anyhow!(
                "the statistics store is still at its earlier place {}: start the observatory once \
                 (`passerelle observatory run`), which moves it to {}",
                earlier.display(),
                path.display()
            )));
        }
        return Err(Failure::missing_store(&path, "observatory run"));
    }
    let stats = StatisticsStore::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
    if let Ok(store) = open_case_store(&settings) {
        let command = if pseudonym.is_some() { "stats --pseudonym" } else { "stats" };
        record_cli_read(&store, &settings, command, None)?;
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let write_err = |e: std::io::Error| Failure::Runtime(anyhow!(e).context("cannot write the output"));
    if let Some(pseudonym) = &pseudonym {
        let appearances = stats.follow(pseudonym).context("cannot read the statistics store")?;
        if args.json {
            let object = serde_json::json!({ "format": super::json::STATS_PSEUDONYM, "appearances": appearances });
            serde_json::to_writer_pretty(&mut out, &object).context("cannot write the output")?;
            writeln!(out).map_err(write_err)?;
        } else {
            for a in &appearances {
                let at = chrono::DateTime::<chrono::Utc>::from(
                    std::time::UNIX_EPOCH + std::time::Duration::from_millis(a.recorded_at_ms as u64),
                )
                .date_naive();
                writeln!(
                    out,
                    "{at}  case {}  territory {}  requester {} / {}  service \"{}\"  sex {}  born {}\n    requested: {}\n    values: {}",
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
    let report = stats.report().context("cannot read the statistics store")?;
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
    writeln!(out, "\nbody answers          asked    found  not found  no answer  answer rate").map_err(write_err)?;
    for b in &report.body_answers {
        let rate = if b.asked == 0 { 0.0 } else { 100.0 * (b.found + b.not_found) as f64 / b.asked as f64 };
        writeln!(
            out,
            "  {:<16} {:>8} {:>8} {:>10} {:>10} {:>11.1}%",
            b.body, b.asked, b.found, b.not_found, b.no_answer, rate
        )
        .map_err(write_err)?;
    }
    out.flush().map_err(write_err)?;
    Ok(Outcome::Success)
}
