//! The persons' rights at a requester party (decree art. 6; DESIGN §7.3; `rights.proto`): the
//! daemon reads its party's rights queue beside its results queue and answers each
//! `RightsRequest` with what it holds about the person ([`Requester::answer_rights`]).
//!
//! - **Who may ask.** Only an observatory of the deployment, for this party (`recipient` = its
//!   party code; the bus checked the broker user speaks for `sender`). Anything else, a NIR that
//!   is not one, an unspecified kind or a rectification without values is dead-lettered with its
//!   reason, never answered; a store or access-log failure is retried.
//! - **What is held.** Per row of the person (any NIR of the request, current or former, in any
//!   case not purged): the selection row with the risk factors it sent (`HOLDING_KIND_SELECTION`,
//!   since the submission, until its purge date), the values received with their bodies
//!   (`HOLDING_KIND_RECEIVED_VALUES`, since the result arrived), the offer's outcome
//!   (`HOLDING_KIND_OFFER_OUTCOME`). Nothing found: an empty answer, "nothing held".
//! - **Rectification** replaces the values the person holds ([`crate::store`]'s rights module:
//!   never creates one), marks them, and ranks each changed case again at once; the answer
//!   lists each change (none the second time) and the holdings as they now stand.
//! - **Traced.** One access entry per request (`read` for access, `update` for rectification,
//!   by `daemon:requester`, object `rights-<request_id>`, about the person's keyed hash), written
//!   before the store is read or changed; a redelivery is answered again, not logged again.
//! - The answer goes back to the asking observatory, due by the request's `answer_by` (or a week
//!   from now when that has passed), never past the request's 30-day cap.
//!
//! **Architecture invariant:** no NIR or value in a log line or a dead-letter reason.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::Datelike;
use passerelle_access_log::{daemon_actor, AccessKind};
use passerelle_bus::{Consumer, Delivery, Handler, Message, NoticeReason, Outgoing, Verdict, SCHEMA_VERSION};
use passerelle_protocol::nir::Nir;
use passerelle_protocol::rules::OBSERVATORY_RETENTION_CAP;
use passerelle_protocol::untrusted::Shown;
use passerelle_protocol::v1::{self, HoldingKind, RightsKind};
use uuid::Uuid;

use super::{Requester, RequesterError, DAEMON};
use crate::store::{CaseState, Held, HeldPerson, Outcome, RectifiedValue, StoreError};

/// The most former NIRs a rights request may name (`rights.proto`; the desk's
/// `passerelle_rights::MAX_FORMER_NIRS`): each costs a scan of the persons table.
pub const MAX_FORMER_NIRS: usize = 16;

/// How long an answer has when the request's `answer_by` has passed already.
pub const LATE_ANSWER_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);

impl Requester {
    /// Starts consuming this party's rights queue (`Role::rights_queue`); `None` when the party
    /// has none (a body whose offices are asked instead). Stop the returned consumer when done.
    pub async fn listen_rights(&self) -> Result<Option<Consumer>, RequesterError> {
        let settings = self.settings();
        let Some(queue) = settings.role().rights_queue(&settings.broker) else { return Ok(None) };
        let handler = Arc::new(RightsHandler { requester: self.clone() });
        Ok(Some(self.inner.bus.consume(queue, handler).await?))
    }

