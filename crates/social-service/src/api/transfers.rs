//! The transfer routes (norm 43, A.3; the table in
//! [`crate::service::transfer_views`]): a `social-worker` of the office sends a file, lists its
//! office's transfers, reads one, accepts or refuses one awaiting the office's confirmation; a
//! `medical-officer` releases the medical opinions for a transfer; an `operator` or a
//! `social-worker` of the office reads the counts.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Json;
use passerelle_agents::Role;
use passerelle_local_api::{ApiError, Caller};
use serde::Deserialize;

use super::{blocking, body, worker};
use crate::service::transfer_views::*;
use crate::service::SocialService;

pub(super) async fn send(
    State(service): State<SocialService>,
    caller: Result<Caller, ApiError>,
    json: Result<Json<SendTransfer>, JsonRejection>,
) -> Result<Json<TransferView>, ApiError> {
    let agent = worker(caller, &service)?;
    let request = body(json)?;
    blocking(&service, move |s| s.transfer_send(&agent, &request)).await
}

pub(super) async fn release(
    State(service): State<SocialService>,
    caller: Result<Caller, ApiError>,
    json: Result<Json<ReleaseMedical>, JsonRejection>,
) -> Result<Json<ReleaseView>, ApiError> {
    let caller = caller?;
    caller.require(&[Role::MedicalOfficer])?;
    let agent = caller.agent().id.clone();
    let request = body(json)?;
    blocking(&service, move |s| s.transfer_release_medical(&agent, &request)).await
}

#[derive(Debug, Deserialize)]
pub(super) struct ListQuery {
    direction: Option<String>,
    after: Option<String>,
    limit: Option<usize>,
}

pub(super) async fn list(
    State(service): State<SocialService>,
    caller: Result<Caller, ApiError>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<TransferList>, ApiError> {
    let agent = worker(caller, &service)?;
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    blocking(&service, move |s| s.transfers(&agent, q.direction.as_deref(), q.after.as_deref(), q.limit.unwrap_or(0)))
        .await
}

pub(super) async fn summary(
    State(service): State<SocialService>,
    caller: Result<Caller, ApiError>,
) -> Result<Json<TransferSummary>, ApiError> {
    let caller = caller?;
    if !caller.agent().has(Role::Operator) {
        worker(Ok(caller), &service)?;
    }
    blocking(&service, |s| s.transfer_summary()).await
}

pub(super) async fn show(
    State(service): State<SocialService>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<String>,
) -> Result<Json<IncomingTransferView>, ApiError> {
    let agent = worker(caller, &service)?;
    blocking(&service, move |s| s.transfer(&agent, &id)).await
}

pub(super) async fn accept(
    State(service): State<SocialService>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<String>,
) -> Result<Json<TransferView>, ApiError> {
    let agent = worker(caller, &service)?;
    blocking(&service, move |s| s.transfer_accept(&agent, &id)).await
}

pub(super) async fn refuse(
    State(service): State<SocialService>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<String>,
    json: Result<Json<RefuseTransfer>, JsonRejection>,
) -> Result<Json<TransferView>, ApiError> {
    let agent = worker(caller, &service)?;
    let request = body(json)?;
    blocking(&service, move |s| s.transfer_refuse(&agent, &id, &request)).await
}
