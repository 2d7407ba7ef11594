//! The engine: the durable per-case state machine, as synchronous operations on the stores.
//!
//! Every operation is one SQLite transaction that reads the case, decides, writes the new state,
//! the messages the change causes (into the outbox), the processed message id (into the inbox)
//! and the audit entries — all or nothing. The async side ([`crate::service`]) runs them on the
//! blocking pool and acknowledges a delivery only after the transaction committed.
//!
//! The handlers are split by flow step: [`crate::requests`] (requests and receipts),
//! [`crate::responses`], [`crate::deadlines`] (the timer: reminders, deadlines, purges,
//! retention) and [`crate::publisher`] (draining the outbox). This module holds what they share.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use passerelle_access_log::{AccessKind, Accesses};
use passerelle_bus::{Delivery, Message, NoticeReason, Rejected, Verdict};
use passerelle_observatory_store::audit::{Action, AuditEntry};
use passerelle_observatory_store::{
    CaseEvent, CaseRecord, CaseStore, OutboxEntry, Pseudonymiser, StatisticsStore, StoreError, StoredSolicitation, Tx,
};
use passerelle_protocol::nir::NIR_LEN;
use passerelle_protocol::rules::Clock;
use passerelle_protocol::untrusted::{is_identifier, Shown, REASON_CHARS};
use passerelle_protocol::v1::{self, Category};
use tokio::sync::Notify;

use crate::aggregate;
use crate::settings::{Config, ObservatorySettings};
use crate::solicit;
use crate::ObservatoryError;

/// The stores, the configuration and the clock, shared by every task of the daemon.
#[derive(Debug)]
pub(crate) struct Engine {
    pub(crate) config: Config,
    pub(crate) store: CaseStore,
    pub(crate) statistics: StatisticsStore,
    pub(crate) pseudonymiser: Pseudonymiser,
    pub(crate) clock: Arc<dyn Clock>,
    /// Woken whenever a transaction put messages in the outbox.
    pub(crate) outbox_ready: Notify,
    /// A purge committed: the timer must rebuild the file and truncate the WAL (again, if a
    /// reader blocked the truncation).
    pub(crate) reclaim_pending: AtomicBool,
    /// When the case store was last rebuilt (none yet since the start): the purges of
    /// [`Config::rebuild_interval`] share one rebuild.
    ///
    /// [`Config::rebuild_interval`]: crate::settings::Config::rebuild_interval
    pub(crate) last_rebuild: Mutex<Option<Instant>>,
    /// The daemon is stopping: a purge in progress stops between two slices (it resumes on
    /// the next start, the case still holding what is left).
    pub(crate) stopping: AtomicBool,
    /// The NIRs ([`passerelle_protocol::nir::Nir::as_u64`], 8 bytes a person) accepted so far
    /// in each case still receiving: a duplicate NIR is refused from memory rather than through
    /// an index on disk, whose random pages every chunk's commit rewrote (the request stage's
    /// cost grew with the case). Rebuilt from the store on a case's first chunk after a start,
    /// extended only after a chunk's commit, dropped when the case stops receiving.
    pub(crate) receiving_nirs: Mutex<HashMap<String, HashSet<u64>>>,
    /// The daemon's access log (`data_dir/access.db`): its machine actions per chunk or per
    /// case ([`crate::accesses`]), the local API's reads and refusals.
    pub(crate) accesses: Accesses,
    /// The rights desk (`data_dir/rights.db`): this observatory's rights requests as the
    /// competent one ([`crate::rights`]).
    pub(crate) desk: passerelle_rights::RightsDesk,
    /// Woken when the desk's outbox may hold something to publish.
    pub(crate) desk_ready: Notify,
}

