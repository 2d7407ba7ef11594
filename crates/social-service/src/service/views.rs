//! What the service answers and what it is asked, as JSON: each answer carries a `format`
//! (docs/JSON.md). Closed lists are their text codes (`visit`, `falls_prevention`), dates
//! `YYYY-MM-DD`, times RFC 3339.

use passerelle_protocol::calendar::LegalCalendar;
use passerelle_protocol::value::format_date;
use passerelle_social_file::v1;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::requester_client::Outcome;
use crate::store::{ChangeRow, FileState, OfferRow, RightKind, RightRecord};

pub const FILES_FORMAT: &str = "passerelle.social-service-files/1";
pub const FILE_FORMAT: &str = "passerelle.social-service-file/1";
pub const OFFER_OUTCOME_FORMAT: &str = "passerelle.social-service-outcome/1";
pub const CHANGED_FORMAT: &str = "passerelle.social-service-changed/1";
pub const RIGHTS_ACCESS_FORMAT: &str = "passerelle.social-service-rights-access/1";
pub const RIGHT_FORMAT: &str = "passerelle.social-service-right/1";
/// `social-service worklist --json`: the requester's page, under this format.
pub const WORKLIST_OUTPUT_FORMAT: &str = "passerelle.social-service-worklist/1";

/// The text code of a protobuf enum value: its name without the prefix, in lower case.
pub(crate) fn code_of(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix).unwrap_or(name).to_ascii_lowercase()
}

/// The protobuf name of a text code (`phone-message` and `phone_message` alike).
pub(crate) fn name_of(code: &str, prefix: &str) -> String {
    format!("{prefix}{}", code.trim().to_ascii_uppercase().replace('-', "_"))
}

macro_rules! codes {
    ($ty:ty, $prefix:literal, $to:ident, $from:ident) => {
        pub(crate) fn $to(n: i32) -> String {
            <$ty>::try_from(n).map(|v| code_of(v.as_str_name(), $prefix)).unwrap_or_default()
        }
        pub(crate) fn $from(code: &str) -> Option<i32> {
            <$ty>::from_str_name(&name_of(code, $prefix)).map(|v| v as i32).filter(|&n| n != 0)
        }
    };
}

codes!(v1::ContactChannel, "CONTACT_CHANNEL_", channel_code, channel_number);
codes!(v1::ActionPurpose, "ACTION_PURPOSE_", purpose_code, purpose_number);
codes!(v1::OfferKind, "OFFER_KIND_", offer_kind_code, offer_kind_number);
codes!(v1::OfferTheme, "OFFER_THEME_", theme_code, theme_number);

/// Every code of a closed list, for "one of …" in refusals.
pub(crate) fn all_codes(to: fn(i32) -> String) -> String {
    (1..32).map(to).filter(|c| !c.is_empty()).collect::<Vec<_>>().join(", ")
}

fn date(d: &Option<v1::Date>) -> Option<String> {
    d.as_ref().map(format_date)
}

/// One file of a list: enough for the worker to find the person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSummary {
    pub file: String,
    pub state: FileState,
    pub opened_at: String,
    pub last_activity_at: String,
    pub family_name: Option<String>,
    pub given_names: Option<String>,
}

/// A page of an office's files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileList {
    pub format: String,
    pub office: String,
    pub files: Vec<FileSummary>,
    /// The cursor of the next page (`?after=`); none after the last.
    pub next: Option<String>,
}

/// Where a file came from: the decree case and the selection line of the person who accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub case: String,
    pub line: u64,
}

/// A contact of an action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactView {
    pub channel: String,
    pub date: Option<String>,
    pub agent: String,
}

/// An action (norm A.1, A.2) with its contacts and offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionView {
    pub action: String,
    pub purpose: String,
    pub start: Option<String>,
    /// None while the action is open.
    pub end: Option<String>,
    pub contacts: Vec<ContactView>,
    pub offers: Vec<String>,
}

impl From<&v1::Action> for ActionView {
    fn from(a: &v1::Action) -> Self {
        ActionView {
            action: a.action_id.clone(),
            purpose: purpose_code(a.purpose),
            start: date(&a.start),
            end: date(&a.end),
            contacts: a
                .contacts
                .iter()
                .map(|c| ContactView {
                    channel: channel_code(c.channel),
                    date: date(&c.date),
                    agent: c.agent_id.clone(),
                })
                .collect(),
            offers: a.offer_ids.clone(),
        }
    }
}

/// A session of a collective offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    pub date: Option<String>,
    #[serde(default)]
    pub attendees: Vec<String>,
}

