//! The social-service daemon's local API (DESIGN §7.1, §7.2): each call's roles checked here,
//! in the daemon, and each access to personal data recorded in its access log by the service
//! before the answer.
//!
//! | route | roles | answer |
//! |---|---|---|
//! | `GET /v1/worklist?after=C&limit=N[&pending=true]` | `social-worker` of the office | [`Worklist`], read at the requester for the worker (nothing stored) |
//! | `POST /v1/worklist/outcome`, body [`OutcomeRequest`] | `social-worker` of the office | [`OutcomeView`]: recorded at the requester; for `accepted` the file opened and the values left behind |
//! | `GET /v1/files?state=open\|closed&after=C&limit=N` | `social-worker` of the office | [`FileList`] |
//! | `GET /v1/files/{file}` | `social-worker` of the office | [`FileView`] |
//! | `POST /v1/files/{file}/update`, body [`UpdateRequest`] | `social-worker` of the office | [`Changed`] |
//! | `POST /v1/files/{file}/close`, body [`CloseRequest`] | `social-worker` of the office | [`Changed`] |
//! | `POST /v1/files/{file}/actions`, body [`ActionRequest`] | `social-worker` of the office | [`Changed`] |
//! | `POST /v1/files/{file}/contacts`, body [`ContactRequest`] | `social-worker` of the office | [`Changed`] |
//! | `POST /v1/offers`, body [`OfferRequest`] | `social-worker` of the office | [`Changed`] |
//! | `POST /v1/files/{file}/rights/access` | `rights-officer` | [`AccessAnswer`] (the CLI prints it with [`crate::printable`]) |
//! | `POST /v1/files/{file}/rights/rectify`, body [`UpdateRequest`] | `rights-officer` | [`Changed`] |
//! | `POST /v1/files/{file}/rights/object`, body [`ObjectRequest`] | `rights-officer` | [`RightView`], decision `pending` |
//! | `POST /v1/files/{file}/rights/refuse-archive` | `rights-officer` | [`RightView`] (a file already archived: erased from the archive at once) |
//! | `POST /v1/files/{file}/rights/decide`, body [`DecideRequest`] | `director-delegate` | [`DecisionView`]: the pending objection of the file, live or archived, upheld or refused |
//! | `POST /v1/archive/grants`, body [`GrantRequest`] | `director-delegate` or `medical-officer` (`as` when both) | [`GrantView`]: proposed, its first signature |
//! | `POST /v1/archive/grants/{grant}/sign`, body [`SignRequest`] | the other of the two, another agent | [`GrantView`] |
//! | `POST /v1/archive/grants/{grant}/revoke`, body [`SignRequest`] | `director-delegate` or `medical-officer` | [`GrantView`] |
//! | `GET /v1/archive/grants` | `director-delegate` or `medical-officer` | [`GrantList`] |
//! | `GET /v1/archive/files?purpose=P&after=F&limit=N` | `archive-reader` under a valid grant | [`ArchiveList`] |
//! | `GET /v1/archive/files/{file}?purpose=P` | `archive-reader` under a valid grant | [`ArchivedFileView`] |
//! | `GET /v1/stats?from=YYYY-MM&to=YYYY-MM` | `statistics-agent` | [`passerelle_social_stats::Table`]: the steering statistics, suppressed, office and body level |
//! | `POST /v1/retention/run` | `operator` or `director-delegate` | [`RetentionReport`]: the housekeeping round now (steering months, then the retention pass) |
//! | `GET /v1/overview` | `operator` | [`Overview`]: counts only — files by state, the last retention pass's flags, the transfers in flight, the next round; no person, so no access-log entry |
//! | `GET /v1/retention/flagged` | `social-worker` of the office | [`FlaggedList`]: idle actions, objections pending, files leaving within 30 days (a `read` of each) |
//! | `POST /v1/transfers`, `POST /v1/transfers/release`, `GET /v1/transfers`, `GET /v1/transfers/summary`, `GET /v1/transfers/{id}`, `POST /v1/transfers/{id}/accept`, `POST /v1/transfers/{id}/refuse` | see [`crate::service::transfer_views`] | a file's transfer to another body (norm 43, A.3) |
//!
//! A `statistics-agent` gets a 403 on every other route, an `operator` on every route but
//! `retention/run`, `overview` and `transfers/summary`, a worker of another office on every
//! route (recorded). An archive read without a valid grant is a 403 (`no_grant`), without a
//! purpose of the norm's list a 400; both are `refused` entries of the access log
//! (`api/archive.rs`). The access log's routes (`auditor`) are the party's (`crates/party`).
//!
//! [`Overview`]: crate::service::overview::Overview
//! [`RetentionReport`]: crate::service::retention::RetentionReport
//! [`FlaggedList`]: crate::service::retention_flagged::FlaggedList
//! [`GrantRequest`]: crate::service::archive_views::GrantRequest
//! [`SignRequest`]: crate::service::archive_views::SignRequest
//! [`GrantView`]: crate::service::archive_views::GrantView
//! [`GrantList`]: crate::service::archive_views::GrantList
//! [`ArchiveList`]: crate::service::archive_views::ArchiveList
//! [`ArchivedFileView`]: crate::service::archive_views::ArchivedFileView

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use passerelle_agents::Role;
use passerelle_local_api::{ApiError, Caller, ClientError};
use passerelle_social_file::UpdateError;
use serde::Deserialize;

