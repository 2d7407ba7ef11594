//! The responder daemon's routes on its local API (DESIGN §7.1; served by `crates/party`):
//!
//! - `POST /v1/extract` (`responder-admin`): the extract, streamed as the request body by the
//!   agent's CLI (`passerelle responder load`), which reads the file as the agent; the daemon,
//!   which may not be able to read the agent's files, checks and indexes it as
//!   [`load_extract_from`] does (the `--max-loss` guard, `--force`, the good lines indexed and
//!   every rejected line reported with its number, the new index swapped in whole). The query
//!   string carries the options (`encoding=utf-8|windows-1252`, `max_loss=PERCENT`,
//!   `force=true`, `report=human|json`); the answer is a [`LoadAnswer`]: the report, written as
//!   the CLI prints it, and the summary or why the current index was kept. One load at a time
//!   (another one meanwhile: 409 `load_running`); a PostgreSQL source has no extract (409
//!   `not_an_extract_source`). Who loaded which extract is logged: the agent id and the counts,
//!   never a NIR; and recorded in the daemon's access log (`create` by `agent:<id>`, object the
//!   new extract's id) before the new index is installed ([`crate::load`]).
//! - `GET /v1/status` (`operator`, `responder-admin`): a [`ResponderStatus`]: the source, the
//!   extract loaded (its id, persons, size, when it was loaded) and the chunks and persons
//!   answered. Counts only, no personal datum.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::TryStreamExt;
use passerelle_access_log::{agent_actor, Accesses};
use passerelle_local_api::{ApiError, Caller, Role};
use passerelle_selection::{Encoding, ReportFormat, ReportWriter};
use serde::{Deserialize, Serialize};
use tokio_util::io::{StreamReader, SyncIoBridge};

use crate::index::{IndexReader, IndexStats};
use crate::load::{
    check_extract_source, load_extract_from, LoadError, LoadOptions, LoadRecord, DEFAULT_MAX_LOSS_PERCENT,
};
use crate::service::ResponderStats;
use crate::settings::{ResponderSettings, SourceSettings};

/// The roles that may load an extract.
pub const LOAD_ROLES: &[Role] = &[Role::ResponderAdmin];
/// The roles that may read the status.
pub const STATUS_ROLES: &[Role] = &[Role::Operator, Role::ResponderAdmin];

/// The responder's routes: `settings` are the daemon's, `stats` its running totals (`None` when
/// it answers nothing, as in tests of the load alone), `accesses` its access log (the
/// responder's own handle, [`crate::Responder::accesses`]).
pub fn routes(settings: ResponderSettings, stats: Option<Arc<ResponderStats>>, accesses: Accesses) -> Router {
    let state = Arc::new(ResponderApi { settings, stats, accesses, loading: Arc::new(tokio::sync::Mutex::new(())) });
    Router::new().route("/v1/extract", post(load)).route("/v1/status", get(status)).with_state(state)
}

#[derive(Debug)]
struct ResponderApi {
    settings: ResponderSettings,
    stats: Option<Arc<ResponderStats>>,
    /// Where each load is recorded.
    accesses: Accesses,
    /// Held for the whole of a load: one at a time.
    loading: Arc<tokio::sync::Mutex<()>>,
}

/// The extract's encoding, in the query string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum EncodingName {
    #[default]
    #[serde(rename = "utf-8")]
    Utf8,
    #[serde(rename = "windows-1252")]
    Windows1252,
}

impl From<EncodingName> for Encoding {
    fn from(e: EncodingName) -> Encoding {
        match e {
            EncodingName::Utf8 => Encoding::Utf8,
            EncodingName::Windows1252 => Encoding::Windows1252,
        }
    }
}

/// How the report is written: sentences (`human`) or JSON Lines (`json`, docs/JSON.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportName {
    #[default]
    Human,
    Json,
}

/// The options of a load, as the query string of `POST /v1/extract`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadQuery {
    #[serde(default)]
    pub encoding: EncodingName,
    #[serde(default = "default_max_loss")]
    pub max_loss: u8,
    #[serde(default)]
    pub force: bool,
    #[serde(default)]
    pub report: ReportName,
}

fn default_max_loss() -> u8 {
    DEFAULT_MAX_LOSS_PERCENT
}

impl LoadQuery {
    /// The path and query string of the call.
    pub fn path(&self) -> String {
        let encoding = match self.encoding {
            EncodingName::Utf8 => "utf-8",
            EncodingName::Windows1252 => "windows-1252",
        };
        let report = match self.report {
            ReportName::Human => "human",
            ReportName::Json => "json",
        };
        format!("/v1/extract?encoding={encoding}&max_loss={}&force={}&report={report}", self.max_loss, self.force)
    }
}

