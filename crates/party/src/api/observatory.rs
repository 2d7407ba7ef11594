//! The observatory's local API: what agents read of its store, each call's roles checked here
//! (DESIGN §7.1), and its trail — refusals and registry changes as audit entries.
//!
//! | route | roles | answer |
//! |---|---|---|
//! | `GET /v1/audit/entries[?case=ID]` | auditor, observatory-agent | the audit entries (`AuditRecord`s), recorded as a `cli_read` of `audit show` |
//! | `GET /v1/audit/verify` | auditor, observatory-agent | the chain's `Verification`, recorded as a `cli_read` of `audit verify` |
//! | `GET /v1/status` | operator | [`OperatorStatus`]: counts, ages, late bodies, the next purge, dead-letter reasons |
//! | `GET /v1/statistics` | statistics-agent | the statistics store's aggregate tables (`StatisticsReport`), recorded as a `cli_read` of `stats` |
//! | `POST /v1/statistics/follow` `{"pseudonym": P}` | statistics-agent | every appearance of one pseudonym (`Appearance`s), recorded as a `cli_read` of `stats --pseudonym` |
//!
//! The statistics routes take no NIR: a pseudonym is checked for its shape and a NIR is refused
//! without being repeated (400). It travels in the body, never in the path, so that no refusal
//! record quotes it.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use passerelle_agents::{AgentChange, Role};
use passerelle_local_api::{Access, AccessOutcome, AccessRecorder, ApiError, Caller};
use passerelle_observatory::operator_status::ReadParts;
use passerelle_observatory::{AuditTrail, StatusReader};
use passerelle_observatory_store::audit::{Action, AuditEntry};
use passerelle_observatory_store::statistics::{Appearance, StatisticsReport};
use passerelle_observatory_store::{parse_pseudonym, AuditRecord, StatisticsStore, Verification};
use serde::{Deserialize, Serialize};

use super::Trail;

/// The roles that may read the audit trail.
const AUDIT_READERS: [Role; 2] = [Role::Auditor, Role::ObservatoryAgent];

/// What the handlers read and write.
#[derive(Debug, Clone)]
struct Observatory {
    code: String,
    data_dir: String,
    statistics_db: PathBuf,
    status: StatusReader,
    trail: AuditTrail,
}

/// `POST /v1/statistics/follow`'s body.
#[derive(Debug, Serialize, Deserialize)]
pub struct Follow {
    /// A pseudonym as the statistics store holds it (64 hexadecimal digits).
    pub pseudonym: String,
}

/// `GET /v1/status`: the store's part of `ctl status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorStatus {
    pub observatory: String,
    pub data_dir: String,
    #[serde(flatten)]
    pub parts: ReadParts,
}

/// `?case=ID`.
#[derive(Debug, Deserialize)]
struct CaseQuery {
    case: Option<String>,
}

/// The observatory's routes.
pub fn routes(code: &str, data_dir: &Path, statistics_db: &Path, status: StatusReader, trail: AuditTrail) -> Router {
    let state = Observatory {
        code: code.to_owned(),
        data_dir: data_dir.display().to_string(),
        statistics_db: statistics_db.to_owned(),
        status,
        trail,
    };
    Router::new()
        .route("/v1/audit/entries", get(audit_entries))
        .route("/v1/audit/verify", get(audit_verify))
        .route("/v1/status", get(operator_status))
        .route("/v1/statistics", get(statistics))
        .route("/v1/statistics/follow", axum::routing::post(follow))
        .with_state(state)
}

async fn statistics(State(o): State<Observatory>, caller: Caller) -> Result<Json<StatisticsReport>, ApiError> {
    caller.require(&[Role::StatisticsAgent])?;
    let actor = actor(&caller);
    blocking(move || {
        let report = StatisticsStore::open(&o.statistics_db)?.report()?;
        o.trail.append(&read_entry("stats", None, &actor))?;
        Ok(report)
    })
    .await
    .map(Json)
}

