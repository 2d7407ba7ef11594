//! Draining the social service's outbox to the broker with publisher confirms (as the
//! observatory's publisher does, smaller): the oldest rows in batches through [`Bus::publish`],
//! deleted once confirmed; a transfer whose chunks all went out moves `sending` → `sent` in the
//! same transaction. A transfer the broker cannot route (no queue for that office) is refused
//! `unknown-office`, its file unfrozen and its rows deleted; a receipt or an amendment that can
//! never go is dropped (logged); any other error (broker down) backs off and retries, keeping
//! the rows. Woken by each transaction that queues a message, with a poll as a safety net.

use std::collections::BTreeSet;
use std::time::Duration;

use passerelle_bus::{Bus, BusError, Kind, Message, Outgoing};
use tokio::sync::watch;

use super::{SocialService, SocialServiceError};
use crate::store::outbox::{self, OutboxRow};
use crate::store::transfers as t;

/// Rows per publish: a transfer's chunks (500 actions each) are small; a few dozen pipeline the
/// confirms.
const PUBLISH_BATCH: usize = 32;

/// How long the publisher sleeps with an empty outbox before looking again unwoken.
const IDLE_POLL: Duration = Duration::from_millis(500);

/// First and longest wait after the broker failed.
const BACKOFF_INITIAL: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// Drains the outbox until `stop` is raised.
pub(crate) async fn run(service: SocialService, bus: std::sync::Arc<dyn Bus>, mut stop: watch::Receiver<bool>) {
    let mut backoff = BACKOFF_INITIAL;
    loop {
        if *stop.borrow() {
            return;
        }
        let rows: Vec<OutboxRow> =
            blocking(&service, |s| Ok(s.store().outbox_batch(PUBLISH_BATCH)?)).await.unwrap_or_default();
        if rows.is_empty() {
            tokio::select! {
                _ = service.transfers_state().outbox_ready.notified() => {}
                _ = tokio::time::sleep(IDLE_POLL) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            continue;
        }
        // A development hook (never armed in production): a crash here, the rows committed and
        // not yet published, loses nothing — they are published at the next start.
        passerelle_hooks::fault_point("social-service.after_commit_before_publish");
        if publish(&service, bus.as_ref(), rows).await {
            backoff = BACKOFF_INITIAL;
        } else {
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }
}

async fn blocking<T: Send + 'static>(
    service: &SocialService,
    f: impl FnOnce(&SocialService) -> Result<T, SocialServiceError> + Send + 'static,
) -> Option<T> {
    let s = service.clone();
    match tokio::task::spawn_blocking(move || f(&s)).await {
        Ok(Ok(value)) => Some(value),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "STORAGE ERROR in the transfers' outbox");
            None
        }
        Err(e) => {
            tracing::error!(error = %e, "the transfers' outbox task failed");
            None
        }
    }
}

fn outgoing(row: &OutboxRow) -> Result<Outgoing, String> {
    let kind = Kind::from_type_name(&row.kind).ok_or_else(|| format!("unknown kind {}", row.kind))?;
    let message = Message::decode(kind, &row.payload).map_err(|e| e.to_string())?;
    let message_id = uuid::Uuid::parse_str(&row.message_id).map_err(|e| e.to_string())?;
    Ok(Outgoing { message, routing_key: row.routing_key.clone(), message_id, expires_at: row.expires_at })
}

