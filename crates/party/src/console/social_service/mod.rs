//! The social service's console pages (CNIL norm 43; DESIGN §7.2), each a call of the
//! social-service daemon's local API (`passerelle_social_service::api`, its route table) as the
//! session's agent: the API checks the roles and writes the access log.
//!
//! | page | roles | API |
//! |---|---|---|
//! | `/worklist` Liste de contacts | `social-worker` | `GET /v1/worklist`, `POST /v1/worklist/outcome` |
//! | `/files` Dossiers | `social-worker` | `GET /v1/files?state=`, `GET /v1/retention/flagged` |
//! | `/files/{file}` Dossier | `social-worker` | `GET /v1/files/{file}`, `POST …/update`, `…/actions`, `…/contacts`, `…/close`, `/v1/offers`, `/v1/transfers` |
//! | `/transfers` Transferts | `social-worker`, `medical-officer` (release) | `GET /v1/transfers`, `GET /v1/transfers/{id}`, `…/accept`, `…/refuse`, `/v1/transfers/release` |
//! | `/archive` Archives | `archive-reader` | `GET /v1/archive/files?purpose=`, `GET /v1/archive/files/{file}?purpose=` |
//! | `/grants` Habilitations | `director-delegate`, `medical-officer` | `GET /v1/archive/grants`, `POST …/grants`, `…/sign`, `…/revoke` |
//! | `/statistics` Statistiques | `statistics-agent` | `GET /v1/stats` |
//! | `/status` État du service | `operator` | `GET /v1/overview` (counts only) |
//! | `/rights` Droits des personnes | `rights-officer`, `director-delegate` (decide) | `POST /v1/files/{file}/rights/access`, `…/rectify`, `…/object`, `…/refuse-archive`, `…/decide` |
//!
//! The closed lists of the forms (channels, offer kinds and themes, the norm's codes, the
//! archive's purposes) are the crates' own (`passerelle_social_file`, `Purpose::ALL`); the
//! fields' French labels and values are the printable page's (`printable::label`,
//! `printable::field_html`). A filter form (`GET`) carries no CSRF token: it changes nothing,
//! and a token has no place in a URL.

mod archive;
mod edit;
mod file;
mod file_forms;
mod files;
mod forms;
mod grants;
mod rights;
mod statistics;
mod status;
mod transfers;
mod worklist;

#[cfg(test)]
mod tests;

use axum::routing::{get, post};
use axum::Router;
use passerelle_agents::Role;
use passerelle_console::NavLink;
use passerelle_social_service::store::FileState;

const WORKER: &[Role] = &[Role::SocialWorker];

/// The menu's links of these pages.
pub fn nav() -> Vec<NavLink> {
    vec![
        NavLink {
            href: "/worklist",
            label: "Liste de contacts",
            about: "Les personnes à qui proposer le service, dans l'ordre, et le résultat de chaque proposition.",
            roles: WORKER,
        },
        NavLink {
            href: "/files",
            label: "Dossiers",
            about: "Les dossiers du bureau : ouverts, clos, actions sans activité, dossiers bientôt archivés.",
            roles: WORKER,
        },
        NavLink {
            href: "/transfers",
            label: "Transferts",
            about: "Les dossiers envoyés à un autre organisme et ceux reçus à accepter ; la levée des avis médicaux.",
            roles: &[Role::SocialWorker, Role::MedicalOfficer],
        },
        NavLink {
            href: "/archive",
            label: "Archives",
            about: "Les dossiers archivés, lus pour une finalité de la norme, sous une habilitation valide.",
            roles: &[Role::ArchiveReader],
        },
        NavLink {
            href: "/grants",
            label: "Habilitations",
            about: "Les habilitations à lire les archives : proposer, cosigner, révoquer.",
            roles: &[Role::DirectorDelegate, Role::MedicalOfficer],
        },
        NavLink {
            href: "/rights",
            label: "Droits des personnes",
            about: "Accès d'une personne à son dossier, rectification, opposition, refus de l'archivage ; décision sur une opposition.",
            roles: &[Role::RightsOfficer, Role::DirectorDelegate],
        },
        NavLink {
            href: "/statistics",
            label: "Statistiques",
            about: "Les statistiques de pilotage, cellules de 1 à 10 personnes masquées.",
            roles: &[Role::StatisticsAgent],
        },
        NavLink {
            href: "/status",
            label: "État du service",
            about: "Nombres de dossiers, passe de conservation, transferts en cours — aucune donnée de personne.",
            roles: &[Role::Operator],
        },
    ]
}

