//! `passerelle responder …`: a solicited body's adapter.
//!
//! - `responder load --config FILE|--socket PATH EXTRACT`: a client of the responder daemon's local API
//!   (`POST /v1/extract`, role `responder-admin`, checked by the daemon): reads the extract as
//!   the calling agent and streams it to the daemon, which checks it line by line (the same
//!   report as `requester check`) and indexes the good lines into its local index, which
//!   replaces the previous one atomically; prints the daemon's report and summary. With
//!   `--without-daemon` (the first extract, which the daemon needs to start), this process
//!   writes the index, as the daemon's account, and records the load in the daemon's access log
//!   (`create` by `os-user:<account>`): no daemon holds the log then (the load is refused while
//!   one answers at the socket).
//! - `responder run --config FILE`: consumes the body's solicitation queue and answers each chunk
//!   from its data source until SIGINT or SIGTERM.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use passerelle_access_log::{os_actor, Accesses};
use passerelle_local_api::{Client, ClientError};
use passerelle_party::{PartyKind, PartySettings};
use passerelle_responder::api::{EncodingName, FailureKind, LoadAnswer, LoadOutcome, LoadQuery, ReportName};
use passerelle_responder::{
    load_extract_recorded, LoadError, LoadOptions, LoadRecord, ResponderSettings, DEFAULT_MAX_LOSS_PERCENT,
};
use passerelle_selection::{ReportFormat, ReportWriter};

use super::api;
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
    /// Send a CSV extract to the responder daemon, which indexes it, reporting rejected lines.
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
The running responder daemon loads it (`responder run`; its local API, README \"Agents and
roles\"): this command reads the file as you and streams it to the daemon, which checks that
your account is an agent with the role responder-admin in its agent registry, then checks and
indexes the lines. --config is read for the daemon's socket (`[api] socket`); --socket names
it without a settings file (an agent may not be able to read the daemon's). A responder whose source is PostgreSQL has no extract to load.

The daemon cannot start before a first extract is indexed: that first load is
`responder load --without-daemon`, run as the daemon's account, the daemon stopped.

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
    /// The responder's settings file (TOML), read for the daemon's socket (`[api] socket`), or
    /// with --without-daemon for the whole load. Not needed with --socket.
    #[arg(long, value_name = "FILE", required_unless_present = "socket")]
    pub config: Option<PathBuf>,

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

    /// The responder daemon's API socket. Default: the `[api] socket` of --config (else the
    /// default beside its data_dir; README, "Agents and roles").
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,

    /// Write the index from this process instead of through the daemon: the first extract of a
    /// responder, whose daemon cannot start without one. Run it as the daemon's account (its
    /// data_dir is closed to others); refused while a daemon answers at the socket.
    #[arg(long, requires = "config")]
    pub without_daemon: bool,
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

/// `responder load`: the extract streamed to the daemon, its report and summary printed.
fn load(args: &LoadArgs) -> CliResult {
    let settings = args.config.as_deref().map(settings).transpose()?;
    let socket = match (&args.socket, &settings) {
        (Some(socket), _) => socket.clone(),
        (None, Some(settings)) => PartySettings::Responder(settings.clone()).api_socket(),
        (None, None) => return Err(Failure::Usage(anyhow!("say where the daemon is: --config FILE or --socket PATH"))),
    };
    if let (true, Some(settings)) = (args.without_daemon, &settings) {
        if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
            return Err(Failure::Usage(anyhow!(
                "a responder daemon answers at {}: load through it (without --without-daemon), as an agent \
                 with the role responder-admin",
                socket.display()
            )));
        }
        return load_without_daemon(args, settings);
    }
    let client = Client::new(socket).for_daemon("responder run");
    let query = LoadQuery {
        encoding: match args.encoding {
            EncodingArg::Utf8 => EncodingName::Utf8,
            EncodingArg::Windows1252 => EncodingName::Windows1252,
        },
        max_loss: args.max_loss,
        force: args.force,
        report: if args.json { ReportName::Json } else { ReportName::Human },
    };
    let what = || format!("cannot load the extract {}", args.extract.display());
    let answer: LoadAnswer =
        api::call(client.upload(&query.path(), &args.extract)).map_err(|failure| match failure {
            Failure::Usage(e) | Failure::Runtime(e) | Failure::Settings(e) => refined(e, what()),
            other => other,
        })?;
    // JSON goes to stdout for a program; sentences go to stderr, beside other diagnostics.
    let written = if args.json {
        io::stdout().lock().write_all(answer.report.as_bytes())
    } else {
        io::stderr().lock().write_all(answer.report.as_bytes())
    };
    written.map_err(|e| Failure::Runtime(anyhow!(e).context("cannot write the report")))?;
    let summary = match answer.outcome {
        LoadOutcome::Loaded(summary) => summary,
        LoadOutcome::Kept { failure, error } => {
            let error = anyhow!(error).context(what());
            return Err(match failure {
                FailureKind::Settings => Failure::Settings(error),
                FailureKind::Extract => Failure::Usage(error),
                FailureKind::Runtime => Failure::Runtime(error),
            });
        }
    };
    Ok(loaded(
        &answer.body,
        &summary.index,
        Read { lines: summary.lines as u64, rejected: summary.rejected as u64, seconds: summary.elapsed_s },
        &summary.ignored_columns,
        &summary.missing_columns,
    ))
}

/// The exit code of a call the daemon did not run: a refusal stays 6, an extract the CLI
/// cannot read is a usage error (2), a PostgreSQL source a settings error (3); each said with
/// what failed.
fn refined(e: anyhow::Error, what: String) -> Failure {
    match e.downcast_ref::<ClientError>() {
        Some(ClientError::File { .. }) => Failure::Usage(e.context(what)),
        Some(refused) if refused.code() == Some("not_an_extract_source") => Failure::Settings(e.context(what)),
        Some(refused) if refused.code() == Some("bad_request") || refused.code() == Some("load_running") => {
            Failure::Usage(e.context(what))
        }
        _ => Failure::Runtime(e.context(what)),
    }
}

/// `responder load --without-daemon`: the index written by this process, as the daemon's
/// account (the first extract, before the daemon can start).
fn load_without_daemon(args: &LoadArgs, settings: &ResponderSettings) -> CliResult {
    let format = if args.json { ReportFormat::Json } else { ReportFormat::Human };
    // JSON goes to stdout for a program; sentences go to stderr, beside other diagnostics.
    let out: Box<dyn Write> = match format {
        ReportFormat::Json => Box::new(BufWriter::new(io::stdout().lock())),
        ReportFormat::Human => Box::new(BufWriter::new(io::stderr().lock())),
    };
    let mut report = ReportWriter::new(format, out).with_noun("line");
    let options = LoadOptions { encoding: args.encoding.into(), max_loss_percent: args.max_loss, force: args.force };
    let record = load_record(settings)?;
    let summary = match load_extract_recorded(settings, &args.extract, &options, &mut report, &record) {
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
                LoadError::Read(_) | LoadError::Report(_) | LoadError::Index(_) | LoadError::AccessLog(_) => {
                    Failure::Runtime(anyhow!(error).context(what))
                }
            });
        }
    };
    drop(report);
    Ok(loaded(
        &settings.body,
        &summary.index,
        Read {
            lines: summary.lines.lines as u64,
            rejected: summary.lines.rejected as u64,
            seconds: summary.elapsed.as_secs_f64(),
        },
        &summary.ignored_columns,
        &summary.missing_columns,
    ))
}

