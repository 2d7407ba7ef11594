//! An open transaction, whose statements are parsed once per connection.

use std::ops::Deref;

use rusqlite::{OptionalExtension, Params, Row, Transaction};

use crate::Result;

/// An open transaction on a [`crate::Database`]. Its own `execute`, `query_row`,
/// `query_optional`, `exists` and `query_all` keep each statement's parsed form in the
/// connection's cache (rusqlite's own `execute` parses it again each time): write the hot paths
/// with them. Everything else of rusqlite's [`Transaction`] is there through `Deref` (its
/// `prepare_cached` for a statement run in a loop, `prepare` for SQL built at run time).
#[derive(Debug)]
pub struct Tx<'c> {
    tx: Transaction<'c>,
}

impl<'c> Deref for Tx<'c> {
    type Target = Transaction<'c>;

    fn deref(&self) -> &Transaction<'c> {
        &self.tx
    }
}

impl<'c> Tx<'c> {
    pub(crate) fn new(tx: Transaction<'c>) -> Tx<'c> {
        Tx { tx }
    }

    pub(crate) fn commit(self) -> rusqlite::Result<()> {
        self.tx.commit()
    }

    /// Runs one statement (cached); returns the number of rows changed.
    pub fn execute(&self, sql: &str, params: impl Params) -> Result<usize> {
        Ok(self.tx.prepare_cached(sql)?.execute(params)?)
    }

    /// Runs a query that returns exactly one row (cached).
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: impl Params,
        f: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<T> {
        Ok(self.tx.prepare_cached(sql)?.query_row(params, f)?)
    }

    /// Runs a query that returns at most one row (cached).
    pub fn query_optional<T>(
        &self,
        sql: &str,
        params: impl Params,
        f: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Option<T>> {
        Ok(self.tx.prepare_cached(sql)?.query_row(params, f).optional()?)
    }

    /// Whether a query returns any row (cached).
    pub fn exists(&self, sql: &str, params: impl Params) -> Result<bool> {
        Ok(self.tx.prepare_cached(sql)?.exists(params)?)
    }

    /// Every row of a query, mapped by `f` (cached).
    pub fn query_all<T>(
        &self,
        sql: &str,
        params: impl Params,
        f: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>> {
        let mut stmt = self.tx.prepare_cached(sql)?;
        let rows = stmt.query_map(params, f)?.collect::<rusqlite::Result<Vec<T>>>()?;
        Ok(rows)
    }

    /// The total number of rows changed on this connection (for the checkpoint thread).
    pub(crate) fn changes_so_far(&self) -> u64 {
        self.tx.total_changes()
    }

    /// Runs `f` inside a savepoint of this transaction: if it fails, what it wrote is rolled
    /// back and the rest of the transaction stands.
    /// The `bool` is `false` when the savepoint could not be rolled back or released: the
    /// transaction then holds a partial write and must not commit.
    pub fn in_savepoint<T, E: From<crate::Error>>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, E>,
    ) -> (Result<T, E>, bool) {
        if let Err(e) = self.tx.execute_batch("SAVEPOINT grouped_write") {
            return (Err(crate::Error::from(e).into()), true);
        }
        match f(self) {
            Ok(value) => match self.tx.execute_batch("RELEASE grouped_write") {
                Ok(()) => (Ok(value), true),
                Err(e) => (Err(crate::Error::from(e).into()), false),
            },
            Err(e) => {
                let undone = self.tx.execute_batch("ROLLBACK TO grouped_write; RELEASE grouped_write").is_ok();
                (Err(e), undone)
            }
        }
    }
}