/// Publishes a batch, then one by one if it failed; `false` when the broker is down.
async fn publish(service: &SocialService, bus: &dyn Bus, rows: Vec<OutboxRow>) -> bool {
    let mut ready = Vec::new();
    for row in rows {
        match outgoing(&row) {
            Ok(o) => ready.push((row, o)),
            Err(reason) => {
                tracing::error!(transfer = %row.transfer, kind = %row.kind, reason, "an outbox row cannot be decoded: dropped");
                if !never_sent(service, row).await {
                    return false;
                }
            }
        }
    }
    if ready.is_empty() {
        return true;
    }
    let (mut rows, batch): (Vec<OutboxRow>, Vec<Outgoing>) = ready.into_iter().unzip();
    match bus.publish(batch).await {
        Ok(()) => return done(service, rows).await,
        Err(e) if rows.len() == 1 => {
            return match rows.pop() {
                Some(row) => single_failure(service, row, e).await,
                None => true,
            }
        }
        Err(e) => tracing::warn!(error = %e, "publishing the transfers' outbox failed; retrying message by message"),
    }
    for row in rows {
        let Ok(o) = outgoing(&row) else { continue };
        let ok = match bus.publish(vec![o]).await {
            Ok(()) => done(service, vec![row]).await,
            Err(e) => single_failure(service, row, e).await,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// One message failed alone: a transfer nobody can route is refused (unknown office); a
/// message that can never go is dropped; any other error means the broker is down.
async fn single_failure(service: &SocialService, row: OutboxRow, e: BusError) -> bool {
    match e {
        BusError::Returned { .. } if row.kind == Kind::Transfer.type_name() => {
            tracing::warn!(transfer = %row.transfer, to = %row.routing_key, "transfer unroutable: refused, unknown office");
            let id = row.transfer.clone();
            blocking(service, move |s| s.unroutable(&id)).await.is_some()
        }
        BusError::Returned { .. } | BusError::Expired { .. } | BusError::Decode(_) => {
            tracing::error!(transfer = %row.transfer, kind = %row.kind, error = %e, "a transfer message can never be sent: dropped");
            never_sent(service, row).await
        }
        other => {
            tracing::warn!(error = %other, "publishing failed; the outbox keeps the messages and retries");
            false
        }
    }
}

/// Drops a row that can never be sent. A chunk of a transfer takes the whole transfer with it:
/// refused `not-sent` and its file unfrozen — never recorded `sent` (the receiver would never
/// answer, and the file would stay frozen for good). A receipt or an amendment is dropped alone.
async fn never_sent(service: &SocialService, row: OutboxRow) -> bool {
    if row.kind != Kind::Transfer.type_name() {
        return done(service, vec![row]).await;
    }
    let id = row.transfer.clone();
    blocking(service, move |s| s.unsent(&id)).await.is_some()
}

/// Deletes published rows; a transfer whose chunks all went out becomes `sent`.
async fn done(service: &SocialService, rows: Vec<OutboxRow>) -> bool {
    blocking(service, move |s| {
        s.store().transact(|tx| {
            outbox::remove(tx, &rows.iter().map(|r| r.id).collect::<Vec<_>>())?;
            let transfers: BTreeSet<&str> =
                rows.iter().filter(|r| r.kind == Kind::Transfer.type_name()).map(|r| r.transfer.as_str()).collect();
            for id in transfers {
                if outbox::waiting(tx, id, Kind::Transfer.type_name())? == 0
                    && t::move_out(tx, id, &["sending"], "sent", None, None)?
                {
                    tracing::info!(transfer = %id, "transfer published");
                }
            }
            Ok::<_, SocialServiceError>(())
        })
    })
    .await
    .is_some()
}

impl SocialService {
    /// A transfer the broker could not route: refused `unknown-office`, its rows deleted, its
    /// file unfrozen.
    pub(crate) fn unroutable(&self, id: &str) -> Result<(), SocialServiceError> {
        self.refuse_out_unpublished(id, "unknown-office")
    }

    /// A transfer whose chunks can never be sent (past their cap, undecodable): refused
    /// `not-sent`, its rows deleted, its file unfrozen.
    pub(crate) fn unsent(&self, id: &str) -> Result<(), SocialServiceError> {
        self.refuse_out_unpublished(id, "not-sent")
    }

    fn refuse_out_unpublished(&self, id: &str, code: &str) -> Result<(), SocialServiceError> {
        let now = self.now();
        self.store().transact(|tx| {
            outbox::drop_transfer(tx, id, Kind::Transfer.type_name())?;
            if let Some(out) = t::out_transfer(tx, id)? {
                if t::move_out(tx, id, &["sending", "sent"], "refused", Some(now), Some(code))? {
                    t::unfreeze(tx, &out.file, id)?;
                }
            }
            Ok(())
        })
    }
}
