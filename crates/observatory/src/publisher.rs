//! Draining the outbox to the broker with publisher confirms.
//!
//! The oldest rows go out in batches through [`Bus::publish`], which returns once the broker
//! confirmed every message; only then are the rows deleted, and the cases whose messages all went
//! out move on (`soliciting` → `collecting`, `returning` → `returned`) in the same transaction.
//! A failed batch is retried message by message: a message the broker cannot route or whose cap
//! has passed is dropped and audited (it would block every message behind it); any other error
//! (broker down) backs off and retries, keeping the rows.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use passerelle_bus::{Bus, BusError, Kind, Message, Outgoing};
use passerelle_observatory_store::audit::Action;
use passerelle_observatory_store::{CaseEvent, CaseState, OutboxRow, StoreError};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::engine::Engine;

/// Rows per publish: enough to pipeline confirms, small enough (a few MB) to hold in memory.
const PUBLISH_BATCH: usize = 64;

/// Payload bytes per publish, whatever the row count: 64 result chunks of a 1,000-person chunk
/// size are 7 MB encoded and several times that decoded, which made the result's publication
/// the observatory's memory peak (+94 MB at 100,000 persons).
const PUBLISH_BATCH_BYTES: usize = 2 * 1024 * 1024;

/// Batches published at once: the next one goes out while the previous one is confirmed.
const BATCHES_IN_FLIGHT: usize = 2;

/// How long the publisher sleeps with an empty outbox before looking again without being woken
/// (a safety net: every transaction that queues a message wakes it).
const IDLE_POLL: Duration = Duration::from_millis(500);

/// First and longest wait after the broker failed.
const BACKOFF_INITIAL: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

impl Engine {
    /// The oldest outbox rows after row `after` (those up to it are being published), at most
    /// [`PUBLISH_BATCH`] rows and [`PUBLISH_BATCH_BYTES`] of payload (always at least one row):
    /// a batch is held encoded and decoded at once, so its size is the publisher's peak memory.
    pub(crate) fn outbox_batch(&self, after: Option<i64>) -> Result<Vec<OutboxRow>, StoreError> {
        self.store.read(|tx| tx.outbox_pending(after, PUBLISH_BATCH, PUBLISH_BATCH_BYTES))
    }

    /// Deletes rows the broker confirmed (or that were abandoned) and advances their cases.
    /// [Redoable](passerelle_observatory_store::CaseStore::write_redoable): undone by a power loss, the rows
    /// are published again under the same message ids, and their receivers drop the copies.
    pub(crate) fn outbox_done(&self, rows: &[&OutboxRow]) -> Result<(), StoreError> {
        let now = self.clock.now();
        self.store.write_redoable(|tx| {
            let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
            tx.outbox_remove(&ids)?;
            let mut cases: Vec<&str> = rows.iter().map(|r| r.entry.case_id.as_str()).collect();
            cases.sort_unstable();
            cases.dedup();
            for case_id in cases {
                let Some(case) = tx.case(case_id)? else { continue };
                match case.state {
                    CaseState::Soliciting if tx.outbox_count(case_id, Kind::Solicitation.type_name())? == 0 => {
                        tx.transition(case_id, case.state, CaseEvent::SolicitationsPublished, now)?;
                    }
                    CaseState::Returning if tx.outbox_count(case_id, Kind::Result.type_name())? == 0 => {
                        tx.transition(case_id, case.state, CaseEvent::ResultPublished, now)?;
                        tracing::info!(case_id, "result published");
                    }
                    _ => {}
                }
            }
            Ok(())
        })
    }

