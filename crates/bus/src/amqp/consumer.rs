//! One consumer on one queue: manual acks, bounded prefetch, the receiver checks, the handler's
//! verdict, refusals, and resumption on a new channel or connection after a loss.
//!
//! A refusal first tells its authenticated sender (a notice, published with a confirm; never on
//! a social service's transfers queue, see [`crate::notice`]), then: on an observatory's queue, a
//! reasoned dead-letter (a copy with the reason, published with a confirm before the original is
//! acked); on a body's, an office's or a social service's queue, a reject without requeue, which
//! the broker dead-letters through the queue's dead-letter exchange (none of them may write it).

use std::sync::Arc;
use std::time::SystemTime;

use futures::StreamExt;
use lapin::message::Delivery as AmqpDelivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    BasicRejectOptions, ConfirmSelectOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Confirmation};
use passerelle_protocol::untrusted::{Shown, REASON_CHARS};
use tokio::sync::watch;

use super::connection::{jitter, Connector, Live, RECONNECT_INITIAL_BACKOFF, RECONNECT_MAX_BACKOFF};
use super::properties::{self, ttl_text};
use crate::consumer::{settle, settle_rejection, stopped, Settled};
use crate::notice::NoticeDraft;
use crate::topology::{
    Exchange, DEAD_LETTER_MARK, DEAD_LETTER_MARK_HEADER, ORIGINAL_EXCHANGE_HEADER, ORIGINAL_QUEUE_HEADER,
    ORIGINAL_ROUTING_KEY_HEADER, REASON_HEADER,
};
use crate::{BusError, Handler, Kind, Queue, Reason};

/// Header keeping the `user_id` of a message the bus dead-letters (the copy is published by
/// the receiving service's own user, as the broker requires).
pub const ORIGINAL_USER_HEADER: &str = "x-passerelle-original-user-id";

/// Headers the broker sets on a message it dead-letters.
pub(crate) fn is_broker_death_header(key: &str) -> bool {
    key == "x-death" || key.starts_with("x-first-death-") || key.starts_with("x-last-death-")
}

/// The outcome of an ack or a nack. lapin answers `Ok(false)` when the channel closed under the
/// delivery: nothing was settled and the broker delivers the message again, so the consumer
/// treats it as a lost channel, as it does an error.
fn acknowledged(outcome: lapin::Result<bool>) -> Result<(), BusError> {
    match outcome {
        Ok(true) => Ok(()),
        Ok(false) => Err(BusError::amqp("acknowledging", "the channel closed under the delivery")),
        Err(e) => Err(BusError::amqp("acknowledging", e)),
    }
}

/// A consumer's fixed parts.
pub(crate) struct Subscription {
    pub connector: Arc<Connector>,
    pub queue: Queue,
    pub handler: Arc<dyn Handler>,
}

/// An open consuming channel.
pub(crate) struct Session {
    channel: Channel,
    stream: lapin::Consumer,
    live: Live,
    tag: String,
}

/// How a session ended.
enum End {
    Stopped,
    Lost(BusError),
}

impl Subscription {
    fn queue_name(&self) -> String {
        self.queue.name(&self.connector.settings.prefix)
    }

