//! The consuming side of the API — deliveries, verdicts, handlers, the running consumer — and
//! the retry loop both buses use when a handler answers *retry later*.

use std::sync::Arc;
use std::time::Duration;

use passerelle_protocol::untrusted::{Shown, REASON_CHARS};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::{Kind, Message, Reason};

/// A delivered message, decoded and with its sender's identity already checked by the bus
/// (undecodable bytes, unknown type, bad schema version, headers disagreeing with the protobuf,
/// and a broker user who may not speak for `message.sender()` are dead-lettered by the bus
/// itself with a reason: handlers never see them).
#[derive(Debug, Clone)]
pub struct Delivery {
    pub message: Message,
    pub message_id: String,
    /// The broker-validated user who published it.
    pub user_id: String,
    /// The broker delivered it before (to a consumer that did not acknowledge it).
    pub redelivered: bool,
    /// The fields this release does not know (`Response.answers.values#28`), when the message's
    /// `schema_minor` is this release's or lower: a violation, logged and counted by the bus
    /// (audited by the observatory). Empty for a newer minor, whose additive fields are ignored.
    pub unknown_fields: Vec<String>,
}

/// A delivery the bus refused before any handler saw it (undecodable bytes, unknown type, bad
/// schema version, headers disagreeing with the protobuf, a broker user who may not speak for the
/// sender, an oversized body), as [`Handler::rejected`] sees it: the AMQP properties as sent and
/// the reason, never the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The broker queue it was delivered on.
    pub queue: String,
    /// Its kind, when the `type` property named one of ours.
    pub kind: Option<Kind>,
    /// The `message_id` property, as sent (unchecked text).
    pub message_id: Option<String>,
    /// The broker-validated user who published it, when the publisher set `user_id`.
    pub user_id: Option<String>,
    /// The `correlation_id` property (the case id a well-formed message carries; unchecked text).
    pub correlation_id: Option<String>,
    /// Why it is refused; the dead-letter carries the same text.
    pub reason: String,
    /// The reason's code, as a notice gives it.
    pub code: passerelle_protocol::v1::NoticeReason,
    /// The party told of the refusal (a notice): the one its broker-validated user speaks for,
    /// when exactly one and the refusal is not about identity; `None`: nobody is told.
    pub answer_to: Option<String>,
}

/// What a handler decides about a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Processed (and stored) — acknowledge.
    Ack,
    /// Refuse it for good, and tell its sender (a notice; nobody on a social service's transfers
    /// queue). On an observatory's queue the bus publishes it to the dead-letter exchange with
    /// `x-passerelle-reason`, then acks; on any other party's queue it rejects it without
    /// requeue, and the broker dead-letters it.
    DeadLetter(Reason),
    /// Transient fault (full disk…): keep it unacked, retry inside the process with backoff.
    RetryLater(String),
}

impl Verdict {
    /// Refuse it for good, with a reason code and a short text (ids and codes only).
    pub fn dead_letter(code: crate::NoticeReason, text: impl Into<String>) -> Verdict {
        Verdict::DeadLetter(Reason::new(code, text))
    }
}

/// The service's code for one queue. Deliveries of one consumer are handled one at a time, in
/// order; a handler that retries later holds back the deliveries behind it.
#[async_trait::async_trait]
pub trait Handler: Send + Sync + 'static {
    async fn handle(&self, delivery: Delivery) -> Verdict;

    /// Told of a delivery the bus refused before decoding it for [`Handler::handle`], so the
    /// service can record it (the observatory's audit trail). The bus dead-letters the delivery
    /// once this returns `Ok`; an `Err` (the record could not be stored) is retried like
    /// [`Verdict::RetryLater`], so a refusal is never dead-lettered without its record.
    async fn rejected(&self, _rejected: Rejected) -> Result<(), String> {
        Ok(())
    }
}

/// First wait before calling a handler again after *retry later*.
pub const RETRY_INITIAL_BACKOFF: Duration = Duration::from_millis(100);

/// Longest wait between two attempts: transient faults (a full disk being cleaned) take
/// minutes, and a slower retry would only delay recovery.
pub const RETRY_MAX_BACKOFF: Duration = Duration::from_secs(30);

/// How long one delivery may stay in *retry later* before the bus gives it back to the broker
/// (which counts it toward the delivery limit): well inside RabbitMQ's 30-minute consumer
/// timeout, past which the broker would close the channel.
pub const RETRY_BUDGET: Duration = Duration::from_secs(20 * 60);

/// What to do with a delivery once its handler has settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Settled {
    Ack,
    DeadLetter(Reason),
    /// Give it back to the broker: the handler panicked or the retry budget ran out.
    Requeue(String),
    /// The consumer is stopping while the delivery waited for a retry: leave it unacked.
    Stopped,
}

