//! `/transfers`: a `social-worker` of the office sees the transfers sent and received
//! (`GET /v1/transfers`), checks the person of one awaiting its confirmation
//! (`GET /v1/transfers/{id}`, a `read`) and accepts or refuses it; a `medical-officer`
//! releases the medical opinions of a file for its transfer (`POST /v1/transfers/release`).

use axum::extract::{Path, Query};
use axum::response::Redirect;
use passerelle_agents::Role;
use passerelle_console::html::{facts, link, notice, table, text, when};
use passerelle_console::{CsrfForm, Page, PageError, Session};
use passerelle_social_file::v1::TransferRefusal;
use passerelle_social_service::service::transfer_views::{
    IncomingTransferView, RefuseTransfer, ReleaseMedical, ReleaseView, TransferList, TransferView,
};
use passerelle_social_service::service::transfers::refusal_code;
use serde::Deserialize;

use super::forms::{input, post, select, submit};
use super::{day, enc, given};

/// The refusals a receiving office may give, as the service reads them.
const REFUSALS: [TransferRefusal; 2] = [TransferRefusal::PersonNotAttached, TransferRefusal::AlreadyFollowed];

/// A refusal's code in French.
pub(super) fn refusal_fr(code: &str) -> &'static str {
    match code {
        "unknown-office" => "bureau destinataire inconnu",
        "not-health-insurance" => "pas un service social de l'assurance maladie",
        "person-not-attached" => "personne non rattachée au bureau destinataire",
        "file-malformed" => "dossier illisible",
        "already-followed" => "personne déjà suivie par le bureau destinataire",
        "not-sent" => "non envoyé : à renvoyer",
        _ => "refusé",
    }
}

/// A transfer's state in French.
fn state_fr(state: &str) -> &'static str {
    match state {
        "sending" => "en cours d'envoi",
        "sent" => "envoyé, en attente de réponse",
        "receiving" => "en cours de réception",
        "awaiting-attachment" => "à accepter ou refuser",
        "accepted" => "accepté",
        "refused" => "refusé",
        _ => "autre",
    }
}

