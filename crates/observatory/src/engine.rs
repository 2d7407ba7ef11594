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

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use passerelle_bus::{Delivery, Message, Rejected, Verdict};
use passerelle_protocol::nir::NIR_LEN;
use passerelle_protocol::rules::Clock;
use passerelle_protocol::v1::{self, Category};
use passerelle_store::audit::{Action, AuditEntry};
use passerelle_store::{
    CaseRecord, CaseState, CaseStore, ChunkStatistics, OutboxEntry, Pseudonymiser, PurgeCounts, StatisticsRow,
    StatisticsStore, StoreError, StoredAnswer, StoredPerson, StoredSolicitation, Tx,
};
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
}

impl Engine {
    /// Opens the stores (creating them and the statistics secret on first start).
    pub(crate) fn open(settings: &ObservatorySettings, clock: Arc<dyn Clock>) -> Result<Engine, ObservatoryError> {
        let config = settings.resolve()?;
        let store = CaseStore::open(&settings.case_db_path())?;
        let statistics = StatisticsStore::open(&settings.statistics_db_path())?;
        let pseudonymiser = Pseudonymiser::load_or_create(&settings.secret_path())?;
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
    /// the dead-letter exchange with the reason). The reason holds ids and codes only.
    pub(crate) fn dead_letter(&self, tx: &Tx<'_>, d: &Delivery, reason: String) -> Result<Verdict, StoreError> {
        tracing::warn!(message_id = %d.message_id, kind = %d.message.kind(), case_id = %quoted_id(d.message.case_id()),
            %reason, "message refused for good (dead-lettered)");
        self.audit_dead_letter(
            tx,
            Some(d.message.case_id()).filter(|c| !c.is_empty() && c.len() <= MAX_ID_LEN),
            &delivery_actor(d),
            d.message.kind().type_name(),
            serde_json::json!({ "kind": d.message.kind().type_name(), "message_id": d.message_id, "reason": reason }),
        )?;
        Ok(Verdict::DeadLetter(reason))
    }

    /// Records a delivery the bus refused before any handler saw it (undecodable, wrong type,
    /// headers that disagree, a user who may not speak for the sender, oversized): the bus
    /// dead-letters it once this has committed.
    pub(crate) fn record_rejection(&self, r: &Rejected) -> Result<(), StoreError> {
        let uuid = |s: &Option<String>| s.as_deref().filter(|s| uuid::Uuid::parse_str(s).is_ok()).map(str::to_owned);
        let kind = r.kind.map_or("unknown", |k| k.type_name());
        let user: String = r.user_id.as_deref().unwrap_or("unauthenticated").chars().take(MAX_ID_LEN).collect();
        let case_id = uuid(&r.correlation_id);
        self.store.write(|tx| {
            self.audit_dead_letter(
                tx,
                case_id.as_deref(),
                &format!("user:{user}"),
                kind,
                serde_json::json!({ "kind": kind, "message_id": uuid(&r.message_id), "queue": r.queue,
                    "refused_by": "bus", "reason": r.reason }),
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
            passerelle_store::PurgeCounts::default()
        };
        self.forget_receiving_nirs(&case.case_id);
        let reason = problems_text(&problems);
        tx.mark_refused(&case.case_id, &reason, now)?;
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
            schema_version: v1::SchemaVersion::SchemaVersion1 as i32,
            sender: self.config.code.clone(),
            case_id: case.case_id.clone(),
            whole_case,
            case_problems,
            request_chunk_index,
            persons,
        };
        self.enqueue(tx, &case.case_id, case.expires_at, Message::Refusal(refusal), &case.requester, now)
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
                declines: aggregate::encode_declines(&[]),
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
                self.enqueue(tx, &case.case_id, case.expires_at, Message::Solicitation(chunk), &s.body, now)?;
            }
        }
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
            tx.set_state(&case.case_id, CaseState::Collecting, now)?;
            self.build_result(tx, &case.case_id, now)
        } else {
            tx.set_state(&case.case_id, CaseState::Soliciting, now)
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
        let completeness = aggregate::completeness(&answered);
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
            self.enqueue(tx, case_id, case.expires_at, Message::Result(chunk), &case.requester, now)?;
        }
        let label = completeness_label(completeness);
        tx.record_result(case_id, label, chunk_count, now)?;
        let silent: Vec<&str> =
            solicitations.iter().zip(&answered).filter(|(_, a)| !**a).map(|(s, _)| s.body.as_str()).collect();
        self.audit(
            tx,
            Action::ResultReturned,
            Some(case_id),
            &self.own_actor(),
            serde_json::json!({ "completeness": label, "chunks": chunk_count, "persons": case.persons_accepted,
                "silent_bodies": silent }),
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

    /// Writes the cases' statistics rows, then purges their payloads and asks for the rebuild
    /// that makes the purge real on disk. Idempotent: a case already purged is left alone.
    ///
    /// Small cases (a tick's receipts of single-person cases, say) go together, up to
    /// [`PURGE_SLICE_PERSONS`] persons at a time: their statistics read in one read
    /// transaction, written in one statistics transaction, and their payloads purged in one
    /// case-store transaction. A tick's purge then takes the store a few times rather than a few
    /// hundred, and the live cases of that second wait behind it once at most, for a few
    /// milliseconds. A big case's statistics go chunk by chunk, its payloads in slices.
    pub(crate) fn purge_cases(&self, cases: &[CaseRecord], reason: &str) -> Result<(), StoreError> {
        let (big, small): (Vec<&CaseRecord>, Vec<&CaseRecord>) =
            cases.iter().partition(|c| c.persons_accepted > PURGE_SLICE_PERSONS);
        for case in big {
            if self.stopping.load(Ordering::SeqCst) {
                // Whatever is left goes on the next start (the case keeps its payloads).
                return Ok(());
            }
            self.purge_big_case(case, reason)?;
        }
        let mut batch: Vec<&CaseRecord> = Vec::new();
        let mut persons = 0;
        for case in small {
            if persons + case.persons_accepted > PURGE_SLICE_PERSONS && !batch.is_empty() {
                self.purge_small_cases(&std::mem::take(&mut batch), reason)?;
                persons = 0;
            }
            persons += case.persons_accepted;
            batch.push(case);
        }
        if !batch.is_empty() {
            self.purge_small_cases(&batch, reason)?;
        }
        Ok(())
    }

    /// Small cases together: one read, one statistics transaction, one purge transaction.
    fn purge_small_cases(&self, cases: &[&CaseRecord], reason: &str) -> Result<(), StoreError> {
        if self.stopping.load(Ordering::SeqCst) {
            return Ok(());
        }
        let read = self.store.read(|tx| {
            let mut read = Vec::new();
            for case in cases {
                let solicitations = tx.solicitations(&case.case_id)?;
                for index in 0..case.person_chunk_count() {
                    read.push((*case, index, solicitations.clone(), self.chunk_of_statistics(tx, case, index)?));
                }
            }
            Ok::<_, StoreError>(read)
        })?;
        in_background(|| {
            let chunks: Vec<ChunkStatistics> = read
                .iter()
                .map(|(case, index, solicitations, chunk)| ChunkStatistics {
                    case_id: case.case_id.clone(),
                    chunk: *index,
                    rows: self.statistics_rows(case, solicitations, chunk),
                })
                .collect();
            self.statistics.record(&chunks)
        })?;
        let purging: Vec<(&CaseRecord, PurgeCounts)> = cases.iter().map(|c| (*c, PurgeCounts::default())).collect();
        self.purge_final(&purging, reason)
    }

    /// A big case: its statistics chunk by chunk, then its payloads in slices, each its own
    /// transaction, so that its purge never holds the store for long (requests and responses of
    /// other cases run in between); the last slice goes with the rest of the case, in the final
    /// transaction.
    fn purge_big_case(&self, case: &CaseRecord, reason: &str) -> Result<(), StoreError> {
        let case_id = case.case_id.as_str();
        let started = std::time::Instant::now();
        let solicitations = self.store.read(|tx| tx.solicitations(case_id))?;
        // A case that ended without a result has no outcome to count.
        let counted = if case.result_at.is_some() { 0..case.person_chunk_count() } else { 0..0 };
        for index in counted {
            if self.stopping.load(Ordering::SeqCst) {
                return Ok(());
            }
            let chunk = self.store.read(|tx| self.chunk_of_statistics(tx, case, index))?;
            in_background(|| {
                let rows = self.statistics_rows(case, &solicitations, &chunk);
                self.statistics.record(&[ChunkStatistics { case_id: case.case_id.clone(), chunk: index, rows }])
            })?;
        }
        tracing::info!(
            case_id,
            persons = case.persons_accepted,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "case statistics written"
        );
        let mut counts = PurgeCounts::default();
        let mut start = 0;
        while case.persons_accepted - start > PURGE_SLICE_PERSONS {
            if self.stopping.load(Ordering::SeqCst) {
                tracing::info!(case_id, "stopping: the purge resumes on the next start");
                return Ok(());
            }
            let refs = start..(start + PURGE_SLICE_PERSONS).min(case.persons_accepted);
            start = refs.end;
            let slice = self.store.write_redoable(|tx| match tx.case(case_id)? {
                Some(current) if CaseState::HOLDING_PAYLOADS.contains(&current.state) => {
                    tx.purge_person_slice(case_id, refs).map(Some)
                }
                _ => Ok::<_, StoreError>(None),
            })?;
            match slice {
                Some(slice) => counts += slice,
                None => return Ok(()),
            }
        }
        self.purge_final(&[(case, counts)], reason)
    }

    /// What the statistics of one chunk of a case are made of: its persons and their answers,
    /// read in the caller's transaction (nothing for a case refused or purged at its cap before
    /// any result: it has no outcome to count).
    fn chunk_of_statistics(
        &self,
        tx: &Tx<'_>,
        case: &CaseRecord,
        index: u32,
    ) -> Result<(Vec<StoredPerson>, Vec<StoredAnswer>), StoreError> {
        if case.result_at.is_none() {
            return Ok((Vec::new(), Vec::new()));
        }
        let refs = case.chunk_refs(index);
        Ok((tx.persons(&case.case_id, refs.clone())?, tx.answers(&case.case_id, refs)?))
    }

    /// The statistics rows of a chunk read by [`Engine::chunk_of_statistics`], computed outside
    /// the store (the pseudonyms are keyed hashes).
    fn statistics_rows(
        &self,
        case: &CaseRecord,
        solicitations: &[StoredSolicitation],
        (persons, answers): &(Vec<StoredPerson>, Vec<StoredAnswer>),
    ) -> Vec<StatisticsRow> {
        aggregate::statistics_rows(&self.pseudonymiser, case, solicitations, persons, answers, self.clock.now())
    }

    /// The final purge of cases whose statistics are written (and, for a big case, whose
    /// earlier slices are gone: `counts` holds what they deleted), in one transaction: what
    /// is left of their payloads, their state `purged` and one audit entry each.
    /// [Redoable](passerelle_store::CaseStore::write_redoable): a purge that a power loss
    /// undoes is done again by the next tick (the receipt or the cap is recorded).
    fn purge_final(&self, cases: &[(&CaseRecord, PurgeCounts)], reason: &str) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        let mut statistics_rows = Vec::with_capacity(cases.len());
        for (case, _) in cases {
            let rows = if case.result_at.is_some() { self.statistics.persons_of_case(&case.case_id)? } else { 0 };
            statistics_rows.push(rows);
        }
        let now = self.clock.now();
        let purged = self.store.write_redoable(|tx| {
            let mut purged = Vec::new();
            for ((case, counts), statistics_rows) in cases.iter().zip(&statistics_rows) {
                let case_id = case.case_id.as_str();
                let Some(current) = tx.case(case_id)? else { continue };
                if !CaseState::HOLDING_PAYLOADS.contains(&current.state) {
                    continue;
                }
                let mut counts = *counts;
                counts += tx.purge_case_payloads(case_id, now)?;
                tx.set_state(case_id, CaseState::Purged, now)?;
                self.audit(
                    tx,
                    Action::Purge,
                    Some(case_id),
                    &self.own_actor(),
                    serde_json::json!({ "reason": reason, "state_before": current.state.as_str(),
                        "persons": counts.persons, "answers": counts.answers, "unsent_messages": counts.outbox,
                        "statistics_rows": statistics_rows }),
                )?;
                purged.push(case_id);
            }
            Ok::<_, StoreError>(purged)
        })?;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        for case_id in &purged {
            tracing::info!(case_id, reason, elapsed_ms, "case payloads purged");
        }
        if !purged.is_empty() {
            self.request_reclaim();
        }
        Ok(())
    }