/// An offer (norm A.1): individual, or collective with sessions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferView {
    pub offer: String,
    pub kind: String,
    pub theme: String,
    pub participants: Vec<String>,
    pub sessions: Vec<SessionView>,
}

impl OfferView {
    /// The offer as told to the person of `file`: the other participants and attendees are
    /// other persons' files, none of theirs to know.
    pub fn for_person(mut self, file: &str) -> OfferView {
        self.participants.retain(|p| p == file);
        for session in &mut self.sessions {
            session.attendees.retain(|a| a == file);
        }
        self
    }
}

impl From<&OfferRow> for OfferView {
    fn from(row: &OfferRow) -> Self {
        let o = &row.offer;
        OfferView {
            offer: o.offer_id.clone(),
            kind: offer_kind_code(o.kind),
            theme: theme_code(o.theme),
            participants: o.participant_file_ids.clone(),
            sessions: o
                .sessions
                .iter()
                .map(|s| SessionView { date: date(&s.date), attendees: s.attendee_file_ids.clone() })
                .collect(),
        }
    }
}

/// A case file as a social worker sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileView {
    pub format: String,
    pub file: String,
    pub office: String,
    pub state: FileState,
    pub opened_at: String,
    pub opened_by: String,
    pub last_activity_at: String,
    pub source: Option<Source>,
    /// The file's fields present, by catalogue path (`passerelle_social_file::file_json`).
    pub fields: Map<String, Value>,
    pub actions: Vec<ActionView>,
    pub offers: Vec<OfferView>,
}

/// The answer to an offer outcome: what the requester recorded, and the file opened for
/// `accepted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeView {
    pub format: String,
    pub case: String,
    pub line: u64,
    pub outcome: Outcome,
    pub date: String,
    pub agent: String,
    /// The file opened (or found, `existing`) for `accepted`; none otherwise.
    pub file: Option<String>,
    pub existing: bool,
    /// The decree values that stayed behind (no home in the norm), by decree code.
    pub left_behind: Vec<String>,
}

/// A change made: the fields changed (`update`, `rectify`), or what was done (`close`,
/// `action`, `contact`, `offer`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changed {
    pub format: String,
    pub file: String,
    /// `update`, `rectification`, `close`, `action`, `contact`, `offer`.
    pub what: String,
    /// The fields changed, or the action's / offer's id.
    pub items: Vec<String>,
}

/// Everything held about the person (a rights access).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessAnswer {
    pub format: String,
    /// When the answer was produced (RFC 3339).
    pub produced_at: String,
    pub body: String,
    pub office: String,
    pub file: String,
    pub state: FileState,
    pub opened_at: String,
    pub last_activity_at: String,
    pub source: Option<Source>,
    pub fields: Map<String, Value>,
    pub actions: Vec<ActionView>,
    pub offers: Vec<OfferView>,
    /// Who changed which field when — never a value.
    pub history: Vec<ChangeRow>,
    pub rights: Vec<RightRecord>,
    /// The body's legal time zone (`[trails] time_zone`): the printable page dates the stored
    /// timestamps by their day there. Absent from an older answer: `Europe/Paris`.
    #[serde(default)]
    pub time_zone: LegalCalendar,
}

/// A rights request recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RightView {
    pub format: String,
    pub file: String,
    pub kind: RightKind,
    pub at: String,
    /// `pending` for an objection (the director decides); none otherwise.
    pub decision: Option<String>,
}

/// One update of a request: a catalogue path and its JSON value (`null` clears it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldUpdate {
    pub field: String,
    #[serde(default)]
    pub value: Value,
}

/// `POST …/update` and `…/rectify`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateRequest {
    pub updates: Vec<FieldUpdate>,
}

/// `POST …/actions`: a new action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRequest {
    /// `relationship_and_offers` (A.1, the default) or `precariousness_support` (A.2).
    #[serde(default)]
    pub purpose: Option<String>,
    /// `YYYY-MM-DD`; today by default.
    #[serde(default)]
    pub start: Option<String>,
}

/// `POST …/close`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloseRequest {
    #[serde(default)]
    pub date: Option<String>,
}

/// `POST …/contacts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactRequest {
    /// `letter`, `email`, `phone`, `phone_message`, `visit` or `teleservice`.
    pub channel: String,
    #[serde(default)]
    pub date: Option<String>,
}

/// `POST /v1/offers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferRequest {
    pub kind: String,
    pub theme: String,
    /// The files taking part (one for an individual offer), of the office.
    pub participants: Vec<String>,
    #[serde(default)]
    pub sessions: Vec<SessionView>,
}

/// `POST …/rights/object`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRequest {
    pub reasons: String,
}
