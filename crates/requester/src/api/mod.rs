//! The requester daemon's local API (DESIGN §7.1): how an agent submits a selection, follows its
//! office's cases, gets a result file and purges — each call's roles checked here, in the
//! daemon, and each call logged with the calling agent's id.
//!
//! | route | roles | answer |
//! |---|---|---|
//! | `POST /v1/cases?want=…&service=CODE[&purpose=…][&respond_by=7d][&strict=true][&encoding=…][&name=…]` (`service` a code of `protocol::offered_service`; `year` refused: ages count on the day of submission), the selection as the body | `prevention-agent` of the daemon's office | [`SubmitAnswer`]: the selection checked exactly as `requester check --body` does (every problem by line), the good lines stored and sent |
//! | `GET /v1/cases[?submission=ID]` | `prevention-agent` of the office | [`CaseStatus`] per case, oldest first |
//! | `POST /v1/cases/{case}/result` | `prevention-agent` of the office | [`ResultAnswer`]: the case's result written again on the daemon's side |
//! | `GET /v1/cases/{case}/result/{file}` | `prevention-agent` of the office | the `csv`, `jsonl` or `summary` file, streamed |
//! | `POST /v1/submissions/{id}/result`, `GET /v1/submissions/{id}/result/{file}` | `prevention-agent` of the office | the same for a submission's consolidated result |
//! | `POST /v1/cases/{case}/person`, body `{"nir": "…"}` | `prevention-agent` of the office | [`PersonAnswer`]: the person's row of the case's contact list ([`person`]) |
//! | `GET /v1/cases/{case}/contacts?after=RANK&limit=N` | `prevention-agent` of the office | [`ContactsAnswer`]: a page of the case's contact list in rank order, names and contacts, no NIR (the console's case page, [`contacts`]) |
//! | `GET /v1/overview` | `operator`, `requester-admin` | [`OverviewAnswer`]: cases per state, the oldest waiting, results and receipts pending, the next purge — counts only, no access-log entry (no personal data, [`overview`]) |
//! | `POST /v1/purge` | `requester-admin` | [`PurgeAnswer`]: what went, and the cut-off |
//! | `GET /v1/worklist?after=CURSOR&limit=N[&pending=true]` | `social-service` of the office, naming the social worker (`x-passerelle-on-behalf-of`, required) | [`WorklistAnswer`]: the office's contact lists in rank order, a page at a time ([`worklist`]) |
//! | `POST /v1/worklist/outcome`, body [`OutcomeQuery`] | `social-service` of the office, naming the social worker | [`OutcomeAnswer`]: the offer's outcome recorded (the latest wins over `declined` and `no_reply`; once `accepted`, another outcome is a 409 `conflict`, `accepted` again the first acceptance), with the person's record when accepted ([`outcome`]) |
//!
//! The result files a call streams are the daemon's (in its `out_dir`, purged with the case);
//! the CLI writes the copy the agent asked for, as the agent, 0600.
//!
//! **Access log** (DESIGN §7.1): a call that gives or changes personal data is recorded in the
//! daemon's access log, the agent as actor, before anything is answered — an entry that cannot
//! be written is a 500 and no data. Per call or per case, and per person where a call gives
//! persons' names: a submission is a `create` per case made; `status` a `read` of `cases` (every case), or of each case listed
//! for `?submission=`; a CSV or JSON Lines result file an `export` of its case (of each case of
//! a submission); a purge a `delete` per case purged; a person looked up a `read` of the case
//! about that person (their keyed hash); a page of a case's contact list a `read` of the case
//! about each person listed (their keyed hash, one transaction per page). The social service's calls name the social worker
//! and the service account together (`agent:<worker>:via:<service>`): a worklist page a `read`
//! of the case about each person listed (their keyed hash; one transaction per page); an outcome an `update` of the case about the person, and an accepted one's
//! record a `transfer` of it too. Refused calls are recorded by the daemon's trail.

