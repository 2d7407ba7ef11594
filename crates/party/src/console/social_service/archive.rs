//! `/archive` (an `archive-reader` under a valid grant): the archived files, listed and read
//! for a purpose of the norm's list (`Purpose::ALL`, chosen in a select):
//! `GET /v1/archive/files?purpose=P` and `GET /v1/archive/files/{file}?purpose=P`, each a
//! `read` (or a `refused` attempt) of the access log naming the purpose.

use axum::extract::{Path, Query};
use passerelle_agents::Role;
use passerelle_console::html::{facts, link, table, text, when};
use passerelle_console::{Page, PageError, Session};
use passerelle_social_file::enums::{ACTION_PURPOSE, CONTACT_CHANNEL};
use passerelle_social_service::printable::code_label;
use passerelle_social_service::service::archive_views::{ArchiveList, ArchivedFileView, Purpose};
use serde::Deserialize;

use super::file::data_table;
use super::forms::{select, submit};
use super::{day, enc, given};

#[derive(Debug, Deserialize)]
pub(super) struct Params {
    purpose: Option<String>,
    after: Option<String>,
}

/// The purpose asked, as given: an unknown one goes to the API all the same, which refuses it
/// and records the attempt.
fn purpose_of(params: &Params) -> Option<&str> {
    params.purpose.as_deref().map(str::trim).filter(|p| !p.is_empty())
}

/// The purpose's select, as a `GET` form to `action`.
pub(super) fn purpose_form(action: &str, chosen: Option<Purpose>) -> String {
    let options: Vec<(String, String)> =
        Purpose::ALL.iter().map(|p| (p.as_str().to_owned(), p.label_fr().to_owned())).collect();
    format!(
        r#"<form class="filters" method="get" action="{}">{}{}</form>"#,
        text(action),
        select("purpose", "purpose", "Finalité de la lecture", &options, chosen.map(Purpose::as_str), None),
        submit("Lire", false)
    )
}

pub(super) async fn page(session: Session, Query(params): Query<Params>) -> Result<Page, PageError> {
    session.require(&[Role::ArchiveReader])?;
    let mut body = String::from(
        r#"<p class="lead">Les archives ne se lisent que pour une finalité de la norme, sous une habilitation valide ; chaque lecture est inscrite au journal des accès avec sa finalité.</p>"#,
    );
    let purpose = purpose_of(&params);
    body.push_str(&purpose_form("/archive", purpose.and_then(|p| p.parse().ok())));
    if let Some(purpose) = purpose {
        let mut path = format!("/v1/archive/files?purpose={}", enc(purpose));
        if let Some(after) = given(params.after) {
            path.push_str(&format!("&after={}", enc(&after)));
        }
        let list: ArchiveList = session.get(&path).await?;
        body.push_str(&render_list(&list));
    }
    Ok(session.page("Archives", &body))
}

/// A page of archived files (no content), each linked for the same purpose.
pub(super) fn render_list(list: &ArchiveList) -> String {
    let purpose = list.purpose.as_str();
    let rows: Vec<Vec<String>> = list
        .files
        .iter()
        .map(|f| {
            vec![
                link(&format!("/archive/{}?purpose={purpose}", enc(&f.file)), &f.file),
                text(&f.office),
                when(&f.entered_at),
                when(&f.delete_at),
            ]
        })
        .collect();
    let mut out = table(
        &format!("Dossiers archivés — lus pour : {}", list.purpose.label_fr()),
        &["Dossier", "Bureau", "Archivé le", "Effacé le"],
        &rows,
        "Aucun dossier archivé.",
    );
    if let Some(next) = &list.next {
        let href = format!("/archive?purpose={purpose}&after={}", enc(next));
        out.push_str(&format!("<p>{}</p>", link(&href, "Page suivante")));
    }
    out
}

pub(super) async fn show(
    session: Session,
    Path(file): Path<String>,
    Query(params): Query<Params>,
) -> Result<Page, PageError> {
    session.require(&[Role::ArchiveReader])?;
    let Some(purpose) = purpose_of(&params) else {
        let body = format!(
            "<p>Choisissez la finalité de cette lecture.</p>{}",
            purpose_form(&format!("/archive/{}", enc(&file)), None)
        );
        return Ok(session.page("Dossier archivé", &body));
    };
    let path = format!("/v1/archive/files/{}?purpose={}", enc(&file), enc(purpose));
    let view: ArchivedFileView = session.get(&path).await?;
    Ok(session.page(&format!("Dossier archivé {}", view.file), &render_file(&view)))
}

/// One archived file, read for its purpose.
pub(super) fn render_file(view: &ArchivedFileView) -> String {
    let mut out = facts(&[
        ("Lu pour", text(view.purpose.label_fr())),
        ("Bureau", text(&view.office)),
        ("Ouvert le", when(&view.opened_at)),
        ("Conservation active depuis le", day(&view.retention_start)),
        ("Archivé le", when(&view.entered_at)),
        ("Effacé le", when(&view.delete_at)),
    ]);
    out.push_str("<h2>Données du dossier</h2>");
    out.push_str(&data_table(&view.fields));
    let actions: Vec<Vec<String>> = view
        .actions
        .iter()
        .map(|a| {
            let contacts: Vec<String> = a
                .contacts
                .iter()
                .map(|c| {
                    format!(
                        "{} le {}",
                        code_label(&CONTACT_CHANNEL, &c.channel),
                        c.date.as_deref().map(day).unwrap_or_default()
                    )
                })
                .collect();
            vec![
                code_label(&ACTION_PURPOSE, &a.purpose),
                a.start.as_deref().map(day).unwrap_or_default(),
                a.end.as_deref().map(day).unwrap_or_default(),
                contacts.join("<br>"),
            ]
        })
        .collect();
    out.push_str("<h2>Actions</h2>");
    out.push_str(&table("Actions archivées", &["Objet", "Début", "Fin", "Contacts"], &actions, "Aucune action."));
    out.push_str(&format!(
        "<p>{}</p>",
        link(&format!("/archive?purpose={}", view.purpose.as_str()), "Retour aux archives")
    ));
    out
}
