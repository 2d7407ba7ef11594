//! Publishing with confirms: persistent, mandatory messages on one confirm-mode channel, at most
//! `confirm_window` unconfirmed at once per call (pipelined, not one at a time). A nack or a
//! return is the caller's error; a lost connection or channel makes the publisher reconnect
//! and re-publish what was not confirmed (same message ids: receivers deduplicate).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::stream::{FuturesUnordered, StreamExt};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{Channel, Confirmation};
use tokio::sync::Mutex;

use super::connection::{jitter, Connector, Live, RECONNECT_INITIAL_BACKOFF};
use super::properties;
use crate::topology::Exchange;
use crate::{BusError, Outgoing};

/// How long one `publish` call keeps trying to reach the broker before it reports the failure
/// (a broker restart takes tens of seconds; the caller's outbox retries after that).
pub const PUBLISH_RECOVERY_TIMEOUT: Duration = Duration::from_secs(120);

/// How often a publisher looks again whether the broker lifted its memory or disk alarm.
const BLOCKED_POLL: Duration = Duration::from_millis(50);

/// A channel in confirm mode and the connection it lives on.
#[derive(Clone)]
struct ConfirmChannel {
    channel: Channel,
    live: Live,
}

/// The publishing half of an `AmqpBus`.
pub(crate) struct Publisher {
    connector: Arc<Connector>,
    channel: Mutex<Option<ConfirmChannel>>,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher").finish_non_exhaustive()
    }
}

/// How one attempt at publishing a batch ended.
enum Attempt {
    Done,
    /// These messages (indexes) were not confirmed because the channel or connection failed;
    /// `connection_error` is true when lapin reported a connection-level (hard) AMQP error.
    Unconfirmed(Vec<usize>, BusError, bool),
}

/// Whether lapin reports the loss of the connection itself: a connection-level ("hard") AMQP
/// error, such as CONNECTION_FORCED when an operator closes connections, or the transport's own
/// failure — an IO error (the broker stopping resets the socket), a missed heartbeat, a frame that
/// cannot be parsed or written, a connection no longer open. The connection is going away even if
/// its status does not say so yet (lapin sees the reset before it marks the connection closed),
/// so the messages must be re-published on a new one, not refused.
fn is_connection_error(e: &lapin::Error) -> bool {
    use lapin::ErrorKind;
    e.is_amqp_hard_error()
        || e.is_io_error()
        || matches!(
            e.kind(),
            ErrorKind::MissingHeartbeatError
                | ErrorKind::InvalidConnectionState(_)
                | ErrorKind::ParsingError(_)
                | ErrorKind::SerialisationError(_)
        )
}

impl Publisher {
    pub fn new(connector: Arc<Connector>) -> Publisher {
        Publisher { connector, channel: Mutex::new(None) }
    }

