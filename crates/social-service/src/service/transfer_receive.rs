//! Receiving a file (norm 43, A.3): each chunk checked (the office it is for, a health-insurance
//! sender, the legal basis) and stored once; the whole transfer assembled and validated with
//! `passerelle_social_file`; then decided — imported when the person is attached to this office
//! (the membership source, or a social worker's acceptance), refused otherwise — the receipt
//! queued in the same transaction as the decision, and the same receipt queued again when the
//! transfer is delivered again.

use passerelle_access_log::{daemon_actor, AccessEntry, AccessKind};
use passerelle_bus::{Kind, Message, SCHEMA_VERSION};
use passerelle_protocol::nir::Nir;
use passerelle_protocol::v1;
use passerelle_social_file::{validate, validate_action};
use passerelle_sqlite::{params, Tx};
use prost::Message as _;
use uuid::Uuid;

use super::transfer_send::{prost_types_timestamp, system_time, withheld_code};
use super::transfer_views::*;
use super::transfers::{refusal_code, refusal_of, refused, shown_party, MAX_CHUNK_ACTIONS, TRANSFER_CAP};
use super::{Result, SocialService, SocialServiceError};
use crate::store::ms;
use crate::store::outbox::{self, OutboxRow};
use crate::store::transfers::{self as t, InDecision, InTransfer};

/// A whole transfer, assembled from its chunks and validated.
pub(crate) struct Assembled {
    pub id: String,
    pub from_party: String,
    pub file: v1::SocialFile,
    pub archive_refused: bool,
    pub actions: Vec<v1::TransferredAction>,
    pub nir: Nir,
}

impl std::fmt::Debug for Assembled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assembled").field("id", &self.id).field("actions", &self.actions.len()).finish_non_exhaustive()
    }
}

/// What storing a chunk came to.
#[derive(Debug)]
pub(crate) enum Chunked {
    /// Stored (more chunks to come), refused, or answered again: nothing more to do.
    Done,
    /// Every chunk is in: the attachment is to be confirmed.
    Complete(Box<Assembled>),
}

/// Who decides a received transfer: the daemon (the membership source) or a social worker.
#[derive(Debug, Clone)]
pub(crate) enum Decider {
    Daemon,
    Worker(String),
}

impl Decider {
    fn actor(&self) -> String {
        match self {
            Decider::Daemon => daemon_actor(crate::DAEMON),
            Decider::Worker(agent) => passerelle_access_log::agent_actor(agent),
        }
    }

    fn id(&self) -> String {
        match self {
            Decider::Daemon => daemon_actor(crate::DAEMON),
            Decider::Worker(agent) => agent.clone(),
        }
    }
}

fn party_of(address: Option<&v1::SocialServiceAddress>) -> Option<String> {
    address.map(|a| passerelle_bus::office::party(&a.body, &a.office))
}

impl SocialService {
    /// Queues a transfer message (a receipt, an amendment) in the caller's transaction.
    pub(crate) fn queue_message(
        &self,
        tx: &Tx<'_>,
        kind: Kind,
        routing_key: &str,
        transfer: &str,
        payload: Vec<u8>,
    ) -> Result<()> {
        let now = self.now();
        let row = OutboxRow {
            id: 0,
            kind: kind.type_name().to_owned(),
            routing_key: routing_key.to_owned(),
            message_id: Uuid::now_v7().to_string(),
            transfer: transfer.to_owned(),
            expires_at: now + TRANSFER_CAP,
            payload,
        };
        outbox::queue(tx, &row, now)?;
        Ok(())
    }

    /// A receipt of this office, encoded.
    pub(crate) fn receipt(&self, transfer: &str, amendment: u32, refusal: Option<v1::TransferRefusal>) -> Vec<u8> {
        Message::TransferReceipt(v1::TransferReceipt {
            schema_minor: passerelle_protocol::SCHEMA_MINOR,
            schema_version: SCHEMA_VERSION,
            sender: self.party(),
            transfer_id: transfer.to_owned(),
            amendment,
            accepted: refusal.is_none(),
            refusal: refusal.map_or(0, |r| r as i32),
            decided_at: Some(prost_types_timestamp(self.now())),
        })
        .encode()
    }

