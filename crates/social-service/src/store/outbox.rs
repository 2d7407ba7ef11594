//! The social service's outbox: the transfer messages committed in the same transaction as the
//! state they come from (a transfer's chunks with the frozen file, a receipt with the import),
//! drained to the broker by the publisher (`service::transfer_outbox`), deleted once the broker
//! confirmed them. A row keeps its message id, so a re-publish after a crash is deduplicated by
//! the receiver.

use std::time::SystemTime;

use passerelle_sqlite::{params, Row, Tx};

use super::{ms, Store, StoreError};

/// A message waiting in the outbox.
#[derive(Clone)]
pub struct OutboxRow {
    pub id: i64,
    /// The protobuf type name (`passerelle.v1.Transfer`).
    pub kind: String,
    pub routing_key: String,
    pub message_id: String,
    pub transfer: String,
    pub expires_at: SystemTime,
    pub payload: Vec<u8>,
}

impl std::fmt::Debug for OutboxRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxRow")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("transfer", &self.transfer)
            .finish_non_exhaustive()
    }
}

/// Queues a message (inside the caller's transaction).
pub(crate) fn queue(tx: &Tx<'_>, row: &OutboxRow, at: SystemTime) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO outbox (kind, routing_key, message_id, transfer, expires_at, payload, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![row.kind, row.routing_key, row.message_id, row.transfer, ms(row.expires_at), row.payload, ms(at)],
    )?;
    Ok(())
}

/// How many rows of `kind` of a transfer are still waiting.
pub(crate) fn waiting(tx: &Tx<'_>, transfer: &str, kind: &str) -> Result<u64, StoreError> {
    Ok(tx.query_row("SELECT COUNT(*) FROM outbox WHERE transfer = ?1 AND kind = ?2", params![transfer, kind], |r| {
        r.get::<_, i64>(0)
    })? as u64)
}

/// Deletes every waiting row of `kind` of a transfer (an unroutable transfer, an erased file).
pub(crate) fn drop_transfer(tx: &Tx<'_>, transfer: &str, kind: &str) -> Result<(), StoreError> {
    tx.execute("DELETE FROM outbox WHERE transfer = ?1 AND kind = ?2", params![transfer, kind])?;
    Ok(())
}

/// Deletes rows by id (confirmed by the broker).
pub(crate) fn remove(tx: &Tx<'_>, ids: &[i64]) -> Result<(), StoreError> {
    for id in ids {
        tx.execute("DELETE FROM outbox WHERE id = ?1", params![id])?;
    }
    Ok(())
}

/// An [`OutboxRow`] read as `SELECT id, kind, routing_key, message_id, transfer, expires_at, payload`.
fn row(r: &Row<'_>) -> passerelle_sqlite::rusqlite::Result<OutboxRow> {
    Ok(OutboxRow {
        id: r.get(0)?,
        kind: r.get(1)?,
        routing_key: r.get(2)?,
        message_id: r.get(3)?,
        transfer: r.get(4)?,
        expires_at: passerelle_sqlite::time::from_ms(r.get(5)?),
        payload: r.get(6)?,
    })
}

/// A waiting row without its payload: what the publisher needs to choose the rows it sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxHead {
    pub id: i64,
    /// The transfer it belongs to: a transfer's messages go out in the order they were queued.
    pub transfer: String,
}

impl Store {
    /// The oldest rows, at most `limit`.
    pub fn outbox_batch(&self, limit: usize) -> Result<Vec<OutboxRow>, StoreError> {
        self.db.read(|tx| {
            Ok(tx.query_all("SELECT id, kind, routing_key, message_id, transfer, expires_at, payload FROM outbox ORDER BY id LIMIT ?1", params![limit as i64], row)?)
        })
    }

    /// The oldest rows after row `after`, at most `limit`, without their payloads.
    pub fn outbox_heads(&self, after: i64, limit: usize) -> Result<Vec<OutboxHead>, StoreError> {
        self.db.read(|tx| {
            Ok(tx.query_all(
                "SELECT id, transfer FROM outbox WHERE id > ?1 ORDER BY id LIMIT ?2",
                params![after, limit as i64],
                |r| Ok(OutboxHead { id: r.get(0)?, transfer: r.get(1)? }),
            )?)
        })
    }

    /// The rows `ids` still waiting, in `ids`' order (a row deleted meanwhile is left out).
    pub fn outbox_rows(&self, ids: &[i64]) -> Result<Vec<OutboxRow>, StoreError> {
        self.db.read(|tx| {
            let mut rows = Vec::with_capacity(ids.len());
            for id in ids {
                rows.extend(tx.query_all(
                    "SELECT id, kind, routing_key, message_id, transfer, expires_at, payload FROM outbox WHERE id = ?1",
                    params![id],
                    row,
                )?);
            }
            Ok(rows)
        })
    }

    /// Rows waiting (every kind).
    pub fn outbox_len(&self) -> Result<u64, StoreError> {
        self.db.read(|tx| Ok(tx.query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get::<_, i64>(0))? as u64))
    }
}
