//! Draining the social service's outbox to the broker with publisher confirms (as the
//! observatory's publisher does, smaller): the oldest rows in batches through [`Bus::publish`],
//! deleted once confirmed; a transfer whose chunks all went out moves `sending` → `sent` in the
//! same transaction. A failed batch is retried message by message. A transfer the broker cannot
//! route (no queue for that office) is refused `unknown-office`, its file unfrozen and its rows
//! deleted; a receipt or an amendment that can never go is dropped (logged). A message the
//! broker refuses on its own (a nack) while others go out is set aside
//! ([`super::transfer_set_aside`]) and the messages behind it go on; when every message fails,
//! or the connection does, the broker is down: the publisher backs off and retries, keeping the
//! rows. Woken by each transaction that queues a message, with a poll as a safety net.

use std::collections::BTreeSet;
use std::time::Duration;

use passerelle_bus::{Bus, BusError, Kind, Message, Outgoing};
use tokio::sync::watch;
use tokio::time::Instant;

use super::transfer_set_aside::SetAside;
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
    let mut aside = SetAside::default();
    loop {
        if *stop.borrow() {
            return;
        }
        let rows = next_batch(&service, &mut aside).await;
        if rows.is_empty() {
            // A message set aside is tried again when due, even if nothing else wakes the loop.
            let idle = aside.next_due().map_or(IDLE_POLL, |due| due.saturating_duration_since(Instant::now()));
            tokio::select! {
                _ = service.transfers_state().outbox_ready.notified() => {}
                _ = tokio::time::sleep(idle.min(IDLE_POLL)) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            continue;
        }
        // A development hook (never armed in production): a crash here, the rows committed and
        // not yet published, loses nothing — they are published at the next start.
        passerelle_hooks::fault_point("social-service.after_commit_before_publish");
        if publish(&service, bus.as_ref(), rows, &mut aside).await {
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

/// The oldest rows to publish now (none set aside and not yet due), read on the blocking pool;
/// empty after a storage error (logged: the loop reads again).
async fn next_batch(service: &SocialService, aside: &mut SetAside) -> Vec<OutboxRow> {
    let now = Instant::now();
    let (s, mut taken) = (service.clone(), std::mem::take(aside));
    let read = tokio::task::spawn_blocking(move || {
        let rows = taken
            .choose(now, PUBLISH_BATCH, |after, limit| s.store().outbox_heads(after, limit))
            .and_then(|ids| s.store().outbox_rows(&ids));
        (taken, rows)
    })
    .await;
    match read {
        Ok((taken, rows)) => {
            *aside = taken;
            rows.unwrap_or_else(|e| {
                tracing::error!(error = %e, "STORAGE ERROR in the transfers' outbox");
                Vec::new()
            })
        }
        Err(e) => {
            // The rows set aside are forgotten: they are tried again like the others.
            tracing::error!(error = %e, "the transfers' outbox task failed");
            Vec::new()
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

/// What a message's failure says.
enum Failure {
    /// The message can never go (unroutable, past its cap, undecodable).
    Never,
    /// The broker refused this message (a nack): others may go.
    Alone,
    /// The broker, the connection or the settings failed: nothing can go for now.
    BrokerDown,
}

fn failure(e: &BusError) -> Failure {
    match e {
        BusError::Returned { .. } | BusError::Expired { .. } | BusError::Decode(_) => Failure::Never,
        BusError::Nacked { .. } => Failure::Alone,
        BusError::Connect(_)
        | BusError::Refused(_)
        | BusError::Declare { .. }
        | BusError::Amqp { .. }
        | BusError::Tls(_)
        | BusError::Settings(_)
        | BusError::TerritoryHeld { .. }
        | BusError::TerritoryLost { .. }
        | BusError::Closed => Failure::BrokerDown,
    }
}

/// Publishes a batch, then one by one if it failed; `false` when the broker is down.
async fn publish(service: &SocialService, bus: &dyn Bus, rows: Vec<OutboxRow>, aside: &mut SetAside) -> bool {
    let mut ready = Vec::new();
    for row in rows {
        match outgoing(&row) {
            Ok(o) => ready.push((row, o)),
            Err(reason) => {
                tracing::error!(transfer = %row.transfer, kind = %row.kind, reason, "an outbox row cannot be decoded: dropped");
                aside.sent(row.id);
                if !never_sent(service, row).await {
                    return false;
                }
            }
        }
    }
    if ready.is_empty() {
        return true;
    }
    let (rows, batch): (Vec<OutboxRow>, Vec<Outgoing>) = ready.into_iter().unzip();
    let first = match bus.publish(batch).await {
        Ok(()) => {
            rows.iter().for_each(|r| aside.sent(r.id));
            return done(service, rows).await;
        }
        // A batch of one already says how its message fared.
        Err(e) if rows.len() == 1 => Some(e),
        Err(e) => {
            tracing::warn!(error = %e, "publishing the transfers' outbox failed; retrying message by message");
            None
        }
    };
    one_by_one(service, bus, rows, first, aside).await
}

/// Publishes `rows` one at a time (`first`: the first row's failure, already known). A row the
/// broker refuses on its own is set aside when another row went out, or when it was already set
/// aside; the rows of its transfer behind it wait with it. `false` when the broker is down: a
/// broker or connection error, or every row refused.
async fn one_by_one(
    service: &SocialService,
    bus: &dyn Bus,
    rows: Vec<OutboxRow>,
    mut first: Option<BusError>,
    aside: &mut SetAside,
) -> bool {
    let mut went_out = false;
    let mut refused: Vec<(OutboxRow, BusError)> = Vec::new();
    // Transfers whose earlier row was refused or dropped: their later rows wait (or are gone).
    let mut held: BTreeSet<String> = BTreeSet::new();
    for row in rows {
        if held.contains(&row.transfer) {
            continue;
        }
        let result = match first.take() {
            Some(e) => Err(e),
            None => match outgoing(&row) {
                Ok(o) => bus.publish(vec![o]).await,
                Err(_) => continue,
            },
        };
        let e = match result {
            Ok(()) => {
                aside.sent(row.id);
                if !done(service, vec![row]).await {
                    return false;
                }
                went_out = true;
                continue;
            }
            Err(e) => e,
        };
        match failure(&e) {
            Failure::Alone => {
                held.insert(row.transfer.clone());
                refused.push((row, e));
            }
            Failure::Never => {
                aside.sent(row.id);
                if row.kind == Kind::Transfer.type_name() {
                    held.insert(row.transfer.clone());
                }
                if !single_failure(service, row, e).await {
                    return false;
                }
            }
            Failure::BrokerDown => {
                tracing::warn!(error = %e, "publishing failed; the outbox keeps the messages and retries");
                return false;
            }
        }
    }
    let broker_down = !went_out && refused.iter().any(|(row, _)| !aside.contains(row.id));
    let now = Instant::now();
    for (row, e) in refused {
        if broker_down && !aside.contains(row.id) {
            continue;
        }
        let wait = aside.refused(row.id, now);
        tracing::warn!(kind = %row.kind, transfer = %row.transfer, message_id = %row.message_id, error = %e,
            retry_in_s = wait.as_secs(), "the broker refused a message on its own: set aside, the messages behind it go on");
    }
    if broker_down {
        tracing::warn!("the broker refused every message; the outbox keeps them and retries");
    }
    !broker_down
}

/// One message can never go: a transfer nobody can route is refused (unknown office); any
/// other message is dropped.
async fn single_failure(service: &SocialService, row: OutboxRow, e: BusError) -> bool {
    if matches!(e, BusError::Returned { .. }) && row.kind == Kind::Transfer.type_name() {
        tracing::warn!(transfer = %row.transfer, to = %row.routing_key, "transfer unroutable: refused, unknown office");
        let id = row.transfer.clone();
        return blocking(service, move |s| s.unroutable(&id)).await.is_some();
    }
    tracing::error!(transfer = %row.transfer, kind = %row.kind, error = %e, "a transfer message can never be sent: dropped");
    never_sent(service, row).await
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
