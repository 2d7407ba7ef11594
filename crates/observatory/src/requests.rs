//! The requests queue: request chunks (select, art. 3 first paragraph) and receipts (the
//! requester holds the result: purge).
//!
//! A request chunk is validated ([`crate::validate`]); its accepted persons are stored with a
//! dense person reference, its refused persons go back in a refusal for that chunk, and when the
//! last chunk is in the case moves on to solicitation — all in the chunk's one transaction.
//! Duplicates (the same message id, or the same case and chunk index) change nothing.

use std::collections::HashSet;
use std::time::SystemTime;

use passerelle_access_log::AccessKind;
use passerelle_bus::{Delivery, Message, NoticeReason, Verdict};
use passerelle_observatory_store::audit::Action;
use passerelle_observatory_store::{year_of, CaseState, NewCase, StoreError, StoredPerson, Tx};
use passerelle_protocol::ids::CaseId;
use passerelle_protocol::nir::Nir;
use passerelle_protocol::untrusted::{Shown, REASON_CHARS};
use passerelle_protocol::v1;
use prost::Message as _;

use crate::engine::{delivery_actor, looks_like_nir, problems_text, quoted_id, Engine, MAX_ID_LEN};
use crate::receipt::{Receipt, ReceiptError};
use crate::validate::{self, problem};

impl Engine {
    /// Handles one request chunk.
    pub(crate) fn on_request(&self, d: &Delivery, req: &v1::Request) -> Result<Verdict, StoreError> {
        let now = self.clock.now();
        let (verdict, _) = self.store.write_then(
            |tx| {
                if tx.inbox_seen(&d.message_id)? {
                    return Ok((Verdict::Ack, Vec::new()));
                }
                self.audit_unknown_fields(tx, d)?;
                if !self.config.bodies.contains(&req.sender) {
                    let reason = format!("the requester `{}` is not a body of this deployment", quoted_id(&req.sender));
                    return self.dead_letter(tx, d, NoticeReason::NotPermitted, reason).map(|v| (v, Vec::new()));
                }
                if let Some(reason) = self.not_the_office(d, &req.sender, &req.requester_office) {
                    return self.dead_letter(tx, d, NoticeReason::NotPermitted, reason).map(|v| (v, Vec::new()));
                }
                if req.case_id.is_empty() || req.case_id.len() > MAX_ID_LEN {
                    return self
                        .dead_letter(
                            tx,
                            d,
                            NoticeReason::Invalid,
                            "the case id is empty or too long to be a UUID".into(),
                        )
                        .map(|v| (v, Vec::new()));
                }
                if looks_like_nir(&req.case_id) {
                    // A refusal would have to quote it back: the audit trail and the logs must not.
                    return self
                        .dead_letter(tx, d, NoticeReason::Invalid, "the case id holds what looks like a NIR".into())
                        .map(|v| (v, Vec::new()));
                }
                if CaseId::parse(&req.case_id).is_err() {
                    self.refuse_at_edge(tx, d, req, now)?;
                    tx.inbox_record(&d.message_id, now)?;
                    return Ok((Verdict::Ack, Vec::new()));
                }
                let mut accepted_nirs = Vec::new();
                let verdict = self.take_request_chunk(tx, d, req, now, &mut accepted_nirs)?;
                if verdict == Verdict::Ack {
                    tx.inbox_record(&d.message_id, now)?;
                }
                Ok::<_, StoreError>((verdict, accepted_nirs))
            },
            |(_, accepted_nirs)| {
                // Committed: the chunk's NIRs now count for the next chunks' duplicate check
                // (if the case still receives: a case that moved on dropped its set).
                if !accepted_nirs.is_empty() {
                    let mut sets = self.receiving_nirs.lock().unwrap_or_else(|p| p.into_inner());
                    if let Some(set) = sets.get_mut(&req.case_id) {
                        set.extend(accepted_nirs.iter().copied());
                    }
                }
            },
        )?;
        self.outbox_ready.notify_one();
        Ok(verdict)
    }