async fn follow(
    State(o): State<Observatory>,
    caller: Caller,
    Json(asked): Json<Follow>,
) -> Result<Json<Vec<Appearance>>, ApiError> {
    caller.require(&[Role::StatisticsAgent])?;
    let pseudonym = parse_pseudonym(&asked.pseudonym).map_err(|e| ApiError::bad_request(format!("pseudonym: {e}")))?;
    let actor = actor(&caller);
    blocking(move || {
        let appearances = StatisticsStore::open(&o.statistics_db)?.follow(&pseudonym)?;
        o.trail.append(&read_entry("stats --pseudonym", None, &actor))?;
        Ok(appearances)
    })
    .await
    .map(Json)
}

/// The audit trail's actor for an agent: `agent:agent-0042`.
fn actor(caller: &Caller) -> String {
    format!("agent:{}", caller.agent().id)
}

async fn audit_entries(
    State(o): State<Observatory>,
    caller: Caller,
    Query(query): Query<CaseQuery>,
) -> Result<Json<Vec<AuditRecord>>, ApiError> {
    caller.require(&AUDIT_READERS)?;
    let actor = actor(&caller);
    blocking(move || {
        let entries = o.status.audit_entries(query.case.as_deref())?;
        o.trail.append(&read_entry("audit show", query.case.as_deref(), &actor))?;
        Ok(entries)
    })
    .await
    .map(Json)
}

async fn audit_verify(State(o): State<Observatory>, caller: Caller) -> Result<Json<Verification>, ApiError> {
    caller.require(&AUDIT_READERS)?;
    let actor = actor(&caller);
    blocking(move || {
        let verification = o.status.audit_verify()?;
        o.trail.append(&read_entry("audit verify", None, &actor))?;
        Ok(verification)
    })
    .await
    .map(Json)
}

async fn operator_status(State(o): State<Observatory>, caller: Caller) -> Result<Json<OperatorStatus>, ApiError> {
    caller.require(&[Role::Operator])?;
    let status = o.status.clone();
    let parts = blocking(move || status.operator_status(SystemTime::now())).await?;
    Ok(Json(OperatorStatus { observatory: o.code, data_dir: o.data_dir, parts }))
}

/// The `cli_read` entry of a command that read the trail.
fn read_entry(command: &str, case_id: Option<&str>, actor: &str) -> AuditEntry {
    AuditEntry::new(SystemTime::now(), Action::CliRead, case_id, actor, serde_json::json!({ "command": command }))
}

/// Runs a store call off the async threads (SQLite blocks).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, passerelle_observatory_store::StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(ApiError::internal("cannot read the observatory's store", &e)),
        Err(e) => Err(ApiError::internal("cannot read the observatory's store", &e)),
    }
}

/// The observatory's trail: refusals and registry changes as audit entries.
#[derive(Debug, Clone)]
pub struct ObservatoryTrail {
    pub trail: AuditTrail,
}

impl ObservatoryTrail {
    fn append(&self, entry: AuditEntry) {
        let action = entry.action;
        if let Err(e) = self.trail.append(&entry) {
            tracing::error!(error = %e, action = action.as_str(), "cannot record in the audit trail");
        }
    }
}

impl AccessRecorder for ObservatoryTrail {
    fn record(&self, a: &Access) {
        passerelle_local_api::LogRecorder.record(a);
        let actor = match (&a.agent_id, &a.account, a.uid) {
            (Some(id), _, _) => format!("agent:{id}"),
            (None, Some(account), _) => format!("os-user:{account}"),
            (None, None, Some(uid)) => format!("uid:{uid}"),
            (None, None, None) => "unknown".to_owned(),
        };
        let mut detail = serde_json::json!({ "method": a.method, "path": a.path, "uid": a.uid });
        match &a.outcome {
            AccessOutcome::NotAnAgent => detail["refused"] = "not an authorised agent".into(),
            AccessOutcome::Refused { reason } => detail["refused"] = reason.clone().into(),
        }
        self.append(AuditEntry::new(SystemTime::now(), Action::AccessRefused, None, &actor, detail));
    }
}

impl Trail for ObservatoryTrail {
    fn registry_changed(&self, registry: &Path, changes: &[AgentChange]) {
        super::log_registry_changes(registry, changes);
        for change in changes {
            let detail = serde_json::json!({
                "registry": registry.display().to_string(),
                "account": change.account,
                "change": change.kind(),
                "before": change.before,
                "after": change.after,
            });
            self.append(AuditEntry::new(SystemTime::now(), Action::RegistryChanged, None, "registry-reload", detail));
        }
    }
}
