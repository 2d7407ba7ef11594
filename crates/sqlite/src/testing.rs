//! For tests only (feature `testing`): a plain connection to a store's file, bypassing the store
//! and its pragmas, as someone with the `sqlite3` tool would open it to edit or scan it.

use std::path::Path;

use rusqlite::Connection;

use crate::Result;

/// A plain read-write connection to the database file at `path`.
pub fn raw_connection(path: &Path) -> Result<Connection> {
    Ok(Connection::open(path)?)
}
