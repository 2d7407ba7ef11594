//! The printable page of a rights access (norm 43: everything held about the person, given to
//! them): a self-contained HTML page in French, with a print stylesheet and no script, rendered
//! from the [`AccessAnswer`] alone (a pure function: the headless-browser harness prints it to
//! PDF). Every value is escaped.

use serde_json::Value;

use crate::service::views::AccessAnswer;
use crate::store::{FileState, RightKind};

/// The French label of a field of the file, by catalogue path, and its norm item.
fn label(path: &str) -> &'static str {
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

/// Escapes a text for HTML (element content and attribute values alike).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A JSON value of the file, in words: texts as they are, lists one item a line, records as
/// `key: value` pairs.
fn value_html(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(true) => "oui".to_owned(),
        Value::Bool(false) => "non".to_owned(),
        Value::String(s) => escape(s).replace('\n', "<br>"),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => {
            let lis: Vec<String> = items.iter().map(|i| format!("<li>{}</li>", value_html(i))).collect();
            format!("<ul>{}</ul>", lis.join(""))
        }
        Value::Object(map) => {
            let pairs: Vec<String> = map.iter().map(|(k, v)| format!("{} : {}", escape(k), value_html(v))).collect();
            pairs.join(" ; ")
        }
    }
}

fn state(s: FileState) -> &'static str {
    match s {
        FileState::Open => "ouvert",
        FileState::Closed => "clos",
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
@media print{body{margin:0}h2{page-break-after:avoid}tr{page-break-inside:avoid}}@page{size:A4;margin:2cm}";

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

/// The printable page of a rights access.
pub fn access_page(answer: &AccessAnswer) -> String {
    let mut html = String::new();
    html.push_str("<!DOCTYPE html><html lang=\"fr\"><head><meta charset=\"utf-8\">");
    html.push_str("<title>Droit d'accès — dossier du service social</title>");
    html.push_str(&format!("<style>{STYLE}</style></head><body>"));
    html.push_str("<h1>Droit d'accès : données détenues par le service social</h1>");
    html.push_str(&format!(
        "<p>Organisme : {} — service : {}. Dossier {} ({}), ouvert le {}, dernière activité le {}. \
         Document établi le {}.</p>",
        escape(&answer.body),
        escape(&answer.office),
        escape(&answer.file),
        state(answer.state),
        escape(&answer.opened_at),
        escape(&answer.last_activity_at),
        escape(&answer.produced_at),
    ));
    html.push_str("<h2>Données du dossier</h2>");
    let rows = answer.fields.iter().map(|(path, value)| vec![escape(label(path)), value_html(value)]).collect();
    html.push_str(&table(&["Donnée", "Valeur"], rows));
    html.push_str("<h2>Actions et contacts</h2>");
    let rows = answer
        .actions
        .iter()
        .map(|a| {
            let contacts: Vec<String> = a
                .contacts
                .iter()
                .map(|c| format!("{} — {} ({})", opt(&c.date), escape(&c.channel), escape(&c.agent)))
                .collect();
            vec![escape(&a.purpose), opt(&a.start), opt(&a.end), contacts.join("<br>")]
        })
        .collect();
    html.push_str(&table(&["Action", "Début", "Fin", "Contacts"], rows));
    html.push_str("<h2>Offres de service</h2>");
    let rows = answer
        .offers
        .iter()
        .map(|o| {
            let sessions: Vec<String> = o.sessions.iter().map(|s| opt(&s.date)).collect();
            vec![escape(&o.kind), escape(&o.theme), sessions.join(", ")]
        })
        .collect();
    html.push_str(&table(&["Nature", "Thème", "Séances"], rows));
    html.push_str("<h2>Historique des modifications</h2>");
    html.push_str("<p>Qui a modifié quelle donnée, et quand ; les valeurs remplacées ne sont pas conservées.</p>");
    let rows = answer
        .history
        .iter()
        .map(|h| vec![escape(label(&h.field)), escape(&h.kind), escape(&h.agent), escape(&h.at)])
        .collect();
    html.push_str(&table(&["Donnée", "Nature", "Agent", "Date"], rows));
    html.push_str("<h2>Demandes d'exercice des droits</h2>");
    let rows = answer
        .rights
        .iter()
        .map(|r| vec![right(r.kind).to_owned(), escape(&r.at), escape(&r.agent), opt(&r.reasons), opt(&r.decision)])
        .collect();
    html.push_str(&table(&["Demande", "Date", "Agent", "Motifs", "Décision"], rows));
    html.push_str("</body></html>\n");
    html
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::views::RIGHTS_ACCESS_FORMAT;
    use serde_json::json;

    #[test]
    fn the_page_is_french_escaped_printable_and_scriptless() {
        let mut fields = serde_json::Map::new();
        fields.insert("identity.family_name".into(), json!("Testard <b>"));
        fields.insert("care.gir_level".into(), json!(4));
        let answer = AccessAnswer {
            format: RIGHTS_ACCESS_FORMAT.into(),
            produced_at: "2026-12-07T10:00:00Z".into(),
            body: "carsat-sud-est".into(),
            office: "ss-13".into(),
            file: "f-1".into(),
            state: FileState::Open,
            opened_at: "2026-12-01T09:00:00Z".into(),
            last_activity_at: "2026-12-02T09:00:00Z".into(),
            source: None,
            fields,
            actions: vec![],
            offers: vec![],
            history: vec![],
            rights: vec![],
        };
        let page = access_page(&answer);
        assert!(page.contains("Nom de famille") && page.contains("Niveau GIR"), "{page}");
        assert!(page.contains("Testard &lt;b&gt;") && !page.contains("<b>"), "escaped");
        assert!(page.contains("@media print") && !page.to_lowercase().contains("<script"));
    }
}