    /// Answers a rights request addressed to this party: checks it, writes its access entry
    /// (once per request), applies a rectification, and returns what the party holds about the
    /// person. [`RequesterError::RightsRefused`] when the request is not to be answered (its
    /// notice reason and why); any other error is transient.
    pub fn answer_rights(&self, request: &v1::RightsRequest) -> Result<v1::RightsAnswer, RequesterError> {
        let checked = self.check_rights_request(request)?;
        let own = self.settings().role().code().to_owned();
        let now = self.now();
        let kind = match checked.kind {
            RightsKind::Rectification => AccessKind::Update,
            _ => AccessKind::Read,
        };
        let entry = self
            .access_entry(&daemon_actor(DAEMON), kind, &format!("rights-{}", request.request_id))
            .about(self.accesses().person(&checked.nir));
        let accesses = self.accesses().clone();
        let record = || -> Result<(), StoreError> {
            accesses.record(&entry)?;
            Ok(())
        };
        let store = self.store();
        let mut rectified = Vec::new();
        if checked.kind == RightsKind::Rectification {
            let corrected = request.corrected.clone().unwrap_or_default();
            let (changes, cases) = store.rectify(&request.request_id, &checked.nirs, &corrected, &own, now, &record)?;
            self.rank_again(&cases)?;
            rectified = rectified_list(&changes);
        } else {
            store.rights_request_seen(&request.request_id, now, &record)?;
        }
        let holdings = store.held_persons(&checked.nirs)?.iter().flat_map(|p| holdings_of(p, &own)).collect();
        Ok(v1::RightsAnswer {
            schema_minor: passerelle_protocol::SCHEMA_MINOR,
            schema_version: SCHEMA_VERSION,
            sender: own,
            request_id: request.request_id.clone(),
            recipient: request.sender.clone(),
            kind: checked.kind as i32,
            holdings,
            parties_to_ask: Vec::new(),
            rectified,
            answered_at: Some(now.into()),
        })
    }

    /// Handles one rights request: answers it on the rights exchange, to its sender.
    pub async fn on_rights_request(&self, request: v1::RightsRequest) -> Verdict {
        // A request past its cap is neither read nor acted upon: nobody waits for its answer.
        let time = |t: Option<prost_types::Timestamp>| t.and_then(|t| SystemTime::try_from(t).ok());
        let (asked_at, answer_by) = (time(request.asked_at), time(request.answer_by));
        if answer_expires_at(self.now(), asked_at, answer_by) <= self.now() {
            tracing::info!(request_id = %Shown::id(&request.request_id), "rights request past its 30-day cap: not answered");
            return Verdict::Ack;
        }
        let answer = match self.answer_rights(&request) {
            Ok(answer) => answer,
            Err(RequesterError::RightsRefused(code, reason)) => {
                tracing::warn!(request_id = %Shown::id(&request.request_id), reason, "rights request refused");
                return Verdict::dead_letter(code, reason);
            }
            Err(e) => return Verdict::RetryLater(e.to_string()),
        };
        let now = self.now();
        let expires_at = answer_expires_at(now, asked_at, answer_by);
        if expires_at <= now {
            tracing::info!(request_id = %Shown::id(&request.request_id), "rights request past its 30-day cap: not answered");
            return Verdict::Ack;
        }
        let (holdings, rectified) = (answer.holdings.len(), answer.rectified.len());
        let outgoing = Outgoing::new(Message::RightsAnswer(answer), request.sender.clone(), expires_at);
        if let Err(e) = self.inner.bus.publish(vec![outgoing]).await {
            return Verdict::RetryLater(e.to_string());
        }
        tracing::info!(
            request_id = %Shown::id(&request.request_id),
            observatory = %Shown::id(&request.sender),
            holdings,
            rectified,
            "rights request answered"
        );
        Verdict::Ack
    }

