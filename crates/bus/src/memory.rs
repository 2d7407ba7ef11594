//! The in-process bus: one shared in-memory broker with the AMQP bus's semantics — routing by
//! kind and routing key (unroutable is an error), per-message expiry, the same receiver checks
//! and dead-letter reasons, acks, *retry later* inside the consumer, redelivery of what a
//! stopped or crashed handler did not acknowledge, the delivery limit, and the notices that
//! tell an authenticated sender why its message was refused — for the embedded demo and fast
//! unit tests.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use passerelle_protocol::untrusted::{Shown, REASON_CHARS};
use tokio::sync::{watch, Notify};

use crate::consumer::{settle, settle_rejection, stopped, Settled};
use crate::envelope::Envelope;
use crate::notice::NoticeDraft;
use crate::topology::{Exchange, Topology, DELIVERY_LIMIT};
use crate::{Bus, BusError, BusSettings, BusStats, Consumer, Handler, Kind, Message, Outgoing, Queue};

/// A message the bus dead-lettered (the reason is the handler's or the bus's own check).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// `None` when the AMQP `type` was not one of ours.
    pub kind: Option<Kind>,
    pub reason: String,
    pub message_id: String,
    /// The broker name of the queue it was taken from.
    pub queue: String,
}

/// A message waiting in a queue.
#[derive(Debug, Clone)]
struct Stored {
    envelope: Envelope,
    expires_at: Option<SystemTime>,
    /// Times it went back to the queue unacknowledged (the quorum queue's delivery count).
    returns: i64,
}

#[derive(Debug, Default)]
struct QueueState {
    ready: VecDeque<Stored>,
    notify: Arc<Notify>,
}

#[derive(Debug)]
struct Broker {
    settings: BusSettings,
    queues: Mutex<HashMap<String, QueueState>>,
    dead_letters: Mutex<Vec<DeadLetter>>,
    stats: Arc<BusStats>,
}

/// The in-process twin of the AMQP bus: one shared broker; clones share it.
#[derive(Debug, Clone)]
pub struct InProcessBus {
    broker: Arc<Broker>,
}

/// A handle publishing as one broker user (the `user_id` every message carries).
#[derive(Debug, Clone)]
pub struct InProcessConnection {
    broker: Arc<Broker>,
    user: String,
}

impl InProcessBus {
    /// One shared broker with the deployment's topology.
    pub fn new(settings: &BusSettings) -> InProcessBus {
        let queues = Topology::flow_queues(settings)
            .into_iter()
            .map(|q| (q.name(&settings.prefix), QueueState::default()))
            .collect();
        if settings.identity.insecure_any_user {
            tracing::warn!("in-process bus with the INSECURE identity profile: any user may speak for any party");
        }
        InProcessBus {
            broker: Arc::new(Broker {
                settings: settings.clone(),
                queues: Mutex::new(queues),
                dead_letters: Mutex::default(),
                stats: Arc::default(),
            }),
        }
    }

    /// A handle publishing as `user`.
    pub fn connect_as(&self, user: &str) -> InProcessConnection {
        InProcessConnection { broker: Arc::clone(&self.broker), user: user.to_owned() }
    }

    /// The broker's counters (dead-letters; an in-process bus never reconnects or blocks).
    pub fn stats(&self) -> Arc<BusStats> {
        Arc::clone(&self.broker.stats)
    }

    /// Its broker connection, for `/health`: always connected (the broker is in the process).
    pub fn broker_health(&self) -> crate::BrokerHealth {
        crate::BrokerHealth::in_process()
    }