    /// The confirm channel, opened (after reconnecting if needed) when there is none alive.
    async fn channel(&self, deadline: tokio::time::Instant) -> Result<ConfirmChannel, BusError> {
        let mut slot = self.channel.lock().await;
        if let Some(c) = slot.as_ref() {
            if c.channel.status().connected() && c.live.conn.status().connected() {
                return Ok(c.clone());
            }
        }
        let live = self.connector.live_retrying(Some(deadline), None).await?;
        let channel =
            live.conn.create_channel().await.map_err(|e| BusError::amqp("opening a publishing channel", e))?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|e| BusError::amqp("enabling publisher confirms", e))?;
        let c = ConfirmChannel { channel, live };
        *slot = Some(c.clone());
        Ok(c)
    }

    /// Publishes every message and waits for every confirm, re-publishing after a loss.
    pub async fn publish(&self, messages: Vec<Outgoing>) -> Result<(), BusError> {
        let now = SystemTime::now();
        for o in &messages {
            o.time_left(now)?;
        }
        let deadline = tokio::time::Instant::now() + PUBLISH_RECOVERY_TIMEOUT;
        let mut pending: Vec<usize> = (0..messages.len()).collect();
        let mut backoff = RECONNECT_INITIAL_BACKOFF;
        while !pending.is_empty() {
            let c = match self.channel(deadline).await {
                Ok(c) => c,
                Err(e @ (BusError::Closed | BusError::Connect(_) | BusError::Refused(_))) => return Err(e),
                Err(e) if tokio::time::Instant::now() + backoff < deadline => {
                    tracing::warn!(error = %e, "cannot open a publishing channel; retrying");
                    tokio::time::sleep(jitter(backoff)).await;
                    backoff = (backoff * 2).min(super::connection::RECONNECT_MAX_BACKOFF);
                    continue;
                }
                Err(e) => return Err(e),
            };
            match self.attempt(&c, &messages, &pending).await? {
                Attempt::Done => return Ok(()),
                Attempt::Unconfirmed(left, error, connection_error) => {
                    if !connection_error && c.live.conn.status().connected() {
                        // The broker closed the channel, not the connection: a refusal
                        // (access, forged user_id…) that re-publishing would only repeat.
                        return Err(error);
                    }
                    tracing::warn!(error = %error, unconfirmed = left.len(), "connection lost while publishing; re-publishing");
                    self.connector.lost(c.live.generation).await;
                    if tokio::time::Instant::now() >= deadline {
                        return Err(error);
                    }
                    pending = left;
                }
            }
        }
        Ok(())
    }

    /// Publishes `pending` on `c` with a bounded window of unconfirmed messages. A nack, a
    /// return or an expiry is final (`Err`); a channel failure leaves messages to re-publish.
    async fn attempt(&self, c: &ConfirmChannel, messages: &[Outgoing], pending: &[usize]) -> Result<Attempt, BusError> {
        let settings = &self.connector.settings;
        let prefix = &settings.prefix;
        let window = self.connector.settings.confirm_window;
        let mut in_flight = FuturesUnordered::new();
        let mut unconfirmed: Vec<usize> = Vec::new();
        let mut failure: Option<BusError> = None;
        let mut connection_error = false;
        let mut final_error: Option<BusError> = None;
        let mut record = |(i, result): (usize, lapin::Result<Confirmation>),
                          unconfirmed: &mut Vec<usize>,
                          failure: &mut Option<BusError>,
                          connection_error: &mut bool| {
            let o: &Outgoing = &messages[i];
            match result {
                Ok(Confirmation::Ack(None)) | Ok(Confirmation::NotRequested) => {}
                Ok(Confirmation::Ack(Some(_returned))) => {
                    final_error.get_or_insert(BusError::Returned {
                        message_id: o.message_id.to_string(),
                        exchange: Exchange::for_message(o.message.kind(), &o.routing_key, settings).name(prefix),
                        routing_key: o.routing_key.clone(),
                    });
                }
                Ok(Confirmation::Nack(_)) => {
                    final_error.get_or_insert(BusError::Nacked { message_id: o.message_id.to_string() });
                }
                Err(e) => {
                    unconfirmed.push(i);
                    *connection_error |= is_connection_error(&e);
                    failure.get_or_insert(BusError::amqp("waiting for a publisher confirm", e));
                }
            }
        };
        for (n, &i) in pending.iter().enumerate() {
            if failure.is_some() {
                unconfirmed.extend_from_slice(&pending[n..]);
                break;
            }
            while in_flight.len() >= window {
                if let Some(done) = in_flight.next().await {
                    record(done, &mut unconfirmed, &mut failure, &mut connection_error);
                }
            }
            if c.live.conn.status().blocked() {
                let since = tokio::time::Instant::now();
                while c.live.conn.status().blocked() {
                    tokio::time::sleep(BLOCKED_POLL).await;
                }
                self.connector.stats.add_blocked(since.elapsed());
            }
            let o = &messages[i];
            let now = SystemTime::now();
            let ttl = o.time_left(now)?;
            let props = properties::outgoing(o, &c.live.user, ttl, now);
            let exchange = Exchange::for_message(o.message.kind(), &o.routing_key, settings).name(prefix);
            let body = o.message.encode();
            let options = BasicPublishOptions { mandatory: true, ..Default::default() };
            match c.channel.basic_publish(exchange.into(), o.routing_key.as_str().into(), options, &body, props).await {
                Ok(confirm) => in_flight.push(async move { (i, confirm.await) }),
                Err(e) => {
                    unconfirmed.push(i);
                    connection_error |= is_connection_error(&e);
                    failure = Some(BusError::amqp("publishing", e));
                }
            }
        }
        while let Some(done) = in_flight.next().await {
            record(done, &mut unconfirmed, &mut failure, &mut connection_error);
        }
        if let Some(e) = final_error {
            return Err(e);
        }
        Ok(match failure {
            None => Attempt::Done,
            Some(e) => {
                unconfirmed.sort_unstable();
                Attempt::Unconfirmed(unconfirmed, e, connection_error)
            }
        })
    }

    /// Closes the publishing channel (every call has already waited for its confirms).
    pub async fn close(&self) {
        if let Some(c) = self.channel.lock().await.take() {
            let _ = c.channel.close(200, "passerelle: closing".into()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reset_socket_or_a_missed_heartbeat_is_a_lost_connection_not_a_refusal() {
        let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "Connection reset by peer");
        assert!(is_connection_error(&lapin::Error::from(reset)), "the broker stopping resets the socket");
        assert!(is_connection_error(&lapin::Error::from(lapin::ErrorKind::MissingHeartbeatError)));
        assert!(!is_connection_error(&lapin::Error::from(lapin::ErrorKind::ChannelsLimitReached)));
    }
}