/// Calls the handler until it acks or dead-letters, retrying with capped exponential backoff.
/// A panicking handler is caught (the delivery goes back to the broker).
pub(crate) async fn settle(
    handler: &Arc<dyn Handler>,
    delivery: Delivery,
    stop: &mut watch::Receiver<bool>,
) -> Settled {
    let mut backoff = Backoff::new();
    loop {
        let h = Arc::clone(handler);
        let d = delivery.clone();
        let verdict = match tokio::spawn(async move { h.handle(d).await }).await {
            Ok(v) => v,
            Err(e) => return Settled::Requeue(format!("handler failed: {e}")),
        };
        match verdict {
            Verdict::Ack => return Settled::Ack,
            Verdict::DeadLetter(reason) => return Settled::DeadLetter(reason),
            Verdict::RetryLater(why) => {
                let Some(pause) = backoff.next() else {
                    return Settled::Requeue(format!("still failing after the retry budget: {why}"));
                };
                tracing::warn!(message_id = %Shown::id(&delivery.message_id), kind = %delivery.message.kind(),
                    reason = %Shown::text(&why).at_most(REASON_CHARS), retry_in_ms = pause.as_millis() as u64, "handler will retry later");
                if !wait_unless_stopped(pause, stop).await {
                    return Settled::Stopped;
                }
            }
        }
    }
}

/// Calls the handler's [`Handler::rejected`] until it has recorded the refusal, with the same
/// backoff and budget as [`settle`]; then the delivery is dead-lettered with its reason.
pub(crate) async fn settle_rejection(
    handler: &Arc<dyn Handler>,
    rejected: Rejected,
    stop: &mut watch::Receiver<bool>,
) -> Settled {
    let mut backoff = Backoff::new();
    loop {
        let h = Arc::clone(handler);
        let r = rejected.clone();
        match tokio::spawn(async move { h.rejected(r).await }).await {
            Ok(Ok(())) => return Settled::DeadLetter(Reason::new(rejected.code, rejected.reason)),
            Ok(Err(why)) => {
                let Some(pause) = backoff.next() else {
                    return Settled::Requeue(format!("refusal still not recorded after the retry budget: {why}"));
                };
                tracing::warn!(queue = %rejected.queue,
                    message_id = rejected.message_id.as_deref().map(|m| display(Shown::id(m))),
                    reason = %Shown::text(&why).at_most(REASON_CHARS), retry_in_ms = pause.as_millis() as u64, "the refusal of a delivery will be recorded later");
                if !wait_unless_stopped(pause, stop).await {
                    return Settled::Stopped;
                }
            }
            Err(e) => return Settled::Requeue(format!("recording a refusal failed: {e}")),
        }
    }
}

/// The pauses between a delivery's attempts: capped exponential backoff from
/// [`RETRY_INITIAL_BACKOFF`] to [`RETRY_MAX_BACKOFF`], within [`RETRY_BUDGET`].
struct Backoff {
    started: tokio::time::Instant,
    next: Duration,
}

impl Backoff {
    fn new() -> Backoff {
        Backoff { started: tokio::time::Instant::now(), next: RETRY_INITIAL_BACKOFF }
    }

    /// The pause before the next attempt, or `None` when waiting it would overrun the budget.
    fn next(&mut self) -> Option<Duration> {
        let pause = self.next;
        if self.started.elapsed() + pause > RETRY_BUDGET {
            return None;
        }
        self.next = (pause * 2).min(RETRY_MAX_BACKOFF);
        Some(pause)
    }
}

/// Waits `pause`; `false` when the consumer was stopped first.
async fn wait_unless_stopped(pause: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(pause) => true,
        _ = stopped(stop) => false,
    }
}

/// Resolves once the stop flag is raised. A dropped [`Consumer`] handle does not stop its
/// consumer (it runs until its bus closes).
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    if stop.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// A running consumer. `stop` stops consuming, lets in-flight handlers finish, returns.
/// Dropping the handle without `stop` leaves the consumer running until its bus is closed.
#[derive(Debug)]
pub struct Consumer {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Consumer {
    /// Wraps a consumer task that watches `stop`.
    pub(crate) fn new(stop: watch::Sender<bool>, task: JoinHandle<()>) -> Consumer {
        Consumer { stop, task }
    }

    /// Stops consuming; returns once the in-flight delivery is settled and the task has ended.
    /// Deliveries the consumer held but did not acknowledge go back to the queue.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "consumer task ended abnormally");
        }
    }

    /// Whether the consumer task has ended by itself (it only does on a fatal error, logged).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}
