//! A daemon's notices queue carries the witness messages besides the notices. The daemon's
//! service consumes that queue with its own notices handler, as before; [`TrailsBus`] — the bus
//! the party hands the service — wraps that handler in a [`NoticesHandler`], which gives a
//! checkpoint or a query to the daemon's witness side, a receipt or an answer to its
//! checkpointer, and everything else (the notices, and the refusals the bus reports) to the
//! service's handler.

use std::sync::{Arc, OnceLock};

use passerelle_bus::{Bus, BusError, Consumer, Delivery, Handler, Message, Outgoing, Queue, Rejected, Verdict};

use crate::{Checkpointer, WitnessService};

/// The checkpointer and the witness side a [`TrailsBus`] routes to, set once the daemon's
/// trails started.
#[derive(Debug, Clone)]
pub struct TrailsRoute {
    pub checkpointer: Arc<Checkpointer>,
    pub witness: Arc<WitnessService>,
}

/// The notices queue's handler: the witness messages to the trails, the rest to the service's.
pub struct NoticesHandler {
    pub route: TrailsRoute,
    pub service: Arc<dyn Handler>,
}

impl std::fmt::Debug for NoticesHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoticesHandler").field("route", &self.route).finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl Handler for NoticesHandler {
    async fn handle(&self, delivery: Delivery) -> Verdict {
        match &delivery.message {
            Message::Checkpoint(m) => self.route.witness.on_checkpoint(m).await,
            Message::CheckpointQuery(q) => self.route.witness.on_query(q).await,
            Message::CheckpointReceipt(r) => {
                self.route.checkpointer.on_receipt(r);
                Verdict::Ack
            }
            Message::WitnessedCheckpoints(a) => {
                self.route.checkpointer.on_answer(a.clone());
                Verdict::Ack
            }
            _ => self.service.handle(delivery).await,
        }
    }

    async fn rejected(&self, rejected: Rejected) -> Result<(), String> {
        self.service.rejected(rejected).await
    }
}

/// The bus a party hands its service: the same bus, except that the service's consumer of the
/// party's notices queue also serves the trails ([`NoticesHandler`]).
pub struct TrailsBus {
    inner: Arc<dyn Bus>,
    notices: Queue,
    route: OnceLock<TrailsRoute>,
}

impl std::fmt::Debug for TrailsBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrailsBus").field("notices", &self.notices).finish_non_exhaustive()
    }
}

impl TrailsBus {
    pub fn wrap(inner: Arc<dyn Bus>, notices: Queue) -> Arc<TrailsBus> {
        Arc::new(TrailsBus { inner, notices, route: OnceLock::new() })
    }

    /// The bus underneath (the trails publish on it).
    pub fn inner(&self) -> Arc<dyn Bus> {
        Arc::clone(&self.inner)
    }

    /// Routes the witness messages to `route` from now on (set once; later calls change nothing).
    pub fn route_to(&self, route: TrailsRoute) {
        let _ = self.route.set(route);
    }
}

#[async_trait::async_trait]
impl Bus for TrailsBus {
    async fn publish(&self, messages: Vec<Outgoing>) -> Result<(), BusError> {
        self.inner.publish(messages).await
    }

    async fn consume(&self, queue: Queue, handler: Arc<dyn Handler>) -> Result<Consumer, BusError> {
        match self.route.get() {
            Some(route) if queue == self.notices => {
                let handler = Arc::new(NoticesHandler { route: route.clone(), service: handler });
                self.inner.consume(queue, handler).await
            }
            Some(_) | None => {
                if queue == self.notices {
                    tracing::warn!("the notices queue is consumed before the trails started: witness messages wait");
                }
                self.inner.consume(queue, handler).await
            }
        }
    }
}
