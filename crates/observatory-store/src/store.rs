//! The case store's file and its transactions: a [`passerelle_sqlite::Database`] with the case
//! store's schema, and the [`Tx`] every method of this crate runs in.

use std::path::Path;
use std::sync::Arc;

use passerelle_sqlite::{Database, Failure, Migration, Reclaimed};

use crate::keys::{keys_path, KeyScope, Keyring};
use crate::{Result, StoreError};

/// The case store's schema, in order ([`passerelle_sqlite::migrate`]). The first four steps
/// use `IF NOT EXISTS`: files of the first release carry these tables with version 0.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration::sql("cases, persons, solicitations and answers", crate::cases::SCHEMA),
    Migration::sql("outbox", crate::outbox::SCHEMA),
    Migration::sql("inbox", crate::inbox::SCHEMA),
    Migration::sql("audit trail", crate::audit::SCHEMA),
    Migration::code("payloads sealed with case keys", crate::sealed::seal_existing_payloads),
    Migration::sql("the service offered as a code", "ALTER TABLE cases ADD COLUMN service INTEGER NOT NULL DEFAULT 0;"),
    // What `Tx::purge_case_payloads` now forgets, forgotten in the cases purged before.
    Migration::sql(
        "purged cases forget their office, user and purpose",
        "UPDATE cases SET requester_office = '', requester_user = '', purpose = '' WHERE purged_at IS NOT NULL;",
    ),
];

/// The observatory's case store (one SQLite file, `observatory.db`, and its case keys,
/// `observatory.keys`: [`crate::keys`]). One connection, serialised; its WAL is checkpointed by a
/// thread of its own, never inside a commit.
#[derive(Debug)]
pub struct CaseStore {
    db: Database,
    keys: Arc<Keyring>,
}

/// An open transaction on the case store. The methods of [`crate::cases`], [`crate::persons`],
/// [`crate::solicitations`], [`crate::outbox`], [`crate::inbox`], [`crate::audit`] and
/// [`crate::purge`] all run inside one; each statement is kept parsed by the connection.
#[derive(Debug, Clone, Copy)]
pub struct Tx<'t> {
    pub(crate) tx: &'t passerelle_sqlite::Tx<'t>,
    /// The case keys, as this transaction makes and destroys them.
    pub(crate) keys: &'t KeyScope<'t>,
}

