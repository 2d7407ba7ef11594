//! The persons' rights (decree art. 6, DESIGN §7.3, `rights.proto`) at this observatory, in its
//! two parts:
//!
//! - **answering**, as a party asked (for any observatory's request, its own included): what it
//!   holds about the person under each of their NIRs — its cases in flight (a
//!   `CASE_IN_FLIGHT` holding each, with the person's values and their sources) and its
//!   statistics rows (a `STATISTICS` holding each, found by the pseudonyms of the NIRs) — and the
//!   requester party of each, in `parties_to_ask`. A rectification first replaces, in the
//!   person's statistics rows, the value of each corrected category (all sources); the same
//!   rectification twice changes nothing the second time. Cases in flight are not rewritten:
//!   their payloads go within 30 days, and the result they produce reaches the requester, which
//!   the same request also reaches;
//! - **the rights desk**, as the competent observatory ([`passerelle_rights::RightsDesk`]): the
//!   answers to its requests, recorded on the same queue; its outbox is published by
//!   [`run_desk_publisher`], and its deadlines and purges run on the timer.
//!
//! Costs: finding a person in the cases in flight opens every person of every case still holding
//! payloads (a sequential pass over the persons table, some microseconds a person: about a
//! second for a million persons in flight); finding them in the statistics store scans its table
//! once per NIR (no index by pseudonym, on purpose). Rights requests are rare; neither is paid on
//! the exchange's path.
//!
//! Every answer is logged: the access log (`daemon:observatory`, `read` for access, `update` for
//! a rectification, object `rights-<request_id>`, about the person) and the audit trail
//! ([`Action::RightsAnswered`]: ids and counts, no NIR, no value). A request that cannot be
//! answered (no kind, a malformed NIR, a rectification without a value, another recipient, a
//! sender that is not an observatory of the deployment) is dead-lettered with its reason. The
//! answer is published directly (not through the case outbox: it belongs to no case); until the
//! broker confirmed it the request is not acknowledged, and a redelivered request is answered
//! again in full, a rectification with what it changed the first time (the statistics store
//! records it with the change).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use passerelle_access_log::{daemon_actor, AccessEntry, AccessKind};
use passerelle_bus::{Bus, BusError, Delivery, Message, NoticeReason, Outgoing, Verdict};
use passerelle_observatory_store::audit::Action;
use passerelle_observatory_store::statistics::REQUESTER_SOURCE;
use passerelle_observatory_store::{CaseState, StoreError};
use passerelle_protocol::nir::Nir;
use passerelle_protocol::v1::{self, HoldingKind, PersonStatus, RightsKind};
use passerelle_protocol::{catalogue, value};
use passerelle_rights::RightsError;
use prost::Message as _;
use tokio::sync::watch;

use crate::accesses::DAEMON;
use crate::engine::{quoted_id, Engine};

/// The longest an answer waits in the asking observatory's queue: the legal month.
const ANSWER_CAP: Duration = Duration::from_secs(30 * 86_400);

/// The expiry of an answer to a request whose deadline has already passed: the asking
/// observatory still records it (as late).
const LATE_ANSWER_EXPIRY: Duration = Duration::from_secs(7 * 86_400);

/// How often the desk's outbox is published without being woken (each answer recorded wakes it).
const DESK_POLL: Duration = Duration::from_secs(5);

/// What a rights request came to: the answer to publish, or its refusal.
pub(crate) enum Decided {
    Answer(Box<Outgoing>),
    Refused(Verdict),
}