mod archive;
mod retention;
mod transfers;

use crate::requester_client::{OutcomeRequest, Worklist, WorklistQuery, MAX_WORKLIST_LIMIT};
use crate::service::opposition::{DecideRequest, DecisionView};
use crate::service::views::*;
use crate::service::{SocialService, SocialServiceError};
use crate::store::FileState;

/// The social service's routes (see the module's table).
pub fn routes(service: SocialService) -> Router {
    Router::new()
        .route("/v1/worklist", get(worklist))
        .route("/v1/worklist/outcome", post(outcome))
        .route("/v1/files", get(list))
        .route("/v1/files/{file}", get(show))
        .route("/v1/files/{file}/update", post(update))
        .route("/v1/files/{file}/close", post(close))
        .route("/v1/files/{file}/actions", post(action))
        .route("/v1/files/{file}/contacts", post(contact))
        .route("/v1/offers", post(offer))
        .route("/v1/files/{file}/rights/access", post(rights_access))
        .route("/v1/files/{file}/rights/rectify", post(rights_rectify))
        .route("/v1/files/{file}/rights/object", post(rights_object))
        .route("/v1/files/{file}/rights/refuse-archive", post(rights_refuse_archive))
        .route("/v1/files/{file}/rights/decide", post(rights_decide))
        .route("/v1/archive/grants", get(archive::grants).post(archive::propose))
        .route("/v1/archive/grants/{grant}/sign", post(archive::sign))
        .route("/v1/archive/grants/{grant}/revoke", post(archive::revoke))
        .route("/v1/archive/files", get(archive::files))
        .route("/v1/archive/files/{file}", get(archive::file))
        .route("/v1/stats", get(stats))
        .route("/v1/overview", get(retention::overview))
        .route("/v1/retention/run", post(retention::run))
        .route("/v1/retention/flagged", get(retention::flagged))
        .route("/v1/transfers", get(transfers::list).post(transfers::send))
        .route("/v1/transfers/release", post(transfers::release))
        .route("/v1/transfers/summary", get(transfers::summary))
        .route("/v1/transfers/{id}", get(transfers::show))
        .route("/v1/transfers/{id}/accept", post(transfers::accept))
        .route("/v1/transfers/{id}/refuse", post(transfers::refuse))
        .with_state(service)
}

/// The API's answer to a service error: 404 for a file not of this office, 400 naming the
/// field or the rule, the requester's own status for its refusals, 500 otherwise.
fn api_error(e: SocialServiceError) -> ApiError {
    match e {
        SocialServiceError::NoFile(_) => ApiError::not_found(e.to_string()),
        SocialServiceError::Update(u @ UpdateError::UnknownField { .. }) => {
            ApiError::new(StatusCode::BAD_REQUEST, "unknown_field", u.to_string())
        }
        SocialServiceError::Update(u) => ApiError::new(StatusCode::BAD_REQUEST, "invalid_value", u.to_string()),
        SocialServiceError::Refused(message) => ApiError::bad_request(message),
        SocialServiceError::Requester(ClientError::Refused { status, code, message }) => ApiError::new(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
            &code,
            format!("the requester daemon: {message}"),
        ),
        SocialServiceError::Requester(other) => {
            ApiError::new(StatusCode::BAD_GATEWAY, "requester_unavailable", format!("the requester daemon: {other}"))
        }
        other => ApiError::internal("the social service failed", &other),
    }
}

