//! A store's database: one connection, serialised by a mutex (SQLite has one writer at a time
//! anyway, and each transaction is short), with its ways to write.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rusqlite::{Connection, TransactionBehavior};

use crate::checkpoint::Checkpointer;
use crate::migrate::Migration;
use crate::{Error, Result, Tx};

/// How a database is opened.
#[derive(Debug, Clone)]
pub struct Options {
    /// The store's name in logs (`store = …`).
    pub name: &'static str,
    /// Checkpoint the WAL from a thread of its own ([`crate::checkpoint`]) instead of inside the
    /// commit that takes it past 1,000 pages: for a store that deliveries wait for.
    pub checkpoint_thread: bool,
    /// How long a writer waits for another connection's lock.
    pub busy_timeout: Duration,
}

impl Options {
    /// A store called `name`, with the checkpoint thread.
    pub fn named(name: &'static str) -> Options {
        Options { name, checkpoint_thread: true, busy_timeout: crate::open::BUSY_TIMEOUT }
    }
}

/// What a grouped write does once its group's commit is known (`None`: committed).
type GroupedFinish = Box<dyn FnOnce(Option<&str>) + Send>;

/// A write waiting for a group commit: runs inside the group's transaction (in its own
/// savepoint) and returns what to do once the commit is known, and `false` if its savepoint
/// could not be rolled back (the group must not commit then).
type GroupedWrite = Box<dyn FnOnce(&Tx<'_>) -> (GroupedFinish, bool) + Send>;

/// Where a grouped write's outcome waits for its caller.
type GroupedSlot<T, E> = Arc<Mutex<Option<Result<T, E>>>>;

/// One SQLite database file of a store, open with the pragmas of [`crate::open`] and migrated.
pub struct Database {
    conn: Mutex<Connection>,
    checkpointer: Option<Checkpointer>,
    path: PathBuf,
    name: &'static str,
    /// Writes waiting for the next group commit ([`Database::write_grouped`]).
    pending: Mutex<Vec<GroupedWrite>>,
    /// A [`Database::write_redoable`] could not set the connection back to synced commits:
    /// every write sets it back first, and fails while it cannot.
    unsynced: AtomicBool,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database").field("name", &self.name).field("path", &self.path).finish_non_exhaustive()
    }
}

impl Database {
    /// Opens (or creates) the database at `path` with the checkpoint thread, and brings it to
    /// the latest version of `migrations` ([`crate::migrate`]).
    pub fn open(path: &Path, name: &'static str, migrations: &[Migration]) -> Result<Database> {
        Database::open_with(path, migrations, Options::named(name))
    }

