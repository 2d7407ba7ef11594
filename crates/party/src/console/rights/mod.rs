//! The persons' rights at the competent observatory (decree art. 6, DESIGN §7.3), for its
//! `rights-officer` — the pages of `passerelle rights`, each a call of `api::rights`:
//!
//! | page | call | what it shows or does |
//! |---|---|---|
//! | `GET /rights` | `GET /v1/rights` | every request: its kind, state, parties answered, late answers — no personal datum |
//! | `GET /rights/new` | — | the form that opens a request |
//! | `POST /rights/new` | `POST /v1/rights` | opens it (then its page), or shows an opposition's refusal (art. 6) |
//! | `GET /rights/{id}` | `GET /v1/rights/{id}` | the consolidated answer: who holds what, who did not answer (a `read`, about the person) |
//! | `GET /rights/{id}/print` | `GET /v1/rights/{id}/page` | the letter for the person, as the API writes it (an `export`) |
//! | `POST /rights/{id}/delivered` | `POST /v1/rights/{id}/delivered` | records it delivered: the request is purged |
//!
//! The NIR goes in a form's body, never in a URL. The letter is served as the API writes it,
//! with its own inline stylesheet: its `Content-Security-Policy` allows exactly that stylesheet
//! (by its hash, [`passerelle_console::inline_style_csp`]) and nothing else.

mod render;
#[cfg(test)]
mod tests;

use axum::extract::{Path, Query};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use passerelle_agents::Role;
use passerelle_console::{inline_style_csp, CsrfForm, NavLink, Page, PageError, Session};
use passerelle_rights::{ConsolidatedAnswer, RequestSummary};
use serde::Deserialize;

use crate::api::rights::{DeliveredBody, Opened};
use render::{answer_page, list_page, open_form, opposition_page, OpenForm};

/// Who these pages are for (the API refuses anyone else, and records the refusal).
const OFFICERS: &[Role] = &[Role::RightsOfficer];

/// Every route, with a sample path (the console's generic tests call each without a session,
/// and each POST without its token).
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/rights"),
    ("GET", "/rights/new"),
    ("POST", "/rights/new"),
    ("GET", "/rights/0190b6a2-0000-7000-8000-000000000001"),
    ("GET", "/rights/0190b6a2-0000-7000-8000-000000000001/print"),
    ("POST", "/rights/0190b6a2-0000-7000-8000-000000000001/delivered"),
];

/// The menu's links of these pages.
pub fn nav() -> Vec<NavLink> {
    vec![NavLink {
        href: "/rights",
        label: "Droits des personnes",
        about: "Les demandes d'accès et de rectification (décret, art. 6) : les ouvrir, suivre les réponses des \
                organismes, imprimer la réponse pour la personne, la marquer remise.",
        roles: OFFICERS,
    }]
}

/// The pages.
pub fn pages() -> Router {
    Router::new()
        .route("/rights", get(list))
        .route("/rights/new", get(new).post(open))
        .route("/rights/{id}", get(show))
        .route("/rights/{id}/print", get(print))
        .route("/rights/{id}/delivered", post(delivered))
}

/// `?remise=ID`: the request just recorded delivered.
#[derive(Debug, Deserialize)]
struct ListQuery {
    remise: Option<String>,
}

async fn list(session: Session, Query(query): Query<ListQuery>) -> Result<Page, PageError> {
    let requests: Vec<RequestSummary> = session.get("/v1/rights").await?;
    let delivered = query.remise.as_deref().filter(|id| is_request_id(id));
    Ok(session.page("Droits des personnes", &list_page(&requests, delivered)))
}

/// The form calls no API until sent: whoever may not send it is told so here, not after.
async fn new(session: Session) -> Result<Page, PageError> {
    session.require(OFFICERS)?;
    Ok(session.page("Ouvrir une demande", &open_form(&session.csrf_field(), &OpenForm::default(), None)))
}

async fn open(session: Session, CsrfForm(form): CsrfForm<OpenForm>) -> Result<Response, PageError> {
    let again = |message: &str| {
        let body = open_form(&session.csrf_field(), &form, Some(message));
        Ok(session.page("Ouvrir une demande", &body).with_status(StatusCode::BAD_REQUEST).into_response())
    };
    let body = match form.body() {
        Ok(body) => body,
        Err(message) => return again(&message),
    };
    let opened: Opened = match session.post("/v1/rights", &body).await {
        Ok(opened) => opened,
        // The API's refusal of a field (it never repeats a NIR): the form again, as filled.
        Err(e) if e.status == StatusCode::BAD_REQUEST => return again(&e.message),
        Err(e) => return Err(e),
    };
    if let Some(refused) = &opened.refused {
        return Ok(session.page("Opposition : refusée", &opposition_page(&opened.request_id, refused)).into_response());
    }
    if is_request_id(&opened.request_id) {
        Ok(Redirect::to(&format!("/rights/{}", opened.request_id)).into_response())
    } else {
        Ok(Redirect::to("/rights").into_response())
    }
}

async fn show(session: Session, Path(id): Path<String>) -> Result<Page, PageError> {
    let id = checked(&id)?;
    let answer: ConsolidatedAnswer = session.get(&format!("/v1/rights/{id}")).await?;
    let title = format!("Demande {}", answer.request_id);
    Ok(session.page(&title, &answer_page(&answer, &session.csrf_field())))
}

/// The letter as the API writes it: a whole document with its own print stylesheet, allowed by
/// its hash alone.
async fn print(session: Session, Path(id): Path<String>) -> Result<Response, PageError> {
    let id = checked(&id)?;
    let mut response = session.get_raw(&format!("/v1/rights/{id}/page")).await?;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, inline_style_csp(passerelle_rights::printable::STYLE));
    headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_static("text/html; charset=utf-8"));
    Ok(response)
}

/// The "mark delivered" form: `anyway` checked when parties are still being asked.
#[derive(Debug, Deserialize)]
struct DeliveredForm {
    #[serde(default)]
    anyway: Option<String>,
}

async fn delivered(
    session: Session,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<DeliveredForm>,
) -> Result<Response, PageError> {
    let id = checked(&id)?;
    let body = DeliveredBody { anyway: form.anyway.is_some() };
    let summary: RequestSummary = session.post(&format!("/v1/rights/{id}/delivered"), &body).await?;
    let back = if is_request_id(&summary.request_id) {
        format!("/rights?remise={}", summary.request_id)
    } else {
        "/rights".to_owned()
    };
    Ok(Redirect::to(&back).into_response())
}

/// A request id as the desk gives them (a UUID): what may go into an API path or a redirect.
fn is_request_id(id: &str) -> bool {
    passerelle_protocol::untrusted::is_identifier(id) && !id.contains(':')
}

fn checked(id: &str) -> Result<&str, PageError> {
    if is_request_id(id) {
        Ok(id)
    } else {
        Err(PageError::not_found("Ce n'est pas le numéro d'une demande (voyez la liste des demandes)."))
    }
}
