//! Checkpointing a store's WAL from a thread of its own, so that no commit pays for it.
//!
//! SQLite's automatic checkpoint runs inside the commit that takes the WAL past 1,000 pages:
//! that commit writes every page of the WAL back into the database file and syncs it, tens to
//! hundreds of milliseconds during which the store, and every delivery waiting for it, stands
//! still (the observatory's single-person latency had its worst cases there). A store with a
//! [`Checkpointer`] turns the automatic checkpoint off on its own connection; the checkpointer's
//! thread, on a second connection, runs a `PASSIVE` checkpoint whenever something was committed
//! since its last one, at most every [`PERIOD`], and after a period without commits one
//! `TRUNCATE` checkpoint that empties the WAL. A passive checkpoint never blocks a writer: the
//! writers go on appending to the WAL while it copies the frames already committed, and SQLite
//! starts the WAL over once it is wholly copied.
//!
//! Durability is unchanged: a commit is durable once the WAL is synced (`synchronous = FULL`),
//! whether or not a checkpoint followed; a crash leaves a WAL that the next open replays.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::Result;

/// How often at most the WAL is checkpointed while commits go on.
pub const PERIOD: Duration = Duration::from_millis(250);

/// The WAL's length kept when it starts over.
const WAL_KEPT_BYTES: i64 = 4 * 1024 * 1024;

/// What the store and its checkpointer share.
#[derive(Debug)]
struct Shared {
    /// The checkpointer's connection; [`Checkpointer::exclusive`] holds it so that a `TRUNCATE`
    /// checkpoint of the store's own (after a purge) never runs beside a passive one.
    conn: Mutex<Connection>,
    /// Rows changed by the store's connection so far (its `total_changes`): the checkpointer
    /// remembers the count it has seen. A transaction that changed nothing (a timer's pass with
    /// nothing to do) writes nothing to the WAL, and does not count.
    commits: AtomicU64,
    stop: Mutex<bool>,
    wake: Condvar,
}

/// The checkpoint thread of one store; stopped (after a last checkpoint) when dropped.
#[derive(Debug)]
pub struct Checkpointer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Turns the automatic checkpoint off on `store` (the store's own connection) and starts a
    /// thread checkpointing the database at `path` on a connection of its own.
    pub(crate) fn start(store: &Connection, path: &Path) -> Result<Checkpointer> {
        store.pragma_update(None, "wal_autocheckpoint", 0)?;
        // Each time the WAL starts over (once wholly checkpointed) it is cut back to
        // WAL_KEPT_BYTES: a big case's WAL does not keep its disk space, while the small
        // commits of the steady flow overwrite space the file already has (a sync that extends
        // a file also writes its size: twice the time on the disks measured). An idle store's
        // WAL is emptied by the thread (below), so a full disk is never hidden for long.
        store.pragma_update(None, "journal_size_limit", WAL_KEPT_BYTES)?;
        let conn = Connection::open(path)?;
        conn.busy_timeout(crate::open::BUSY_TIMEOUT)?;
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        let shared = Arc::new(Shared {
            conn: Mutex::new(conn),
            commits: AtomicU64::new(0),
            stop: Mutex::new(false),
            wake: Condvar::new(),
        });
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || run(&thread_shared))
            .map_err(|source| crate::Error::Io { path: path.to_owned(), source })?;
        Ok(Checkpointer { shared, thread: Some(thread) })
    }

    /// Records a commit of the store's connection, given its `total_changes` (a checkpoint is
    /// due on the next period if it changed anything).
    pub(crate) fn committed(&self, total_changes: u64) {
        self.shared.commits.store(total_changes, Ordering::Relaxed);
    }

    /// Runs `f` while no passive checkpoint runs.
    pub(crate) fn exclusive<T>(&self, f: impl FnOnce() -> T) -> T {
        let _held = self.shared.conn.lock().unwrap_or_else(|p| p.into_inner());
        f()
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        *self.shared.stop.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The thread: a passive checkpoint every period in which something was committed; after a
/// whole period without a commit, one `TRUNCATE` checkpoint, so that an idle store's WAL is
/// empty. (Truncated only when it starts over, a WAL keeps its length while idle: that old
/// space would be given back to a full disk by the next commit, and fill again unnoticed.)
fn run(shared: &Shared) {
    let mut seen = 0;
    let mut emptied = false;
    loop {
        let stopping = {
            let stop = shared.stop.lock().unwrap_or_else(|p| p.into_inner());
            let (stop, _) = shared.wake.wait_timeout_while(stop, PERIOD, |s| !*s).unwrap_or_else(|p| p.into_inner());
            *stop
        };
        let commits = shared.commits.load(Ordering::Relaxed);
        let mode = if commits != seen {
            seen = commits;
            emptied = false;
            "PASSIVE"
        } else if !emptied {
            "TRUNCATE"
        } else {
            ""
        };
        if !mode.is_empty() {
            let conn = shared.conn.lock().unwrap_or_else(|p| p.into_inner());
            let started = std::time::Instant::now();
            let done = conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(2)?))
            });
            match done {
                Ok((busy, pages)) => {
                    tracing::debug!(mode, pages, elapsed_us = started.elapsed().as_micros() as u64, "WAL checkpoint");
                    emptied = mode == "TRUNCATE" && busy == 0;
                }
                // The WAL only grows meanwhile; the next period tries again.
                Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed; retrying"),
            }
        }
        if stopping {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_are_checkpointed_by_the_thread_not_by_the_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let store = crate::open::connection(&path, crate::open::BUSY_TIMEOUT).unwrap();
        store.execute_batch("CREATE TABLE t (v BLOB);").unwrap();
        let checkpointer = Checkpointer::start(&store, &path).unwrap();
        // Hold the checkpointer off: 2,000 pages written, none checkpointed by the commits.
        let db_size = checkpointer.exclusive(|| {
            for _ in 0..500 {
                store.execute("INSERT INTO t (v) VALUES (zeroblob(16000))", []).unwrap();
                checkpointer.committed(store.total_changes());
            }
            let wal = std::fs::metadata(dir.path().join("c.db-wal")).unwrap().len();
            assert!(wal > 4000 * 1000, "the WAL grew past the automatic threshold: {wal} bytes");
            std::fs::metadata(&path).unwrap().len()
        });
        assert!(db_size < 1_000_000, "no commit wrote the pages back into the database file: {db_size} bytes");
        // Released, the thread copies them within a few periods.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::fs::metadata(&path).unwrap().len() < 7_000_000 {
            assert!(std::time::Instant::now() < deadline, "the checkpointer never copied the WAL");
            std::thread::sleep(PERIOD);
        }
        // Idle, the WAL is emptied.
        let wal = dir.path().join("c.db-wal");
        while std::fs::metadata(&wal).map_or(0, |m| m.len()) > 0 {
            assert!(std::time::Instant::now() < deadline, "the idle store's WAL was never emptied");
            std::thread::sleep(PERIOD);
        }
        drop(checkpointer);
    }
}
