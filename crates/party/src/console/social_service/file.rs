//! `/files/{file}` (a `social-worker` of the office): a file as `GET /v1/files/{file}` gives it
//! (a `read` in the access log) — its facts, the norm's data in French, its actions, contacts
//! and offers — and the forms that change it (`file_forms`): a contact, an action, an offer,
//! the close, the transfer to another body, and each field of the norm (`edit`).

use axum::extract::Path;
use passerelle_console::html::{facts, link, table, text, when};
use passerelle_console::{Page, PageError, Session};
use passerelle_protocol::calendar::LegalCalendar;
use passerelle_social_file::enums::{ACTION_PURPOSE, CONTACT_CHANNEL, OFFER_KIND, OFFER_THEME};
use passerelle_social_file::FIELDS;
use passerelle_social_service::printable::{code_label, field_html, label};
use passerelle_social_service::service::views::{ActionView, FileView, OfferView};
use passerelle_social_service::store::FileState;
use serde_json::{Map, Value};

use super::forms::{checkbox, input, options_of, post, select, submit, textarea};
use super::{day, enc, state_fr};

pub(super) async fn page(session: Session, Path(file): Path<String>) -> Result<Page, PageError> {
    let view: FileView = session.get(&format!("/v1/files/{}", enc(&file))).await?;
    Ok(session.page(&format!("Dossier {}", view.file), &render(&view, &session.csrf_field())))
}