    /// As [`Database::open`], with `options`.
    pub fn open_with(path: &Path, migrations: &[Migration], options: Options) -> Result<Database> {
        let mut conn = crate::open::connection(path, options.busy_timeout)?;
        crate::migrate::apply(&mut conn, path, migrations)?;
        crate::open::warn_without_auto_vacuum(&conn, path)?;
        let checkpointer = if options.checkpoint_thread { Some(Checkpointer::start(&conn, path)?) } else { None };
        Ok(Database {
            conn: Mutex::new(conn),
            checkpointer,
            path: path.to_owned(),
            name: options.name,
            pending: Mutex::new(Vec::new()),
            unsynced: AtomicBool::new(false),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` in one `IMMEDIATE` transaction and commits it if `f` succeeds (rolls back
    /// otherwise). Returns once the commit is durable (`synchronous = FULL`).
    pub fn write<T, E: From<Error>>(&self, f: impl FnOnce(&Tx<'_>) -> Result<T, E>) -> Result<T, E> {
        self.write_then(f, |_| {})
    }

    /// As [`Database::write`], then runs `committed` on the value once the commit succeeded,
    /// still holding the database (so nothing else is written in between): for in-memory state
    /// that must follow what is durably stored, never what a rolled-back transaction did.
    ///
    /// Each transaction logs (at `debug`) how long it waited for the database, worked and
    /// committed: the first place to look when a stage is slow.
    pub fn write_then<T, E: From<Error>>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, E>,
        committed: impl FnOnce(&T),
    ) -> Result<T, E> {
        let asked = Instant::now();
        let mut conn = self.lock();
        self.synced(&conn)?;
        self.write_locked(&mut conn, asked, f, committed)
    }

    /// As [`Database::write`], for a transaction that the daemon does again by itself if a power
    /// loss undoes it: its commit is not synced to the disk on its own, but with the next synced
    /// commit (`synchronous = NORMAL` for this one transaction; SQLite's WAL stays consistent, and
    /// a process crash loses nothing: the commit is in the OS's cache). One `fsync` less, which
    /// every delivery waiting for the database would otherwise wait for. Never for a write whose
    /// commit acks a delivery: that one must be durable when acked.
    pub fn write_redoable<T, E: From<Error>>(&self, f: impl FnOnce(&Tx<'_>) -> Result<T, E>) -> Result<T, E> {
        let asked = Instant::now();
        let mut conn = self.lock();
        self.unsynced.store(true, Ordering::SeqCst);
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(Error::from)?;
        let outcome = self.write_locked(&mut conn, asked, f, |_| {});
        // Every other transaction is synced: if this cannot be set back, nothing is written
        // until it is (each write tries again first).
        self.synced(&conn)?;
        outcome
    }

    /// Sets the connection back to synced commits if a redoable write could not.
    fn synced(&self, conn: &Connection) -> Result<()> {
        if self.unsynced.load(Ordering::SeqCst) {
            conn.pragma_update(None, "synchronous", "FULL")?;
            self.unsynced.store(false, Ordering::SeqCst);
        }
        Ok(())
    }

    fn committed(&self, changes: u64) {
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.committed(changes);
        }
    }

    fn write_locked<T, E: From<Error>>(
        &self,
        conn: &mut Connection,
        asked: Instant,
        f: impl FnOnce(&Tx<'_>) -> Result<T, E>,
        committed: impl FnOnce(&T),
    ) -> Result<T, E> {
        let locked = Instant::now();
        let tx = Tx::new(conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(Error::from)?);
        let value = f(&tx)?;
        let worked = Instant::now();
        let changes = tx.changes_so_far();
        tx.commit().map_err(Error::from)?;
        self.committed(changes);
        committed(&value);
        tracing::debug!(
            store = self.name,
            wait_us = (locked - asked).as_micros() as u64,
            work_us = (worked - locked).as_micros() as u64,
            commit_us = worked.elapsed().as_micros() as u64,
            "store transaction"
        );
        Ok(value)
    }

    /// As [`Database::write`], but *group commit*: writes asked for at the same time from
    /// several threads run one after the other in one transaction, each in its own savepoint
    /// (a write that fails is rolled back alone), and share one commit — one `fsync` for the
    /// group instead of one each. Returns only once the group's commit is known: `Ok` means
    /// this write is durably stored, exactly as with `write`.
    ///
    /// The first caller to get the connection runs every write waiting at that moment (its
    /// own included); the others find their outcome ready when they get the connection.
    pub fn write_grouped<T, E>(&self, f: impl FnOnce(&Tx<'_>) -> Result<T, E> + Send + 'static) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<Error> + Send + 'static,
    {
        let slot: GroupedSlot<T, E> = Arc::new(Mutex::new(None));
        let mine = Arc::clone(&slot);
        let job: GroupedWrite = Box::new(move |tx: &Tx<'_>| {
            let (outcome, intact) = tx.in_savepoint(f);
            let finish = Box::new(move |commit_error: Option<&str>| {
                let outcome = match (outcome, commit_error) {
                    (Ok(value), None) => Ok(value),
                    (Ok(_), Some(e)) => Err(Error::GroupCommit(e.to_owned()).into()),
                    (Err(e), _) => Err(e),
                };
                *mine.lock().unwrap_or_else(|p| p.into_inner()) = Some(outcome);
            }) as GroupedFinish;
            (finish, intact)
        });
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).push(job);
        let mut conn = self.lock();
        // A group that ran while this thread waited for the connection may have taken it:
        // leaders fill every slot of their group before they release the connection.
        if let Some(outcome) = slot.lock().unwrap_or_else(|p| p.into_inner()).take() {
            return outcome;
        }
        let jobs = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        let started = Instant::now();
        let count = jobs.len();
        let commit_error = match self
            .synced(&conn)
            .and_then(|()| conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(Error::from))
        {
            // The writes never ran: their callers find no outcome and report the error.
            Err(e) => Some(e.to_string()),
            Ok(tx) => {
                let tx = Tx::new(tx);
                let mut finishes: Vec<GroupedFinish> = Vec::with_capacity(count);
                let mut intact = true;
                for job in jobs {
                    let (finish, ok) = job(&tx);
                    finishes.push(finish);
                    intact &= ok;
                }
                let worked = Instant::now();
                let error = if intact {
                    let changes = tx.changes_so_far();
                    let error = tx.commit().err().map(|e| Error::from(e).to_string());
                    self.committed(changes);
                    error
                } else {
                    // A failed write could not be undone alone: nothing of the group is kept.
                    drop(tx);
                    Some("a failed write of the group could not be rolled back alone".to_owned())
                };
                tracing::debug!(
                    store = self.name,
                    writes = count,
                    work_us = (worked - started).as_micros() as u64,
                    commit_us = worked.elapsed().as_micros() as u64,
                    "store group commit"
                );
                for finish in finishes {
                    finish(error.as_deref());
                }
                error
            }
        };
        drop(conn);
        let outcome = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
        outcome.unwrap_or_else(|| Err(Error::GroupCommit(commit_error.unwrap_or_default()).into()))
    }

    /// Runs `f` in a read transaction (a consistent snapshot), never committed.
    pub fn read<T, E: From<Error>>(&self, f: impl FnOnce(&Tx<'_>) -> Result<T, E>) -> Result<T, E> {
        let mut conn = self.lock();
        let tx = Tx::new(conn.transaction_with_behavior(TransactionBehavior::Deferred).map_err(Error::from)?);
        let value = f(&tx);
        drop(tx);
        value
    }

    /// Runs `f` on the bare connection (outside any transaction), with no passive checkpoint
    /// beside it: for `VACUUM`, checkpoints and the pragmas a tool reads.
    pub fn with_connection<T, E: From<Error>>(&self, f: impl FnOnce(&Connection) -> Result<T, E>) -> Result<T, E> {
        let conn = self.lock();
        match &self.checkpointer {
            Some(checkpointer) => checkpointer.exclusive(|| f(&conn)),
            None => f(&conn),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Migration;
    use std::time::SystemTime;

    const SCHEMA: &[Migration] =
        &[Migration::sql("cases", "CREATE TABLE cases (id TEXT PRIMARY KEY, at INTEGER NOT NULL);")];

    fn insert(tx: &Tx<'_>, id: &str) -> Result<()> {
        tx.execute("INSERT INTO cases (id, at) VALUES (?1, ?2)", (id, crate::time::to_ms(SystemTime::now())))?;
        Ok(())
    }

    fn ids(db: &Database) -> Vec<String> {
        db.read(|tx| tx.query_all("SELECT id FROM cases ORDER BY id", [], |r| r.get(0))).unwrap()
    }

    fn synchronous(db: &Database) -> i64 {
        db.with_connection(|c| Ok::<_, Error>(c.query_row("PRAGMA synchronous", [], |r| r.get(0))?)).unwrap()
    }

    #[test]
    fn every_pragma_is_set_and_the_schema_is_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("sub").join("p.db"), "test", SCHEMA).unwrap();
        let pragma = |name: &str| -> String {
            db.with_connection(|c| {
                Ok::<_, Error>(c.query_row(&format!("PRAGMA {name}"), [], |r| r.get::<_, rusqlite::types::Value>(0))?)
            })
            .map(|v| match v {
                rusqlite::types::Value::Integer(i) => i.to_string(),
                rusqlite::types::Value::Text(t) => t,
                other => format!("{other:?}"),
            })
            .unwrap()
        };
        assert_eq!(pragma("journal_mode"), "wal");
        assert_eq!(pragma("synchronous"), "2", "FULL");
        assert_eq!(pragma("secure_delete"), "1");
        assert_eq!(pragma("auto_vacuum"), "2", "INCREMENTAL");
        assert_eq!(pragma("temp_store"), "2", "MEMORY");
        assert_eq!(pragma("foreign_keys"), "1");
        assert_eq!(pragma("wal_autocheckpoint"), "0", "the checkpoint thread checkpoints, not the commits");
        assert_eq!(pragma("user_version"), "1");
    }

    #[test]
    fn a_failed_write_rolls_everything_back() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("w.db"), "test", SCHEMA).unwrap();
        let failed: Result<()> = db.write(|tx| {
            insert(tx, "c1")?;
            Err(Error::Unusable("boom".into()))
        });
        assert!(failed.is_err());
        db.write(|tx| insert(tx, "c2")).unwrap();
        assert_eq!(ids(&db), ["c2"]);
    }

    #[test]
    fn write_then_sees_only_committed_values() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("w.db"), "test", SCHEMA).unwrap();
        let mut seen = Vec::new();
        db.write_then(|tx| insert(tx, "c1").map(|()| 1), |v| seen.push(*v)).unwrap();
        let _ = db.write_then(
            |tx| {
                insert(tx, "c1")?; // a duplicate key: the commit never happens
                Ok::<_, Error>(2)
            },
            |v| seen.push(*v),
        );
        assert_eq!(seen, [1]);
    }

    #[test]
    fn a_redoable_write_commits_and_every_other_write_stays_synced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        let db = Database::open(&path, "test", SCHEMA).unwrap();
        const FULL: i64 = 2;
        assert_eq!(synchronous(&db), FULL);
        db.write_redoable(|tx| insert(tx, "c1")).unwrap();
        assert_eq!(synchronous(&db), FULL, "the next write is synced again");
        let failed: Result<()> = db.write_redoable(|_| Err(Error::Unusable("fails".into())));
        assert!(failed.is_err());
        assert_eq!(synchronous(&db), FULL);
        drop(db);
        let db = Database::open(&path, "test", SCHEMA).unwrap();
        assert_eq!(ids(&db), ["c1"], "the redoable write was committed");
    }

    #[test]
    fn grouped_writes_share_a_commit_and_a_failed_one_is_rolled_back_alone() {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(Database::open(&dir.path().join("g.db"), "test", SCHEMA).unwrap());
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let db = Arc::clone(&db);
                std::thread::spawn(move || {
                    db.write_grouped(move |tx| {
                        insert(tx, &format!("c{i}"))?;
                        if i % 2 == 1 {
                            return Err(Error::Unusable("this write fails".into()));
                        }
                        Ok(i)
                    })
                })
            })
            .collect();
        let outcomes: Vec<Result<i32>> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        for (i, outcome) in outcomes.iter().enumerate() {
            assert_eq!(outcome.is_ok(), i % 2 == 0, "write {i}: {outcome:?}");
        }
        assert_eq!(ids(&db), ["c0", "c2", "c4", "c6"], "the failed writes left nothing, the others are stored");
    }

    #[test]
    fn a_grouped_write_whose_group_cannot_commit_reports_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.db");
        let options = Options { busy_timeout: Duration::ZERO, ..Options::named("test") };
        let db = Database::open_with(&path, SCHEMA, options).unwrap();
        // Another connection holds the write lock: the group's transaction cannot start.
        let other = Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let outcome: Result<()> = db.write_grouped(|tx| insert(tx, "c1"));
        assert!(matches!(outcome, Err(Error::GroupCommit(_))), "{outcome:?}");
        other.execute_batch("ROLLBACK").unwrap();
        assert!(ids(&db).is_empty());
    }
}
