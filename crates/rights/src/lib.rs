//! The persons' rights under the decree (Décret n° 2017-334, art. 6; DESIGN §7.3) at the
//! competent observatory: the **rights desk**.
//!
//! A `rights-officer` opens a rights request for a NIR ([`RightsDesk::open_request`]); the desk
//! asks every observatory of the deployment (itself included, through the bus like the others),
//! then each requester party an observatory names in `parties_to_ask`, each once, while the
//! request is still asking (a message cannot outlive the deadline: a late observatory's
//! `parties_to_ask` are not asked) (`rights.proto`). A message expires at the deadline, within
//! the bus's 30-day cap. It records each [`v1::RightsAnswer`] ([`RightsDesk::record_answer`]); once
//! every party asked has answered, or the deadline has passed, the request is *answered* and its
//! [`ConsolidatedAnswer`] complete, the parties that stayed silent listed with the date they were
//! asked. A later answer is recorded as late and the officer told ([`RequestSummary::late_answers`]).
//!
//! What the desk sends goes through its own outbox, written in the transaction that decides it:
//! the daemon publishes [`RightsDesk::outbox`] and marks each message [`RightsDesk::sent`] once
//! the broker confirmed it, so a crash between deciding and publishing loses nothing.
//!
//! The request forgets too: its NIRs, its corrected values, the answers and the page are purged
//! when the officer records the answer as delivered ([`RightsDesk::delivered`]) and at the latest
//! [`RightsSettings::purge_margin_days`] after the deadline ([`RightsDesk::tick`]). What stays is
//! a tombstone without personal data (id, kind, who opened it, when, when delivered and purged);
//! the daemon's access log keeps who asked what kind of request and when.
//!
//! Opposition is not a request: [`OPPOSITION_REFUSED`] is the answer, at once.

#![forbid(unsafe_code)]

mod convert;
pub mod printable;
mod store;

use std::path::Path;
use std::time::{Duration, SystemTime};

use passerelle_protocol::v1;
use serde::{Deserialize, Serialize};

/// The answer to a person who objects (decree art. 6, last paragraph), in the officer's and the
/// person's language.
pub const OPPOSITION_REFUSED: &str = "Le droit d'opposition ne s'applique pas à ce traitement : \
     « Le droit d'opposition prévu par l'article 38 de la loi du 6 janvier 1978 susvisée ne \
     s'applique pas aux traitements dont la création est autorisée par l'article 1er du présent \
     décret » (décret n° 2017-334 du 14 mars 2017, article 6). Les droits d'accès et de \
     rectification s'exercent auprès du directeur de la caisse de retraite compétente.";

/// The legal month a party has to answer (and the longest deadline settings may give).
pub const LEGAL_MONTH_DAYS: u32 = 30;

/// The longest margin after the deadline before an undelivered request is purged anyway.
pub const MAX_PURGE_MARGIN_DAYS: u32 = 30;

/// The most requester parties one observatory's answer may name in `parties_to_ask`: more
/// than a deployment has (about a hundred bodies' offices). An answer naming more is refused
/// whole — one malformed answer could otherwise fill `rights.db` with copies of the NIR and
/// the broker with requests to parties that do not exist.
pub const MAX_PARTIES_TO_ASK: usize = 200;

/// The most former NIRs a rights request names (`rights.proto`): a person has one or two; each
/// costs every party asked a scan of its stores, so a longer list is refused, never searched.
pub const MAX_FORMER_NIRS: usize = 16;

/// `[rights]` in the observatory's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RightsSettings {
    /// Days each party has to answer; at most [`LEGAL_MONTH_DAYS`] (default).
    pub answer_within_days: u32,
    /// Days after the deadline at which an undelivered request is purged anyway (default 7).
    pub purge_margin_days: u32,
}

impl Default for RightsSettings {
    fn default() -> Self {
        RightsSettings { answer_within_days: LEGAL_MONTH_DAYS, purge_margin_days: 7 }
    }
}

impl RightsSettings {
    /// Refuses a deadline of 0 days or longer than the legal month, and a margin over 30 days.
    pub fn check(&self) -> Result<(), String> {
        if self.answer_within_days == 0 || self.answer_within_days > LEGAL_MONTH_DAYS {
            return Err(format!(
                "[rights] answer_within_days = {}: give 1 to {LEGAL_MONTH_DAYS} days (the legal month at most)",
                self.answer_within_days
            ));
        }
        if self.purge_margin_days > MAX_PURGE_MARGIN_DAYS {
            return Err(format!(
                "[rights] purge_margin_days = {}: give 0 to {MAX_PURGE_MARGIN_DAYS} days",
                self.purge_margin_days
            ));
        }
        Ok(())
    }
}

