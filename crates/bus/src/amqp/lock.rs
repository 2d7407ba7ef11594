//! The territory lock: one observatory per territory on a broker, whatever its `data_dir`.
//!
//! An observatory's connection declares the exclusive queue
//! [`territory_lock_queue`](crate::topology::territory_lock_queue) right after the topology and
//! before anything consumes. RabbitMQ answers a second connection's declaration with
//! RESOURCE_LOCKED (405) and deletes the queue when the holding connection closes (a crash
//! included; a vanished host once the broker misses its heartbeats), so the lock lives exactly
//! as long as the connection that consumes. The holder then publishes its holder record (host,
//! pid, start time) to its [`holder_queue`](crate::topology::holder_queue) (at most one
//! message), which a waiting observatory reads to say who holds the lock.
//!
//! At start, a refused observatory stands by (tries again with backoff, saying who holds the
//! lock) or, when it must not wait, fails with [`BusError::TerritoryHeld`]. After a connection
//! loss the lock is taken again before anything consumes: if another observatory took it
//! meanwhile, the bus fails with [`BusError::TerritoryLost`] and closes, so two observatories
//! never consume a territory's queues at once.

use std::sync::Arc;
use std::time::Duration;

use lapin::options::{
    BasicGetOptions, BasicPublishOptions, BasicRejectOptions, ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Connection};

use super::connection::jitter;
use crate::topology::{holder_queue, holders_exchange, territory_lock_queue, Queue};
use crate::BusError;

/// First wait before trying a held lock again.
pub const STANDBY_INITIAL_BACKOFF: Duration = Duration::from_millis(500);

/// Longest wait between two tries: a standby takes over within this of the holder's end.
pub const STANDBY_MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How often a standby says again who holds the lock (it says so at once when it starts waiting).
pub const STANDBY_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// How often a standby tries the lock even though the requests queue has a consumer: a consumer
/// that does not hold the lock (`ctl status` flags it) delays a takeover by this at most.
pub const STANDBY_FORCED_TRY: Duration = Duration::from_secs(600);

/// The longest holder record kept: it is read back and logged by another process.
const MAX_HOLDER_BYTES: usize = 512;

/// Told who holds a lock while the process waits for it (`Some`), and that the wait is over
/// (`None`): `/health` says "standing by" meanwhile.
pub type OnStandby = Arc<dyn Fn(Option<&str>) + Send + Sync>;

/// What an observatory's connection does about its territory's lock.
#[derive(Clone)]
pub struct TerritoryLock {
    /// Who this process is, as a waiting observatory reads it (host, pid, start time…).
    pub holder: String,
    /// At start, wait for a held lock (standby) rather than fail.
    pub wait: bool,
    /// Told who holds the lock while this process waits for it.
    pub on_standby: OnStandby,
}

impl std::fmt::Debug for TerritoryLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TerritoryLock").field("holder", &self.holder).field("wait", &self.wait).finish()
    }
}

/// Whether an AMQP error is RabbitMQ's RESOURCE_LOCKED (an exclusive queue of another connection).
fn is_locked(e: &lapin::Error) -> bool {
    matches!(e.kind(), lapin::ErrorKind::ProtocolError(p) if p.get_id() == 405)
}

/// A holder record as it may be logged: control characters replaced, bounded.
pub(crate) fn printable(record: &str) -> String {
    let mut out: String = record.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if out.len() > MAX_HOLDER_BYTES {
        let mut end = MAX_HOLDER_BYTES;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
        out.push('…');
    }
    out
}

/// Whether the observatory's requests queue has a consumer: a hint that another connection
/// holds the lock, read without a refusal. RabbitMQ answers a held lock's declaration by
/// closing the channel, which lapin logs as an error: a standby asks this first, so its log
/// stays quiet while the holder consumes. Not a lock: the declaration alone decides.
async fn requests_consumed(conn: &Connection, prefix: &str, code: &str) -> bool {
    let asked = async {
        let ch = conn.create_channel().await?;
        let passive = QueueDeclareOptions { passive: true, ..Default::default() };
        let queue = Queue::ObservatoryRequests(code.to_owned()).name(prefix);
        let q = ch.queue_declare(queue.as_str().into(), passive, FieldTable::default()).await?;
        let _ = ch.close(200, "consumers counted".into()).await;
        Ok::<_, lapin::Error>(q.consumer_count() > 0)
    };
    asked.await.unwrap_or(false)
}

/// One try: `true` when this connection now holds the lock, `false` when another one does.
async fn try_take(conn: &Connection, prefix: &str, code: &str) -> Result<bool, BusError> {
    let ch = conn.create_channel().await.map_err(|e| BusError::amqp("opening the territory lock's channel", e))?;
    let options = QueueDeclareOptions { exclusive: true, auto_delete: true, ..Default::default() };
    let mut args = FieldTable::default();
    args.insert("x-queue-type".into(), AMQPValue::LongString("classic".into()));
    match ch.queue_declare(territory_lock_queue(prefix, code).as_str().into(), options, args).await {
        Ok(_) => {
            let _ = ch.close(200, "territory lock taken".into()).await;
            Ok(true)
        }
        // The refusal closed the channel.
        Err(e) if is_locked(&e) => Ok(false),
        Err(e) => Err(BusError::amqp("declaring the territory lock", e)),
    }
}