impl Engine {
    /// Checks a rights request, finds (and for a rectification, corrects) what this observatory
    /// holds about the person, records the answer in the access log and the audit trail, and
    /// returns it to publish.
    pub(crate) fn answer_rights_request(&self, d: &Delivery, r: &v1::RightsRequest) -> Result<Decided, StoreError> {
        let refuse = |code: NoticeReason, reason: String| {
            self.store.write(|tx| self.dead_letter(tx, d, code, reason)).map(Decided::Refused)
        };
        let own = self.config.code.as_str();
        if r.recipient != own {
            return refuse(
                NoticeReason::Invalid,
                format!("a rights request for {} reached observatory {own}", quoted_id(&r.recipient)),
            );
        }
        if !self.config.observatories.contains(&r.sender) {
            return refuse(
                NoticeReason::NotPermitted,
                format!("rights request sender {} is not an observatory of this deployment", quoted_id(&r.sender)),
            );
        }
        if uuid::Uuid::parse_str(&r.request_id).is_err() {
            return refuse(NoticeReason::Invalid, "the rights request's request_id is not a UUID".into());
        }
        let kind = match RightsKind::try_from(r.kind) {
            Ok(k @ (RightsKind::Access | RightsKind::Rectification)) => k,
            _ => {
                return refuse(
                    NoticeReason::Invalid,
                    "the rights request names no kind (access or rectification)".into(),
                )
            }
        };
        let nir = match Nir::parse(&r.nir) {
            Ok(n) => n,
            // Not the parser's words: they quote digits of the NIR (its commune, its key).
            Err(_) => return refuse(NoticeReason::Invalid, "nir: not a valid NIR or NIA".into()),
        };
        if r.former_nirs.len() > passerelle_rights::MAX_FORMER_NIRS {
            return refuse(
                NoticeReason::Invalid,
                format!(
                    "former_nirs: {} former NIRs, more than the {} a request may name",
                    r.former_nirs.len(),
                    passerelle_rights::MAX_FORMER_NIRS
                ),
            );
        }
        let mut nirs = vec![nir.clone()];
        for (i, former) in r.former_nirs.iter().enumerate() {
            match Nir::parse(former) {
                Ok(n) if !nirs.contains(&n) => nirs.push(n),
                Ok(_) => {}
                Err(_) => {
                    return refuse(
                        NoticeReason::Invalid,
                        format!("former_nirs: former NIR #{} is not a valid NIR or NIA", i + 1),
                    )
                }
            }
        }
        let corrected = r.corrected.clone().unwrap_or_default();
        if kind == RightsKind::Rectification && corrected.is_empty() {
            return refuse(NoticeReason::Invalid, "a rectification without a corrected value".into());
        }
        if let Err(reason) = passerelle_rights::check_corrected(&corrected) {
            return refuse(NoticeReason::Invalid, reason);
        }

        let now = self.clock.now();
        let mut parties = BTreeSet::new();
        let mut holdings = self.cases_holding(&nirs, &mut parties)?;
        let pseudonyms: Vec<String> = nirs.iter().map(|n| self.pseudonymiser.pseudonym(n.as_str())).collect();
        let mut rectified = Vec::new();
        if kind == RightsKind::Rectification {
            let pairs: Vec<(String, String)> =
                corrected.present().map(|(c, v)| (c.code().to_owned(), value::format(&v))).collect();
            let changes = match self.statistics.rectify(&r.request_id, &pseudonyms, &pairs, now) {
                Ok(changes) => changes,
                // A value the statistics store refuses is the request's fault: retrying changes nothing.
                Err(e @ (StoreError::Identifying(_) | StoreError::PersonalData(_))) => {
                    return refuse(NoticeReason::Invalid, format!("corrected: {e}"))
                }
                Err(e) => return Err(e),
            };
            for change in changes {
                let category = catalogue::by_code(&change.category).map_or(0, |i| i.category as i32);
                rectified.push(v1::Rectified {
                    kind: HoldingKind::Statistics as i32,
                    case_id: change.case_id,
                    category,
                });
            }
        }
        let case_holdings = holdings.len();
        for row in self.statistics.rows_of(&pseudonyms)? {
            let requester = self.results_key(&row.requester, &row.requester_office);
            parties.insert(requester.clone());
            let mut by_source: BTreeMap<String, v1::CategoryValues> = BTreeMap::new();
            for v in &row.values {
                let source = if v.source == REQUESTER_SOURCE { requester.clone() } else { v.source.clone() };
                let Some(info) = catalogue::by_code(&v.category) else { continue };
                if let Ok(Some(parsed)) = value::parse(info.value_type, &v.value) {
                    let _ = by_source.entry(source).or_default().set(info.category, parsed);
                }
            }
            holdings.push(v1::Holding {
                kind: HoldingKind::Statistics as i32,
                case_id: row.case_id,
                requester,
                since: Some(row.recorded_at.into()),
                until: Some((row.recorded_at + self.config.statistics_retention).into()),
                values: by_source
                    .into_iter()
                    .map(|(source, values)| v1::SourcedValues { source, values: Some(values) })
                    .collect(),
                ..Default::default()
            });
        }
        let statistics_holdings = holdings.len() - case_holdings;

        let answer = v1::RightsAnswer {
            schema_minor: passerelle_protocol::SCHEMA_MINOR,
            schema_version: v1::SchemaVersion::SchemaVersion1 as i32,
            sender: own.to_owned(),
            request_id: r.request_id.clone(),
            recipient: r.sender.clone(),
            kind: kind as i32,
            holdings,
            parties_to_ask: parties.into_iter().collect(),
            rectified,
            answered_at: Some(now.into()),
        };
        let access = match kind {
            RightsKind::Rectification => AccessKind::Update,
            _ => AccessKind::Read,
        };
        let entry = AccessEntry::new(now, daemon_actor(DAEMON), access, format!("rights-{}", r.request_id))
            .about(self.accesses.person(&nir));
        self.store.write(|tx| {
            self.accesses.record(&entry).map_err(|e| StoreError::AccessLog(e.to_string()))?;
            self.audit(
                tx,
                Action::RightsAnswered,
                None,
                &self.own_actor(),
                serde_json::json!({ "request_id": r.request_id, "kind": kind_label(kind), "asked_by": r.sender,
                    "cases_in_flight": case_holdings, "statistics_rows": statistics_holdings,
                    "parties_to_ask": answer.parties_to_ask.len(), "rectified": answer.rectified.len() }),
            )
        })?;
        tracing::info!(request_id = %r.request_id, kind = kind_label(kind), asked_by = %r.sender,
            cases_in_flight = case_holdings, statistics_rows = statistics_holdings,
            rectified = answer.rectified.len(), "rights request answered");
        let expires_at = answer_expiry(r.answer_by.and_then(|t| SystemTime::try_from(t).ok()), now);
        let to = r.sender.clone();
        Ok(Decided::Answer(Box::new(Outgoing::new(Message::RightsAnswer(answer), to, expires_at))))
    }

