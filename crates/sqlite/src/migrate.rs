//! Ordered, numbered migrations: the one way a store's schema is created and changed.
//!
//! A store declares its schema as a list of [`Migration`]s; the *n*-th (from 1) brings a file
//! from schema version *n − 1* to *n*. `PRAGMA user_version` holds the version of a file (0 for a
//! new one). On open, [`apply`] runs the steps the file lacks, in order, in **one** transaction
//! with the new version, so a failed step leaves the file as it was; a file whose version is
//! higher than the list is long was written by a newer program and is refused
//! ([`Error::NewerSchema`]), never half-read.
//!
//! Steps are only ever appended: a released step is never edited, since files already carry its
//! number.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use crate::{Error, Result, Tx};

/// What a migration does.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    /// SQL statements, run as one batch.
    Sql(&'static str),
    /// Code run on the migration's transaction (moving data between tables, checks).
    Code(fn(&Tx<'_>) -> Result<()>),
}

/// One numbered step of a store's schema; its number is its place in the store's list (from 1).
#[derive(Clone, Copy)]
pub struct Migration {
    /// What the step does, in a few words (shown when it fails and when it runs).
    pub name: &'static str,
    pub step: Step,
}

impl Migration {
    /// A step made of SQL statements.
    pub const fn sql(name: &'static str, sql: &'static str) -> Migration {
        Migration { name, step: Step::Sql(sql) }
    }

    /// A step made of code.
    pub const fn code(name: &'static str, f: fn(&Tx<'_>) -> Result<()>) -> Migration {
        Migration { name, step: Step::Code(f) }
    }
}

impl std::fmt::Debug for Migration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Migration").field("name", &self.name).finish_non_exhaustive()
    }
}

/// The schema version a list of migrations brings a file to.
pub fn latest(migrations: &[Migration]) -> u32 {
    migrations.len() as u32
}

/// The schema version of an open database (`PRAGMA user_version`).
pub fn version(conn: &Connection) -> Result<u32> {
    let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    Ok(v.max(0) as u32)
}

/// Brings the database at `path` (open as `conn`) to the latest version of `migrations`, in one
/// transaction; refuses a file of a newer version. Returns the version the file had.
pub fn apply(conn: &mut Connection, path: &Path, migrations: &[Migration]) -> Result<u32> {
    let known = latest(migrations);
    // Checked before taking the write lock: a newer file is refused even when read-only.
    let found = version(conn)?;
    if found > known {
        return Err(Error::NewerSchema { path: path.to_owned(), found, known });
    }
    if found == known {
        return Ok(found);
    }
    let tx = Tx::new(conn.transaction_with_behavior(TransactionBehavior::Immediate)?);
    // Another process may have migrated the file meanwhile.
    let found = version(&tx)?;
    if found > known {
        return Err(Error::NewerSchema { path: path.to_owned(), found, known });
    }
    for (index, migration) in migrations.iter().enumerate().skip(found as usize) {
        let number = index as u32 + 1;
        let done = match migration.step {
            Step::Sql(sql) => tx.execute_batch(sql).map_err(Error::from),
            Step::Code(f) => f(&tx),
        };
        done.map_err(|source| Error::Migration {
            path: path.to_owned(),
            version: number,
            name: migration.name,
            source: Box::new(source),
        })?;
        if found > 0 {
            tracing::info!(path = %path.display(), version = number, step = migration.name, "database migrated");
        }
    }
    tx.pragma_update(None, "user_version", known)?;
    tx.commit()?;
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: Migration = Migration::sql("a table", "CREATE TABLE t (a INTEGER NOT NULL);");
    const V2: Migration = Migration::sql("a column", "ALTER TABLE t ADD COLUMN b TEXT NOT NULL DEFAULT 'x';");

    fn fill_b(tx: &Tx<'_>) -> Result<()> {
        tx.execute("UPDATE t SET b = 'filled' || a", [])?;
        Ok(())
    }

    fn fails(tx: &Tx<'_>) -> Result<()> {
        tx.execute("INSERT INTO t (a) VALUES (99)", [])?;
        Err(Error::Unusable("this step fails".into()))
    }

    fn open(path: &Path) -> Connection {
        crate::open::connection(path, crate::open::BUSY_TIMEOUT).unwrap()
    }

    #[test]
    fn missing_steps_run_once_in_order_and_the_version_follows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        let mut conn = open(&path);
        assert_eq!(apply(&mut conn, &path, &[V1]).unwrap(), 0);
        assert_eq!(version(&conn).unwrap(), 1);
        conn.execute("INSERT INTO t (a) VALUES (7)", []).unwrap();
        let all = [V1, V2, Migration::code("fill b", fill_b)];
        assert_eq!(apply(&mut conn, &path, &all).unwrap(), 1);
        assert_eq!(version(&conn).unwrap(), 3);
        let b: String = conn.query_row("SELECT b FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(b, "filled7");
        // Nothing runs twice (a second ALTER TABLE would fail).
        assert_eq!(apply(&mut conn, &path, &all).unwrap(), 3);
    }

    #[test]
    fn a_failed_step_leaves_the_file_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        let mut conn = open(&path);
        apply(&mut conn, &path, &[V1]).unwrap();
        let error = apply(&mut conn, &path, &[V1, V2, Migration::code("fails", fails)]).unwrap_err();
        assert!(matches!(error, Error::Migration { version: 3, name: "fails", .. }), "{error}");
        assert_eq!(version(&conn).unwrap(), 1, "the version is unchanged");
        let columns: i64 = conn.query_row("SELECT COUNT(*) FROM pragma_table_info('t')", [], |r| r.get(0)).unwrap();
        assert_eq!(columns, 1, "step 2 was rolled back with step 3");
        let rows: i64 = conn.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(rows, 0);
    }

    #[test]
    fn a_file_newer_than_the_code_is_refused_with_its_versions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        let mut conn = open(&path);
        apply(&mut conn, &path, &[V1, V2]).unwrap();
        let error = apply(&mut conn, &path, &[V1]).unwrap_err();
        assert!(matches!(error, Error::NewerSchema { found: 2, known: 1, .. }), "{error}");
        let message = error.to_string();
        assert!(message.contains("schema version 2") && message.contains("newer"), "{message}");
    }
}
