//! Receiving results and refusals from the branch's results queue: check the sender, store,
//! wake the waiters, send the receipt once a case's whole result is stored. Each new chunk or
//! refusal is a `create` of `daemon:requester` on its case in the access log, written inside
//! the store's transaction before it commits (a redelivery after a crash may record it twice,
//! never zero times; an access log that cannot be written leaves the delivery to be retried).

use std::sync::Arc;
use std::time::SystemTime;

use indicatif::ProgressBar;
use passerelle_bus::{Consumer, Delivery, Handler, Message, NoticeReason, Outgoing, Verdict, SCHEMA_VERSION};
use passerelle_protocol::rules::OBSERVATORY_RETENTION_CAP;
use passerelle_protocol::untrusted::Shown;
use passerelle_protocol::v1;
use uuid::Uuid;

use passerelle_access_log::{daemon_actor, AccessKind};

use super::{Requester, RequesterError, DAEMON, STORE_POLL_INTERVAL, WAIT_GRACE};
use crate::store::{CaseRecord, CaseState, StoreError, Stored};

impl Requester {
    // ----- receiving -----

    /// Starts consuming this requester's results queue (results and refusals): its office's
    /// when its body has offices, else its body's. Stop the returned consumer when done.
    pub async fn listen(&self) -> Result<Consumer, RequesterError> {
        let handler = Arc::new(ResultHandler { requester: self.clone() });
        Ok(self.inner.bus.consume(self.inner.settings.results_queue(), handler).await?)
    }

    /// Waits until every given case is answered or refused (or `deadline` passes, by the
    /// clock), showing progress: the bar's position is the number of settled cases. Needs a
    /// running [`Requester::listen`] (here or in a daemon sharing the store). Returns the cases
    /// as they stand.
    pub async fn wait_for_results(
        &self,
        cases: &[Uuid],
        progress: &ProgressBar,
        deadline: Option<SystemTime>,
    ) -> Result<Vec<CaseRecord>, RequesterError> {
        progress.set_length(cases.len() as u64);
        loop {
            let notified = self.inner.changed.notified();
            let records = cases
                .iter()
                .map(|id| self.inner.store.case(*id)?.ok_or_else(|| RequesterError::UnknownCase(id.to_string())))
                .collect::<Result<Vec<_>, _>>()?;
            let settled = records.iter().filter(|c| c.state.is_settled()).count();
            let chunks: u32 = records.iter().map(|c| c.result_chunks_received).sum();
            progress.set_position(settled as u64);
            progress.set_message(format!("case(s) settled, {chunks} result chunk(s) received"));
            if settled == records.len() || deadline.is_some_and(|d| self.now() >= d) {
                return Ok(records);
            }
            // Woken by our own handler, or polling for another process's writes.
            let _ = tokio::time::timeout(STORE_POLL_INTERVAL, notified).await;
        }
    }

    /// The latest time `submit` should wait until for these cases: their respond-by plus
    /// [`WAIT_GRACE`].
    pub fn wait_deadline(&self, submission: Uuid) -> Result<SystemTime, RequesterError> {
        let s = self
            .inner
            .store
            .submission(submission)?
            .ok_or_else(|| RequesterError::UnknownCase(submission.to_string()))?;
        Ok(s.respond_by + WAIT_GRACE)
    }

    async fn on_result(&self, result: v1::Result) -> Verdict {
        if let Some(v) = self.check_sender(&result.case_id, &result.sender) {
            return v;
        }
        let record = |case: Uuid| self.record_cases(&daemon_actor(DAEMON), AccessKind::Create, &[case]);
        let stored = self.inner.store.store_result_recorded(&result, self.now(), &record);
        self.after_store(&result.case_id, "result", stored).await
    }

    async fn on_refusal(&self, refusal: v1::Refusal) -> Verdict {
        if let Some(v) = self.check_sender(&refusal.case_id, &refusal.sender) {
            return v;
        }
        tracing::warn!(
            case_id = %Shown::id(&refusal.case_id),
            whole_case = refusal.whole_case,
            refused_persons = refusal.persons.len(),
            "the observatory refused (part of) a case; `passerelle requester status` shows the reasons"
        );
        let record = |case: Uuid| self.record_cases(&daemon_actor(DAEMON), AccessKind::Create, &[case]);
        let stored = self.inner.store.store_refusal_recorded(&refusal, self.now(), &record);
        self.after_store(&refusal.case_id, "refusal", stored).await
    }