    /// Drops a row that can never be published, with an audit entry.
    pub(crate) fn outbox_abandon(&self, row: &OutboxRow, action: Action, reason: &str) -> Result<(), StoreError> {
        tracing::error!(case_id = %row.entry.case_id, kind = %row.entry.kind, routing_key = %row.entry.routing_key,
            message_id = %row.entry.message_id, reason, "message dropped from the outbox");
        self.store.write(|tx| {
            self.audit(
                tx,
                action,
                Some(&row.entry.case_id),
                &self.own_actor(),
                serde_json::json!({ "kind": row.entry.kind, "message_id": row.entry.message_id,
                    "routing_key": row.entry.routing_key, "reason": reason }),
            )
        })?;
        self.outbox_done(&[row])
    }
}

/// What publishing one batch came to.
enum Sent {
    /// Everything confirmed or abandoned.
    Done,
    /// The broker failed: back off and retry.
    BrokerDown,
}

/// Drains the outbox until `stop` is raised, with up to [`BATCHES_IN_FLIGHT`] batches
/// published at once: the next batch is read and sent while the broker confirms the previous
/// one (a result's batch waits tens of milliseconds for its confirms).
pub(crate) async fn run(engine: Arc<Engine>, bus: Arc<dyn Bus>, mut stop: watch::Receiver<bool>) {
    let mut backoff = BACKOFF_INITIAL;
    let mut in_flight: VecDeque<JoinHandle<Sent>> = VecDeque::new();
    // The last row handed to a batch in flight: the next batch starts after it.
    let mut last_taken: Option<i64> = None;
    loop {
        if *stop.borrow() {
            // The batches in flight end first (confirmed, their rows deleted).
            for batch in in_flight {
                let _ = batch.await;
            }
            return;
        }
        let rows = if in_flight.len() < BATCHES_IN_FLIGHT { read_batch(&engine, last_taken).await } else { Vec::new() };
        if let Some(last) = rows.last() {
            // A development hook (never armed in production): a crash here, the rows committed
            // and not yet published, must lose nothing — they are published at the next start.
            passerelle_hooks::fault_point("observatory.after_commit_before_publish");
            last_taken = Some(last.id);
            let (engine, bus) = (Arc::clone(&engine), Arc::clone(&bus));
            in_flight.push_back(tokio::spawn(async move { publish(&engine, bus.as_ref(), rows).await }));
            continue;
        }
        let Some(oldest) = in_flight.pop_front() else {
            last_taken = None;
            tokio::select! {
                _ = engine.outbox_ready.notified() => {}
                _ = tokio::time::sleep(IDLE_POLL) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            continue;
        };
        match oldest.await {
            Ok(Sent::Done) => backoff = BACKOFF_INITIAL,
            outcome => {
                if let Err(e) = outcome {
                    tracing::error!(error = %e, "publishing a batch failed");
                }
                // The broker failed: the other batches end, then the outbox is read again from
                // its oldest row.
                while let Some(batch) = in_flight.pop_front() {
                    let _ = batch.await;
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
        if in_flight.is_empty() {
            last_taken = None;
        }
    }
}

/// The next batch after row `after`, read on the blocking pool (empty after a storage error,
/// logged: the loop reads again).
async fn read_batch(engine: &Arc<Engine>, after: Option<i64>) -> Vec<OutboxRow> {
    let e = Arc::clone(engine);
    match tokio::task::spawn_blocking(move || e.outbox_batch(after)).await {
        Ok(Ok(rows)) => rows,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "STORAGE ERROR reading the outbox");
            Vec::new()
        }
        Err(e) => {
            tracing::error!(error = %e, "reading the outbox failed");
            Vec::new()
        }
    }
}

/// Publishes a batch; on failure, one by one to find and drop what can never go.
async fn publish(engine: &Arc<Engine>, bus: &dyn Bus, rows: Vec<OutboxRow>) -> Sent {
    let now = engine.clock.now();
    let mut ready = Vec::with_capacity(rows.len());
    for row in &rows {
        if row.entry.expires_at <= now {
            let _ =
                blocking_abandon(engine, row, Action::Expired, "the case's retention cap passed before it was sent")
                    .await;
            continue;
        }
        match outgoing(row) {
            Ok(o) => ready.push((row, o)),
            Err(reason) => {
                let _ = blocking_abandon(engine, row, Action::DeadLetter, &reason).await;
            }
        }
    }
    if ready.is_empty() {
        return Sent::Done;
    }
    // The batch moves into the bus (no second decoded copy); a failed batch is decoded again
    // from its rows, message by message.
    let (rows, batch): (Vec<&OutboxRow>, Vec<Outgoing>) = ready.into_iter().unzip();
    let started = std::time::Instant::now();
    match bus.publish(batch).await {
        Ok(()) => {
            tracing::debug!(
                messages = rows.len(),
                confirmed_us = started.elapsed().as_micros() as u64,
                "outbox published"
            );
            return finish(engine, rows).await;
        }
        Err(e) if rows.len() == 1 => return single_failure(engine, rows[0], e).await,
        Err(e) => tracing::warn!(error = %e, "publishing a batch failed; retrying message by message"),
    }
    for row in rows {
        let Ok(o) = outgoing(row) else { continue };
        match bus.publish(vec![o]).await {
            Ok(()) => {
                if let Sent::BrokerDown = finish(engine, vec![row]).await {
                    return Sent::BrokerDown;
                }
            }
            Err(e) => {
                if let Sent::BrokerDown = single_failure(engine, row, e).await {
                    return Sent::BrokerDown;
                }
            }
        }
    }
    Sent::Done
}

/// One message failed alone: drop it if it can never go, else report the broker down.
async fn single_failure(engine: &Arc<Engine>, row: &OutboxRow, e: BusError) -> Sent {
    match e {
        BusError::Expired { .. } => {
            let _ =
                blocking_abandon(engine, row, Action::Expired, "the case's retention cap passed before it was sent")
                    .await;
            Sent::Done
        }
        BusError::Returned { .. } | BusError::Decode(_) => {
            let _ = blocking_abandon(engine, row, Action::DeadLetter, &e.to_string()).await;
            Sent::Done
        }
        other => {
            tracing::warn!(error = %other, "publishing failed; the outbox keeps the messages and retries");
            Sent::BrokerDown
        }
    }
}

async fn finish(engine: &Arc<Engine>, rows: Vec<&OutboxRow>) -> Sent {
    let owned: Vec<OutboxRow> = rows.into_iter().cloned().collect();
    let e = Arc::clone(engine);
    match tokio::task::spawn_blocking(move || e.outbox_done(&owned.iter().collect::<Vec<_>>())).await {
        Ok(Ok(())) => Sent::Done,
        Ok(Err(e)) => {
            // Published but still in the outbox: it goes again with the same id, deduplicated.
            tracing::error!(error = %e, "STORAGE ERROR recording published messages; they will be re-sent (same ids)");
            Sent::BrokerDown
        }
        Err(e) => {
            tracing::error!(error = %e, "recording published messages failed");
            Sent::BrokerDown
        }
    }
}

async fn blocking_abandon(engine: &Arc<Engine>, row: &OutboxRow, action: Action, reason: &str) -> Result<(), ()> {
    let (e, row, reason) = (Arc::clone(engine), row.clone(), reason.to_owned());
    match tokio::task::spawn_blocking(move || e.outbox_abandon(&row, action, &reason)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "STORAGE ERROR dropping an unpublishable message; will retry");
            Err(())
        }
        Err(_) => Err(()),
    }
}

/// The bus message of an outbox row.
fn outgoing(row: &OutboxRow) -> Result<Outgoing, String> {
    let kind = Kind::from_type_name(&row.entry.kind).ok_or_else(|| format!("unknown kind {}", row.entry.kind))?;
    let message = Message::decode(kind, &row.entry.payload).map_err(|e| e.to_string())?;
    let message_id = uuid::Uuid::parse_str(&row.entry.message_id).map_err(|e| e.to_string())?;
    Ok(Outgoing { message, routing_key: row.entry.routing_key.clone(), message_id, expires_at: row.entry.expires_at })
}
