//! `/rights`: the persons' rights on a file (norm 43, "information des personnes"; the 1978
//! law's art. 38 to 40). A `rights-officer` gives access to everything held
//! (`POST /v1/files/{file}/rights/access`, an `export` in the access log, shown here), then
//! rectifies a field (`…/rights/rectify`), records an objection with its reasons (`…/object`,
//! pending) or the plain refusal of the archive (`…/refuse-archive`); a `director-delegate`
//! decides a pending objection (`…/rights/decide`).

use axum::extract::{Path, Query};
use axum::response::Redirect;
use passerelle_agents::Role;
use passerelle_console::html::{facts, link, notice, table, text, when};
use passerelle_console::{CsrfForm, Page, PageError, Session};
use passerelle_social_service::printable::label;
use passerelle_social_service::service::opposition::{DecideRequest, DecisionView};
use passerelle_social_service::service::views::{AccessAnswer, Changed, ObjectRequest, RightView};
use passerelle_social_service::store::{Decision, RightKind};
use serde::Deserialize;

use super::file::data_table;
use super::file_forms::update_request;
use super::forms::{input, post, select, submit, textarea};
use super::{enc, given, state_fr};

fn right_fr(kind: RightKind) -> &'static str {
    match kind {
        RightKind::Access => "accès",
        RightKind::Rectify => "rectification",
        RightKind::Object => "opposition",
        RightKind::RefuseArchive => "refus de l'archivage",
    }
}

fn decision_fr(decision: &str) -> &'static str {
    match decision {
        "pending" => "en attente de la décision du directeur",
        "upheld" => "retenue",
        "refused" => "rejetée",
        _ => "autre",
    }
}

/// What was just done, said at the top of the page.
fn done_fr(done: &str) -> Option<&'static str> {
    Some(match done {
        "rectify" => "Rectification enregistrée.",
        "object" => "Opposition enregistrée : elle attend la décision du directeur (ou de son délégué).",
        "refuse-archive" => "Refus de l'archivage enregistré.",
        "upheld" => "Opposition retenue : le dossier est effacé.",
        "refused" => "Opposition rejetée.",
        _ => return None,
    })
}

#[derive(Debug, Deserialize)]
pub(super) struct Params {
    done: Option<String>,
}

pub(super) async fn page(session: Session, Query(params): Query<Params>) -> Result<Page, PageError> {
    session.require(&[Role::RightsOfficer, Role::DirectorDelegate])?;
    let csrf = session.csrf_field();
    let mut body = params.done.as_deref().and_then(done_fr).map(notice).unwrap_or_default();
    if session.has_any(&[Role::RightsOfficer]) {
        let inner = format!(
            "{}{}",
            input("text", "access-file", "file", "Dossier de la personne (identifiant)", "", true),
            submit("Ouvrir tout ce qui est détenu", false)
        );
        body.push_str(&format!(
            "<h2>Accès de la personne</h2><p class=\"lead\">L'accès est inscrit au journal des accès (une remise des données) et aux droits exercés sur le dossier.</p>{}",
            post("/rights/access", "stack", &csrf, &inner)
        ));
    }
    if session.has_any(&[Role::DirectorDelegate]) {
        body.push_str(&decide_form(&csrf));
    }
    Ok(session.page("Droits des personnes", &body))
}

fn decide_form(csrf: &str) -> String {
    let options: Vec<(String, String)> = [Decision::Upheld, Decision::Refused]
        .into_iter()
        .map(|d| (d.as_str().to_owned(), decision_fr(d.as_str()).to_owned()))
        .collect();
    let inner = format!(
        "{}{}{}{}",
        input("text", "decide-file", "file", "Dossier (identifiant)", "", true),
        select("decide-decision", "decision", "Décision", &options, None, None),
        textarea("decide-reason", "reason", "Motif du rejet", "Obligatoire pour un rejet ; sans NIR.", ""),
        submit("Décider", false)
    );
    format!(
        "<h2>Décision sur une opposition</h2><p class=\"lead\">Une opposition retenue efface le dossier, actif ou archivé.</p>{}",
        post("/rights/decide", "stack", csrf, &inner)
    )
}

#[derive(Debug, Deserialize)]
pub(super) struct FileForm {
    file: String,
}

pub(super) async fn access(session: Session, CsrfForm(form): CsrfForm<FileForm>) -> Result<Page, PageError> {
    let file = form.file.trim();
    let answer: AccessAnswer = session.post(&format!("/v1/files/{}/rights/access", enc(file)), &()).await?;
    Ok(session.page(&format!("Droits — dossier {}", answer.file), &render_access(&answer, &session.csrf_field())))
}