/// A social worker of the daemon's office: its agent id, or the 403.
fn worker(caller: Result<Caller, ApiError>, service: &SocialService) -> Result<String, ApiError> {
    let caller = caller?;
    caller.require_in_office(Role::SocialWorker, service.office())?;
    Ok(caller.agent().id.clone())
}

/// A rights officer: its agent id, or the 403.
fn rights_officer(caller: Result<Caller, ApiError>) -> Result<String, ApiError> {
    let caller = caller?;
    caller.require(&[Role::RightsOfficer])?;
    Ok(caller.agent().id.clone())
}

fn body<T>(json: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    json.map(|Json(t)| t).map_err(|e| ApiError::bad_request(e.body_text()))
}

/// Runs a store operation off the async workers.
async fn blocking<T: Send + 'static>(
    service: &SocialService,
    f: impl FnOnce(&SocialService) -> Result<T, SocialServiceError> + Send + 'static,
) -> Result<Json<T>, ApiError> {
    blocking_answered(service, f, api_error).await
}

/// [`blocking`], with the routes' own answer to a service error.
pub(super) async fn blocking_answered<T: Send + 'static>(
    service: &SocialService,
    f: impl FnOnce(&SocialService) -> Result<T, SocialServiceError> + Send + 'static,
    answer: fn(SocialServiceError) -> ApiError,
) -> Result<Json<T>, ApiError> {
    let service = service.clone();
    tokio::task::spawn_blocking(move || f(&service))
        .await
        .map_err(|e| ApiError::internal("the social service's task failed", &e))?
        .map(Json)
        .map_err(answer)
}

async fn worklist(
    State(service): State<SocialService>,
    caller: Result<Caller, ApiError>,
    query: Result<Query<WorklistQuery>, QueryRejection>,
) -> Result<Json<Worklist>, ApiError> {
    let agent = worker(caller, &service)?;
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    if query.limit.is_some_and(|l| l == 0 || l > MAX_WORKLIST_LIMIT) {
        return Err(ApiError::bad_request(format!("limit: from 1 to {MAX_WORKLIST_LIMIT}")));
    }
    service.worklist(&agent, &query).await.map(Json).map_err(api_error)
}

async fn outcome(
    State(service): State<SocialService>,
    caller: Result<Caller, ApiError>,
    json: Result<Json<OutcomeRequest>, JsonRejection>,
) -> Result<Json<OutcomeView>, ApiError> {
    let agent = worker(caller, &service)?;
    let request = body(json)?;
    service.outcome(&agent, &request).await.map(Json).map_err(api_error)
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    state: Option<FileState>,
    after: Option<String>,
    limit: Option<usize>,
}

