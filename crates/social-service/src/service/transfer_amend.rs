//! Amendments (norm 43, A.3; loi 78-17 art. 40): a rectification or an upheld objection about
//! a file the receiver accepted is sent on (`TransferAmendment`, numbered 1, 2, … in the order
//! decided), without the items the transfer withheld; the receiver applies each once, in order
//! — a rectification replaces the listed fields (history kind `rectification`, agent
//! `transfer:<sender>`), an upheld objection erases the file at once and opposes the person —
//! and answers with a receipt.

use passerelle_access_log::{daemon_actor, AccessEntry, AccessKind};
use passerelle_bus::{Kind, Message, SCHEMA_VERSION};
use passerelle_protocol::nir::Nir;
use passerelle_protocol::v1;
use passerelle_social_file::{file_json, Update};
use passerelle_sqlite::Tx;

use super::transfer_send::{minimise, prost_types_timestamp};
use super::transfers::{refused, MEDICAL_OPINIONS, SOCIAL_ASSESSMENT};
use super::{Result, SocialService, SocialServiceError};
use crate::store::transfers::{self as t, OutTransfer};
use crate::store::{ChangeEntryRow, FileChange};

/// Whether a field path is one of the items the transfer withheld.
fn withheld_path(out: &OutTransfer, path: &str) -> bool {
    (out.withheld.iter().any(|w| w == MEDICAL_OPINIONS) && path.starts_with("medical."))
        || (out.withheld.iter().any(|w| w == SOCIAL_ASSESSMENT) && path == "social_situation.assessment")
}

impl SocialService {
    /// Queues a RECTIFICATION of `fields` (withheld items excluded) with their new values.
    pub(crate) fn queue_rectification(
        &self,
        tx: &Tx<'_>,
        out: &OutTransfer,
        file: &v1::SocialFile,
        fields: &[String],
    ) -> Result<()> {
        let fields: Vec<String> = fields.iter().filter(|f| !withheld_path(out, f)).cloned().collect();
        if fields.is_empty() {
            return Ok(());
        }
        let (sendable, _) = minimise(
            file,
            !out.withheld.iter().any(|w| w == MEDICAL_OPINIONS),
            !out.withheld.iter().any(|w| w == SOCIAL_ASSESSMENT),
        );
        // The new values only; the whole (minimised) file if one cannot stand alone.
        let values = file_json(&sendable);
        let mut rectified = v1::SocialFile::default();
        let at = chrono::Utc::now();
        for path in &fields {
            let value = values.get(path).cloned().unwrap_or(serde_json::Value::Null);
            let applied = Update::parse(path, &value).and_then(|u| u.apply(&mut rectified, "transfer", at));
            if applied.is_err() {
                rectified = sendable.clone();
                break;
            }
        }
        self.queue_amendment(tx, out, v1::AmendmentKind::Rectification, fields, Some(rectified))
    }

    /// Queues an amendment of `out`, numbered next.
    pub(crate) fn queue_amendment(
        &self,
        tx: &Tx<'_>,
        out: &OutTransfer,
        kind: v1::AmendmentKind,
        fields: Vec<String>,
        rectified: Option<v1::SocialFile>,
    ) -> Result<()> {
        let n = t::next_amendment(tx, &out.id)?;
        let message = Message::TransferAmendment(v1::TransferAmendment {
            schema_minor: passerelle_protocol::SCHEMA_MINOR,
            schema_version: SCHEMA_VERSION,
            sender: self.party(),
            transfer_id: out.id.clone(),
            amendment: n,
            kind: kind as i32,
            fields,
            rectified,
            decided_at: Some(prost_types_timestamp(self.now())),
        });
        let to = passerelle_bus::office::party(&out.to_body, &out.to_office);
        self.queue_message(tx, Kind::TransferAmendment, &to, &out.id, message.encode())?;
        tracing::info!(transfer = %out.id, amendment = n, kind = kind.as_str_name(), "amendment sent on");
        Ok(())
    }

