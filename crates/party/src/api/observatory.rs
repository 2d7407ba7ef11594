//! The observatory's local API: what agents read of its store, each call's roles checked here
//! (DESIGN §7.1), and its trails — an agent's reads and the API's refusals in the access log,
//! the registry's changes (who may act) in the audit trail ([`ObservatoryTrail`]).
//!
//! | route | roles | answer | access log |
//! |---|---|---|---|
//! | `GET /v1/audit/entries[?case=ID]` | auditor, observatory-agent | the audit entries (`AuditRecord`s) | `read` of `audit` (or of the case) |
//! | `GET /v1/audit/verify` | auditor, observatory-agent | (in [`super::trails`]) the chain checked read-only and against its witness | `read` of `audit` |
//! | `GET /v1/status` | operator, observatory-agent | [`OperatorStatus`]: counts, ages, bodies answered and late, the next purge, dead-letters by reason and sender | — (no personal datum) |
//! | `GET /v1/queues` | operator | the deployment's queues, depths and consumers, and the consumers where none should be, read from RabbitMQ's management API at `management_url` (`passerelle_management::Queues`; why not, when it cannot be read) | — (names and counts only) |
//! | `GET /v1/purges[?limit=N]` | operator, observatory-agent, auditor | `Purges`: the newest purges done (from their audit entries: case id, when, why, counts; 200 by default, at most 1000) and the next due | — (no personal datum) |
//! | `GET /v1/statistics` | statistics-agent | the statistics store's aggregate tables (`StatisticsReport`) | `read` of `statistics` |
//! | `POST /v1/statistics/follow` `{"pseudonym": P}` | statistics-agent | every appearance of one pseudonym (`Appearance`s) | `read` of `statistics` |
//!
//! A read is recorded before its answer goes: if the access log cannot take it, the caller gets
//! a 500 and no data. **`audit verify` writes nothing to the audit trail it checks** (an entry
//! appended by `verify` would re-seal a truncated trail): its read is in the access log only.
//!
//! The statistics routes take no NIR: a pseudonym is checked for its shape and a NIR is refused
//! without being repeated (400). It travels in the body, never in the path, so that no refusal
//! record quotes it.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use passerelle_access_log::{agent_actor, AccessEntry, AccessKind, Accesses};
use passerelle_agents::{AgentChange, Role};
use passerelle_local_api::{Access, AccessRecorder, ApiError, Caller};
use passerelle_observatory::operator_status::{Purges, ReadParts};
use passerelle_observatory::{AuditTrail, ObservatorySettings, StatusReader};
use passerelle_observatory_store::audit::{Action, AuditEntry};
use passerelle_observatory_store::statistics::{Appearance, StatisticsReport};
use passerelle_observatory_store::{parse_pseudonym, AuditRecord, StatisticsStore};
use serde::{Deserialize, Serialize};

use super::{AccessLogTrail, Trail};

/// The access log's object of a read of the audit trail (show, verify).
const AUDIT_OBJECT: &str = "audit";

/// The access log's object of a read of the statistics store.
const STATISTICS_OBJECT: &str = "statistics";

/// The roles that may read the audit trail.
const AUDIT_READERS: [Role; 2] = [Role::Auditor, Role::ObservatoryAgent];

/// What the handlers read and write.
#[derive(Debug, Clone)]
struct Observatory {
    code: String,
    data_dir: String,
    statistics_db: PathBuf,
    status: StatusReader,
    accesses: Accesses,
    broker: passerelle_bus::BusSettings,
    management_url: Option<String>,
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

/// `?limit=N`.
#[derive(Debug, Deserialize)]
struct LimitQuery {
    limit: Option<usize>,
}

/// The purges `GET /v1/purges` lists by default, and at most.
const DEFAULT_PURGES: usize = 200;
const MAX_PURGES: usize = 1_000;

/// The observatory's routes; the agents' reads recorded in `accesses`.
pub fn routes(settings: &ObservatorySettings, status: StatusReader, accesses: Accesses) -> Router {
    let state = Observatory {
        code: settings.code.clone(),
        data_dir: settings.data_dir.display().to_string(),
        statistics_db: settings.statistics_db_path(),
        status,
        accesses,
        broker: settings.broker.clone(),
        management_url: settings.management_url.clone(),
    };
    Router::new()
        .route("/v1/audit/entries", get(audit_entries))
        .route("/v1/status", get(operator_status))
        .route("/v1/queues", get(queues))
        .route("/v1/purges", get(purges))
        .route("/v1/statistics", get(statistics))
        .route("/v1/statistics/follow", axum::routing::post(follow))
        .with_state(state)
}

async fn statistics(State(o): State<Observatory>, caller: Caller) -> Result<Json<StatisticsReport>, ApiError> {
    caller.require(&[Role::StatisticsAgent])?;
    let actor = actor(&caller);
    blocking(move || {
        let report = StatisticsStore::open(&o.statistics_db)?.report()?;
        o.record_read(actor, STATISTICS_OBJECT)?;
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
        o.record_read(actor, STATISTICS_OBJECT)?;
        Ok(appearances)
    })
    .await
    .map(Json)
}

/// The access log's actor for an agent: `agent:agent-0042`.
fn actor(caller: &Caller) -> String {
    agent_actor(&caller.agent().id)
}

impl Observatory {
    /// Records an agent's read of `object` in the access log, before the answer goes.
    fn record_read(&self, actor: String, object: &str) -> Result<(), ReadError> {
        self.accesses.record(&AccessEntry::new(SystemTime::now(), actor, AccessKind::Read, object))?;
        Ok(())
    }
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
        // A case id that is no identifier is refused by the log: the read is then of `audit`.
        let object = query.case.as_deref().filter(|c| passerelle_protocol::untrusted::is_identifier(c));
        o.record_read(actor, object.unwrap_or(AUDIT_OBJECT))?;
        Ok(entries)
    })
    .await
    .map(Json)
}