/// The daemon's access log, opened by this process (no daemon holds it: the caller checked its
/// socket), and this process's OS account as the load's actor: `os-user:<account>`, or
/// `os-uid:<uid>` when the account has no name fit for the log.
fn load_record(settings: &ResponderSettings) -> Result<LoadRecord, Failure> {
    let accesses = Accesses::open_in(&settings.data_dir, settings.trails.time_zone)
        .map_err(|e| Failure::Runtime(anyhow!(e).context("cannot open the responder's access log")))?;
    let uid = rustix::process::getuid().as_raw();
    let account = passerelle_local_api::own_account().ok().flatten();
    let named = account.filter(|a| passerelle_protocol::untrusted::is_identifier(&os_actor(Some(a), uid)));
    Ok(LoadRecord { accesses, actor: os_actor(named.as_deref(), uid) })
}

/// `responder run`: the bootstrap of every party (passerelle_party).
fn run_responder(args: &RunArgs) -> CliResult {
    let settings = PartySettings::load(PartyKind::Responder, &args.config)?;
    passerelle_party::run_daemon(settings).map_err(|e| Failure::of_party(e, &args.config))?;
    Ok(Outcome::Success)
}

/// How an extract's lines were read.
struct Read {
    lines: u64,
    rejected: u64,
    seconds: f64,
}

/// Says what a load indexed, and what it could not (whether the daemon or this process loaded
/// it); the outcome is rejections when a line was.
fn loaded(
    body: &str,
    index: &passerelle_responder::IndexStats,
    read: Read,
    ignored: &[impl AsRef<str>],
    missing: &[impl AsRef<str>],
) -> Outcome {
    eprintln!(
        "passerelle: indexed {persons} person(s) and {former} former NIR(s) for `{body}` in {secs:.1} s \
         ({rate:.0} lines/s), index {mib:.1} MiB; extract {id}",
        persons = index.persons,
        former = index.former_nirs,
        secs = read.seconds,
        rate = read.lines as f64 / read.seconds.max(1e-9),
        mib = index.bytes as f64 / (1024.0 * 1024.0),
        id = index.extract_id,
    );
    if index.ambiguous_former_nirs > 0 {
        eprintln!(
            "passerelle: warning: {} former NIR(s) are claimed by two persons or more: they match nobody",
            index.ambiguous_former_nirs
        );
    }
    if !ignored.is_empty() {
        eprintln!("passerelle: warning: not indexed, `{body}` does not hold: {}", listed(ignored));
    }
    if !missing.is_empty() {
        eprintln!("passerelle: warning: held but absent from the extract (unknown for everyone): {}", listed(missing));
    }
    if read.rejected == 0 {
        Outcome::Success
    } else {
        Outcome::Rejections
    }
}

/// Column names as a sentence lists them.
fn listed(columns: &[impl AsRef<str>]) -> String {
    columns.iter().map(AsRef::as_ref).collect::<Vec<&str>>().join(", ")
}
