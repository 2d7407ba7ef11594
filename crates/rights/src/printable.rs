//! The consolidated answer as the page a person receives: HTML that prints well on A4, in plain
//! French — who holds what, why (the purpose and the legal basis), until when; that the social
//! service's files are a separate processing to ask about at one's health-insurance body; how to
//! complain to the CNIL; the parties that did not answer in time, with the date they were asked.
//!
//! A pure function of the [`ConsolidatedAnswer`] (the headless-browser harness prints it to PDF):
//! its own stylesheet with print rules, no script, no outside resource, every value escaped. The
//! page reads, in this order: the title and the person's NIR; each body that holds something
//! (its readable name, what it holds — categories by their French labels, values in words —,
//! why, since when and until when), or "nothing held" said plainly; for a rectification, what
//! each body changed; the bodies that did not answer in time; the social-service files; the
//! rights (no opposition, art. 6) and the CNIL. No code of the wire reaches the paper: bodies by
//! their names, categories by their labels, booleans Oui/Non, dates `jj/mm/aaaa` (a timestamp by
//! its day in Paris, the legal time of mainland France), amounts in euros.

use chrono::DateTime;
use passerelle_protocol::calendar::LegalCalendar;
use passerelle_protocol::catalogue::{self, body};
use passerelle_protocol::territory::OBSERVATORIES;
use passerelle_protocol::v1::{FamilySituation, TreatmentMode};
use passerelle_protocol::value::{self, Value};

pub use passerelle_pages::escape;
use passerelle_pages::euros;

use crate::{ConsolidatedAnswer, HeldValue, Holding, HoldingKind, PartyAnswer, RequestState, RightsKind};

/// The purpose of the processing (decree art. 1), as the person reads it.
pub const PURPOSE: &str = "repérer les personnes de 55 ans et plus en risque de perte d'autonomie et leur \
     proposer une offre de prévention";

/// The legal basis, as the person reads it.
pub const LEGAL_BASIS: &str = "décret n° 2017-334 du 14 mars 2017, articles 1 à 3";

/// The page's one stylesheet, inline (a console serving the page allows exactly it, by its hash).
pub const STYLE: &str = "body{font-family:serif;margin:2em;color:#000;line-height:1.35}h1{font-size:1.5em}\
h2{font-size:1.2em;border-bottom:1px solid #000;margin-top:1.5em}h3{font-size:1.05em;margin:1em 0 .3em}\
table{border-collapse:collapse;width:100%}th,td{border:1px solid #888;padding:.3em;text-align:left;\
vertical-align:top}ul{margin:0;padding-left:1.2em}.ecran{border:1px dashed #888;padding:.5em}\
.nw{white-space:nowrap}.organisme{margin-bottom:1em}\
@media print{body{margin:0}.ecran{display:none}h2,h3{page-break-after:avoid}tr,.organisme li{page-break-inside:avoid}}\
@page{size:A4;margin:2cm}";

/// A day `YYYY-MM-DD` or an RFC 3339 time as `jj/mm/aaaa` (a time by its day in Paris);
/// anything else as it is.
pub fn fr_date(text: &str) -> String {
    let b = text.as_bytes();
    let is_day = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if is_day {
        return format!("{}/{}/{}", &text[8..10], &text[5..7], &text[..4]);
    }
    match DateTime::parse_from_rfc3339(text) {
        Ok(t) => t.with_timezone(&LegalCalendar::default().zone()).format("%d/%m/%Y").to_string(),
        Err(_) => text.to_owned(),
    }
}

fn date_html(text: &str) -> String {
    format!("<span class=\"nw\">{}</span>", escape(&fr_date(text)))
}

/// The readable name of a branch code (`cnaf`), `None` for a code this version does not know.
fn body_name(code: &str) -> Option<&'static str> {
    Some(match code {
        body::CNAM => "Assurance maladie",
        body::CNAV => "Assurance retraite",
        body::CNAF => "Caisse d'allocations familiales",
        body::MSA => "Mutualité sociale agricole",
        _ => return None,
    })
}

/// The readable name of a party: an observatory by its fund's name, a requester office by its
/// body's name and the office's code, a body by its name.
pub fn party_name(code: &str) -> String {
    if let Some(o) = OBSERVATORIES.iter().find(|o| o.code == code) {
        return format!("Observatoire régional des situations de fragilité ({})", o.name);
    }
    let (body_code, office) = match code.split_once('.') {
        Some((b, o)) => (b, Some(o)),
        None => (code, None),
    };
    let body = body_name(body_code).map_or_else(|| format!("Organisme {body_code}"), str::to_owned);
    match office {
        Some(office) => format!("{body}, bureau {office}"),
        None => body,
    }
}