    /// Opens a channel with the prefetch bound and confirms (for dead-letters) and starts
    /// consuming.
    pub async fn open(&self, live: Live) -> Result<Session, BusError> {
        let channel = live.conn.create_channel().await.map_err(|e| BusError::amqp("opening a consuming channel", e))?;
        channel
            .basic_qos(self.connector.settings.prefetch, BasicQosOptions::default())
            .await
            .map_err(|e| BusError::amqp("setting the prefetch", e))?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|e| BusError::amqp("enabling confirms for dead-letters", e))?;
        let tag = format!("passerelle-{}", uuid::Uuid::now_v7());
        let stream = channel
            .basic_consume(
                self.queue_name().into(),
                tag.as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|e| BusError::amqp("starting to consume", e))?;
        Ok(Session { channel, stream, live, tag })
    }

    /// Runs sessions until stopped: the first is already open; after a loss, reopens with
    /// capped backoff (reconnecting when the connection itself was lost).
    pub async fn run(self, first: Session, mut stop: watch::Receiver<bool>) {
        let mut session = Some(first);
        let mut backoff = RECONNECT_INITIAL_BACKOFF;
        loop {
            let s = match session.take() {
                Some(s) => s,
                None => {
                    let live = match self.connector.live_retrying(None, Some(&mut stop)).await {
                        Ok(live) => live,
                        Err(_) => return,
                    };
                    match self.open(live.clone()).await {
                        Ok(s) => {
                            tracing::info!(queue = %self.queue_name(), "consumer resumed");
                            s
                        }
                        Err(e) => {
                            tracing::error!(queue = %self.queue_name(), error = %e, "cannot resume consuming");
                            if !live.conn.status().connected() {
                                self.connector.lost(live.generation).await;
                            }
                            if !self.pause(jitter(backoff), &mut stop).await {
                                return;
                            }
                            backoff = (backoff * 2).min(RECONNECT_MAX_BACKOFF);
                            continue;
                        }
                    }
                }
            };
            let generation = s.live.generation;
            let connected = s.live.conn.clone();
            match self.serve(s, &mut stop).await {
                End::Stopped => return,
                End::Lost(e) => {
                    if self.connector.is_closed() {
                        return;
                    }
                    tracing::warn!(queue = %self.queue_name(), error = %e, "consumer lost its channel");
                    if !connected.status().connected() {
                        self.connector.lost(generation).await;
                    }
                    if !self.pause(jitter(RECONNECT_INITIAL_BACKOFF), &mut stop).await {
                        return;
                    }
                    backoff = RECONNECT_INITIAL_BACKOFF;
                }
            }
        }
    }

    /// Waits `d` unless stopped first; `false` when stopped.
    async fn pause(&self, d: std::time::Duration, stop: &mut watch::Receiver<bool>) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(d) => true,
            _ = stopped(stop) => false,
        }
    }

    /// Handles deliveries one at a time until stopped or the channel fails.
    async fn serve(&self, mut s: Session, stop: &mut watch::Receiver<bool>) -> End {
        loop {
            let next = tokio::select! {
                biased;
                _ = stopped(stop) => None,
                d = s.stream.next() => Some(d),
            };
            let delivery = match next {
                None => return self.finish(s).await,
                Some(None) => return End::Lost(BusError::amqp("consuming", "the broker cancelled the consumer")),
                Some(Some(Err(e))) => return End::Lost(BusError::amqp("consuming", e)),
                Some(Some(Ok(d))) => d,
            };
            match self.process(&s, delivery, stop).await {
                Ok(true) => {}
                Ok(false) => return self.finish(s).await,
                Err(e) => return End::Lost(e),
            }
        }
    }

    /// Cancels the consumer and closes the channel: what was prefetched and not acked goes
    /// back to the queue.
    async fn finish(&self, s: Session) -> End {
        let _ = s.channel.basic_cancel(s.tag.as_str().into(), BasicCancelOptions::default()).await;
        let _ = s.channel.close(200, "passerelle: consumer stopped".into()).await;
        End::Stopped
    }

    /// Checks, hands over and settles one delivery. `Ok(false)`: stop was requested while it
    /// waited for a retry (it stays unacked and returns to the queue with the channel).
    async fn process(
        &self,
        s: &Session,
        mut d: AmqpDelivery,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<bool, BusError> {
        let body = std::mem::take(&mut d.data);
        let envelope = properties::envelope(&d.properties, body, d.redelivered);
        let settings = &self.connector.settings;
        let (kind, verdict, notice) = match envelope.inspect(&self.queue, settings) {
            Err(rejection) => {
                let kind = rejection.kind;
                let rejected = rejection.rejected(&self.queue, &settings.prefix, &envelope, &settings.identity);
                let notice = NoticeDraft::for_rejection(
                    &self.queue,
                    settings,
                    rejected.answer_to.as_deref(),
                    rejected.message_id.as_deref(),
                    kind,
                    rejected.correlation_id.as_deref(),
                );
                (kind, settle_rejection(&self.handler, rejected, stop).await, notice)
            }
            Ok(delivery) => {
                self.connector.stats.saw_unknown_fields(&self.queue_name(), &delivery);
                let notice = NoticeDraft::for_delivery(&self.queue, settings, &delivery);
                (Some(delivery.message.kind()), settle(&self.handler, delivery, stop).await, notice)
            }
        };
        match verdict {
            Settled::Ack => acknowledged(d.acker.ack(BasicAckOptions::default()).await)?,
            Settled::DeadLetter(reason) => {
                tracing::warn!(queue = %self.queue_name(), kind = kind.map(|k| k.type_name()),
                    message_id = envelope.message_id.as_deref().map(|m| display(Shown::id(m))),
                    user = envelope.user_id.as_deref().map(|u| display(Shown::text(u))),
                    reason = %Shown::text(&reason.text).at_most(REASON_CHARS), "message dead-lettered");
                if let Some(notice) = notice {
                    self.tell(s, notice, &reason).await?;
                }
                if !self.queue.is_observatory_queue() {
                    // A body's, an office's or a social service's refusal: the broker dead-letters it
                    // (x-death, `rejected`).
                    acknowledged(d.acker.reject(BasicRejectOptions { requeue: false }).await)?;
                    self.connector.stats.dead_lettered(&self.queue_name(), kind);
                    return Ok(true);
                }
                match self.dead_letter(s, &d, &envelope.body, &reason.text).await {
                    Ok(()) => {
                        acknowledged(d.acker.ack(BasicAckOptions::default()).await)?;
                        self.connector.stats.dead_lettered(&self.queue_name(), kind);
                    }
                    Err(e @ (BusError::Returned { .. } | BusError::Nacked { .. })) => {
                        tracing::error!(error = %e, "dead-letter refused; giving the message back to the queue");
                        acknowledged(d.acker.nack(BasicNackOptions { requeue: true, ..Default::default() }).await)?;
                    }
                    Err(e) => return Err(e),
                }
            }
            Settled::Requeue(why) => {
                tracing::warn!(queue = %self.queue_name(),
                    message_id = envelope.message_id.as_deref().map(|m| display(Shown::id(m))),
                    reason = %Shown::text(&why).at_most(REASON_CHARS), "delivery given back to the queue");
                acknowledged(d.acker.nack(BasicNackOptions { requeue: true, ..Default::default() }).await)?;
            }
            Settled::Stopped => return Ok(false),
        }
        Ok(true)
    }

    /// Tells the sender of a refused message why (a notice), and waits for the confirm. A notice
    /// the broker returns or refuses (its recipient's queue is gone) is logged, and the refusal
    /// goes on: it never waits for the sender to listen.
    async fn tell(&self, s: &Session, draft: NoticeDraft, reason: &Reason) -> Result<(), BusError> {
        let settings = &self.connector.settings;
        let now = SystemTime::now();
        let recipient = draft.recipient.clone();
        let o = draft.outgoing(reason, now);
        let ttl = o.time_left(now)?;
        let props = properties::outgoing(&o, &s.live.user, ttl, now);
        let exchange =
            crate::topology::Exchange::for_message(Kind::Notice, &o.routing_key, settings).name(&settings.prefix);
        let options = BasicPublishOptions { mandatory: true, ..Default::default() };
        let confirm = s
            .channel
            .basic_publish(exchange.as_str().into(), o.routing_key.as_str().into(), options, &o.message.encode(), props)
            .await
            .map_err(|e| BusError::amqp("publishing a notice", e))?
            .await
            .map_err(|e| BusError::amqp("waiting for a notice's confirm", e))?;
        match confirm {
            Confirmation::Ack(None) | Confirmation::NotRequested => {
                tracing::info!(queue = %self.queue_name(), recipient = %recipient, reason = reason.code_name(),
                    "refusal notice sent");
            }
            Confirmation::Ack(Some(_)) | Confirmation::Nack(_) => {
                tracing::warn!(queue = %self.queue_name(), recipient = %recipient, exchange = %exchange,
                    "the refusal notice could not be delivered (no notice queue for its recipient)");
            }
        }
        Ok(())
    }

    /// Publishes a copy with the reason to the dead-letter exchange and waits for its confirm.
    /// The copy keeps the original's remaining lifetime; one already past its cap is dropped.
    async fn dead_letter(&self, s: &Session, d: &AmqpDelivery, body: &[u8], reason: &str) -> Result<(), BusError> {
        let remaining = properties::remaining(&d.properties, SystemTime::now());
        if remaining.is_some_and(|r| r.is_zero()) {
            tracing::info!(queue = %self.queue_name(), "dead-lettered message already past its cap: dropped");
            return Ok(());
        }
        // The copy keeps the sender's headers but those the broker alone may set on a
        // dead-letter (a sender forging `x-first-death-reason: delivery_limit` would otherwise
        // raise a false alarm through the observatory's own copy).
        let mut headers = FieldTable::default();
        for (key, value) in d.properties.headers().as_ref().map(|h| h.inner().iter()).into_iter().flatten() {
            if !is_broker_death_header(key.as_str()) {
                headers.insert(key.clone(), value.clone());
            }
        }
        let text = |s: &str| AMQPValue::LongString(s.into());
        headers.insert(REASON_HEADER.into(), text(reason));
        headers.insert(DEAD_LETTER_MARK_HEADER.into(), text(DEAD_LETTER_MARK));
        headers.insert(ORIGINAL_EXCHANGE_HEADER.into(), text(d.exchange.as_str()));
        headers.insert(ORIGINAL_ROUTING_KEY_HEADER.into(), text(d.routing_key.as_str()));
        headers.insert(ORIGINAL_QUEUE_HEADER.into(), text(&self.queue_name()));
        if let Some(user) = d.properties.user_id() {
            headers.insert(ORIGINAL_USER_HEADER.into(), text(user.as_str()));
        }
        let mut props = d.properties.clone().with_headers(headers).with_user_id(s.live.user.as_str().into());
        if let Some(r) = remaining {
            props = props.with_expiration(ttl_text(r).into());
        }
        let dlx = Exchange::DeadLetter.name(&self.connector.settings.prefix);
        let options = BasicPublishOptions { mandatory: true, ..Default::default() };
        // The sender wrote both: the errors below are logged.
        let message_id =
            d.properties.message_id().as_ref().map(|m| Shown::id(m.as_str()).to_string()).unwrap_or_default();
        let confirm = s
            .channel
            .basic_publish(dlx.as_str().into(), d.routing_key.clone(), options, body, props)
            .await
            .map_err(|e| BusError::amqp("publishing a dead-letter", e))?
            .await
            .map_err(|e| BusError::amqp("waiting for a dead-letter confirm", e))?;
        match confirm {
            Confirmation::Ack(None) | Confirmation::NotRequested => Ok(()),
            Confirmation::Ack(Some(_)) => Err(BusError::Returned {
                message_id,
                exchange: dlx,
                routing_key: Shown::text(d.routing_key.as_str()).to_string(),
            }),
            Confirmation::Nack(_) => Err(BusError::Nacked { message_id }),
        }
    }
}
