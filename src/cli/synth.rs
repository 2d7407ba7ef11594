//! `passerelle synth`: a synthetic population for the demo, tests and benchmarks — a requester's
//! selection file, one extract per body and a manifest, all made up (no real person's data).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use chrono::Datelike;
use passerelle_synth::{SynthOptions, TerritoryChoice, DEFAULT_REQUESTER, DEFAULT_SEED, DEFAULT_TERRITORY};

use crate::exit::{CliResult, Failure, Outcome};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// How many persons (all aged 55 to 100 in the reference year; every one is in the selection).
    #[arg(long)]
    pub persons: u64,
    /// The output folder (created if missing): selection.csv, extract-<body>.csv, manifest.json.
    #[arg(long)]
    pub out: PathBuf,
    /// An observatory code (e.g. carsat-sud-est, cnav-idf, cgss-reunion) whose territory the
    /// residence communes are drawn from, or `all` for every competent territory.
    #[arg(long, default_value = DEFAULT_TERRITORY)]
    pub territory: TerritoryChoice,
    /// The seed: the same seed gives byte-identical files.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
    /// The reference year ages are counted in (default: the current year).
    #[arg(long)]
    pub year: Option<i32>,
    /// The requesting body (cnam, cnav, cnaf or msa): the selection carries its categories.
    #[arg(long, default_value = DEFAULT_REQUESTER)]
    pub requester: String,
    /// Also writes this many synthetic social-service case files (CNIL norm 43) with their
    /// actions and offers to social-files.jsonl, one JSON object a line.
    #[arg(long, value_name = "N")]
    pub social_files: Option<u64>,
}

/// The file of `--social-files`.
pub const SOCIAL_FILES: &str = "social-files.jsonl";

pub fn run(args: Args) -> CliResult {
    // Without --year, the population is as of today (Paris): what a submission today accepts.
    let today = passerelle_protocol::calendar::LegalCalendar::default().date_of(std::time::SystemTime::now());
    let reference_year = args.year.unwrap_or_else(|| today.year());
    let options = SynthOptions {
        persons: args.persons,
        territory: args.territory,
        seed: args.seed,
        reference_year,
        as_of: args.year.is_none().then_some(today),
        requester: args.requester,
    };
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(options.persons);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {human_pos}/{human_len} persons [{bar:30}] {eta}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar
    });
    let result = passerelle_synth::generate_with_progress(&options, &args.out, &mut |done| {
        if let Some(bar) = &bar {
            bar.set_position(done);
        }
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let manifest = result.map_err(|e| {
        let usage = e.is_usage();
        let e = anyhow!(e).context("cannot make the synthetic population");
        if usage {
            Failure::Usage(e)
        } else {
            Failure::Runtime(e)
        }
    })?;

    println!(
        "{} persons (territory {}, reference year {}, seed {}) in {}",
        manifest.persons,
        manifest.territory,
        manifest.reference_year,
        manifest.seed,
        args.out.display()
    );
    for (file, rows) in &manifest.files {
        println!("  {file:<20} {rows:>10} rows");
    }
    if let Some(n) = args.social_files {
        write_social_files(&args.out.join(SOCIAL_FILES), args.seed, n, reference_year)?;
        println!("  {SOCIAL_FILES:<20} {n:>10} rows");
    }
    Ok(Outcome::Success)
}

/// Streams `n` synthetic case files, one JSON line each (`passerelle_synth::social::to_json`).
fn write_social_files(path: &Path, seed: u64, n: u64, reference_year: i32) -> Result<(), Failure> {
    use std::io::Write as _;
    if n > passerelle_synth::MAX_PERSONS {
        let max = passerelle_synth::MAX_PERSONS;
        return Err(Failure::Usage(anyhow!("--social-files {n}: at most {max} synthetic files")));
    }
    let failed = |e: std::io::Error| Failure::Runtime(anyhow!(e).context(format!("cannot write {}", path.display())));
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).map_err(failed)?);
    for file in passerelle_synth::social::files_as_of(seed, n, reference_year) {
        serde_json::to_writer(&mut out, &passerelle_synth::social::to_json(&file)).map_err(|e| failed(e.into()))?;
        out.write_all(b"\n").map_err(failed)?;
    }
    out.flush().map_err(failed)
}