    /// The in-memory duplicate check of a case that stops receiving is no longer needed (if the
    /// transaction rolls back, it is rebuilt from the store on the next chunk).
    pub(crate) fn forget_receiving_nirs(&self, case_id: &str) {
        self.receiving_nirs.lock().unwrap_or_else(|p| p.into_inner()).remove(case_id);
    }

    /// Asks the timer to make a purge real on disk: on its next tick, or once the rebuild
    /// interval since the previous rebuild has passed (the purges in between share one rebuild).
    pub(crate) fn request_reclaim(&self) {
        self.reclaim_pending.store(true, Ordering::SeqCst);
    }

    /// Whether a purge waits for the rebuild and the rebuild interval has passed.
    pub(crate) fn rebuild_due(&self) -> bool {
        let last = *self.last_rebuild.lock().unwrap_or_else(|p| p.into_inner());
        self.reclaim_pending.load(Ordering::SeqCst) && last.is_none_or(|t| t.elapsed() >= self.config.rebuild_interval)
    }

    /// A rebuild that did not complete is due again on the next tick, whatever the interval.
    fn retry_reclaim(&self) {
        *self.last_rebuild.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.reclaim_pending.store(true, Ordering::SeqCst);
    }

    /// Rebuilds the case store from its live rows and truncates the WAL, so that nothing of a
    /// purged case stays readable on disk; retried on the next tick when a reader blocks it.
    pub(crate) fn reclaim(&self) {
        self.reclaim_pending.store(false, Ordering::SeqCst);
        let started = Instant::now();
        *self.last_rebuild.lock().unwrap_or_else(|p| p.into_inner()) = Some(started);
        match self.store.reclaim() {
            Ok(r) if r.wal_truncated => {
                tracing::info!(
                    pages_freed = r.pages_freed,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "case store rebuilt after a purge"
                );
            }
            Ok(_) => {
                tracing::warn!("the WAL truncation after a purge was blocked by a reader; retrying on the next tick");
                self.retry_reclaim();
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot rebuild the case store after a purge; retrying on the next tick");
                self.retry_reclaim();
            }
        }
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

/// A sender-written id as reasons and logs quote it: at most 40 characters, and withheld when it
/// holds a NIR.
pub(crate) fn quoted_id(text: &str) -> String {
    if looks_like_nir(text) {
        return "(withheld: it holds what looks like a NIR)".to_owned();
    }
    let mut s: String = text.chars().take(40).collect();
    if text.chars().count() > 40 {
        s.push('…');
    }
    s
}

/// Runs `f` on a thread of its own at a lower scheduling priority (nice 10 on Linux), and waits
/// for it: for the statistics of a purge, CPU work that holds no lock of the case store and can
/// wait, so that the live cases' deliveries get the processor first (a big case's statistics
/// took a core for seconds while they waited). Only work that holds no lock a live delivery
/// needs may run here: a preempted holder would stall the deliveries behind it.
fn in_background<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("passerelle-statistics".into())
            .spawn_scoped(scope, || {
                lower_priority();
                f()
            })
            .expect("a thread for the statistics");
        worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Lowers the calling thread's scheduling priority (its nice value to 10: Linux schedules
/// threads on their own); a failure leaves it as it was (the work only runs sooner).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    let _ = rustix::process::setpriority_process(Some(rustix::thread::gettid()), BACKGROUND_NICE);
}

/// The nice value of background work (0 is the default, 19 the lowest priority).
#[cfg(target_os = "linux")]
const BACKGROUND_NICE: i32 = 10;

/// Persons whose payloads one purge transaction deletes: small enough that a request or a
/// response of another case waits a few milliseconds at most behind a slice, large enough that
/// a million-person case takes a few hundred commits.
const PURGE_SLICE_PERSONS: u64 = 5_000;

/// The longest case id the audit trail records as such.
pub(crate) const MAX_ID_LEN: usize = 100;

/// Who sent a delivery: the claimed body and the broker user the bus validated for it.
pub(crate) fn delivery_actor(d: &Delivery) -> String {
    format!("body:{} user:{}", d.message.sender(), d.user_id)
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

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn own_nice() -> i32 {
        rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap()
    }

    #[test]
    fn background_work_runs_at_a_lower_priority_and_the_caller_keeps_its_own() {
        let before = own_nice();
        let inside = in_background(own_nice);
        assert!(inside >= BACKGROUND_NICE, "the worker's nice value: {inside}");
        assert_eq!(own_nice(), before, "the calling thread is left as it was");
        let panicked = std::panic::catch_unwind(|| in_background(|| panic!("a failing chunk")));
        assert!(panicked.is_err(), "a panic on the worker reaches the caller");
    }
}