pub mod contacts;
pub mod outcome;
pub mod overview;
mod person;
mod submit_request;
pub mod worklist;

pub use contacts::{ContactEntry, ContactsAnswer};
pub use outcome::{OutcomeAnswer, OutcomePerson, OutcomeQuery};
pub use overview::{OverviewAnswer, StateCount};
pub use person::{PersonAnswer, PersonQuery};
pub use worklist::{OfferOutcome, Outcome, WorklistAnswer, WorklistEntry};

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path as UrlPath, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;
use passerelle_access_log::{agent_actor, AccessEntry, AccessKind};
use passerelle_agents::Role;
use passerelle_local_api::{file_response, ApiError, Caller};
use passerelle_selection::{Rejection, UnusableFile};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use crate::export::{render_case, rfc3339, CaseSummary, OutputPaths, Summary};
use crate::service::{Requester, RequesterError};
use crate::store::{CaseState, SubmissionRecord};
use submit_request::submit_request;

/// The folder of the daemon's `data_dir` where an uploaded selection waits while it is checked
/// (0700, the file 0600; deleted once read).
const UPLOADS: &str = "uploads";

/// One problem of the selection, in words: what `requester check` reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportLine {
    pub line: u64,
    pub field: Option<String>,
    pub reason: String,
}

/// A case a submission made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmittedCase {
    pub case: Uuid,
    pub observatory: String,
    pub persons: u64,
}

/// The answer to a submission: the report of its selection, and what was sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum SubmitAnswer {
    /// Stored and sent: one case per competent observatory.
    Submitted {
        report: Vec<ReportLine>,
        selection: passerelle_selection::Summary,
        submission: Uuid,
        cases: Vec<SubmittedCase>,
    },
    /// Nothing stored or sent: `--strict` with rejections, or no valid record; `reason` says which.
    NothingSent { report: Vec<ReportLine>, reason: String },
    /// The file cannot be used (`problems`: the header's, or the one line where it failed;
    /// `header` when they are the header's); nothing stored or sent.
    Unusable { report: Vec<ReportLine>, problems: Vec<ReportLine>, header: bool, reason: String },
}

/// One case as `requester status` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseStatus {
    pub case: CaseSummary,
    pub submission: Uuid,
    pub submitted_at: String,
    pub purge_after: String,
    pub result_chunks: Option<u32>,
    pub result_chunks_received: u32,
    pub receipt_sent: bool,
    /// The case in sentences (`render_case`).
    pub text: String,
}

/// A result written on the daemon's side, ready to be streamed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResultAnswer {
    pub summary: Summary,
    /// Persons in the contact list, and persons the observatory refused.
    pub persons: u64,
    pub refused: u64,
}

/// What a purge removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeAnswer {
    /// The cut-off (RFC 3339).
    pub cut_off: String,
    pub retention_days: u32,
    pub submissions: Vec<PurgedSummary>,
}

/// One submission a purge removed: counts only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgedSummary {
    pub submission: Uuid,
    pub cases: u64,
    pub persons: u64,
    pub result_files: u64,
}

/// The query of `POST /v1/cases`: `requester submit`'s flags.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SubmitQuery {
    /// Categories: codes and/or domains, comma-separated.
    pub want: String,
    /// The service offered, a code of the closed list (`prevention-workshop`…; see
    /// `passerelle_protocol::offered_service`).
    pub service: String,
    /// The service in words; default the code's French label (required for `other`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// `7d`, `36h`…; default the protocol's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub respond_by: Option<String>,
    #[serde(default)]
    pub strict: bool,
    /// Refused when given: a submission counts ages on its own day (`requester check --year`
    /// looks ahead; `submit` does not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub year: Option<u32>,
    /// `utf-8` (default) or `windows-1252`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// The file's name on the agent's side, for messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct StatusQuery {
    submission: Option<String>,
}