    /// A result or refusal must come from the observatory the case was sent to.
    fn check_sender(&self, case_id: &str, sender: &str) -> Option<Verdict> {
        let id = Uuid::parse_str(case_id).ok()?;
        match self.inner.store.case(id) {
            Ok(Some(case)) if case.observatory != sender => Some(Verdict::dead_letter(
                NoticeReason::NotPermitted,
                format!("case {case_id} was sent to observatory {}, not {}", case.observatory, Shown::id(sender)),
            )),
            Ok(_) => None,
            Err(e) => Some(Verdict::RetryLater(e.to_string())),
        }
    }

    async fn after_store(&self, case_id: &str, what: &str, stored: Result<Stored, StoreError>) -> Verdict {
        match stored {
            Ok(Stored::New { settled, unmatched }) => {
                if unmatched > 0 {
                    tracing::warn!(case_id, unmatched, "{what} names persons this case does not have: ignored");
                }
                self.inner.changed.notify_waiters();
                if settled {
                    if let Ok(id) = Uuid::parse_str(case_id) {
                        if let Err(e) = self.send_receipt(id).await {
                            // The daemon retries pending receipts; the data is safely stored.
                            tracing::warn!(case_id, error = %e, "receipt not sent yet; it will be retried");
                        }
                    }
                }
                Verdict::Ack
            }
            Ok(Stored::Duplicate) => Verdict::Ack,
            Ok(Stored::PurgedCase) => {
                tracing::info!(case_id, "{what} for a purged case: dropped");
                Verdict::Ack
            }
            Ok(Stored::UnknownCase) => Verdict::dead_letter(
                NoticeReason::UnknownReference,
                format!(
                    "{what} for case {}, unknown to this requester's store (one requester store per branch)",
                    Shown::id(case_id)
                ),
            ),
            Err(StoreError::Corrupt(reason)) => Verdict::dead_letter(NoticeReason::Invalid, reason),
            Err(e) => Verdict::RetryLater(e.to_string()),
        }
    }

    /// Sends the receipt of an answered case (once its whole result is stored), so the
    /// observatory purges its copy (decree art. 5). A case whose 30-day cap has passed needs
    /// none: the observatory purged it already.
    pub async fn send_receipt(&self, case_id: Uuid) -> Result<(), RequesterError> {
        let _one_at_a_time = self.inner.receipts.lock().await;
        let case = self.inner.store.case(case_id)?.ok_or_else(|| RequesterError::UnknownCase(case_id.to_string()))?;
        if case.state != CaseState::Answered || case.receipt_sent_at.is_some() {
            return Ok(());
        }
        let now = self.now();
        let expires_at = case.sent_at.unwrap_or(case.submitted_at) + OBSERVATORY_RETENTION_CAP;
        if expires_at <= now {
            tracing::info!(case_id = %case_id, "receipt not needed: the observatory's 30-day cap has passed");
            self.inner.store.mark_receipt_sent(case_id, now)?;
            return Ok(());
        }
        let receipt = v1::Receipt {
            schema_minor: passerelle_protocol::SCHEMA_MINOR,
            schema_version: SCHEMA_VERSION,
            sender: self.inner.settings.body.clone(),
            case_id: case_id.to_string(),
            chunks_received: case.result_chunks_received,
        };
        self.inner
            .bus
            .publish(vec![Outgoing::new(Message::Receipt(receipt), case.observatory.clone(), expires_at)])
            .await?;
        self.inner.store.mark_receipt_sent(case_id, self.now())?;
        tracing::info!(case_id = %case_id, chunks = case.result_chunks_received, "receipt sent");
        Ok(())
    }
}

/// The consumer of the branch's results queue.
struct ResultHandler {
    requester: Requester,
}

#[async_trait::async_trait]
impl Handler for ResultHandler {
    async fn handle(&self, delivery: Delivery) -> Verdict {
        match delivery.message {
            Message::Result(r) => self.requester.on_result(r).await,
            Message::Refusal(r) => self.requester.on_refusal(r).await,
            other => Verdict::dead_letter(
                NoticeReason::WrongType,
                format!("a requester's results queue takes results and refusals, not {}", other.kind()),
            ),
        }
    }
}
