//! `GET /v1/cases/{case}/contacts?after=RANK&limit=N`: one case's contact list as its office's
//! prevention agents read it on screen (the web console's case page, DESIGN §7.4): the persons
//! the observatory did not refuse, in the rank order of the case's result files (1 = most at
//! risk), a page at a time, with their names, contacts and the offer's outcome if one was
//! recorded. Never a NIR; the consolidated category values stay in the result files
//! (`GET /v1/cases/{case}/result/{file}`).
//!
//! A page gives names and contacts, so each person it lists is a `read` of the case about the
//! person (their keyed hash, [`passerelle_access_log::Accesses::person`]), the agent as actor —
//! an agent's reads per person (DESIGN §7.1), as the worklist's. A page's entries are written
//! in one transaction before the answer: if they cannot be, the call is a 500 and gives nothing.
//! A case not answered (yet, or refused whole) lists nobody and records nothing; an unknown or
//! purged case is a 404.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path as UrlPath, Query, State};
use axum::Json;
use passerelle_access_log::{agent_actor, AccessKind};
use passerelle_local_api::{ApiError, Caller};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::worklist::OfferOutcome;
use super::{blocking, parse_id, prevention_agent, record_accesses};
use crate::service::Requester;
use crate::store::CaseState;

/// A page's entries when the call does not say.
pub const DEFAULT_CONTACTS_LIMIT: usize = 100;

/// The most entries a page holds.
pub const MAX_CONTACTS_LIMIT: usize = 1000;

/// A page of a case's contact list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactsAnswer {
    pub case: Uuid,
    pub state: CaseState,
    /// The list's length (persons not refused, once the case is answered).
    pub persons: u64,
    pub entries: Vec<ContactEntry>,
    /// The rank the next page starts after (`after=`), `None` at the end of the list.
    pub next: Option<u64>,
}

/// A person of a case's contact list. No NIR.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactEntry {
    /// 1 = most at risk.
    pub rank: u64,
    /// The person's selection line.
    pub line: u64,
    pub score: f64,
    pub family_name: String,
    pub usage_name: Option<String>,
    pub given_names: String,
    pub birth_year: u32,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub postal_address: Option<String>,
    /// The offer's outcome recorded last by the social service, if any.
    pub outcome: Option<OfferOutcome>,
}

impl std::fmt::Debug for ContactEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContactEntry")
            .field("rank", &self.rank)
            .field("line", &self.line)
            .field("outcome", &self.outcome)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct ContactsQuery {
    after: Option<String>,
    limit: Option<String>,
}

pub(super) async fn list(
    State(requester): State<Requester>,
    caller: Caller,
    UrlPath(case): UrlPath<String>,
    query: Result<Query<ContactsQuery>, QueryRejection>,
) -> Result<Json<ContactsAnswer>, ApiError> {
    prevention_agent(&caller, &requester)?;
    let case = parse_id(&case, "case")?;
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let after = match query.after.as_deref() {
        None | Some("") => 0,
        Some(text) => text
            .parse::<u64>()
            .map_err(|_| ApiError::bad_request("after: give the rank a page starts after (a page's `next`)"))?,
    };
    let limit = super::page_limit(query.limit.as_deref(), DEFAULT_CONTACTS_LIMIT, MAX_CONTACTS_LIMIT)?;
    let reading = requester.clone();
    let page = blocking(move || reading.case_contacts(case, after, limit)).await?;
    let actor = agent_actor(&caller.agent().id);
    let object = case.to_string();
    let reads =
        page.read.iter().map(|p| requester.access_entry(&actor, AccessKind::Read, &object).about(p.clone())).collect();
    record_accesses(&requester, reads).await?;
    tracing::info!(agent = %caller.agent().id, case = %case, entries = page.entries.len(), "contact list read");
    Ok(Json(ContactsAnswer { case, state: page.state, persons: page.persons, entries: page.entries, next: page.next }))
}