/// A withheld item in French.
fn item_fr(item: &str) -> &'static str {
    match item {
        "medical-opinions" => "avis du service médical",
        "social-assessment" => "évaluation sociale",
        _ => "autre élément",
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct Params {
    after: Option<String>,
}

pub(super) async fn page(session: Session, Query(params): Query<Params>) -> Result<Page, PageError> {
    session.require(&[Role::SocialWorker, Role::MedicalOfficer])?;
    let mut body = String::new();
    if session.has_any(&[Role::SocialWorker]) {
        let mut path = String::from("/v1/transfers?limit=100");
        if let Some(after) = given(params.after) {
            path.push_str(&format!("&after={}", enc(&after)));
        }
        let list: TransferList = session.get(&path).await?;
        body.push_str(&render(&list));
    }
    if session.has_any(&[Role::MedicalOfficer]) {
        body.push_str(&release_form(&session.csrf_field()));
    }
    Ok(session.page("Transferts", &body))
}

/// The office's transfers, both ways.
pub(super) fn render(list: &TransferList) -> String {
    let rows: Vec<Vec<String>> = list.transfers.iter().map(row).collect();
    let mut out = table(
        &format!("Transferts du bureau {}", list.office),
        &["Sens", "Dossier", "De", "Vers", "État", "Envoyé le", "Décidé le", "Éléments gardés"],
        &rows,
        "Aucun transfert.",
    );
    if let Some(next) = &list.next {
        out.push_str(&format!("<p>{}</p>", link(&format!("/transfers?after={}", enc(next)), "Page suivante")));
    }
    out
}

fn row(t: &TransferView) -> Vec<String> {
    let direction = if t.direction == "in" { "reçu" } else { "envoyé" };
    let file = match (&t.file, t.state.as_str()) {
        (_, "awaiting-attachment") => link(&format!("/transfers/{}", enc(&t.id)), "Vérifier la personne et décider"),
        (Some(file), "accepted") if t.direction == "in" => link(&format!("/files/{}", enc(file)), file),
        (Some(file), _) => text(file),
        (None, _) => "—".to_owned(),
    };
    let mut state = text(state_fr(&t.state));
    if let Some(code) = &t.refusal {
        state.push_str(&format!(" : {}", text(refusal_fr(code))));
    }
    vec![
        text(direction),
        file,
        text(&t.from),
        text(&t.to),
        state,
        when(&t.sent_at),
        t.decided_at.as_deref().map(when).unwrap_or_default(),
        t.withheld.iter().map(|i| text(item_fr(i))).collect::<Vec<_>>().join(", "),
    ]
}

fn release_form(csrf: &str) -> String {
    let inner = format!(
        "{}{}{}",
        input("text", "release-file", "file", "Dossier (identifiant)", "", true),
        input("text", "release-to", "to", "Service social destinataire (ORGANISME/BUREAU)", "", true),
        submit("Lever les avis médicaux pour ce transfert", false)
    );
    format!(
        "<h2>Levée des avis du service médical (I.10)</h2><p class=\"lead\">Les avis ne partent avec le dossier que \
         levés par un médecin-conseil, pour ce destinataire et le prochain transfert.</p>{}",
        post("/transfers/release", "stack", csrf, &inner)
    )
}

pub(super) async fn show(session: Session, Path(id): Path<String>) -> Result<Page, PageError> {
    let view: IncomingTransferView = session.get(&format!("/v1/transfers/{}", enc(&id))).await?;
    Ok(session.page("Transfert reçu", &render_incoming(&view, &session.csrf_field())))
}

/// One transfer; for one awaiting the office, the person to check and the decision's forms.
pub(super) fn render_incoming(view: &IncomingTransferView, csrf: &str) -> String {
    let t = &view.transfer;
    let mut out = facts(&[
        ("De", text(&t.from)),
        ("Vers", text(&t.to)),
        ("État", text(state_fr(&t.state))),
        ("Envoyé le", when(&t.sent_at)),
    ]);
    if let Some(p) = &view.person {
        out.push_str("<h2>La personne</h2>");
        out.push_str(&facts(&[
            ("NIR", text(p.nir.as_deref().unwrap_or("—"))),
            ("Nom de famille", text(p.family_name.as_deref().unwrap_or("—"))),
            ("Nom d'usage", text(p.usage_name.as_deref().unwrap_or("—"))),
            ("Prénoms", text(p.given_names.as_deref().unwrap_or("—"))),
            ("Date de naissance", p.birth_date.as_deref().map(day).unwrap_or_else(|| "—".to_owned())),
        ]));
    }
    if t.state == "awaiting-attachment" {
        let base = format!("/transfers/{}", enc(&t.id));
        out.push_str("<h2>Décision</h2><p class=\"lead\">Acceptez si la personne est rattachée à votre bureau : le dossier est alors importé.</p>");
        out.push_str(&post(&format!("{base}/accept"), "stack", csrf, &submit("Accepter le transfert", false)));
        let options: Vec<(String, String)> =
            REFUSALS.iter().map(|r| (refusal_code(*r).to_owned(), refusal_fr(refusal_code(*r)).to_owned())).collect();
        let inner = format!(
            "{}{}",
            select("refuse-reason", "reason", "Motif du refus", &options, None, None),
            submit("Refuser le transfert", true)
        );
        out.push_str(&post(&format!("{base}/refuse"), "stack", csrf, &inner));
    }
    out
}

#[derive(Debug, Deserialize)]
pub(super) struct NoFields {}

pub(super) async fn accept(
    session: Session,
    Path(id): Path<String>,
    CsrfForm(NoFields {}): CsrfForm<NoFields>,
) -> Result<Redirect, PageError> {
    let accepted: TransferView = session.post(&format!("/v1/transfers/{}/accept", enc(&id)), &()).await?;
    Ok(match accepted.file {
        Some(file) => Redirect::to(&format!("/files/{}", enc(&file))),
        None => Redirect::to("/transfers"),
    })
}

#[derive(Debug, Deserialize)]
pub(super) struct RefuseForm {
    reason: String,
}

pub(super) async fn refuse(
    session: Session,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<RefuseForm>,
) -> Result<Redirect, PageError> {
    let request = RefuseTransfer { reason: form.reason };
    let _: TransferView = session.post(&format!("/v1/transfers/{}/refuse", enc(&id)), &request).await?;
    Ok(Redirect::to("/transfers"))
}

#[derive(Debug, Deserialize)]
pub(super) struct ReleaseForm {
    file: String,
    to: String,
}

pub(super) async fn release(session: Session, CsrfForm(form): CsrfForm<ReleaseForm>) -> Result<Page, PageError> {
    let request = ReleaseMedical { file: form.file.trim().to_owned(), to: form.to.trim().to_owned() };
    let released: ReleaseView = session.post("/v1/transfers/release", &request).await?;
    let body = format!(
        "{}<p>{}</p>",
        notice(&format!(
            "Avis du service médical du dossier {} levés pour son transfert à {}, le {}.",
            released.file,
            released.to,
            when(&released.released_at)
        )),
        link("/transfers", "Retour aux transferts")
    );
    Ok(session.page("Transferts", &body))
}
