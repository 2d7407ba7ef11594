//! The observatory pages' HTML, from what the local API answered: pure functions, every value
//! escaped, tested on synthetic data (`tests.rs`). Ids, codes, counts and times only — the
//! answers these pages read hold no personal datum, and sender-written text (a dead-letter's
//! reason, an audit entry's detail) has any NIR-like run masked as a second guard.

use passerelle_console::html::{card, duration, facts, link, notice, table, text, when};
use passerelle_observatory::operator_status::{InFlight, NextPurge, PurgeDone, Purges, ReadParts, ReasonCount};
use passerelle_observatory_store::AuditRecord;
use passerelle_protocol::untrusted::{Shown, REASON_CHARS};
use passerelle_trails::TrailReport;

/// `text` of sender-written text as the operators' tools show it ([`Shown::text`]): bounded,
/// control characters escaped, every NIR-shaped run of digits masked — a second guard, the
/// trail refusing a NIR already.
pub fn guarded(value: &str) -> String {
    text(&Shown::text(value).at_most(REASON_CHARS).to_string())
}

/// A case state as French says it (plain text: escape it).
pub fn state_label(state: &str) -> String {
    match state {
        "receiving" => "réception de la demande".into(),
        "soliciting" => "sollicitations en envoi".into(),
        "collecting" => "collecte des réponses".into(),
        "returning" => "résultat en envoi".into(),
        "returned" => "résultat envoyé, accusé attendu".into(),
        "purged" => "purgé".into(),
        "refused" => "refusé".into(),
        other => other.to_owned(),
    }
}

/// Why a purge is (or was) done.
pub fn purge_reason(reason: &str) -> String {
    match reason {
        "receipt" => "accusé de réception du demandeur".into(),
        "retention cap" => "plafond de conservation (30 jours)".into(),
        "case refused" => "dossier refusé".into(),
        other => guarded(other),
    }
}

/// An audit action as French says it.
pub fn action_label(action: &str) -> String {
    let said = match action {
        "request_received" => "Demande reçue",
        "refusal" => "Refus renvoyé au demandeur",
        "solicitation_sent" => "Sollicitation envoyée",
        "reminder" => "Relance",
        "response_received" => "Réponse reçue",
        "late_response" => "Réponse arrivée après l'échéance",
        "violation" => "Manquement au protocole relevé",
        "duplicate_response" => "Seconde réponse à une tranche écartée",
        "result_returned" => "Résultat renvoyé",
        "receipt" => "Accusé de réception",
        "purge" => "Purge",
        "dead_letter" => "Lettre morte",
        "expired" => "Message expiré avant envoi",
        "cli_read" => "Lecture (outil en ligne de commande)",
        "statistics_purge" => "Purge des statistiques",
        "audit_retention" => "Rétention du journal d'audit",
        "started" => "Démarrage du service",
        "notice_received" => "Avis d'un organisme reçu",
        "registry_changed" => "Registre des agents modifié",
        "access_refused" => "Accès refusé",
        "rights_answered" => "Demande d'exercice des droits traitée",
        "rights_late_answer" => "Réponse tardive à une demande de droits",
        other => return text(other),
    };
    said.to_owned()
}

