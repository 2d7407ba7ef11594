//! `POST /v1/cases/{case}/person`: one person of a case's contact list, as an agent looks one
//! person up (`requester person`). The NIR travels in the JSON body, never in the path, so no
//! refusal record, access log entry or log line quotes it; a malformed one is a 400 that does
//! not repeat it. Recorded before the answer as a `read` of the case about the person (their
//! keyed hash in the access log, [`passerelle_access_log::Accesses::person`]).

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path as UrlPath, State};
use axum::Json;
use passerelle_access_log::{agent_actor, AccessKind};
use passerelle_local_api::{ApiError, Caller};
use passerelle_protocol::nir::Nir;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{blocking, parse_id, prevention_agent, record_accesses};
use crate::export::PersonLookup;
use crate::service::Requester;

/// The body of the call: the person's NIR (spaces allowed).
#[derive(Clone, Serialize, Deserialize)]
pub struct PersonQuery {
    pub nir: String,
}

impl std::fmt::Debug for PersonQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersonQuery").finish_non_exhaustive()
    }
}

/// The person's row of the case's contact list.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PersonAnswer {
    pub case: Uuid,
    /// Persons in the case's contact list (the rank is out of these).
    pub persons: u64,
    /// The object a line of the case's JSON Lines file holds for the person: `rank`, `score`,
    /// `line`, `case_id`, `observatory`, `selection` (the selection's cells), `categories`
    /// (value, sources, dissent), `status` (each body's).
    pub row: serde_json::Value,
}

pub(super) async fn lookup(
    State(requester): State<Requester>,
    caller: Caller,
    UrlPath(case): UrlPath<String>,
    body: Result<Json<PersonQuery>, JsonRejection>,
) -> Result<Json<PersonAnswer>, ApiError> {
    prevention_agent(&caller, &requester)?;
    let case = parse_id(&case, "case")?;
    // The rejection's text may quote the body: not repeated.
    let Json(query) = body.map_err(|_| ApiError::bad_request("the body must be a JSON object {\"nir\": \"…\"}"))?;
    let nir = Nir::parse(&query.nir).map_err(|e| ApiError::bad_request(format!("the nir given is not a NIR: {e}")))?;
    let agent = caller.agent().id.clone();
    let looking = requester.clone();
    let looked_up = nir.clone();
    let found = blocking(move || looking.person_in_case(case, &looked_up)).await?;
    if matches!(found, PersonLookup::Absent) {
        // Nothing of anyone is given: nothing to record (and no hash of a NIR this requester
        // does not hold).
        return Err(ApiError::not_found(format!("this person is not in case {case}")));
    }
    // What follows says something of the person (their row, or that they were refused).
    let entry = requester
        .access_entry(&agent_actor(&agent), AccessKind::Read, &case.to_string())
        .about(requester.accesses().person(&nir));
    record_accesses(&requester, vec![entry]).await?;
    tracing::info!(agent = %agent, case = %case, "a person of a case looked up");
    match found {
        PersonLookup::Listed { row, persons } => Ok(Json(PersonAnswer { case, persons, row })),
        PersonLookup::Refused { line } => Err(ApiError::not_found(format!(
            "this person (selection line {line}) is not in case {case}'s contact list: the observatory refused \
             them (`requester status` says why)"
        ))),
        PersonLookup::Absent => Err(ApiError::not_found(format!("this person is not in case {case}"))),
    }
}
