//! The transfers queue's handler: a chunk stored, then decided (the membership source asked,
//! off the store's lock), a receipt or an amendment applied. Store work runs on the blocking
//! pool; a store or membership failure is retried later (the delivery stays unacknowledged),
//! never answered as a refusal.

use passerelle_bus::{Delivery, Handler, Message, NoticeReason, Verdict};

use super::transfer_receive::{Chunked, Decider};
use super::{SocialService, SocialServiceError};

/// Handles the office's transfers queue.
pub(crate) struct TransferHandler {
    service: SocialService,
}

impl TransferHandler {
    pub(crate) fn new(service: SocialService) -> TransferHandler {
        TransferHandler { service }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&SocialService) -> Result<T, SocialServiceError> + Send + 'static,
    ) -> Result<T, Verdict> {
        let service = self.service.clone();
        match tokio::task::spawn_blocking(move || f(&service)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(SocialServiceError::Refused(why))) => Err(Verdict::dead_letter(NoticeReason::Invalid, why)),
            Ok(Err(e)) => Err(Verdict::RetryLater(e.to_string())),
            Err(e) => Err(Verdict::RetryLater(format!("the transfer's task failed: {e}"))),
        }
    }

    async fn transfer(&self, chunk: passerelle_protocol::v1::Transfer) -> Result<(), Verdict> {
        let Chunked::Complete(assembled) = self.blocking(move |s| s.receive_chunk(&chunk)).await? else {
            return Ok(());
        };
        let Some(membership) = self.service.transfers_state().membership.clone() else {
            let id = assembled.id.clone();
            return self.blocking(move |s| s.await_attachment(&id)).await;
        };
        match membership.is_attached(assembled.nir.as_str()).await {
            Ok(true) => self.blocking(move |s| s.import(&assembled, &Decider::Daemon).map(|_| ())).await,
            Ok(false) => {
                let id = assembled.id.clone();
                self.blocking(move |s| {
                    s.refuse_in(&id, passerelle_protocol::v1::TransferRefusal::PersonNotAttached, &Decider::Daemon)
                        .map(|_| ())
                })
                .await
            }
            Err(e) => Err(Verdict::RetryLater(e.to_string())),
        }
    }
}

#[async_trait::async_trait]
impl Handler for TransferHandler {
    async fn handle(&self, delivery: Delivery) -> Verdict {
        let done = match delivery.message {
            Message::Transfer(chunk) => self.transfer(chunk).await,
            Message::TransferReceipt(receipt) => self.blocking(move |s| s.receive_receipt(&receipt)).await,
            Message::TransferAmendment(amendment) => self.blocking(move |s| s.receive_amendment(&amendment)).await,
            other => Err(Verdict::dead_letter(
                NoticeReason::WrongType,
                format!("{} is not a transfer message", other.kind().type_name()),
            )),
        };
        done.err().unwrap_or(Verdict::Ack)
    }
}