    /// Checks a rights request before anything is read: for this party, from an observatory of
    /// the deployment, a kind, valid NIRs, and values to rectify.
    fn check_rights_request(&self, request: &v1::RightsRequest) -> Result<Checked, RequesterError> {
        let refuse = |code, reason: String| Err(RequesterError::RightsRefused(code, reason));
        let settings = self.settings();
        let own = settings.role().code().to_owned();
        if !settings.broker.observatories.contains(&request.sender) {
            let sender = Shown::id(&request.sender);
            return refuse(
                NoticeReason::NotPermitted,
                format!("a rights request from {sender}, which is not an observatory of the deployment"),
            );
        }
        if request.recipient != own {
            let recipient = Shown::id(&request.recipient);
            return refuse(NoticeReason::NotPermitted, format!("a rights request for {recipient}, not for {own}"));
        }
        if Uuid::parse_str(&request.request_id).is_err() {
            return refuse(NoticeReason::Invalid, "request_id: not a UUID".to_owned());
        }
        let kind = match RightsKind::try_from(request.kind) {
            Ok(kind @ (RightsKind::Access | RightsKind::Rectification)) => kind,
            _ => return refuse(NoticeReason::Invalid, "kind: neither access nor rectification".to_owned()),
        };
        let Ok(nir) = Nir::parse(&request.nir) else {
            return refuse(NoticeReason::Invalid, "nir: not a valid NIR or NIA".to_owned());
        };
        if request.former_nirs.len() > MAX_FORMER_NIRS {
            let count = request.former_nirs.len();
            return refuse(
                NoticeReason::Invalid,
                format!("former_nirs: {count} former NIRs, more than the {MAX_FORMER_NIRS} a request may name"),
            );
        }
        let mut nirs = vec![nir.as_str().to_owned()];
        for (i, former) in request.former_nirs.iter().enumerate() {
            let Ok(former) = Nir::parse(former) else {
                return refuse(NoticeReason::Invalid, format!("former_nirs[{i}]: not a valid NIR or NIA"));
            };
            nirs.push(former.as_str().to_owned());
        }
        if kind == RightsKind::Rectification && request.corrected.as_ref().is_none_or(|c| c.is_empty()) {
            return refuse(NoticeReason::Invalid, "corrected: a rectification without a value to correct".to_owned());
        }
        if let Some(corrected) = &request.corrected {
            if let Err(reason) = corrected.check_values().map_err(|e| format!("corrected: {e}")) {
                return refuse(NoticeReason::Invalid, reason);
            }
        }
        Ok(Checked { kind, nir, nirs })
    }

    /// Ranks the answered cases among `cases` again, now: their contact-list orders were dropped
    /// by the rectification; a worklist page reads the new order.
    fn rank_again(&self, cases: &[Uuid]) -> Result<(), RequesterError> {
        for &id in cases {
            let Some(case) = self.store().case(id)?.filter(|c| c.state == CaseState::Answered) else { continue };
            let submission = self.submission_of(&case)?;
            self.listed_persons(&submission, &case)?;
        }
        Ok(())
    }
}

/// A rights request as checked: its kind, its person, and every NIR to match.
struct Checked {
    kind: RightsKind,
    nir: Nir,
    nirs: Vec<String>,
}

/// When an answer expires: the request's `answer_by`, or [`LATE_ANSWER_WINDOW`] from `now` when
/// that has passed (or is missing), never past the request's 30-day cap from `asked_at` (from
/// `now` when missing).
pub fn answer_expires_at(now: SystemTime, asked_at: Option<SystemTime>, answer_by: Option<SystemTime>) -> SystemTime {
    let cap = asked_at.unwrap_or(now).min(now) + OBSERVATORY_RETENTION_CAP;
    let by = answer_by.filter(|t| *t > now).unwrap_or(now + LATE_ANSWER_WINDOW);
    by.min(cap)
}

