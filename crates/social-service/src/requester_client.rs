//! The social service as a client of its branch's requester daemon (DESIGN §7.2): the worklist
//! is the requester's contact list, read through the requester's local API as a
//! `social-service` service account, each call naming the social worker it acts for
//! ([`passerelle_local_api::RELAYED_AGENT_HEADER`]); the offer outcomes are recorded there,
//! under the decree's 24-month cap. Nothing of the worklist is stored here but the
//! `(case, line)` of a person it showed as opposed ([`crate::store::Store::opposed_line`]).
//!
//! A worklist entry from the requester carries the person's NIR: the social-service daemon
//! takes it out of the entry at once, computes its keyed hash (`file-person.key`) to see
//! whether the person's objection under art. 38 was upheld (`opposed`), and drops it; its own
//! answer to the social worker never carries it ([`WorklistEntry::nir`]).
//!
//! | route at the requester | answer |
//! |---|---|
//! | `GET /v1/worklist?after=C&limit=N[&pending=true]` | [`Worklist`] (`passerelle.requester-worklist/1`) |
//! | `POST /v1/worklist/outcome`, body [`OutcomeRequest`] | [`OutcomeAnswer`] (`passerelle.requester-offer-outcome/1`) |

use std::collections::BTreeMap;
use std::path::PathBuf;

use passerelle_local_api::{Client, ClientError};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The format of the requester's worklist answer.
pub const WORKLIST_FORMAT: &str = "passerelle.requester-worklist/1";
/// The format of the requester's offer-outcome answer.
pub const OUTCOME_FORMAT: &str = "passerelle.requester-offer-outcome/1";
/// The largest page the requester serves.
pub const MAX_WORKLIST_LIMIT: u32 = 1000;

/// What became of an offer made to a person of the contact list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Accepted,
    Declined,
    NoReply,
}

/// An outcome recorded at the requester.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedOutcome {
    pub outcome: Outcome,
    /// `YYYY-MM-DD`.
    pub date: String,
    pub agent: String,
}

/// One person of the office's contact lists, in rank order.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct WorklistEntry {
    pub case: Uuid,
    pub line: u64,
    pub rank: u64,
    pub persons: u64,
    pub score: f64,
    pub family_name: String,
    pub usage_name: Option<String>,
    pub given_names: String,
    pub birth_year: Option<u32>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub postal_address: Option<String>,
    pub outcome: Option<RecordedOutcome>,
    /// The person's NIR, in the requester's answer only: the social-service daemon takes it
    /// (`Option::take`) to recognise an opposed person and drops it, so its own answer has none
    /// (absent from a requester that does not send it: nobody is then recognised). Never in a
    /// `Debug`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nir: Option<String>,
    /// Set by the social service: the person's objection under art. 38 was upheld — make them
    /// no offer; an outcome for this line is refused. Never sent by the requester.
    #[serde(default)]
    pub opposed: bool,
}

impl std::fmt::Debug for WorklistEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorklistEntry")
            .field("case", &self.case)
            .field("line", &self.line)
            .field("rank", &self.rank)
            .field("outcome", &self.outcome)
            .field("opposed", &self.opposed)
            .finish_non_exhaustive()
    }
}

/// A page of the worklist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Worklist {
    pub format: String,
    pub office: String,
    pub entries: Vec<WorklistEntry>,
    /// The cursor of the next page; none after the last.
    pub next: Option<String>,
}

/// The query of a worklist page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorklistQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Only the persons with no outcome yet.
    #[serde(default)]
    pub pending: bool,
}

/// An outcome to record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeRequest {
    pub case: Uuid,
    pub line: u64,
    pub outcome: Outcome,
    /// `YYYY-MM-DD`, not after today. None from the CLI: the social-service daemon fills in
    /// today in the body's legal time zone before it calls the requester, which needs one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
}

/// The person who accepted, from the requester's store (art. 2, 1° and the case's values).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceptedPerson {
    pub nir: String,
    #[serde(default)]
    pub former_nirs: Vec<String>,
    pub family_name: String,
    pub usage_name: Option<String>,
    pub given_names: String,
    /// `female`, `male`, or none.
    pub sex: Option<String>,
    pub birth_year: Option<u32>,
    pub commune_code: Option<String>,
    pub postal_address: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Decree category code → value text (`passerelle_protocol::value::format`).
    #[serde(default)]
    pub values: BTreeMap<String, String>,
}

impl std::fmt::Debug for AcceptedPerson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AcceptedPerson(…)")
    }
}

/// The requester's answer to an outcome: the person for `accepted` only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeAnswer {
    pub format: String,
    /// The requester's office that recorded the outcome; checked against `[requester] office`.
    #[serde(default)]
    pub office: String,
    pub case: Uuid,
    pub line: u64,
    pub outcome: Outcome,
    pub date: String,
    pub agent: String,
    pub person: Option<AcceptedPerson>,
}

/// The requester daemon's local API, as this social service calls it.
#[derive(Debug, Clone)]
pub struct RequesterClient {
    socket: PathBuf,
}

impl RequesterClient {
    pub fn new(socket: impl Into<PathBuf>) -> RequesterClient {
        RequesterClient { socket: socket.into() }
    }

    fn client(&self, worker: &str) -> Client {
        Client::new(&self.socket).for_daemon("requester run").relaying(worker)
    }

    /// A page of the worklist, for `worker`.
    pub async fn worklist(&self, worker: &str, query: &WorklistQuery) -> Result<Worklist, ClientError> {
        let mut path = format!("/v1/worklist?limit={}", query.limit.unwrap_or(100).min(MAX_WORKLIST_LIMIT));
        if let Some(after) = &query.after {
            path.push_str(&format!("&after={}", percent(after)));
        }
        if query.pending {
            path.push_str("&pending=true");
        }
        self.client(worker).get_json(&path).await
    }

    /// Records an outcome at the requester, for `worker`.
    pub async fn outcome(&self, worker: &str, request: &OutcomeRequest) -> Result<OutcomeAnswer, ClientError> {
        self.client(worker).post_json("/v1/worklist/outcome", request).await
    }
}

/// Characters a query value keeps as they are (RFC 3986's unreserved ones).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// A value in a query string (a worklist cursor `<case>:<rank>`): anything but unreserved
/// characters percent-encoded.
pub fn percent(text: &str) -> String {
    utf8_percent_encode(text, QUERY_VALUE).to_string()
}
