//! The trail pages every daemon has, for its `auditor`s — the pages of `passerelle access-log`,
//! each a call of `api::trails`:
//!
//! | page | call | what it shows |
//! |---|---|---|
//! | `GET /access-log[?year=&from=&limit=]` | `GET /v1/access-log/entries` | one year's entries (who read, created, changed, deleted, exported, transferred or was refused what); a person only as "held" or "dropped", never its hash (recorded as a `read` of `access-log`) |
//! | `GET /access-log/verify` | `GET /v1/access-log/verify` | the chain checked read-only, then against every checkpoint the witness holds |
//!
//! The observatory's audit trail has its own page (`/audit`, in [`super::observatory`]). The
//! filters form is a GET (no personal datum in it), so it carries no CSRF token, which would
//! otherwise end up in a URL.

use axum::extract::rejection::QueryRejection;
use axum::extract::Query;
use axum::routing::get;
use axum::Router;
use passerelle_agents::Role;
use passerelle_console::html::{facts, link, notice, table, text, when};
use passerelle_console::{NavLink, Page, PageError, Session};
use passerelle_trails::TrailReport;
use serde::Deserialize;

use crate::api::trails::{AccessLogPage, ShownEntry, MAX_PAGE};

/// Who these pages are for.
const AUDITORS: &[Role] = &[Role::Auditor];

/// Entries a page shows unless told otherwise.
const DEFAULT_LIMIT: usize = 200;

/// Every route, with a sample path.
pub const ROUTES: &[(&str, &str)] = &[("GET", "/access-log"), ("GET", "/access-log/verify")];

/// The menu's links of these pages (`audit`: the daemon keeps an audit trail, the observatory —
/// whose page is the observatory module's, so nothing changes here).
pub fn nav(_audit: bool) -> Vec<NavLink> {
    vec![NavLink {
        href: "/access-log",
        label: "Journal des accès",
        about: "Qui a lu, créé, modifié, supprimé, exporté, transmis ou s'est vu refuser quoi, année par année, et \
                la vérification du journal auprès de son témoin.",
        roles: AUDITORS,
    }]
}

/// The pages.
pub fn pages() -> Router {
    Router::new().route("/access-log", get(entries)).route("/access-log/verify", get(verify))
}

/// `?year=&from=&limit=` (an empty field is no filter).
#[derive(Debug, Default, Deserialize)]
struct EntriesQuery {
    #[serde(default, deserialize_with = "blank_is_none")]
    year: Option<i32>,
    #[serde(default, deserialize_with = "blank_is_none")]
    from: Option<i64>,
    #[serde(default, deserialize_with = "blank_is_none")]
    limit: Option<usize>,
}

fn blank_is_none<'de, D: serde::Deserializer<'de>, T: std::str::FromStr>(d: D) -> Result<Option<T>, D::Error> {
    let text: Option<String> = Option::deserialize(d)?;
    match text.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) => t.parse().map(Some).map_err(|_| serde::de::Error::custom(format!("not a number: {t}"))),
    }
}

async fn entries(session: Session, query: Result<Query<EntriesQuery>, QueryRejection>) -> Result<Page, PageError> {
    let Query(query) = query
        .map_err(|_| PageError::bad_request("L'année, le rang de départ et le nombre d'entrées sont des nombres."))?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_PAGE);
    let from = query.from.unwrap_or(1).max(1);
    let mut path = format!("/v1/access-log/entries?from={from}&limit={limit}");
    if let Some(year) = query.year {
        path.push_str(&format!("&year={year}"));
    }
    let page: AccessLogPage = session.get(&path).await?;
    Ok(session.page("Journal des accès", &entries_page(&page, from, limit)))
}

async fn verify(session: Session) -> Result<Page, PageError> {
    let report: TrailReport = session.get("/v1/access-log/verify").await?;
    Ok(session.page("Vérification du journal des accès", &verify_page(&report)))
}