/// The answer of `POST /v1/extract`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadAnswer {
    /// The body the responder answers for.
    pub body: String,
    /// The report, as the CLI prints it (sentences, or JSON Lines), empty when nothing was read.
    pub report: String,
    #[serde(flatten)]
    pub outcome: LoadOutcome,
}

/// What the load did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum LoadOutcome {
    /// The new index replaced the current one.
    Loaded(Loaded),
    /// The current index is kept; `error` says why (the error and its causes).
    Kept { failure: FailureKind, error: String },
}

/// A load that replaced the index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Loaded {
    pub lines: u64,
    pub valid: u64,
    pub rejected: u64,
    pub index: IndexStats,
    /// Category columns the body does not hold: not indexed.
    pub ignored_columns: Vec<String>,
    /// Held categories without a column: unknown for everyone.
    pub missing_columns: Vec<String>,
    /// Seconds the load took in the daemon.
    pub elapsed_s: f64,
}

/// Why the current index was kept, by whose doing (the CLI's exit code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The daemon's settings are invalid.
    Settings,
    /// The extract: unusable, no valid line, or over the loss guard.
    Extract,
    /// The daemon could not read the upload to its end or write the index.
    Runtime,
}

impl FailureKind {
    fn of(error: &LoadError) -> FailureKind {
        match error {
            LoadError::Settings(_) | LoadError::NotAnExtractSource => FailureKind::Settings,
            LoadError::Open { .. }
            | LoadError::Unusable(_)
            | LoadError::NothingValid
            | LoadError::TooMuchLoss { .. } => FailureKind::Extract,
            LoadError::Read(_) | LoadError::Report(_) | LoadError::Index(_) | LoadError::AccessLog(_) => {
                FailureKind::Runtime
            }
        }
    }
}

/// `POST /v1/extract`.
async fn load(
    caller: Result<Caller, ApiError>,
    State(api): State<Arc<ResponderApi>>,
    query: Result<Query<LoadQuery>, QueryRejection>,
    body: Body,
) -> Result<Json<LoadAnswer>, ApiError> {
    let (caller, query) = match allowed(caller, query, &api.settings) {
        Ok(allowed) => allowed,
        Err(e) => return Err(drained(body, e).await),
    };
    let Ok(held) = Arc::clone(&api.loading).try_lock_owned() else {
        let busy = ApiError::new(
            StatusCode::CONFLICT,
            "load_running",
            "another extract is being loaded: try again when that load has ended",
        );
        return Err(drained(body, busy).await);
    };
    let agent = caller.agent().id.clone();
    let body_code = api.settings.body.to_string();
    tracing::info!(agent = %agent, body = %body_code, "extract load started through the local API");
    let mut input = SyncIoBridge::new(StreamReader::new(body.into_data_stream().map_err(io::Error::other)));
    let settings = api.settings.clone();
    let options = LoadOptions { encoding: query.encoding.into(), max_loss_percent: query.max_loss, force: query.force };
    let format = match query.report {
        ReportName::Human => ReportFormat::Human,
        ReportName::Json => ReportFormat::Json,
    };
    let record = LoadRecord { accesses: api.accesses.clone(), actor: agent_actor(&agent) };
    let done = tokio::task::spawn_blocking(move || {
        let _held = held;
        let mut report = ReportWriter::new(format, Vec::new()).with_noun("line");
        let result = load_extract_from(&settings, &mut input, &options, &mut report, &record);
        (result, report.into_inner(), input)
    })
    .await;
    let (result, report, input) = done.map_err(|e| ApiError::internal("the load stopped", &e))?;
    // A file found unusable midway leaves the rest unread: read it, so the answer arrives whole.
    let mut rest = input.into_inner().into_inner();
    while let Ok(Some(_)) = rest.try_next().await {}
    let report = String::from_utf8_lossy(&report).into_owned();
    let outcome = match result {
        Ok(summary) => {
            tracing::info!(
                agent = %agent,
                body = %body_code,
                extract = %summary.index.extract_id,
                lines = summary.lines.lines,
                valid = summary.lines.valid,
                rejected = summary.lines.rejected,
                persons = summary.index.persons,
                "extract loaded through the local API"
            );
            LoadOutcome::Loaded(Loaded {
                lines: summary.lines.lines,
                valid: summary.lines.valid,
                rejected: summary.lines.rejected,
                index: summary.index,
                ignored_columns: summary.ignored_columns.iter().map(|c| (*c).to_owned()).collect(),
                missing_columns: summary.missing_columns.iter().map(|c| (*c).to_owned()).collect(),
                elapsed_s: summary.elapsed.as_secs_f64(),
            })
        }
        Err(error) => {
            let failure = FailureKind::of(&error);
            let error = chain(&error);
            tracing::info!(agent = %agent, body = %body_code, failure = ?failure, error = %error,
                "extract not loaded through the local API: the current index is kept");
            LoadOutcome::Kept { failure, error }
        }
    };
    Ok(Json(LoadAnswer { body: body_code, report, outcome }))
}

