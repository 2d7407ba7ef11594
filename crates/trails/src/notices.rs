//! The handler of a daemon's notices queue, which carries the witness messages too: a notice is
//! logged (`NoticeLogger`), a checkpoint or a query goes to the daemon's witness side, a receipt
//! or an answer to its checkpointer.

use std::sync::Arc;

use passerelle_bus::{Delivery, Handler, Message, NoticeLogger, NoticeReason, Verdict};

use crate::{Checkpointer, WitnessService};

/// The notices queue's handler.
#[derive(Debug)]
pub struct NoticesHandler {
    pub checkpointer: Arc<Checkpointer>,
    pub witness: Arc<WitnessService>,
}

#[async_trait::async_trait]
impl Handler for NoticesHandler {
    async fn handle(&self, delivery: Delivery) -> Verdict {
        match &delivery.message {
            Message::Checkpoint(m) => self.witness.on_checkpoint(m).await,
            Message::CheckpointQuery(q) => self.witness.on_query(q).await,
            Message::CheckpointReceipt(r) => {
                self.checkpointer.on_receipt(r);
                Verdict::Ack
            }
            Message::WitnessedCheckpoints(a) => {
                self.checkpointer.on_answer(a.clone());
                Verdict::Ack
            }
            Message::Notice(_) => NoticeLogger.handle(delivery).await,
            other => Verdict::dead_letter(
                NoticeReason::WrongType,
                format!("a {} on a notices queue", other.kind().type_name()),
            ),
        }
    }
}