/// A time ahead (`dans 3 j`) or past (`dépassée de 2 h`, marked late).
fn ahead(seconds: i64, past: &str) -> String {
    if seconds >= 0 {
        format!("dans {}", duration(seconds))
    } else {
        format!(r#"<span class="late">{} {}</span>"#, text(past), duration(-seconds))
    }
}

/// The case id, linked to its timeline when the agent may read it.
fn case_cell(case_id: &str, timeline: bool) -> String {
    if timeline {
        link(&format!("/cases/{case_id}"), case_id)
    } else {
        format!("<code>{}</code>", text(case_id))
    }
}

/// The next purge as facts.
fn next_purge(next: Option<&NextPurge>, timeline: bool) -> String {
    match next {
        None => r#"<p class="muted">Aucune purge à venir : aucun dossier ne détient de données.</p>"#.into(),
        Some(p) => facts(&[
            ("Dossier", case_cell(&p.case_id, timeline)),
            ("Échéance", format!("{} ({})", when(&p.due_at), ahead(p.in_seconds, "en retard de"))),
            ("Motif", purge_reason(&p.reason)),
        ]),
    }
}

/// `/cases`: the cases per state, the cases in flight, late bodies, the next purge.
pub fn cases(parts: &ReadParts, timeline: bool) -> String {
    let mut out = String::from(r#"<h2>Dossiers par état</h2><ul class="cards">"#);
    for (state, n) in &parts.cases_by_state {
        out.push_str(&card(&n.to_string(), &state_label(state)));
    }
    out.push_str("</ul><h2>Dossiers détenant des données</h2>");
    let rows: Vec<Vec<String>> = parts.in_flight.iter().map(|c| in_flight_row(c, parts, timeline)).collect();
    out.push_str(&table(
        "Dossiers en cours, du plus ancien au plus récent",
        &[
            "Dossier",
            "État",
            "Demandeur",
            "#Personnes",
            "Âge",
            "Organismes ayant répondu",
            "Organismes en retard",
            "Échéance",
            "Purge au plus tard",
        ],
        &rows,
        "Aucun dossier ne détient de données.",
    ));
    out.push_str("<h2>Organismes en retard</h2>");
    let late: Vec<Vec<String>> = parts
        .late_bodies
        .iter()
        .map(|b| {
            let status = match (b.overdue, b.reminded) {
                (true, _) => r#"<span class="late">échéance dépassée : résultat partiel</span>"#.to_owned(),
                (false, true) => "relancé".to_owned(),
                (false, false) => r#"<span class="warn">relance à envoyer</span>"#.to_owned(),
            };
            vec![
                text(&b.body),
                case_cell(&b.case_id, timeline),
                format!("{} / {}", b.pending_chunks, b.chunks),
                duration(b.late_seconds),
                status,
            ]
        })
        .collect();
    out.push_str(&table(
        "Organismes n'ayant pas répondu à mi-échéance",
        &["Organisme", "Dossier", "#Lots sans réponse", "Retard", "Situation"],
        &late,
        "Aucun organisme en retard.",
    ));
    out.push_str("<h2>Prochaine purge</h2>");
    out.push_str(&next_purge(parts.next_purge.as_ref(), timeline));
    out
}

fn in_flight_row(c: &InFlight, parts: &ReadParts, timeline: bool) -> Vec<String> {
    let late: Vec<_> = parts.late_bodies.iter().filter(|b| b.case_id == c.case_id).collect();
    let late_cell = if late.is_empty() {
        "0".to_owned()
    } else {
        let names: Vec<String> = late.iter().map(|b| text(&b.body)).collect();
        format!(r#"<span class="late">{} ({})</span>"#, late.len(), names.join(", "))
    };
    let requester =
        if c.office.is_empty() { text(&c.requester) } else { format!("{} / {}", text(&c.requester), text(&c.office)) };
    vec![
        case_cell(&c.case_id, timeline),
        text(&state_label(&c.state)),
        requester,
        c.persons.to_string(),
        duration(c.age_seconds),
        format!("{} / {}", c.bodies_answered, c.bodies_solicited),
        late_cell,
        ahead(c.deadline_in_seconds, "dépassée de"),
        ahead(c.cap_in_seconds, "dépassée de"),
    ]
}

/// `/cases/{case}`: a case's audit entries, oldest first.
pub fn timeline(case_id: &str, entries: &[AuditRecord]) -> String {
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                text(&e.name()),
                when(&passerelle_observatory::operator_status::rfc3339(e.at())),
                action_label(&e.action),
                guarded(&e.actor),
                detail(&e.detail),
            ]
        })
        .collect();
    format!(
        r#"<p class="lead">Dossier <code>{}</code> : ses entrées du journal d'audit (identifiants et nombres, aucune donnée personnelle).</p>{}"#,
        text(case_id),
        table(
            "Entrées du journal d'audit du dossier, de la plus ancienne à la plus récente",
            &["Entrée", "Quand", "Action", "Par", "Détail"],
            &rows,
            "Le journal d'audit n'a aucune entrée pour ce dossier.",
        )
    )
}

