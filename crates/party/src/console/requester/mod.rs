//! The requester daemon's console pages (DESIGN §7.4), each a call of the requester's local API
//! as the session's agent (`passerelle_requester::api`: it checks the roles and writes the
//! access log):
//!
//! | page | roles | API |
//! |---|---|---|
//! | `GET /cases` "Envois et dossiers" | `prevention-agent` of the office | `GET /v1/cases` (a `read` of `cases`) |
//! | `GET /cases/{case}[?after=RANK]` "Dossier" | `prevention-agent` of the office | `GET /v1/cases`, `GET /v1/cases/{case}/contacts` (a `read` of the case about each person listed) |
//! | `POST /cases/{case}/files/{csv,jsonl,summary}` | `prevention-agent` of the office | `POST /v1/cases/{case}/result`, then `GET /v1/cases/{case}/result/{file}` (an `export` for the lists) |
//! | `GET`, `POST /submit` "Nouvel envoi" | `prevention-agent` of the office | `POST /v1/cases?want=…&service=CODE[&purpose=…]` (a `create` per case) |
//! | `GET /status` "État du service" | `operator`, `requester-admin` | `GET /v1/overview` (counts only) |
//! | `GET`, `POST /purge` "Purge" | `requester-admin` | `GET /v1/overview`, `POST /v1/purge` (a `delete` per case) |
//!
//! The HTML is [`render`]'s, from the API's answers.

#[cfg(test)]
mod pages_tests;
mod render;
#[cfg(test)]
mod tests;

use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use passerelle_agents::Role;
use passerelle_console::{CsrfForm, NavLink, Page, PageError, Session};
use passerelle_requester::api::{CaseStatus, ContactsAnswer, OverviewAnswer, PurgeAnswer, SubmitAnswer};
use passerelle_requester::CaseState;
use serde::Deserialize;
use uuid::Uuid;

const PREVENTION: &[Role] = &[Role::PreventionAgent];
const OVERSEEING: &[Role] = &[Role::Operator, Role::RequesterAdmin];
const ADMIN: &[Role] = &[Role::RequesterAdmin];

/// The largest selection file the form takes (it is held in memory while sent to the API).
const MAX_UPLOAD: usize = 64 * 1024 * 1024;

/// Persons of a contact list shown on one page.
const CONTACTS_PER_PAGE: usize = 100;

/// Every route these pages serve, with a sample path.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/cases"),
    ("GET", "/cases/00000000-0000-7000-8000-000000000001"),
    ("POST", "/cases/00000000-0000-7000-8000-000000000001/files/summary"),
    ("GET", "/submit"),
    ("POST", "/submit"),
    ("GET", "/status"),
    ("GET", "/purge"),
    ("POST", "/purge"),
];

/// The menu's links of these pages.
pub fn nav() -> Vec<NavLink> {
    vec![
        NavLink {
            href: "/cases",
            label: "Envois et dossiers",
            about: "Vos envois, l'avancement de chaque dossier, les refus et leurs motifs, les listes de contacts.",
            roles: PREVENTION,
        },
        NavLink {
            href: "/submit",
            label: "Nouvel envoi",
            about: "Déposer un fichier de sélection et choisir les catégories demandées.",
            roles: PREVENTION,
        },
        NavLink {
            href: "/status",
            label: "État du service",
            about:
                "Les compteurs du service : dossiers par état, attentes, prochaine purge (aucune donnée personnelle).",
            roles: OVERSEEING,
        },
        NavLink {
            href: "/purge",
            label: "Purge",
            about: "Effacer maintenant ce dont la durée de conservation est écoulée.",
            roles: ADMIN,
        },
    ]
}

/// The pages.
pub fn pages() -> Router {
    Router::new()
        .route("/cases", get(cases))
        .route("/cases/{case}", get(case))
        .route("/cases/{case}/files/{file}", post(file))
        .route("/submit", get(submit_form).post(submit).layer(DefaultBodyLimit::max(MAX_UPLOAD)))
        .route("/status", get(status))
        .route("/purge", get(purge_form).post(purge))
}

