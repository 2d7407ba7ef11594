//! Snapshot files: a database written once, by one connection, then only read.
//!
//! A snapshot (the responder's extract index) is rebuilt whole rather than changed: it is written
//! beside the file it replaces, with no journal and `synchronous=OFF` (there is nothing to roll
//! back to: a failed write just deletes its file), under an exclusive lock; then [`install`]
//! syncs it and renames it over the previous one, atomically. Readers open it read-only
//! ([`open_read_only`]), never journaled, never checkpointed: none of [`crate::Database`]'s WAL,
//! auto-vacuum or checkpoint thread applies.
//!
//! Its layout is a list of [`Migration`]s, applied to the new file in one go; a reader refuses a
//! file whose `user_version` is not that list's length (a snapshot of another layout is written
//! again by the current program, never migrated in place).

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use crate::{migrate, Error, Migration, Result};

/// Creates the snapshot file `path` (which must not exist) with `layout`, ready for one writer:
/// no journal, `synchronous=OFF`, an exclusive lock, temporary data in memory, and a page cache
/// of `cache_kib` KiB. On error the file is removed.
pub fn create(path: &Path, layout: &[Migration], cache_kib: i64) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    // Created here, not by SQLite, so that an existing file is never taken over (nor removed).
    crate::private::create_file(path).map_err(|source| Error::Io { path: path.to_owned(), source })?;
    let created = (|| {
        let mut conn = Connection::open_with_flags(path, flags)?;
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = OFF;
             PRAGMA synchronous = OFF;
             PRAGMA locking_mode = EXCLUSIVE;
             PRAGMA temp_store = MEMORY;
             PRAGMA cache_size = -{cache_kib};"
        ))?;
        migrate::apply(&mut conn, path, layout)?;
        Ok(conn)
    })();
    if created.is_err() {
        let _ = std::fs::remove_file(path);
    }
    created
}

/// Closes the finished snapshot `conn` (written at `work`), syncs it to disk and renames it over
/// `target`, then syncs the directory so that the rename survives a crash. A reader sees the
/// previous file or this one, never a mix. Returns the file's size in bytes.
pub fn install(conn: Connection, work: &Path, target: &Path) -> Result<u64> {
    conn.close().map_err(|(_, e)| e)?;
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Io { path, source }
    };
    let file = std::fs::File::open(work).map_err(io(work))?;
    file.sync_all().map_err(io(work))?;
    let bytes = file.metadata().map_err(io(work))?.len();
    std::fs::rename(work, target).map_err(io(target))?;
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))?;
    }
    Ok(bytes)
}

/// Opens the snapshot at `path` read-only with a page cache of `cache_kib` KiB, and refuses it
/// if group or others can access it ([`Error::Exposed`]), or ([`Error::OtherLayout`]) unless its
/// `user_version` is `layout`'s.
pub fn open_read_only(path: &Path, layout: &[Migration], cache_kib: i64) -> Result<Connection> {
    crate::private::check_store(path)?;
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.execute_batch(&format!("PRAGMA cache_size = -{cache_kib};"))?;
    let (found, expected) = (migrate::version(&conn)?, migrate::latest(layout));
    if found != expected {
        return Err(Error::OtherLayout { path: path.to_owned(), found, expected });
    }
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAYOUT: &[Migration] = &[Migration::sql("a table", "CREATE TABLE t (a INTEGER NOT NULL);")];

    #[test]
    fn a_snapshot_is_written_installed_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let (work, target) = (dir.path().join("work"), dir.path().join("snap"));
        let conn = create(&work, LAYOUT, 1024).unwrap();
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "off");
        conn.execute("INSERT INTO t (a) VALUES (7)", []).unwrap();
        let bytes = install(conn, &work, &target).unwrap();
        assert_eq!(bytes, std::fs::metadata(&target).unwrap().len());
        assert!(!work.exists());
        let reader = open_read_only(&target, LAYOUT, 1024).unwrap();
        assert_eq!(reader.query_row("SELECT a FROM t", [], |r| r.get::<_, i64>(0)).unwrap(), 7);
        assert!(reader.execute("INSERT INTO t (a) VALUES (8)", []).is_err(), "read-only");
    }

    #[test]
    fn a_snapshot_of_another_layout_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (work, target) = (dir.path().join("work"), dir.path().join("snap"));
        install(create(&work, LAYOUT, 1024).unwrap(), &work, &target).unwrap();
        let longer = [LAYOUT[0], Migration::sql("another", "CREATE TABLE u (b);")];
        let refused = open_read_only(&target, &longer, 1024);
        assert!(matches!(refused, Err(Error::OtherLayout { found: 1, expected: 2, .. })), "{refused:?}");
    }

    #[test]
    fn a_failed_create_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("work");
        let broken = [Migration::sql("bad", "CREATE TABLE;")];
        assert!(create(&work, &broken, 1024).is_err());
        assert!(!work.exists());
        // An existing file is neither taken over nor removed.
        std::fs::write(&work, b"not mine").unwrap();
        assert!(matches!(create(&work, LAYOUT, 1024), Err(Error::Io { .. })));
        assert_eq!(std::fs::read(&work).unwrap(), b"not mine");
    }
}