/// Runs `f` on `tx` with the case keys: the keys of the cases it purged are destroyed when it
/// succeeds, before its commit ([`KeyScope::finish`]).
fn with_keys<T, E: From<StoreError>>(
    keys: &Keyring,
    tx: &passerelle_sqlite::Tx<'_>,
    f: impl FnOnce(&Tx<'_>) -> Result<T, E>,
) -> Result<T, E> {
    let scope = KeyScope::new(keys);
    let outcome = f(&Tx { tx, keys: &scope });
    let finished = scope.finish(outcome.is_ok());
    let value = outcome?;
    finished?;
    Ok(value)
}

impl CaseStore {
    /// Opens (or creates, or brings up to date) the case store at `path`.
    pub fn open(path: &Path) -> Result<CaseStore> {
        // The migrations first: sealing the payloads of an older file makes keys.
        let db = Database::open(path, "case store", MIGRATIONS)?;
        Ok(CaseStore { db, keys: Arc::new(Keyring::open(&keys_path(path))?) })
    }

    /// Destroys the keys that seal nothing any more (no payload row of their case is left): a
    /// key made by a transaction that failed, or for a refusal sent after its case's purge. For
    /// the daemon at start and after purges, never for a tool beside it.
    pub fn forget_spent_keys(&self) -> Result<usize> {
        self.keys.repair()?;
        self.write(|tx| tx.forget_spent_keys())
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        self.db.path()
    }

    /// Runs `f` in one `IMMEDIATE` transaction and commits it if `f` succeeds (rolls back
    /// otherwise); returns once the commit is durable. A state change, the outbox messages it
    /// causes, the processed message id and the audit entry commit together or not at all.
    pub fn write<T, E: From<StoreError>>(&self, f: impl FnOnce(&Tx<'_>) -> Result<T, E>) -> Result<T, E> {
        self.db
            .write(|tx| with_keys(&self.keys, tx, f).map_err(Failure::Caller))
            .map_err(Failure::into_caller::<StoreError>)
    }

    /// As [`CaseStore::write`], then runs `committed` on the value once the commit succeeded,
    /// still holding the store: for in-memory state that must follow what is durably stored.
    pub fn write_then<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, E>,
        committed: impl FnOnce(&T),
    ) -> Result<T, E> {
        self.db
            .write_then(|tx| with_keys(&self.keys, tx, f).map_err(Failure::Caller), committed)
            .map_err(Failure::into_caller::<StoreError>)
    }

    /// As [`CaseStore::write`], for a transaction the daemon redoes itself if a power loss
    /// undoes it ([`Database::write_redoable`]): the deletion of published outbox rows (undone,
    /// the messages go again under the same ids and the receivers drop them as duplicates) and
    /// the purge of a case whose receipt or retention cap is recorded (undone, the next tick
    /// purges it again). Never for a write that acks a delivery.
    pub fn write_redoable<T, E: From<StoreError>>(&self, f: impl FnOnce(&Tx<'_>) -> Result<T, E>) -> Result<T, E> {
        self.db
            .write_redoable(|tx| with_keys(&self.keys, tx, f).map_err(Failure::Caller))
            .map_err(Failure::into_caller::<StoreError>)
    }

    /// As [`CaseStore::write`], with *group commit* ([`Database::write_grouped`]): returns only
    /// once the group's commit is known, so `Ok` means durably stored.
    pub fn write_grouped<T: Send + 'static>(&self, f: impl FnOnce(&Tx<'_>) -> Result<T> + Send + 'static) -> Result<T> {
        let keys = Arc::clone(&self.keys);
        self.db.write_grouped(move |tx| with_keys(&keys, tx, f))
    }

    /// Runs `f` in a read transaction (a consistent snapshot), never committed.
    pub fn read<T, E: From<StoreError>>(&self, f: impl FnOnce(&Tx<'_>) -> Result<T, E>) -> Result<T, E> {
        self.db
            .read(|tx| with_keys(&self.keys, tx, f).map_err(Failure::Caller))
            .map_err(Failure::into_caller::<StoreError>)
    }

    /// Rebuilds the file from its live rows and truncates the WAL: after a purge's commit,
    /// nothing of the purged rows is left on disk ([`passerelle_sqlite::rebuild`]).
    pub fn reclaim(&self) -> Result<Reclaimed> {
        Ok(self.db.rebuild()?)
    }

    /// The sizes of the database and its WAL, in bytes.
    pub fn file_sizes(&self) -> Result<(u64, u64)> {
        Ok(self.db.file_sizes()?)
    }

    /// The schema version of the file (`PRAGMA user_version`).
    pub fn schema_version(&self) -> Result<u32> {
        Ok(self.db.with_connection(passerelle_sqlite::migrate::version)?)
    }
}

impl Tx<'_> {
    /// Pages on the file's free list (zero once a rebuild gave them back to the file system).
    pub fn free_pages(&self) -> Result<u64> {
        Ok(self.query_row("PRAGMA freelist_count", [], |r| r.get::<_, i64>(0))? as u64)
    }

    /// Runs one statement (cached); the number of rows changed.
    pub(crate) fn execute(&self, sql: &str, params: impl rusqlite::Params) -> Result<usize> {
        Ok(self.tx.execute(sql, params)?)
    }

    /// Runs a query of exactly one row (cached).
    pub(crate) fn query_row<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<T> {
        Ok(self.tx.query_row(sql, params, f)?)
    }

    /// Every row of a query (cached).
    pub(crate) fn query_all<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>> {
        Ok(self.tx.query_all(sql, params, f)?)
    }
}

/// Edits a store file with raw SQL, bypassing the store and its checks, as someone with the
/// `sqlite3` tool could: for the tests of tamper evidence (the audit chain must name the edit).
#[cfg(feature = "testing")]
pub fn tamper(path: &Path, sql: &str) -> Result<()> {
    let conn = passerelle_sqlite::testing::raw_connection(path)?;
    conn.execute_batch(sql)?;
    Ok(())
}