/// The pages.
pub fn pages() -> Router {
    Router::new()
        .route("/worklist", get(worklist::page))
        .route("/worklist/outcome", post(worklist::outcome))
        .route("/files", get(files::page))
        .route("/files/{file}", get(file::page))
        .route("/files/{file}/update", post(file_forms::update))
        .route("/files/{file}/actions", post(file_forms::action))
        .route("/files/{file}/contacts", post(file_forms::contact))
        .route("/files/{file}/offers", post(file_forms::offer))
        .route("/files/{file}/close", post(file_forms::close))
        .route("/files/{file}/transfer", post(file_forms::transfer))
        .route("/transfers", get(transfers::page))
        .route("/transfers/release", post(transfers::release))
        .route("/transfers/{id}", get(transfers::show))
        .route("/transfers/{id}/accept", post(transfers::accept))
        .route("/transfers/{id}/refuse", post(transfers::refuse))
        .route("/archive", get(archive::page))
        .route("/archive/{file}", get(archive::show))
        .route("/grants", get(grants::page).post(grants::propose))
        .route("/grants/{grant}/sign", post(grants::sign))
        .route("/grants/{grant}/revoke", post(grants::revoke))
        .route("/rights", get(rights::page))
        .route("/rights/access", post(rights::access))
        .route("/rights/decide", post(rights::decide))
        .route("/rights/{file}/rectify", post(rights::rectify))
        .route("/rights/{file}/object", post(rights::object))
        .route("/rights/{file}/refuse-archive", post(rights::refuse_archive))
        .route("/statistics", get(statistics::page))
        .route("/status", get(status::page))
}

/// Every route these pages serve, with a sample concrete path.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/worklist"),
    ("POST", "/worklist/outcome"),
    ("GET", "/files"),
    ("GET", "/files/00000000-0000-7000-8000-000000000001"),
    ("POST", "/files/00000000-0000-7000-8000-000000000001/update"),
    ("POST", "/files/00000000-0000-7000-8000-000000000001/actions"),
    ("POST", "/files/00000000-0000-7000-8000-000000000001/contacts"),
    ("POST", "/files/00000000-0000-7000-8000-000000000001/offers"),
    ("POST", "/files/00000000-0000-7000-8000-000000000001/close"),
    ("POST", "/files/00000000-0000-7000-8000-000000000001/transfer"),
    ("GET", "/transfers"),
    ("POST", "/transfers/release"),
    ("GET", "/transfers/00000000-0000-7000-8000-000000000001"),
    ("POST", "/transfers/00000000-0000-7000-8000-000000000001/accept"),
    ("POST", "/transfers/00000000-0000-7000-8000-000000000001/refuse"),
    ("GET", "/archive"),
    ("GET", "/archive/00000000-0000-7000-8000-000000000001"),
    ("GET", "/grants"),
    ("POST", "/grants"),
    ("POST", "/grants/00000000-0000-7000-8000-000000000001/sign"),
    ("POST", "/grants/00000000-0000-7000-8000-000000000001/revoke"),
    ("GET", "/rights"),
    ("POST", "/rights/access"),
    ("POST", "/rights/decide"),
    ("POST", "/rights/00000000-0000-7000-8000-000000000001/rectify"),
    ("POST", "/rights/00000000-0000-7000-8000-000000000001/object"),
    ("POST", "/rights/00000000-0000-7000-8000-000000000001/refuse-archive"),
    ("GET", "/statistics"),
    ("GET", "/status"),
];

/// A value for a URL's path segment or query (`/v1/files/{file}`, `?purpose=`).
fn enc(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A form's optional text: none when left empty.
fn given(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// A file's state in French.
fn state_fr(state: FileState) -> &'static str {
    match state {
        FileState::Open => "ouvert",
        FileState::Closed => "clos",
    }
}

/// A day `YYYY-MM-DD` as French writes it (`07/12/2026`); anything else as it is (escaped).
fn day(text: &str) -> String {
    match chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(d) => d.format("%d/%m/%Y").to_string(),
        Err(_) => passerelle_console::html::text(text),
    }
}
