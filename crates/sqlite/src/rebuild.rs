//! Making deleted rows unreadable on disk, not merely unreachable by SQL.
//!
//! 1. A store deletes the rows in a transaction. With `secure_delete=ON`, SQLite overwrites the
//!    deleted cells and the freed pages with zeros.
//! 2. That is not enough on its own: when SQLite rebalances a B-tree page it rebuilds the page
//!    without clearing the gap between the cell pointers and the cell content, so stale copies of
//!    cells that moved can survive inside pages that stay in use (SQLite's `rebuildPage`).
//!    [`Database::rebuild`] therefore runs `VACUUM` after the deletion's commit: every page is
//!    rebuilt from the live rows only (the temporary copy lives in memory, `temp_store=MEMORY`),
//!    so no stale byte survives, and freed space goes back to the file system.
//! 3. Then the WAL, which held copies of the pages as they were written, is checkpointed into the
//!    database and truncated to zero bytes.
//!
//! The `-shm` file holds only the WAL index (page numbers and checksums), never content.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use crate::{Database, Error, Result};

/// What [`Database::rebuild`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reclaimed {
    /// Whether the WAL was fully checkpointed and truncated (false if a reader held it: retry).
    pub wal_truncated: bool,
    /// Pages given back to the file system.
    pub pages_freed: u64,
}

impl Database {
    /// Rebuilds the database from its live rows (`VACUUM`), then checkpoints and truncates the
    /// WAL: after a deletion, nothing of the deleted rows is left in any page of either file.
    pub fn rebuild(&self) -> Result<Reclaimed> {
        self.with_connection(|conn| {
            let pages_before: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
            conn.execute_batch("VACUUM")?;
            let truncated = checkpoint_truncate(conn)?;
            let pages_after: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
            Ok(Reclaimed { wal_truncated: truncated, pages_freed: (pages_before - pages_after).max(0) as u64 })
        })
    }

    /// The sizes of the database and its WAL, in bytes (for metrics and tests).
    pub fn file_sizes(&self) -> Result<(u64, u64)> {
        Ok((file_size(self.path())?, file_size(&self.file_with_suffix("-wal"))?))
    }

    /// The path of the database file with `suffix` appended (`-wal`, `-shm`).
    pub fn file_with_suffix(&self, suffix: &str) -> PathBuf {
        crate::private::with_suffix(self.path(), suffix)
    }
}

fn file_size(p: &Path) -> Result<u64> {
    match std::fs::metadata(p) {
        Ok(m) => Ok(m.len()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(source) => Err(Error::Io { path: p.to_owned(), source }),
    }
}

/// `PRAGMA wal_checkpoint(TRUNCATE)`; `true` when complete (not blocked by a reader).
pub fn checkpoint_truncate(conn: &Connection) -> Result<bool> {
    let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
    Ok(busy == 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Migration;

    const SCHEMA: &[Migration] = &[Migration::sql(
        "secrets",
        "CREATE TABLE secrets (owner TEXT NOT NULL, n INTEGER NOT NULL, secret TEXT NOT NULL, PRIMARY KEY (owner, n));",
    )];

    fn secret(i: u64) -> String {
        format!("SECRET{i:09}X")
    }

    /// Every byte of the database, its WAL and its shared-memory index.
    fn all_bytes(db: &Database) -> Vec<u8> {
        ["", "-wal", "-shm"].iter().filter_map(|s| std::fs::read(db.file_with_suffix(s)).ok()).flatten().collect()
    }

    fn readable(bytes: &[u8], secrets: &[String]) -> usize {
        let set: std::collections::HashSet<&[u8]> = secrets.iter().map(|s| s.as_bytes()).collect();
        let width = secrets[0].len();
        let found: std::collections::HashSet<&[u8]> = bytes.windows(width).filter(|w| set.contains(w)).collect();
        found.len()
    }

    #[test]
    fn deleted_rows_are_gone_from_every_file_after_a_rebuild_and_the_file_shrinks() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("r.db"), "test", SCHEMA).unwrap();
        // Interleaved batches, so that both owners share pages and the B-tree rebalances while
        // it grows (which leaves stale cell copies in page gaps: the VACUUM must clear them).
        for batch in 0..20u64 {
            db.write(|tx| {
                for (owner, offset) in [("gone", 0), ("kept", 5000)] {
                    for i in batch * 100..(batch + 1) * 100 {
                        tx.execute(
                            "INSERT INTO secrets (owner, n, secret) VALUES (?1, ?2, ?3)",
                            (owner, i as i64, secret(i + offset)),
                        )?;
                    }
                }
                Ok::<_, Error>(())
            })
            .unwrap();
        }
        db.rebuild().unwrap();
        let (size_full, _) = db.file_sizes().unwrap();
        let gone: Vec<String> = (0..2000).map(secret).collect();
        db.write(|tx| tx.execute("DELETE FROM secrets WHERE owner = 'gone'", [])).unwrap();
        assert_eq!(readable(&all_bytes(&db), &gone), 2000, "the scan sees them before the rebuild");
        let reclaimed = db.rebuild().unwrap();
        assert!(reclaimed.wal_truncated);
        assert!(reclaimed.pages_freed > 0);
        let (size_after, wal_after) = db.file_sizes().unwrap();
        assert!(size_after < size_full, "{size_after} < {size_full}");
        assert_eq!(wal_after, 0);
        let bytes = all_bytes(&db);
        assert_eq!(readable(&bytes, &gone), 0, "deleted rows still on disk");
        let kept: Vec<String> = (5000..7000).map(secret).collect();
        assert_eq!(readable(&bytes, &kept), 2000, "the scan finds what is really there");
    }
}
