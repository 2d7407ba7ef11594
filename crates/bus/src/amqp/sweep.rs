//! The dead-letter sweep: the observatory drops, from the dead-letter queue, every copy whose
//! case cap (`x-passerelle-expires-at`) falls before its next sweep, so that no dead-lettered
//! copy of a case outlives its cap. RabbitMQ removes a message's `expiration` when it
//! dead-letters it (a body's reject, a delivery-limit drop), and the dead-letter queue's own TTL
//! ([`DEAD_LETTER_TTL`](crate::topology::DEAD_LETTER_TTL)) counts from the drop: a drop on day 29
//! of a 30-day case would otherwise be kept until day 36.
//!
//! A sweep counts the queue's messages, takes that many without acknowledging them, acknowledges
//! (drops) those due, and closes its channel, which returns the others to the queue. A copy
//! without an `x-passerelle-expires-at` (nor a timestamped `expiration`) is no case copy the
//! bus published: the queue's TTL bounds it. The alarm queue needs no sweep: the alarm watch
//! acknowledges each copy as it arrives.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use tokio::sync::watch;

use super::connection::Connector;
use super::properties::remaining;
use crate::consumer::stopped;
use crate::topology::dead_letter_queue;
use crate::BusError;

/// How long a sweep waits for the next message it counted before it stops (another reader took
/// some).
const TAKE_PATIENCE: Duration = Duration::from_secs(5);

/// Sweeps the dead-letter queue now and then every `interval`, each time dropping the copies
/// whose cap falls before the next sweep. Runs until stopped or the bus closes.
pub(crate) async fn sweep_dead_letters(connector: Arc<Connector>, interval: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        let horizon = SystemTime::now() + interval;
        match sweep(&connector, &dead_letter_queue(&connector.settings.prefix), horizon, &mut stop).await {
            Ok(0) => {}
            Ok(dropped) => tracing::info!(dropped, "dead-letter sweep: copies past their case's cap dropped"),
            Err(e) if connector.is_closed() || *stop.borrow() => {
                tracing::debug!(error = %e, "dead-letter sweep stopped with the bus");
                return;
            }
            Err(e) => tracing::warn!(error = %e, "dead-letter sweep failed (retried at the next one)"),
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stopped(&mut stop) => return,
        }
        if connector.is_closed() {
            return;
        }
    }
}

/// One sweep of `queue`: drops every copy whose cap is at or before `horizon`; returns how many.
async fn sweep(
    connector: &Connector,
    queue: &str,
    horizon: SystemTime,
    stop: &mut watch::Receiver<bool>,
) -> Result<usize, BusError> {
    let failed = |e: lapin::Error| BusError::amqp("sweeping the dead-letter queue", e);
    let live = connector.live_retrying(None, Some(stop)).await?;
    let ch = live.conn.create_channel().await.map_err(failed)?;
    let passive = QueueDeclareOptions { passive: true, ..Default::default() };
    let count = ch.queue_declare(queue.into(), passive, FieldTable::default()).await.map_err(failed)?.message_count();
    if count == 0 {
        let _ = ch.close(200, "passerelle: nothing to sweep".into()).await;
        return Ok(0);
    }
    // Every counted copy is held at once (the queue is bounded by its policy), so that the sweep
    // sees past the copies it keeps.
    let window = u16::try_from(count).unwrap_or(u16::MAX);
    ch.basic_qos(window, BasicQosOptions::default()).await.map_err(failed)?;
    let mut stream = ch
        .basic_consume(
            queue.into(),
            "passerelle-dead-letter-sweep".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(failed)?;
    let mut dropped = 0;
    for _ in 0..window {
        let Ok(Some(d)) = tokio::time::timeout(TAKE_PATIENCE, stream.next()).await else { break };
        let d = d.map_err(failed)?;
        if remaining(&d.properties, horizon).is_some_and(|left| left.is_zero()) {
            d.acker.ack(BasicAckOptions::default()).await.map_err(failed)?;
            dropped += 1;
        }
    }
    // Closing the channel returns every copy kept to the queue.
    let _ = ch.close(200, "passerelle: swept".into()).await;
    Ok(dropped)
}
