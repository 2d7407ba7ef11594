//! The requester pages' HTML, from the local API's answers: pure functions (no session, no
//! call), every value through [`text`] — so what a page shows is what its API answer held, and
//! the tests can hand them hostile or synthetic data.

use passerelle_console::html::{card, duration, facts, link, notice, table, text, when};
use passerelle_protocol::catalogue::{self, Domain};
use passerelle_protocol::offered_service;
use passerelle_requester::api::{
    CaseStatus, ContactEntry, ContactsAnswer, Outcome, OverviewAnswer, PurgeAnswer, ReportLine, SubmitAnswer,
};
use passerelle_requester::export::{CaseSummary, RefusedPerson};
use passerelle_requester::ranking::format_score;
use passerelle_requester::CaseState;

/// A case's state in words.
pub fn state_label(state: CaseState) -> &'static str {
    match state {
        CaseState::Prepared => "préparé (envoi en cours)",
        CaseState::Sent => "envoyé, réponse attendue",
        CaseState::Answered => "répondu",
        CaseState::Refused => "refusé par l'observatoire",
        CaseState::Purged => "purgé (durée de conservation écoulée)",
    }
}

fn outcome_label(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Accepted => "offre acceptée",
        Outcome::Declined => "offre déclinée",
        Outcome::NoReply => "sans réponse",
    }
}

/// The path of a case's page.
pub fn case_href(case: &str) -> String {
    format!("/cases/{case}")
}

/// The last 8 characters of an id, after `…` (the page links to the whole): the ids are UUIDv7,
/// whose first characters are the time they were made, the same for a submission's cases.
fn short(id: &str) -> String {
    match id.len().checked_sub(8).and_then(|start| id.get(start..)) {
        // A word joiner: the ellipsis never wraps away from its tail.
        Some(tail) if id.len() > 8 => format!("…\u{2060}{tail}"),
        _ => id.to_owned(),
    }
}

/// The result's progress: chunks received out of expected.
fn progress(status: &CaseStatus) -> String {
    match status.result_chunks {
        Some(total) => format!("{}/{total} lots reçus", status.result_chunks_received),
        None if status.case.state == CaseState::Answered => "reçu".to_owned(),
        None => "aucun lot reçu".to_owned(),
    }
}

fn bodies_answered(case: &CaseSummary) -> String {
    let answered = case.bodies.iter().filter(|b| b.answered).count();
    format!("{answered}/{}", case.bodies.len())
}