/// The requester's routes (see the module's table).
pub fn routes(requester: Requester) -> Router {
    Router::new()
        .route("/v1/cases", post(submit).get(status))
        .route("/v1/cases/{case}/result", post(write_case))
        .route("/v1/cases/{case}/result/{file}", get(case_file))
        .route("/v1/submissions/{id}/result", post(write_submission))
        .route("/v1/submissions/{id}/result/{file}", get(submission_file))
        .route("/v1/cases/{case}/person", post(person::lookup))
        .route("/v1/cases/{case}/contacts", get(contacts::list))
        .route("/v1/overview", get(overview::overview))
        .route("/v1/purge", post(purge))
        .route("/v1/worklist", get(worklist::page))
        .route("/v1/worklist/outcome", post(outcome::record))
        .with_state(requester)
}

/// A prevention agent of this daemon's office, or the 403.
fn prevention_agent(caller: &Caller, requester: &Requester) -> Result<(), ApiError> {
    caller.require_in_office(Role::PreventionAgent, &requester.settings().office)
}

async fn submit(
    State(requester): State<Requester>,
    caller: Result<Caller, ApiError>,
    query: Result<Query<SubmitQuery>, QueryRejection>,
    body: Body,
) -> Result<Json<SubmitAnswer>, ApiError> {
    let checked = caller.and_then(|caller| {
        prevention_agent(&caller, &requester)?;
        let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
        Ok((caller, submit_request(&query)?))
    });
    let (caller, request) = match checked {
        Ok(checked) => checked,
        Err(e) => {
            // Read to its end before answering: a client still sending would see the
            // connection close, not the answer.
            discard(body).await;
            return Err(e);
        }
    };
    let agent = caller.agent().id.clone();
    let upload = receive(&requester, body).await?;
    let checking = requester.clone();
    let file = upload.path.clone();
    let actor = agent_actor(&agent);
    let prepared = tokio::task::spawn_blocking(move || {
        let mut report = Vec::new();
        let input = std::fs::File::open(&file).map_err(RequesterError::Read)?;
        // Each case made is recorded (a `create` by the agent) before the store commits.
        let prepared = checking.prepare_as(&actor, &request, input, &mut |r| report.extend(report_lines(r)));
        Ok::<_, RequesterError>((prepared, report))
    })
    .await
    .map_err(|e| ApiError::internal("cannot check the selection", &e))?;
    drop(upload);
    let (prepared, report) = prepared.map_err(|e| ApiError::internal("cannot read the selection", &e))?;
    let submitted = match prepared {
        Ok(submitted) => submitted,
        Err(e @ (RequesterError::Strict { .. } | RequesterError::NothingValid { .. })) => {
            tracing::info!(agent = %agent, "selection refused whole: {e}");
            return Ok(Json(SubmitAnswer::NothingSent { report, reason: e.to_string() }));
        }
        Err(RequesterError::Unusable { source, .. }) => {
            tracing::info!(agent = %agent, "selection unusable: {source}");
            let (problems, header) = unusable_lines(&source);
            return Ok(Json(SubmitAnswer::Unusable { report, problems, header, reason: source.to_string() }));
        }
        Err(RequesterError::Usage(message)) => return Err(ApiError::bad_request(message)),
        Err(e) => return Err(ApiError::internal("cannot store the selection", &e)),
    };
    tracing::info!(
        agent = %agent,
        submission = %submitted.submission,
        persons = submitted.selection.valid,
        rejected = submitted.selection.rejected,
        "selection submitted"
    );
    if let Err(e) = requester.send(&submitted.case_ids(), &indicatif::ProgressBar::hidden()).await {
        // The cases stay prepared: the daemon's housekeeping sends them.
        return Err(ApiError::internal("the cases are stored but not all sent (the daemon sends them later)", &e));
    }
    let cases = submitted
        .cases
        .iter()
        .map(|(case, observatory, persons)| SubmittedCase {
            case: *case,
            observatory: observatory.clone(),
            persons: *persons,
        })
        .collect();
    Ok(Json(SubmitAnswer::Submitted {
        report,
        selection: submitted.selection,
        submission: submitted.submission,
        cases,
    }))
}

