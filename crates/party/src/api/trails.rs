//! Every daemon's access-log routes, for its `auditor`s (`passerelle access-log show|verify`):
//!
//! | route | roles | answer |
//! |---|---|---|
//! | `GET /v1/access-log/entries[?year=Y&from=N&limit=L]` | auditor | [`AccessLogPage`]: the entries of one year's chain from rank `from`, a person only as "held" or "dropped"; recorded as a `read` of `access-log` |
//! | `GET /v1/access-log/verify` | auditor | [`TrailReport`]: the chain checked read-only, then against every checkpoint the witness holds (fetched over the broker) |
//! | `GET /v1/audit/verify` (observatory) | auditor, observatory-agent | [`TrailReport`] of the audit trail, the same way; recorded as a `read` of `audit` in the access log |
//!
//! `verify` writes nothing to the trail it checks: verifying the access log is recorded at the
//! observatory in the audit trail (`cli_read`), elsewhere in the daemon's log; verifying the audit
//! trail in the access log.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use passerelle_access_log::{agent_actor, AccessEntry, AccessKind, Accesses, StoredEntry};
use passerelle_agents::Role;
use passerelle_local_api::{ApiError, Caller};
use passerelle_observatory::AuditTrail;
use passerelle_observatory_store::audit::{Action, AuditEntry};
use passerelle_protocol::rules::Clock;
use passerelle_trails::{Checkpointer, TrailReport};
use serde::{Deserialize, Serialize};

/// At most this many entries per page.
pub const MAX_PAGE: usize = 10_000;

/// What the routes read and write.
#[derive(Debug, Clone)]
pub struct TrailsApi {
    pub accesses: Accesses,
    pub checkpointer: Arc<Checkpointer>,
    /// How long `verify` waits for the witness.
    pub timeout: Duration,
    /// The observatory's audit trail, where verifying the access log is recorded.
    pub audit: Option<AuditTrail>,
    pub clock: Arc<dyn Clock>,
}

/// `?year=&from=&limit=`.
#[derive(Debug, Deserialize)]
struct PageQuery {
    year: Option<i32>,
    from: Option<i64>,
    limit: Option<usize>,
}

/// One page of the access log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessLogPage {
    /// The years the log holds a chain for, oldest first.
    pub years: Vec<i32>,
    /// The year shown (the newest by default).
    pub year: Option<i32>,
    pub entries: Vec<ShownEntry>,
    /// The rank to ask for next (`?from=`), when the year has more.
    pub next: Option<i64>,
}

/// An entry as an auditor sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShownEntry {
    /// `2026#17`.
    pub entry: String,
    /// RFC 3339, UTC.
    pub at: String,
    pub agent: String,
    pub kind: String,
    pub object: String,
    /// `held` (the person's keyed hash is kept), `dropped` (the holder's cap passed), or
    /// absent for an access to no one in particular. The hash itself is never shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
}

impl From<StoredEntry> for ShownEntry {
    fn from(e: StoredEntry) -> ShownEntry {
        let person = match (e.concerns_person, e.person.is_some()) {
            (false, _) => None,
            (true, true) => Some("held".to_owned()),
            (true, false) => Some("dropped".to_owned()),
        };
        ShownEntry {
            entry: e.position.to_string(),
            at: chrono::DateTime::<chrono::Utc>::from(e.at).to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            agent: e.agent,
            kind: e.kind.as_str().to_owned(),
            object: e.object,
            person,
        }
    }
}

/// The routes.
pub fn routes(api: TrailsApi) -> Router {
    Router::new()
        .route("/v1/access-log/entries", get(entries))
        .route("/v1/access-log/verify", get(verify))
        .route("/v1/audit/verify", get(audit_verify))
        .with_state(api)
}

async fn audit_verify(State(api): State<TrailsApi>, caller: Caller) -> Result<Json<TrailReport>, ApiError> {
    caller.require(&[Role::Auditor, Role::ObservatoryAgent])?;
    let report = verify_trail(&api, "audit", "audit trail").await?;
    let entry = AccessEntry::new(api.clock.now(), agent_actor(&caller.agent().id), AccessKind::Read, "audit");
    let accesses = api.accesses.clone();
    blocking(move || Ok(accesses.record(&entry).map(drop)?)).await?;
    Ok(Json(report))
}

async fn entries(
    State(api): State<TrailsApi>,
    caller: Caller,
    Query(query): Query<PageQuery>,
) -> Result<Json<AccessLogPage>, ApiError> {
    caller.require(&[Role::Auditor])?;
    let actor = agent_actor(&caller.agent().id);
    let page = blocking(move || {
        let log = api.accesses.log();
        let years = log.years()?;
        let year = query.year.or(years.last().copied());
        let limit = query.limit.unwrap_or(1_000).clamp(1, MAX_PAGE);
        let from = query.from.unwrap_or(1).max(1);
        let mut entries = match year {
            Some(year) => log.entries(year, from, limit + 1)?,
            None => Vec::new(),
        };
        let next = (entries.len() > limit).then(|| entries[limit].position.seq);
        entries.truncate(limit);
        api.accesses.record(&AccessEntry::new(api.clock.now(), actor, AccessKind::Read, "access-log"))?;
        Ok(AccessLogPage { years, year, entries: entries.into_iter().map(ShownEntry::from).collect(), next })
    })
    .await?;
    Ok(Json(page))
}

async fn verify(State(api): State<TrailsApi>, caller: Caller) -> Result<Json<TrailReport>, ApiError> {
    caller.require(&[Role::Auditor])?;
    let agent = caller.agent().id.clone();
    let daemon = api.checkpointer.party().to_owned();
    let report = verify_trail(&api, "access-log", "access log").await?;
    match &api.audit {
        Some(audit) => {
            let detail = serde_json::json!({ "command": "access-log verify", "intact": report.intact });
            let entry = AuditEntry::new(SystemTime::now(), Action::CliRead, None, &agent_actor(&agent), detail);
            let audit = audit.clone();
            blocking(move || Ok(audit.append(&entry).map(drop)?)).await?;
        }
        None => tracing::info!(agent = %agent, party = %daemon, intact = report.intact, "the access log was verified"),
    }
    Ok(Json(report))
}

/// Checks the daemon's trail `<daemon>:<trail>` read-only and against its witness; `what` names
/// it in an error.
async fn verify_trail(api: &TrailsApi, trail: &str, what: &str) -> Result<TrailReport, ApiError> {
    let suffix = format!(":{trail}");
    let found = api.checkpointer.trails().iter().find(|t| t.name().ends_with(&suffix)).cloned();
    let found = found.ok_or_else(|| ApiError::not_found(format!("this daemon keeps no {what}")))?;
    passerelle_trails::verify(&api.checkpointer, found.as_ref(), api.timeout)
        .await
        .map_err(|e| ApiError::internal(&format!("cannot verify the {what}"), &e))
}

/// A store error, as the routes report it.
#[derive(Debug, thiserror::Error)]
enum ReadError {
    #[error(transparent)]
    AccessLog(#[from] passerelle_access_log::AccessLogError),
    #[error(transparent)]
    Audit(#[from] passerelle_observatory_store::StoreError),
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, ReadError> + Send + 'static) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(ApiError::internal("cannot read or record in the trails", &e)),
        Err(e) => Err(ApiError::internal("cannot read or record in the trails", &e)),
    }
}
