//! The observatory's statistics page (DESIGN §7.1, role `statistics-agent`): the aggregate
//! tables of the statistics store (`GET /v1/statistics`, recorded in the access log), and
//! following one pseudonym across cases (`POST /v1/statistics/follow`: a pseudonym, never a
//! NIR — the API refuses a NIR without repeating it).
//!
//! The report gives every count as the store holds it: it marks no cell as suppressed, so the
//! page says that small counts are not masked. A cell the API would mark suppressed would
//! render with [`suppressed`] (class `suppressed`).

use axum::routing::{get, post};
use axum::Router;
use passerelle_agents::Role;
use passerelle_console::html::{facts, notice, table, text};
use passerelle_console::{CsrfForm, NavLink, Page, PageError, Session};
use passerelle_observatory_store::statistics::{Appearance, StatisticsReport};
use serde::Deserialize;

use crate::api::observatory::Follow;

/// Every route these pages serve, with a sample path.
pub const ROUTES: &[(&str, &str)] = &[("GET", "/statistics"), ("POST", "/statistics/follow")];

/// The menu's links of these pages.
pub fn nav() -> Vec<NavLink> {
    vec![NavLink {
        href: "/statistics",
        label: "Statistiques",
        about: "Les tableaux agrégés du magasin statistique, et le suivi d'un pseudonyme d'un dossier à l'autre.",
        roles: &[Role::StatisticsAgent],
    }]
}

/// The pages.
pub fn pages() -> Router {
    Router::new().route("/statistics", get(statistics)).route("/statistics/follow", post(follow))
}

async fn statistics(session: Session) -> Result<Page, PageError> {
    let report: StatisticsReport = session.get("/v1/statistics").await?;
    let mut body = report_html(&report);
    body.push_str(&follow_form(&session.csrf_field(), ""));
    Ok(session.page("Statistiques", &body))
}

/// The follow form's fields.
#[derive(Debug, Deserialize)]
struct FollowForm {
    pseudonym: String,
}

