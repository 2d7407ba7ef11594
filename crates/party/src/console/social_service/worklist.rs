//! `/worklist` (a `social-worker` of the office): the office's contact list as the requester
//! ranks it (`GET /v1/worklist`, read there for the worker), and a form per person to record
//! the offer's outcome (`POST /v1/worklist/outcome`); `accepted` opens the file, shown next.

use axum::extract::Query;
use axum::response::Redirect;
use passerelle_console::html::{link, table, text};
use passerelle_console::{CsrfForm, Page, PageError, Session};
use passerelle_social_service::requester_client::{Outcome, OutcomeRequest, Worklist, WorklistEntry};
use passerelle_social_service::service::views::OutcomeView;
use serde::Deserialize;

use super::forms::{hidden, input, post, select, submit};
use super::{day, enc, given};

/// Every outcome, in the order the form offers them.
const OUTCOMES: [Outcome; 3] = [Outcome::Accepted, Outcome::Declined, Outcome::NoReply];

/// An outcome's code (the API's) and its French words.
pub(super) fn outcome_words(outcome: Outcome) -> (&'static str, &'static str) {
    match outcome {
        Outcome::Accepted => ("accepted", "accepte"),
        Outcome::Declined => ("declined", "décline"),
        Outcome::NoReply => ("no_reply", "sans réponse"),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct Params {
    after: Option<String>,
    /// `all`: the persons already contacted too.
    show: Option<String>,
}

pub(super) async fn page(session: Session, Query(params): Query<Params>) -> Result<Page, PageError> {
    let all = params.show.as_deref() == Some("all");
    let mut path = String::from("/v1/worklist?limit=100");
    if !all {
        path.push_str("&pending=true");
    }
    if let Some(after) = given(params.after) {
        path.push_str(&format!("&after={}", enc(&after)));
    }
    let list: Worklist = session.get(&path).await?;
    Ok(session.page("Liste de contacts", &render(&list, all, &session.csrf_field())))
}

/// The page's body: the filter links, the persons, a form each.
pub(super) fn render(list: &Worklist, all: bool, csrf: &str) -> String {
    let mut out = format!(
        r#"<p class="lead">Bureau {} — dans l'ordre de la liste : proposez le service, puis enregistrez la réponse. « Accepte » ouvre le dossier.</p>"#,
        text(&list.office)
    );
    out.push_str(&if all {
        format!("<p>{} · toutes les personnes</p>", link("/worklist", "Seulement les personnes à contacter"))
    } else {
        format!(
            "<p>Personnes à contacter · {}</p>",
            link("/worklist?show=all", "Montrer aussi les personnes déjà contactées")
        )
    });
    let rows: Vec<Vec<String>> = list.entries.iter().map(|e| row(e, csrf)).collect();
    out.push_str(&table(
        "Personnes de la liste de contacts",
        &["#Rang", "Personne", "Coordonnées", "Réponse"],
        &rows,
        "Aucune personne à contacter.",
    ));
    if let Some(next) = &list.next {
        let show = if all { "&show=all" } else { "" };
        out.push_str(&format!("<p>{}</p>", link(&format!("/worklist?after={}{show}", enc(next)), "Page suivante")));
    }
    out
}

fn row(e: &WorklistEntry, csrf: &str) -> Vec<String> {
    let mut person = text(&e.family_name);
    if let Some(usage) = &e.usage_name {
        person.push_str(&format!(" ({})", text(usage)));
    }
    person.push_str(&format!(" {}", text(&e.given_names)));
    if let Some(year) = e.birth_year {
        person.push_str(&format!(r#"<br><span class="muted">née ou né en {year}</span>"#));
    }
    let contacts: Vec<String> =
        [&e.phone, &e.email, &e.postal_address].into_iter().flatten().map(|c| text(c).replace('\n', "<br>")).collect();
    let answer = if e.opposed {
        r#"<strong class="warn">Opposition retenue (art. 38) : ne rien proposer.</strong>"#.to_owned()
    } else if let Some(recorded) = &e.outcome {
        format!("{} le {} ({})", text(outcome_words(recorded.outcome).1), day(&recorded.date), text(&recorded.agent))
    } else {
        outcome_form(e, csrf)
    };
    vec![e.rank.to_string(), person, contacts.join("<br>"), answer]
}

fn outcome_form(e: &WorklistEntry, csrf: &str) -> String {
    let id = format!("{}-{}", e.case, e.line);
    let options: Vec<(String, String)> =
        OUTCOMES.iter().map(|o| outcome_words(*o)).map(|(c, w)| (c.to_owned(), w.to_owned())).collect();
    let inner = format!(
        "{}{}{}{}{}",
        hidden("case", &e.case.to_string()),
        hidden("line", &e.line.to_string()),
        // No answer chosen in advance: a person is recorded as accepting only by a choice.
        select(&format!("outcome-{id}"), "outcome", "Réponse", &options, None, Some("— choisir —")).replacen(
            "<select ",
            "<select required ",
            1
        ),
        input("date", &format!("date-{id}"), "date", "Le (aujourd'hui si vide)", "", false),
        submit("Enregistrer", false),
    );
    post("/worklist/outcome", "filters", csrf, &inner)
}

/// The outcome form's fields.
#[derive(Debug, Deserialize)]
pub(super) struct OutcomeForm {
    case: String,
    line: u64,
    outcome: Outcome,
    date: Option<String>,
}

pub(super) async fn outcome(session: Session, CsrfForm(form): CsrfForm<OutcomeForm>) -> Result<Redirect, PageError> {
    let case = form.case.parse().map_err(|_| PageError::bad_request("Le cas de la liste n'est pas un identifiant."))?;
    let request = OutcomeRequest { case, line: form.line, outcome: form.outcome, date: given(form.date) };
    let recorded: OutcomeView = session.post("/v1/worklist/outcome", &request).await?;
    Ok(match recorded.file {
        Some(file) => Redirect::to(&format!("/files/{}", enc(&file))),
        None => Redirect::to("/worklist"),
    })
}