    /// A `CASE_IN_FLIGHT` holding per case still holding payloads that has the person under one
    /// of `nirs` (the requester's values and each body's, with their sources), its requester
    /// party added to `parties`.
    fn cases_holding(&self, nirs: &[Nir], parties: &mut BTreeSet<String>) -> Result<Vec<v1::Holding>, StoreError> {
        let wanted: Vec<&str> = nirs.iter().map(Nir::as_str).collect();
        self.store.read(|tx| {
            let mut holdings = Vec::new();
            for case in tx.cases_in(&CaseState::HOLDING_PAYLOADS)? {
                let persons = tx.persons_matching(&case.case_id, &wanted)?;
                if persons.is_empty() {
                    continue;
                }
                let requester = self.results_key(&case.requester, &case.requester_office);
                parties.insert(requester.clone());
                let mut values = Vec::new();
                for p in &persons {
                    if let Ok(known) = v1::CategoryValues::decode(p.risk_factors.as_slice()) {
                        if !known.is_empty() {
                            values.push(v1::SourcedValues { source: requester.clone(), values: Some(known) });
                        }
                    }
                    let chunk = (p.person_ref / u64::from(case.chunk_size.max(1))) as u32;
                    for a in tx.answers(&case.case_id, case.chunk_refs(chunk))? {
                        if a.person_ref != p.person_ref || a.status != PersonStatus::Found as i32 {
                            continue;
                        }
                        if let Ok(found) = v1::CategoryValues::decode(a.values.as_slice()) {
                            values.push(v1::SourcedValues { source: a.body.to_string(), values: Some(found) });
                        }
                    }
                }
                holdings.push(v1::Holding {
                    kind: HoldingKind::CaseInFlight as i32,
                    case_id: case.case_id.clone(),
                    requester,
                    since: Some(case.arrived_at.into()),
                    until: Some(case.expires_at.into()),
                    values,
                    ..Default::default()
                });
            }
            Ok(holdings)
        })
    }

