//! A case file's transfer to the insured's new health-insurance body (norm 43, A.3; DESIGN
//! §7.2): sending (the file frozen, its minimised copy queued in the store's outbox in the same
//! transaction, [`super::transfer_send`]), the receipt (accepted: the sender's action closed at
//! the transfer date, the file kept frozen under its retention; refused: unfrozen, the reason
//! shown, [`super::transfer_receipts`]), receiving (chunks stored, the person's attachment
//! confirmed by the membership source or a social worker, the file imported and the receipt
//! queued in one transaction, [`super::transfer_receive`]), the amendments sent on
//! (rectifications, an upheld objection, [`super::transfer_amend`]), and the outbox drained to
//! the broker ([`super::transfer_outbox`]).
//!
//! The states: sent (`out`) `sending` → `sent` → `accepted` | `refused`; received (`in`)
//! `receiving` → `awaiting_attachment` → `accepted` | `refused` (the API shows
//! `awaiting-attachment`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use passerelle_bus::{Bus, Consumer, Queue};
use passerelle_protocol::v1;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use super::transfer_views::*;
use super::{Result, SocialService, SocialServiceError};
use crate::membership::Membership;
use crate::store::rfc3339;
use crate::store::transfers::{InTransfer, OutTransfer};

/// The most actions one chunk carries (transfer.proto): a file with a longer history is split.
pub const MAX_CHUNK_ACTIONS: usize = 500;

/// How long a transfer's messages may wait in the broker (the AMQP `expiration` and
/// `x-passerelle-expires-at`): [`passerelle_bus::topology::TRANSFER_MESSAGE_LIFETIME`], 23 days,
/// so that a copy the broker dead-letters (kept 7 days at most) is gone 30 days after sending.
pub const TRANSFER_CAP: Duration = passerelle_bus::topology::TRANSFER_MESSAGE_LIFETIME;

/// The withheld items' codes (views, `transfers_out.withheld`).
pub const MEDICAL_OPINIONS: &str = "medical-opinions";
pub const SOCIAL_ASSESSMENT: &str = "social-assessment";

/// The transfers' state held by the service: the outbox's wake-up, the membership source, the
/// chunk size.
pub(crate) struct TransferState {
    pub(crate) outbox_ready: Notify,
    pub(crate) membership: Option<Arc<dyn Membership>>,
    chunk_actions: AtomicUsize,
}

impl TransferState {
    pub(crate) fn new(membership: Option<Arc<dyn Membership>>) -> TransferState {
        TransferState { outbox_ready: Notify::new(), membership, chunk_actions: AtomicUsize::new(MAX_CHUNK_ACTIONS) }
    }
}

/// The transfers' consumer and outbox publisher, running until [`TransfersRunning::stop`].
#[derive(Debug)]
pub struct TransfersRunning {
    consumer: Consumer,
    stop: watch::Sender<bool>,
    publisher: JoinHandle<()>,
}

impl TransfersRunning {
    /// Stops consuming and publishing (the outbox keeps what was not confirmed).
    pub async fn stop(self) {
        self.consumer.stop().await;
        let _ = self.stop.send(true);
        if let Err(e) = self.publisher.await {
            tracing::error!(error = %e, "the transfers' outbox publisher ended abnormally");
        }
    }
}

pub(crate) fn refused(message: impl Into<String>) -> SocialServiceError {
    SocialServiceError::Refused(message.into())
}

/// A refusal's code as views and the store name it.
pub fn refusal_code(r: v1::TransferRefusal) -> &'static str {
    match r {
        v1::TransferRefusal::UnknownOffice => "unknown-office",
        v1::TransferRefusal::NotHealthInsurance => "not-health-insurance",
        v1::TransferRefusal::PersonNotAttached => "person-not-attached",
        v1::TransferRefusal::FileMalformed => "file-malformed",
        v1::TransferRefusal::AlreadyFollowed => "already-followed",
        v1::TransferRefusal::Unspecified => "unspecified",
    }
}

/// A refusal's code read back.
pub fn refusal_of(code: &str) -> Option<v1::TransferRefusal> {
    [
        v1::TransferRefusal::UnknownOffice,
        v1::TransferRefusal::NotHealthInsurance,
        v1::TransferRefusal::PersonNotAttached,
        v1::TransferRefusal::FileMalformed,
        v1::TransferRefusal::AlreadyFollowed,
    ]
    .into_iter()
    .find(|r| refusal_code(*r) == code)
}