/// An uploaded selection on the daemon's side, deleted when dropped.
struct Upload {
    path: PathBuf,
}

impl Drop for Upload {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Writes the request's body to a private file of the daemon's `data_dir`, as it arrives.
async fn receive(requester: &Requester, body: Body) -> Result<Upload, ApiError> {
    let dir = requester.settings().data_dir.join(UPLOADS);
    passerelle_sqlite::private::create_folder(&dir)
        .map_err(|e| ApiError::internal("cannot make the daemon's uploads folder", &e))?;
    let upload = Upload { path: dir.join(format!("{}.csv", Uuid::now_v7())) };
    let file = passerelle_sqlite::private::create_file(&upload.path)
        .map_err(|e| ApiError::internal("cannot keep the selection sent", &e))?;
    let mut file = tokio::fs::File::from_std(file);
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("the selection broke off while sent: {e}")))?;
        file.write_all(&chunk).await.map_err(|e| ApiError::internal("cannot keep the selection sent", &e))?;
    }
    file.flush().await.map_err(|e| ApiError::internal("cannot keep the selection sent", &e))?;
    Ok(upload)
}

/// Reads a refused upload to its end, keeping nothing.
async fn discard(body: Body) {
    let mut stream = body.into_data_stream();
    while let Some(Ok(_)) = stream.next().await {}
}

fn report_lines(r: &Rejection) -> impl Iterator<Item = ReportLine> + '_ {
    r.problems.iter().map(|p| ReportLine {
        line: r.line,
        field: p.field.map(str::to_owned),
        reason: p.reason.to_string(),
    })
}

/// What `ReportWriter::unusable` would write, and whether they are the header's problems.
fn unusable_lines(e: &UnusableFile) -> (Vec<ReportLine>, bool) {
    match e {
        UnusableFile::Header(problems) => (
            problems
                .iter()
                .map(|p| ReportLine { line: 1, field: p.field().map(str::to_owned), reason: p.to_string() })
                .collect(),
            true,
        ),
        UnusableFile::Io(_) => (Vec::new(), false),
        other => (vec![ReportLine { line: other.line(), field: None, reason: other.to_string() }], false),
    }
}

async fn status(
    State(requester): State<Requester>,
    caller: Caller,
    Query(query): Query<StatusQuery>,
) -> Result<Json<Vec<CaseStatus>>, ApiError> {
    prevention_agent(&caller, &requester)?;
    let submission = match &query.submission {
        Some(text) => Some(parse_id(text, "submission")?),
        None => None,
    };
    let agent = caller.agent().id.clone();
    let reading = requester.clone();
    let (cases, ids) = blocking(move || {
        let (mut out, mut ids) = (Vec::new(), Vec::new());
        for (case, record) in reading.status()? {
            if submission.is_some_and(|s| s != record.id) {
                continue;
            }
            let summary = reading.case_summary(&case)?;
            out.push(case_status(&case, &record, summary));
            ids.push(case.id);
        }
        Ok((out, ids))
    })
    .await?;
    let actor = agent_actor(&agent);
    let entries = match submission {
        None => vec![requester.access_entry(&actor, AccessKind::Read, "cases")],
        Some(_) => requester.case_entries(&actor, AccessKind::Read, &ids),
    };
    record_accesses(&requester, entries).await?;
    tracing::info!(agent = %agent, cases = cases.len(), "cases read");
    Ok(Json(cases))
}