/// The page's body.
pub(super) fn render(view: &FileView, csrf: &str) -> String {
    let mut out = facts(&[
        ("État", text(state_fr(view.state))),
        ("Bureau", text(&view.office)),
        ("Ouvert le", format!("{} par {}", when(&view.opened_at), text(&view.opened_by))),
        ("Dernière activité", when(&view.last_activity_at)),
        (
            "Origine",
            view.source
                .as_ref()
                .map(|s| format!("liste de contacts, cas {} ligne {}", text(&s.case), s.line))
                .unwrap_or_else(|| "—".to_owned()),
        ),
    ]);
    out.push_str("<h2>Données du dossier</h2>");
    out.push_str(&data_table(&view.fields));
    out.push_str("<h2>Actions et contacts</h2>");
    out.push_str(&actions(&view.actions));
    out.push_str("<h2>Offres</h2>");
    out.push_str(&offers(&view.offers));
    if view.state == FileState::Open {
        out.push_str(&forms(&view.file, csrf));
        out.push_str(r#"<h2 id="modifier">Modifier les données (norme 43)</h2>"#);
        out.push_str(&super::edit::render(&format!("/files/{}/update", enc(&view.file)), &view.fields, csrf));
    } else {
        out.push_str(r#"<p class="notice">Ce dossier est clos : il ne se modifie plus.</p>"#);
    }
    out
}

/// The fields present, in the norm's order, with their French labels and values.
pub(super) fn data_table(fields: &Map<String, Value>) -> String {
    let calendar = LegalCalendar::default();
    let rows: Vec<Vec<String>> = FIELDS
        .iter()
        .filter_map(|f| {
            let value = fields.get(f.path)?;
            Some(vec![text(f.norm_ref), text(label(f.path)), field_html(f.path, value, &calendar)])
        })
        .collect();
    table("Données présentes", &["Rubrique", "Donnée", "Valeur"], &rows, "Aucune donnée enregistrée.")
}

fn actions(actions: &[ActionView]) -> String {
    let rows: Vec<Vec<String>> = actions
        .iter()
        .map(|a| {
            let contacts: Vec<String> = a
                .contacts
                .iter()
                .map(|c| {
                    format!(
                        "{} le {} ({})",
                        code_label(&CONTACT_CHANNEL, &c.channel),
                        c.date.as_deref().map(day).unwrap_or_default(),
                        text(&c.agent)
                    )
                })
                .collect();
            vec![
                code_label(&ACTION_PURPOSE, &a.purpose),
                a.start.as_deref().map(day).unwrap_or_default(),
                a.end.as_deref().map(day).unwrap_or_else(|| "en cours".to_owned()),
                contacts.join("<br>"),
                a.offers.iter().map(|o| text(o)).collect::<Vec<_>>().join("<br>"),
            ]
        })
        .collect();
    table("Actions", &["Objet", "Début", "Fin", "Contacts", "Offres"], &rows, "Aucune action.")
}

fn offers(offers: &[OfferView]) -> String {
    let rows: Vec<Vec<String>> = offers
        .iter()
        .map(|o| {
            let sessions: Vec<String> =
                o.sessions.iter().map(|s| s.date.as_deref().map(day).unwrap_or_default()).collect();
            vec![
                text(&o.offer),
                code_label(&OFFER_KIND, &o.kind),
                code_label(&OFFER_THEME, &o.theme),
                o.participants.len().to_string(),
                sessions.join("<br>"),
            ]
        })
        .collect();
    table("Offres", &["Offre", "Nature", "Thème", "#Participants", "Séances"], &rows, "Aucune offre.")
}

/// The forms of an open file: contact, action, offer, close, transfer.
fn forms(file: &str, csrf: &str) -> String {
    let base = format!("/files/{}", enc(file));
    let contact = post(
        &format!("{base}/contacts"),
        "stack",
        csrf,
        &format!(
            "{}{}{}",
            select("contact-channel", "channel", "Moyen de contact", &options_of(&CONTACT_CHANNEL), None, None),
            input("date", "contact-date", "date", "Date (aujourd'hui si vide)", "", false),
            submit("Enregistrer le contact", false)
        ),
    );
    let action = post(
        &format!("{base}/actions"),
        "stack",
        csrf,
        &format!(
            "{}{}{}",
            select("action-purpose", "purpose", "Objet de l'action", &options_of(&ACTION_PURPOSE), None, None),
            input("date", "action-start", "start", "Début (aujourd'hui si vide)", "", false),
            submit("Ouvrir l'action", false)
        ),
    );
    let offer = post(
        &format!("{base}/offers"),
        "stack",
        csrf,
        &format!(
            "{}{}{}{}{}{}",
            select("offer-kind", "kind", "Nature de l'offre", &options_of(&OFFER_KIND), None, None),
            select("offer-theme", "theme", "Thème", &options_of(&OFFER_THEME), None, None),
            textarea(
                "offer-others",
                "others",
                "Autres participants (offre collective)",
                "Les identifiants de leurs dossiers, un par ligne.",
                ""
            ),
            input("date", "offer-session", "session", "Séance (offre collective), le", "", false),
            checkbox("offer-attended", "attended", "La personne a participé à la séance", "yes", false),
            submit("Enregistrer l'offre", false)
        ),
    );
    let close = post(
        &format!("{base}/close"),
        "stack",
        csrf,
        &format!(
            "{}{}",
            input("date", "close-date", "date", "Fin de l'action en cours (aujourd'hui si vide)", "", false),
            submit("Clore le dossier", true)
        ),
    );
    let transfer = post(
        &format!("{base}/transfer"),
        "stack",
        csrf,
        &format!(
            "{}{}{}",
            input("text", "transfer-to", "to", "Service social destinataire (ORGANISME/BUREAU)", "", true),
            checkbox(
                "transfer-assessment",
                "release_assessment",
                "Transmettre aussi l'évaluation sociale (I.7)",
                "yes",
                false
            ),
            submit("Transférer le dossier", true)
        ),
    );
    format!(
        "<h2>Contact</h2>{contact}<h2>Nouvelle action</h2>{action}<h2>Offre</h2>{offer}<h2>Clôture</h2>{close}\
         <h2>Transfert à un autre organisme</h2><p class=\"lead\">La personne change d'organisme de rattachement : \
         le dossier lui est envoyé, figé ; les avis du service médical n'y vont que levés par le médecin-conseil ({}).</p>{transfer}",
        link("/transfers", "Transferts")
    )
}
