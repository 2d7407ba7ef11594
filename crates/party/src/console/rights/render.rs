//! The rights pages' HTML, pure functions of the API's answers (every value escaped), and the
//! opening form read into the API's [`OpenBody`].

use passerelle_console::html::{card, facts, link, notice, table, text, when};
use passerelle_protocol::{catalogue, value};
use passerelle_rights::printable::{category_label, fr_date, party_name};
use passerelle_rights::{ConsolidatedAnswer, HoldingKind, PartyAnswer, RequestState, RequestSummary, RightsKind};
use serde::Deserialize;

use crate::api::rights::{AskedRight, Correction, OpenBody};

/// The opening form as sent (every field text; `csrf` is checked before).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OpenForm {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub nir: String,
    /// One former NIR a line.
    #[serde(default)]
    pub former_nirs: String,
    /// A rectification's `category,value` lines.
    #[serde(default)]
    pub changes: String,
    #[serde(default)]
    pub identity_checked_by: String,
}

impl OpenForm {
    /// The API's body, or what is wrong, in French (never repeating a NIR; the API checks the
    /// NIRs themselves).
    pub fn body(&self) -> Result<OpenBody, String> {
        let kind = match self.kind.as_str() {
            "access" => AskedRight::Access,
            "rectification" => AskedRight::Rectification,
            "opposition" => AskedRight::Opposition,
            _ => return Err("Choisissez le droit exercé : accès, rectification ou opposition.".to_owned()),
        };
        let former_nirs: Vec<String> = self
            .former_nirs
            .split(['\n', ',', ';'])
            .map(|n| n.trim().replace(' ', ""))
            .filter(|n| !n.is_empty())
            .collect();
        let corrected = changes(&self.changes)?;
        match kind {
            AskedRight::Rectification if corrected.is_empty() => {
                return Err(
                    "Une rectification demande au moins une valeur corrigée (une ligne `catégorie,valeur`).".to_owned()
                )
            }
            AskedRight::Access if !corrected.is_empty() => {
                return Err("Une demande d'accès ne corrige rien : videz les valeurs corrigées, ou choisissez \
                            la rectification."
                    .to_owned())
            }
            _ => {}
        }
        let checked_by = self.identity_checked_by.trim();
        if kind != AskedRight::Opposition && checked_by.is_empty() {
            return Err("Indiquez l'identifiant de l'agent qui a vérifié l'identité de la personne \
                        (pièce d'identité, courrier signé) : aucune demande ne part sans."
                .to_owned());
        }
        Ok(OpenBody {
            kind,
            nir: self.nir.trim().replace(' ', ""),
            former_nirs,
            corrected: if kind == AskedRight::Opposition { Vec::new() } else { corrected },
            identity_checked_by: checked_by.to_owned(),
        })
    }
}

/// The `category,value` lines of a rectification (a header line `category,value` and blank
/// lines skipped), each checked; every problem named by its line.
pub fn changes(lines: &str) -> Result<Vec<Correction>, String> {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for (i, line) in lines.lines().enumerate() {
        let n = i + 1;
        let line = line.trim();
        if line.is_empty() || line.replace(' ', "") == "category,value" {
            continue;
        }
        let Some((category, value)) = line.split_once(',') else {
            problems.push(format!("ligne {n} : écrivez `catégorie,valeur`"));
            continue;
        };
        let (category, value) = (category.trim(), value.trim());
        let Some(info) = catalogue::by_code(category) else {
            problems.push(format!(
                "ligne {n} : catégorie inconnue {} (les codes du décret, art. 2, 2° à 7°)",
                passerelle_protocol::untrusted::Shown::id(category)
            ));
            continue;
        };
        match value::parse(info.value_type, value) {
            Ok(Some(_)) => out.push(Correction { category: info.code.to_owned(), value: value.to_owned() }),
            Ok(None) => problems.push(format!("ligne {n} ({}) : la valeur est vide", info.code)),
            // The parser quotes the value: not when it holds what looks like a NIR.
            Err(e) if passerelle_protocol::untrusted::has_nir_run(&e.to_string()) => {
                problems.push(format!("ligne {n} ({}) : la valeur n'est pas une valeur de cette catégorie", info.code))
            }
            Err(e) => problems.push(format!("ligne {n} ({}) : {e}", info.code)),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(format!("Valeurs corrigées : {}.", problems.join(" ; ")))
    }
}

pub fn kind_label(kind: RightsKind) -> &'static str {
    match kind {
        RightsKind::Access => "Accès",
        RightsKind::Rectification => "Rectification",
    }
}

