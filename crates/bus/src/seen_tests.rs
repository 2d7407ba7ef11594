//! What the in-process tests of the bus share: a handler that reports every delivery and every
//! refusal the bus tells it of, and waiting for the next one with a deadline.

use std::sync::Arc;

use std::time::Duration;

use tokio::sync::mpsc;

use crate::{Delivery, Handler, Verdict};

/// How long a test waits for a delivery on the in-process bus (it arrives at once).
pub(crate) const WAIT: Duration = Duration::from_secs(5);

/// Reports every delivery; `rejected` hears the bus's refusals.
pub(crate) struct Seen {
    deliveries: mpsc::UnboundedSender<Delivery>,
    refusals: mpsc::UnboundedSender<crate::Rejected>,
}

#[async_trait::async_trait]
impl Handler for Seen {
    async fn handle(&self, delivery: Delivery) -> Verdict {
        let _ = self.deliveries.send(delivery);
        Verdict::Ack
    }

    async fn rejected(&self, rejected: crate::Rejected) -> Result<(), String> {
        let _ = self.refusals.send(rejected);
        Ok(())
    }
}

pub(crate) fn seen() -> (Arc<Seen>, mpsc::UnboundedReceiver<Delivery>, mpsc::UnboundedReceiver<crate::Rejected>) {
    let (deliveries, d) = mpsc::unbounded_channel();
    let (refusals, r) = mpsc::unbounded_channel();
    (Arc::new(Seen { deliveries, refusals }), d, r)
}

pub(crate) async fn next<T>(rx: &mut mpsc::UnboundedReceiver<T>) -> T {
    tokio::time::timeout(WAIT, rx.recv()).await.expect("within the deadline").expect("open")
}
