//! `passerelle responder …`: a solicited body's adapter.
//!
//! - `responder load --config FILE EXTRACT`: checks a CSV extract line by line (the same report
//!   as `requester check`) and indexes the good lines into the responder's local index, which
//!   replaces the previous one atomically.
//! - `responder run --config FILE`: consumes the body's solicitation queue and answers each chunk
//!   from its data source until SIGINT or SIGTERM.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use passerelle_party::{PartyKind, PartySettings};
use passerelle_responder::{load_extract_with, LoadError, LoadOptions, ResponderSettings, DEFAULT_MAX_LOSS_PERCENT};
use passerelle_selection::{ReportFormat, ReportWriter};

use super::requester::EncodingArg;
use crate::exit::{CliResult, Failure, Outcome};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Answer solicitations: consume the body's queue, answer each chunk from the data source.
    #[command(after_long_help = RUN_HELP)]
    Run(RunArgs),
    /// Index a CSV extract for the responder (the extract source), reporting rejected lines.
    #[command(after_long_help = LOAD_HELP)]
    Load(LoadArgs),
}

const RUN_HELP: &str = concat!(
    "\
The settings file (TOML; PASSERELLE_… environment variables override it, `__` nests):
  body = \"cnaf\"                       # cnam, cnav, cnaf or msa
  holds = [\"housing_aid\", \"rsa\"]      # default: the body's default holdings (README, \"Categories\")
  data_dir = \"/var/lib/passerelle/responder\"
  consumers = 2                       # chunks answered at once
  [broker]                            # see README, \"Broker settings\"
  urls = [\"amqps://body-cnaf@broker:5671/passerelle?auth_mechanism=external\"]
  start_timeout_s = 300               # seconds to wait for a broker down at start (0: forever)
  [broker.tls]                        # ca_file, cert_file (CN = the broker user), key_file
  [broker.identity]                   # outside development: one broker user per party (exit 3)
  insecure_any_user = false
  [broker.identity.users]             # broker user → the one party it speaks for: its own,
  \"body-cnaf\" = [\"cnaf\"]              # and the observatory's
  \"observatory-sud-est\" = [\"carsat-sud-est\"]
  [source]
  kind = \"extract\"                    # or \"postgres\", with url, pool_size, identity_query and
                                      # one query per held category under [source.categories]

Each solicitation chunk is answered once it is looked up: persons found by NIR or a former NIR
(a known sex or birth year that disagrees makes the person not found), values only for the
categories both asked and held, the rest declined with a reason. A chunk seen before (a
reminder) is answered again. Logs never contain a NIR.

",
    super::development_hooks_help!("responder.after_answer_before_publish"),
);

const LOAD_HELP: &str = "\
The extract: CSV with a header row, columns matched by name in any order; `,` or `;`.
  Required: nir. Optional: former_nirs (|-separated), birth_year, sex (used to match).
  One column per category the body holds, named by its code, in the value syntax (README).
  Columns of categories the body does not hold are ignored; names and addresses are refused.

A new index is written beside the current one and swapped in atomically when the whole file has
been read: a running responder answers its next chunk from the new extract, and no answer ever
mixes two extracts. The current index is kept when the file is unusable (a bad header, bytes that
are not UTF-8 without --encoding windows-1252, a record not ended after 64 MiB, 1,000 empty rows
in a row), when no line is valid, and when the new index would hold more than --max-loss percent
(default 10) fewer persons than the current one: the message gives both counts and the share;
--force replaces it anyway.

Report: as `requester check` — one line per problem on stderr, or with --json one JSON object per
problem on stdout, {\"line\": N, \"field\": \"nir\" or null, \"reason\": \"...\"}, then last
{\"summary\": {\"lines\": R, \"valid\": V, \"rejected\": X}}, each object with
\"format\": \"passerelle.report/1\" (docs/JSON.md). Reasons never contain a NIR.";

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The responder's settings file (TOML).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// The responder's settings file (TOML).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,

    /// The extract (CSV with a header row; see below).
    #[arg(value_name = "EXTRACT")]
    pub extract: PathBuf,

    /// The file's encoding: UTF-8 (with or without a byte-order mark) or Windows-1252.
    #[arg(long, value_enum, value_name = "ENCODING", default_value_t = EncodingArg::Utf8)]
    pub encoding: EncodingArg,

    /// Write the report as JSON Lines on stdout instead of sentences on stderr.
    #[arg(long)]
    pub json: bool,

    /// Keep the current index if the new one would hold more than PERCENT fewer persons.
    #[arg(long, value_name = "PERCENT", default_value_t = DEFAULT_MAX_LOSS_PERCENT,
        value_parser = clap::value_parser!(u8).range(0..=100))]
    pub max_loss: u8,

    /// Replace the current index whatever the new one loses (--max-loss does not apply).
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: Args) -> CliResult {
    match args.command {
        Command::Run(a) => run_responder(&a),
        Command::Load(a) => load(&a),
    }
}

/// Loads and checks the settings as `responder run` does, but for the broker identity (`load`
/// never speaks on the broker): any problem is a settings failure (exit 3) naming the key and
/// where it was set.
fn settings(path: &Path) -> Result<ResponderSettings, Failure> {
    match PartySettings::load_local(PartyKind::Responder, path)? {
        PartySettings::Responder(settings) => Ok(settings),
        other => Err(Failure::Settings(anyhow!("{} is not a responder's settings", other.name()))),
    }
}

/// `responder load`.
fn load(args: &LoadArgs) -> CliResult {
    let settings = settings(&args.config)?;
    let format = if args.json { ReportFormat::Json } else { ReportFormat::Human };
    // JSON goes to stdout for a program; sentences go to stderr, beside other diagnostics.
    let out: Box<dyn Write> = match format {
        ReportFormat::Json => Box::new(BufWriter::new(io::stdout().lock())),
        ReportFormat::Human => Box::new(BufWriter::new(io::stderr().lock())),
    };
    let mut report = ReportWriter::new(format, out).with_noun("line");
    let options = LoadOptions { encoding: args.encoding.into(), max_loss_percent: args.max_loss, force: args.force };
    let summary = match load_extract_with(&settings, &args.extract, &options, &mut report) {
        Ok(summary) => summary,
        Err(error) => {
            let what = format!("cannot load the extract {}", args.extract.display());
            return Err(match error {
                LoadError::Settings(_) | LoadError::NotAnExtractSource => {
                    Failure::Settings(anyhow!(error).context(what))
                }
                LoadError::Open { .. }
                | LoadError::Unusable(_)
                | LoadError::NothingValid
                | LoadError::TooMuchLoss { .. } => Failure::Usage(anyhow!(error).context(what)),
                LoadError::Read(_) | LoadError::Report(_) | LoadError::Index(_) => {
                    Failure::Runtime(anyhow!(error).context(what))
                }
            });
        }
    };
    drop(report);
    let index = &summary.index;
    eprintln!(
        "passerelle: indexed {persons} person(s) and {former} former NIR(s) for `{body}` in {secs:.1} s \
         ({rate:.0} lines/s), index {mib:.1} MiB; extract {id}",
        persons = index.persons,
        former = index.former_nirs,
        body = settings.body,
        secs = summary.elapsed.as_secs_f64(),
        rate = summary.lines.lines as f64 / summary.elapsed.as_secs_f64().max(1e-9),
        mib = index.bytes as f64 / (1024.0 * 1024.0),
        id = index.extract_id,
    );
    if index.ambiguous_former_nirs > 0 {
        eprintln!(
            "passerelle: warning: {} former NIR(s) are claimed by two persons or more: they match nobody",
            index.ambiguous_former_nirs
        );
    }
    if !summary.ignored_columns.is_empty() {
        eprintln!(
            "passerelle: warning: not indexed, `{}` does not hold: {}",
            settings.body,
            summary.ignored_columns.join(", ")
        );
    }
    if !summary.missing_columns.is_empty() {
        eprintln!(
            "passerelle: warning: held but absent from the extract (unknown for everyone): {}",
            summary.missing_columns.join(", ")
        );
    }
    Ok(if summary.lines.rejected == 0 { Outcome::Success } else { Outcome::Rejections })
}

/// `responder run`: the bootstrap of every party (passerelle_party).
fn run_responder(args: &RunArgs) -> CliResult {
    let settings = PartySettings::load(PartyKind::Responder, &args.config)?;
    passerelle_party::run_daemon(settings).map_err(|e| Failure::of_party(e, &args.config))?;
    Ok(Outcome::Success)
}
