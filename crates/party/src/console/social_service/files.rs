//! `/files` (a `social-worker` of the office): the office's files, by view — open, closed
//! (`GET /v1/files?state=`), the actions without activity the retention pass will end, and the
//! files due to leave the live store for the archive (`GET /v1/retention/flagged`).

use axum::extract::Query;
use passerelle_console::html::{link, table, text, when};
use passerelle_console::{Page, PageError, Session};
use passerelle_social_service::service::retention_flagged::{Fate, FlagReason, FlaggedList};
use passerelle_social_service::service::views::FileList;
use serde::Deserialize;

use super::{day, enc, given, state_fr};

/// The page's views: (code, label).
const VIEWS: [(&str, &str); 4] =
    [("open", "Ouverts"), ("closed", "Clos"), ("idle", "Actions qui vont se terminer"), ("due", "Bientôt archivés")];

#[derive(Debug, Deserialize)]
pub(super) struct Params {
    view: Option<String>,
    after: Option<String>,
}

pub(super) async fn page(session: Session, Query(params): Query<Params>) -> Result<Page, PageError> {
    let view = params.view.as_deref().unwrap_or("open");
    let body = match view {
        "open" | "closed" => {
            let mut path = format!("/v1/files?state={view}&limit=100");
            if let Some(after) = given(params.after) {
                path.push_str(&format!("&after={}", enc(&after)));
            }
            let list: FileList = session.get(&path).await?;
            render_list(&list, view)
        }
        "idle" | "due" => {
            let flagged: FlaggedList = session.get("/v1/retention/flagged").await?;
            render_flagged(&flagged, view)
        }
        _ => return Err(PageError::bad_request("Vue inconnue : ouverts, clos, actions, ou bientôt archivés.")),
    };
    Ok(session.page("Dossiers", &format!("{}{body}", views(view))))
}

/// The views' links, the current one marked.
fn views(current: &str) -> String {
    let links: Vec<String> = VIEWS
        .iter()
        .map(|(code, label)| {
            if *code == current {
                format!(r#"<strong aria-current="page">{}</strong>"#, text(label))
            } else {
                link(&format!("/files?view={code}"), label)
            }
        })
        .collect();
    format!(r#"<nav aria-label="Vues des dossiers"><p>{}</p></nav>"#, links.join(" · "))
}

/// A page of open or closed files.
pub(super) fn render_list(list: &FileList, view: &str) -> String {
    let rows: Vec<Vec<String>> = list
        .files
        .iter()
        .map(|f| {
            let name = [&f.family_name, &f.given_names].into_iter().flatten().cloned().collect::<Vec<_>>().join(" ");
            vec![
                link(&format!("/files/{}", enc(&f.file)), &f.file),
                text(&name),
                text(state_fr(f.state)),
                when(&f.opened_at),
                when(&f.last_activity_at),
            ]
        })
        .collect();
    let mut out = table(
        &format!("Dossiers du bureau {}", list.office),
        &["Dossier", "Personne", "État", "Ouvert le", "Dernière activité"],
        &rows,
        "Aucun dossier.",
    );
    if let Some(next) = &list.next {
        out.push_str(&format!("<p>{}</p>", link(&format!("/files?view={view}&after={}", enc(next)), "Page suivante")));
    }
    out
}

/// The flagged files (`idle`) or those due to leave the live store (`due`).
pub(super) fn render_flagged(list: &FlaggedList, view: &str) -> String {
    if view == "idle" {
        let rows: Vec<Vec<String>> = list
            .flagged
            .iter()
            .map(|f| {
                let (reason, since) = match f.reason {
                    FlagReason::IdleAction => ("action sans activité", "dernière activité le"),
                    FlagReason::ObjectionPending => ("opposition en attente de décision", "conservation échue le"),
                };
                vec![
                    link(&format!("/files/{}", enc(&f.file)), &f.file),
                    text(reason),
                    format!("{} {}", text(since), day(&f.since)),
                    f.closes_on.as_deref().map(day).unwrap_or_default(),
                ]
            })
            .collect();
        format!(
            r#"<p class="lead">Une action sans activité est close par la passe de conservation au jour de sa dernière activité, à la date dite : une activité d'ici là la garde ouverte.</p>{}"#,
            table(
                "Dossiers signalés",
                &["Dossier", "Motif", "Depuis", "Action close le"],
                &rows,
                "Aucun dossier signalé."
            )
        )
    } else {
        let rows: Vec<Vec<String>> = list
            .due
            .iter()
            .map(|f| {
                let fate = match f.fate {
                    Fate::Archive => "archivé, puis effacé du dossier actif",
                    Fate::Erase => "effacé sans archive",
                    Fate::Wait => "gardé : une opposition attend la décision",
                };
                vec![link(&format!("/files/{}", enc(&f.file)), &f.file), day(&f.leaves_on), text(fate)]
            })
            .collect();
        format!(
            r#"<p class="lead">Les dossiers dont la durée de conservation active ({} mois) prend fin d'ici {} jours (nous sommes le {}).</p>{}"#,
            list.live_months,
            list.within_days,
            day(&list.today),
            table(
                "Dossiers bientôt archivés",
                &["Dossier", "Quitte le dossier actif le", "Devenir"],
                &rows,
                "Aucun dossier."
            )
        )
    }
}
