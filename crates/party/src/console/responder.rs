//! The responder daemon's page, for its `operator`s and `responder-admin`s: `GET /status`
//! (`GET /v1/status`, `passerelle_responder::api`) — the body answered for, its source, the
//! categories it holds, the extract loaded (its id, persons, size, age) and the answers given
//! since the daemon started. Counts and ages only: no personal datum reaches this page.
//!
//! Loading an extract stays with the CLI (`passerelle responder load`), which streams the file as
//! the agent reads it; the page says so to a `responder-admin`.

use axum::routing::get;
use axum::Router;
use passerelle_console::html::{card, duration, facts, notice, text, when};
use passerelle_console::{NavLink, Page, PageError, Session};
use passerelle_responder::api::{ResponderStatus, LOAD_ROLES, STATUS_ROLES};
use passerelle_rights::printable::category_label;

/// Every route, with a sample path.
pub const ROUTES: &[(&str, &str)] = &[("GET", "/status")];

/// The menu's links of these pages.
pub fn nav() -> Vec<NavLink> {
    vec![NavLink {
        href: "/status",
        label: "État du répondant",
        about: "L'extrait chargé (son identifiant, ses personnes, son âge) et les réponses données depuis le \
                démarrage — des comptes seulement, aucune donnée personnelle.",
        roles: STATUS_ROLES,
    }]
}

/// The pages.
pub fn pages() -> Router {
    Router::new().route("/status", get(status))
}

async fn status(session: Session) -> Result<Page, PageError> {
    let status: ResponderStatus = session.get("/v1/status").await?;
    let admin = session.has_any(LOAD_ROLES);
    Ok(session.page("État du répondant", &status_page(&status, admin)))
}

/// A size in bytes as French writes it (`12,4 Mo`).
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["octets", "Ko", "Mo", "Go"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} octets")
    } else {
        format!("{value:.1} {}", UNITS[unit]).replace('.', ",")
    }
}

/// The page (`admin`: the agent may load an extract).
pub fn status_page(s: &ResponderStatus, admin: bool) -> String {
    let source = match s.source.as_str() {
        "extract" => "un extrait chargé (fichier CSV indexé)",
        "postgres" => "la base de l'organisme (PostgreSQL), lue directement",
        other => other,
    };
    let held: Vec<String> = s
        .held
        .iter()
        .map(|c| format!("<li>{} <span class=\"muted\">({})</span></li>", text(category_label(c)), text(c)))
        .collect();
    let mut out = facts(&[
        ("Organisme", text(&s.body)),
        ("Répond à partir de", text(source)),
        ("Catégories détenues", s.held.len().to_string()),
    ]);
    out.push_str("<h2>Extrait chargé</h2>");
    match (&s.extract, s.source.as_str()) {
        (Some(e), _) => out.push_str(&facts(&[
            ("Identifiant", text(&e.id)),
            ("Personnes", e.persons.to_string()),
            ("Taille de l'index", text(&size(e.bytes))),
            ("Chargé le", when(&e.loaded_at)),
            ("Âge", text(&duration(i64::try_from(e.age_s).unwrap_or(i64::MAX)))),
        ])),
        (None, "extract") => out.push_str(&notice(
            "Aucun extrait lisible n'est chargé : le répondant ne peut pas répondre tant qu'un extrait n'est pas chargé.",
        )),
        (None, _) => out.push_str(r#"<p class="muted">Le répondant lit la base de l'organisme : il n'a pas d'extrait.</p>"#),
    }
    if admin && s.source == "extract" {
        out.push_str(
            "<p>Pour charger un nouvel extrait : <code>passerelle responder load --config FICHIER EXTRAIT.csv</code> \
             (le rapport nomme chaque ligne refusée ; l'index en service est gardé si le nouveau perd trop de personnes).</p>",
        );
    }
    out.push_str("<h2>Réponses données depuis le démarrage</h2>");
    match &s.answered {
        Some(a) => out.push_str(&format!(
            r#"<ul class="cards">{}{}{}{}</ul>"#,
            card(&a.chunks.to_string(), "lots de demandes répondus"),
            card(&a.persons.to_string(), "personnes demandées"),
            card(&a.found.to_string(), "personnes trouvées"),
            card(&a.refused.to_string(), "livraisons refusées (lettres mortes)"),
        )),
        None => out.push_str(r#"<p class="muted">Ce service ne répond pas aux demandes : aucun compte.</p>"#),
    }
    out.push_str(&format!(
        "<h2>Catégories détenues</h2>{}",
        if held.is_empty() {
            r#"<p class="muted">Aucune.</p>"#.to_owned()
        } else {
            format!("<ul>{}</ul>", held.concat())
        }
    ));
    out
}

#[cfg(test)]
mod tests {
    use passerelle_responder::api::{AnsweredStatus, ExtractStatus};

    use super::*;

    const HOSTILE: &str = r#"<script>alert("x")</script>"#;

    fn status(extract: Option<ExtractStatus>, source: &str) -> ResponderStatus {
        ResponderStatus {
            body: HOSTILE.to_owned(),
            source: source.to_owned(),
            held: vec!["css".to_owned(), HOSTILE.to_owned()],
            extract,
            answered: Some(AnsweredStatus { chunks: 4, persons: 400, found: 321, refused: 1 }),
        }
    }

    #[test]
    fn the_status_escapes_every_value_and_says_what_is_missing() {
        let extract = ExtractStatus {
            id: HOSTILE.to_owned(),
            persons: 12_000,
            bytes: 5 * 1024 * 1024 + 300 * 1024,
            loaded_at: "2026-12-07T08:00:00Z".to_owned(),
            age_s: 3 * 3600 + 120,
        };
        let html = status_page(&status(Some(extract), "extract"), true);
        assert!(!html.contains("<script>"), "{html}");
        assert!(
            html.contains("12000") && html.contains("5,3 Mo") && html.contains("3 h 2 min") && html.contains("321")
        );
        assert!(html.contains("responder load"));
        let html = status_page(&status(None, "extract"), false);
        assert!(html.contains("Aucun extrait lisible") && !html.contains("responder load"));
        let html = status_page(&ResponderStatus { answered: None, ..status(None, "postgres") }, true);
        assert!(html.contains("pas d'extrait") && html.contains("aucun compte") && !html.contains("responder load"));
    }

    #[test]
    fn sizes_read_in_french() {
        assert_eq!(size(512), "512 octets");
        assert_eq!(size(2048), "2,0 Ko");
        assert_eq!(size(3 * 1024 * 1024 * 1024), "3,0 Go");
    }
}
