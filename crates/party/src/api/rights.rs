//! The persons' rights at the competent observatory (decree art. 6, DESIGN §7.3): the local API
//! of its rights desk, for the `rights-officer` alone (`passerelle rights`).
//!
//! | route | answer | access log |
//! |---|---|---|
//! | `POST /v1/rights` [`OpenBody`] | [`Opened`]: the request's id, or opposition refused at once | `create` of `rights-<kind>-<id>`, about the person |
//! | `GET /v1/rights` | every request's [`RequestSummary`] (no personal datum) | — |
//! | `GET /v1/rights/{id}` | the [`ConsolidatedAnswer`] | `read` of `rights-<kind>-<id>`, about the person |
//! | `GET /v1/rights/{id}/page` | the printable page (HTML) | `export` of `rights-<kind>-<id>`, about the person |
//! | `POST /v1/rights/{id}/delivered` [`DeliveredBody`] | the request's [`RequestSummary`], purged | `delete` of `rights-<kind>-<id>` |
//!
//! Any other role (statistics-agent, observatory-agent, operator…) is refused with a 403, the
//! refusal recorded in the access log (kind `refused`). An access is recorded **before** its
//! answer goes: if the access log cannot take it, the caller gets a 500 and no data.
//!
//! The NIR travels in a body only, never in a path (a refusal record quotes the path), and no
//! error repeats it. **Opposition is not a request**: it is answered at once with
//! [`OPPOSITION_REFUSED`] (art. 6), recorded as a `create` of `rights-opposition-<id>`, and
//! nothing of it is stored.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use passerelle_access_log::{agent_actor, AccessEntry, AccessKind, Accesses};
use passerelle_agents::Role;
use passerelle_local_api::{ApiError, Caller};
use passerelle_protocol::nir::Nir;
use passerelle_protocol::rules::Clock;
use passerelle_protocol::{catalogue, v1, value};
use passerelle_rights::{
    ConsolidatedAnswer, Opening, RequestSummary, RightsDesk, RightsError, RightsKind, OPPOSITION_REFUSED,
};
use serde::{Deserialize, Serialize};

/// The only role that may open, read and close a rights request.
const OFFICERS: [Role; 1] = [Role::RightsOfficer];

/// The right a person exercises, as the officer names it: opposition included (refused at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AskedRight {
    Access,
    Rectification,
    Opposition,
}

impl AskedRight {
    pub fn as_str(self) -> &'static str {
        match self {
            AskedRight::Access => "access",
            AskedRight::Rectification => "rectification",
            AskedRight::Opposition => "opposition",
        }
    }
}

/// One corrected value of a rectification, in the shared value syntax.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Correction {
    /// A category code of the decree (`family_situation`).
    pub category: String,
    /// Its corrected value (`married`, `true`, `2024-03-01`).
    pub value: String,
}

/// `POST /v1/rights`'s body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenBody {
    pub kind: AskedRight,
    pub nir: String,
    #[serde(default)]
    pub former_nirs: Vec<String>,
    #[serde(default)]
    pub corrected: Vec<Correction>,
    /// Who confirmed the person's identity, outside the product (an agent id; required).
    pub identity_checked_by: String,
}

/// `POST /v1/rights`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Opened {
    pub kind: AskedRight,
    /// The request's id; for an opposition, the id its refusal is recorded under.
    pub request_id: String,
    /// The deadline the parties have (RFC 3339); none for an opposition.
    pub answer_by: Option<String>,
    /// An opposition's answer: refused, with art. 6's words.
    pub refused: Option<String>,
}

/// `POST /v1/rights/{id}/delivered`'s body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveredBody {
    /// Record it delivered even while parties are still being asked.
    #[serde(default)]
    pub anyway: bool,
}

/// What the handlers use.
#[derive(Clone)]
struct Desk {
    desk: RightsDesk,
    accesses: Accesses,
    clock: Arc<dyn Clock>,
}

/// The rights routes over the observatory's `desk`, the accesses recorded in `accesses`, the
/// time read from the daemon's `clock` (the development profile may set it ahead).
pub fn routes(desk: RightsDesk, accesses: Accesses, clock: Arc<dyn Clock>) -> Router {
    Router::new()
        .route("/v1/rights", post(open).get(list))
        .route("/v1/rights/{id}", get(show))
        .route("/v1/rights/{id}/page", get(page))
        .route("/v1/rights/{id}/delivered", post(delivered))
        .with_state(Desk { desk, accesses, clock })
}

/// The access log's object of a request: `rights-access-<id>`.
pub fn object(kind: &str, request_id: &str) -> String {
    format!("rights-{kind}-{request_id}")
}

fn kind_name(kind: RightsKind) -> &'static str {
    match kind {
        RightsKind::Access => "access",
        RightsKind::Rectification => "rectification",
    }
}