    /// Records a party's answer to one of this observatory's rights requests on its desk.
    pub(crate) fn record_rights_answer(&self, d: &Delivery, a: &v1::RightsAnswer) -> Result<Verdict, StoreError> {
        let own = self.config.code.as_str();
        if a.recipient != own {
            let reason = format!("a rights answer for {} reached observatory {own}", quoted_id(&a.recipient));
            return self.store.write(|tx| self.dead_letter(tx, d, NoticeReason::Invalid, reason));
        }
        let now = self.clock.now();
        // Only a requester party of this deployment is asked: never a social service (another
        // processing), an observatory (asked already), a responder-only name or a stranger.
        let mut a = a.clone();
        let named = a.parties_to_ask.len();
        a.parties_to_ask.retain(|p| self.is_requester_party(p));
        if a.parties_to_ask.len() < named {
            tracing::warn!(request_id = %quoted_id(&a.request_id), party = %quoted_id(&a.sender),
                not_asked = named - a.parties_to_ask.len(),
                "a rights answer named parties to ask that are not requester parties of this deployment: not asked");
        }
        let a = &a;
        match self.desk.record_answer(a, now) {
            Ok(recorded) => {
                if recorded.first && recorded.late {
                    tracing::warn!(request_id = %quoted_id(&a.request_id), party = %quoted_id(&a.sender),
                        "a rights answer arrived after the request's deadline: recorded as late, the rights officer is told");
                    self.store.write(|tx| {
                        self.audit(
                            tx,
                            Action::RightsLateAnswer,
                            None,
                            &self.own_actor(),
                            serde_json::json!({ "request_id": quoted_id(&a.request_id), "party": quoted_id(&a.sender) }),
                        )
                    })?;
                }
                if recorded.new_parties > 0 || recorded.completed {
                    tracing::info!(request_id = %quoted_id(&a.request_id), party = %quoted_id(&a.sender),
                        new_parties = recorded.new_parties, completed = recorded.completed, "rights answer recorded");
                }
                self.desk_ready.notify_one();
                Ok(Verdict::Ack)
            }
            Err(RightsError::Store(e)) => Err(StoreError::Corrupt(format!("rights desk: {e}"))),
            Err(e) => self.store.write(|tx| self.dead_letter(tx, d, NoticeReason::Invalid, e.to_string())),
        }
    }

    /// Whether `party` reads a requester's rights queue in this deployment: an office
    /// `{body}.{office}` that `[broker.offices]` declares, or a body without offices.
    fn is_requester_party(&self, party: &str) -> bool {
        match party.split_once('.') {
            Some((body, office)) => self.config.offices.get(body).is_some_and(|l| l.iter().any(|o| o == office)),
            None => self.config.bodies.iter().any(|b| b == party) && !self.config.offices.contains_key(party),
        }
    }

    /// The desk's timer: deadlines passed are answered, requests past their latest date purged.
    pub(crate) fn tick_rights(&self) {
        match self.desk.tick(self.clock.now()) {
            Ok(t) if t.answered_at_deadline + t.purged > 0 => {
                tracing::info!(answered_at_deadline = t.answered_at_deadline, purged = t.purged, "rights desk tick");
                self.desk_ready.notify_one();
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %e, "STORAGE ERROR in the rights desk's timer; retrying on the next tick")
            }
        }
    }
}

/// The answer's expiry: the request's deadline, at most the legal month from now; a deadline
/// already past gives a short expiry instead (the answer is still recorded, as late).
pub(crate) fn answer_expiry(answer_by: Option<SystemTime>, now: SystemTime) -> SystemTime {
    let cap = now + ANSWER_CAP;
    match answer_by {
        Some(by) if by > now => by.min(cap),
        Some(_) => now + LATE_ANSWER_EXPIRY,
        None => cap,
    }
}