/// Which right (decree art. 6): access or rectification. Opposition is refused before any request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RightsKind {
    Access,
    Rectification,
}

/// What a rights officer opens.
#[derive(Debug, Clone)]
pub struct Opening {
    pub kind: RightsKind,
    /// The person's NIR, checked.
    pub nir: passerelle_protocol::nir::Nir,
    pub former_nirs: Vec<passerelle_protocol::nir::Nir>,
    /// A rectification's corrected values (at least one; none for access).
    pub corrected: v1::CategoryValues,
    /// The agent id of the rights officer who opens it.
    pub opened_by: String,
    /// The agent id of who confirmed the person's identity outside the product (required).
    pub identity_checked_by: String,
}

/// The state of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RequestState {
    /// Parties are still being asked and the deadline has not passed.
    Asking,
    /// Every party answered, or the deadline passed (the silent ones listed): the answer is ready.
    Answered,
    /// The officer recorded it delivered, or its time ran out: only the tombstone remains.
    Purged,
}

/// A line of `rights list`: no personal datum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestSummary {
    pub request_id: String,
    pub kind: RightsKind,
    pub state: RequestState,
    pub opened_by: String,
    /// RFC 3339, UTC (`2026-12-07T18:00:00Z`), as every time below.
    pub opened_at: String,
    pub answer_by: String,
    pub parties_asked: u32,
    pub parties_answered: u32,
    /// Answers that arrived after the deadline (the officer is told: a new answer to print).
    pub late_answers: u32,
    pub delivered_at: Option<String>,
    pub purged_at: Option<String>,
}

/// One value held, in the shared text syntax.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldValue {
    /// The category code (`family_situation`).
    pub category: String,
    /// Who gave it: a body code, or the requester party itself.
    pub source: String,
    /// The value as the shared syntax writes it (`married`, `true`, `2024-03-01`).
    pub value: String,
}

/// What a party holds (`rights.proto`'s `HoldingKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HoldingKind {
    Selection,
    ReceivedValues,
    OfferOutcome,
    CaseInFlight,
    Statistics,
}

/// One holding of one party.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holding {
    pub kind: HoldingKind,
    pub case_id: String,
    pub requester: String,
    pub since: Option<String>,
    pub until: Option<String>,
    pub values: Vec<HeldValue>,
    /// `accepted`, `declined` or `no_reply` (an offer outcome only).
    pub outcome: Option<String>,
    pub outcome_date: Option<String>,
}

/// One value a rectification replaced at a party.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RectifiedValue {
    pub kind: HoldingKind,
    pub case_id: String,
    pub category: String,
}

/// A party asked, and its answer if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartyAnswer {
    /// The party's code (`carsat-sud-est`, `cnaf.caf-13`, `cnam`).
    pub party: String,
    /// `observatory` or `requester`.
    pub role: String,
    pub asked_at: String,
    /// `None`: not answered (yet, or at all when the request is answered).
    pub answered_at: Option<String>,
    /// It answered after the deadline.
    pub late: bool,
    pub holdings: Vec<Holding>,
    pub rectified: Vec<RectifiedValue>,
}

/// The consolidated answer to a rights request (`passerelle.rights-answer/1`): what the JSON
/// output and the printable page show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsolidatedAnswer {
    pub request_id: String,
    pub kind: RightsKind,
    pub state: RequestState,
    /// The competent observatory that answers.
    pub observatory: String,
    pub opened_by: String,
    pub identity_checked_by: String,
    pub opened_at: String,
    pub answer_by: String,
    /// The person's NIR as the request names it (the page shows it to its own person).
    pub nir: String,
    pub former_nirs: Vec<String>,
    /// A rectification's corrected values.
    pub corrected: Vec<HeldValue>,
    /// Every party asked, in the order asked.
    pub parties: Vec<PartyAnswer>,
}

impl ConsolidatedAnswer {
    /// No party that answered holds anything.
    pub fn nothing_held(&self) -> bool {
        self.parties.iter().all(|p| p.holdings.is_empty())
    }