/// A case id of a path, or the 404 (never passed to the API as it came).
fn case_id(text: &str) -> Result<Uuid, PageError> {
    Uuid::parse_str(text).map_err(|_| PageError::not_found("Ce dossier n'existe pas (identifiant mal formé)."))
}

async fn cases(session: Session) -> Result<Page, PageError> {
    let statuses: Vec<CaseStatus> = session.get("/v1/cases").await?;
    Ok(session.page("Envois et dossiers", &render::cases_page(&statuses)))
}

#[derive(Debug, Deserialize)]
struct After {
    after: Option<String>,
}

async fn case(session: Session, Path(case): Path<String>, Query(query): Query<After>) -> Result<Page, PageError> {
    let case = case_id(&case)?;
    let after = match query.after.as_deref() {
        None | Some("") => 0,
        Some(text) => text.parse::<u64>().map_err(|_| PageError::bad_request("`after` doit être un rang."))?,
    };
    let statuses: Vec<CaseStatus> = session.get("/v1/cases").await?;
    let id = case.to_string();
    let status = statuses
        .into_iter()
        .find(|s| s.case.case_id == id)
        .ok_or_else(|| PageError::not_found(format!("Aucun dossier {id} dans cet office.")))?;
    let contacts = if status.case.state == CaseState::Answered {
        session.get(&format!("/v1/cases/{case}/contacts?after={after}&limit={CONTACTS_PER_PAGE}")).await?
    } else {
        ContactsAnswer { case, state: status.case.state, persons: 0, entries: Vec::new(), next: None }
    };
    let more = contacts.next.map(|rank| format!("/cases/{case}?after={rank}"));
    Ok(session.page("Dossier", &render::case_page(&status, &contacts, more, &session.csrf_field())))
}

/// A result file of a case, written again by the daemon (as `requester fetch` does), then
/// downloaded: a form's `POST` with the session's token, as the export it is (the API writes
/// the contact list to the results folder and records an `export`) — never a link a prefetch
/// or another page could follow.
async fn file(
    session: Session,
    Path((case, file)): Path<(String, String)>,
    CsrfForm(Confirm {}): CsrfForm<Confirm>,
) -> Result<Response, PageError> {
    let case = case_id(&case)?;
    let name = match file.as_str() {
        "csv" => format!("{case}.csv"),
        "jsonl" => format!("{case}.jsonl"),
        "summary" => format!("{case}.summary.json"),
        _ => return Err(PageError::not_found("Les fichiers de résultat sont csv, jsonl et summary.")),
    };
    let _: serde_json::Value = session.post(&format!("/v1/cases/{case}/result"), &()).await?;
    session.download(&format!("/v1/cases/{case}/result/{file}"), &name).await
}

async fn submit_form(session: Session) -> Result<Page, PageError> {
    session.require(PREVENTION)?;
    Ok(session.page("Nouvel envoi", &render::submit_form(&session.csrf_field())))
}

/// The fields of the submission form.
#[derive(Debug, Default)]
struct SubmitFields {
    file_name: Option<String>,
    selection: Option<axum::body::Bytes>,
    want: Vec<String>,
    /// The service's code (the form's list).
    service: String,
    /// The service in words (optional, except for `other`).
    purpose: String,
    respond_by: String,
    encoding: String,
    strict: bool,
}

fn bad_form(e: MultipartError) -> PageError {
    PageError::new(e.status(), "Demande incorrecte", format!("Le formulaire n'a pu être lu : {}.", e.body_text()))
}