impl Engine {
    /// Opens the stores (creating them and the pseudonym key on first start), after moving the
    /// statistics files of an earlier layout to their places (the caller holds the `data_dir`
    /// lock).
    pub(crate) fn open(settings: &ObservatorySettings, clock: Arc<dyn Clock>) -> Result<Engine, ObservatoryError> {
        let config = settings.resolve()?;
        let store = CaseStore::open(&settings.case_db_path())?;
        // Keys left by a transaction a crash cut short seal nothing: they go at start.
        store.forget_spent_keys()?;
        passerelle_observatory_store::statistics::settle(&settings.statistics_placement())?;
        let statistics = StatisticsStore::open(&settings.statistics_db_path())?;
        let pseudonymiser = Pseudonymiser::load_or_create(&settings.secret_path())?;
        let accesses = Accesses::open_in(&settings.data_dir, settings.trails.time_zone)?;
        let desk = passerelle_rights::RightsDesk::open(
            &settings.data_dir,
            config.code.as_str(),
            &settings.broker.observatories,
            &settings.rights,
        )
        .map_err(ObservatoryError::Rights)?;
        Ok(Engine {
            config,
            store,
            statistics,
            pseudonymiser,
            clock,
            outbox_ready: Notify::new(),
            // A purge may have committed just before a crash: rebuild once on start.
            reclaim_pending: AtomicBool::new(true),
            last_rebuild: Mutex::new(None),
            stopping: AtomicBool::new(false),
            receiving_nirs: Mutex::new(HashMap::new()),
            accesses,
            desk,
            desk_ready: Notify::new(),
        })
    }

    /// The observatory itself, as the audit trail names it for timed actions.
    pub(crate) fn own_actor(&self) -> String {
        format!("observatory:{}", self.config.code)
    }

    /// Appends an audit entry in `tx`.
    pub(crate) fn audit(
        &self,
        tx: &Tx<'_>,
        action: Action,
        case_id: Option<&str>,
        actor: &str,
        detail: serde_json::Value,
    ) -> Result<(), StoreError> {
        tx.audit_append(&AuditEntry::new(self.clock.now(), action, case_id, actor, detail)).map(|_| ())
    }

    /// Puts a message for a case into the outbox, expiring with the case's cap.
    /// The routing key of a case's results and refusals: the requesting office when its body
    /// has offices (its own queue, which no other office may read), else the body.
    pub(crate) fn results_key(&self, body: &str, office: &str) -> String {
        passerelle_bus::office::requester_party(&self.config.offices, body, office).unwrap_or_else(|_| body.to_owned())
    }

    /// Why broker user of `d` may not act for `body`'s requester at `office`, when the body has
    /// offices: the office must be one the deployment declares and the user must speak for it
    /// (`None`: it may, or the body has no offices and the bus already checked the user).
    pub(crate) fn not_the_office(&self, d: &Delivery, body: &str, office: &str) -> Option<String> {
        if !self.config.offices.contains_key(body) {
            return None;
        }
        match passerelle_bus::office::requester_party(&self.config.offices, body, office) {
            Err(_) => Some(format!(
                "office {} is not one of body {}'s offices in this deployment",
                quoted_id(office),
                quoted_id(body)
            )),
            Ok(party) if !self.config.identity.may_speak_for(&d.user_id, &party) => Some(format!(
                "broker user {} may not speak for requester office {}",
                Shown::text(&d.user_id).at_most(MAX_ID_LEN),
                quoted_id(&party)
            )),
            Ok(_) => None,
        }
    }

    pub(crate) fn enqueue(
        &self,
        tx: &Tx<'_>,
        case_id: &str,
        expires_at: SystemTime,
        message: Message,
        routing_key: &str,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        tx.enqueue(
            &OutboxEntry {
                case_id: case_id.to_owned(),
                kind: message.kind().type_name().to_owned(),
                routing_key: routing_key.to_owned(),
                message_id: uuid::Uuid::now_v7().to_string(),
                expires_at,
                payload: message.encode(),
            },
            now,
        )
    }

    /// Refuses a delivery for good: audits it and answers `DeadLetter` (the bus publishes it to
    /// the dead-letter exchange with the reason, and tells its sender with a notice). The reason
    /// holds ids and codes only.
    pub(crate) fn dead_letter(
        &self,
        tx: &Tx<'_>,
        d: &Delivery,
        code: NoticeReason,
        reason: String,
    ) -> Result<Verdict, StoreError> {
        tracing::warn!(message_id = %Shown::id(&d.message_id), kind = %d.message.kind(),
            case_id = %quoted_id(d.message.case_id()), reason = %Shown::text(&reason).at_most(REASON_CHARS),
            "message refused for good (dead-lettered)");
        self.audit_dead_letter(
            tx,
            Some(d.message.case_id()).filter(|c| c.len() <= MAX_ID_LEN && is_identifier(c)),
            &delivery_actor(d),
            d.message.kind().type_name(),
            serde_json::json!({ "kind": d.message.kind().type_name(), "message_id": Shown::id(&d.message_id).to_string(),
                "reason": reason, "code": code.as_str_name() }),
        )?;
        Ok(Verdict::dead_letter(code, reason))
    }