    fn take_request_chunk(
        &self,
        tx: &Tx<'_>,
        d: &Delivery,
        req: &v1::Request,
        now: SystemTime,
        accepted_nirs: &mut Vec<u64>,
    ) -> Result<Verdict, StoreError> {
        let actor = delivery_actor(d);
        let chunk = req.chunk_index;
        let case = match tx.case(&req.case_id)? {
            None => match validate::check_header(req, &self.config, now) {
                Ok(header) => {
                    let respond_by = header.respond_by;
                    tx.insert_case(
                        &NewCase {
                            case_id: req.case_id.clone(),
                            state: CaseState::Receiving,
                            requester: header.requester,
                            requester_office: header.requester_office,
                            requester_user: d.user_id.clone(),
                            purpose: header.purpose,
                            // The code as sent (validated by `validate.rs`); the statistics
                            // write an unknown number as `unspecified`.
                            service: req.service,
                            legal_basis: header.legal_basis,
                            wanted: header.wanted.iter().map(|c| *c as i32).collect(),
                            arrived_at: now,
                            respond_by,
                            remind_at: now + respond_by.duration_since(now).unwrap_or_default() / 2,
                            expires_at: now + self.config.retention,
                            chunk_size: self.config.chunk_size,
                            request_chunk_count: req.chunk_count,
                        },
                        now,
                    )?;
                    tracing::info!(case_id = %req.case_id, requester = %req.sender, chunks = req.chunk_count, "new case");
                    tx.case(&req.case_id)?.ok_or_else(|| StoreError::Corrupt("case vanished".into()))?
                }
                Err(problems) => {
                    self.refuse_new_case(tx, d, req, problems, now)?;
                    return Ok(Verdict::Ack);
                }
            },
            Some(case) => {
                if case.requester != req.sender
                    || (self.config.offices.contains_key(&case.requester)
                        && case.requester_office != req.requester_office)
                {
                    let reason = format!("case {} belongs to another requester", req.case_id);
                    return self.dead_letter(tx, d, NoticeReason::NotPermitted, reason);
                }
                if tx.has_request_chunk(&case.case_id, chunk)? {
                    return Ok(Verdict::Ack);
                }
                if case.state != CaseState::Receiving {
                    // A chunk of a case already refused (or, impossibly, complete): nothing to do.
                    tx.record_request_chunk(&case.case_id, chunk, 0, req.persons.len() as u64, now)?;
                    self.audit(
                        tx,
                        Action::RequestReceived,
                        Some(&case.case_id),
                        &actor,
                        serde_json::json!({ "chunk": chunk, "chunk_count": req.chunk_count, "ignored": case.state.as_str(),
                            "persons": req.persons.len() }),
                    )?;
                    return Ok(Verdict::Ack);
                }
                let disagreement = match validate::check_header(req, &self.config, case.arrived_at) {
                    Err(problems) => Some(problems),
                    Ok(h) => {
                        let wanted: Vec<i32> = h.wanted.iter().map(|c| *c as i32).collect();
                        let field = if req.chunk_count != case.request_chunk_count {
                            Some("chunk_count")
                        } else if wanted != case.wanted {
                            Some("wanted")
                        } else if h.respond_by != case.respond_by {
                            Some("respond_by")
                        } else if h.purpose != case.purpose {
                            Some("purpose")
                        } else {
                            None
                        };
                        field.map(|f| vec![problem(f, format!("chunk {chunk} disagrees with the case's first chunk"))])
                    }
                };
                if let Some(problems) = disagreement {
                    tx.record_request_chunk(&case.case_id, chunk, 0, req.persons.len() as u64, now)?;
                    self.audit(
                        tx,
                        Action::RequestReceived,
                        Some(&case.case_id),
                        &actor,
                        serde_json::json!({ "chunk": chunk, "chunk_count": req.chunk_count, "accepted": 0,
                            "refused": req.persons.len() }),
                    )?;
                    self.refuse_case(tx, &case, problems, chunk, now)?;
                    return Ok(Verdict::Ack);
                }
                case
            }
        };

        let year = year_of(case.arrived_at);
        // The twelve months `hospital_stays_12m` may cover end on the day the case arrived (in
        // metropolitan France's legal time, the requester's default).
        let cut_off = passerelle_protocol::age::twelve_months_before(
            passerelle_protocol::calendar::LegalCalendar::default().date_of(case.arrived_at),
        );
        let (mut stale_persons, mut stale_stays) = (0u64, 0usize);
        let mut sets = self.receiving_nirs.lock().unwrap_or_else(|p| p.into_inner());
        if !sets.contains_key(&case.case_id) {
            // The first chunk since the daemon started: the case's NIRs so far, from the store.
            let mut known = HashSet::new();
            tx.person_nirs(&case.case_id, |nir| {
                if let Ok(nir) = Nir::parse(nir) {
                    known.insert(nir.as_u64());
                }
            })?;
            sets.insert(case.case_id.clone(), known);
        }
        let known = &sets[&case.case_id];
        let mut persons = Vec::with_capacity(req.persons.len());
        let mut refused = Vec::new();
        let mut in_chunk = HashSet::with_capacity(req.persons.len());
        for p in &req.persons {
            let checked = validate::check_person(p, &self.config, year).and_then(|mut accepted| {
                let stale = validate::check_known(&mut accepted.risk_factors, &req.sender, cut_off)?;
                Ok((accepted, stale))
            });
            match checked {
                Ok((accepted, _))
                    if known.contains(&accepted.nir.as_u64()) || !in_chunk.insert(accepted.nir.as_u64()) =>
                {
                    refused.push(v1::RefusedPerson {
                        nir: p.nir.clone(),
                        problems: vec![problem("nir", "duplicate: this NIR is already in the case")],
                    });
                }
                Ok((accepted, stale)) => {
                    if stale > 0 {
                        stale_persons += 1;
                        stale_stays += stale;
                    }
                    persons.push(StoredPerson {
                        person_ref: case.persons_accepted + persons.len() as u64,
                        nir: accepted.nir.as_str().to_owned(),
                        former_nirs: accepted.former_nirs.iter().map(|n| n.as_str().to_owned()).collect(),
                        sex: accepted.sex as i32,
                        birth_year: accepted.birth_year,
                        departement: accepted.departement,
                        risk_factors: accepted.risk_factors.encode_to_vec(),
                    });
                }
                Err(problems) => refused.push(v1::RefusedPerson { nir: p.nir.clone(), problems }),
            }
        }
        drop(sets);
        tx.insert_persons(&case.case_id, &persons)?;
        accepted_nirs.extend(in_chunk);
        let accepted = persons.len() as u64;
        tx.record_request_chunk(&case.case_id, chunk, accepted, refused.len() as u64, now)?;
        if accepted > 0 {
            self.record_machine(AccessKind::Create, [case.case_id.as_str()])?;
        }
        self.audit(
            tx,
            Action::RequestReceived,
            Some(&case.case_id),
            &actor,
            serde_json::json!({ "chunk": chunk, "chunk_count": req.chunk_count, "accepted": accepted,
                "refused": refused.len() }),
        )?;
        if stale_persons > 0 {
            // The requester sent stays older than the category's twelve months: dropped from
            // the persons' known risk factors, and said here in counts only.
            self.audit(
                tx,
                Action::Violation,
                Some(&case.case_id),
                &actor,
                serde_json::json!({ "chunk": chunk, "from": "requester", "category": "hospital_stays_12m",
                    "rule": "stays admitted more than twelve months before the request", "dropped": "value",
                    "persons": stale_persons, "stays": stale_stays }),
            )?;
        }
        if !refused.is_empty() {
            let n = refused.len();
            let fields: std::collections::BTreeSet<&str> =
                refused.iter().flat_map(|r| r.problems.iter().map(|p| p.field.as_str())).collect();
            let fields: Vec<String> = fields.into_iter().map(str::to_owned).collect();
            self.enqueue_refusal(tx, &case, false, Vec::new(), chunk, refused, now)?;
            // The refusal quotes the refused persons back to the requester.
            self.record_machine(AccessKind::Transfer, [case.case_id.as_str()])?;
            self.audit(
                tx,
                Action::Refusal,
                Some(&case.case_id),
                &self.own_actor(),
                serde_json::json!({ "whole_case": false, "chunk": chunk, "persons": n, "fields": fields }),
            )?;
        }
        let case = tx.case(&case.case_id)?.ok_or_else(|| StoreError::Corrupt("case vanished".into()))?;
        if case.request_chunks_received >= case.request_chunk_count {
            self.start_soliciting(tx, &case.case_id, now)?;
        }
        Ok(Verdict::Ack)
    }

