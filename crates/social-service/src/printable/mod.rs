//! The printable page of a rights access (norm 43: everything held about the person, given to
//! them): a self-contained HTML page in French, with a print stylesheet and no script, rendered
//! from the [`AccessAnswer`] alone (a pure function: the headless-browser harness prints it to
//! PDF). Every value is escaped.
//!
//! What a person must read on it, in this order: whom it is about (their name), who holds the
//! file and since when (the attached body, its social service, the opening date), how long it is
//! kept, everything it holds, the change history (who changed which field when — no value),
//! and their rights — access, rectification (art. 39, 40 of the 1978 law), objection for
//! legitimate reasons (art. 38), the plain refusal of the archive — and where to exercise them:
//! with the director of the attached body, at its social service (the norm's "information des
//! personnes"). A screen-only line asks the agent to print it; it never reaches the paper.
//! Values are shown as a person reads them ([`values`]): French labels for the codes of the
//! closed lists, one line a record, euros, Oui/Non, and dates `jj/mm/aaaa` in the body's legal
//! time zone (the answer's `time_zone`, from the service's `[trails] time_zone`).

mod values;

use passerelle_protocol::calendar::LegalCalendar;
use passerelle_social_file::enums::{ACTION_PURPOSE, CONTACT_CHANNEL, OFFER_KIND, OFFER_THEME};
use passerelle_social_file::FIELDS;
use serde_json::Value;

pub use passerelle_pages::{escape, euros};
pub use values::fr_date;
use values::nowrap;
pub use values::{field_html, label as code_label};

use crate::service::views::AccessAnswer;
use crate::store::{FileState, RightKind};

/// The French label of a field of the file, by catalogue path (the console's too).
pub fn label(path: &str) -> &'static str {
    match path {
        "identity.nir" => "NIR, numéro provisoire ou NIA",
        "identity.number_kind" => "Nature du numéro",
        "identity.nia_attribution_date" => "Date d'attribution du NIA",
        "identity.family_name" => "Nom de famille",
        "identity.usage_name" => "Nom d'usage",
        "identity.given_names" => "Prénoms",
        "identity.sex" => "Sexe",
        "identity.birth_date" => "Date de naissance",
        "identity.birth_place" => "Lieu de naissance",
        "contacts.postal_address" => "Adresse postale",
        "contacts.phones" => "Téléphones",
        "contacts.email" => "Adresse électronique",
        "family.situation" => "Situation familiale",
        "family.household_members" => "Composition du foyer",
        "social_situation.difficulties" => "Difficultés sociales",
        "social_situation.assessment" => "Évaluation sociale",
        "social_situation.relations" => "Personnes de l'entourage",
        "budget.lines" => "Ressources, charges, crédits et dettes",
        "care.care_pathway" => "Parcours de soins",
        "care.pch_eligible" => "Éligibilité à la PCH",
        "care.gir_level" => "Niveau GIR",
        "care.ipp_rate" => "Taux d'incapacité permanente partielle",
        "care.ticket_moderateur_exemption" => "Exonération du ticket modérateur",
        "care.declared_gp" => "Médecin traitant déclaré",
        "medical.opinions" => "Avis du service médical",
        "occupation.employment" => "Formation et emploi",
        "occupation.professional_status" => "Statut professionnel",
        "risk.risks" => "Risque concerné",
        "affiliation.bodies" => "Organismes de rattachement",
        "rights.benefits" => "Droits, avantages et prestations",
        "health_cover.cover" => "CMU, CMU-C, ACS ou CSS",
        "prevention.housing_type" => "Type de logement",
        "prevention.housing_conditions" => "Conditions de logement",
        "prevention.aids" => "Aides préventives et compensatoires",
        "compensation.sick_leaves" => "Arrêts de travail et indemnités journalières",
        "compensation.pensions" => "Pensions d'invalidité, rentes, capital décès",
        "partners.legal_persons" => "Partenaires (personnes morales)",
        "partners.physical_persons" => "Partenaires (personnes physiques)",
        _ => "Autre donnée",
    }
}

fn state(s: FileState) -> &'static str {
    match s {
        FileState::Open => "ouvert",
        FileState::Closed => "clos",
    }
}

/// The French name of a history entry's kind.
fn change_kind(kind: &str) -> &str {
    match kind {
        "update" => "mise à jour",
        "rectification" => "rectification (droit de rectification)",
        other => other,
    }
}

fn right(kind: RightKind) -> &'static str {
    match kind {
        RightKind::Access => "Accès",
        RightKind::Rectify => "Rectification",
        RightKind::Object => "Opposition (art. 38)",
        RightKind::RefuseArchive => "Refus de l'archivage",
    }
}

