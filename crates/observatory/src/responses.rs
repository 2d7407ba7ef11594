//! The responses queue: the bodies' answers to solicitation chunks (art. 3, third paragraph).
//!
//! A response is matched to its solicitation (which names the body that must send it), reduced
//! to what was asked ([`crate::aggregate::receive`]) and stored; when the case's last chunk is
//! answered, the result is built in the same transaction. A faulty response (another chunk
//! count, persons outside the chunk or answered twice, undecodable values) is dead-lettered with
//! a `FAULTY_RESPONSE` notice and answers nothing, so a corrected one is taken; a valid one with
//! violations (values not asked, persons left out: `MISSING`) is merged and the violations
//! audited. Deduplicated on the message id; for a chunk the first valid response wins, a later
//! one is audited (`duplicate_response`) and dropped. A response after the deadline, or for a
//! case whose result is built, is acknowledged and dropped — audited by ids and counts only,
//! never merged.

use std::sync::Arc;

use passerelle_access_log::AccessKind;
use passerelle_bus::{Delivery, Message, NoticeReason, Verdict};
use passerelle_observatory_store::audit::Action;
use passerelle_observatory_store::{StoreError, Tx};
use passerelle_protocol::v1;

use crate::aggregate;
use crate::engine::{delivery_actor, Engine};

impl Engine {
    /// Handles one response chunk. The responses queue has several consumers, and the
    /// responses handled at the same time share one commit ([`CaseStore::write_grouped`]): each
    /// in its own savepoint, each acknowledged only once the group committed.
    ///
    /// [`CaseStore::write_grouped`]: passerelle_observatory_store::CaseStore::write_grouped
    pub(crate) fn on_response(self: &Arc<Self>, d: Delivery) -> Result<Verdict, StoreError> {
        let engine = Arc::clone(self);
        let verdict = self.store.write_grouped(move |tx| {
            let Message::Response(response) = &d.message else {
                return Err(StoreError::Corrupt("a response handler was given another message".into()));
            };
            engine.response_in(tx, &d, response)
        })?;
        self.outbox_ready.notify_one();
        Ok(verdict)
    }

    /// One response chunk, inside the (grouped) transaction.
    fn response_in(&self, tx: &Tx<'_>, d: &Delivery, response: &v1::Response) -> Result<Verdict, StoreError> {
        let now = self.clock.now();
        {
            if tx.inbox_seen(&d.message_id)? {
                return Ok(Verdict::Ack);
            }
            self.audit_unknown_fields(tx, d)?;
            let Some(solicitation) = tx.solicitation(&response.solicitation_id)? else {
                return self.dead_letter(
                    tx,
                    d,
                    NoticeReason::UnknownReference,
                    "no such solicitation at this observatory".into(),
                );
            };
            if solicitation.case_id != response.case_id {
                let reason = format!("solicitation {} belongs to another case", solicitation.solicitation_id);
                return self.dead_letter(tx, d, NoticeReason::Invalid, reason);
            }
            if solicitation.body != response.sender.as_str() {
                let reason = format!(
                    "solicitation {} was addressed to `{}`, not to the sender",
                    solicitation.solicitation_id, solicitation.body
                );
                return self.dead_letter(tx, d, NoticeReason::NotPermitted, reason);
            }
            if response.chunk_count != solicitation.chunk_count {
                let reason = format!(
                    "faulty response, not merged (send a corrected one): solicitation {} has {} chunks, the response says {}",
                    solicitation.solicitation_id, solicitation.chunk_count, response.chunk_count
                );
                return self.dead_letter(tx, d, NoticeReason::FaultyResponse, reason);
            }
            let case = tx
                .case(&solicitation.case_id)?
                .ok_or_else(|| StoreError::Corrupt(format!("case {} vanished", solicitation.case_id)))?;
            let actor = delivery_actor(d);
            let ids = serde_json::json!({ "body": solicitation.body, "solicitation_id": solicitation.solicitation_id,
                "chunk": response.chunk_index, "answers": response.answers.len() });
            if !case.state.is_collecting() || now >= case.respond_by {
                self.audit(tx, Action::LateResponse, Some(&case.case_id), &actor, ids)?;
                tracing::info!(case_id = %case.case_id, body = %solicitation.body, chunk = response.chunk_index,
                    "late response dropped");
                tx.inbox_record(&d.message_id, now)?;
                return Ok(Verdict::Ack);
            }
            let refs = case.chunk_refs(response.chunk_index);
            let received = match aggregate::receive(response, &solicitation, refs.clone()) {
                Ok(received) => received,
                // Faulty: refused with a notice, the chunk stays unanswered (a corrected one is taken).
                Err(faults) => return self.dead_letter(tx, d, NoticeReason::FaultyResponse, faults.reason()),
            };
            if !tx.mark_chunk_answered(&solicitation.solicitation_id, response.chunk_index, now)? {
                // The first valid response of a chunk wins; a later one (a reminder's answer, a
                // re-publish under a new message id, a correction) is audited and dropped.
                self.audit(tx, Action::DuplicateResponse, Some(&case.case_id), &actor, ids)?;
                tracing::info!(case_id = %case.case_id, body = %solicitation.body, chunk = response.chunk_index,
                    "second response to an answered chunk dropped");
                tx.inbox_record(&d.message_id, now)?;
                return Ok(Verdict::Ack);
            }
            tx.insert_answer_chunk(&case.case_id, refs.start, &solicitation.body, &received.answers)?;
            self.record_machine(AccessKind::Create, [case.case_id.as_str()])?;
            let (_, missing_before) = aggregate::decode_outcome(&solicitation.declines);
            let missing = missing_before.saturating_add(received.violations.missing_persons as u32);
            let outcome = aggregate::encode_outcome(&received.declines, missing);
            if outcome != solicitation.declines {
                tx.set_declines(&solicitation.solicitation_id, &outcome)?;
            }
            self.audit(
                tx,
                Action::ResponseReceived,
                Some(&case.case_id),
                &actor,
                serde_json::json!({ "body": solicitation.body, "solicitation_id": solicitation.solicitation_id,
                    "chunk": response.chunk_index, "found": received.found, "not_found": received.not_found,
                    "missing": received.violations.missing_persons, "declined": received.declines.len() }),
            )?;
            if received.violations.any() {
                tracing::warn!(case_id = %case.case_id, body = %solicitation.body, chunk = response.chunk_index,
                    "a response held data that was not asked or left persons out: recorded as a violation");
                self.audit(
                    tx,
                    Action::Violation,
                    Some(&case.case_id),
                    &actor,
                    serde_json::json!({ "body": solicitation.body, "solicitation_id": solicitation.solicitation_id,
                        "chunk": response.chunk_index, "dropped": received.violations }),
                )?;
            }
            tx.inbox_record(&d.message_id, now)?;
            if tx.unanswered_chunks(&case.case_id)? == 0 {
                self.build_result(tx, &case.case_id, now)?;
            }
            Ok(Verdict::Ack)
        }
    }
}