    /// Why a chunk's header is refused, if it is: not this office, a sender that is not a
    /// health-insurance social service or not the one it claims, another legal basis.
    fn header_refusal(&self, chunk: &v1::Transfer) -> Option<v1::TransferRefusal> {
        if party_of(chunk.to.as_ref()).as_deref() != Some(self.party().as_str()) {
            return Some(v1::TransferRefusal::UnknownOffice);
        }
        let from_ok = chunk.from.as_ref().is_some_and(|from| {
            party_of(Some(from)).as_deref() == Some(chunk.sender.as_str())
                && passerelle_protocol::social_services::check_destination(&from.body).is_ok()
        });
        if !from_ok || passerelle_protocol::social_services::check_destination(&self.settings().body).is_err() {
            return Some(v1::TransferRefusal::NotHealthInsurance);
        }
        if chunk.basis != passerelle_protocol::legal::SOCIAL_FILE_TRANSFER as i32 || chunk.sent_at.is_none() {
            return Some(v1::TransferRefusal::FileMalformed);
        }
        None
    }

    /// Stores a received chunk (once); refuses a bad header; answers a decided transfer with its
    /// stored receipt; assembles the transfer once every chunk is in.
    pub(crate) fn receive_chunk(&self, chunk: &v1::Transfer) -> Result<Chunked> {
        let id = chunk.transfer_id.clone();
        if uuid::Uuid::parse_str(&id).is_err() {
            return Err(refused("a transfer id is not a UUID"));
        }
        let now = self.now();
        let refusal = self.header_refusal(chunk);
        let stored = self.store().transact(|tx| {
            if let Some(known) = t::in_transfer(tx, &id)? {
                if known.from_party != chunk.sender {
                    // Another service's chunk under a transfer id it does not hold: it neither
                    // decides nor learns anything of that transfer.
                    tracing::warn!(transfer = %id, from = %passerelle_protocol::untrusted::Shown::id(&chunk.sender),
                        "a chunk from another service than the transfer's sender: ignored");
                    return Ok(None);
                }
                if let Some(receipt) = known.receipt.clone() {
                    // Delivered again once decided: the same receipt, nothing imported twice.
                    self.queue_message(tx, Kind::TransferReceipt, &known.from_party, &id, receipt)?;
                    return Ok(None);
                }
                if refusal.is_none() && known.chunk_count != chunk.chunk_count {
                    return Ok(Some((known, Some(v1::TransferRefusal::FileMalformed))));
                }
            }
            let row = InTransfer {
                id: id.clone(),
                from_party: chunk.sender.clone(),
                to_party: party_of(chunk.to.as_ref()).unwrap_or_default(),
                state: "receiving".into(),
                received_at: now,
                sent_at: system_time(chunk.sent_at.as_ref()),
                chunk_count: chunk.chunk_count,
                withheld: Vec::new(),
                file: None,
                decided_by: None,
                decided_at: None,
                refusal: None,
                amendments: 0,
                receipt: None,
            };
            t::insert_in(tx, &row)?;
            if refusal.is_none() {
                if chunk.chunk_index == 0 {
                    let withheld: Vec<String> = chunk
                        .withheld
                        .iter()
                        .filter_map(|w| v1::WithheldItem::try_from(*w).ok())
                        .map(|w| withheld_code(w).to_owned())
                        .collect();
                    t::set_in_withheld(tx, &id, &withheld)?;
                }
                t::store_chunk(tx, &id, chunk.chunk_index, &chunk.encode_to_vec())?;
            }
            Ok::<_, SocialServiceError>(Some((row, refusal)))
        })?;
        let Some((row, refusal)) = stored else {
            // A receipt queued again, or nothing.
            self.outbox_wake();
            return Ok(Chunked::Done);
        };
        if let Some(refusal) = refusal {
            self.refuse_in(&id, refusal, &Decider::Daemon)?;
            return Ok(Chunked::Done);
        }
        if self.store().chunks_stored(&id)? < u64::from(row.chunk_count) {
            return Ok(Chunked::Done);
        }
        match self.assemble(&id) {
            Ok(assembled) => {
                if self.store().file_of_person(&self.file_person(&assembled.nir))?.is_some() {
                    self.refuse_in(&id, v1::TransferRefusal::AlreadyFollowed, &Decider::Daemon)?;
                    return Ok(Chunked::Done);
                }
                Ok(Chunked::Complete(Box::new(assembled)))
            }
            Err(problem) => {
                tracing::warn!(transfer = %id, problem, "received transfer refused: file malformed");
                self.refuse_in(&id, v1::TransferRefusal::FileMalformed, &Decider::Daemon)?;
                Ok(Chunked::Done)
            }
        }
    }