/// Reads the multipart form: its `csrf` part must come first (the form puts it there), so a
/// forged form is refused before any file it carries is read.
async fn read_submit(
    session: &Session,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<SubmitFields, PageError> {
    let Ok(mut multipart) = multipart else { return Err(PageError::csrf()) };
    let mut checked = false;
    let mut form = SubmitFields::default();
    while let Some(field) = multipart.next_field().await.map_err(bad_form)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "csrf" {
            session.check_csrf(&field.text().await.map_err(bad_form)?)?;
            checked = true;
            continue;
        }
        if !checked {
            return Err(PageError::csrf());
        }
        match name.as_str() {
            "selection" => {
                form.file_name = field.file_name().map(str::to_owned);
                form.selection = Some(field.bytes().await.map_err(bad_form)?);
            }
            "want" => form.want.push(field.text().await.map_err(bad_form)?),
            "service" => form.service = field.text().await.map_err(bad_form)?,
            "respond_by" => form.respond_by = field.text().await.map_err(bad_form)?,
            "purpose" => form.purpose = field.text().await.map_err(bad_form)?,
            "encoding" => form.encoding = field.text().await.map_err(bad_form)?,
            "strict" => form.strict = true,
            _ => {}
        }
    }
    if !checked {
        return Err(PageError::csrf());
    }
    Ok(form)
}

/// The API's query of a submission (`POST /v1/cases?…`), or what the form lacks.
fn submit_path(form: &SubmitFields) -> Result<String, PageError> {
    let want: Vec<&str> = form.want.iter().map(|w| w.trim()).filter(|w| !w.is_empty()).collect();
    if want.is_empty() {
        return Err(PageError::bad_request("Cochez au moins une catégorie demandée."));
    }
    if form.service.trim().is_empty() {
        return Err(PageError::bad_request("Choisissez le service proposé aux personnes."));
    }
    let service = passerelle_protocol::offered_service::parse(&form.service)
        .map_err(|_| PageError::bad_request("Le service choisi n'est pas un service de la liste."))?;
    if service == passerelle_protocol::v1::OfferedService::Other && form.purpose.trim().is_empty() {
        return Err(PageError::bad_request("Pour « Autre service », dites en quelques mots quel service est proposé."));
    }
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("want", &want.join(","));
    query.append_pair("service", passerelle_protocol::offered_service::code(service));
    if !form.purpose.trim().is_empty() {
        query.append_pair("purpose", form.purpose.trim());
    }
    if !form.respond_by.trim().is_empty() {
        query.append_pair("respond_by", form.respond_by.trim());
    }
    if !form.encoding.trim().is_empty() {
        query.append_pair("encoding", form.encoding.trim());
    }
    if form.strict {
        query.append_pair("strict", "true");
    }
    if let Some(name) = &form.file_name {
        query.append_pair("name", name);
    }
    Ok(format!("/v1/cases?{}", query.finish()))
}

async fn submit(session: Session, multipart: Result<Multipart, MultipartRejection>) -> Result<Page, PageError> {
    let form = read_submit(&session, multipart).await?;
    let path = submit_path(&form)?;
    let selection = form.selection.filter(|b| !b.is_empty()).ok_or_else(|| {
        PageError::bad_request("Choisissez le fichier de sélection à envoyer (il est vide ou manquant).")
    })?;
    let answer: SubmitAnswer = session.post_bytes(&path, "text/csv", selection).await?;
    let title = match answer {
        SubmitAnswer::Submitted { .. } => "Envoi déposé",
        _ => "Envoi refusé",
    };
    Ok(session.page(title, &render::submit_answer(&answer)))
}

async fn status(session: Session) -> Result<Page, PageError> {
    let overview: OverviewAnswer = session.get("/v1/overview").await?;
    Ok(session.page("État du service", &render::status_page(&overview, session.has_any(ADMIN))))
}

async fn purge_form(session: Session) -> Result<Page, PageError> {
    session.require(ADMIN)?;
    let overview: OverviewAnswer = session.get("/v1/overview").await?;
    Ok(session.page("Purge", &render::purge_form(&session.csrf_field(), &overview)))
}

/// A form of its token alone (the purge, a result file).
#[derive(Debug, Deserialize)]
struct Confirm {}

async fn purge(session: Session, CsrfForm(_): CsrfForm<Confirm>) -> Result<Page, PageError> {
    let purged: PurgeAnswer = session.post("/v1/purge", &()).await?;
    Ok(session.page("Purge faite", &render::purge_answer(&purged)))
}