    /// The versions rule at the observatory: a message with fields unknown at its own schema
    /// minor (the bus lists them, [`Delivery::unknown_fields`]) is a violation, audited by the
    /// fields' paths (numbers and names, never a value); the message is otherwise processed.
    pub(crate) fn audit_unknown_fields(&self, tx: &Tx<'_>, d: &Delivery) -> Result<(), StoreError> {
        if d.unknown_fields.is_empty() {
            return Ok(());
        }
        let case_id = Some(d.message.case_id()).filter(|c| uuid::Uuid::parse_str(c).is_ok());
        self.audit(
            tx,
            Action::Violation,
            case_id,
            &delivery_actor(d),
            serde_json::json!({ "kind": d.message.kind().type_name(), "message_id": Shown::id(&d.message_id).to_string(),
                "schema_minor": d.message.schema_minor(), "unknown_fields": d.unknown_fields }),
        )
    }

    /// Records a delivery the bus refused before any handler saw it (undecodable, wrong type,
    /// headers that disagree, a user who may not speak for the sender, oversized): the bus
    /// dead-letters it once this has committed.
    pub(crate) fn record_rejection(&self, r: &Rejected) -> Result<(), StoreError> {
        let uuid = |s: &Option<String>| s.as_deref().filter(|s| uuid::Uuid::parse_str(s).is_ok()).map(str::to_owned);
        let kind = r.kind.map_or("unknown", |k| k.type_name());
        let user = Shown::text(r.user_id.as_deref().unwrap_or("unauthenticated")).at_most(MAX_ID_LEN).to_string();
        let case_id = uuid(&r.correlation_id);
        self.store.write(|tx| {
            self.audit_dead_letter(
                tx,
                case_id.as_deref(),
                &format!("user:{user}"),
                kind,
                serde_json::json!({ "kind": kind, "message_id": uuid(&r.message_id), "queue": r.queue,
                    "refused_by": "bus", "reason": r.reason, "code": r.code.as_str_name(),
                    "sender_told": r.answer_to.is_some() }),
            )
        })
    }

    /// Appends a dead-letter entry. Its ids and reason quote what a sender wrote; if that holds
    /// something the trail refuses (a valid NIR), the entry is still written, with those parts
    /// withheld — a refusal to record it would block the queue behind the message.
    fn audit_dead_letter(
        &self,
        tx: &Tx<'_>,
        case_id: Option<&str>,
        actor: &str,
        kind: &str,
        detail: serde_json::Value,
    ) -> Result<(), StoreError> {
        match self.audit(tx, Action::DeadLetter, case_id, actor, detail) {
            Err(StoreError::PersonalData(_)) => self.audit(
                tx,
                Action::DeadLetter,
                None,
                "withheld",
                serde_json::json!({ "kind": kind, "reason": WITHHELD_REASON }),
            ),
            other => other,
        }
    }

