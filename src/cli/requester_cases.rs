//! `passerelle requester submit | run | status | fetch | purge`: the cases of a requesting body,
//! from its selection file to the ranked contact list, and their 24-month retention.
//!
//! `run` is the daemon. The others are calls of its local API ([`super::requester_api`]): the
//! daemon checks the caller's role (`prevention-agent` of its office; `requester-admin` for
//! `purge`), reads and writes its store, and streams result files, which this process writes as
//! the calling agent. `submit` streams the selection to the daemon, which checks it exactly as
//! `requester check` does; the report comes back line by line and is written as `check` writes it.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use passerelle_local_api::Client;
use passerelle_party::{PartyKind, PartySettings};
use passerelle_protocol::rules::DEFAULT_RESPOND_BY;
use passerelle_protocol::{catalogue, offered_service};
use passerelle_requester::api::{CaseStatus, PurgeAnswer, SubmitAnswer, SubmitQuery};
use passerelle_requester::export::render_summary;
use passerelle_requester::service::WAIT_GRACE;
use passerelle_requester::{parse_duration, CaseState, Uuid};
use passerelle_selection::{ReportFormat, ReportWriter};

use super::requester::EncodingArg;
use super::requester_api::{self, failure, fetch_result, query_value, RequesterApi};
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
/// How often a waiting `submit` asks the daemon how its cases stand.
const STATUS_POLL: Duration = Duration::from_millis(500);

/// The long help of `requester submit`.
pub const SUBMIT_HELP: &str = "\
What happens:
  1. The selection is checked exactly as `passerelle requester check --body <your branch>` checks
     it, ages on the day of submission (today in the body's legal time zone; there is no --year):
     a person counts as 55 from the last day of their NIR's birth month (December when the NIR
     gives none), so no one under 55 leaves; a known risk factor must be of your own branch
     (art. 3); hospital stays must be within the twelve months before today. Rejected records
     are reported (line, field, reason) and the valid ones go on — unless --strict, where any
     rejection stops everything before anything is stored or sent.
  2. The file is read by this command, as you, and streamed to the requester daemon, which checks
     your role (prevention-agent of its office) and checks the file. Names, addresses, e-mails
     and phones are kept in the daemon's own store and never sent. Persons are grouped by the observatory competent for their residence commune:
     one case per observatory, sent in chunks carrying NIR, former NIRs, sex, birth year,
     commune and the risk-factor columns of the selection.
  3. Unless --detach, the command waits for every case's result or refusal (progress on stderr:
     a bar on a terminal, a line every 10 s at most otherwise), then the daemon ranks the
     contact list and streams it, and this command writes it where you ask. The daemon receives
     the results, sends each case's receipt so the observatory forgets it, and keeps its own
     copy of the files (in its out_dir, purged with the case). With --detach, follow the cases
     with `requester status` and get a result with `requester fetch`.