/// The source of a value, in words (`cnaf` → the body's name).
fn source_name(code: &str) -> String {
    match body_name(code) {
        Some(name) => name.to_owned(),
        None => party_name(code),
    }
}

/// The French label of a category code (`family_situation` → "Situation familiale").
pub fn category_label(code: &str) -> &str {
    match code {
        "family_situation" => "Situation familiale",
        "css" => "Complémentaire santé solidaire (ex CMU-C, ACS)",
        "complementary_cover" => "Complémentaire santé",
        "hospital_stays_12m" => "Séjours à l'hôpital des 12 derniers mois",
        "work_accident_12m" => "Accident du travail ou maladie professionnelle des 12 derniers mois",
        "sick_pay_over_90d_12m" => "Indemnités journalières de plus de 90 jours des 12 derniers mois",
        "long_term_condition" => "Affection de longue durée (ALD)",
        "no_reimbursement_12m" => "Aucun remboursement de soins des 12 derniers mois",
        "no_declared_gp" => "Pas de médecin traitant déclaré",
        "invalidity_pension" => "Pension d'invalidité",
        "work_incapacity" => "Inaptitude au travail",
        "survivor_pension" => "Pension de réversion",
        "old_age_minimum" => "Minimum vieillesse (ASPA, ASV)",
        "contributory_minimum" => "Minimum contributif",
        "housing_aid" => "Aide au logement",
        "disabled_adult_allowance" => "Allocation aux adultes handicapés (AAH)",
        "rsa" => "Revenu de solidarité active (RSA)",
        "activity_bonus" => "Prime d'activité",
        "home_return_aid" => "Aide au retour à domicile après hospitalisation",
        "csg_exemption" => "Exonération de CSG",
        "job_seeker_registration" => "Inscription comme demandeur d'emploi",
        "quarters_contributed" => "Trimestres cotisés",
        "multi_scheme_pensions" => "Pensions de plusieurs régimes",
        "pension_start_date" => "Date de départ en retraite",
        "pension_payment_date" => "Date de paiement de la pension",
        "household_annual_resources" => "Ressources annuelles du foyer",
        "resources_per_consumption_unit" => "Ressources par unité de consommation",
        _ => "Autre donnée",
    }
}

fn family_situation(s: FamilySituation) -> &'static str {
    use FamilySituation as F;
    match s {
        F::Unspecified => "non précisée",
        F::Married => "marié·e",
        F::CivilPartnership => "pacsé·e",
        F::Cohabiting => "en concubinage",
        F::Separated => "séparé·e",
        F::Divorced => "divorcé·e",
        F::Widowed => "veuf·ve",
        F::Single => "célibataire",
    }
}

fn treatment_mode(mode: i32) -> &'static str {
    match TreatmentMode::try_from(mode).unwrap_or(TreatmentMode::Unspecified) {
        TreatmentMode::Full => "hospitalisation complète",
        TreatmentMode::Partial => "hospitalisation partielle",
        TreatmentMode::Ambulatory => "ambulatoire",
        TreatmentMode::Home => "hospitalisation à domicile",
        TreatmentMode::Rehabilitation => "soins de suite et de réadaptation",
        TreatmentMode::Unspecified => "mode non précisé",
    }
}

/// A value in the shared syntax, in words (escaped); a value that does not parse, as it is.
fn value_words(held: &HeldValue) -> String {
    let Some(info) = catalogue::by_code(&held.category) else { return escape(&held.value) };
    match value::parse_category(info.category, &held.value) {
        Ok(Some(v)) => match v {
            Value::Bool(true) => "Oui".to_owned(),
            Value::Bool(false) => "Non".to_owned(),
            Value::Count(n) => n.to_string(),
            Value::Date(d) => date_html(&value::format_date(&d)),
            Value::Amount(cents) => format!("<span class=\"nw\">{}</span>", euros(cents)),
            Value::FamilySituation(s) => family_situation(s).to_owned(),
            Value::HospitalStays(stays) if stays.is_empty() => "aucun".to_owned(),
            Value::HospitalStays(stays) => stays
                .iter()
                .map(|s| {
                    let day = s.admission.as_ref().map(value::format_date).unwrap_or_default();
                    format!("entrée le {}, {} jour(s), {}", date_html(&day), s.length_days, treatment_mode(s.mode))
                })
                .collect::<Vec<_>>()
                .join(" ; "),
        },
        _ => escape(&held.value),
    }
}

