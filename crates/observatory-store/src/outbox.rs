//! The transactional outbox: messages to publish, written in the same transaction as the state
//! change that causes them, and deleted only once the broker has confirmed them.
//!
//! A crash between the commit and the publish loses nothing (the row is still here); a crash
//! between the broker's confirm and the delete publishes the row again with the *same* message
//! id, which the receiver's inbox deduplicates. Rows hold encoded messages, hence personal data:
//! they are payloads, sealed with their case's key ([`crate::sealed`]), deleted on confirm and by
//! the case's purge (which destroys the key).

use std::time::SystemTime;

use rusqlite::params;

use crate::{from_ms, to_ms, Result, Tx};

pub(crate) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    routing_key TEXT NOT NULL,
    message_id TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    payload BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_by_case ON outbox(case_id, kind);
"#;

/// A message to publish.
#[derive(Clone)]
pub struct OutboxEntry {
    pub case_id: String,
    /// The message type, e.g. `passerelle.v1.Solicitation` (the bus's `Kind::type_name`).
    pub kind: String,
    pub routing_key: String,
    /// Stable id: a re-publish keeps it, so receivers deduplicate.
    pub message_id: String,
    /// The end of the case's retention cap; the broker copy expires then.
    pub expires_at: SystemTime,
    /// The encoded protobuf message.
    pub payload: Vec<u8>,
}

impl std::fmt::Debug for OutboxEntry {
    /// Without the payload (personal data).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxEntry")
            .field("case_id", &self.case_id)
            .field("kind", &self.kind)
            .field("routing_key", &self.routing_key)
            .field("message_id", &self.message_id)
            .finish_non_exhaustive()
    }
}

/// A stored outbox row.
#[derive(Debug, Clone)]
pub struct OutboxRow {
    /// Insertion order; rows are published in this order.
    pub id: i64,
    pub entry: OutboxEntry,
}

/// The identity an outbox row's sealed payload is bound to.
pub(crate) fn row(case_id: &str, message_id: &str) -> Vec<u8> {
    crate::sealed::row_id("outbox", &[case_id, message_id])
}

impl Tx<'_> {
    /// Adds a message to the outbox, its payload sealed with its case's key.
    pub fn enqueue(&self, e: &OutboxEntry, now: SystemTime) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO outbox (case_id, kind, routing_key, message_id, expires_at, payload, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                e.case_id,
                e.kind,
                e.routing_key,
                e.message_id,
                to_ms(e.expires_at),
                self.sealing_key(&e.case_id)?.seal(&row(&e.case_id, &e.message_id), &e.payload),
                to_ms(now)
            ])?;
        Ok(())
    }

    /// The oldest rows after row `after` (from the first with `None`): at most `limit` rows and,
    /// past the first, at most `max_bytes` of payload in all. A payload is read only once its
    /// row is taken (its length is known without reading it).
    pub fn outbox_pending(&self, after: Option<i64>, limit: usize, max_bytes: usize) -> Result<Vec<OutboxRow>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT id, case_id, kind, routing_key, message_id, expires_at, length(payload), payload FROM outbox \
             WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?;
        let mut rows = stmt.query(params![after.unwrap_or(i64::MIN), limit as i64])?;
        let (mut taken, mut bytes) = (Vec::new(), 0usize);
        while let Some(r) = rows.next()? {
            // The message's own length: the sealed payload's, less the seal.
            let length: i64 = r.get(6)?;
            bytes += (length.max(0) as usize).saturating_sub(crate::keys::SEAL_OVERHEAD);
            if !taken.is_empty() && bytes > max_bytes {
                break;
            }
            let (case_id, message_id): (String, String) = (r.get(1)?, r.get(4)?);
            let sealed = r.get_ref(7)?.as_blob().map_err(rusqlite::Error::from)?;
            // A message whose case's key is gone (a purge a crash undid after destroying it) can
            // never be sent: skipped, and deleted when the purge is done again.
            let Some(key) = self.case_key(&case_id)? else { continue };
            let payload = key.open(&row(&case_id, &message_id), sealed)?;
            taken.push(OutboxRow {
                id: r.get(0)?,
                entry: OutboxEntry {
                    case_id,
                    kind: r.get(2)?,
                    routing_key: r.get(3)?,
                    message_id,
                    expires_at: from_ms(r.get(5)?),
                    payload,
                },
            });
        }
        Ok(taken)
    }

    /// Deletes published (or abandoned) rows; returns how many were still there.
    pub fn outbox_remove(&self, ids: &[i64]) -> Result<usize> {
        let mut stmt = self.tx.prepare_cached("DELETE FROM outbox WHERE id = ?1")?;
        let mut removed = 0;
        for id in ids {
            removed += stmt.execute([id])?;
        }
        Ok(removed)
    }

    /// How many rows of a kind a case still has in the outbox.
    pub fn outbox_count(&self, case_id: &str, kind: &str) -> Result<u64> {
        Ok(self
            .tx
            .prepare_cached("SELECT COUNT(*) FROM outbox WHERE case_id = ?1 AND kind = ?2")?
            .query_row(params![case_id, kind], |r| r.get::<_, i64>(0))? as u64)
    }

    /// Rows waiting in the outbox.
    pub fn outbox_depth(&self) -> Result<u64> {
        Ok(self.query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get::<_, i64>(0))? as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CaseStore, StoreError};

    #[test]
    fn rows_come_out_in_order_and_leave_when_removed() {
        let dir = tempfile::tempdir().unwrap();
        let store = CaseStore::open(&dir.path().join("o.db")).unwrap();
        let now = SystemTime::now();
        let entry = |n: u8| OutboxEntry {
            case_id: "c1".into(),
            kind: "passerelle.v1.Solicitation".into(),
            routing_key: "cnav".into(),
            message_id: format!("m{n}"),
            expires_at: now,
            payload: vec![n],
        };
        store
            .write(|tx| {
                for n in 0..3 {
                    tx.enqueue(&entry(n), now)?;
                }
                Ok::<_, StoreError>(())
            })
            .unwrap();
        let ids = |rows: &[OutboxRow]| rows.iter().map(|r| r.entry.message_id.clone()).collect::<Vec<_>>();
        let rows = store.read(|tx| tx.outbox_pending(None, 2, usize::MAX)).unwrap();
        assert_eq!(ids(&rows), ["m0", "m1"]);
        // Past the first row, the byte budget stops the batch (each payload is one byte).
        assert_eq!(ids(&store.read(|tx| tx.outbox_pending(None, 3, 0)).unwrap()), ["m0"]);
        assert_eq!(ids(&store.read(|tx| tx.outbox_pending(None, 3, 2)).unwrap()), ["m0", "m1"]);
        // After a row: the rows that follow it.
        assert_eq!(ids(&store.read(|tx| tx.outbox_pending(Some(rows[0].id), 3, usize::MAX)).unwrap()), ["m1", "m2"]);
        let removed = store.write(|tx| tx.outbox_remove(&[rows[0].id, rows[0].id + 100])).unwrap();
        assert_eq!(removed, 1);
        assert_eq!(store.read(|tx| tx.outbox_count("c1", "passerelle.v1.Solicitation")).unwrap(), 2);
        assert!(!format!("{:?}", rows[1].entry).contains("payload"));
    }
}