/// An access's kind in French.
fn kind_label(kind: &str) -> &str {
    match kind {
        "read" => "lecture",
        "create" => "création",
        "update" => "modification",
        "delete" => "suppression",
        "export" => "export",
        "transfer" => "transmission",
        "refused" => "refus",
        other => other,
    }
}

/// Whom an entry concerns: a fixed wording — whatever the API sends, it is never echoed (a
/// person is shown only as held or dropped, never by its hash).
fn person_label(person: Option<&str>) -> &'static str {
    match person {
        None => "—",
        Some("held") => "une personne (empreinte conservée, non affichée)",
        Some("dropped") => "une personne (empreinte effacée)",
        Some(_) => "une personne",
    }
}

fn entry_row(e: &ShownEntry) -> Vec<String> {
    let kind = if e.kind == "refused" {
        format!(r#"<span class="warn">{}</span>"#, text(kind_label(&e.kind)))
    } else {
        text(kind_label(&e.kind))
    };
    vec![text(&e.entry), when(&e.at), text(&e.agent), kind, text(&e.object), text(person_label(e.person.as_deref()))]
}

/// `/access-log`: one year's entries from rank `from`, `limit` a page.
pub fn entries_page(page: &AccessLogPage, from: i64, limit: usize) -> String {
    let mut out = String::from(
        r#"<p class="lead">Chaque accès aux données est inscrit ici, chaîné année par année ; votre consultation de ce journal l'est aussi.</p>"#,
    );
    out.push_str(&format!("<p>{}</p>", link("/access-log/verify", "Vérifier le journal auprès de son témoin")));
    let Some(year) = page.year else {
        out.push_str(&notice("Le journal des accès est vide."));
        return out;
    };
    let years: String = page
        .years
        .iter()
        .map(|y| format!(r#"<option value="{y}"{}>{y}</option>"#, if *y == year { " selected" } else { "" }))
        .collect();
    out.push_str(&format!(
        r#"<form class="filters" method="get" action="/access-log"><div><label for="year">Année</label><select id="year" name="year">{years}</select></div><div><label for="from">À partir de l'entrée n°</label><input id="from" name="from" type="number" min="1" value="{from}"></div><div><label for="limit">Entrées par page</label><input id="limit" name="limit" type="number" min="1" max="{MAX_PAGE}" value="{limit}"></div><button type="submit">Afficher</button></form>"#
    ));
    let rows: Vec<Vec<String>> = page.entries.iter().map(entry_row).collect();
    out.push_str(&format!("<h2>Année {year}</h2>"));
    out.push_str(&table(
        &format!("Entrées de {year} à partir de la n° {from}"),
        &["Entrée", "Date", "Agent", "Action", "Objet", "Personne concernée"],
        &rows,
        "Aucune entrée à partir de ce rang.",
    ));
    if let Some(next) = page.next {
        out.push_str(&format!(
            "<p>{}</p>",
            link(&format!("/access-log?year={year}&from={next}&limit={limit}"), "Entrées suivantes")
        ));
    }
    out
}

/// `/access-log/verify`: the report, year by year.
pub fn verify_page(r: &TrailReport) -> String {
    let state = if r.intact {
        r#"<strong class="ok">intact</strong> : la chaîne tient et concorde avec chaque point de contrôle du témoin"#
            .to_owned()
    } else {
        r#"<strong class="bad">NE SE VÉRIFIE PAS</strong> : voir les constats ci-dessous"#.to_owned()
    };
    let witness = match (&r.witness, r.witness_answered) {
        (Some(w), true) => format!("{} : a répondu", text(w)),
        (w, _) => format!(
            "{} : {} — la chaîne n'a été vérifiée que par elle-même ; aucune entrée ne compte comme attestée",
            text(w.as_deref().unwrap_or("(aucun)")),
            text(r.witness_problem.as_deref().unwrap_or("pas de réponse"))
        ),
    };
    let mut out =
        facts(&[("Journal", text(&r.trail)), ("Service", text(&r.party)), ("État", state), ("Témoin", witness)]);
    if let Some(unreadable) = &r.unreadable {
        out.push_str(&format!(r#"<p class="notice error" role="alert">Illisible : {}</p>"#, text(unreadable)));
    }
    let rows: Vec<Vec<String>> = r
        .years
        .iter()
        .map(|y| {
            let state = if y.closed && y.entries == 0 {
                "close chez le témoin, effacée (durée de conservation)".to_owned()
            } else if y.findings.is_empty() {
                r#"<span class="ok">vérifiée</span>"#.to_owned()
            } else {
                let findings: String = y.findings.iter().map(|f| format!("<li>{}</li>", text(f))).collect();
                format!(r#"<span class="bad">anomalies :</span><ul>{findings}</ul>"#)
            };
            vec![
                y.year.to_string(),
                y.entries.to_string(),
                format!("1 à {}", y.covered),
                y.not_yet_covered.to_string(),
                format!("{} / {}", y.matched_checkpoints, y.witnessed_checkpoints),
                state,
            ]
        })
        .collect();
    out.push_str("<h2>Année par année</h2>");
    out.push_str(&table(
        "Chaque année de la chaîne",
        &[
            "Année",
            "#Entrées",
            "#Attestées",
            "#Pas encore attestées",
            "#Points de contrôle concordants / du témoin",
            "État",
        ],
        &rows,
        "Aucune année dans le journal.",
    ));
    out
}

#[cfg(test)]
mod tests {
    use passerelle_trails::YearReport;

    use super::*;

    const HOSTILE: &str = r#"<script>alert("x")</script>"#;
    const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    fn entry(person: Option<&str>) -> ShownEntry {
        ShownEntry {
            entry: "2026#17".to_owned(),
            at: "2026-12-07T18:00:00.000Z".to_owned(),
            agent: HOSTILE.to_owned(),
            kind: "refused".to_owned(),
            object: HOSTILE.to_owned(),
            person: person.map(str::to_owned),
        }
    }

    #[test]
    fn the_access_log_never_shows_a_person_hash_and_escapes_every_value() {
        let page = AccessLogPage {
            years: vec![2025, 2026],
            year: Some(2026),
            entries: vec![entry(Some("held")), entry(Some("dropped")), entry(None), entry(Some(HASH))],
            next: Some(18),
        };
        let html = entries_page(&page, 1, 200);
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains(HASH) && !html.contains(&HASH[..16]), "a person's hash is never echoed");
        assert!(html.contains("empreinte conservée") && html.contains("empreinte effacée"));
        assert!(html.contains(r#"<option value="2026" selected>"#));
        assert!(html.contains(r#"href="/access-log?year=2026&amp;from=18&amp;limit=200""#), "{html}");
        assert!(html.contains("refus"), "a refusal said in words");
        assert!(!html.contains("csrf"), "a GET form carries no token");
        let empty = AccessLogPage { years: vec![], year: None, entries: vec![], next: None };
        assert!(entries_page(&empty, 1, 200).contains("vide"));
    }

    #[test]
    fn the_report_says_what_does_not_verify() {
        let year = |findings: Vec<String>, closed: bool, entries: u64| YearReport {
            year: 2026,
            entries,
            witnessed_checkpoints: 3,
            matched_checkpoints: 2,
            covered: 40,
            not_yet_covered: 2,
            closed,
            findings,
        };
        let report = TrailReport {
            party: HOSTILE.to_owned(),
            trail: "access-log".to_owned(),
            witness: Some(HOSTILE.to_owned()),
            witness_answered: false,
            witness_problem: Some(HOSTILE.to_owned()),
            unreadable: Some(HOSTILE.to_owned()),
            years: vec![year(vec![HOSTILE.to_owned()], false, 42), year(vec![], true, 0), year(vec![], false, 42)],
            intact: false,
        };
        let html = verify_page(&report);
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("NE SE VÉRIFIE PAS") && html.contains("anomalies") && html.contains("effacée"));
        assert!(html.contains("que par elle-même"));
        let ok = verify_page(&TrailReport { intact: true, witness_answered: true, unreadable: None, ..report });
        assert!(ok.contains("intact") && ok.contains("a répondu"));
    }
}