/// What a holding is, in a sentence.
fn holding_what(h: &Holding) -> String {
    match h.kind {
        HoldingKind::Selection => {
            "Votre inscription sur la liste des personnes à qui proposer une offre de prévention, avec les \
             informations que cet organisme connaissait déjà"
                .to_owned()
        }
        HoldingKind::ReceivedValues => "Des informations reçues à votre sujet d'autres organismes".to_owned(),
        HoldingKind::OfferOutcome => {
            let outcome = match h.outcome.as_deref() {
                Some("accepted") => "vous l'avez acceptée",
                Some("declined") => "vous l'avez refusée",
                Some("no_reply") => "vous n'y avez pas répondu",
                _ => "suite non précisée",
            };
            let when = h.outcome_date.as_deref().map(|d| format!(" (le {})", date_html(d))).unwrap_or_default();
            format!("La suite donnée à l'offre de prévention qui vous a été faite : {outcome}{when}")
        }
        HoldingKind::CaseInFlight => {
            "Une demande d'informations en cours à votre sujet (ses données sont effacées dès leur transmission, \
             au plus tard 30 jours après leur arrivée)"
                .to_owned()
        }
        HoldingKind::Statistics => {
            "Une ligne de statistiques pseudonymisée : sans votre nom, sans votre NIR et sans votre adresse, \
             conservée 5 ans au plus pour l'évaluation du dispositif"
                .to_owned()
        }
    }
}

fn holding_html(h: &Holding) -> String {
    let mut out = format!("<li><p><strong>{}</strong>.", holding_what(h));
    if !h.requester.is_empty() && h.kind != HoldingKind::Selection {
        out.push_str(&format!(" À la demande de : {}.", escape(&party_name(&h.requester))));
    }
    match (&h.since, &h.until) {
        (Some(since), Some(until)) => out.push_str(&format!(
            " Détenu depuis le {}, jusqu'au {} au plus tard.",
            date_html(since),
            date_html(until)
        )),
        (Some(since), None) => out.push_str(&format!(" Détenu depuis le {}.", date_html(since))),
        (None, Some(until)) => out.push_str(&format!(" Conservé jusqu'au {} au plus tard.", date_html(until))),
        (None, None) => {}
    }
    out.push_str("</p>");
    if !h.values.is_empty() {
        let rows: String = h
            .values
            .iter()
            .map(|v| {
                format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(category_label(&v.category)),
                    value_words(v),
                    escape(&source_name(&v.source))
                )
            })
            .collect();
        out.push_str(&format!(
            "<table><thead><tr><th>Information</th><th>Valeur</th><th>Transmise par</th></tr></thead>\
             <tbody>{rows}</tbody></table>"
        ));
    }
    out.push_str("</li>");
    out
}

fn holders(answer: &ConsolidatedAnswer) -> String {
    let mut out = String::from("<h2>Qui détient des informations vous concernant</h2>");
    let holding: Vec<&PartyAnswer> = answer.parties.iter().filter(|p| !p.holdings.is_empty()).collect();
    if holding.is_empty() {
        out.push_str(
            "<p><strong>Aucun organisme ne détient d'information vous concernant</strong> dans le cadre de ce \
             traitement, parmi ceux qui ont répondu.</p>",
        );
        return out;
    }
    for p in holding {
        out.push_str(&format!("<div class=\"organisme\"><h3>{}</h3>", escape(&party_name(&p.party))));
        out.push_str(&format!(
            "<p>Pourquoi : pour {PURPOSE} (fondement : {LEGAL_BASIS}). Chaque information est effacée au \
             plus tard à la date indiquée.</p><ul>"
        ));
        for h in &p.holdings {
            out.push_str(&holding_html(h));
        }
        out.push_str("</ul></div>");
    }
    let silent_holders: Vec<String> = answer
        .parties
        .iter()
        .filter(|p| p.answered_at.is_some() && p.holdings.is_empty())
        .map(|p| format!("<li>{}</li>", escape(&party_name(&p.party))))
        .collect();
    if !silent_holders.is_empty() {
        out.push_str(&format!(
            "<p>Ces organismes ont répondu ne rien détenir vous concernant :</p><ul>{}</ul>",
            silent_holders.concat()
        ));
    }
    out
}

fn rectifications(answer: &ConsolidatedAnswer) -> String {
    let mut out = String::from("<h2>Les corrections demandées</h2>");
    if !answer.corrected.is_empty() {
        let items: String = answer
            .corrected
            .iter()
            .map(|v| format!("<li>{} : {}</li>", escape(category_label(&v.category)), value_words(v)))
            .collect();
        out.push_str(&format!("<p>Vous avez demandé que ces informations soient corrigées :</p><ul>{items}</ul>"));
    }
    let changed: Vec<String> = answer
        .parties
        .iter()
        .filter(|p| !p.rectified.is_empty())
        .map(|p| {
            let what: Vec<String> = p.rectified.iter().map(|r| escape(category_label(&r.category))).collect();
            format!("<li>{} a corrigé : {}.</li>", escape(&party_name(&p.party)), what.join(", "))
        })
        .collect();
    if changed.is_empty() {
        out.push_str("<p>Aucun organisme n'avait d'information à corriger.</p>");
    } else {
        out.push_str(&format!("<ul>{}</ul>", changed.concat()));
    }
    out
}