    /// Refuses a request whose case id is not a UUID, without a case row: no case can be
    /// keyed by it. The refusal (every problem of the header) still goes to the requester,
    /// expiring with the retention cap, and the audit trail records the chunk and the refusal
    /// under the id as sent (its length and the NIR check were done before).
    fn refuse_at_edge(&self, tx: &Tx<'_>, d: &Delivery, req: &v1::Request, now: SystemTime) -> Result<(), StoreError> {
        let problems = match validate::check_header(req, &self.config, now) {
            Err(problems) => problems,
            Ok(_) => vec![problem("case_id", "the case id must be a UUID")],
        };
        let reason = problems_text(&problems);
        let refusal = v1::Refusal {
            schema_minor: passerelle_protocol::SCHEMA_MINOR,
            schema_version: v1::SchemaVersion::SchemaVersion1 as i32,
            sender: self.config.code.to_string(),
            case_id: req.case_id.clone(),
            whole_case: true,
            case_problems: problems,
            request_chunk_index: req.chunk_index,
            persons: Vec::new(),
        };
        let expires_at = now + self.config.retention;
        let to = self.results_key(&req.sender, &req.requester_office);
        self.enqueue(tx, &req.case_id, expires_at, Message::Refusal(refusal), &to, now)?;
        self.audit_whole_case_refusal(
            tx,
            d,
            req,
            serde_json::json!({ "whole_case": true, "reason": reason, "stored": false }),
        )?;
        tracing::info!(case_id = %quoted_id(&req.case_id), reason = %Shown::text(&reason).at_most(REASON_CHARS),
            "request refused: no case stored");
        Ok(())
    }