pub fn state_label(state: RequestState) -> &'static str {
    match state {
        RequestState::Asking => "En cours : organismes interrogés",
        RequestState::Answered => "Réponse prête",
        RequestState::Purged => "Purgée",
    }
}

fn holding_label(kind: HoldingKind) -> &'static str {
    match kind {
        HoldingKind::Selection => "Inscription sur une liste de personnes à contacter",
        HoldingKind::ReceivedValues => "Informations reçues d'autres organismes",
        HoldingKind::OfferOutcome => "Suite donnée à l'offre de prévention",
        HoldingKind::CaseInFlight => "Demande d'informations en cours",
        HoldingKind::Statistics => "Ligne de statistiques pseudonymisée",
    }
}

/// `/rights`: the requests, without personal datum (`delivered`: the one just recorded so).
pub fn list_page(requests: &[RequestSummary], delivered: Option<&str>) -> String {
    let mut out = String::new();
    if let Some(id) = delivered {
        out.push_str(&notice(&format!(
            "La demande {id} est enregistrée remise : ses NIR, ses réponses et sa page sont effacés ; \
             le journal des accès garde qui l'a ouverte et quand."
        )));
    }
    out.push_str(&format!(
        r#"<p><a class="button" href="/rights/new">Ouvrir une demande</a></p><h2>Vue d'ensemble</h2><ul class="cards">{}{}{}</ul>"#,
        card(&count(requests, RequestState::Asking), "en cours (organismes interrogés)"),
        card(&count(requests, RequestState::Answered), "réponses prêtes à remettre"),
        card(&requests.iter().map(|r| u64::from(r.late_answers)).sum::<u64>().to_string(), "réponses arrivées en retard"),
    ));
    let rows: Vec<Vec<String>> = requests
        .iter()
        .map(|r| {
            let id = if r.state == RequestState::Purged {
                text(&r.request_id)
            } else {
                link(&format!("/rights/{}", r.request_id), &r.request_id)
            };
            let late = if r.late_answers > 0 {
                format!(r#"<span class="late">{} en retard : imprimez une nouvelle réponse</span>"#, r.late_answers)
            } else {
                "0".to_owned()
            };
            let closed = match (&r.delivered_at, &r.purged_at) {
                (Some(at), _) => format!("remise le {}", when(at)),
                (None, Some(at)) => format!("purgée le {} (délai écoulé)", when(at)),
                (None, None) => "—".to_owned(),
            };
            vec![
                id,
                text(kind_label(r.kind)),
                text(state_label(r.state)),
                format!("{} par {}", when(&r.opened_at), text(&r.opened_by)),
                when(&r.answer_by),
                format!("{} / {}", r.parties_answered, r.parties_asked),
                late,
                closed,
            ]
        })
        .collect();
    out.push_str("<h2>Les demandes</h2>");
    out.push_str(&table(
        "Demandes d'accès et de rectification, les plus récentes d'abord",
        &[
            "Demande",
            "Droit",
            "État",
            "Ouverte le",
            "Réponses dues le",
            "#Organismes ayant répondu",
            "#Réponses tardives",
            "Remise",
        ],
        &rows,
        "Aucune demande.",
    ));
    out
}

fn count(requests: &[RequestSummary], state: RequestState) -> String {
    requests.iter().filter(|r| r.state == state).count().to_string()
}

/// `/rights/new`: the opening form, filled with `form` (`problem`: why it came back).
pub fn open_form(csrf_field: &str, form: &OpenForm, problem: Option<&str>) -> String {
    let mut out = String::new();
    if let Some(problem) = problem {
        out.push_str(&format!(r#"<p class="notice error" role="alert">{}</p>"#, text(problem)));
    }
    out.push_str(
        "<p class=\"lead\">La personne exerce son droit auprès du directeur de la caisse de retraite compétente \
         (décret, art. 6). Vérifiez son identité hors de l'outil avant d'ouvrir la demande. Il n'y a pas de droit \
         d'opposition : une opposition reçoit aussitôt la réponse de l'article 6, et rien n'est conservé.</p>",
    );
    let option = |value: &str, label: &str| {
        let selected = if form.kind == value { " selected" } else { "" };
        format!(r#"<option value="{value}"{selected}>{label}</option>"#)
    };
    out.push_str(&format!(
        r#"<form class="stack" method="post" action="/rights/new">{csrf_field}
<label for="kind">Droit exercé</label><select id="kind" name="kind" required>{}{}{}{}</select>
<label for="nir">NIR de la personne <span class="hint">15 caractères, clé comprise</span></label><input id="nir" name="nir" autocomplete="off" spellcheck="false" maxlength="21" value="{}">
<label for="former_nirs">Anciens NIR <span class="hint">facultatif : un numéro provisoire ou corrigé par ligne</span></label><textarea id="former_nirs" name="former_nirs" autocomplete="off" spellcheck="false">{}</textarea>
<label for="changes">Valeurs corrigées (rectification seulement) <span class="hint">une ligne <code>catégorie,valeur</code> par valeur, par exemple <code>family_situation,married</code></span></label><textarea id="changes" name="changes" spellcheck="false">{}</textarea>
<label for="identity_checked_by">Identité vérifiée par <span class="hint">l'identifiant de l'agent qui a vérifié l'identité de la personne</span></label><input id="identity_checked_by" name="identity_checked_by" autocomplete="off" value="{}">
<button type="submit">Ouvrir la demande</button></form>"#,
        option("", "— choisir —"),
        option("access", "Accès"),
        option("rectification", "Rectification"),
        option("opposition", "Opposition (refusée : décret, art. 6)"),
        text(&form.nir),
        text(&form.former_nirs),
        text(&form.changes),
        text(&form.identity_checked_by),
    ));
    out
}

/// An opposition's answer: refused at once, with art. 6's words.
pub fn opposition_page(record_id: &str, refused: &str) -> String {
    format!(
        r#"<p class="notice" role="status">L'opposition est refusée : le décret l'écarte. Donnez à la personne la réponse ci-dessous.</p><h2>Réponse à donner à la personne</h2><blockquote><p>{}</p></blockquote><p class="muted">Rien n'est conservé de cette demande ; le refus est inscrit au journal des accès sous <code>rights-opposition-{}</code>.</p><p>{}</p>"#,
        text(refused),
        text(record_id),
        link("/rights", "Retour aux demandes"),
    )
}

/// `/rights/{id}`: the consolidated answer, and what to do next.
pub fn answer_page(a: &ConsolidatedAnswer, csrf_field: &str) -> String {
    let mut person = text(&a.nir);
    if !a.former_nirs.is_empty() {
        let former: Vec<String> = a.former_nirs.iter().map(|n| text(n)).collect();
        person.push_str(&format!(" (anciens numéros : {})", former.join(", ")));
    }
    let mut out = facts(&[
        ("Droit", text(kind_label(a.kind))),
        ("État", text(state_label(a.state))),
        ("Personne (NIR)", person),
        ("Ouverte le", format!("{} par {}", when(&a.opened_at), text(&a.opened_by))),
        ("Identité vérifiée par", text(&a.identity_checked_by)),
        ("Réponses dues le", when(&a.answer_by)),
    ]);
    if !a.corrected.is_empty() {
        let rows: Vec<Vec<String>> = a
            .corrected
            .iter()
            .map(|v| {
                vec![
                    format!(
                        "{} <span class=\"muted\">({})</span>",
                        text(category_label(&v.category)),
                        text(&v.category)
                    ),
                    text(&v.value),
                ]
            })
            .collect();
        out.push_str("<h2>Valeurs corrigées demandées</h2>");
        out.push_str(&table("", &["Information", "Valeur corrigée"], &rows, ""));
    }
    out.push_str("<h2>Organismes interrogés</h2>");
    let rows: Vec<Vec<String>> = a.parties.iter().map(|p| party_row(p, a.state)).collect();
    out.push_str(&table(
        "Chaque organisme interrogé et sa réponse",
        &["Organisme", "Interrogé le", "Réponse", "Détient"],
        &rows,
        "Aucun organisme interrogé pour l'instant.",
    ));
    if a.state != RequestState::Asking && a.nothing_held() && a.unanswered().next().is_none() {
        out.push_str(&notice("Aucun organisme de l'échange ne détient d'information sur cette personne."));
    }
    for p in a.parties.iter().filter(|p| !p.holdings.is_empty() || !p.rectified.is_empty()) {
        out.push_str(&holdings(p));
    }
    out.push_str(&next_steps(a, csrf_field));
    out
}

fn party_row(p: &PartyAnswer, state: RequestState) -> Vec<String> {
    let answered = match (&p.answered_at, p.late) {
        (Some(at), true) => format!(r#"<span class="late">reçue en retard, le {}</span>"#, when(at)),
        (Some(at), false) => format!(r#"<span class="ok">reçue le {}</span>"#, when(at)),
        (None, _) if state == RequestState::Asking => r#"<span class="muted">attendue</span>"#.to_owned(),
        (None, _) => r#"<span class="late">pas de réponse dans le délai (la lettre le dit)</span>"#.to_owned(),
    };
    let held = match (&p.answered_at, p.holdings.len()) {
        (None, _) => "—".to_owned(),
        (Some(_), 0) => "rien".to_owned(),
        (Some(_), n) => format!("{n} élément(s)"),
    };
    let role = if p.role == "observatory" { "observatoire" } else { "organisme demandeur" };
    vec![
        format!("{} <span class=\"muted\">({}, {})</span>", text(&party_name(&p.party)), text(&p.party), role),
        when(&p.asked_at),
        answered,
        held,
    ]
}

fn holdings(p: &PartyAnswer) -> String {
    let mut out = format!("<h3>{}</h3>", text(&party_name(&p.party)));
    let rows: Vec<Vec<String>> = p
        .holdings
        .iter()
        .map(|h| {
            let mut what = text(holding_label(h.kind));
            if let Some(outcome) = &h.outcome {
                let said = match outcome.as_str() {
                    "accepted" => "acceptée",
                    "declined" => "refusée",
                    "no_reply" => "sans réponse",
                    other => other,
                };
                let day = h.outcome_date.as_deref().map(|d| format!(" le {}", text(&fr_date(d)))).unwrap_or_default();
                what.push_str(&format!(" : offre {}{day}", text(said)));
            }
            let values: String = h
                .values
                .iter()
                .map(|v| {
                    format!(
                        "<li>{} : {} <span class=\"muted\">(transmis par {})</span></li>",
                        text(category_label(&v.category)),
                        text(&v.value),
                        text(&v.source)
                    )
                })
                .collect();
            let values = if values.is_empty() { "—".to_owned() } else { format!("<ul>{values}</ul>") };
            let day = |d: &Option<String>| d.as_deref().map(|d| text(&fr_date(d))).unwrap_or_else(|| "—".to_owned());
            vec![what, text(&h.case_id), text(&h.requester), day(&h.since), day(&h.until), values]
        })
        .collect();
    out.push_str(&table(
        "Ce que l'organisme détient",
        &["Nature", "Cas", "Pour", "Depuis", "Jusqu'au", "Valeurs"],
        &rows,
        "Rien de détenu.",
    ));
    if !p.rectified.is_empty() {
        out.push_str("<p>Valeurs rectifiées :</p><ul>");
        for r in &p.rectified {
            out.push_str(&format!(
                "<li>{} dans le cas {} ({})</li>",
                text(category_label(&r.category)),
                text(&r.case_id),
                text(holding_label(r.kind))
            ));
        }
        out.push_str("</ul>");
    }
    out
}

fn next_steps(a: &ConsolidatedAnswer, csrf_field: &str) -> String {
    let id = text(&a.request_id);
    let mut out = String::from("<h2>Remettre la réponse</h2>");
    out.push_str(&format!(
        r#"<p><a class="button" href="/rights/{id}/print">Ouvrir la lettre à imprimer</a> <span class="muted">(son ouverture est inscrite au journal des accès ; imprimez-la ou enregistrez-la en PDF, format A4)</span></p>"#
    ));
    let anyway = if a.state == RequestState::Asking {
        r#"<label for="anyway"><input type="checkbox" id="anyway" name="anyway" value="true"> Des organismes n'ont pas encore répondu : la marquer remise quand même (leurs réponses seront ignorées)</label>"#
    } else {
        ""
    };
    out.push_str(&format!(
        r#"<form class="stack" method="post" action="/rights/{id}/delivered">{csrf_field}<p>Une fois la lettre remise ou envoyée à la personne, enregistrez-la remise : les NIR, les réponses et la lettre de cette demande sont alors effacés.</p>{anyway}<button type="submit">Marquer la réponse remise</button></form>"#
    ));
    out
}