fn unanswered(answer: &ConsolidatedAnswer) -> String {
    let silent: Vec<String> = answer
        .unanswered()
        .map(|p| format!("<li>{}, interrogé le {}</li>", escape(&party_name(&p.party)), date_html(&p.asked_at)))
        .collect();
    let late: Vec<String> = answer
        .parties
        .iter()
        .filter(|p| p.late)
        .map(|p| {
            let when = p.answered_at.as_deref().map(date_html).unwrap_or_default();
            format!(
                "<li>{}, interrogé le {}, a répondu en retard le {when}</li>",
                escape(&party_name(&p.party)),
                date_html(&p.asked_at)
            )
        })
        .collect();
    if silent.is_empty() && late.is_empty() {
        return String::new();
    }
    if answer.state == RequestState::Asking {
        return format!(
            "<h2>Organismes qui n'ont pas encore répondu</h2><p>Ils ont jusqu'au {} pour répondre :</p><ul>{}</ul>",
            date_html(&answer.answer_by),
            silent.concat()
        );
    }
    let mut out = String::from("<h2>Organismes qui n'ont pas répondu à temps</h2>");
    if !silent.is_empty() {
        out.push_str(&format!(
            "<p>Ces organismes n'ont pas répondu avant le {} ; ce qu'ils détiennent éventuellement ne figure \
             donc pas ici :</p><ul>{}</ul>",
            date_html(&answer.answer_by),
            silent.concat()
        ));
    }
    if !late.is_empty() {
        out.push_str(&format!("<ul>{}</ul>", late.concat()));
    }
    out
}

const SOCIAL_SERVICE: &str = "<h2>Les dossiers du service social</h2><p>Si vous êtes ou avez été suivi·e par \
     un service social de l'assurance maladie, votre dossier y est un traitement distinct, qui n'est pas \
     couvert par cette réponse. Pour y accéder ou le faire corriger, adressez-vous à votre organisme \
     d'assurance maladie : la caisse primaire d'assurance maladie ou le service social de la CARSAT.</p>";

const RIGHTS: &str = "<h2>Vos droits et vos recours</h2><ul>\
     <li>Les droits d'accès et de rectification s'exercent auprès du directeur de la caisse de retraite \
     compétente (article 6 du décret n° 2017-334 du 14 mars 2017).</li>\
     <li>Il n'y a pas de droit d'opposition à ce traitement : l'article 6 du décret l'écarte.</li>\
     <li>Si vous estimez que vos droits ne sont pas respectés, vous pouvez adresser une réclamation à la \
     Commission nationale de l'informatique et des libertés (CNIL) : en ligne sur www.cnil.fr/plaintes, \
     ou par courrier à la CNIL, 3 place de Fontenoy, TSA 80715, 75334 Paris Cedex 07.</li></ul>";

/// The page, a whole HTML document (its own stylesheet, no script, no outside resource).
pub fn page(answer: &ConsolidatedAnswer) -> String {
    let title = match answer.kind {
        RightsKind::Access => "Réponse à votre demande de droit d'accès",
        RightsKind::Rectification => "Réponse à votre demande de droit de rectification",
    };
    let mut html = String::new();
    html.push_str("<!DOCTYPE html><html lang=\"fr\"><head><meta charset=\"utf-8\">");
    html.push_str(&format!("<title>{title}</title><style>{STYLE}</style></head><body>"));
    html.push_str(
        "<p class=\"ecran\">Page à imprimer (Ctrl+P) et à remettre à la personne ; cette ligne ne \
         s'imprime pas.</p>",
    );
    html.push_str(&format!("<h1>{title}</h1>"));
    html.push_str(&format!("<p>Personne concernée : NIR <strong class=\"nw\">{}</strong>", escape(&answer.nir)));
    if !answer.former_nirs.is_empty() {
        let former: Vec<String> =
            answer.former_nirs.iter().map(|n| format!("<span class=\"nw\">{}</span>", escape(n))).collect();
        html.push_str(&format!(" (anciens numéros : {})", former.join(", ")));
    }
    html.push_str(&format!(
        ".</p><p>Demande reçue le {} par l'{} ; réponse attendue des organismes au plus tard le {}.</p>",
        date_html(&answer.opened_at),
        escape(&party_name(&answer.observatory)).replacen("Observatoire", "observatoire", 1),
        date_html(&answer.answer_by),
    ));
    html.push_str(&holders(answer));
    if answer.kind == RightsKind::Rectification {
        html.push_str(&rectifications(answer));
    }
    html.push_str(&unanswered(answer));
    html.push_str(SOCIAL_SERVICE);
    html.push_str(RIGHTS);
    html.push_str("</body></html>\n");
    html
}