fn case_status(case: &crate::store::CaseRecord, record: &SubmissionRecord, summary: CaseSummary) -> CaseStatus {
    let mut text = String::new();
    render_case(&mut text, &summary);
    CaseStatus {
        case: summary,
        submission: record.id,
        submitted_at: rfc3339(record.submitted_at),
        purge_after: rfc3339(record.purge_after),
        result_chunks: case.result_chunks,
        result_chunks_received: case.result_chunks_received,
        receipt_sent: case.receipt_sent_at.is_some(),
        text,
    }
}

async fn write_case(
    State(requester): State<Requester>,
    caller: Caller,
    UrlPath(case): UrlPath<String>,
) -> Result<Json<ResultAnswer>, ApiError> {
    prevention_agent(&caller, &requester)?;
    let case = parse_id(&case, "case")?;
    let agent = caller.agent().id.clone();
    let answer = blocking(move || {
        let (written, summary) = requester.write_case(case, None)?;
        Ok(ResultAnswer { summary, persons: written.persons, refused: written.refused })
    })
    .await?;
    tracing::info!(agent = %agent, case = %case, persons = answer.persons, "case result exported");
    Ok(Json(answer))
}

async fn write_submission(
    State(requester): State<Requester>,
    caller: Caller,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<ResultAnswer>, ApiError> {
    prevention_agent(&caller, &requester)?;
    let submission = parse_id(&id, "submission")?;
    let agent = caller.agent().id.clone();
    let answer = blocking(move || {
        let (written, summary) = requester.write_result(submission)?;
        Ok(ResultAnswer { summary, persons: written.persons, refused: written.refused })
    })
    .await?;
    tracing::info!(agent = %agent, submission = %submission, persons = answer.persons, "submission result exported");
    Ok(Json(answer))
}

async fn case_file(
    State(requester): State<Requester>,
    caller: Caller,
    UrlPath((case, file)): UrlPath<(String, String)>,
) -> Result<Response, ApiError> {
    prevention_agent(&caller, &requester)?;
    let case = parse_id(&case, "case")?;
    let known = {
        let requester = requester.clone();
        blocking(move || Ok(requester.store().case(case)?)).await?
    };
    let Some(record) = known.filter(|c| c.state != CaseState::Purged) else {
        return Err(ApiError::not_found(format!("no case {case} in this requester's store")));
    };
    let paths = OutputPaths::in_dir(&requester.settings().out_dir, &record.id.to_string());
    let path = result_file(&paths, &file, &case.to_string())?;
    if holds_persons(&file) {
        record_accesses(
            &requester,
            requester.case_entries(&agent_actor(&caller.agent().id), AccessKind::Export, &[case]),
        )
        .await?;
    }
    stream(&caller, path, &file, &case.to_string()).await
}

async fn submission_file(
    State(requester): State<Requester>,
    caller: Caller,
    UrlPath((id, file)): UrlPath<(String, String)>,
) -> Result<Response, ApiError> {
    prevention_agent(&caller, &requester)?;
    let submission = parse_id(&id, "submission")?;
    let known = {
        let requester = requester.clone();
        blocking(move || Ok(requester.store().submission(submission)?)).await?
    };
    let Some(record) = known.filter(|s| s.purged_at.is_none()) else {
        return Err(ApiError::not_found(format!("no submission {submission} in this requester's store")));
    };
    let paths = requester.output_paths(&record);
    let path = result_file(&paths, &file, &submission.to_string())?;
    if holds_persons(&file) {
        let cases = {
            let requester = requester.clone();
            blocking(move || Ok(requester.store().cases_of(submission)?)).await?
        };
        let ids: Vec<Uuid> = cases.iter().map(|c| c.id).collect();
        record_accesses(&requester, requester.case_entries(&agent_actor(&caller.agent().id), AccessKind::Export, &ids))
            .await?;
    }
    stream(&caller, path, &file, &submission.to_string()).await
}

/// Whether a result file holds persons (the contact lists; the summary names none).
fn holds_persons(file: &str) -> bool {
    matches!(file, "csv" | "jsonl")
}

/// Which of `paths` `file` names (`csv`, `jsonl`, `summary`), or the 400 or 404.
fn result_file<'a>(paths: &'a OutputPaths, file: &str, of: &str) -> Result<&'a Path, ApiError> {
    let path: Option<&Path> = match file {
        "csv" => paths.csv.as_deref(),
        "jsonl" => paths.jsonl.as_deref(),
        "summary" => Some(&paths.summary),
        other => {
            return Err(ApiError::bad_request(format!("`{other}` is not a result file: csv, jsonl or summary")));
        }
    };
    path.ok_or_else(|| ApiError::not_found(format!("{of} has no {file} result file")))
}

