//! The archive's routes (norm 43, DESIGN §7.2; the table in [`super`]): a `director-delegate`
//! or a `medical-officer` proposes, signs, revokes and lists grants; an `archive-reader` lists
//! and reads archived files under a grant, naming a purpose of the norm's list.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use passerelle_agents::Role;
use passerelle_local_api::{ApiError, Caller};
use passerelle_social_archive::{ArchiveError, Signer, SignerRole};
use serde::Deserialize;

use super::{api_error, body};
use crate::service::archive_views::*;
use crate::service::{SocialService, SocialServiceError};

/// The API's answer to an archive error: 403 without a valid grant, 400 for a signature the
/// co-signature rule refuses, 404 for no such grant or file; the rest as the other routes'.
fn archive_error(e: SocialServiceError) -> ApiError {
    match e {
        SocialServiceError::Archive(a @ ArchiveError::NoGrant(_)) => {
            ApiError::new(StatusCode::FORBIDDEN, "no_grant", a.to_string())
        }
        SocialServiceError::Archive(a @ ArchiveError::Signature(_)) => {
            ApiError::new(StatusCode::BAD_REQUEST, "signature_refused", a.to_string())
        }
        SocialServiceError::Archive(a @ (ArchiveError::NoSuchGrant(_) | ArchiveError::NoFile(_))) => {
            ApiError::not_found(a.to_string())
        }
        other => api_error(other),
    }
}

/// Runs an archive operation off the async workers.
async fn blocking<T: Send + 'static>(
    service: &SocialService,
    f: impl FnOnce(&SocialService) -> Result<T, SocialServiceError> + Send + 'static,
) -> Result<Json<T>, ApiError> {
    let service = service.clone();
    tokio::task::spawn_blocking(move || f(&service))
        .await
        .map_err(|e| ApiError::internal("the social service's task failed", &e))?
        .map(Json)
        .map_err(archive_error)
}

fn role_of(role: SignerRole) -> Role {
    match role {
        SignerRole::DirectorDelegate => Role::DirectorDelegate,
        SignerRole::MedicalOfficer => Role::MedicalOfficer,
    }
}

/// The caller as a grant's signer: the role it names with `as` (which it must hold), or the one
/// of the two it holds; an agent holding both must say which.
fn signer(caller: Result<Caller, ApiError>, as_role: Option<SignerRole>) -> Result<Signer, ApiError> {
    let caller = caller?;
    let role = match as_role {
        Some(role) => {
            caller.require(&[role_of(role)])?;
            role
        }
        None => {
            caller.require(&[Role::DirectorDelegate, Role::MedicalOfficer])?;
            let agent = caller.agent();
            match (agent.has(Role::DirectorDelegate), agent.has(Role::MedicalOfficer)) {
                (true, false) => SignerRole::DirectorDelegate,
                (false, true) => SignerRole::MedicalOfficer,
                _ => {
                    return Err(ApiError::bad_request(
                        "as: you hold both director-delegate and medical-officer; a grant needs both by two \
                         distinct agents, so say which you sign as (`as`, --as)",
                    ))
                }
            }
        }
    };
    Ok(Signer { agent: caller.agent().id.clone(), role })
}

/// The caller if it holds a signing role, or the 403 (recorded) — before its body is read, so
/// that an agent without the role is refused as such, whatever it sent.
fn signing(caller: Result<Caller, ApiError>) -> Result<Caller, ApiError> {
    let caller = caller?;
    caller.require(&[Role::DirectorDelegate, Role::MedicalOfficer])?;
    Ok(caller)
}

/// An `archive-reader`: its agent id, or the 403 (recorded).
fn reader(caller: Result<Caller, ApiError>) -> Result<String, ApiError> {
    let caller = caller?;
    caller.require(&[Role::ArchiveReader])?;
    Ok(caller.agent().id.clone())
}

pub(super) async fn propose(
    State(service): State<SocialService>,
    caller: Result<Caller, ApiError>,
    json: Result<Json<GrantRequest>, JsonRejection>,
) -> Result<Json<GrantView>, ApiError> {
    let caller = signing(caller)?;
    let request = body(json)?;
    let signer = signer(Ok(caller), request.as_role)?;
    blocking(&service, move |s| s.archive_propose(&signer, &request.reader, request.until.as_deref())).await
}

pub(super) async fn sign(
    State(service): State<SocialService>,
    caller: Result<Caller, ApiError>,
    Path(grant): Path<String>,
    json: Result<Json<SignRequest>, JsonRejection>,
) -> Result<Json<GrantView>, ApiError> {
    let caller = signing(caller)?;
    let request = body(json)?;
    let signer = signer(Ok(caller), request.as_role)?;
    blocking(&service, move |s| s.archive_sign(&signer, &grant)).await
}

pub(super) async fn revoke(
    State(service): State<SocialService>,
    caller: Result<Caller, ApiError>,
    Path(grant): Path<String>,
    json: Result<Json<SignRequest>, JsonRejection>,
) -> Result<Json<GrantView>, ApiError> {
    let caller = signing(caller)?;
    let request = body(json)?;
    let signer = signer(Ok(caller), request.as_role)?;
    blocking(&service, move |s| s.archive_revoke(&signer, &grant)).await
}

pub(super) async fn grants(
    State(service): State<SocialService>,
    caller: Result<Caller, ApiError>,
) -> Result<Json<GrantList>, ApiError> {
    let caller = caller?;
    caller.require(&[Role::DirectorDelegate, Role::MedicalOfficer])?;
    let agent = caller.agent().id.clone();
    blocking(&service, move |s| s.archive_grants(&agent)).await
}

#[derive(Debug, Deserialize)]
pub(super) struct ReadQuery {
    /// Kept as text: a missing or unknown purpose is the service's refusal (recorded), not a
    /// parse error.
    purpose: Option<String>,
    after: Option<String>,
    limit: Option<usize>,
}

/// The read's query, or its 400 once the attempt is recorded as `refused` (of `file`'s object,
/// or the list's): an attempt the API cannot parse is an attempt all the same.
async fn query(
    service: &SocialService,
    agent: &str,
    file: Option<&str>,
    query: Result<Query<ReadQuery>, QueryRejection>,
) -> Result<ReadQuery, ApiError> {
    match query {
        Ok(Query(q)) => Ok(q),
        Err(e) => {
            let (agent, file) = (agent.to_owned(), file.map(str::to_owned));
            let _recorded: Json<()> = blocking(service, move |s| s.archive_malformed(&agent, file.as_deref())).await?;
            Err(ApiError::bad_request(e.body_text()))
        }
    }
}

pub(super) async fn files(
    State(service): State<SocialService>,
    caller: Result<Caller, ApiError>,
    q: Result<Query<ReadQuery>, QueryRejection>,
) -> Result<Json<ArchiveList>, ApiError> {
    let agent = reader(caller)?;
    let q = query(&service, &agent, None, q).await?;
    blocking(&service, move |s| s.archive_list(&agent, q.purpose.as_deref(), q.after.as_deref(), q.limit)).await
}

pub(super) async fn file(
    State(service): State<SocialService>,
    caller: Result<Caller, ApiError>,
    Path(file): Path<String>,
    q: Result<Query<ReadQuery>, QueryRejection>,
) -> Result<Json<ArchivedFileView>, ApiError> {
    let agent = reader(caller)?;
    let q = query(&service, &agent, Some(&file), q).await?;
    blocking(&service, move |s| s.archive_read(&agent, &file, q.purpose.as_deref())).await
}
