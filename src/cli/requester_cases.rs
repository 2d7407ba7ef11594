//! `passerelle requester submit | run | status | fetch | purge`: the cases of a requesting body,
//! from its selection file to the ranked contact list, and their 24-month retention.
//!
//! `submit` validates the selection exactly as `requester check` does (same reader, same
//! report), then hands the valid persons to [`passerelle_requester::Requester`].

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{anyhow, Context};
use passerelle_bus::{AmqpBus, Bus};
use passerelle_hooks::Hooks;
use passerelle_party::{PartyKind, PartySettings};
use passerelle_protocol::catalogue;
use passerelle_protocol::rules::{Clock, SystemClock, DEFAULT_RESPOND_BY};
use passerelle_requester::export::{render_case, render_summary};
use passerelle_requester::{
    parse_duration, CaseState, Requester, RequesterError, RequesterSettings, SubmitRequest, Uuid,
};
use passerelle_selection::{ReportFormat, ReportWriter};

use super::requester::EncodingArg;
use super::requester_wait::{self, Progress};
use crate::exit::{CliResult, Failure, Outcome};

/// The long help of `requester run`: its settings, and the development profile.
pub const RUN_HELP: &str = concat!(
    "\
The settings file (TOML; PASSERELLE_… environment variables override it, `__` nests):
  body = \"cnaf\"                       # this requester's body
  office = \"caf-13\"                   # and its office
  data_dir = \"/var/lib/passerelle/requester\"   # the store, with names and contact details
  out_dir = \"/srv/prevention/passerelle\"       # the ranked contact lists
  retention_days = 730                # 1 to 730 (art. 5)
  [broker]                            # see README, \"Broker settings\"
  urls = [\"amqps://body-cnaf@broker:5671/passerelle?auth_mechanism=external\"]
  start_timeout_s = 300               # seconds to wait for a broker down at start (0: forever)
  [broker.tls]                        # ca_file, cert_file (CN = the broker user), key_file
  [broker.identity]                   # outside development: one broker user per party (exit 3)
  insecure_any_user = false
  [broker.identity.users]             # broker user → the one party it speaks for: its own,
  \"body-cnaf\" = [\"cnaf\"]              # and the observatory's
  \"observatory-sud-est\" = [\"carsat-sud-est\"]

The daemon receives the results and refusals of cases submitted with --detach, writes them,
and purges every case whose retention has ended. Logs never contain a NIR.

",
    super::development_hooks_help!("requester.while_writing_results"),
);

/// The long help of `requester submit`.
pub const SUBMIT_HELP: &str = "\
What happens:
  1. The selection is checked exactly as `passerelle requester check` checks it; rejected records
     are reported (line, field, reason) and the valid ones go on — unless --strict, where any
     rejection stops everything before anything is stored or sent.
  2. Names, addresses, e-mails and phones are kept in the requester's own store (data_dir) and
     never sent. Persons are grouped by the observatory competent for their residence commune:
     one case per observatory, sent in chunks carrying NIR, former NIRs, sex, birth year,
     commune and the risk-factor columns of the selection.
  3. Unless --detach, the command waits for every case's result or refusal (progress on stderr:
     a bar on a terminal, a line every 10 s at most otherwise; an observatory whose requests
     queue nobody consumes is named, with the queue),
     writes the ranked contact list and its summary, and sends each case's receipt so the
     observatory forgets it. With --detach, `passerelle requester run` receives them later.

Result files (--out FILE; default <out_dir>/<submission id>): FILE.csv (same separator and
encoding as the selection) and FILE.jsonl, or only one with a .csv / .jsonl extension, plus
FILE.summary.json (per case: completeness, categories each body declined and why, persons the
observatory refused with the reasons, by selection line). CSV columns: the selection's columns,
then per requested category `<category>` and `<category>__source` (bodies, `|`-separated; `a!b`
when body b disagreed and a's value was kept), per solicited body `status__<body>` (found,
not_found, no_answer), then `score` and `rank`. Cells starting with = + - @ tab or CR are
prefixed with a single quote. Everything is purged 24 months after submission at the latest.