fn kind_label(kind: RightsKind) -> &'static str {
    match kind {
        RightsKind::Rectification => "rectification",
        _ => "access",
    }
}

/// Publishes an answer decided by [`Engine::answer_rights_request`]: acknowledged once the
/// broker confirmed it, retried while the broker fails.
pub(crate) async fn publish_answer(bus: &dyn Bus, answer: Outgoing) -> Verdict {
    let (request_id, to) = (answer.message.case_id().to_owned(), answer.routing_key.clone());
    match bus.publish(vec![answer]).await {
        Ok(()) => Verdict::Ack,
        Err(e @ (BusError::Returned { .. } | BusError::Expired { .. })) => {
            tracing::error!(request_id = %quoted_id(&request_id), to = %quoted_id(&to), error = %e,
                "the rights answer cannot reach the asking observatory: dropped");
            Verdict::Ack
        }
        Err(e) => Verdict::RetryLater(format!("publishing the rights answer: {e}")),
    }
}

/// Publishes the rights desk's outbox until `stop` is raised: after each answer recorded (which
/// wakes it), after each timer tick that changed something, and every [`DESK_POLL`].
pub(crate) async fn run_desk_publisher(engine: Arc<Engine>, bus: Arc<dyn Bus>, mut stop: watch::Receiver<bool>) {
    loop {
        if *stop.borrow() {
            return;
        }
        publish_desk_outbox(&engine, bus.as_ref()).await;
        tokio::select! {
            _ = engine.desk_ready.notified() => {}
            _ = tokio::time::sleep(DESK_POLL) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// One pass over the desk's outbox. A party with no rights queue (the broker returns the
/// message) does not block the others: it is logged, marked sent, and stays unanswered on the
/// desk. Any other failure (the broker down) stops the pass; the next one retries.
async fn publish_desk_outbox(engine: &Arc<Engine>, bus: &dyn Bus) {
    let e = Arc::clone(engine);
    let pending = match tokio::task::spawn_blocking(move || e.desk.outbox(e.clock.now())).await {
        Ok(Ok(pending)) => pending,
        Ok(Err(e)) => return tracing::error!(error = %e, "STORAGE ERROR reading the rights desk's outbox"),
        Err(e) => return tracing::error!(error = %e, "reading the rights desk's outbox failed"),
    };
    for outbound in pending {
        let (seq, request_id, party) =
            (outbound.seq, outbound.request.request_id.clone(), outbound.request.recipient.clone());
        let outgoing = Outgoing {
            message: Message::RightsRequest(outbound.request),
            routing_key: party.clone(),
            message_id: outbound.message_id,
            expires_at: outbound.expires_at,
        };
        match bus.publish(vec![outgoing]).await {
            Ok(()) => {}
            Err(e @ BusError::Returned { .. }) => tracing::warn!(request_id = %quoted_id(&request_id),
                party = %quoted_id(&party), error = %e, "a party asked has no rights queue: it stays unanswered"),
            Err(e @ BusError::Expired { .. }) => tracing::warn!(request_id = %quoted_id(&request_id),
                party = %quoted_id(&party), error = %e, "a rights request passed its cap before it was sent"),
            Err(e) => {
                return tracing::warn!(error = %e, "publishing the rights desk's outbox failed; retrying later");
            }
        }
        let e = Arc::clone(engine);
        match tokio::task::spawn_blocking(move || e.desk.sent(seq)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                return tracing::error!(error = %e, "STORAGE ERROR marking a rights request sent; it will go again")
            }
            Err(e) => return tracing::error!(error = %e, "marking a rights request sent failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_expires_with_the_request_within_the_legal_month() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let day = Duration::from_secs(86_400);
        assert_eq!(answer_expiry(Some(now + 10 * day), now), now + 10 * day);
        assert_eq!(answer_expiry(Some(now + 90 * day), now), now + ANSWER_CAP);
        assert_eq!(answer_expiry(None, now), now + ANSWER_CAP);
        assert_eq!(answer_expiry(Some(now - day), now), now + LATE_ANSWER_EXPIRY, "never in the past");
    }
}
