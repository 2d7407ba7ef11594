//! The observatory's console pages (DESIGN §7.1, §7.4), each a call of its local API as the
//! session's agent — the API checks the roles; a page only chooses what links to offer:
//!
//! | page | roles | API call |
//! |---|---|---|
//! | `/cases` Dossiers en cours | operator, observatory-agent | `GET /v1/status` |
//! | `/cases/{case}` Chronologie du dossier | observatory-agent, auditor | `GET /v1/audit/entries?case=ID` (access-logged) |
//! | `POST /timeline` `case=ID` | observatory-agent, auditor | the form of `/purges` and `/audit`: a redirect to `/cases/{case}` |
//! | `/dead-letters` Lettres mortes | operator, observatory-agent | `GET /v1/status` (by reason and sender) |
//! | `/purges` Purges | operator, observatory-agent, auditor | `GET /v1/purges` |
//! | `/queues` Files d'attente | operator (checked by the page: the API answers observatory-agents too) | `GET /v1/status` (the outbox; the queues need `ctl status`) |
//! | `/audit` Vérification du journal d'audit | auditor, observatory-agent | `GET /v1/audit/verify` (access-logged) |
//!
//! No answer these pages read holds a NIR, a name or a category value: the operator's pages are
//! counts, ages, ids and codes.

mod render;
#[cfg(test)]
mod tests;

use axum::extract::Path;
use axum::response::Redirect;
use axum::routing::{get, post};
use axum::Router;
use passerelle_agents::Role;
use passerelle_console::{CsrfForm, NavLink, Page, PageError, Session};
use passerelle_observatory::operator_status::Purges;
use passerelle_observatory_store::AuditRecord;
use passerelle_protocol::untrusted::is_identifier;
use passerelle_trails::TrailReport;
use serde::Deserialize;

use crate::api::observatory::OperatorStatus;

/// Who may read a case's timeline (the audit trail's readers).
const TIMELINE_READERS: [Role; 2] = [Role::ObservatoryAgent, Role::Auditor];

/// Every route these pages serve, with a sample path.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/cases"),
    ("GET", "/cases/00000000-0000-7000-8000-000000000001"),
    ("POST", "/timeline"),
    ("GET", "/dead-letters"),
    ("GET", "/purges"),
    ("GET", "/queues"),
    ("GET", "/audit"),
];

/// The menu's links of these pages.
pub fn nav() -> Vec<NavLink> {
    vec![
        NavLink {
            href: "/cases",
            label: "Dossiers en cours",
            about: "Les dossiers qui détiennent des données : âge, état, organismes ayant répondu ou en retard, \
                    échéances, prochaine purge.",
            roles: &[Role::Operator, Role::ObservatoryAgent],
        },
        NavLink {
            href: "/dead-letters",
            label: "Lettres mortes",
            about: "Les messages refusés définitivement, par motif et par expéditeur : ce qu'un partenaire doit \
                    corriger de son côté.",
            roles: &[Role::Operator, Role::ObservatoryAgent],
        },
        NavLink {
            href: "/purges",
            label: "Purges",
            about: "Les purges effectuées (dossier, date, motif, nombres) et la prochaine à venir.",
            roles: &[Role::Operator, Role::ObservatoryAgent, Role::Auditor],
        },
        NavLink {
            href: "/queues",
            label: "Files d'attente",
            about: "La boîte d'envoi du service, et comment lire les files RabbitMQ et leurs consommateurs.",
            roles: &[Role::Operator],
        },
        NavLink {
            href: "/audit",
            label: "Vérification du journal d'audit",
            about: "Le journal d'audit vérifié : sa chaîne, et sa concordance avec les points de contrôle du témoin.",
            roles: &[Role::Auditor, Role::ObservatoryAgent],
        },
    ]
}

/// The pages.
pub fn pages() -> Router {
    Router::new()
        .route("/cases", get(cases))
        .route("/cases/{case}", get(case))
        .route("/timeline", post(timeline))
        .route("/dead-letters", get(dead_letters))
        .route("/purges", get(purges))
        .route("/queues", get(queues))
        .route("/audit", get(audit))
}

async fn cases(session: Session) -> Result<Page, PageError> {
    let status: OperatorStatus = session.get("/v1/status").await?;
    let body = render::cases(&status.parts, session.has_any(&TIMELINE_READERS));
    Ok(session.page("Dossiers en cours", &body))
}

async fn case(session: Session, Path(case): Path<String>) -> Result<Page, PageError> {
    if !is_identifier(&case) {
        return Err(PageError::not_found("Ce chemin ne nomme pas un dossier (un identifiant de dossier est attendu)."));
    }
    // An identifier is letters, digits and `.-_:`: nothing to encode in the query.
    let entries: Vec<AuditRecord> = session.get(&format!("/v1/audit/entries?case={case}")).await?;
    Ok(session.page("Chronologie du dossier", &render::timeline(&case, &entries)))
}

/// The timeline form: `case=ID` (and its `csrf`).
#[derive(Debug, Deserialize)]
struct CaseForm {
    case: Option<String>,
}

async fn timeline(_session: Session, CsrfForm(form): CsrfForm<CaseForm>) -> Result<Redirect, PageError> {
    let case = form.case.unwrap_or_default();
    let case = case.trim();
    if !is_identifier(case) {
        return Err(PageError::bad_request("Saisissez l'identifiant d'un dossier (un UUID)."));
    }
    Ok(Redirect::to(&format!("/cases/{case}")))
}

async fn dead_letters(session: Session) -> Result<Page, PageError> {
    let status: OperatorStatus = session.get("/v1/status").await?;
    let body = render::dead_letters(status.parts.dead_letters_total, &status.parts.dead_letters);
    Ok(session.page("Lettres mortes", &body))
}

async fn purges(session: Session) -> Result<Page, PageError> {
    let purges: Purges = session.get("/v1/purges").await?;
    let timeline = session.has_any(&TIMELINE_READERS);
    let mut body = render::purges(&purges, timeline);
    if timeline {
        body.push_str(&render::timeline_form(&session.csrf_field()));
    }
    Ok(session.page("Purges", &body))
}

async fn queues(session: Session) -> Result<Page, PageError> {
    // `GET /v1/status` also answers observatory-agents; the queues are the operators' (§7.1).
    session.require(&[Role::Operator])?;
    let status: OperatorStatus = session.get("/v1/status").await?;
    let queues: passerelle_management::Queues = session.get("/v1/queues").await?;
    Ok(session.page("Files d'attente", &render::queues(&queues, status.parts.outbox_messages)))
}

async fn audit(session: Session) -> Result<Page, PageError> {
    let report: TrailReport = session.get("/v1/audit/verify").await?;
    let mut body = render::verification(&report);
    if session.has_any(&TIMELINE_READERS) {
        body.push_str(&render::timeline_form(&session.csrf_field()));
    }
    Ok(session.page("Vérification du journal d'audit", &body))
}