Example:
  passerelle requester submit --config requester.toml --selection selection.csv \\
      --want 3,family_situation --service \"Atelier prévention des chutes\" --respond-by 7d";

#[derive(Debug, clap::Args)]
pub struct SubmitArgs {
    /// The requester's settings (TOML).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// The selection file (CSV with a header row; see `requester check --help`).
    #[arg(long, value_name = "FILE")]
    pub selection: PathBuf,
    /// The categories to learn: codes and/or whole domains, comma-separated (`3,4,rsa`).
    #[arg(long, value_name = "CATEGORIES")]
    pub want: String,
    /// The service offered to the persons (art. 3), a short text; sent to the observatory only.
    #[arg(long, value_name = "TEXT")]
    pub service: String,
    /// How long the observatory has to answer: `7d`, `36h`, `30m`, `90s` (at most 21 days).
    #[arg(long, value_name = "DURATION")]
    pub respond_by: Option<String>,
    /// Where to write the result (see below).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Send nothing if any record is rejected.
    #[arg(long)]
    pub strict: bool,
    /// Return once the cases are sent; `requester run` receives the results.
    #[arg(long)]
    pub detach: bool,
    /// The reference year of the age rule (default: the current year).
    #[arg(long, value_name = "YYYY", value_parser = clap::value_parser!(u32).range(1900..=2999))]
    pub year: Option<u32>,
    /// The selection's encoding.
    #[arg(long, value_enum, value_name = "ENCODING", default_value_t = EncodingArg::Utf8)]
    pub encoding: EncodingArg,
    /// Write the rejection report as JSON Lines on stdout (as `requester check --json`).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    /// The requester's settings (TOML).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct PurgeArgs {
    /// The requester's settings (TOML).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// One JSON object on stdout instead of sentences.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The requester's settings (TOML).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// One JSON object per case on stdout instead of sentences.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct FetchArgs {
    /// The requester's settings (TOML).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// The case id (from `submit` or `status`).
    #[arg(value_name = "CASE")]
    pub case: String,
    /// Where to write it (default <out_dir>/<case id>.csv and .jsonl).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Loads and checks the requester's settings (its development hooks included) for a command
/// that speaks on the broker as the requester (`submit`), its broker identity included: any
/// problem is a settings failure (exit 3).
fn load_settings(path: &std::path::Path) -> Result<RequesterSettings, Failure> {
    requester_settings(PartySettings::load(PartyKind::Requester, path)?)
}

/// [`load_settings`] for a command that works on the requester's own folders only (`status`,
/// `fetch`, `purge`): every check but the broker identity.
fn load_local_settings(path: &std::path::Path) -> Result<RequesterSettings, Failure> {
    requester_settings(PartySettings::load_local(PartyKind::Requester, path)?)
}

fn requester_settings(settings: PartySettings) -> Result<RequesterSettings, Failure> {
    match settings {
        PartySettings::Requester(settings) => Ok(settings),
        other => Err(Failure::Settings(anyhow!("{} is not a requester's settings", other.name()))),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .map_err(Failure::Runtime)
}

/// The requester's existing store, without the broker (`status`, `fetch`, `purge`). A missing
/// store is a runtime failure, as in every command: a reading command never creates one.
fn offline(settings: RequesterSettings, clock: Arc<dyn Clock>) -> Result<Requester, Failure> {
    let path = settings.data_dir.join(passerelle_requester::store::DB_FILE);
    if !path.exists() {
        return Err(Failure::missing_store(&path, "requester submit"));
    }
    Requester::offline(settings, clock).map_err(failure)
}

/// The exit status a requester error calls for.
fn failure(e: RequesterError) -> Failure {
    match e {
        RequesterError::Settings(_) => Failure::Settings(anyhow!(e)),
        RequesterError::Usage(_)
        | RequesterError::Open { .. }
        | RequesterError::Unusable { .. }
        | RequesterError::UnknownCase(_)
        | RequesterError::NotSettled { .. } => Failure::Usage(anyhow!(e)),
        other => Failure::Runtime(anyhow!(other)),
    }
}

/// The requester's clock: the system's, moved by the development clock offset when its (checked)
/// settings have one.
fn clock(settings: &RequesterSettings) -> Arc<dyn Clock> {
    Hooks::check(settings.profile, &settings.development).map_or_else(|_| Arc::new(SystemClock) as _, |h| h.clock())
}

/// Connects once (a command reports an unreachable broker at once), after checking the
/// requester's store folder (exit 4): a refused login or certificate is a settings failure
/// (exit 3).
async fn connect(settings: &RequesterSettings) -> Result<Arc<AmqpBus>, Failure> {
    passerelle_party::storage::check_writable("data_dir", &settings.data_dir)
        .map_err(|e| Failure::Runtime(anyhow!(e)))?;
    let bus = AmqpBus::connect(&settings.broker, settings.role()).await.map_err(|e| {
        if e.is_settings() {
            Failure::Settings(anyhow!(e))
        } else {
            Failure::Runtime(anyhow!(e))
        }
    })?;
    Ok(Arc::new(bus))
}

async fn close(requester: Requester, bus: Arc<AmqpBus>) {
    drop(requester);
    bus.close().await;
}

/// `requester submit`.
pub fn submit(args: SubmitArgs) -> CliResult {
    let settings = load_settings(&args.config)?;
    let clock = clock(&settings);
    let wanted = catalogue::parse_list(&args.want).map_err(|e| Failure::Usage(anyhow!(e).context("--want")))?;
    let respond_by = match &args.respond_by {
        Some(text) => parse_duration(text).map_err(|e| Failure::Usage(anyhow!(e).context("--respond-by")))?,
        None => DEFAULT_RESPOND_BY,
    };
    let request = SubmitRequest {
        selection: args.selection.clone(),
        encoding: args.encoding.into(),
        reference_year: args.year,
        wanted,
        service: args.service.clone(),
        respond_by,
        out: args.out.clone(),
        strict: args.strict,
    };
    runtime()?.block_on(async move {
        let bus = connect(&settings).await?;
        let requester = Requester::build(settings, Arc::clone(&bus) as Arc<dyn Bus>, clock).map_err(failure)?;
        let outcome = submit_and_wait(&requester, &bus, &request, &args).await;
        close(requester, bus).await;
        outcome
    })
}

async fn submit_and_wait(
    requester: &Requester,
    bus: &Arc<AmqpBus>,
    request: &SubmitRequest,
    args: &SubmitArgs,
) -> CliResult {
    // Armed before anything is sent: an interrupt at any point says how to follow the cases.
    let stop = passerelle_party::signals::armed(passerelle_party::signals::shutdown_signal()).await;
    tokio::pin!(stop);
    // The rejection report, exactly as `requester check` writes it.
    let format = if args.json { ReportFormat::Json } else { ReportFormat::Human };
    let out: Box<dyn Write> = match format {
        ReportFormat::Json => Box::new(BufWriter::new(io::stdout())),
        ReportFormat::Human => Box::new(BufWriter::new(io::stderr())),
    };
    let mut report = ReportWriter::new(format, out);
    let mut report_error = None;
    let prepared = requester.prepare(request, &mut |rejection| {
        if let Err(e) = report.rejection(rejection) {
            report_error.get_or_insert(e);
        }
    });
    if let Some(e) = report_error {
        return Err(Failure::Runtime(anyhow!(e).context("cannot write the report")));
    }
    let submitted = match prepared {
        Ok(s) => s,
        Err(e @ (RequesterError::Strict { .. } | RequesterError::NothingValid { .. })) => {
            let _ = report.into_inner().flush();
            eprintln!("passerelle: {e}");
            return Ok(Outcome::Rejections);
        }
        Err(RequesterError::Unusable { path, source }) => {
            report.unusable(&source).context("cannot write the report")?;
            let what = format!("unusable selection file {}, nothing was sent", path.display());
            return Err(Failure::Usage(anyhow!(source).context(what)));
        }
        Err(e) => return Err(failure(e)),
    };
    report.summary(&submitted.selection).context("cannot write the report")?;
    drop(report);

    let sending = Progress::new("{spinner} sending {pos}/{len} persons [{bar:30}] {elapsed}", "sending persons");
    sending.bar().set_length(submitted.selection.valid);
    let case_ids = submitted.case_ids();
    let sent = tokio::select! {
        r = requester.send(&case_ids, sending.bar()) => Some(r),
        _ = &mut stop => None,
    };
    sending.finish();
    match sent {
        Some(r) => r.map_err(failure)?,
        None => {
            eprintln!("{}", requester_wait::interrupted(&args.config, &submitted.cases, true));
            return Ok(Outcome::Interrupted);
        }
    }
    for (case, observatory, persons) in &submitted.cases {
        eprintln!("case {case} sent to {observatory}: {persons} person(s)");
    }
    let mut rejections = submitted.selection.rejected > 0;
    if args.detach {
        eprintln!(
            "submission {} sent; `passerelle requester run --config {}` receives the results",
            submitted.submission,
            args.config.display()
        );
        return Ok(if rejections { Outcome::Rejections } else { Outcome::Success });
    }

    let consumer = requester.listen().await.map_err(failure)?;
    let mut observatories: Vec<String> = submitted.cases.iter().map(|(_, o, _)| o.clone()).collect();
    observatories.dedup();
    eprintln!(
        "waiting for the results of {} case(s) from {} (Ctrl-C stops waiting; the cases stay open)",
        submitted.cases.len(),
        observatories.join(", ")
    );
    let waiting = Progress::new("{spinner} waiting for results: {pos}/{len} {msg} {elapsed}", "waiting for results");
    let said = waiting.bar().clone();
    let watch = requester_wait::watch_observatories(Arc::clone(bus), observatories, move |line| {
        said.suspend(|| eprintln!("{line}"))
    });
    let deadline = requester.wait_deadline(submitted.submission).map_err(failure)?;
    let cases = submitted.case_ids();
    let waited = tokio::select! {
        r = requester.wait_for_results(&cases, waiting.bar(), Some(deadline)) => Some(r),
        _ = &mut stop => None,
    };
    watch.abort();
    waiting.finish();
    consumer.stop().await;
    let records = match waited {
        Some(r) => r.map_err(failure)?,
        None => {
            eprintln!("{}", requester_wait::interrupted(&args.config, &submitted.cases, false));
            return Ok(Outcome::Interrupted);
        }
    };
    if records.iter().any(|c| !c.state.is_settled()) {
        return Err(Failure::Runtime(anyhow!(
            "no result before the deadline for some cases; `passerelle requester run` keeps listening for them"
        )));
    }
    let (written, summary) = requester.write_result(submitted.submission).map_err(failure)?;
    eprint!("{}", render_summary(&summary));
    rejections |= written.refused > 0;
    Ok(if rejections { Outcome::Rejections } else { Outcome::Success })
}

/// `requester run`: the daemon, through the bootstrap of every party (passerelle_party).
pub fn run(args: ConfigArgs) -> CliResult {
    let settings = PartySettings::load(PartyKind::Requester, &args.config)?;
    passerelle_party::run_daemon(settings).map_err(|e| Failure::of_party(e, &args.config))?;
    Ok(Outcome::Success)
}

/// `requester status`: every case, its state, and the observatory's refusals with reasons.
pub fn status(args: StatusArgs) -> CliResult {
    let settings = load_local_settings(&args.config)?;
    let clock = clock(&settings);
    let requester = offline(settings, clock)?;
    let mut out = io::stdout().lock();
    let mut refused = false;
    for (case, submission) in requester.status().map_err(failure)? {
        let summary = requester.case_summary(&case).map_err(failure)?;
        refused |= case.state == CaseState::Refused || !summary.refused_persons.is_empty();
        if args.json {
            let line = serde_json::json!({
                "format": super::json::REQUESTER_CASE,
                "case": summary,
                "submission": submission.id.to_string(),
                "submitted_at": passerelle_requester::export::rfc3339(submission.submitted_at),
                "purge_after": passerelle_requester::export::rfc3339(submission.purge_after),
                "result_chunks": case.result_chunks,
                "result_chunks_received": case.result_chunks_received,
                "receipt_sent": case.receipt_sent_at.is_some(),
            });
            writeln!(out, "{line}").context("cannot write to stdout")?;
        } else {
            let mut text = String::new();
            render_case(&mut text, &summary);
            let receipt = if case.receipt_sent_at.is_some() { ", receipt sent" } else { "" };
            writeln!(
                out,
                "{text}    submitted {}, purge on {}{receipt}",
                passerelle_requester::export::rfc3339(submission.submitted_at),
                passerelle_requester::export::rfc3339(submission.purge_after)
            )
            .context("cannot write to stdout")?;
        }
    }
    Ok(if refused { Outcome::Rejections } else { Outcome::Success })
}

/// `requester fetch CASE`: writes a case's result again.
pub fn fetch(args: FetchArgs) -> CliResult {
    let settings = load_local_settings(&args.config)?;
    let clock = clock(&settings);
    let case = Uuid::parse_str(args.case.trim())
        .map_err(|_| Failure::Usage(anyhow!("`{}` is not a case id (see `requester status`)", args.case)))?;
    let requester = offline(settings, clock)?;
    let (written, summary) = requester.write_case(case, args.out.as_deref()).map_err(failure)?;
    eprint!("{}", render_summary(&summary));
    Ok(if written.refused > 0 { Outcome::Rejections } else { Outcome::Success })
}

/// `requester purge`: purges now what has reached the end of its retention, and says what went.
pub fn purge(args: PurgeArgs) -> CliResult {
    let settings = load_local_settings(&args.config)?;
    let clock = clock(&settings);
    let requester = offline(settings, clock)?;
    let purge = requester.purge().map_err(failure)?;
    let at = chrono::DateTime::<chrono::Utc>::from(purge.at).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let total = |f: fn(&passerelle_requester::PurgedSubmission) -> u64| purge.submissions.iter().map(f).sum::<u64>();
    let (cases, persons, files) = (total(|s| s.cases), total(|s| s.persons), total(|s| s.files.len() as u64));
    let mut out = io::stdout().lock();
    let text = if args.json {
        let submissions: Vec<_> = purge
            .submissions
            .iter()
            .map(|s| {
                serde_json::json!({
                    "submission": s.id.to_string(), "cases": s.cases, "persons": s.persons, "result_files": s.files.len(),
                })
            })
            .collect();
        let object = serde_json::json!({
            "format": super::json::REQUESTER_PURGE,
            "cut_off": at,
            "retention_days": purge.retention_days,
            "submissions": submissions,
            "total": { "submissions": purge.submissions.len(), "cases": cases, "persons": persons, "result_files": files },
        });
        format!("{object}\n")
    } else {
        let mut text = format!(
            "purged {} submission(s) whose retention ended by {at} (retention_days = {}): {cases} case(s), \
             {persons} person(s), {files} result file(s)\n",
            purge.submissions.len(),
            purge.retention_days
        );
        for s in &purge.submissions {
            text.push_str(&format!(
                "  submission {}: {} case(s), {} person(s), {} result file(s)\n",
                s.id,
                s.cases,
                s.persons,
                s.files.len()
            ));
        }
        text
    };
    out.write_all(text.as_bytes()).context("cannot write to stdout")?;
    Ok(Outcome::Success)
}