/// Everything held, then the forms of the other rights.
pub(super) fn render_access(a: &AccessAnswer, csrf: &str) -> String {
    let base = format!("/rights/{}", enc(&a.file));
    let mut out = facts(&[
        ("Organisme", text(&a.body)),
        ("Bureau", text(&a.office)),
        ("État", text(state_fr(a.state))),
        ("Ouvert le", when(&a.opened_at)),
        ("Dernière activité", when(&a.last_activity_at)),
    ]);
    out.push_str("<h2>Données détenues</h2>");
    out.push_str(&data_table(&a.fields));
    let history: Vec<Vec<String>> = a
        .history
        .iter()
        .map(|c| {
            let kind = if c.kind == "rectification" { "rectification" } else { "modification" };
            vec![text(label(&c.field)), text(kind), text(&c.agent), when(&c.at)]
        })
        .collect();
    out.push_str("<h2>Historique des modifications</h2>");
    out.push_str(&table(
        "Qui a modifié quelle donnée, quand (jamais une valeur)",
        &["Donnée", "Nature", "Agent", "Le"],
        &history,
        "Aucune modification.",
    ));
    let rights: Vec<Vec<String>> = a
        .rights
        .iter()
        .map(|r| {
            vec![
                text(right_fr(r.kind)),
                when(&r.at),
                text(&r.agent),
                r.decision.as_deref().map(|d| text(decision_fr(d))).unwrap_or_default(),
            ]
        })
        .collect();
    out.push_str("<h2>Droits exercés</h2>");
    out.push_str(&table("Droits exercés sur le dossier", &["Droit", "Le", "Agent", "Décision"], &rights, "Aucun."));
    out.push_str(&format!(
        "<h2>Opposition (art. 38)</h2>{}",
        post(
            &format!("{base}/object"),
            "stack",
            csrf,
            &format!(
                "{}{}",
                textarea(
                    "object-reasons",
                    "reasons",
                    "Motifs de la personne",
                    "Ce que la personne a écrit (2000 caractères au plus).",
                    ""
                ),
                submit("Enregistrer l'opposition", false)
            )
        )
    ));
    out.push_str(&format!(
        "<h2>Refus de l'archivage</h2><p class=\"lead\">Sans décision à prendre : le dossier ne sera pas archivé (déjà archivé : il en est effacé).</p>{}",
        post(&format!("{base}/refuse-archive"), "stack", csrf, &submit("Enregistrer le refus de l'archivage", true))
    ));
    out.push_str("<h2>Rectification (art. 40)</h2>");
    out.push_str(&super::edit::render(&format!("{base}/rectify"), &a.fields, csrf));
    out.push_str(&format!("<p>{}</p>", link("/rights", "Retour aux droits des personnes")));
    out
}

pub(super) async fn rectify(
    session: Session,
    Path(file): Path<String>,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<Redirect, PageError> {
    let request = update_request(&pairs)?;
    let _: Changed = session.post(&format!("/v1/files/{}/rights/rectify", enc(&file)), &request).await?;
    Ok(Redirect::to("/rights?done=rectify"))
}

#[derive(Debug, Deserialize)]
pub(super) struct ObjectForm {
    reasons: String,
}

pub(super) async fn object(
    session: Session,
    Path(file): Path<String>,
    CsrfForm(form): CsrfForm<ObjectForm>,
) -> Result<Redirect, PageError> {
    let request = ObjectRequest { reasons: form.reasons.trim().replace("\r\n", "\n") };
    let _: RightView = session.post(&format!("/v1/files/{}/rights/object", enc(&file)), &request).await?;
    Ok(Redirect::to("/rights?done=object"))
}

#[derive(Debug, Deserialize)]
pub(super) struct NoFields {}

pub(super) async fn refuse_archive(
    session: Session,
    Path(file): Path<String>,
    CsrfForm(NoFields {}): CsrfForm<NoFields>,
) -> Result<Redirect, PageError> {
    let _: RightView = session.post(&format!("/v1/files/{}/rights/refuse-archive", enc(&file)), &()).await?;
    Ok(Redirect::to("/rights?done=refuse-archive"))
}

#[derive(Debug, Deserialize)]
pub(super) struct DecideForm {
    file: String,
    decision: Decision,
    reason: Option<String>,
}

pub(super) async fn decide(session: Session, CsrfForm(form): CsrfForm<DecideForm>) -> Result<Redirect, PageError> {
    let request = DecideRequest { decision: form.decision, reason: given(form.reason) };
    let decided: DecisionView =
        session.post(&format!("/v1/files/{}/rights/decide", enc(form.file.trim())), &request).await?;
    Ok(Redirect::to(&format!("/rights?done={}", decided.decision.as_str())))
}
