//! Opening a database file with the pragmas every store needs.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

use crate::{private, Error, Result};

/// How long a writer waits for another connection's lock (a CLI reading while the daemon
/// writes, a `submit` beside a running requester) before reporting an error.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Prepared statements each connection keeps (rusqlite's default is 16). A single-person case
/// runs about 40 distinct statements through the observatory's store: with 16 kept, each would be
/// parsed again on every use, and parsing would dominate the single-person path.
pub const STATEMENT_CACHE: usize = 128;

/// Opens (creating it 0600 and its directory 0700 if needed, [`crate::private`]) a database with
/// the forensic and durability pragmas; refuses ([`Error::Exposed`]) a file, `-wal` or `-shm`
/// that group or others can access. The schema is the caller's ([`crate::migrate::apply`]).
pub fn connection(path: &Path, busy_timeout: Duration) -> Result<Connection> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Io { path, source }
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        private::create_folder(dir).map_err(io(dir))?;
    }
    for suffix in ["", "-wal", "-shm"] {
        private::check_store(&private::with_suffix(path, suffix))?;
    }
    match private::create_file(path) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io(path)(e)),
    }
    // SQLite creates the -wal and -shm with the main file's mode (0600).
    let conn = Connection::open(path)?;
    conn.busy_timeout(busy_timeout)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // Must precede the first table of a new file; a no-op on an existing one set the same way.
    conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    conn.pragma_update(None, "secure_delete", "ON")?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::Unusable(format!("cannot switch {} to WAL journaling (got {mode})", path.display())));
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

/// Warns when the file was created without incremental auto-vacuum (by a tool, or before the
/// first table was made by [`connection`]): purged space is still zeroed, but not given back.
pub(crate) fn warn_without_auto_vacuum(conn: &Connection, path: &Path) -> Result<()> {
    let auto_vacuum: i64 = conn.query_row("PRAGMA auto_vacuum", [], |r| r.get(0))?;
    if auto_vacuum != 2 {
        tracing::warn!(
            path = %path.display(),
            "the database was created without incremental auto-vacuum: purged space is zeroed but not returned"
        );
    }
    Ok(())
}
