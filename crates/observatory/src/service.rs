//! The daemon: [`Observatory::build`] opens the stores, [`Observatory::run_until_stopped`]
//! consumes the observatory's four queues (requests, responses, notices, rights), drains the
//! outbox and the rights desk's, and runs the timer until the shutdown future resolves.
//!
//! Shutdown order: stop consuming (in-flight deliveries finish and are acknowledged after their
//! commit; unacknowledged ones go back to the queue), then stop the timer and the publisher
//! (whatever is still in the outbox is published on the next start). Nothing is lost at any
//! point: every state lives in SQLite, so a `kill -9` is just a shutdown without the niceties.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use passerelle_bus::{Bus, Consumer, Delivery, Handler, Message, NoticeReason, Queue, Rejected, Verdict};
use passerelle_observatory_store::audit::Action;
use passerelle_observatory_store::StoreError;
use passerelle_protocol::rules::Clock;
use tokio::sync::watch;

use crate::engine::Engine;
use crate::settings::ObservatorySettings;
use crate::status::StatusReader;
use crate::{deadlines, publisher, rights, ObservatoryError};

/// Consumers on the responses queue. Each handles its deliveries one at a time; several let
/// the responses that arrive together share one group commit (one `fsync` for the group instead
/// of one each), which is what bounds the collection stage of a big case. Requests keep one
/// consumer: a case's chunks are checked for duplicate NIRs one after the other.
const RESPONSE_CONSUMERS: usize = 4;

/// How often the daemon checks that its consumers are still running.
const HEALTH_CHECK: Duration = Duration::from_millis(500);

/// A built observatory, ready to run.
pub struct Observatory {
    engine: Arc<Engine>,
    bus: Arc<dyn Bus>,
}

impl std::fmt::Debug for Observatory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observatory").field("code", &self.engine.config.code).finish_non_exhaustive()
    }
}

impl Observatory {
    /// Checks the settings, opens (or creates) the case store, the statistics store and the
    /// statistics secret. Does not touch the broker.
    pub fn build(
        settings: ObservatorySettings,
        bus: Arc<dyn Bus>,
        clock: Arc<dyn Clock>,
    ) -> Result<Observatory, ObservatoryError> {
        let engine = Engine::open(&settings, clock)?;
        Ok(Observatory { engine: Arc::new(engine), bus })
    }

    /// A handle reading the daemon's state (cases by state, pending chunks per body…).
    pub fn status_reader(&self) -> StatusReader {
        StatusReader { engine: Arc::clone(&self.engine) }
    }

    /// The daemon's access log (the local API records its reads and refusals there).
    pub fn accesses(&self) -> passerelle_access_log::Accesses {
        self.engine.accesses.clone()
    }

    /// The rights desk (decree art. 6): the rights officer's requests, as the local API opens,
    /// lists and delivers them; the daemon publishes what it decides and records the answers.
    pub fn rights_desk(&self) -> passerelle_rights::RightsDesk {
        self.engine.desk.clone()
    }

    /// Appends the daemon's own entries to the audit trail (the local API's).
    pub fn audit_trail(&self) -> crate::status::AuditTrail {
        crate::status::AuditTrail { engine: Arc::clone(&self.engine) }
    }