    /// The parties that did not answer.
    pub fn unanswered(&self) -> impl Iterator<Item = &PartyAnswer> {
        self.parties.iter().filter(|p| p.answered_at.is_none())
    }
}

/// A message the desk decided to send, kept until the broker confirmed it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outbound {
    /// Its outbox row.
    pub seq: i64,
    /// Stable across re-publishes (the AMQP `message_id`).
    pub message_id: uuid::Uuid,
    pub request: v1::RightsRequest,
    /// The request's cap: no copy outlives it (the bus's `expires_at`).
    pub expires_at: SystemTime,
}

/// What recording an answer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Recorded {
    /// The first answer of this party to this request (a redelivery is not).
    pub first: bool,
    /// It came after the deadline.
    pub late: bool,
    /// New parties asked because of it (an observatory's `parties_to_ask`).
    pub new_parties: u32,
    /// The request is now answered (every party asked answered).
    pub completed: bool,
}

/// What a tick did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tick {
    /// Requests whose deadline passed with parties silent: now answered.
    pub answered_at_deadline: u32,
    /// Requests purged at their latest date.
    pub purged: u32,
}

/// A desk failure.
#[derive(Debug, thiserror::Error)]
pub enum RightsError {
    /// The caller's mistake, said in words (400).
    #[error("{0}")]
    Refused(String),
    #[error("no rights request {0}")]
    NotFound(String),
    #[error("rights store: {0}")]
    Store(String),
}

impl From<passerelle_sqlite::Error> for RightsError {
    fn from(e: passerelle_sqlite::Error) -> Self {
        RightsError::Store(e.to_string())
    }
}

/// The competent observatory's rights desk, over `rights.db` in its data folder.
#[derive(Debug, Clone)]
pub struct RightsDesk {
    db: std::sync::Arc<passerelle_sqlite::Database>,
    observatory: String,
    observatories: Vec<String>,
    settings: RightsSettings,
    /// A purge's scrub did not complete (a reader held the WAL back, or it failed): the next
    /// tick scrubs again. Set at opening: a crash may have come between a purge and its scrub.
    scrub_pending: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// The database's file in the data folder.
pub const DB_FILE: &str = "rights.db";

impl RightsDesk {
    /// Opens (or creates) `rights.db` in `data_dir`. `observatory` is this observatory's code,
    /// `observatories` every observatory of the deployment (itself included): who is asked first.
    pub fn open(
        data_dir: &Path,
        observatory: &str,
        observatories: &[String],
        settings: &RightsSettings,
    ) -> Result<RightsDesk, RightsError> {
        settings.check().map_err(RightsError::Refused)?;
        let mut asked: Vec<String> = Vec::new();
        for code in std::iter::once(observatory).chain(observatories.iter().map(String::as_str)) {
            if !passerelle_protocol::ids::is_party_code(code) {
                return Err(RightsError::Refused(format!(
                    "observatory code `{}`: use lowercase letters, digits, `-` and `_`",
                    passerelle_protocol::untrusted::Shown::id(code)
                )));
            }
            if !asked.iter().any(|c| c == code) {
                asked.push(code.to_owned());
            }
        }
        // The deployment's order, this observatory where the list puts it (first when absent).
        let mut ordered: Vec<String> = observatories.iter().filter(|c| asked.contains(c)).cloned().collect();
        ordered.dedup();
        if !ordered.iter().any(|c| c == observatory) {
            ordered.insert(0, observatory.to_owned());
        }
        let mut seen = std::collections::BTreeSet::new();
        ordered.retain(|c| seen.insert(c.clone()));
        passerelle_sqlite::private::create_folder(data_dir)
            .map_err(|source| passerelle_sqlite::Error::Io { path: data_dir.to_owned(), source })?;
        let db = store::open(&data_dir.join(DB_FILE))?;
        Ok(RightsDesk {
            db: std::sync::Arc::new(db),
            observatory: observatory.to_owned(),
            observatories: ordered,
            settings: settings.clone(),
            scrub_pending: std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true)),
        })
    }

    /// This observatory's code.
    pub fn observatory(&self) -> &str {
        &self.observatory
    }

    /// The database file (`rights.db`).
    pub fn path(&self) -> &Path {
        self.db.path()
    }

    /// Opens a request: stored with one outbox message per observatory, in one transaction.
    /// Refuses an opening without `identity_checked_by`, a rectification without a corrected
    /// value, and an access request with one.
    pub fn open_request(&self, opening: Opening, now: SystemTime) -> Result<String, RightsError> {
        store::open_request(self, opening, now)
    }

    /// Records a party's answer (the first one per party counts; a redelivery changes nothing);
    /// asks, through the outbox, each party of `parties_to_ask` not asked yet. An answer to a
    /// purged or unknown request is dropped (`Ok` with `first == false`).
    pub fn record_answer(&self, answer: &v1::RightsAnswer, now: SystemTime) -> Result<Recorded, RightsError> {
        store::record_answer(self, answer, now)
    }

    /// The messages to publish, oldest first.
    pub fn outbox(&self, now: SystemTime) -> Result<Vec<Outbound>, RightsError> {
        store::outbox(self, now)
    }

    /// The broker confirmed this outbox message.
    pub fn sent(&self, seq: i64) -> Result<(), RightsError> {
        store::sent(self, seq)
    }

    /// Requests whose deadline passed are answered; requests past their latest date are purged;
    /// a purge whose scrub did not complete is scrubbed again.
    pub fn tick(&self, now: SystemTime) -> Result<Tick, RightsError> {
        store::tick(self, now)
    }

    /// Every request, newest first, purged ones included (tombstones).
    pub fn list(&self) -> Result<Vec<RequestSummary>, RightsError> {
        store::list(self)
    }

    /// The consolidated answer of a request not yet purged (`NotFound` otherwise).
    pub fn answer(&self, request_id: &str, now: SystemTime) -> Result<ConsolidatedAnswer, RightsError> {
        store::answer(self, request_id, now)
    }

    /// The officer delivered the answer to the person: the request is purged now (refused while
    /// it is still `asking`, unless `anyway`). Its bytes are scrubbed from the files at once, or
    /// at the next [`RightsDesk::tick`] when a reader held the scrub back.
    pub fn delivered(
        &self,
        request_id: &str,
        by: &str,
        anyway: bool,
        now: SystemTime,
    ) -> Result<RequestSummary, RightsError> {
        store::delivered(self, request_id, by, anyway, now)
    }

    /// The deadline of a request opened at `opened_at`.
    pub fn answer_by(&self, opened_at: SystemTime) -> SystemTime {
        opened_at + Duration::from_secs(u64::from(self.settings.answer_within_days) * 86_400)
    }
}