/// Checks what the officer sent; every message names the field, never repeats a NIR.
fn opening(body: OpenBody, opened_by: &str) -> Result<Opening, ApiError> {
    let kind = match body.kind {
        AskedRight::Access => RightsKind::Access,
        AskedRight::Rectification => RightsKind::Rectification,
        AskedRight::Opposition => unreachable!("opposition is answered before"),
    };
    let nir = Nir::parse(&body.nir).map_err(|e| ApiError::bad_request(format!("nir: {e}")))?;
    let former_nirs = body
        .former_nirs
        .iter()
        .enumerate()
        .map(|(i, n)| Nir::parse(n).map_err(|e| ApiError::bad_request(format!("former_nirs[{i}]: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let identity_checked_by = body.identity_checked_by.trim().to_owned();
    if identity_checked_by.is_empty() {
        return Err(ApiError::bad_request(
            "identity_checked_by: who confirmed the person's identity is required (the officer confirms it \
             outside the product, and the request records who did)",
        ));
    }
    if !passerelle_protocol::untrusted::is_identifier(&identity_checked_by) {
        return Err(ApiError::bad_request("identity_checked_by: give an agent id (letters, digits, `-`, `_`, `.`)"));
    }
    let mut corrected = v1::CategoryValues::default();
    for (i, c) in body.corrected.iter().enumerate() {
        let info = catalogue::by_code(c.category.trim()).ok_or_else(|| {
            ApiError::bad_request(format!(
                "corrected[{i}].category: unknown category {}: the decree (art. 2, 2° to 7°) lists its codes \
                 (`passerelle rights open --help`)",
                passerelle_protocol::untrusted::Shown::id(c.category.trim())
            ))
        })?;
        let parsed = value::parse(info.value_type, &c.value)
            .map_err(|e| ApiError::bad_request(format!("corrected[{i}] ({}): {e}", info.code)))?
            .ok_or_else(|| ApiError::bad_request(format!("corrected[{i}] ({}): the value is empty", info.code)))?;
        corrected
            .set(info.category, parsed)
            .map_err(|e| ApiError::bad_request(format!("corrected[{i}] ({}): {e}", info.code)))?;
    }
    match kind {
        RightsKind::Rectification if body.corrected.is_empty() => {
            return Err(ApiError::bad_request("corrected: a rectification needs at least one corrected value"))
        }
        RightsKind::Access if !body.corrected.is_empty() => {
            return Err(ApiError::bad_request("corrected: an access request corrects nothing (use rectification)"))
        }
        _ => {}
    }
    Ok(Opening { kind, nir, former_nirs, corrected, opened_by: opened_by.to_owned(), identity_checked_by })
}

async fn open(State(d): State<Desk>, caller: Caller, Json(body): Json<OpenBody>) -> Result<Json<Opened>, ApiError> {
    caller.require(&OFFICERS)?;
    let agent = caller.agent().id.clone();
    let actor = agent_actor(&agent);
    let now = d.clock.now();
    if body.kind == AskedRight::Opposition {
        // Nothing stored: the refusal's record keeps who asked, what and when — no person.
        let id = uuid::Uuid::now_v7().to_string();
        let entry = AccessEntry::new(now, actor, AccessKind::Create, object("opposition", &id));
        blocking(move || d.accesses.record(&entry).map_err(Failed::AccessLog)).await?;
        return Ok(Json(Opened {
            kind: AskedRight::Opposition,
            request_id: id,
            answer_by: None,
            refused: Some(OPPOSITION_REFUSED.to_owned()),
        }));
    }
    let asked = body.kind;
    let opening = opening(body, &agent)?;
    let person = d.accesses.person(&opening.nir);
    let answer_by = blocking(move || {
        let id = d.desk.open_request(opening, now)?;
        let entry = AccessEntry::new(now, actor, AccessKind::Create, object(asked.as_str(), &id)).about(person);
        d.accesses.record(&entry).map_err(Failed::AccessLog)?;
        Ok((id, d.desk.answer_by(now)))
    })
    .await?;
    let (request_id, by) = answer_by;
    Ok(Json(Opened { kind: asked, request_id, answer_by: Some(passerelle_rights::rfc3339(by)), refused: None }))
}

async fn list(State(d): State<Desk>, caller: Caller) -> Result<Json<Vec<RequestSummary>>, ApiError> {
    caller.require(&OFFICERS)?;
    blocking(move || Ok(d.desk.list()?)).await.map(Json)
}

/// The answer of `id`, its access recorded first (`kind`, about the person).
async fn read(d: Desk, caller: &Caller, id: String, kind: AccessKind) -> Result<ConsolidatedAnswer, ApiError> {
    caller.require(&OFFICERS)?;
    checked_id(&id)?;
    let actor = agent_actor(&caller.agent().id);
    let now = d.clock.now();
    blocking(move || {
        let answer = d.desk.answer(&id, now)?;
        let mut entry = AccessEntry::new(now, actor, kind, object(kind_name(answer.kind), &answer.request_id));
        if let Ok(nir) = Nir::parse(&answer.nir) {
            entry = entry.about(d.accesses.person(&nir));
        }
        d.accesses.record(&entry).map_err(Failed::AccessLog)?;
        Ok(answer)
    })
    .await
}

async fn show(
    State(d): State<Desk>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ConsolidatedAnswer>, ApiError> {
    read(d, &caller, id, AccessKind::Read).await.map(Json)
}

async fn page(State(d): State<Desk>, caller: Caller, Path(id): Path<String>) -> Result<Response, ApiError> {
    let answer = read(d, &caller, id, AccessKind::Export).await?;
    let html = passerelle_rights::printable::page(&answer);
    Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response())
}

async fn delivered(
    State(d): State<Desk>,
    caller: Caller,
    Path(id): Path<String>,
    body: Option<Json<DeliveredBody>>,
) -> Result<Json<RequestSummary>, ApiError> {
    caller.require(&OFFICERS)?;
    checked_id(&id)?;
    let anyway = body.map(|Json(b)| b.anyway).unwrap_or(false);
    let agent = caller.agent().id.clone();
    let now = d.clock.now();
    blocking(move || {
        let summary = d.desk.delivered(&id, &agent, anyway, now)?;
        let entry = AccessEntry::new(
            now,
            agent_actor(&agent),
            AccessKind::Delete,
            object(kind_name(summary.kind), &summary.request_id),
        );
        d.accesses.record(&entry).map_err(Failed::AccessLog)?;
        Ok(summary)
    })
    .await
    .map(Json)
}

/// A request id as the desk gives them: an identifier (else 400, not repeated).
fn checked_id(id: &str) -> Result<(), ApiError> {
    if passerelle_protocol::untrusted::is_identifier(id) && !id.contains(':') {
        Ok(())
    } else {
        Err(ApiError::bad_request("not a rights request id (give the id `rights open` or `rights list` printed)"))
    }
}

/// Why a call could not be answered.
#[derive(Debug, thiserror::Error)]
enum Failed {
    #[error(transparent)]
    Desk(#[from] RightsError),
    #[error("the access could not be recorded in the access log: {0}")]
    AccessLog(passerelle_access_log::AccessLogError),
}

/// Runs a desk call off the async threads (SQLite blocks); the desk's refusals become 400/404/409.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, Failed> + Send + 'static) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(Failed::Desk(RightsError::Refused(why)))) => Err(ApiError::conflict(why)),
        Ok(Err(Failed::Desk(RightsError::NotFound(id)))) => Err(ApiError::not_found(format!(
            "no rights request {} (purged once delivered, or never opened: `rights list`)",
            passerelle_protocol::untrusted::Shown::id(&id)
        ))),
        Ok(Err(e)) => Err(ApiError::internal("the rights desk failed", &e)),
        Err(e) => Err(ApiError::internal("the rights desk failed", &e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(kind: AskedRight, corrected: Vec<Correction>) -> OpenBody {
        OpenBody {
            kind,
            nir: passerelle_protocol::nir::with_key("1500513055001").unwrap().as_str().to_owned(),
            former_nirs: vec![],
            corrected,
            identity_checked_by: "agent-7".to_owned(),
        }
    }

    fn fix(category: &str, value: &str) -> Correction {
        Correction { category: category.to_owned(), value: value.to_owned() }
    }

    #[test]
    fn an_opening_is_checked_field_by_field_without_repeating_a_nir() {
        let ok =
            opening(body(AskedRight::Rectification, vec![fix("family_situation", "married")]), "officer-1").unwrap();
        assert_eq!(ok.kind, RightsKind::Rectification);
        assert!(ok.corrected.family_situation.is_some());
        let e = opening(body(AskedRight::Rectification, vec![]), "o").unwrap_err();
        assert!(e.body.error.contains("at least one corrected value"), "{e}");
        let e = opening(body(AskedRight::Access, vec![fix("css", "true")]), "o").unwrap_err();
        assert!(e.body.error.contains("corrects nothing"), "{e}");
        let e = opening(body(AskedRight::Rectification, vec![fix("css", "peut-être")]), "o").unwrap_err();
        assert!(e.body.error.contains("corrected[0] (css)"), "{e}");
        let e = opening(body(AskedRight::Rectification, vec![fix("shoe_size", "42")]), "o").unwrap_err();
        assert!(e.body.error.contains("unknown category"), "{e}");
        let mut no_check = body(AskedRight::Access, vec![]);
        no_check.identity_checked_by = " ".to_owned();
        assert!(opening(no_check, "o").unwrap_err().body.error.contains("identity_checked_by"));
        let mut bad = body(AskedRight::Access, vec![]);
        bad.nir = "150051305500199".to_owned();
        let e = opening(bad, "o").unwrap_err();
        assert!(e.body.error.starts_with("nir:") && !e.body.error.contains("150051305500199"), "{e}");
    }

    #[test]
    fn the_access_log_object_names_the_kind_and_the_id() {
        assert_eq!(object("access", "0190b6a2"), "rights-access-0190b6a2");
        assert!(passerelle_protocol::untrusted::is_identifier(&object(
            "opposition",
            &uuid::Uuid::now_v7().to_string()
        )));
    }
}