    /// Runs until `shutdown` resolves, then stops cleanly. Fails if a consumer cannot start or
    /// ends on its own (a fatal broker error).
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), ObservatoryError> {
        self.run_until_stopped_with_ready(shutdown, || {}).await
    }

    /// As [`Observatory::run_until_stopped`], calling `ready` once every consumer is registered
    /// (the daemon's `/health` says serving from then on, not before).
    pub async fn run_until_stopped_with_ready(
        self,
        shutdown: impl Future<Output = ()> + Send,
        ready: impl FnOnce() + Send,
    ) -> Result<(), ObservatoryError> {
        let engine = self.engine;
        let code = engine.config.code.to_string();
        let e = Arc::clone(&engine);
        blocking(move || {
            e.store.write(|tx| {
                e.audit(
                    tx,
                    Action::Started,
                    None,
                    &e.own_actor(),
                    serde_json::json!({ "retention_days": e.config.retention.as_secs() / 86400,
                        "max_respond_by_days": e.config.max_respond_by.as_secs() / 86400,
                        "chunk_size": e.config.chunk_size, "version": env!("CARGO_PKG_VERSION") }),
                )
            })
        })
        .await?;

        let (stop_tx, stop_rx) = watch::channel(false);
        let timer = tokio::spawn(deadlines::run(Arc::clone(&engine), stop_rx.clone()));
        let outbox = tokio::spawn(publisher::run(Arc::clone(&engine), Arc::clone(&self.bus), stop_rx.clone()));
        let desk_outbox = tokio::spawn(rights::run_desk_publisher(Arc::clone(&engine), Arc::clone(&self.bus), stop_rx));

        let mut consumers: Vec<Consumer> = Vec::new();
        let started = async {
            consumers.push(
                self.bus
                    .consume(Queue::ObservatoryRequests(code.clone()), Arc::new(RequestsHandler(Arc::clone(&engine))))
                    .await?,
            );
            consumers.push(
                self.bus
                    .consume(Queue::ObservatoryNotices(code.clone()), Arc::new(NoticesHandler(Arc::clone(&engine))))
                    .await?,
            );
            consumers.push(
                self.bus
                    .consume(
                        Queue::ObservatoryRights(code.clone()),
                        Arc::new(RightsHandler { engine: Arc::clone(&engine), bus: Arc::clone(&self.bus) }),
                    )
                    .await?,
            );
            for _ in 0..RESPONSE_CONSUMERS {
                consumers.push(
                    self.bus
                        .consume(
                            Queue::ObservatoryResponses(code.clone()),
                            Arc::new(ResponsesHandler(Arc::clone(&engine))),
                        )
                        .await?,
                );
            }
            Ok::<_, ObservatoryError>(())
        }
        .await;
        let outcome = match started {
            Err(e) => Err(e),
            Ok(()) => {
                ready();
                tracing::info!(observatory = %code, "observatory running");
                tokio::pin!(shutdown);
                loop {
                    tokio::select! {
                        _ = &mut shutdown => break Ok(()),
                        _ = tokio::time::sleep(HEALTH_CHECK) => {
                            if consumers.iter().any(Consumer::is_finished) {
                                break Err(ObservatoryError::ConsumerEnded(code.clone()));
                            }
                        }
                    }
                }
            }
        };
        tracing::info!(observatory = %code, "observatory stopping");
        for consumer in consumers {
            consumer.stop().await;
        }
        engine.stopping.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = stop_tx.send(true);
        let _ = timer.await;
        let _ = outbox.await;
        let _ = desk_outbox.await;
        tracing::info!(observatory = %code, "observatory stopped");
        outcome
    }
}

/// Runs a store operation on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ObservatoryError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ObservatoryError::Task(e.to_string()))?.map_err(Into::into)
}

/// The requests queue: requests and receipts.
struct RequestsHandler(Arc<Engine>);

/// The responses queue.
struct ResponsesHandler(Arc<Engine>);

/// The notices queue: the bodies' refusals of the observatory's messages.
struct NoticesHandler(Arc<Engine>);

#[async_trait::async_trait]
impl Handler for NoticesHandler {
    async fn rejected(&self, rejected: Rejected) -> Result<(), String> {
        record_rejection(Arc::clone(&self.0), rejected).await
    }

    async fn handle(&self, delivery: Delivery) -> Verdict {
        let engine = Arc::clone(&self.0);
        run_handler(move || {
            let result = engine.on_notice(&delivery);
            engine.settle(result)
        })
        .await
    }
}

