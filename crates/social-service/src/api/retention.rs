//! The retention routes: `POST /v1/retention/run` (an `operator` or a `director-delegate` runs
//! the housekeeping round now — the steering months, then the retention pass — and reads its
//! report) and `GET /v1/retention/flagged` (a `social-worker` of the office: the files flagged
//! to it and those due to leave the live store, each a `read` in the access log); and
//! `GET /v1/overview` (an `operator`: the service's counts, no person).

use axum::extract::State;
use axum::Json;
use passerelle_agents::Role;
use passerelle_local_api::{ApiError, Caller};

use super::{blocking, worker};
use crate::service::overview::Overview;
use crate::service::retention::RetentionReport;
use crate::service::retention_flagged::FlaggedList;
use crate::service::SocialService;

pub(super) async fn run(
    State(service): State<SocialService>,
    caller: Result<Caller, ApiError>,
) -> Result<Json<RetentionReport>, ApiError> {
    let caller = caller?;
    caller.require(&[Role::Operator, Role::DirectorDelegate])?;
    let agent = caller.agent().id.clone();
    blocking(&service, move |s| {
        tracing::info!(agent = %agent, "retention pass run on demand");
        Ok(s.housekeeping()?.retention)
    })
    .await
}

pub(super) async fn flagged(
    State(service): State<SocialService>,
    caller: Result<Caller, ApiError>,
) -> Result<Json<FlaggedList>, ApiError> {
    let agent = worker(caller, &service)?;
    blocking(&service, move |s| s.retention_flagged(&agent)).await
}

pub(super) async fn overview(
    State(service): State<SocialService>,
    caller: Result<Caller, ApiError>,
) -> Result<Json<Overview>, ApiError> {
    let caller = caller?;
    caller.require(&[Role::Operator])?;
    blocking(&service, |s| s.overview()).await
}