/// Refuses corrected values that are not values of the decree's categories (art. 2, 2° to 7°),
/// as the desk does at opening and every party asked does on receipt
/// ([`v1::CategoryValues::check_values`]: each value reads back from its text as itself, and no
/// field is set that no category reads). The reason names the category, never the value.
pub fn check_corrected(corrected: &v1::CategoryValues) -> Result<(), String> {
    corrected.check_values().map_err(|e| format!("corrected: {e}"))
}

/// How long the request is kept at most after it is opened: the deadline plus the margin.
pub fn kept_at_most(settings: &RightsSettings) -> Duration {
    Duration::from_secs(u64::from(settings.answer_within_days + settings.purge_margin_days) * 86_400)
}

/// A time as the answer writes it: RFC 3339, UTC, to the second (`2026-12-07T18:00:00Z`). A
/// time beyond what a calendar date can say (a wire timestamp can hold any `i64` of seconds)
/// is written at the nearest end of that range, never a panic.
pub fn rfc3339(t: SystemTime) -> String {
    let utc = checked_utc(t).unwrap_or(if t >= SystemTime::UNIX_EPOCH {
        chrono::DateTime::<chrono::Utc>::MAX_UTC
    } else {
        chrono::DateTime::<chrono::Utc>::MIN_UTC
    });
    utc.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `t` as a calendar time, `None` beyond chrono's range (`From<SystemTime>` panics there).
pub(crate) fn checked_utc(t: SystemTime) -> Option<chrono::DateTime<chrono::Utc>> {
    let (secs, nanos) = match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => (i64::try_from(d.as_secs()).ok()?, d.subsec_nanos()),
        Err(e) => {
            let d = e.duration();
            let secs = i64::try_from(d.as_secs()).ok()?;
            if d.subsec_nanos() == 0 {
                (secs.checked_neg()?, 0)
            } else {
                (secs.checked_neg()?.checked_sub(1)?, 1_000_000_000 - d.subsec_nanos())
            }
        }
    };
    chrono::DateTime::from_timestamp(secs, nanos)
}

#[cfg(test)]
mod tests;
