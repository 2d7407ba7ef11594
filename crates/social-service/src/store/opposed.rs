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

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn a_marked_line_is_found_keeps_its_first_date_and_is_forgotten_after() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let case = "0190a3b4-0000-7000-8000-000000000001";
        let day = |n: u64| UNIX_EPOCH + Duration::from_secs(86_400 * n);
        store.mark_opposed_lines(&[(case.to_owned(), 4)], day(10)).unwrap();
        store.mark_opposed_lines(&[(case.to_owned(), 4), (case.to_owned(), 7)], day(20)).unwrap();
        assert!(store.opposed_line(case, 4).unwrap() && store.opposed_line(case, 7).unwrap());
        assert!(!store.opposed_line(case, 5).unwrap(), "another line of the case");
        // Line 4 was first seen on day 10: it goes first.
        assert_eq!(store.forget_opposed_lines(day(15)).unwrap(), 1);
        assert!(!store.opposed_line(case, 4).unwrap() && store.opposed_line(case, 7).unwrap());
    }
}