Result files, written by this command as you, mode 0600 (--out FILE; default ./<submission id>): FILE.csv (same separator and
encoding as the selection) and FILE.jsonl, or only one with a .csv / .jsonl extension, plus
FILE.summary.json (per case: completeness, categories each body declined and why, persons the
observatory refused with the reasons, by selection line). CSV columns: the selection's columns,
then per requested category `<category>` and `<category>__source` (bodies, `|`-separated; `a!b`
when body b disagreed and a's value was kept), per solicited body `status__<body>` (found,
not_found, missing = the body's response left the person out, no_answer), then `score` and `rank`. Cells starting with = + - @ tab or CR are
prefixed with a single quote. Everything is purged 24 months after submission at the latest.

Example:
  passerelle requester submit --socket /run/passerelle/requester-cnaf-caf-13.sock --selection selection.csv \\
      --want 3,family_situation --service prevention-workshop --purpose \"Atelier prévention des chutes\" \\
      --respond-by 7d";

#[derive(Debug, clap::Args)]
pub struct SubmitArgs {
    #[command(flatten)]
    pub api: RequesterApi,
    /// The selection file (CSV with a header row; see `requester check --help`), read as you.
    #[arg(long, value_name = "FILE")]
    pub selection: PathBuf,
    /// The categories to learn: codes and/or whole domains, comma-separated (`3,4,rsa`).
    #[arg(long, value_name = "CATEGORIES")]
    pub want: String,
    /// The service offered to the persons (art. 3), a code of the closed list; sent to the
    /// observatory only.
    #[arg(long, value_name = "CODE", value_parser = service_codes())]
    pub service: String,
    /// The service in words, a short text sent to the observatory only (default: the code's
    /// French label; required with `--service other`).
    #[arg(long, value_name = "TEXT")]
    pub purpose: Option<String>,
    /// How long the observatory has to answer: `7d`, `36h`, `30m`, `90s` (at most 21 days).
    #[arg(long, value_name = "DURATION")]
    pub respond_by: Option<String>,
    /// Where to write the result (see below).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Send nothing if any record is rejected.
    #[arg(long)]
    pub strict: bool,
    /// Return once the cases are sent; `requester status` follows them, `requester fetch` gets
    /// a result.
    #[arg(long)]
    pub detach: bool,
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
    #[command(flatten)]
    pub api: RequesterApi,
    /// One JSON object on stdout instead of sentences.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub api: RequesterApi,
    /// One JSON object per case on stdout instead of sentences.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct FetchArgs {
    #[command(flatten)]
    pub api: RequesterApi,
    /// The case id (from `submit` or `status`).
    #[arg(value_name = "CASE")]
    pub case: String,
    /// Where to write it, as you, mode 0600: FILE.csv and FILE.jsonl (only one with a .csv or
    /// .jsonl extension) and FILE.summary.json (default ./<case id>).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// The `--service` codes, each with its French meaning for `--help`.
fn service_codes() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(
        offered_service::OFFERED_SERVICES.iter().map(|i| clap::builder::PossibleValue::new(i.code).help(i.label)),
    )
}

/// `requester submit`.
pub fn submit(args: SubmitArgs) -> CliResult {
    // The flags the daemon would refuse, refused here first (no daemon needed to say so).
    catalogue::parse_list(&args.want).map_err(|e| Failure::Usage(anyhow!(e).context("--want")))?;
    let respond_by = match &args.respond_by {
        Some(text) => parse_duration(text).map_err(|e| Failure::Usage(anyhow!(e).context("--respond-by")))?,
        None => DEFAULT_RESPOND_BY,
    };
    let client = args.api.client()?;
    let query = SubmitQuery {
        want: args.want.clone(),
        service: args.service.clone(),
        purpose: args.purpose.clone(),
        respond_by: args.respond_by.clone(),
        strict: args.strict,
        year: None,
        encoding: Some(match args.encoding {
            EncodingArg::Utf8 => "utf-8".to_owned(),
            EncodingArg::Windows1252 => "windows-1252".to_owned(),
        }),
        name: args.selection.file_name().map(|n| n.to_string_lossy().into_owned()),
    };
    requester_api::runtime()?.block_on(submit_and_wait(&client, &query, respond_by, &args))
}

/// The query string of `POST /v1/cases`.
fn submit_path(q: &SubmitQuery) -> String {
    let mut path = format!("/v1/cases?want={}&service={}", query_value(&q.want), query_value(&q.service));
    if let Some(respond_by) = &q.respond_by {
        path.push_str(&format!("&respond_by={}", query_value(respond_by)));
    }
    if q.strict {
        path.push_str("&strict=true");
    }
    if let Some(purpose) = &q.purpose {
        path.push_str(&format!("&purpose={}", query_value(purpose)));
    }
    if let Some(encoding) = &q.encoding {
        path.push_str(&format!("&encoding={encoding}"));
    }
    if let Some(name) = &q.name {
        path.push_str(&format!("&name={}", query_value(name)));
    }
    path
}

async fn submit_and_wait(client: &Client, query: &SubmitQuery, respond_by: Duration, args: &SubmitArgs) -> CliResult {
    // Armed before anything is sent: an interrupt at any point says how to follow the cases.
    let stop = passerelle_party::signals::armed(passerelle_party::signals::shutdown_signal()).await;
    tokio::pin!(stop);
    let sending = Progress::new("{spinner} sending the selection {elapsed}", "sending the selection");
    let path = submit_path(query);
    let answer = tokio::select! {
        a = client.upload::<SubmitAnswer>(&path, &args.selection) => Some(a),
        _ = &mut stop => None,
    };
    sending.finish();
    let Some(answer) = answer else {
        eprintln!(
            "interrupted while the selection was sent: whether the daemon stored it, `passerelle requester status {}` says",
            args.api.flags()
        );
        return Ok(Outcome::Interrupted);
    };
    let answer = answer.map_err(|e| match e {
        passerelle_local_api::ClientError::File { .. } => Failure::Usage(anyhow!(e)),
        e => failure(e),
    })?;
    // The rejection report, exactly as `requester check` writes it.
    let format = if args.json { ReportFormat::Json } else { ReportFormat::Human };
    let out: Box<dyn Write> = match format {
        ReportFormat::Json => Box::new(BufWriter::new(io::stdout())),
        ReportFormat::Human => Box::new(BufWriter::new(io::stderr())),
    };
    let mut report = ReportWriter::new(format, out);
    let (submission, cases, rejected) = match answer {
        SubmitAnswer::Submitted { report: lines, selection, submission, cases } => {
            for l in &lines {
                report.problem(l.line, l.field.as_deref(), &l.reason).context("cannot write the report")?;
            }
            report.summary(&selection).context("cannot write the report")?;
            (submission, cases, selection.rejected > 0)
        }
        SubmitAnswer::NothingSent { report: lines, reason } => {
            for l in &lines {
                report.problem(l.line, l.field.as_deref(), &l.reason).context("cannot write the report")?;
            }
            let _ = report.into_inner().flush();
            eprintln!("passerelle: {reason}");
            return Ok(Outcome::Rejections);
        }
        SubmitAnswer::Unusable { report: lines, problems, header, reason } => {
            for l in lines.iter().chain(problems.iter().filter(|_| header || args.json)) {
                report.problem(l.line, l.field.as_deref(), &l.reason).context("cannot write the report")?;
            }
            let _ = report.into_inner().flush();
            let what = format!("unusable selection file {}, nothing was sent", args.selection.display());
            return Err(Failure::Usage(anyhow!(reason).context(what)));
        }
    };
    drop(report);
    for c in &cases {
        eprintln!("case {} sent to {}: {} person(s)", c.case, c.observatory, c.persons);
    }
    if args.detach {
        eprintln!(
            "submission {submission} sent; the requester daemon receives the results: \
             `passerelle requester status {}` follows the cases",
            args.api.flags()
        );
        return Ok(if rejected { Outcome::Rejections } else { Outcome::Success });
    }

    let mut observatories: Vec<String> = cases.iter().map(|c| c.observatory.clone()).collect();
    observatories.dedup();
    eprintln!(
        "waiting for the results of {} case(s) from {} (Ctrl-C stops waiting; the cases stay open)",
        cases.len(),
        observatories.join(", ")
    );
    let waiting = Progress::new("{spinner} waiting for results: {pos}/{len} {msg} {elapsed}", "waiting for results");
    waiting.bar().set_length(cases.len() as u64);
    let deadline = Instant::now() + respond_by + WAIT_GRACE;
    let waited = tokio::select! {
        r = wait_settled(client, submission, &waiting, deadline) => Some(r),
        _ = &mut stop => None,
    };
    waiting.finish();
    let settled = match waited {
        Some(r) => r.map_err(failure)?,
        None => {
            eprintln!("{}", requester_wait::interrupted(&args.api.flags(), &cases));
            return Ok(Outcome::Interrupted);
        }
    };
    if !settled {
        return Err(Failure::Runtime(anyhow!(
            "no result before the deadline for some cases; the requester daemon keeps listening for them \
             (`passerelle requester status {}`)",
            args.api.flags()
        )));
    }
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from(submission.to_string()));
    let written = fetch_result(client, &format!("submissions/{submission}"), &out).await.map_err(failure)?;
    eprint!("{}", render_summary(&written.summary));
    Ok(if rejected || written.refused > 0 { Outcome::Rejections } else { Outcome::Success })
}