    /// A storage failure becomes *retry later*: the delivery is never acknowledged unless stored.
    pub(crate) fn settle(&self, result: Result<Verdict, StoreError>) -> Verdict {
        match result {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(error = %e, "STORAGE ERROR: the delivery stays unacknowledged and will be retried");
                Verdict::RetryLater(format!("storage error: {e}"))
            }
        }
    }

    /// Refuses a whole case that is still receiving: its payloads go, a refusal goes back.
    pub(crate) fn refuse_case(
        &self,
        tx: &Tx<'_>,
        case: &CaseRecord,
        problems: Vec<v1::Problem>,
        request_chunk_index: u32,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        // A case without any accepted person holds no payload but the refusals of its chunks,
        // which still go back; otherwise every payload goes before the refusal is queued.
        let counts = if case.persons_accepted > 0 {
            // The rebuild waits for this transaction's commit: it needs the store's lock.
            self.request_reclaim();
            tx.purge_case_payloads(&case.case_id, now)?
        } else {
            passerelle_observatory_store::PurgeCounts::default()
        };
        self.forget_receiving_nirs(&case.case_id);
        let reason = problems_text(&problems);
        tx.mark_refused(&case.case_id, case.state, &reason, now)?;
        self.enqueue_refusal(tx, case, true, problems, request_chunk_index, Vec::new(), now)?;
        let actor = self.own_actor();
        self.audit(
            tx,
            Action::Refusal,
            Some(&case.case_id),
            &actor,
            serde_json::json!({ "whole_case": true, "reason": reason }),
        )?;
        if counts.persons + counts.outbox > 0 {
            self.record_machine(AccessKind::Delete, [case.case_id.as_str()])?;
            self.audit(
                tx,
                Action::Purge,
                Some(&case.case_id),
                &actor,
                serde_json::json!({ "reason": "case refused", "persons": counts.persons, "answers": counts.answers,
                    "unsent_messages": counts.outbox }),
            )?;
        }
        Ok(())
    }

    /// Queues a refusal to the requester (whole case, or persons of one chunk).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn enqueue_refusal(
        &self,
        tx: &Tx<'_>,
        case: &CaseRecord,
        whole_case: bool,
        case_problems: Vec<v1::Problem>,
        request_chunk_index: u32,
        persons: Vec<v1::RefusedPerson>,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        let refusal = v1::Refusal {
            schema_minor: passerelle_protocol::SCHEMA_MINOR,
            schema_version: v1::SchemaVersion::SchemaVersion1 as i32,
            sender: self.config.code.to_string(),
            case_id: case.case_id.clone(),
            whole_case,
            case_problems,
            request_chunk_index,
            persons,
        };
        let to = self.results_key(&case.requester, &case.requester_office);
        self.enqueue(tx, &case.case_id, case.expires_at, Message::Refusal(refusal), &to, now)
    }

    /// Every request chunk is in: asks each other body that may hold a requested category, or
    /// refuses the case if no person was acceptable.
    pub(crate) fn start_soliciting(&self, tx: &Tx<'_>, case_id: &str, now: SystemTime) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        let case = tx.case(case_id)?.ok_or_else(|| StoreError::Corrupt(format!("case {case_id} vanished")))?;
        self.forget_receiving_nirs(case_id);
        if case.persons_accepted == 0 {
            let problem = crate::validate::problem("persons", "no person of the request could be accepted");
            return self.refuse_case(tx, &case, vec![problem], 0, now);
        }
        let wanted: Vec<Category> = case.wanted.iter().filter_map(|n| Category::try_from(*n).ok()).collect();
        let plan = self.config.routing.plan(&wanted, &case.requester);
        let chunk_count = case.person_chunk_count();
        let solicitations: Vec<StoredSolicitation> = plan
            .into_iter()
            .map(|(body, asked)| StoredSolicitation {
                solicitation_id: uuid::Uuid::now_v7().to_string(),
                case_id: case.case_id.clone(),
                body,
                categories: asked.into_iter().map(|c| c as i32).collect(),
                chunk_count,
                declines: aggregate::encode_outcome(&[], 0),
                created_at: now,
            })
            .collect();
        for s in &solicitations {
            tx.insert_solicitation(s)?;
        }
        for index in 0..chunk_count {
            let persons = tx.persons(&case.case_id, case.chunk_refs(index))?;
            for s in &solicitations {
                let chunk = solicit::solicitation_chunk(&self.config.code, &case, s, index, &persons, false);
                self.enqueue(tx, &case.case_id, case.expires_at, Message::Solicitation(chunk), s.body.as_str(), now)?;
            }
        }
        self.record_machine(AccessKind::Transfer, solicitations.iter().map(|s| s.case_id.as_str()))?;
        let actor = self.own_actor();
        for s in &solicitations {
            self.audit(
                tx,
                Action::SolicitationSent,
                Some(&case.case_id),
                &actor,
                serde_json::json!({ "body": s.body, "solicitation_id": s.solicitation_id, "chunks": chunk_count,
                    "persons": case.persons_accepted, "categories": codes(&s.categories) }),
            )?;
        }
        tracing::info!(case_id = %case.case_id, persons = case.persons_accepted, bodies = solicitations.len(),
            chunks = chunk_count, elapsed_ms = started.elapsed().as_millis() as u64, "case complete: solicitations queued");
        if solicitations.is_empty() {
            // No other body may hold what was asked: the result (everyone without answers) goes back.
            tx.transition(&case.case_id, case.state, CaseEvent::NoBodyToAsk, now)?;
            self.build_result(tx, &case.case_id, now)
        } else {
            tx.transition(&case.case_id, case.state, CaseEvent::SolicitationsQueued, now).map(drop)
        }
    }

    /// Builds the result (complete, or partial at the deadline) and queues its chunks.
    pub(crate) fn build_result(&self, tx: &Tx<'_>, case_id: &str, now: SystemTime) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        let case = tx.case(case_id)?.ok_or_else(|| StoreError::Corrupt(format!("case {case_id} vanished")))?;
        let solicitations = tx.solicitations(case_id)?;
        let mut answered = Vec::with_capacity(solicitations.len());
        for s in &solicitations {
            answered.push(tx.solicitation_chunks(&s.solicitation_id)?.iter().all(|c| c.answered_at.is_some()));
        }
        let outcomes = aggregate::body_outcomes(&solicitations, &answered);
        let completeness = aggregate::completeness(&outcomes);
        let chunk_count = case.person_chunk_count();
        for index in 0..chunk_count {
            let refs = case.chunk_refs(index);
            let persons = tx.persons(case_id, refs.clone())?;
            let answers = tx.answers(case_id, refs)?;
            let chunk = aggregate::result_chunk(
                &self.config.code,
                &case,
                &solicitations,
                &outcomes,
                completeness,
                index,
                chunk_count,
                &persons,
                &answers,
            );
            let to = self.results_key(&case.requester, &case.requester_office);
            self.enqueue(tx, case_id, case.expires_at, Message::Result(chunk), &to, now)?;
        }
        let label = completeness_label(completeness);
        tx.record_result(case_id, case.state, label, chunk_count, now)?;
        self.record_machine(AccessKind::Transfer, [case_id])?;
        let silent: Vec<&str> =
            solicitations.iter().zip(&answered).filter(|(_, a)| !**a).map(|(s, _)| s.body.as_str()).collect();
        let gaps: BTreeMap<&str, u32> =
            outcomes.iter().filter(|o| o.missing > 0).map(|o| (o.body.as_str(), o.missing)).collect();
        self.audit(
            tx,
            Action::ResultReturned,
            Some(case_id),
            &self.own_actor(),
            serde_json::json!({ "completeness": label, "chunks": chunk_count, "persons": case.persons_accepted,
                "silent_bodies": silent, "persons_missing": gaps }),
        )?;
        tracing::info!(
            case_id,
            completeness = label,
            chunks = chunk_count,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "result queued for the requester"
        );
        Ok(())
    }

    /// The in-memory duplicate check of a case that stops receiving is no longer needed (if the
    /// transaction rolls back, it is rebuilt from the store on the next chunk).
    pub(crate) fn forget_receiving_nirs(&self, case_id: &str) {
        self.receiving_nirs.lock().unwrap_or_else(|p| p.into_inner()).remove(case_id);
    }
}