    /// After a rectification of `file`: sent on when the file's transfer was accepted.
    pub(crate) fn send_on_rectification(&self, file: &str, fields: &[String]) -> Result<()> {
        let Some(row) = self.store().file(file)? else { return Ok(()) };
        let queued = self.store().transact(|tx| {
            let Some(out) = t::accepted_out_of_file(tx, file)? else { return Ok(false) };
            self.queue_rectification(tx, &out, &row.file, fields)?;
            Ok::<_, SocialServiceError>(true)
        })?;
        if queued {
            self.outbox_wake();
        }
        Ok(())
    }

    /// Before an upheld objection erases `file`: OBJECTION_UPHELD sent on when its transfer was
    /// accepted (or is awaiting its receipt).
    pub(crate) fn send_on_objection(&self, file: &str) -> Result<()> {
        let queued = self.store().transact(|tx| {
            let out = match t::accepted_out_of_file(tx, file)? {
                Some(out) => out,
                None => match t::in_flight_out_of_file(tx, file)? {
                    Some(out) if out.state == "sent" => out,
                    _ => return Ok(false),
                },
            };
            self.queue_amendment(tx, &out, v1::AmendmentKind::ObjectionUpheld, Vec::new(), None)?;
            Ok::<_, SocialServiceError>(true)
        })?;
        if queued {
            self.outbox_wake();
        }
        Ok(())
    }

    /// Applies an amendment received for a transfer this office accepted, once and in order,
    /// and queues its receipt (an amendment of a transfer not held, or out of order: refused,
    /// file malformed — but an upheld objection of a transfer not held yet refuses the
    /// transfer ahead of its chunks).
    pub(crate) fn receive_amendment(&self, a: &v1::TransferAmendment) -> Result<()> {
        let known = self.store().in_transfer(&a.transfer_id)?.filter(|k| k.from_party == a.sender);
        let receipt = |refusal| self.receipt(&a.transfer_id, a.amendment, refusal);
        let answer = |payload: Vec<u8>, applied: Option<u32>| -> Result<()> {
            self.store().transact(|tx| {
                if let Some(n) = applied {
                    t::amendment_received(tx, &a.transfer_id, n)?;
                }
                self.queue_message(tx, Kind::TransferReceipt, &a.sender, &a.transfer_id, payload)
            })?;
            self.outbox_wake();
            Ok(())
        };
        let objection = a.kind == v1::AmendmentKind::ObjectionUpheld as i32;
        let known = match known {
            None if objection && uuid::Uuid::parse_str(&a.transfer_id).is_ok() => {
                // The objection overtook the transfer's chunks (a chunk retried later, a
                // redelivery): the transfer is recorded and refused now, so its chunks, when
                // they come, are answered with the refusal and never imported.
                return match self.store().transact(|tx| t::insert_in(tx, &self.withdrawn(a)))? {
                    true => self.drop_undecided(&a.transfer_id, &a.sender, a.amendment),
                    false => answer(receipt(Some(v1::TransferRefusal::FileMalformed)), None),
                };
            }
            Some(k) if objection && matches!(k.state.as_str(), "receiving" | "awaiting_attachment") => {
                return self.drop_undecided(&k.id, &a.sender, a.amendment);
            }
            Some(k) if k.state == "accepted" && a.amendment >= 1 && a.amendment <= k.amendments + 1 => k,
            _ => return answer(receipt(Some(v1::TransferRefusal::FileMalformed)), None),
        };
        if a.amendment <= known.amendments {
            return answer(receipt(None), None);
        }
        let file = known.file.clone().unwrap_or_default();
        let agent = format!("transfer:{}", a.sender);
        match v1::AmendmentKind::try_from(a.kind) {
            Ok(v1::AmendmentKind::Rectification) => {
                let rectified = a.rectified.clone().unwrap_or_default();
                if let Err(e) = self.rectify_from(&file, &agent, &a.fields, &rectified) {
                    tracing::warn!(transfer = %known.id, error = %e, "an amendment could not be applied");
                    return answer(receipt(Some(v1::TransferRefusal::FileMalformed)), None);
                }
            }
            Ok(v1::AmendmentKind::ObjectionUpheld) => self.erase_opposed(&file)?,
            _ => return answer(receipt(Some(v1::TransferRefusal::FileMalformed)), None),
        }
        answer(receipt(None), Some(a.amendment))
    }