async fn operator_status(State(o): State<Observatory>, caller: Caller) -> Result<Json<OperatorStatus>, ApiError> {
    caller.require(&[Role::Operator, Role::ObservatoryAgent])?;
    let status = o.status.clone();
    let parts = blocking(move || Ok(status.operator_status(SystemTime::now())?)).await?;
    Ok(Json(OperatorStatus { observatory: o.code, data_dir: o.data_dir, parts }))
}

/// `GET /v1/queues`: the deployment's queues, their depth and consumers, and the consumers
/// where none should be, read from the RabbitMQ management API at `management_url` (the
/// console's queues page; `ctl status` reads them itself). Names and counts only.
async fn queues(State(o): State<Observatory>, caller: Caller) -> Result<Json<passerelle_management::Queues>, ApiError> {
    caller.require(&[Role::Operator])?;
    let Some(url) = o.management_url.clone() else {
        return Ok(Json(passerelle_management::Queues {
            available: false,
            management_url: String::new(),
            vhost: passerelle_bus::definitions::vhost(&o.broker).unwrap_or_default(),
            prefix: o.broker.prefix.clone(),
            queues: Vec::new(),
            unexpected_consumers: Vec::new(),
            message: Some(
                "the observatory's settings name no `management_url`: set it (e.g. \"http://127.0.0.1:15672\", \
                 RabbitMQ's management plugin) to list the queues here; `passerelle ctl status` lists them too."
                    .to_owned(),
            ),
        }));
    };
    let broker = o.broker.clone();
    let report = tokio::task::spawn_blocking(move || passerelle_management::report(&broker, &url, None, None))
        .await
        .map_err(|e| ApiError::internal("cannot read the queues", &e))?;
    Ok(Json(report))
}

async fn purges(
    State(o): State<Observatory>,
    caller: Caller,
    Query(query): Query<LimitQuery>,
) -> Result<Json<Purges>, ApiError> {
    caller.require(&[Role::Operator, Role::ObservatoryAgent, Role::Auditor])?;
    let limit = query.limit.unwrap_or(DEFAULT_PURGES).clamp(1, MAX_PURGES);
    let status = o.status.clone();
    let purges = blocking(move || Ok(status.purges(SystemTime::now(), limit)?)).await?;
    Ok(Json(purges))
}

/// Why a read could not be answered: the store, or the access log that must record it first.
#[derive(Debug, thiserror::Error)]
enum ReadError {
    #[error(transparent)]
    Store(#[from] passerelle_observatory_store::StoreError),
    #[error("the read could not be recorded in the access log: {0}")]
    AccessLog(#[from] passerelle_access_log::AccessLogError),
}

/// Runs a store call off the async threads (SQLite blocks).
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, ReadError> + Send + 'static) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(ApiError::internal("cannot read the observatory's store", &e)),
        Err(e) => Err(ApiError::internal("cannot read the observatory's store", &e)),
    }
}

/// The observatory's trail: the API's refusals in the access log (kind `refused`, as every
/// daemon's, [`AccessLogTrail`]); the registry's changes — a change of who may act — in the
/// audit trail, with the agents before and after.
#[derive(Debug, Clone)]
pub struct ObservatoryTrail {
    pub trail: AuditTrail,
    pub accesses: AccessLogTrail,
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
        self.accesses.record(a);
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
