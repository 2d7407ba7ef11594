//! The worklist lines of opposed persons (issue 24, art. 38): when a worklist page shows a
//! person whose objection was upheld, the social service keeps that line's `(case, line)` —
//! the requester's references, no NIR, no hash, no name — so that an outcome for it is refused
//! before the requester is called, even after a restart. A line cannot outlive its case at the
//! requester (the decree's 24-month cap): the retention pass drops the older marks.

use std::time::SystemTime;

use passerelle_sqlite::params;

use super::{ms, Store, StoreError};

impl Store {
    /// Marks these worklist lines as an opposed person's (first seen `at`; a line marked
    /// already keeps its date).
    pub fn mark_opposed_lines(&self, lines: &[(String, u64)], at: SystemTime) -> Result<(), StoreError> {
        if lines.is_empty() {
            return Ok(());
        }
        self.db.write(|tx| {
            for (case, line) in lines {
                tx.execute(
                    "INSERT INTO opposed_lines (case_id, line, at) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (case_id, line) DO NOTHING",
                    params![case, *line as i64, ms(at)],
                )?;
            }
            Ok(())
        })
    }

    /// Whether this worklist line was shown as an opposed person's.
    pub fn opposed_line(&self, case: &str, line: u64) -> Result<bool, StoreError> {
        self.db.read(|tx| {
            Ok(tx.exists("SELECT 1 FROM opposed_lines WHERE case_id = ?1 AND line = ?2", params![case, line as i64])?)
        })
    }

    /// Drops the marks first seen before `before` (their case is gone from the requester); how
    /// many.
    pub fn forget_opposed_lines(&self, before: SystemTime) -> Result<u64, StoreError> {
        self.db.write(|tx| Ok(tx.execute("DELETE FROM opposed_lines WHERE at < ?1", params![ms(before)])? as u64))
    }
}
