//! `/status` (an `operator`): the service at a glance from `GET /v1/overview` — counts and
//! times only: files by state, what the last retention pass flagged, the transfers in flight,
//! the next round. Nothing of a person reaches this page: the answer holds none.

use passerelle_console::html::{card, duration, facts, table, text, when};
use passerelle_console::{Page, PageError, Session};
use passerelle_social_service::service::overview::Overview;

use super::transfers::refusal_fr;

pub(super) async fn page(session: Session) -> Result<Page, PageError> {
    let overview: Overview = session.get("/v1/overview").await?;
    Ok(session.page("État du service", &render(&overview)))
}

/// The page's body: counts and times, no person.
pub(super) fn render(o: &Overview) -> String {
    let t = &o.transfers;
    let mut out = format!(
        r#"<p class="lead">Service social {} — bureau {}.</p><h2>Dossiers</h2><ul class="cards">{}{}{}{}</ul>"#,
        text(&o.body),
        text(&o.office),
        card(&o.files_open.to_string(), "dossiers ouverts"),
        card(&o.files_closed.to_string(), "dossiers clos"),
        card(&o.flagged_idle.to_string(), "actions sans activité signalées"),
        card(&o.waiting_objection.to_string(), "dossiers en attente d'une décision sur une opposition"),
    );
    out.push_str("<h2>Passe de conservation</h2>");
    out.push_str(&facts(&[
        ("Dernière passe", o.last_pass_at.as_deref().map(when).unwrap_or_else(|| "aucune encore".to_owned())),
        (
            "Prochaine passe au plus tard",
            o.next_pass_by.as_deref().map(when).unwrap_or_else(|| "au démarrage".to_owned()),
        ),
        ("Période", text(&duration(o.pass_every_seconds as i64))),
    ]));
    out.push_str(&format!(
        r#"<h2>Transferts entre organismes</h2><ul class="cards">{}{}{}{}</ul>"#,
        card(&t.out_in_flight.to_string(), "envoyés, sans réponse"),
        card(&t.in_awaiting.to_string(), "reçus, en attente du bureau"),
        card(&t.accepted_out.to_string(), "envoyés et acceptés"),
        card(&t.accepted_in.to_string(), "reçus et importés"),
    ));
    if let Some(oldest) = &t.oldest_in_flight {
        out.push_str(&facts(&[("Plus ancien transfert en cours", when(oldest))]));
    }
    let refused: Vec<Vec<String>> =
        t.refused_by_reason.iter().map(|(code, n)| vec![text(refusal_fr(code)), n.to_string()]).collect();
    out.push_str(&table(
        "Refus des 30 derniers jours",
        &["Motif", "#Transferts"],
        &refused,
        "Aucun refus ces 30 derniers jours.",
    ));
    out
}