const STYLE: &str = "body{font-family:serif;margin:2em;color:#000}h1{font-size:1.5em}h2{font-size:1.2em;\
border-bottom:1px solid #000;margin-top:1.5em}table{border-collapse:collapse;width:100%}th,td{border:1px solid \
#888;padding:.3em;text-align:left;vertical-align:top}th{width:35%}ul{margin:0;padding-left:1.2em}\
.ecran{border:1px dashed #888;padding:.5em}.nw{white-space:nowrap}@media print{body{margin:0}.ecran{display:none}\
h2{page-break-after:avoid}tr{page-break-inside:avoid}}@page{size:A4;margin:2cm}";

fn table(head: &[&str], rows: Vec<Vec<String>>) -> String {
    if rows.is_empty() {
        return "<p>Aucune.</p>".to_owned();
    }
    let th: String = head.iter().map(|h| format!("<th>{h}</th>")).collect();
    let trs: String = rows
        .iter()
        .map(|r| format!("<tr>{}</tr>", r.iter().map(|c| format!("<td>{c}</td>")).collect::<String>()))
        .collect();
    format!("<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>")
}

fn opt(text: &Option<String>) -> String {
    text.as_deref().map(escape).unwrap_or_default()
}

/// An objection's decision in words.
fn decision(text: &Option<String>) -> String {
    match text.as_deref() {
        Some("pending") => "en attente de la décision du directeur".to_owned(),
        other => other.map(escape).unwrap_or_default(),
    }
}

fn opt_date(text: &Option<String>, calendar: &LegalCalendar) -> String {
    text.as_deref().map(|t| nowrap(&fr_date(t, calendar))).unwrap_or_default()
}

/// The person's name as the file holds it: given names, then the family name (and the usage
/// name) in capitals.
fn person_name(answer: &AccessAnswer) -> String {
    let text = |path: &str| answer.fields.get(path).and_then(Value::as_str).unwrap_or_default().trim().to_owned();
    let mut name = text("identity.given_names");
    let family = text("identity.family_name").to_uppercase();
    if !family.is_empty() {
        name = format!("{name} {family}");
    }
    let usage = text("identity.usage_name").to_uppercase();
    if !usage.is_empty() && usage != family {
        name = format!("{name} (nom d'usage {usage})");
    }
    name.trim().to_owned()
}

/// Who holds the file, since when, how long it is kept.
fn holder(answer: &AccessAnswer) -> String {
    let body = escape(&answer.body);
    format!(
        "<h2>Qui détient ce dossier</h2>\
         <p>Ce dossier est tenu par le service social ({office}) de l'organisme d'assurance maladie \
         {body}, votre organisme de rattachement ; le responsable du traitement est son directeur. \
         Il est ouvert depuis le {opened} ({state}) ; dernière activité le {last}. Seuls les agents \
         de ce service individuellement habilités par le directeur le consultent, dans la limite \
         de ce que leur mission exige.</p>\
         <p>Durée de conservation : les données sont conservées dix-huit mois au plus après la fin \
         de la dernière action du service social ; ensuite, sauf opposition de votre part, elles \
         peuvent être archivées trois ans au plus, à part, pour l'évaluation des dispositifs \
         d'intervention, puis elles sont supprimées.</p>",
        office = escape(&answer.office),
        opened = escape(&fr_date(&answer.opened_at, &answer.time_zone)),
        state = state(answer.state),
        last = escape(&fr_date(&answer.last_activity_at, &answer.time_zone)),
    )
}

/// The person's rights and where to exercise them (norm 43, "information des personnes").
fn rights_explained(answer: &AccessAnswer) -> String {
    let body = escape(&answer.body);
    format!(
        "<h2>Vos droits et où les exercer</h2>\
         <ul>\
         <li><strong>Droit d'accès</strong> (article 39 de la loi du 6 janvier 1978) : ce document \
         vous donne tout ce que le service social détient sur vous.</li>\
         <li><strong>Droit de rectification</strong> (article 40) : si une donnée est inexacte ou \
         incomplète, vous pouvez demander qu'elle soit corrigée ; la nouvelle valeur remplace \
         l'ancienne, qui n'est pas conservée, et l'historique garde seulement qui a modifié quelle \
         donnée et quand.</li>\
         <li><strong>Droit d'opposition</strong> (article 38) : vous pouvez vous opposer, pour des \
         motifs légitimes, au traitement de vos données ; le directeur décide ; s'il fait droit à \
         votre demande, l'action du service social s'arrête et votre dossier est supprimé.</li>\
         <li><strong>Refus de l'archivage</strong> : sans avoir à le motiver, vous pouvez refuser \
         que votre dossier soit archivé ; il est alors supprimé à la fin de sa durée de \
         conservation.</li>\
         </ul>\
         <p>Ces droits s'exercent auprès du directeur de votre organisme de rattachement \
         ({body}), auprès de son service social ({office}).</p>",
        office = escape(&answer.office),
    )
}