/// A refusal in words.
pub fn refusal_text(code: &str) -> &'static str {
    match code {
        "unknown-office" => "the receiving office is not a social service of the deployment (no queue, or not the office named)",
        "not-health-insurance" => "the sender or the receiver is not a health-insurance social service",
        "person-not-attached" => "the receiving office found the person not attached to it",
        "file-malformed" => "the file could not be imported as sent (chunks that disagree, a field of the wrong shape, another legal basis)",
        "already-followed" => "the receiving office already follows the person in a file of its own",
        "not-sent" => "the transfer could not be sent (its 30-day cap passed, or a chunk is unreadable): send it again",
        _ => "refused",
    }
}

/// `BODY/OFFICE` read into its two codes.
pub(crate) fn parse_address(text: &str) -> Result<(String, String)> {
    let bad = || {
        refused(format!(
            "`to`: give the receiving social service as BODY/OFFICE, e.g. cramif/ss-75 (got {:?})",
            passerelle_protocol::untrusted::Shown::id(text).to_string()
        ))
    };
    let (body, office) = text.split_once('/').ok_or_else(bad)?;
    if !passerelle_protocol::ids::is_office_code(body) || !passerelle_protocol::ids::is_office_code(office) {
        return Err(bad());
    }
    Ok((body.to_owned(), office.to_owned()))
}

/// `body.office` as `BODY/OFFICE`.
pub(crate) fn shown_party(party: &str) -> String {
    party.replacen('.', "/", 1)
}

fn time(at: SystemTime) -> String {
    rfc3339(passerelle_sqlite::time::to_ms(at))
}

impl SocialService {
    /// This social service's party code, `body.office`.
    pub fn party(&self) -> String {
        passerelle_bus::office::party(&self.settings().body, self.office())
    }

    pub(crate) fn transfers_state(&self) -> &TransferState {
        &self.inner.transfers
    }

    /// Wakes the outbox publisher (a transaction queued a message).
    pub(crate) fn outbox_wake(&self) {
        self.inner.transfers.outbox_ready.notify_one();
    }

    pub(crate) fn chunk_actions(&self) -> usize {
        self.inner.transfers.chunk_actions.load(Ordering::Relaxed).max(1)
    }

    /// Sets the actions a chunk carries (at most [`MAX_CHUNK_ACTIONS`]): the tests of chunking
    /// use a few actions a chunk.
    #[doc(hidden)]
    pub fn set_transfer_chunk_actions(&self, actions: usize) {
        self.inner.transfers.chunk_actions.store(actions.clamp(1, MAX_CHUNK_ACTIONS), Ordering::Relaxed);
    }

    pub(crate) fn out_view(&self, t: &OutTransfer) -> TransferView {
        TransferView {
            id: t.id.clone(),
            direction: "out".into(),
            file: Some(t.file.clone()),
            from: format!("{}/{}", self.settings().body, self.office()),
            to: format!("{}/{}", t.to_body, t.to_office),
            state: t.state.clone(),
            sent_at: time(t.sent_at),
            decided_at: t.decided_at.map(time),
            refusal: t.refusal.clone(),
            refusal_text: t.refusal.as_deref().map(|c| refusal_text(c).to_owned()),
            withheld: t.withheld.clone(),
            amendments: t.amendments,
        }
    }

    pub(crate) fn in_view(&self, t: &InTransfer) -> TransferView {
        TransferView {
            id: t.id.clone(),
            direction: "in".into(),
            file: t.file.clone(),
            from: shown_party(&t.from_party),
            to: shown_party(&t.to_party),
            state: t.state.replace('_', "-"),
            sent_at: time(t.sent_at),
            decided_at: t.decided_at.map(time),
            refusal: t.refusal.clone(),
            refusal_text: t.refusal.as_deref().map(|c| refusal_text(c).to_owned()),
            withheld: t.withheld.clone(),
            amendments: t.amendments,
        }
    }

    /// Starts consuming the office's transfers queue on `bus` and draining the outbox to it.
    pub async fn start_transfers(&self, bus: Arc<dyn Bus>) -> Result<TransfersRunning> {
        let handler = Arc::new(super::transfer_consumer::TransferHandler::new(self.clone()));
        let consumer = bus
            .consume(Queue::SocialServiceTransfers(self.party()), handler)
            .await
            .map_err(|e| refused(format!("cannot consume the transfers queue of {}: {e}", self.party())))?;
        let (stop, stopped) = watch::channel(false);
        let publisher = tokio::spawn(super::transfer_outbox::run(self.clone(), bus, stopped));
        tracing::info!(party = %self.party(), "transfers consumed and published");
        Ok(TransfersRunning { consumer, stop, publisher })
    }
}
