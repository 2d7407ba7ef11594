//! Opening a database file with the pragmas every store needs, and applying its schema.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

use crate::{Result, StoreError};

/// How long a writer waits for another connection's lock (the CLI reading the audit trail while
/// the daemon writes) before reporting an error.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Prepared statements each connection keeps (rusqlite's default is 16). A single-person case
/// runs about 40 distinct statements through the observatory's store: with 16 kept, each was
/// parsed again on every use, a tenth of the observatory's CPU in the latency loop.
pub const STATEMENT_CACHE: usize = 128;

/// Opens (creating if needed) a database with the forensic and durability pragmas, then runs
/// `schema` (idempotent `CREATE … IF NOT EXISTS` statements).
pub(crate) fn open(path: &Path, schema: &str) -> Result<Connection> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io { path: dir.to_owned(), source })?;
    }
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // Must precede the first table of a new file; a no-op on an existing one set the same way.
    conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    conn.pragma_update(None, "secure_delete", "ON")?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Corrupt(format!("cannot switch {} to WAL journaling (got {mode})", path.display())));
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(schema)?;
    let auto_vacuum: i64 = conn.query_row("PRAGMA auto_vacuum", [], |r| r.get(0))?;
    if auto_vacuum != 2 {
        tracing::warn!(
            path = %path.display(),
            "the database was created without incremental auto-vacuum: purged space is zeroed but not returned"
        );
    }
    Ok(conn)
}