/// Streams a result file.
async fn stream(caller: &Caller, path: &Path, file: &str, of: &str) -> Result<Response, ApiError> {
    tracing::info!(agent = %caller.agent().id, of = %of, file = %file, "result file sent");
    file_response(path).await
}

async fn purge(State(requester): State<Requester>, caller: Caller) -> Result<Json<PurgeAnswer>, ApiError> {
    caller.require(&[Role::RequesterAdmin])?;
    let agent = caller.agent().id.clone();
    let actor = agent_actor(&agent);
    // Each case purged is recorded (a `delete` by the agent) before the purge commits.
    let purge = blocking(move || requester.purge_as(&actor)).await?;
    tracing::info!(agent = %agent, submissions = purge.submissions.len(), "purge asked by an agent");
    Ok(Json(PurgeAnswer {
        cut_off: chrono::DateTime::<chrono::Utc>::from(purge.at).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        retention_days: purge.retention_days,
        submissions: purge
            .submissions
            .iter()
            .map(|s| PurgedSummary {
                submission: s.id,
                cases: s.cases,
                persons: s.persons,
                result_files: s.files.len() as u64,
            })
            .collect(),
    }))
}

/// Writes `entries` in the access log before the call answers: failing, the call answers a
/// 500 and no data.
async fn record_accesses(requester: &Requester, entries: Vec<AccessEntry>) -> Result<(), ApiError> {
    if entries.is_empty() {
        return Ok(());
    }
    let accesses = requester.accesses().clone();
    match tokio::task::spawn_blocking(move || accesses.record_all(&entries)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(ApiError::internal("cannot write the access log, so nothing is answered", &e)),
        Err(e) => Err(ApiError::internal("cannot write the access log, so nothing is answered", &e)),
    }
}

/// A page's `limit=`: `default` when not given, else a number from 1 to `max` (a 400 saying so).
fn page_limit(given: Option<&str>, default: usize, max: usize) -> Result<usize, ApiError> {
    match given {
        None => Ok(default),
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::bad_request(format!(
                "limit: give a number of entries from 1 to {max} (default {default})"
            ))),
        },
    }
}

fn parse_id(text: &str, what: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text.trim())
        .map_err(|_| ApiError::bad_request(format!("`{text}` is not a {what} id (see `requester status`)")))
}

/// Runs a store call off the async threads (SQLite blocks); an unknown or unsettled case is the
/// agent's 404 or 400, anything else the daemon's 500.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, RequesterError> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e @ (RequesterError::UnknownCase(_) | RequesterError::NotListed { .. }))) => {
            Err(ApiError::not_found(e.to_string()))
        }
        Ok(Err(RequesterError::Usage(message))) => Err(ApiError::bad_request(message)),
        Ok(Err(e @ RequesterError::AlreadyAccepted { .. })) => Err(ApiError::conflict(e.to_string())),
        Ok(Err(e @ RequesterError::NotSettled { .. })) => Err(ApiError::bad_request(e.to_string())),
        Ok(Err(e)) => Err(ApiError::internal("the requester's store failed", &e)),
        Err(e) => Err(ApiError::internal("the requester's store failed", &e)),
    }
}
