//! The social service's worklist (decree art. 3, last step; DESIGN §7.2): the social-service
//! daemon, a service account of this requester's registry (`social-service` of its office),
//! reads the office's contact lists in rank order for the social worker it names
//! ([`passerelle_local_api::RELAYED_AGENT_HEADER`], required here), and records what each
//! person answered to the offer ([`outcome`](super::outcome)). Formats: docs/JSON.md.
//!
//! `GET /v1/worklist?after=CURSOR&limit=N[&pending=true]`: the office's answered cases, oldest
//! first, each case's persons in its contact list's rank order (the case's result files' rank),
//! `pending=true` leaving out the persons with an outcome. A page reads one case at most, as
//! `limit` rows of the case's contact-list order, computed once and kept in the store
//! ([`crate::store::WorklistRow`]): it may hold fewer than `limit` entries (none, even) and
//! still give a `next` cursor; the client follows `next` until it is `null`.
//!
//! A page gives names and contacts, so each person it lists is a `read` of their case about
//! the person (their keyed hash, [`passerelle_access_log::Accesses::person`]; never their NIR,
//! which the page does not carry either), the actor the social worker via the service account
//! ([`passerelle_access_log::relayed_actor`]) — an agent's reads per person (DESIGN §7.1). A
//! page's entries are written in one transaction before the answer: if they cannot be, the
//! call is a 500 and gives nothing.
//!
//! Each entry carries the person's NIR too (`nir`, added to format 1): only the social-service
//! daemon reads this route, and it needs the NIR to recognise a person whose objection under
//! art. 38 was upheld (its keyed hash under its own `file-person.key`) — it drops the NIR at
//! once and never passes it to the social worker. The read entries are the same with or
//! without it: the page is a read about each person it lists either way.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use passerelle_access_log::relayed_actor;
use passerelle_agents::Role;
use passerelle_local_api::{ApiError, Caller, RELAYED_AGENT_HEADER};
use passerelle_protocol::untrusted::is_identifier;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{blocking, record_accesses};
use crate::service::{Requester, WorklistCursor};
pub use crate::store::Outcome;

/// The `format` of a worklist page.
pub const WORKLIST_FORMAT: &str = "passerelle.requester-worklist/1";

/// The `format` of a recorded outcome.
pub const OFFER_OUTCOME_FORMAT: &str = "passerelle.requester-offer-outcome/1";

/// A page's entries when the call does not say.
pub const DEFAULT_WORKLIST_LIMIT: usize = 100;

/// The most entries a page holds: a page's names and contacts stay a screenful or a batch, and
/// its access entries few.
pub const MAX_WORKLIST_LIMIT: usize = 1000;

/// A page of the worklist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorklistAnswer {
    /// [`WORKLIST_FORMAT`].
    pub format: String,
    /// The requester's office whose contact lists these are.
    pub office: String,
    pub entries: Vec<WorklistEntry>,
    /// The cursor of the next page (`after=`), `None` at the end of the lists.
    pub next: Option<String>,
}

/// A person of a contact list, as the social worker calls them.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct WorklistEntry {
    pub case: Uuid,
    /// The person's selection line: with `case`, how an outcome names them.
    pub line: u64,
    /// Their rank in the case's contact list (1 = most at risk) and the list's length.
    pub rank: u64,
    pub persons: u64,
    pub score: f64,
    pub family_name: String,
    pub usage_name: Option<String>,
    pub given_names: String,
    pub birth_year: u32,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub postal_address: Option<String>,
    /// The offer's outcome recorded last, if any.
    pub outcome: Option<OfferOutcome>,
    /// The person's NIR, for the social-service daemon alone: it recognises by it a person
    /// whose objection was upheld, then drops it (see the module doc). Never in a `Debug`.
    pub nir: String,
}

impl std::fmt::Debug for WorklistEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorklistEntry")
            .field("case", &self.case)
            .field("line", &self.line)
            .field("rank", &self.rank)
            .field("outcome", &self.outcome)
            .finish_non_exhaustive()
    }
}

/// An offer's outcome as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferOutcome {
    pub outcome: Outcome,
    /// `YYYY-MM-DD`.
    pub date: String,
    /// The social worker who recorded it (relayed by the social-service daemon).
    pub agent: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct WorklistQuery {
    after: Option<String>,
    limit: Option<String>,
    pending: Option<String>,
}

/// The social-service account of this daemon's office, and the social worker it names: the
/// access log's actor for the call, or the 403 / 400.
pub(super) fn relayed_caller(caller: &Caller, requester: &Requester) -> Result<(String, String), ApiError> {
    caller.require_in_office(Role::SocialService, &requester.settings().office)?;
    let Some(worker) = caller.relayed_agent()? else {
        return Err(ApiError::bad_request(format!(
            "name the social worker this call is for in the {RELAYED_AGENT_HEADER} header: the worklist is read \
             and outcomes recorded for a social worker, and the access log says which"
        )));
    };
    let actor = relayed_actor(&caller.agent().id, worker);
    if !is_identifier(&actor) {
        return Err(ApiError::bad_request(format!(
            "the social worker's id in {RELAYED_AGENT_HEADER} and this service account's id must be lower-case \
             letters, digits, `-`, `_` and `.`, short enough for the access log (together at most 109 characters)"
        )));
    }
    Ok((worker.to_owned(), actor))
}

pub(super) async fn page(
    State(requester): State<Requester>,
    caller: Caller,
    query: Result<Query<WorklistQuery>, QueryRejection>,
) -> Result<Json<WorklistAnswer>, ApiError> {
    let (worker, actor) = relayed_caller(&caller, &requester)?;
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let after = match query.after.as_deref() {
        None | Some("") => None,
        Some(text) => Some(text.parse::<WorklistCursor>().map_err(|e| ApiError::bad_request(format!("after: {e}")))?),
    };
    let limit = super::page_limit(query.limit.as_deref(), DEFAULT_WORKLIST_LIMIT, MAX_WORKLIST_LIMIT)?;
    let pending = match query.pending.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::bad_request("pending: give `true` or `false`")),
    };
    let reading = requester.clone();
    let page = blocking(move || reading.worklist(after, limit, pending)).await?;
    let reads = requester.worklist_reads(&actor, &page);
    record_accesses(&requester, reads).await?;
    tracing::info!(agent = %caller.agent().id, worker = %worker, entries = page.entries.len(), "worklist page read");
    Ok(Json(WorklistAnswer {
        format: WORKLIST_FORMAT.to_owned(),
        office: requester.settings().office.clone(),
        entries: page.entries,
        next: page.next.map(|c| c.to_string()),
    }))
}
