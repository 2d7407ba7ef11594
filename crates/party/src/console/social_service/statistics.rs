//! `/statistics` (a `statistics-agent`): the steering statistics (`GET /v1/stats?from=&to=`),
//! one table per measure, a row per unit and month, a column per category. A suppressed cell
//! says so in words (class `suppressed`), a lower bound `≥ N`; the legend says why, never which.

use axum::extract::Query;
use axum::http::StatusCode;
use passerelle_console::html::{notice, text};
use passerelle_console::{Page, PageError, Session};
use passerelle_social_stats::{CellKey, Level, Measure, Table, Value};
use serde::Deserialize;

use super::forms::{input, submit};
use super::{enc, given};

/// The legend under the tables.
const LEGEND: &str = "« masquée » : valeur inconnue, soit parce qu'elle compte de 1 à 10 personnes, soit parce \
qu'elle permettrait de recalculer une autre cellule masquée à partir des totaux (lequel des deux n'est pas dit). \
« ≥ N » : au moins N personnes. Chaque mois est traité à part ; il n'y a pas de total sur la période.";

fn measure_fr(measure: Measure) -> &'static str {
    match measure {
        Measure::FilesOpened => "Dossiers ouverts (âge à l'ouverture, sexe)",
        Measure::FilesClosed => "Dossiers clos (durée d'ouverture)",
        Measure::ActionsStarted => "Actions commencées (risque concerné)",
        Measure::ActionsEnded => "Actions terminées (durée)",
        Measure::OfferParticipants => "Participants aux offres (nature, participation)",
        Measure::OfferOutcomes => "Réponses à la proposition du service",
    }
}

/// A category as the French header says it (the code itself when none is known).
fn category_fr(category: &str) -> String {
    let said = match category {
        "total" => "total",
        "under-40" => "moins de 40 ans",
        "85-plus" => "85 ans et plus",
        "age-unknown" => "âge inconnu",
        "female" => "femmes",
        "male" => "hommes",
        "sex-unknown" => "sexe inconnu",
        "under-3-months" => "moins de 3 mois",
        "24-months-plus" => "24 mois et plus",
        "illness" => "maladie",
        "maternity" => "maternité",
        "work-accident" => "accident du travail",
        "occupational-disease" => "maladie professionnelle",
        "invalidity" => "invalidité",
        "several" => "plusieurs",
        "none" => "aucun",
        "individual-attended" => "individuelle, présent",
        "individual-not-attended" => "individuelle, absent",
        "collective-attended" => "collective, présent",
        "collective-not-attended" => "collective, absent",
        "accepted" => "acceptée",
        "declined" => "déclinée",
        "no-reply" => "sans réponse",
        other if other.ends_with("-months") => return other.replace("-months", " mois").replace('-', " à "),
        other if other.contains('-') => return format!("{} ans", other.replace('-', " à ")),
        other => other,
    };
    said.to_owned()
}

/// A cell as shown: the count, `≥ N`, or the word for a suppressed one.
pub(super) fn cell(value: Option<Value>) -> String {
    match value {
        Some(Value::Exact(n)) => n.to_string(),
        Some(Value::AtLeast(n)) => format!("≥&nbsp;{n}"),
        Some(Value::Hidden) | None => r#"<span class="suppressed">masquée</span>"#.to_owned(),
    }
}

fn unit_fr(level: Level, unit: &str) -> String {
    match level {
        Level::Office => format!("bureau {}", text(unit)),
        Level::Body => format!("organisme {}", text(unit)),
        Level::National => "national".to_owned(),
    }
}

/// Every measure's table.
pub(super) fn render(table: &Table) -> String {
    let s = table.structure();
    let mut out = format!(r#"<p class="lead">De {} à {}, en nombre de personnes.</p>"#, s.from, s.to);
    for measure in Measure::ALL {
        let categories = measure.categories();
        out.push_str(&format!("<h2>{}</h2>", text(measure_fr(measure))));
        out.push_str(r#"<div class="table-wrap"><table><thead><tr><th scope="col">Unité et mois</th>"#);
        for c in &categories {
            out.push_str(&format!(r#"<th scope="col" class="num">{}</th>"#, text(&category_fr(c))));
        }
        out.push_str("</tr></thead><tbody>");
        for (level, unit) in s.units() {
            for month in s.months() {
                out.push_str(&format!(r#"<tr><th scope="row">{} {month}</th>"#, unit_fr(level, &unit)));
                for category in &categories {
                    let key = CellKey { level, unit: unit.clone(), month, measure, category };
                    out.push_str(&format!(r#"<td class="num">{}</td>"#, cell(table.get(&key))));
                }
                out.push_str("</tr>");
            }
        }
        out.push_str("</tbody></table></div>");
    }
    out.push_str(&format!(r#"<p class="muted">{}</p>"#, text(LEGEND)));
    out
}

#[derive(Debug, Deserialize)]
pub(super) struct Params {
    from: Option<String>,
    to: Option<String>,
}

pub(super) async fn page(session: Session, Query(params): Query<Params>) -> Result<Page, PageError> {
    let (from, to) = (given(params.from), given(params.to));
    let mut path = String::from("/v1/stats");
    let query: Vec<String> = [("from", &from), ("to", &to)]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| format!("{k}={}", enc(v))))
        .collect();
    if !query.is_empty() {
        path.push_str(&format!("?{}", query.join("&")));
    }
    // A refusal of the period (no month counted yet, a month malformed) is said under the
    // form, which stays to choose another.
    let shown = match session.get::<Table>(&path).await {
        Ok(stats) => render(&stats),
        Err(e) if e.status == StatusCode::BAD_REQUEST => {
            format!("{}<p class=\"muted\">{}</p>", notice("Aucune statistique pour cette période."), text(&e.message))
        }
        Err(e) => return Err(e),
    };
    let filters = format!(
        r#"<form class="filters" method="get" action="/statistics">{}{}{}</form>"#,
        input("month", "stats-from", "from", "Du mois", from.as_deref().unwrap_or(""), false),
        input("month", "stats-to", "to", "Au mois", to.as_deref().unwrap_or(""), false),
        submit("Afficher", false)
    );
    Ok(session.page("Statistiques", &format!("{filters}{shown}")))
}