/// Asks the daemon how the submission's cases stand until all are settled (true) or the
/// deadline passes (false).
async fn wait_settled(
    client: &Client,
    submission: Uuid,
    progress: &Progress,
    deadline: Instant,
) -> Result<bool, passerelle_local_api::ClientError> {
    let path = format!("/v1/cases?submission={submission}");
    loop {
        let statuses: Vec<CaseStatus> = client.get_json(&path).await?;
        let settled = statuses.iter().filter(|s| s.case.state.is_settled()).count();
        progress.bar().set_position(settled as u64);
        if settled == statuses.len() {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(STATUS_POLL).await;
    }
}

/// `requester run`: the daemon, through the bootstrap of every party (passerelle_party).
pub fn run(args: ConfigArgs) -> CliResult {
    let settings = PartySettings::load(PartyKind::Requester, &args.config)?;
    passerelle_party::run_daemon(settings).map_err(|e| Failure::of_party(e, &args.config))?;
    Ok(Outcome::Success)
}

/// `requester status`: every case of the daemon's office, its state, and the observatory's
/// refusals with reasons.
pub fn status(args: StatusArgs) -> CliResult {
    let client = args.api.client()?;
    let statuses: Vec<CaseStatus> = requester_api::call(client.get_json("/v1/cases"))?;
    let mut out = io::stdout().lock();
    let mut refused = false;
    for s in &statuses {
        refused |= s.case.state == CaseState::Refused || !s.case.refused_persons.is_empty();
        if args.json {
            let line = serde_json::json!({
                "format": super::json::REQUESTER_CASE,
                "case": s.case,
                "submission": s.submission.to_string(),
                "submitted_at": s.submitted_at,
                "purge_after": s.purge_after,
                "result_chunks": s.result_chunks,
                "result_chunks_received": s.result_chunks_received,
                "receipt_sent": s.receipt_sent,
            });
            writeln!(out, "{line}").context("cannot write to stdout")?;
        } else {
            let receipt = if s.receipt_sent { ", receipt sent" } else { "" };
            writeln!(out, "{}    submitted {}, purge on {}{receipt}", s.text, s.submitted_at, s.purge_after)
                .context("cannot write to stdout")?;
        }
    }
    Ok(if refused { Outcome::Rejections } else { Outcome::Success })
}

/// `requester fetch CASE`: the daemon writes the case's result again and streams it; it is
/// written here, as the calling agent, 0600.
pub fn fetch(args: FetchArgs) -> CliResult {
    let case = Uuid::parse_str(args.case.trim())
        .map_err(|_| Failure::Usage(anyhow!("`{}` is not a case id (see `requester status`)", args.case)))?;
    let client = args.api.client()?;
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from(case.to_string()));
    let written = requester_api::runtime()?.block_on(fetch_result(&client, &format!("cases/{case}"), &out)).map_err(
        |e| match e {
            passerelle_local_api::ClientError::File { .. } => Failure::Runtime(anyhow!(e)),
            e => failure(e),
        },
    )?;
    eprint!("{}", render_summary(&written.summary));
    Ok(if written.refused > 0 { Outcome::Rejections } else { Outcome::Success })
}

/// `requester purge`: the daemon purges now what has reached the end of its retention, and
/// this says what went.
pub fn purge(args: PurgeArgs) -> CliResult {
    let client = args.api.client()?;
    let purge: PurgeAnswer = requester_api::call(client.post_json("/v1/purge", &()))?;
    let at = &purge.cut_off;
    let total = |f: fn(&passerelle_requester::api::PurgedSummary) -> u64| purge.submissions.iter().map(f).sum::<u64>();
    let (cases, persons, files) = (total(|s| s.cases), total(|s| s.persons), total(|s| s.result_files));
    let mut out = io::stdout().lock();
    let text = if args.json {
        let submissions: Vec<_> = purge
            .submissions
            .iter()
            .map(|s| {
                serde_json::json!({
                    "submission": s.submission.to_string(), "cases": s.cases, "persons": s.persons, "result_files": s.result_files,
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
                s.submission, s.cases, s.persons, s.result_files
            ));
        }
        text
    };
    out.write_all(text.as_bytes()).context("cannot write to stdout")?;
    Ok(Outcome::Success)
}
