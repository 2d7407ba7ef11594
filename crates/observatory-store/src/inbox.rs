//! The inbox: the ids of the messages already processed, recorded in the transaction that
//! processed them. Delivery is at-least-once; a message seen again is acknowledged and changes
//! nothing. Entries older than the retention cap are forgotten: the broker's copies expire by
//! then, so no redelivery can come later.

use std::time::SystemTime;

use rusqlite::params;

use crate::{to_ms, Result, Tx};

pub(crate) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS inbox (
    message_id TEXT PRIMARY KEY,
    received_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS inbox_by_time ON inbox(received_at);
"#;

impl Tx<'_> {
    /// Whether a message id was already processed.
    pub fn inbox_seen(&self, message_id: &str) -> Result<bool> {
        Ok(self.tx.prepare_cached("SELECT 1 FROM inbox WHERE message_id = ?1")?.exists([message_id])?)
    }

    /// Records a processed message id; `false` if it was already there.
    pub fn inbox_record(&self, message_id: &str, now: SystemTime) -> Result<bool> {
        let inserted = self
            .tx
            .prepare_cached("INSERT OR IGNORE INTO inbox (message_id, received_at) VALUES (?1, ?2)")?
            .execute(params![message_id, to_ms(now)])?;
        Ok(inserted == 1)
    }

    /// Forgets the ids received before `before`; returns how many.
    pub fn inbox_forget_before(&self, before: SystemTime) -> Result<usize> {
        self.execute("DELETE FROM inbox WHERE received_at < ?1", [to_ms(before)])
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::{CaseStore, StoreError};

    #[test]
    fn an_id_is_seen_once_then_forgotten_after_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let store = CaseStore::open(&dir.path().join("o.db")).unwrap();
        let now = std::time::SystemTime::now();
        store
            .write(|tx| {
                assert!(!tx.inbox_seen("m1")?);
                assert!(tx.inbox_record("m1", now)?);
                assert!(!tx.inbox_record("m1", now)?);
                assert!(tx.inbox_seen("m1")?);
                assert_eq!(tx.inbox_forget_before(now)?, 0);
                assert_eq!(tx.inbox_forget_before(now + Duration::from_secs(1))?, 1);
                Ok::<_, StoreError>(())
            })
            .unwrap();
    }
}