/// Publishes this process's holder record (confirmed), replacing the previous one.
async fn publish_holder(conn: &Connection, prefix: &str, code: &str, holder: &str) -> Result<(), BusError> {
    let failed = |e: lapin::Error| BusError::amqp("publishing the territory lock's holder record", e);
    let ch = conn.create_channel().await.map_err(failed)?;
    ch.confirm_select(ConfirmSelectOptions::default()).await.map_err(failed)?;
    ch.basic_publish(
        holders_exchange(prefix).as_str().into(),
        code.into(),
        BasicPublishOptions::default(),
        holder.as_bytes(),
        BasicProperties::default().with_content_type("text/plain".into()),
    )
    .await
    .map_err(failed)?
    .await
    .map_err(failed)?;
    let _ = ch.close(200, "holder record published".into()).await;
    Ok(())
}

/// The holder record of the territory's lock, left in its queue (taken, then given back).
async fn read_holder(conn: &Connection, prefix: &str, code: &str) -> Result<Option<String>, BusError> {
    let failed = |e: lapin::Error| BusError::amqp("reading the territory lock's holder record", e);
    let ch = conn.create_channel().await.map_err(failed)?;
    let got = ch
        .basic_get(holder_queue(prefix, code).as_str().into(), BasicGetOptions { no_ack: false })
        .await
        .map_err(failed)?;
    let record = match got {
        Some(m) => {
            let text = printable(&String::from_utf8_lossy(&m.delivery.data));
            m.delivery.acker.reject(BasicRejectOptions { requeue: true }).await.map_err(failed)?;
            Some(text)
        }
        None => None,
    };
    let _ = ch.close(200, "holder record read".into()).await;
    Ok(record)
}

/// Takes the territory lock on a fresh connection. `held_before`: this bus held it on an earlier
/// connection, so a refusal means it was lost — unless the refusing holder is this very process
/// (its previous connection, which the broker has not closed yet), which is waited for.
pub(crate) async fn take(
    conn: &Connection,
    prefix: &str,
    code: &str,
    lock: &TerritoryLock,
    held_before: bool,
) -> Result<(), BusError> {
    let mut backoff = STANDBY_INITIAL_BACKOFF;
    let mut said: Option<(tokio::time::Instant, String)> = None;
    let mut tried = tokio::time::Instant::now();
    loop {
        // After a loss the requests queue may still show this process's own former consumers.
        let forced = tried.elapsed() >= STANDBY_FORCED_TRY;
        let busy = !held_before && !forced && requests_consumed(conn, prefix, code).await;
        if !busy {
            tried = tokio::time::Instant::now();
        }
        if !busy && try_take(conn, prefix, code).await? {
            if said.is_some() {
                (lock.on_standby)(None);
                tracing::info!(observatory = %code, "territory lock taken: this observatory runs the territory");
            }
            publish_holder(conn, prefix, code, &lock.holder).await?;
            return Ok(());
        }
        let record = read_holder(conn, prefix, code).await.unwrap_or_else(|e| {
            tracing::debug!(error = %e, "cannot read the territory lock's holder record");
            None
        });
        let ours = record.as_deref() == Some(printable(&lock.holder).as_str());
        let holder = record.unwrap_or_else(|| "another connection (no holder record to read)".to_owned());
        if held_before && !ours {
            return Err(BusError::TerritoryLost { territory: code.to_owned(), holder });
        }
        if !held_before && !lock.wait {
            return Err(BusError::TerritoryHeld { territory: code.to_owned(), holder });
        }
        let now = tokio::time::Instant::now();
        let due =
            said.as_ref().is_none_or(|(at, who)| *who != holder || now.duration_since(*at) >= STANDBY_LOG_INTERVAL);
        if due {
            if ours {
                tracing::warn!(observatory = %code,
                    "waiting for the broker to release this observatory's previous connection's territory lock");
            } else {
                tracing::warn!(observatory = %code, holder = %holder,
                    "standing by: another observatory holds this territory's lock; waiting for it");
            }
            (lock.on_standby)(Some(&holder));
            said = Some((now, holder));
        }
        tokio::time::sleep(jitter(backoff)).await;
        backoff = (backoff * 2).min(STANDBY_MAX_BACKOFF);
        if !conn.status().connected() {
            return Err(BusError::Connect("the connection closed while waiting for the territory lock".to_owned()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holder_records_are_printable_and_bounded() {
        assert_eq!(printable("host a\npid 1\u{1b}[31m"), "host a pid 1 [31m");
        let long = "é".repeat(400);
        let shown = printable(&long);
        assert!(shown.len() <= MAX_HOLDER_BYTES + '…'.len_utf8() && shown.ends_with('…'), "{shown}");
    }
}