    /// The record of a transfer withdrawn by an objection before any of its chunks came.
    fn withdrawn(&self, a: &v1::TransferAmendment) -> t::InTransfer {
        let now = self.now();
        t::InTransfer {
            id: a.transfer_id.clone(),
            from_party: a.sender.clone(),
            to_party: self.party(),
            state: "receiving".into(),
            received_at: now,
            sent_at: now,
            chunk_count: 0,
            withheld: Vec::new(),
            file: None,
            decided_by: None,
            decided_at: None,
            refusal: None,
            amendments: 0,
            receipt: None,
        }
    }

    /// An objection upheld before this office decided the transfer: the person opposed, the
    /// chunks deleted, the transfer refused (no reason of the list: the sender withdrew it) and
    /// both receipts queued.
    fn drop_undecided(&self, id: &str, sender: &str, amendment: u32) -> Result<()> {
        let chunk0 = self.store().reading(|tx| t::chunks(tx, id))?.into_iter().next();
        let nir = chunk0
            .and_then(|b| <v1::Transfer as prost::Message>::decode(b.as_slice()).ok())
            .and_then(|c| c.file)
            .and_then(|f| f.identity)
            .and_then(|i| i.nir)
            .and_then(|n| Nir::parse(&n).ok());
        let now = self.now();
        if let Some(nir) = nir {
            self.store().oppose(&self.file_person(&nir), now)?;
        }
        let transfer_receipt = self.receipt(id, 0, Some(v1::TransferRefusal::Unspecified));
        self.store().transact(|tx| {
            let decision = t::InDecision {
                id,
                accepted: false,
                file: None,
                by: &daemon_actor(crate::DAEMON),
                at: now,
                refusal: None,
                receipt: &transfer_receipt,
            };
            if t::decide_in(tx, &decision)? {
                self.queue_message(tx, Kind::TransferReceipt, sender, id, transfer_receipt.clone())?;
            }
            t::amendment_received(tx, id, amendment)?;
            self.queue_message(tx, Kind::TransferReceipt, sender, id, self.receipt(id, amendment, None))
        })?;
        self.store().scrub()?;
        tracing::info!(transfer = %id, "objection upheld at the sending body before the transfer was decided: dropped");
        self.outbox_wake();
        Ok(())
    }

    /// Replaces `fields` of the imported file with their values in `rectified` (absent: cleared).
    fn rectify_from(&self, id: &str, agent: &str, fields: &[String], rectified: &v1::SocialFile) -> Result<()> {
        let values = file_json(rectified);
        let now = self.now();
        self.store().change_file(id, now, |row, holder| {
            let row = row.ok_or_else(|| refused(format!("the imported file {id} is gone")))?;
            let mut file = row.file.clone();
            let at = chrono::DateTime::<chrono::Utc>::from(now);
            let mut changes = Vec::new();
            for path in fields {
                let value = values.get(path).cloned().unwrap_or(serde_json::Value::Null);
                Update::parse(path, &value)?.apply(&mut file, "transfer", at)?;
                changes.push(ChangeEntryRow {
                    field: path.clone(),
                    kind: "rectification",
                    agent: agent.to_owned(),
                    at: now,
                });
            }
            let person = self.rekeyed_person(&row, &file, holder, "another case file holds the rectified NIR")?;
            let entry = AccessEntry::new(now, daemon_actor(crate::DAEMON), AccessKind::Update, &row.id);
            let entry = match self.log_person(&file) {
                Some(p) => entry.about(p),
                None => entry,
            };
            self.record(&[entry])?;
            Ok::<_, SocialServiceError>((FileChange { file, changes, person }, ()))
        })
    }

    /// An objection upheld at the sending body: the imported file erased at once and the person
    /// opposed, as the local objection does.
    fn erase_opposed(&self, id: &str) -> Result<()> {
        let Some(row) = self.store().file(id)? else { return Ok(()) };
        let now = self.now();
        let entry = AccessEntry::new(now, daemon_actor(crate::DAEMON), AccessKind::Delete, &row.id);
        let entry = match self.log_person(&row.file) {
            Some(p) => entry.about(p),
            None => entry,
        };
        self.store().erase_files(std::slice::from_ref(&row.id), Some(now), |_| self.record(&[entry]))?;
        self.store().scrub()?;
        tracing::info!(file = %row.id, "objection upheld at the sending body: imported case file erased");
        Ok(())
    }
}