    /// What was dead-lettered so far, oldest first.
    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        lock(&self.broker.dead_letters).clone()
    }

    /// Messages waiting in a queue, not yet delivered (expired ones included until a consumer
    /// meets them).
    pub fn ready(&self, queue: &Queue) -> usize {
        let name = queue.name(&self.broker.settings.prefix);
        lock(&self.broker.queues).get(&name).map_or(0, |q| q.ready.len())
    }

    /// Puts raw bytes with an AMQP `type` straight into a queue, as a misbehaving or forging
    /// peer would (tests of the receiver checks). No schema or chunk headers are set.
    pub fn inject_raw(&self, queue: &Queue, type_name: &str, body: Vec<u8>, user_id: &str) -> Result<(), BusError> {
        let envelope = Envelope {
            type_name: Some(type_name.to_owned()),
            body,
            user_id: Some(user_id.to_owned()),
            message_id: Some(uuid::Uuid::now_v7().to_string()),
            ..Envelope::default()
        };
        let name = queue.name(&self.broker.settings.prefix);
        self.broker.enqueue(&name, Stored { envelope, expires_at: None, returns: 0 }, false)
    }

    /// Puts `message` into a queue with the properties and headers a publisher writes for it, but
    /// `body` as its bytes — a peer adding fields this release does not know (tests of the
    /// versions rule).
    pub fn inject_as(&self, queue: &Queue, message: &Message, body: Vec<u8>, user_id: &str) -> Result<(), BusError> {
        let message_id = uuid::Uuid::now_v7().to_string();
        let envelope = Envelope { body, ..Envelope::of(message, &message_id, user_id) };
        let name = queue.name(&self.broker.settings.prefix);
        self.broker.enqueue(&name, Stored { envelope, expires_at: None, returns: 0 }, false)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Broker {
    /// The queue a message goes to, as the direct exchange would route it.
    fn route(&self, exchange: Exchange, routing_key: &str) -> Option<String> {
        Topology::flow_queues(&self.settings)
            .into_iter()
            .find(|q| q.binding() == (exchange, routing_key))
            .map(|q| q.name(&self.settings.prefix))
    }

    fn enqueue(&self, queue: &str, stored: Stored, front: bool) -> Result<(), BusError> {
        let mut queues = lock(&self.queues);
        let q = queues.get_mut(queue).ok_or_else(|| BusError::Settings(format!("no queue {queue}")))?;
        if front {
            q.ready.push_front(stored);
        } else {
            q.ready.push_back(stored);
        }
        q.notify.notify_one();
        Ok(())
    }

    /// The next live message of a queue; expired ones are dropped on the way (as the broker
    /// drops them: expiry is not a dead-letter).
    fn take(&self, queue: &str) -> Option<Stored> {
        let mut queues = lock(&self.queues);
        let q = queues.get_mut(queue)?;
        let now = SystemTime::now();
        while let Some(m) = q.ready.pop_front() {
            if m.expires_at.is_some_and(|t| t <= now) {
                tracing::debug!(queue, "in-process message expired in its queue");
                continue;
            }
            return Some(m);
        }
        None
    }

    fn notifier(&self, queue: &str) -> Option<Arc<Notify>> {
        lock(&self.queues).get(queue).map(|q| Arc::clone(&q.notify))
    }

    fn dead_letter(&self, queue: &str, envelope: &Envelope, kind: Option<Kind>, reason: String) {
        tracing::warn!(queue, kind = kind.map(Kind::type_name),
            message_id = envelope.message_id.as_deref().map(|m| display(Shown::id(m))),
            reason = %Shown::text(&reason).at_most(REASON_CHARS), "message dead-lettered");
        self.stats.dead_lettered(queue, kind);
        lock(&self.dead_letters).push(DeadLetter {
            kind,
            reason,
            message_id: envelope.message_id.clone().unwrap_or_default(),
            queue: queue.to_owned(),
        });
    }

    /// Puts a refusal's notice in its recipient's notice queue (dropped, with a warning, when
    /// that queue does not exist).
    fn tell(&self, draft: NoticeDraft, reason: &crate::Reason, user: &str) {
        let o = draft.outgoing(reason, SystemTime::now());
        let exchange = Exchange::for_message(Kind::Notice, &o.routing_key, &self.settings);
        let Some(queue) = self.route(exchange, &o.routing_key) else {
            tracing::warn!(recipient = %o.routing_key, "the refusal notice could not be delivered (no notice queue)");
            return;
        };
        let envelope = Envelope::of(&o.message, &o.message_id.to_string(), user);
        let _ = self.enqueue(&queue, Stored { envelope, expires_at: Some(o.expires_at), returns: 0 }, false);
    }

    /// Gives an unacknowledged message back to its queue, or dead-letters it at the limit.
    fn give_back(&self, queue: &str, mut stored: Stored) {
        stored.returns += 1;
        stored.envelope.redelivered = true;
        if stored.returns >= DELIVERY_LIMIT {
            let kind = stored.envelope.type_name.as_deref().and_then(Kind::from_type_name);
            tracing::error!(
                queue,
                message_id = stored.envelope.message_id.as_deref().map(|m| display(Shown::id(m))),
                "ALARM: delivery limit reached"
            );
            self.dead_letter(queue, &stored.envelope, kind, "delivery limit reached".into());
        } else {
            let _ = self.enqueue(queue, stored, true);
        }
    }
}

#[async_trait::async_trait]
impl Bus for InProcessConnection {
    async fn publish(&self, messages: Vec<Outgoing>) -> Result<(), BusError> {
        let now = SystemTime::now();
        let mut routed = Vec::with_capacity(messages.len());
        for o in &messages {
            o.time_left(now)?;
            let exchange = Exchange::for_message(o.message.kind(), &o.routing_key, &self.broker.settings);
            let queue = self.broker.route(exchange, &o.routing_key).ok_or_else(|| BusError::Returned {
                message_id: o.message_id.to_string(),
                exchange: exchange.name(&self.broker.settings.prefix),
                routing_key: o.routing_key.clone(),
            })?;
            routed.push(queue);
        }
        for (o, queue) in messages.iter().zip(routed) {
            let envelope = Envelope::of(&o.message, &o.message_id.to_string(), &self.user);
            self.broker.enqueue(&queue, Stored { envelope, expires_at: Some(o.expires_at), returns: 0 }, false)?;
        }
        Ok(())
    }

    async fn consume(&self, queue: Queue, handler: Arc<dyn Handler>) -> Result<Consumer, BusError> {
        let name = queue.name(&self.broker.settings.prefix);
        let notify = self.broker.notifier(&name).ok_or_else(|| BusError::Declare {
            what: name.clone(),
            detail: "no such queue in this deployment".into(),
        })?;
        let (stop_tx, mut stop) = watch::channel(false);
        let broker = Arc::clone(&self.broker);
        let user = self.user.clone();
        let task = tokio::spawn(async move {
            loop {
                if *stop.borrow() {
                    return;
                }
                let Some(stored) = broker.take(&name) else {
                    tokio::select! {
                        _ = notify.notified() => continue,
                        _ = stopped(&mut stop) => return,
                    }
                };
                // A delivery the bus refuses is settled through the handler's `rejected` hook
                // (which records the refusal), any other through `handle`; both end the same way.
                let settings = &broker.settings;
                let (kind, settled, notice) = match stored.envelope.inspect(&queue, settings) {
                    Ok(delivery) => {
                        broker.stats.saw_unknown_fields(&queue.name(&settings.prefix), &delivery);
                        let notice = NoticeDraft::for_delivery(&queue, settings, &delivery);
                        (Some(delivery.message.kind()), settle(&handler, delivery, &mut stop).await, notice)
                    }
                    Err(rejection) => {
                        let kind = rejection.kind;
                        let rejected =
                            rejection.rejected(&queue, &settings.prefix, &stored.envelope, &settings.identity);
                        let notice = NoticeDraft::for_rejection(
                            &queue,
                            settings,
                            rejected.answer_to.as_deref(),
                            rejected.message_id.as_deref(),
                            kind,
                            rejected.correlation_id.as_deref(),
                        );
                        (kind, settle_rejection(&handler, rejected, &mut stop).await, notice)
                    }
                };
                match settled {
                    Settled::Ack => {}
                    Settled::DeadLetter(reason) => {
                        if let Some(notice) = notice {
                            broker.tell(notice, &reason, &user);
                        }
                        broker.dead_letter(&name, &stored.envelope, kind, reason.text)
                    }
                    Settled::Requeue(why) => {
                        tracing::warn!(queue = %name, reason = %Shown::text(&why).at_most(REASON_CHARS),
                            "delivery given back to the queue");
                        broker.give_back(&name, stored);
                    }
                    Settled::Stopped => {
                        broker.give_back(&name, stored);
                        return;
                    }
                }
            }
        });
        Ok(Consumer::new(stop_tx, task))
    }
}

#[cfg(test)]
#[path = "memory_tests.rs"]
mod tests;