async fn follow(session: Session, CsrfForm(form): CsrfForm<FollowForm>) -> Result<Page, PageError> {
    let pseudonym = form.pseudonym.trim().to_ascii_lowercase();
    let appearances: Vec<Appearance> =
        session.post("/v1/statistics/follow", &Follow { pseudonym: pseudonym.clone() }).await?;
    let mut body = appearances_html(&appearances);
    body.push_str(&follow_form(&session.csrf_field(), &pseudonym));
    body.push_str(r#"<p><a href="/statistics">Retour aux tableaux</a></p>"#);
    Ok(session.page("Suivi d'un pseudonyme", &body))
}

/// A count cell: the figure, or the statistical secret when the report withheld it.
pub fn count_cell(count: Option<u64>) -> String {
    count.map_or_else(suppressed, |n| n.to_string())
}

/// A cell withheld by the statistical secret.
pub fn suppressed() -> String {
    r#"<span class="suppressed">secret statistique</span>"#.to_owned()
}

/// The report's tables.
pub fn report_html(r: &StatisticsReport) -> String {
    let pairs = |caption: &str, head: &str, rows: &[(String, u64)], empty: &str| {
        let rows: Vec<Vec<String>> = rows.iter().map(|(k, n)| vec![text(k), count_cell(Some(*n))]).collect();
        table(caption, &[head, "#Personnes"], &rows, empty)
    };
    let mut out = notice(
        "Les effectifs sont ceux du magasin statistique, sans secret statistique appliqué : les petits effectifs ne \
         sont pas masqués. Appliquez les règles de diffusion avant de les communiquer hors du service.",
    );
    out.push_str(&facts(&[
        ("Personnes enregistrées", r.persons.to_string()),
        ("Pseudonymes distincts", r.distinct_pseudonyms.to_string()),
        ("Dossiers", r.cases.to_string()),
    ]));
    out.push_str("<h2>Par facteur de risque</h2>");
    out.push_str(&pairs(
        "Personnes présentant le facteur, toutes sources, par code de catégorie",
        "Catégorie",
        &r.by_risk_factor,
        "Aucune donnée.",
    ));
    out.push_str("<h2>Par tranche d'âge</h2>");
    out.push_str(&pairs("Personnes par tranche d'âge à l'enregistrement", "Tranche", &r.by_age_band, "Aucune donnée."));
    out.push_str("<h2>Par sexe</h2>");
    out.push_str(&pairs("Personnes par sexe", "Sexe", &r.by_sex, "Aucune donnée."));
    out.push_str("<h2>Par demandeur</h2>");
    out.push_str(&pairs(
        "Personnes par organisme et antenne demandeurs",
        "Demandeur",
        &r.by_requester,
        "Aucune donnée.",
    ));
    out.push_str("<h2>Réponses des organismes</h2>");
    let rows: Vec<Vec<String>> = r
        .body_answers
        .iter()
        .map(|b| {
            vec![
                text(&b.body),
                count_cell(Some(b.asked)),
                count_cell(Some(b.found)),
                count_cell(Some(b.not_found)),
                count_cell(Some(b.no_answer)),
                count_cell(Some(b.missing)),
            ]
        })
        .collect();
    out.push_str(&table(
        "Personnes demandées à chaque organisme, et ce qu'il a répondu",
        &["Organisme", "#Demandées", "#Trouvées", "#Inconnues", "#Sans réponse", "#Omises par l'organisme"],
        &rows,
        "Aucune donnée.",
    ));
    out
}

/// One pseudonym's appearances.
pub fn appearances_html(appearances: &[Appearance]) -> String {
    let rows: Vec<Vec<String>> = appearances
        .iter()
        .map(|a| {
            let at = text(&a.recorded_month);
            let requester = if a.requester_office.is_empty() {
                text(&a.requester)
            } else {
                format!("{} / {}", text(&a.requester), text(&a.requester_office))
            };
            let values: Vec<String> = a.values.iter().map(|v| text(v)).collect();
            vec![
                format!("<code>{}</code>", text(&a.case_id)),
                at,
                text(&a.territory),
                requester,
                text(&a.service),
                text(&a.requested),
                text(&a.sex),
                a.birth_year.to_string(),
                values.join("<br>"),
            ]
        })
        .collect();
    table(
        "Chaque apparition du pseudonyme, de la plus ancienne à la plus récente",
        &["Dossier", "Mois", "Territoire", "Demandeur", "Service", "Demandé", "Sexe", "Naissance", "Valeurs"],
        &rows,
        "Ce pseudonyme n'apparaît dans aucun dossier du magasin statistique.",
    )
}

/// The form to follow a pseudonym (a POST: the pseudonym stays out of URLs and logs).
fn follow_form(csrf: &str, value: &str) -> String {
    format!(
        r#"<h2>Suivre un pseudonyme</h2><form class="stack" method="post" action="/statistics/follow">{csrf}<div><label for="follow-pseudonym">Pseudonyme<span class="hint">64 chiffres hexadécimaux, tel que le magasin statistique le détient. Jamais un NIR : il serait refusé.</span></label><input id="follow-pseudonym" name="pseudonym" required minlength="64" maxlength="64" pattern="[0-9a-fA-F]{{64}}" size="66" autocomplete="off" spellcheck="false" value="{}"></div><div><button type="submit">Suivre</button></div></form>"#,
        text(value)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use passerelle_observatory_store::statistics::BodyAnswerRate;

    #[test]
    fn suppressed_cells_read_as_such_and_counts_as_given() {
        assert_eq!(count_cell(None), r#"<span class="suppressed">secret statistique</span>"#);
        assert_eq!(count_cell(Some(3)), "3");
        let report = StatisticsReport {
            persons: 7,
            distinct_pseudonyms: 6,
            cases: 2,
            by_risk_factor: vec![("isolement".into(), 2)],
            by_age_band: vec![("75-79".into(), 7)],
            by_sex: vec![("F".into(), 4), ("M".into(), 3)],
            by_requester: vec![("carsat / <b>x</b>".into(), 7)],
            body_answers: vec![BodyAnswerRate {
                body: "cnaf".into(),
                asked: 7,
                found: 5,
                not_found: 1,
                no_answer: 1,
                missing: 0,
            }],
        };
        let html = report_html(&report);
        assert!(html.contains(r#"<td class="num">2</td>"#), "{html}");
        assert!(html.contains("sans secret statistique appliqué"), "the page says small counts are not masked");
        assert!(html.contains("carsat / &lt;b&gt;x&lt;/b&gt;"), "values are escaped: {html}");
        assert!(!html.contains("<b>x</b>"));
    }

    #[test]
    fn appearances_are_escaped_and_the_form_carries_its_token() {
        let a = Appearance {
            case_id: "c-1".into(),
            recorded_month: "2026-12".into(),
            territory: "13".into(),
            requester: "carsat".into(),
            requester_office: "<script>".into(),
            service: "prevention-workshop".into(),
            requested: "isolement".into(),
            sex: "F".into(),
            birth_year: 1940,
            values: vec!["isolement=true (cnaf)".into()],
        };
        let html = appearances_html(&[a]);
        assert!(!html.contains("<script>") && html.contains("carsat / &lt;script&gt;"), "{html}");
        let form = follow_form(r#"<input type="hidden" name="csrf" value="t">"#, "\"><x");
        assert!(form.contains(r#"name="csrf""#) && form.contains(r#"<label for="follow-pseudonym">"#));
        assert!(!form.contains("\"><x"), "{form}");
    }
}