    /// The first chunk of a case is already unacceptable: the case is recorded as refused (no
    /// person stored) and a refusal goes back.
    fn refuse_new_case(
        &self,
        tx: &Tx<'_>,
        d: &Delivery,
        req: &v1::Request,
        problems: Vec<v1::Problem>,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        let reason = problems_text(&problems);
        let mut wanted: Vec<i32> =
            req.wanted.iter().copied().filter(|n| passerelle_protocol::catalogue::by_number(*n).is_some()).collect();
        wanted.sort_unstable();
        wanted.dedup();
        tx.insert_case(
            &NewCase {
                case_id: req.case_id.clone(),
                state: CaseState::Receiving,
                requester: req.sender.clone(),
                // What was refused is kept only if well-formed: an office that is no code, a
                // purpose that names someone or a basis off the list is not stored.
                requester_office: if passerelle_protocol::ids::is_office_code(&req.requester_office) {
                    req.requester_office.clone()
                } else {
                    String::new()
                },
                requester_user: d.user_id.clone(),
                purpose: if looks_like_nir(&req.purpose) {
                    String::new()
                } else {
                    req.purpose.chars().filter(|c| !c.is_control()).take(500).collect()
                },
                service: req.service,
                legal_basis: passerelle_protocol::legal::reference(
                    v1::LegalBasis::try_from(req.basis).unwrap_or(v1::LegalBasis::Unspecified),
                )
                .to_owned(),
                wanted,
                arrived_at: now,
                respond_by: now,
                remind_at: now,
                expires_at: now + self.config.retention,
                chunk_size: self.config.chunk_size,
                request_chunk_count: req.chunk_count,
            },
            now,
        )?;
        tx.mark_refused(&req.case_id, CaseState::Receiving, &reason, now)?;
        tx.record_request_chunk(&req.case_id, req.chunk_index, 0, req.persons.len() as u64, now)?;
        let case = tx.case(&req.case_id)?.ok_or_else(|| StoreError::Corrupt("case vanished".into()))?;
        self.enqueue_refusal(tx, &case, true, problems, req.chunk_index, Vec::new(), now)?;
        self.audit_whole_case_refusal(tx, d, req, serde_json::json!({ "whole_case": true, "reason": reason }))?;
        tracing::info!(case_id = %req.case_id, reason = %Shown::text(&reason).at_most(REASON_CHARS), "case refused");
        Ok(())
    }