/// The printable page of a rights access.
pub fn access_page(answer: &AccessAnswer) -> String {
    let calendar = &answer.time_zone;
    let mut html = String::new();
    html.push_str("<!DOCTYPE html><html lang=\"fr\"><head><meta charset=\"utf-8\">");
    html.push_str("<title>Droit d'accès — dossier du service social</title>");
    html.push_str(&format!("<style>{STYLE}</style></head><body>"));
    html.push_str(
        "<p class=\"ecran\">Page à imprimer (Ctrl+P) et à remettre à la personne ; cette ligne ne \
         s'imprime pas.</p>",
    );
    html.push_str("<h1>Droit d'accès : données détenues par le service social</h1>");
    html.push_str(&format!(
        "<p>Personne concernée : <strong>{}</strong>. Dossier {}. Document établi le {}.</p>",
        escape(&person_name(answer)),
        escape(&answer.file),
        escape(&fr_date(&answer.produced_at, &answer.time_zone)),
    ));
    html.push_str(&holder(answer));
    html.push_str("<h2>Données du dossier</h2>");
    // In the catalogue's order (identity first, as the norm lists its items), then anything else.
    let catalogued = FIELDS.iter().filter_map(|f| answer.fields.get_key_value(f.path));
    let other = answer.fields.iter().filter(|(path, _)| passerelle_social_file::field(path).is_none());
    let rows = catalogued
        .chain(other)
        .map(|(path, value)| vec![escape(label(path)), field_html(path, value, calendar)])
        .collect();
    html.push_str(&table(&["Donnée", "Valeur"], rows));
    html.push_str("<h2>Actions et contacts</h2>");
    let rows = answer
        .actions
        .iter()
        .map(|a| {
            let contacts: Vec<String> = a
                .contacts
                .iter()
                .map(|c| {
                    format!(
                        "{} — {} (agent {})",
                        opt_date(&c.date, calendar),
                        code_label(&CONTACT_CHANNEL, &c.channel),
                        nowrap(&c.agent)
                    )
                })
                .collect();
            vec![
                code_label(&ACTION_PURPOSE, &a.purpose),
                opt_date(&a.start, calendar),
                opt_date(&a.end, calendar),
                contacts.join("<br>"),
            ]
        })
        .collect();
    html.push_str(&table(&["Action", "Début", "Fin", "Contacts"], rows));
    html.push_str("<h2>Offres de service</h2>");
    let rows = answer
        .offers
        .iter()
        .map(|o| {
            let sessions: Vec<String> = o.sessions.iter().map(|s| opt_date(&s.date, calendar)).collect();
            vec![code_label(&OFFER_KIND, &o.kind), code_label(&OFFER_THEME, &o.theme), sessions.join(", ")]
        })
        .collect();
    html.push_str(&table(&["Nature", "Thème", "Séances"], rows));
    html.push_str("<h2>Historique des modifications</h2>");
    html.push_str("<p>Qui a modifié quelle donnée, et quand ; les valeurs remplacées ne sont pas conservées.</p>");
    let rows = answer
        .history
        .iter()
        .map(|h| {
            vec![
                escape(label(&h.field)),
                escape(change_kind(&h.kind)),
                nowrap(&h.agent),
                nowrap(&fr_date(&h.at, calendar)),
            ]
        })
        .collect();
    html.push_str(&table(&["Donnée", "Nature", "Agent", "Date"], rows));
    html.push_str("<h2>Demandes d'exercice des droits</h2>");
    let rows = answer
        .rights
        .iter()
        .map(|r| {
            vec![
                right(r.kind).to_owned(),
                nowrap(&fr_date(&r.at, calendar)),
                nowrap(&r.agent),
                opt(&r.reasons),
                decision(&r.decision),
            ]
        })
        .collect();
    html.push_str(&table(&["Demande", "Date", "Agent", "Motifs", "Décision"], rows));
    html.push_str(&rights_explained(answer));
    html.push_str("</body></html>\n");
    html
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::views::RIGHTS_ACCESS_FORMAT;
    use serde_json::json;

    fn answer() -> AccessAnswer {
        AccessAnswer {
            format: RIGHTS_ACCESS_FORMAT.into(),
            produced_at: "2026-12-07T10:00:00Z".into(),
            body: "carsat-sud-est".into(),
            office: "ss-13".into(),
            file: "f-1".into(),
            state: FileState::Open,
            opened_at: "2026-11-30T23:30:00Z".into(),
            last_activity_at: "2026-12-02T09:00:00Z".into(),
            source: None,
            fields: serde_json::Map::new(),
            actions: vec![],
            offers: vec![],
            history: vec![],
            rights: vec![],
            time_zone: LegalCalendar::default(),
        }
    }

    #[test]
    fn the_page_is_french_escaped_printable_and_scriptless() {
        let mut fields = serde_json::Map::new();
        fields.insert("identity.family_name".into(), json!("Testard <b>"));
        fields.insert("care.gir_level".into(), json!(4));
        let answer = AccessAnswer { fields, ..answer() };
        let page = access_page(&answer);
        assert!(page.contains("Nom de famille") && page.contains("Niveau GIR"), "{page}");
        assert!(page.contains("Testard &lt;b&gt;") && !page.contains("<b>"), "escaped");
        assert!(page.contains("@media print") && !page.to_lowercase().contains("<script"));
        assert!(page.contains("Personne concernée : <strong>TESTARD &lt;B&gt;</strong>"), "{page}");
        assert!(page.contains("ouvert depuis le 01/12/2026"), "since when, in Paris: {page}");
        assert!(page.contains("directeur de votre organisme de rattachement (carsat-sud-est)"), "{page}");
        assert!(page.contains("class=\"ecran\"") && page.contains(".ecran{display:none}"), "screen only");
    }

    #[test]
    fn dates_read_as_a_person_writes_them_in_the_legal_time_zone() {
        let paris = LegalCalendar::default();
        assert_eq!(fr_date("2026-12-07T10:00:00Z", &paris), "07/12/2026");
        assert_eq!(fr_date("2026-12-31T23:30:00Z", &paris), "01/01/2027", "00:30 on 1 January in Paris");
        let cayenne: LegalCalendar = "America/Cayenne".parse().unwrap();
        assert_eq!(fr_date("2027-01-01T02:00:00Z", &cayenne), "31/12/2026", "23:00 on 31 December in Cayenne");
        assert_eq!(fr_date("2026-01-31", &cayenne), "31/01/2026", "a day is a day in every zone");
        assert_eq!(fr_date("soon", &paris), "soon");
        assert_eq!(fr_date("2026/01/31", &paris), "2026/01/31");
        assert_eq!(fr_date("2026-1a-31", &paris), "2026-1a-31");
    }

    #[test]
    fn amounts_read_in_euros_as_french_writes_them() {
        assert_eq!(euros(160_400), "1\u{a0}604,00\u{a0}€");
        assert_eq!(euros(5), "0,05\u{a0}€");
        assert_eq!(euros(123_456_789), "1\u{a0}234\u{a0}567,89\u{a0}€");
        assert_eq!(euros(99_900), "999,00\u{a0}€");
        assert_eq!(euros(-100_000), "-1\u{a0}000,00\u{a0}€");
    }

    #[test]
    fn codes_read_as_french_labels_and_records_as_lines() {
        let mut fields = serde_json::Map::new();
        fields.insert("family.situation".into(), json!("widowed"));
        fields.insert("identity.sex".into(), json!("female"));
        fields.insert("social_situation.difficulties".into(), json!(["loss_of_autonomy", "isolation"]));
        fields.insert("care.pch_eligible".into(), json!(false));
        fields.insert(
            "family.household_members".into(),
            json!([{"member": 1, "family_name": "Dupont", "given_names": "Alix", "birth_year": 1950, "relationship": "child"}]),
        );
        fields.insert(
            "budget.lines".into(),
            json!([{"member": 0, "kind": "resource", "item": "pension", "amount_cents": 160400, "period": "monthly"}]),
        );
        fields.insert(
            "rights.benefits".into(),
            json!([{"kind": "housing_aid", "status": "granted", "since": "2025-03-01"}]),
        );
        let page = access_page(&AccessAnswer { fields, ..answer() });
        for words in [
            "<td>veuf·ve</td>",
            "<td>femme</td>",
            "<li>perte d&#39;autonomie</li><li>isolement</li>",
            "<td>Non</td>",
            "membre n°\u{a0}1 : Dupont Alix, né·e en 1950, enfant",
            "Ressource — retraite : 1\u{a0}604,00\u{a0}€ par mois (la personne)",
            "Aide au logement, accordé, depuis le <span class=\"nw\">01/03/2025</span>",
        ] {
            assert!(page.contains(words), "`{words}` in {page}");
        }
        for code in ["widowed", "female", "loss_of_autonomy", "amount_cents", "resource", "monthly", "housing_aid"] {
            assert!(!page.contains(code), "`{code}` is not printed: {page}");
        }
    }
}