/// An entry's JSON detail as `key : value` pairs (sender-written parts guarded).
pub fn detail(json: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(json) {
        Ok(serde_json::Value::Object(map)) => {
            let pairs: Vec<String> = map
                .iter()
                .map(|(k, v)| {
                    let value = match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    format!("{} : {}", text(k), guarded(&value))
                })
                .collect();
            pairs.join("<br>")
        }
        _ => guarded(json),
    }
}

/// `/dead-letters`: by reason, each with who sent the messages.
pub fn dead_letters(total: u64, reasons: &[ReasonCount]) -> String {
    let rows: Vec<Vec<String>> = reasons
        .iter()
        .map(|r| {
            let senders = if r.senders.is_empty() {
                r#"<span class="muted">non enregistré</span>"#.to_owned()
            } else {
                let items: Vec<String> =
                    r.senders.iter().map(|s| format!("<li>{} ({})</li>", guarded(&s.sender), s.count)).collect();
                format!("<ul>{}</ul>", items.join(""))
            };
            vec![guarded(&r.reason), r.count.to_string(), senders]
        })
        .collect();
    format!(
        "{}{}",
        facts(&[("Lettres mortes au journal d'audit", total.to_string())]),
        table(
            "Messages refusés définitivement, par motif (identifiants remplacés par <id>) et par expéditeur",
            &["Motif", "#Nombre", "Expéditeurs (nombre)"],
            &rows,
            "Aucune lettre morte.",
        )
    )
}

/// `/purges`: the next purge due and the purges done.
pub fn purges(p: &Purges, timeline: bool) -> String {
    let rows: Vec<Vec<String>> = p.done.iter().map(|d| purge_row(d, timeline)).collect();
    format!(
        "<h2>Prochaine purge</h2>{}<h2>Purges effectuées</h2>{}",
        next_purge(p.next.as_ref(), timeline),
        table(
            "Purges effectuées, de la plus récente à la plus ancienne",
            &[
                "Dossier",
                "Quand",
                "Motif",
                "État avant",
                "#Personnes",
                "#Réponses",
                "#Messages non envoyés",
                "#Lignes statistiques",
            ],
            &rows,
            "Aucune purge au journal d'audit.",
        )
    )
}