#[async_trait::async_trait]
impl Handler for RequestsHandler {
    async fn rejected(&self, rejected: Rejected) -> Result<(), String> {
        record_rejection(Arc::clone(&self.0), rejected).await
    }

    async fn handle(&self, delivery: Delivery) -> Verdict {
        let engine = Arc::clone(&self.0);
        run_handler(move || {
            let result = match &delivery.message {
                Message::Request(r) => engine.on_request(&delivery, r),
                Message::Receipt(r) => engine.on_receipt(&delivery, crate::receipt::Receipt::try_from(r)),
                other => {
                    let reason = format!("a {} does not belong on the requests queue", other.kind().type_name());
                    engine.store.write(|tx| engine.dead_letter(tx, &delivery, NoticeReason::WrongType, reason))
                }
            };
            engine.settle(result)
        })
        .await
    }
}

#[async_trait::async_trait]
impl Handler for ResponsesHandler {
    async fn rejected(&self, rejected: Rejected) -> Result<(), String> {
        record_rejection(Arc::clone(&self.0), rejected).await
    }

    async fn handle(&self, delivery: Delivery) -> Verdict {
        let engine = Arc::clone(&self.0);
        run_handler(move || {
            let result = if matches!(delivery.message, Message::Response(_)) {
                engine.on_response(delivery)
            } else {
                let reason =
                    format!("a {} does not belong on the responses queue", delivery.message.kind().type_name());
                engine.store.write(|tx| engine.dead_letter(tx, &delivery, NoticeReason::WrongType, reason))
            };
            engine.settle(result)
        })
        .await
    }
}

/// The rights queue: rights requests (answered as a party asked) and the answers to this
/// observatory's own requests (recorded on its desk).
struct RightsHandler {
    engine: Arc<Engine>,
    bus: Arc<dyn Bus>,
}

#[async_trait::async_trait]
impl Handler for RightsHandler {
    async fn rejected(&self, rejected: Rejected) -> Result<(), String> {
        record_rejection(Arc::clone(&self.engine), rejected).await
    }

    async fn handle(&self, delivery: Delivery) -> Verdict {
        let engine = Arc::clone(&self.engine);
        let Message::RightsRequest(request) = delivery.message.clone() else {
            return run_handler(move || {
                let result = match &delivery.message {
                    Message::RightsAnswer(a) => engine.record_rights_answer(&delivery, a),
                    other => {
                        let reason = format!("a {} does not belong on the rights queue", other.kind().type_name());
                        engine.store.write(|tx| engine.dead_letter(tx, &delivery, NoticeReason::WrongType, reason))
                    }
                };
                engine.settle(result)
            })
            .await;
        };
        let decided = tokio::task::spawn_blocking(move || {
            engine.answer_rights_request(&delivery, &request).map_err(|e| engine.settle(Err(e)))
        })
        .await;
        match decided {
            Ok(Ok(rights::Decided::Answer(answer))) => rights::publish_answer(self.bus.as_ref(), *answer).await,
            Ok(Ok(rights::Decided::Refused(verdict))) | Ok(Err(verdict)) => verdict,
            Err(e) => Verdict::RetryLater(format!("the handler failed: {e}")),
        }
    }
}

/// Records a refusal by the bus in the audit trail (on the blocking pool); a storage failure is
/// logged loudly and the bus retries later, the delivery staying unacknowledged.
async fn record_rejection(engine: Arc<Engine>, rejected: Rejected) -> Result<(), String> {
    let recorded = tokio::task::spawn_blocking(move || engine.record_rejection(&rejected)).await;
    match recorded {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "STORAGE ERROR: a refused delivery cannot be audited; it stays unacknowledged and will be retried");
            Err(format!("storage error: {e}"))
        }
        Err(e) => Err(format!("the handler failed: {e}")),
    }
}

async fn run_handler(f: impl FnOnce() -> Verdict + Send + 'static) -> Verdict {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| Verdict::RetryLater(format!("the handler failed: {e}")))
}