/// The caller and the options, if the call may go on: the role, options understood, an extract
/// source.
fn allowed(
    caller: Result<Caller, ApiError>,
    query: Result<Query<LoadQuery>, QueryRejection>,
    settings: &ResponderSettings,
) -> Result<(Caller, LoadQuery), ApiError> {
    let caller = caller?;
    caller.require(LOAD_ROLES)?;
    let Query(query) = query.map_err(|e| {
        ApiError::bad_request(format!(
            "the load's options are not understood ({}): encoding=utf-8|windows-1252, max_loss=0..100, \
             force=true|false, report=human|json",
            e.body_text()
        ))
    })?;
    if query.max_loss > 100 {
        return Err(ApiError::bad_request(format!("max_loss is a percentage (0 to 100), not {}", query.max_loss)));
    }
    match check_extract_source(settings) {
        Ok(()) => Ok((caller, query)),
        Err(e @ LoadError::NotAnExtractSource) => {
            Err(ApiError::new(StatusCode::CONFLICT, "not_an_extract_source", e.to_string()))
        }
        Err(e) => Err(ApiError::internal("the responder's settings are invalid", &e)),
    }
}

/// `error`, once the upload is read to its end and dropped: the CLI streams the extract as it
/// sends the request, and an answer given while it still writes would reach it as a broken
/// connection rather than as the refusal.
async fn drained(body: Body, error: ApiError) -> ApiError {
    let mut stream = body.into_data_stream();
    while let Ok(Some(_)) = stream.try_next().await {}
    error
}

/// An error and its causes, `: `-separated (as the CLI shows an error).
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The answer of `GET /v1/status`: counts and ages, no personal datum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponderStatus {
    pub body: String,
    /// `extract` or `postgres`.
    pub source: String,
    /// The categories it answers (codes).
    pub held: Vec<String>,
    /// The extract loaded (an extract source with an index), else `null`.
    pub extract: Option<ExtractStatus>,
    /// What it answered since it started (`null` when the daemon answers nothing).
    pub answered: Option<AnsweredStatus>,
}

/// The extract the responder answers from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtractStatus {
    pub id: String,
    pub persons: u64,
    /// The index's size on disk.
    pub bytes: u64,
    /// When it was loaded (RFC 3339, UTC).
    pub loaded_at: String,
    /// Seconds since then.
    pub age_s: u64,
}

/// Running totals since the daemon started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnsweredStatus {
    pub chunks: u64,
    pub persons: u64,
    pub found: u64,
    pub refused: u64,
}

/// `GET /v1/status`.
async fn status(caller: Caller, State(api): State<Arc<ResponderApi>>) -> Result<Json<ResponderStatus>, ApiError> {
    caller.require(STATUS_ROLES)?;
    let settings = &api.settings;
    let held = settings.validate().map_err(|e| ApiError::internal("the responder's settings are invalid", &e))?;
    let (source, extract) = match &settings.source {
        SourceSettings::Postgres(_) => ("postgres", None),
        SourceSettings::Extract(_) => {
            let path = settings.index_path();
            let body = settings.body.to_string();
            let read = tokio::task::spawn_blocking(move || extract_status(&path, body)).await;
            ("extract", read.map_err(|e| ApiError::internal("cannot read the extract index", &e))?)
        }
    };
    let answered = api.stats.as_ref().map(|stats| {
        let s = stats.snapshot();
        AnsweredStatus { chunks: s.chunks, persons: s.persons, found: s.found, refused: s.refused }
    });
    Ok(Json(ResponderStatus {
        body: settings.body.to_string(),
        source: source.to_owned(),
        held: held.iter().map(|c| c.code().to_owned()).collect(),
        extract,
        answered,
    }))
}

/// The index at `path`, if there is a readable one of `body`'s (else `None`, logged).
fn extract_status(path: &Path, body: String) -> Option<ExtractStatus> {
    let meta = std::fs::metadata(path).ok()?;
    let info = match IndexReader::new(path.to_owned(), body).info() {
        Ok(info) => info,
        Err(e) => {
            tracing::warn!(error = %e, "status: the extract index cannot be read");
            return None;
        }
    };
    let loaded = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    let age_s = SystemTime::now().duration_since(loaded).map(|d| d.as_secs()).unwrap_or(0);
    Some(ExtractStatus {
        id: info.extract_id,
        persons: info.persons,
        bytes: meta.len(),
        loaded_at: chrono::DateTime::<chrono::Utc>::from(loaded).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        age_s,
    })
}
