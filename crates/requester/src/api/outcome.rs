//! `POST /v1/worklist/outcome`: what a person of a contact list answered to the social
//! service's offer (decree art. 3, last step), recorded at the requester under the decree's cap
//! (purged with the case). Recording again replaces a `declined` or `no_reply`: the latest wins
//! (the access log keeps each recording). `accepted` is final here: the person's file then
//! exists at the social service, so any other outcome for them is a 409 `conflict` saying when
//! they accepted and that a change goes through the social service (the person's rights
//! there); `accepted` again keeps the first acceptance (the answer's date and agent are its)
//! and gives the record again, the social service finding the file it already holds. For
//! `accepted`, the answer carries the person's record — identity, contacts and the consolidated
//! values of the result files — which leaves for the social service: the one place a
//! social-service case file starts from.
//!
//! Recorded before the answer, the actor the social worker via the service account: an
//! `update` of the case about the person (their keyed hash), and for `accepted` a `transfer`
//! of the case about the person too. An unknown case or line is a 404 that repeats nothing of
//! anyone; a date in the future or before the case's result a 400; the 404, 400 and 409 write
//! nothing.

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::Json;
use passerelle_local_api::{ApiError, Caller};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::blocking;
use super::worklist::{relayed_caller, Outcome};
use crate::service::{NewOutcome, Requester};

/// The body of the call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeQuery {
    pub case: Uuid,
    /// The person's selection line (a worklist entry's `line`).
    pub line: u64,
    pub outcome: Outcome,
    /// The day the person answered (or the offer lapsed), `YYYY-MM-DD`: not in the future, not
    /// before the case's result.
    pub date: String,
}

/// The outcome recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomeAnswer {
    /// [`super::worklist::OFFER_OUTCOME_FORMAT`].
    pub format: String,
    /// The requester's office that recorded the outcome (its contact list's).
    pub office: String,
    pub case: Uuid,
    pub line: u64,
    pub outcome: Outcome,
    pub date: String,
    /// The social worker who recorded it, as relayed (for `accepted` again, the one who
    /// recorded the acceptance).
    pub agent: String,
    /// The person's record, for `accepted` only.
    pub person: Option<OutcomePerson>,
}

/// A person who accepted the offer, as the social service opens their file.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomePerson {
    pub nir: String,
    pub former_nirs: Vec<String>,
    pub family_name: String,
    pub usage_name: Option<String>,
    pub given_names: String,
    /// `female`, `male`, or `None` when unspecified.
    pub sex: Option<String>,
    pub birth_year: u32,
    pub commune_code: String,
    pub postal_address: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// The consolidated values of the result files, by decree category code, each as
    /// `passerelle_protocol::value::format` writes it; categories nobody knew left out.
    pub values: std::collections::BTreeMap<String, String>,
}

impl std::fmt::Debug for OutcomePerson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutcomePerson").field("values", &self.values.len()).finish_non_exhaustive()
    }
}

pub(super) async fn record(
    State(requester): State<Requester>,
    caller: Caller,
    body: Result<Json<OutcomeQuery>, JsonRejection>,
) -> Result<Json<OutcomeAnswer>, ApiError> {
    let (worker, actor) = relayed_caller(&caller, &requester)?;
    // The rejection's text may quote the body: not repeated.
    let Json(query) = body.map_err(|_| {
        ApiError::bad_request(
            "the body must be a JSON object {\"case\": \"<uuid>\", \"line\": 12, \
             \"outcome\": \"accepted|declined|no_reply\", \"date\": \"YYYY-MM-DD\"}",
        )
    })?;
    let date = chrono::NaiveDate::parse_from_str(&query.date, "%Y-%m-%d")
        .map_err(|_| ApiError::bad_request("date: give the day as YYYY-MM-DD"))?;
    let new = NewOutcome { case: query.case, line: query.line, outcome: query.outcome, date };
    let recording = requester.clone();
    let agent = worker.clone();
    let (stands, person) = blocking(move || recording.record_outcome_as_it_stands(&actor, &agent, &new)).await?;
    tracing::info!(
        agent = %caller.agent().id,
        worker = %worker,
        case = %query.case,
        outcome = query.outcome.as_str(),
        "offer outcome recorded"
    );
    Ok(Json(OutcomeAnswer {
        format: super::worklist::OFFER_OUTCOME_FORMAT.to_owned(),
        office: requester.settings().office.clone(),
        case: query.case,
        line: query.line,
        outcome: stands.outcome,
        date: stands.date.format("%Y-%m-%d").to_string(),
        agent: stands.agent,
        person,
    }))
}