fn purge_row(d: &PurgeDone, timeline: bool) -> Vec<String> {
    vec![
        d.case_id.as_deref().map_or_else(|| r#"<span class="muted">—</span>"#.to_owned(), |c| case_cell(c, timeline)),
        when(&d.at),
        purge_reason(&d.reason),
        d.state_before.as_deref().map_or_else(|| "—".to_owned(), |s| text(&state_label(s))),
        d.persons.to_string(),
        d.answers.to_string(),
        d.unsent_messages.to_string(),
        d.statistics_rows.map_or_else(|| "—".to_owned(), |n| n.to_string()),
    ]
}

/// `/queues`: what the console can say of the broker side without the management API.
pub fn queues(q: &passerelle_management::Queues, outbox_messages: u64) -> String {
    let mut out = facts(&[
        ("Messages en attente de publication (boîte d'envoi)", outbox_messages.to_string()),
        ("Hôte virtuel, préfixe", format!("{} · {}", text(&q.vhost), text(&q.prefix))),
    ]);
    if let Some(message) = &q.message {
        out.push_str(&notice(message));
    }
    if !q.available {
        return out;
    }
    let rows: Vec<Vec<String>> = q
        .queues
        .iter()
        .map(|queue| {
            vec![
                text(&queue.name),
                queue.ready.to_string(),
                queue.unacknowledged.to_string(),
                queue.consumers.to_string(),
            ]
        })
        .collect();
    out.push_str(&table(
        &format!("Files du préfixe {}, lues à l'API de gestion {}", q.prefix, q.management_url),
        &["File", "#Prêts", "#Non acquittés", "#Consommateurs"],
        &rows,
        "Aucune file de ce préfixe.",
    ));
    out.push_str("<h2>Consommateurs inattendus</h2>");
    let rows: Vec<Vec<String>> = q
        .unexpected_consumers
        .iter()
        .map(|u| vec![text(&u.queue), u.consumers.to_string(), text(&u.connections.join(", ")), text(&u.reason)])
        .collect();
    out.push_str(&table(
        "Consommateurs là où il ne devrait y en avoir aucun (un second observatoire du territoire…)",
        &["File", "#Consommateurs", "Connexions", "Pourquoi"],
        &rows,
        "Aucun consommateur inattendu.",
    ));
    out
}

/// `/audit`: the audit trail's `verify` report.
pub fn verification(r: &TrailReport) -> String {
    let mut out = if r.intact {
        r#"<p class="notice" role="status"><strong class="ok">Intègre</strong> : la chaîne tient et concorde avec chaque point de contrôle du témoin.</p>"#.to_owned()
    } else {
        r#"<p class="notice error" role="alert"><strong class="bad">Anomalie</strong> : voir les constats ci-dessous.</p>"#.to_owned()
    };
    let witness = match (&r.witness, r.witness_answered) {
        (Some(w), true) => format!(r#"{} <span class="ok">(a répondu)</span>"#, text(w)),
        (Some(w), false) => format!(r#"{} <span class="warn">(n'a pas répondu)</span>"#, text(w)),
        (None, _) => r#"<span class="warn">aucun témoin nommé</span>"#.to_owned(),
    };
    let mut items = vec![("Partie", text(&r.party)), ("Journal", text(&r.trail)), ("Témoin", witness)];
    if let Some(problem) = &r.witness_problem {
        items.push(("Problème du témoin", text(problem)));
    }
    if let Some(unreadable) = &r.unreadable {
        items.push(("Illisible", format!(r#"<span class="bad">{}</span>"#, text(unreadable))));
    }
    out.push_str(&facts(&items));
    let rows: Vec<Vec<String>> = r
        .years
        .iter()
        .map(|y| {
            let findings = if y.findings.is_empty() {
                r#"<span class="ok">aucun</span>"#.to_owned()
            } else {
                let items: Vec<String> = y.findings.iter().map(|f| format!("<li>{}</li>", text(f))).collect();
                format!(r#"<ul class="bad">{}</ul>"#, items.join(""))
            };
            vec![
                y.year.to_string(),
                y.entries.to_string(),
                format!("{} / {}", y.matched_checkpoints, y.witnessed_checkpoints),
                y.covered.to_string(),
                y.not_yet_covered.to_string(),
                if y.closed { "oui".to_owned() } else { "non".to_owned() },
                findings,
            ]
        })
        .collect();
    out.push_str(&table(
        "Chaque année civile du journal d'audit",
        &[
            "Année",
            "#Entrées",
            "Points de contrôle concordants / détenus par le témoin",
            "#Entrées couvertes",
            "#Pas encore couvertes",
            "Année close",
            "Constats",
        ],
        &rows,
        "Le journal d'audit n'a aucune année.",
    ));
    out
}

/// A form to open one case's timeline by its id; `csrf` the session's hidden field.
pub fn timeline_form(csrf: &str) -> String {
    format!(
        r#"<h2>Chronologie d'un dossier</h2><form class="filters" method="post" action="/timeline">{csrf}<div><label for="timeline-case">Identifiant du dossier</label><input id="timeline-case" name="case" required size="38" autocomplete="off"></div><button type="submit">Afficher</button></form>"#
    )
}