/// The submissions and cases page (`/cases`): a table of cases, then their refusals.
pub fn cases_page(statuses: &[CaseStatus]) -> String {
    let rows: Vec<Vec<String>> = statuses
        .iter()
        .map(|s| {
            let c = &s.case;
            vec![
                link(&case_href(&c.case_id), &short(&c.case_id)),
                text(&short(&s.submission.to_string())),
                when(&s.submitted_at),
                text(&c.observatory),
                text(state_label(c.state)),
                c.persons.to_string(),
                text(&bodies_answered(c)),
                text(&progress(s)),
                refusals_count(c),
                when(&s.purge_after),
            ]
        })
        .collect();
    let mut out = String::from(r#"<p><a href="/submit">Déposer un nouvel envoi</a></p>"#);
    out.push_str(&table(
        "Dossiers de l'office, du plus ancien au plus récent",
        &[
            "Dossier",
            "Envoi",
            "Déposé le",
            "Observatoire",
            "État",
            "#Personnes",
            "Organismes ayant répondu",
            "Résultat",
            "Refus",
            "Purgé après le",
        ],
        &rows,
        "Aucun envoi pour l'instant.",
    ));
    let refused: Vec<Vec<String>> = statuses.iter().flat_map(|s| refusal_rows(&s.case, true)).collect();
    if !refused.is_empty() {
        out.push_str("<h2>Refus de l'observatoire</h2>");
        out.push_str(&table("Refus, avec leurs motifs", &["Dossier", "Qui", "Champ", "Motif"], &refused, ""));
    }
    out
}

fn refusals_count(case: &CaseSummary) -> String {
    if !case.case_refused.is_empty() {
        "dossier entier".to_owned()
    } else if case.refused_persons.is_empty() {
        "aucun".to_owned()
    } else {
        format!("{} personne(s)", case.refused_persons.len())
    }
}

/// A case's refusals: the whole case's reasons, then each person's (by selection line).
fn refusal_rows(case: &CaseSummary, with_case: bool) -> Vec<Vec<String>> {
    let first = |row: Vec<String>| {
        if with_case {
            let mut r = vec![link(&case_href(&case.case_id), &short(&case.case_id))];
            r.extend(row);
            r
        } else {
            row
        }
    };
    let mut rows: Vec<Vec<String>> = case
        .case_refused
        .iter()
        .map(|p| first(vec![text("le dossier entier"), text(&p.field), text(&p.reason)]))
        .collect();
    for RefusedPerson { line, problems } in &case.refused_persons {
        for p in problems {
            rows.push(first(vec![text(&format!("ligne {line} de la sélection")), text(&p.field), text(&p.reason)]));
        }
    }
    rows
}

/// A case's page (`/cases/{case}`): its progress, its bodies, its refusals, the result files and
/// a page of its contact list (`more`: the link to the next page, if any). A result file is a
/// form's `POST` (`csrf_field`: the session's token), not a link.
pub fn case_page(status: &CaseStatus, contacts: &ContactsAnswer, more: Option<String>, csrf_field: &str) -> String {
    let c = &status.case;
    let mut out = facts(&[
        ("Dossier", text(&c.case_id)),
        ("Envoi", text(&status.submission.to_string())),
        ("Observatoire", text(&c.observatory)),
        ("État", text(state_label(c.state))),
        ("Personnes envoyées", c.persons.to_string()),
        ("Complétude", text(c.completeness.as_deref().unwrap_or("—"))),
        ("Résultat", text(&progress(status))),
        ("Accusé de réception", text(if status.receipt_sent { "envoyé" } else { "pas encore" })),
        ("Déposé le", when(&status.submitted_at)),
        ("Purgé après le", when(&status.purge_after)),
    ]);
    out.push_str("<h2>Organismes interrogés</h2>");
    let bodies: Vec<Vec<String>> = c
        .bodies
        .iter()
        .map(|b| {
            let declined: Vec<String> =
                b.declined.iter().map(|d| format!("{} : {} {}", d.category, d.reason, d.detail)).collect();
            vec![
                text(&b.body),
                text(&b.asked.join(", ")),
                text(&match (b.answered, b.missing) {
                    (false, _) => "non".to_owned(),
                    (true, 0) => "oui".to_owned(),
                    (true, n) => format!("réponse incomplète de l'organisme ({n} personne(s) omise(s))"),
                }),
                text(if declined.is_empty() { "—".to_owned() } else { declined.join(" ; ") }.trim()),
            ]
        })
        .collect();
    out.push_str(&table(
        "",
        &["Organisme", "Catégories demandées", "A répondu", "Catégories déclinées (motif)"],
        &bodies,
        "Aucun organisme interrogé.",
    ));
    out.push_str("<h2>Refus de l'observatoire</h2>");
    out.push_str(&table("", &["Qui", "Champ", "Motif"], &refusal_rows(c, false), "Aucun refus."));
    out.push_str("<h2>Fichiers de résultat</h2>");
    if matches!(c.state, CaseState::Answered | CaseState::Refused) {
        let files = [
            ("csv", "Liste de contacts (CSV)"),
            ("jsonl", "Liste de contacts (JSON Lines)"),
            ("summary", "Résumé (JSON)"),
        ];
        out.push_str("<ul>");
        for (file, label) in files {
            out.push_str(&format!(
                r#"<li><form class="inline" method="post" action="{}">{csrf_field}<button type="submit">{}</button></form></li>"#,
                text(&format!("{}/files/{file}", case_href(&c.case_id))),
                text(label)
            ));
        }
        out.push_str("</ul>");
    } else {
        out.push_str(r#"<p class="muted">Les fichiers seront disponibles une fois le dossier répondu.</p>"#);
    }
    out.push_str("<h2>Liste de contacts</h2>");
    out.push_str(&contacts_table(contacts));
    if let Some(href) = more {
        out.push_str(&format!("<p>{}</p>", link(&href, "Personnes suivantes")));
    }
    out
}

/// The contact list's table, in rank order.
pub fn contacts_table(contacts: &ContactsAnswer) -> String {
    if contacts.state != CaseState::Answered {
        return r#"<p class="muted">Pas de liste de contacts : le dossier n'est pas répondu.</p>"#.to_owned();
    }
    let rows: Vec<Vec<String>> = contacts.entries.iter().map(contact_row).collect();
    table(
        &format!("{} personne(s) classée(s), la plus exposée en premier", contacts.persons),
        &[
            "#Rang",
            "Nom",
            "Prénoms",
            "#Naissance",
            "Téléphone",
            "Courriel",
            "Adresse",
            "#Score",
            "#Ligne",
            "Suite donnée",
        ],
        &rows,
        "Personne dans la liste.",
    )
}

fn contact_row(e: &ContactEntry) -> Vec<String> {
    let name = match &e.usage_name {
        Some(usage) => format!("{} (nom d'usage : {usage})", e.family_name),
        None => e.family_name.clone(),
    };
    let or_dash = |v: &Option<String>| text(v.as_deref().unwrap_or("—"));
    vec![
        e.rank.to_string(),
        text(&name),
        text(&e.given_names),
        e.birth_year.to_string(),
        or_dash(&e.phone),
        or_dash(&e.email),
        or_dash(&e.postal_address),
        text(&format_score(e.score)),
        e.line.to_string(),
        match &e.outcome {
            Some(o) => text(&format!("{} le {}", outcome_label(o.outcome), o.date)),
            None => text("—"),
        },
    ]
}

/// The new submission's form (`/submit`): the CSRF field first (the handler refuses a file sent
/// before it), then the file, the categories by domain, the service and the options.
pub fn submit_form(csrf_field: &str) -> String {
    let mut categories = String::new();
    for domain in [
        Domain::FamilySituation,
        Domain::HealthInsurance,
        Domain::Retirement,
        Domain::FamilyBenefits,
        Domain::SocialAction,
        Domain::OtherRiskFactors,
    ] {
        categories.push_str(&format!("<fieldset><legend>Domaine {}</legend>", text(&domain.decree_number())));
        for info in catalogue::CATEGORIES.iter().filter(|i| i.domain == domain) {
            let id = format!("want-{}", info.code);
            categories.push_str(&format!(
                r#"<div><input type="checkbox" id="{id}" name="want" value="{code}"> <label for="{id}">{code} — {label} ({reference})</label></div>"#,
                id = text(&id),
                code = text(info.code),
                label = text(info.label),
                reference = text(info.decree_ref),
            ));
        }
        categories.push_str("</fieldset>");
    }
    let mut services = String::from(r#"<option value="">— choisir —</option>"#);
    for info in &offered_service::OFFERED_SERVICES {
        services.push_str(&format!(r#"<option value="{}">{}</option>"#, text(info.code), text(info.label)));
    }
    format!(
        r#"<form class="stack" method="post" action="/submit" enctype="multipart/form-data">{csrf_field}
<label for="selection">Fichier de sélection (CSV)</label><input type="file" id="selection" name="selection" accept=".csv,text/csv" required>
<label for="encoding">Encodage du fichier</label><select id="encoding" name="encoding"><option value="utf-8">UTF-8</option><option value="windows-1252">Windows-1252</option></select>
<fieldset><legend>Catégories demandées</legend>{categories}</fieldset>
<label for="service">Service proposé aux personnes</label><select id="service" name="service" required>{services}</select>
<label for="purpose">Le service en quelques mots (facultatif, sauf pour « Autre service »)</label><input type="text" id="purpose" name="purpose" maxlength="200">
<label for="respond_by">Délai de réponse (facultatif, par ex. 7d ou 36h)</label><input type="text" id="respond_by" name="respond_by">
<p>Les âges sont comptés au jour de l'envoi : une personne n'a 55 ans qu'à partir du dernier jour de son mois de naissance selon le NIR (décembre quand le NIR n'en donne pas).</p>
<div><input type="checkbox" id="strict" name="strict" value="true"> <label for="strict">Strict : ne rien envoyer si une ligne est refusée</label></div>
<button type="submit">Envoyer la sélection</button></form>"#
    )
}

/// What the API said of a submission.
pub fn submit_answer(answer: &SubmitAnswer) -> String {
    let mut out = String::new();
    match answer {
        SubmitAnswer::Submitted { report, selection, submission, cases } => {
            out.push_str(&notice(&format!(
                "Envoi {submission} enregistré et envoyé : {} dossier(s), {} personne(s) retenue(s) sur {} ligne(s), {} ligne(s) refusée(s).",
                cases.len(),
                selection.valid,
                selection.lines,
                selection.rejected
            )));
            let rows: Vec<Vec<String>> = cases
                .iter()
                .map(|c| {
                    let id = c.case.to_string();
                    vec![link(&case_href(&id), &id), text(&c.observatory), c.persons.to_string()]
                })
                .collect();
            out.push_str("<h2>Dossiers créés</h2>");
            out.push_str(&table("", &["Dossier", "Observatoire", "#Personnes"], &rows, "Aucun dossier."));
            out.push_str(&problems("Lignes refusées", report));
        }
        SubmitAnswer::NothingSent { report, reason } => {
            out.push_str(&notice(&format!("Rien n'a été envoyé : {reason}")));
            out.push_str(&problems("Lignes refusées", report));
        }
        SubmitAnswer::Unusable { report, problems: found, header, reason } => {
            let what = if *header { "l'en-tête du fichier ne convient pas" } else { "le fichier ne peut être lu" };
            out.push_str(&notice(&format!("Rien n'a été envoyé : {what} ({reason}).")));
            out.push_str(&problems("Problèmes du fichier", found));
            out.push_str(&problems("Lignes refusées avant l'arrêt", report));
        }
    }
    out.push_str(r#"<p><a href="/cases">Voir les envois et dossiers</a> · <a href="/submit">Nouvel envoi</a></p>"#);
    out
}

fn problems(title: &str, lines: &[ReportLine]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let rows: Vec<Vec<String>> = lines
        .iter()
        .map(|l| vec![l.line.to_string(), text(l.field.as_deref().unwrap_or("—")), text(&l.reason)])
        .collect();
    format!("<h2>{}</h2>{}", text(title), table("", &["#Ligne", "Champ", "Problème"], &rows, ""))
}

/// The service's state (`/status`), for the operator and the administrator: counts only.
pub fn status_page(o: &OverviewAnswer, admin: bool) -> String {
    let mut out = format!("<p>Office {} · conservation {} jours.</p>", text(&o.office), o.retention_days);
    out.push_str("<h2>Dossiers par état</h2><ul class=\"cards\">");
    for count in &o.cases {
        out.push_str(&card(&count.cases.to_string(), state_label(count.state)));
    }
    out.push_str("</ul><h2>En attente</h2><ul class=\"cards\">");
    out.push_str(&card(&o.submissions.to_string(), "envois conservés"));
    let oldest = o.oldest_waiting_seconds.map_or("—".to_owned(), |s| duration(s.min(i64::MAX as u64) as i64));
    out.push_str(&card(&oldest, "attente du plus ancien dossier sans réponse"));
    out.push_str(&card(&o.unsent.to_string(), "dossiers pas encore entièrement envoyés"));
    out.push_str(&card(&o.results_to_write.to_string(), "envois dont le résultat reste à écrire"));
    out.push_str(&card(&o.receipts_pending.to_string(), "accusés de réception non confirmés"));
    out.push_str("</ul>");
    let next = o.next_purge_due.as_deref().map_or("aucune (rien n'est conservé)".to_owned(), when);
    out.push_str(&facts(&[("Prochaine purge due le", next)]));
    if admin {
        out.push_str(r#"<p><a href="/purge">Purger ce qui est échu</a></p>"#);
    }
    out
}

/// The purge's confirmation form (`/purge`).
pub fn purge_form(csrf_field: &str, o: &OverviewAnswer) -> String {
    let next = o.next_purge_due.as_deref().map_or("aucune".to_owned(), when);
    format!(
        r#"<p>La purge efface les envois dont la durée de conservation ({} jours) est écoulée : leurs personnes, résultats, refus et fichiers de résultat. Le service la fait de lui-même ; la demander ici la fait tout de suite.</p>{}<form class="stack" method="post" action="/purge">{csrf_field}<button type="submit">Purger maintenant</button></form>"#,
        o.retention_days,
        facts(&[("Envois conservés", o.submissions.to_string()), ("Prochaine purge due le", next)]),
    )
}

/// What a purge removed.
pub fn purge_answer(p: &PurgeAnswer) -> String {
    let rows: Vec<Vec<String>> = p
        .submissions
        .iter()
        .map(|s| {
            vec![
                text(&s.submission.to_string()),
                s.cases.to_string(),
                s.persons.to_string(),
                s.result_files.to_string(),
            ]
        })
        .collect();
    let mut out = notice(&format!(
        "Purge faite : {} envoi(s) effacé(s), échéance au {} ({} jours de conservation).",
        p.submissions.len(),
        when(&p.cut_off),
        p.retention_days
    ));
    out.push_str(&table(
        "Envois purgés",
        &["Envoi", "#Dossiers", "#Personnes", "#Fichiers"],
        &rows,
        "Rien n'était échu.",
    ));
    out.push_str(r#"<p><a href="/status">État du service</a></p>"#);
    out
}