    /// The transfer from its stored chunks, checked: chunks that agree, at most
    /// [`MAX_CHUNK_ACTIONS`] actions a chunk, chunk 0 with the file and without the items it
    /// lists withheld, a valid file (`passerelle_social_file::validate`) with a valid NIR, valid actions. The
    /// problem in words (paths and rules, never a value).
    pub(crate) fn assemble(&self, id: &str) -> std::result::Result<Assembled, String> {
        let chunks = self.store().reading(|tx| t::chunks(tx, id)).map_err(|e| e.to_string())?;
        let chunks: Vec<v1::Transfer> = chunks
            .iter()
            .map(|b| v1::Transfer::decode(b.as_slice()))
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| "a stored chunk does not decode".to_owned())?;
        let first = chunks.first().ok_or("no chunk")?;
        if first.chunk_index != 0 || chunks.len() != first.chunk_count as usize {
            return Err("chunks missing".into());
        }
        for (i, c) in chunks.iter().enumerate() {
            if c.chunk_index as usize != i
                || c.chunk_count != first.chunk_count
                || c.sender != first.sender
                || c.sent_at != first.sent_at
                || c.to != first.to
            {
                return Err(format!("chunk {i} disagrees with chunk 0"));
            }
        }
        if let Some(i) = chunks.iter().position(|c| c.actions.len() > MAX_CHUNK_ACTIONS) {
            return Err(format!("chunk {i} carries more than {MAX_CHUNK_ACTIONS} actions"));
        }
        let file = first.file.clone().ok_or("chunk 0 carries no file")?;
        // An item the sender lists as withheld must not travel (its secrecy was not lifted).
        let withheld = |item: v1::WithheldItem| first.withheld.contains(&(item as i32));
        if withheld(v1::WithheldItem::MedicalOpinions) && file.medical.as_ref().is_some_and(|m| !m.opinions.is_empty())
        {
            return Err("medical.opinions: carried while listed withheld".into());
        }
        if withheld(v1::WithheldItem::SocialAssessment)
            && file.social_situation.as_ref().is_some_and(|s| s.assessment.is_some())
        {
            return Err("social_situation.assessment: carried while listed withheld".into());
        }
        if let Err(problems) = validate(&file) {
            return Err(super::files::problems(&problems));
        }
        let nir = file
            .identity
            .as_ref()
            .and_then(|i| i.nir.as_deref())
            .and_then(|n| Nir::parse(n).ok())
            .ok_or("identity.nir: missing or invalid")?;
        let actions: Vec<v1::TransferredAction> = chunks.iter().flat_map(|c| c.actions.clone()).collect();
        for (i, a) in actions.iter().enumerate() {
            let check = v1::Action {
                action_id: "a".into(),
                file_id: "f".into(),
                purpose: a.purpose,
                start: a.start,
                end: a.end,
                contacts: a
                    .contacts
                    .iter()
                    .map(|c| v1::Contact { channel: c.channel, date: c.date, agent_id: "transfer".into() })
                    .collect(),
                offer_ids: Vec::new(),
            };
            if let Err(problems) = validate_action(&check) {
                return Err(format!("actions[{i}]: {}", super::files::problems(&problems)));
            }
        }
        Ok(Assembled {
            id: id.to_owned(),
            from_party: first.sender.clone(),
            file,
            archive_refused: first.archive_refused,
            actions,
            nir,
        })
    }

    /// Refuses a received transfer: decided, its chunks deleted and left unreadable on disk
    /// (the person is not followed here), the refused receipt queued; `false` when it was
    /// decided already.
    pub(crate) fn refuse_in(&self, id: &str, refusal: v1::TransferRefusal, by: &Decider) -> Result<bool> {
        let done = self.refuse_in_unscrubbed(id, refusal, by)?;
        if done {
            self.store().scrub()?;
        }
        Ok(done)
    }

    fn refuse_in_unscrubbed(&self, id: &str, refusal: v1::TransferRefusal, by: &Decider) -> Result<bool> {
        let now = self.now();
        let receipt = self.receipt(id, 0, Some(refusal));
        let done = self.store().transact(|tx| {
            let Some(known) = t::in_transfer(tx, id)? else { return Ok(false) };
            let decision = InDecision {
                id,
                accepted: false,
                file: None,
                by: &by.id(),
                at: now,
                refusal: Some(refusal_code(refusal)),
                receipt: &receipt,
            };
            if !t::decide_in(tx, &decision)? {
                return Ok(false);
            }
            self.queue_message(tx, Kind::TransferReceipt, &known.from_party, id, receipt.clone())?;
            Ok::<_, SocialServiceError>(true)
        })?;
        if done {
            tracing::info!(transfer = %id, refusal = refusal_code(refusal), "received transfer refused");
            self.outbox_wake();
        }
        Ok(done)
    }

    /// Imports an assembled transfer as a new file of this office (origin, actions and contacts
    /// recreated, a history entry, the access log's `create`), and queues the accepted receipt
    /// — one transaction. The new file's id; `None` when the transfer was decided already.
    pub(crate) fn import(&self, a: &Assembled, by: &Decider) -> Result<Option<String>> {
        let now = self.now();
        let file_id = Uuid::now_v7().to_string();
        let person = self.file_person(&a.nir);
        let origin = shown_party(&a.from_party);
        let transfer_agent = format!("transfer:{}", a.from_party);
        let receipt = self.receipt(&a.id, 0, None);
        let imported = self.store().transact(|tx| {
            let Some(known) = t::in_transfer(tx, &a.id)? else { return Ok(None) };
            if known.receipt.is_some() {
                return Ok(None);
            }
            if tx.exists("SELECT 1 FROM files WHERE person = ?1", params![person.as_slice()])? {
                if let Decider::Worker(_) = by {
                    return Err(refused(
                        "the person already has a case file here: refuse the transfer with the reason already-followed",
                    ));
                }
                // A file opened here while the membership source answered: refused, never left
                // undecided (a refused delivery would hold the chunks until their 30-day cap).
                let receipt = self.receipt(&a.id, 0, Some(v1::TransferRefusal::AlreadyFollowed));
                let decision = InDecision {
                    id: &a.id,
                    accepted: false,
                    file: None,
                    by: &by.id(),
                    at: now,
                    refusal: Some(refusal_code(v1::TransferRefusal::AlreadyFollowed)),
                    receipt: &receipt,
                };
                if t::decide_in(tx, &decision)? {
                    self.queue_message(tx, Kind::TransferReceipt, &known.from_party, &a.id, receipt)?;
                }
                return Ok(Some(None));
            }
            tx.execute(
                "INSERT INTO files (id, office, state, opened_at, opened_by, last_activity_at, file, person, origin) \
                 VALUES (?1, ?2, 'open', ?3, ?4, ?3, ?5, ?6, ?7)",
                params![file_id, self.office(), ms(now), by.id(), a.file.encode_to_vec(), person.as_slice(), origin],
            )?;
            for action in &a.actions {
                let action_id = Uuid::now_v7().to_string();
                let start = action.start.as_ref().map(Self::date_text).unwrap_or_default();
                // The action open at the sender (closed there at the transfer date) continues
                // here, under this office's idle rules.
                let end = action.end.as_ref().map(Self::date_text);
                tx.execute(
                    "INSERT INTO actions (id, file, purpose, start, end) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![action_id, file_id, action.purpose, start, end],
                )?;
                for c in &action.contacts {
                    let date = c.date.as_ref().map(Self::date_text).unwrap_or_default();
                    tx.execute(
                        "INSERT INTO contacts (action, channel, date, agent) VALUES (?1, ?2, ?3, ?4)",
                        params![action_id, c.channel, date, transfer_agent],
                    )?;
                }
            }
            if a.archive_refused {
                tx.execute(
                    "INSERT INTO rights_records (file, kind, at, agent) VALUES (?1, 'refuse_archive', ?2, ?3)",
                    params![file_id, ms(now), transfer_agent],
                )?;
            }
            tx.execute(
                "INSERT INTO file_changes (file, field, kind, agent, at) VALUES (?1, 'transfer', 'update', ?2, ?3)",
                params![file_id, transfer_agent, ms(now)],
            )?;
            let decision = InDecision {
                id: &a.id,
                accepted: true,
                file: Some(&file_id),
                by: &by.id(),
                at: now,
                refusal: None,
                receipt: &receipt,
            };
            t::decide_in(tx, &decision)?;
            self.queue_message(tx, Kind::TransferReceipt, &known.from_party, &a.id, receipt.clone())?;
            let entry = AccessEntry::new(now, by.actor(), AccessKind::Create, &file_id);
            let entry = match self.log_person(&a.file) {
                Some(p) => entry.about(p),
                None => entry,
            };
            self.record(&[entry])?;
            Ok::<_, SocialServiceError>(Some(Some(file_id.clone())))
        })?;
        let imported = match imported {
            Some(None) => {
                tracing::info!(transfer = %a.id, "received transfer refused: already followed");
                self.store().scrub()?;
                self.outbox_wake();
                return Ok(None);
            }
            other => other.flatten(),
        };
        if imported.is_some() {
            tracing::info!(transfer = %a.id, file = %file_id, from = %a.from_party, "transferred case file imported");
            // A development hook: the import committed, its receipt not yet published.
            passerelle_hooks::fault_point("social-service.after_import_before_receipt");
            self.outbox_wake();
        }
        Ok(imported)
    }

    /// Refuses (file malformed) the received transfers still missing chunks [`TRANSFER_CAP`]
    /// after their first chunk: the broker has dropped the rest, and the chunks held here are
    /// personal data with no use left. Run by the housekeeping round; how many.
    pub fn expire_incomplete_transfers(&self) -> Result<u64> {
        let before = self.now().checked_sub(TRANSFER_CAP).unwrap_or(std::time::UNIX_EPOCH);
        let mut expired = 0;
        loop {
            let ids = self.store().reading(|tx| t::incomplete_before(tx, before, 100))?;
            for id in &ids {
                if self.refuse_in_unscrubbed(id, v1::TransferRefusal::FileMalformed, &Decider::Daemon)? {
                    expired += 1;
                }
            }
            if ids.len() < 100 {
                if expired > 0 {
                    self.store().scrub()?;
                }
                return Ok(expired);
            }
        }
    }

    /// Marks a complete transfer as waiting for a social worker's confirmation (no membership
    /// source).
    pub(crate) fn await_attachment(&self, id: &str) -> Result<()> {
        self.store().transact(|tx| t::await_attachment(tx, id))?;
        tracing::info!(transfer = %id, "received transfer awaits a social worker's confirmation of the attachment");
        Ok(())
    }

    fn awaiting(&self, id: &str) -> Result<InTransfer> {
        let known = self
            .store()
            .in_transfer(id)?
            .ok_or_else(|| refused(format!("no transfer {} sent to this office", super::shown_id(id))))?;
        if known.state != "awaiting_attachment" {
            return Err(refused(format!(
                "transfer {} is {}: only a transfer awaiting attachment is accepted or refused by a social worker",
                known.id,
                known.state.replace('_', "-")
            )));
        }
        Ok(known)
    }

    /// A social worker of the receiving office confirms the person is attached to it: the file
    /// is imported and the accepted receipt queued.
    pub fn transfer_accept(&self, agent: &str, id: &str) -> Result<TransferView> {
        let known = self.awaiting(id)?;
        let assembled = self.assemble(&known.id).map_err(|p| refused(format!("transfer {}: {p}", known.id)))?;
        self.import(&assembled, &Decider::Worker(agent.to_owned()))?;
        let known = self.store().in_transfer(&known.id)?.unwrap_or(known);
        Ok(self.in_view(&known))
    }

    /// A social worker of the receiving office refuses the transfer (the person is not attached
    /// to it, or already followed here): the refused receipt is queued.
    pub fn transfer_refuse(&self, agent: &str, id: &str, request: &RefuseTransfer) -> Result<TransferView> {
        let refusal = match refusal_of(&request.reason) {
            Some(r @ (v1::TransferRefusal::PersonNotAttached | v1::TransferRefusal::AlreadyFollowed)) => r,
            _ => return Err(refused("reason: person-not-attached or already-followed")),
        };
        let known = self.awaiting(id)?;
        self.record(&[AccessEntry::new(
            self.now(),
            passerelle_access_log::agent_actor(agent),
            AccessKind::Update,
            &known.id,
        )])?;
        self.refuse_in(&known.id, refusal, &Decider::Worker(agent.to_owned()))?;
        let known = self.store().in_transfer(&known.id)?.unwrap_or(known);
        Ok(self.in_view(&known))
    }
}