/// What one row of the person holds, as the answer says it.
fn holdings_of(p: &HeldPerson, own: &str) -> Vec<v1::Holding> {
    let holding = |kind: HoldingKind, since: SystemTime| v1::Holding {
        kind: kind as i32,
        case_id: p.case.to_string(),
        requester: own.to_owned(),
        since: Some(since.into()),
        until: Some(p.purge_after.into()),
        ..Default::default()
    };
    let mut out = Vec::new();
    let mut selection = holding(HoldingKind::Selection, p.submitted_at);
    if !p.known.is_empty() {
        selection.values.push(v1::SourcedValues { source: own.to_owned(), values: Some(p.known.clone()) });
    }
    out.push(selection);
    if let Some((answers, received_at)) = &p.answers {
        let values: Vec<v1::SourcedValues> = answers
            .iter()
            .filter_map(|a| {
                let values = a.values.as_ref().filter(|v| !v.is_empty())?;
                Some(v1::SourcedValues { source: a.body.clone(), values: Some(values.clone()) })
            })
            .collect();
        if !values.is_empty() {
            out.push(v1::Holding { values, ..holding(HoldingKind::ReceivedValues, *received_at) });
        }
    }
    if let Some((outcome, date)) = p.outcome {
        let outcome = match outcome {
            Outcome::Accepted => v1::OfferOutcome::Accepted,
            Outcome::Declined => v1::OfferOutcome::Declined,
            Outcome::NoReply => v1::OfferOutcome::NoReply,
        };
        let day = v1::Date { year: date.year() as u32, month: date.month(), day: date.day() };
        // Held since the day it was recorded for, until the case's purge.
        let since = date.and_hms_opt(0, 0, 0).map_or(p.submitted_at, |t| t.and_utc().into());
        out.push(v1::Holding {
            outcome: outcome as i32,
            outcome_date: Some(day),
            ..holding(HoldingKind::OfferOutcome, since)
        });
    }
    out
}

/// The changes as the answer lists them: one per (where, case, category), whatever the sources.
fn rectified_list(changes: &[RectifiedValue]) -> Vec<v1::Rectified> {
    let kind = |held| match held {
        Held::Selection => HoldingKind::Selection,
        Held::ReceivedValues => HoldingKind::ReceivedValues,
    };
    let set: BTreeSet<(i32, String, i32)> =
        changes.iter().map(|c| (kind(c.held) as i32, c.case.to_string(), c.category as i32)).collect();
    set.into_iter().map(|(kind, case_id, category)| v1::Rectified { kind, case_id, category }).collect()
}

/// The consumer of the party's rights queue.
struct RightsHandler {
    requester: Requester,
}

#[async_trait::async_trait]
impl Handler for RightsHandler {
    async fn handle(&self, delivery: Delivery) -> Verdict {
        match delivery.message {
            Message::RightsRequest(request) => self.requester.on_rights_request(request).await,
            other => Verdict::dead_letter(
                NoticeReason::WrongType,
                format!("a requester's rights queue takes rights requests, not {}", other.kind()),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use passerelle_protocol::rules::days;

    #[test]
    fn an_answer_is_due_by_the_request_or_a_week_on_never_past_the_cap() {
        let now = SystemTime::UNIX_EPOCH + days(20_000);
        // Due by its answer_by.
        assert_eq!(answer_expires_at(now, Some(now - days(1)), Some(now + days(10))), now + days(10));
        // answer_by passed: a week from now.
        assert_eq!(answer_expires_at(now, Some(now - days(10)), Some(now - days(1))), now + days(7));
        assert_eq!(answer_expires_at(now, None, None), now + days(7));
        // Never past the 30-day cap of the request.
        assert_eq!(answer_expires_at(now, Some(now - days(27)), Some(now - days(1))), now + days(3));
        assert_eq!(answer_expires_at(now, Some(now - days(5)), Some(now + days(90))), now + days(25));
        // A request whose cap has passed: due already (not answered).
        assert!(answer_expires_at(now, Some(now - days(31)), None) <= now);
    }

    #[test]
    fn a_change_in_several_sources_is_listed_once() {
        let case = Uuid::now_v7();
        let change = |held, source: &str| RectifiedValue {
            case,
            line: 2,
            category: v1::Category::FamilySituation,
            held,
            source: source.into(),
        };
        let list = rectified_list(&[
            change(Held::ReceivedValues, "cnav"),
            change(Held::ReceivedValues, "msa"),
            change(Held::Selection, "cnaf.caf-13"),
        ]);
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].kind, HoldingKind::Selection as i32);
        assert_eq!(list[1].kind, HoldingKind::ReceivedValues as i32);
    }
}