    /// The audit entries of a request refused whole: the chunk received (nothing accepted), then
    /// the refusal with its `detail`.
    fn audit_whole_case_refusal(
        &self,
        tx: &Tx<'_>,
        d: &Delivery,
        req: &v1::Request,
        detail: serde_json::Value,
    ) -> Result<(), StoreError> {
        self.audit(
            tx,
            Action::RequestReceived,
            Some(&req.case_id),
            &delivery_actor(d),
            serde_json::json!({ "chunk": req.chunk_index, "chunk_count": req.chunk_count, "accepted": 0,
                "refused": req.persons.len() }),
        )?;
        self.audit(tx, Action::Refusal, Some(&req.case_id), &self.own_actor(), detail)?;
        Ok(())
    }

    /// Handles a receipt: the requester holds the whole result, so the case's payloads go: the
    /// timer purges them on its next tick (a second by default), off the requests queue, so that
    /// a big case's purge (statistics, the payloads in slices, the rebuild) never holds back the
    /// requests behind the receipt, nor a small one the next case's first steps.
    /// `receipt` is the wire receipt converted at the edge; a conversion's error is dead-lettered
    /// here, after the duplicate check, as an unknown case is.
    pub(crate) fn on_receipt(
        &self,
        d: &Delivery,
        receipt: Result<Receipt, ReceiptError>,
    ) -> Result<Verdict, StoreError> {
        let now = self.clock.now();
        let verdict = self.store.write(|tx| {
            if tx.inbox_seen(&d.message_id)? {
                return Ok(Verdict::Ack);
            }
            self.audit_unknown_fields(tx, d)?;
            let receipt = match &receipt {
                Ok(receipt) => receipt,
                Err(e) => return self.dead_letter(tx, d, NoticeReason::Invalid, e.reason.clone()),
            };
            let Some(case) = tx.case(receipt.case_id.as_str())? else {
                return self.dead_letter(
                    tx,
                    d,
                    NoticeReason::UnknownReference,
                    format!("no case {} at this observatory", quoted_id(receipt.case_id.as_str())),
                );
            };
            // A purged case forgot its office (`Tx::purge_case_payloads`): a late receipt is
            // then checked against the body only, and records no more than its time.
            let forgot_office = case.state == CaseState::Purged && case.requester_office.is_empty();
            if receipt.sender != case.requester
                || (!forgot_office && self.not_the_office(d, &case.requester, &case.requester_office).is_some())
            {
                let reason = format!("only the requester of case {} may acknowledge its result", case.case_id);
                return self.dead_letter(tx, d, NoticeReason::NotPermitted, reason);
            }
            let detail =
                serde_json::json!({ "chunks_received": receipt.chunks_received, "state": case.state.as_str() });
            match case.state {
                CaseState::Returning | CaseState::Returned => {
                    if Some(receipt.chunks_received) != case.result_chunk_count {
                        let reason = format!(
                            "the receipt of case {} counts {} result chunks, the result has {}",
                            case.case_id,
                            receipt.chunks_received,
                            case.result_chunk_count.unwrap_or(0)
                        );
                        return self.dead_letter(tx, d, NoticeReason::Invalid, reason);
                    }
                }
                CaseState::Purged => {}
                CaseState::Refused => {
                    return self.dead_letter(
                        tx,
                        d,
                        NoticeReason::Invalid,
                        format!("case {} was refused: it has no result", case.case_id),
                    );
                }
                _ => {
                    return self.dead_letter(
                        tx,
                        d,
                        NoticeReason::Invalid,
                        format!("case {} has no result yet", case.case_id),
                    )
                }
            }
            if case.receipt_at.is_some() {
                // The same receipt again under another message id: already recorded.
                tx.inbox_record(&d.message_id, now)?;
                return Ok(Verdict::Ack);
            }
            tx.mark_receipt(&case.case_id, now)?;
            self.audit(tx, Action::Receipt, Some(&case.case_id), &delivery_actor(d), detail)?;
            tx.inbox_record(&d.message_id, now)?;
            Ok(Verdict::Ack)
        })?;
        Ok(verdict)
    }
}