/// The reason a dead-letter entry gives when the sender's ids or the reason quoted personal data.
pub(crate) const WITHHELD_REASON: &str = "withheld: the message's ids or the reason quoted what looks like a NIR";

/// Whether a sender-written text holds a valid NIR (a case id or sender made of one): such a
/// text is never quoted in a reason, a log line or the audit trail.
pub(crate) fn looks_like_nir(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    chars.split(|c| !c.is_ascii_alphanumeric()).filter(|run| run.len() >= NIR_LEN).any(|run| {
        run.windows(NIR_LEN).any(|w| passerelle_protocol::nir::Nir::parse(&w.iter().collect::<String>()).is_ok())
    })
}

/// A sender-written id as reasons and logs quote it: at most 40 characters, withheld when it is
/// not shaped like an id or holds what looks like a NIR ([`Shown::id`]).
pub(crate) fn quoted_id(text: &str) -> String {
    Shown::id(text).at_most(40).to_string()
}

/// The longest case id the audit trail records as such.
pub(crate) const MAX_ID_LEN: usize = 100;

/// Who sent a delivery: the claimed body and the broker user the bus validated for it.
pub(crate) fn delivery_actor(d: &Delivery) -> String {
    format!("body:{} user:{}", Shown::id(d.message.sender()), Shown::text(&d.user_id).at_most(MAX_ID_LEN))
}

/// Category numbers as codes.
pub(crate) fn codes(numbers: &[i32]) -> Vec<&'static str> {
    numbers.iter().filter_map(|n| Category::try_from(*n).ok()).map(Category::code).collect()
}

pub(crate) fn completeness_label(c: v1::Completeness) -> &'static str {
    match c {
        v1::Completeness::Complete => "complete",
        _ => "partial",
    }
}

/// Problems as one line (`field: reason; …`), for the case row and the audit trail.
pub(crate) fn problems_text(problems: &[v1::Problem]) -> String {
    problems.iter().map(|p| format!("{}: {}", p.field, p.reason)).collect::<Vec<_>>().join("; ")
}