async fn list(
    State(service): State<SocialService>,
    caller: Result<Caller, ApiError>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<FileList>, ApiError> {
    let agent = worker(caller, &service)?;
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    blocking(&service, move |s| s.list(&agent, q.state, q.after.as_deref(), q.limit)).await
}

async fn show(
    State(service): State<SocialService>,
    caller: Result<Caller, ApiError>,
    Path(file): Path<String>,
) -> Result<Json<FileView>, ApiError> {
    let agent = worker(caller, &service)?;
    blocking(&service, move |s| s.show(&agent, &file)).await
}

async fn update(
    State(service): State<SocialService>,
    caller: Result<Caller, ApiError>,
    Path(file): Path<String>,
    json: Result<Json<UpdateRequest>, JsonRejection>,
) -> Result<Json<Changed>, ApiError> {
    let agent = worker(caller, &service)?;
    let request = body(json)?;
    blocking(&service, move |s| s.update(&agent, &file, &request.updates)).await
}

async fn close(
    State(service): State<SocialService>,
    caller: Result<Caller, ApiError>,
    Path(file): Path<String>,
    json: Result<Json<CloseRequest>, JsonRejection>,
) -> Result<Json<Changed>, ApiError> {
    let agent = worker(caller, &service)?;
    let request = body(json)?;
    blocking(&service, move |s| s.close(&agent, &file, &request)).await
}

async fn action(
    State(service): State<SocialService>,
    caller: Result<Caller, ApiError>,
    Path(file): Path<String>,
    json: Result<Json<ActionRequest>, JsonRejection>,
) -> Result<Json<Changed>, ApiError> {
    let agent = worker(caller, &service)?;
    let request = body(json)?;
    blocking(&service, move |s| s.start_action(&agent, &file, &request)).await
}

async fn contact(
    State(service): State<SocialService>,
    caller: Result<Caller, ApiError>,
    Path(file): Path<String>,
    json: Result<Json<ContactRequest>, JsonRejection>,
) -> Result<Json<Changed>, ApiError> {
    let agent = worker(caller, &service)?;
    let request = body(json)?;
    blocking(&service, move |s| s.contact(&agent, &file, &request)).await
}

async fn offer(
    State(service): State<SocialService>,
    caller: Result<Caller, ApiError>,
    json: Result<Json<OfferRequest>, JsonRejection>,
) -> Result<Json<Changed>, ApiError> {
    let agent = worker(caller, &service)?;
    let request = body(json)?;
    blocking(&service, move |s| s.offer(&agent, &request)).await
}

async fn rights_access(
    State(service): State<SocialService>,
    caller: Result<Caller, ApiError>,
    Path(file): Path<String>,
) -> Result<Json<AccessAnswer>, ApiError> {
    let agent = rights_officer(caller)?;
    blocking(&service, move |s| s.rights_access(&agent, &file)).await
}

async fn rights_rectify(
    State(service): State<SocialService>,
    caller: Result<Caller, ApiError>,
    Path(file): Path<String>,
    json: Result<Json<UpdateRequest>, JsonRejection>,
) -> Result<Json<Changed>, ApiError> {
    let agent = rights_officer(caller)?;
    let request = body(json)?;
    blocking(&service, move |s| s.rights_rectify(&agent, &file, &request.updates)).await
}

async fn rights_object(
    State(service): State<SocialService>,
    caller: Result<Caller, ApiError>,
    Path(file): Path<String>,
    json: Result<Json<ObjectRequest>, JsonRejection>,
) -> Result<Json<RightView>, ApiError> {
    let agent = rights_officer(caller)?;
    let request = body(json)?;
    blocking(&service, move |s| s.rights_object(&agent, &file, &request.reasons)).await
}

async fn rights_refuse_archive(
    State(service): State<SocialService>,
    caller: Result<Caller, ApiError>,
    Path(file): Path<String>,
) -> Result<Json<RightView>, ApiError> {
    let agent = rights_officer(caller)?;
    blocking(&service, move |s| s.rights_refuse_archive(&agent, &file)).await
}

async fn rights_decide(
    State(service): State<SocialService>,
    caller: Result<Caller, ApiError>,
    Path(file): Path<String>,
    json: Result<Json<DecideRequest>, JsonRejection>,
) -> Result<Json<DecisionView>, ApiError> {
    let caller = caller?;
    caller.require(&[Role::DirectorDelegate])?;
    let agent = caller.agent().id.clone();
    let request = body(json)?;
    blocking(&service, move |s| s.rights_decide(&agent, &file, &request)).await
}

#[derive(Debug, Deserialize)]
struct StatsQuery {
    from: Option<String>,
    to: Option<String>,
}

async fn stats(
    State(service): State<SocialService>,
    caller: Result<Caller, ApiError>,
    query: Result<Query<StatsQuery>, QueryRejection>,
) -> Result<Json<passerelle_social_stats::Table>, ApiError> {
    let caller = caller?;
    caller.require(&[Role::StatisticsAgent])?;
    let agent = caller.agent().id.clone();
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    blocking(&service, move |s| s.stats(&agent, q.from.as_deref(), q.to.as_deref())).await
}
