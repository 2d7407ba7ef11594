//! A case file's transfer to the insured's new health-insurance body (norm 43, A.3; DESIGN
//! §7.2): sending (the file frozen, its minimised copy queued in the store's outbox in the same
//! transaction), the receipt (accepted: the sender's action closed at the transfer date, the
//! file kept frozen under its retention; refused: unfrozen, the reason shown), receiving (chunks
//! stored, the person's attachment confirmed by the membership source or a social worker, the
//! file imported and the receipt queued in one transaction), the amendments sent on
//! (rectifications, an upheld objection), and the outbox drained to the broker.
//!
//! STUB: the interface the party and the CLI code against; the implementation lands with the
//! transfer issue's store work.

use std::sync::Arc;

use passerelle_bus::Bus;

use super::transfer_views::*;
use super::{Result, SocialService, SocialServiceError};

/// The transfers' consumer and outbox publisher, running until [`TransfersRunning::stop`].
#[derive(Debug)]
pub struct TransfersRunning {
    _private: (),
}

impl TransfersRunning {
    /// Stops consuming and publishing (the outbox keeps what was not confirmed).
    pub async fn stop(self) {}
}

fn not_built() -> SocialServiceError {
    SocialServiceError::Refused("transfers are not built yet".into())
}

impl SocialService {
    /// Freezes `request.file` and queues its transfer (a `social-worker` of the file's office).
    pub fn transfer_send(&self, _agent: &str, _request: &SendTransfer) -> Result<TransferView> {
        Err(not_built())
    }

    /// Releases the medical opinions of a file for its next transfer to `request.to` (a
    /// `medical-officer`).
    pub fn transfer_release_medical(&self, _agent: &str, _request: &ReleaseMedical) -> Result<ReleaseView> {
        Err(not_built())
    }

    /// The office's transfers, sent (`direction = Some("out")`), received (`Some("in")`) or both,
    /// newest first, from the cursor `after`.
    pub fn transfers(
        &self,
        _agent: &str,
        _direction: Option<&str>,
        _after: Option<&str>,
        _limit: usize,
    ) -> Result<TransferList> {
        Err(not_built())
    }

    /// One transfer; the person's identity when it awaits this office's confirmation (a `read`).
    pub fn transfer(&self, _agent: &str, _id: &str) -> Result<IncomingTransferView> {
        Err(not_built())
    }

    /// A social worker of the receiving office confirms the person is attached to it: the file
    /// is imported and the accepted receipt queued.
    pub fn transfer_accept(&self, _agent: &str, _id: &str) -> Result<TransferView> {
        Err(not_built())
    }

    /// A social worker of the receiving office refuses the transfer (the person is not attached
    /// to it, or already followed here): the refused receipt is queued.
    pub fn transfer_refuse(&self, _agent: &str, _id: &str, _request: &RefuseTransfer) -> Result<TransferView> {
        Err(not_built())
    }

    /// Counts for operators (`ctl status`, metrics): no person, no file id.
    pub fn transfer_summary(&self) -> Result<TransferSummary> {
        Err(not_built())
    }

    /// Starts consuming the office's transfers queue on `bus` and draining the outbox to it.
    pub async fn start_transfers(&self, _bus: Arc<dyn Bus>) -> Result<TransfersRunning> {
        Ok(TransfersRunning { _private: () })
    }
}
