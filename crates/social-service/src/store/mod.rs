//! The social service's store, `data_dir/social-service.db` on the shared SQLite base
//! ([`passerelle_sqlite`]): the case files (each an encoded `v1::SocialFile`), their history,
//! actions, contacts, offers and rights records ([`schema`] has the layout).
//!
//! Reads are paginated by a cursor (the file id) and run on indexes: an office's page of files
//! costs the same whatever the store's size, and memory holds one page.

mod activity;
mod opposed;
pub mod outbox;
mod retention;
mod rights;
mod schema;
mod steering;
pub mod transfers;

pub use activity::OfferRow;
pub use retention::{Candidate, Cursor, Decision, LastPass};
pub use rights::{RightKind, RightRecord};
pub use steering::{CountedFile, CountedOffer};

use std::path::Path;
use std::time::SystemTime;

use passerelle_social_file::v1::SocialFile;
use passerelle_sqlite::{params, Database, Row};
use prost::Message;

/// The store's file in `data_dir`.
pub const DB_FILE: &str = "social-service.db";

/// Why a store operation failed. No message carries a stored value.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Db(#[from] passerelle_sqlite::Error),
    #[error("the stored case file {0} cannot be decoded: the store is damaged")]
    Corrupt(String),
}

impl From<passerelle_sqlite::rusqlite::Error> for StoreError {
    fn from(e: passerelle_sqlite::rusqlite::Error) -> Self {
        StoreError::Db(e.into())
    }
}

/// Whether a file is followed (open) or its action ended (closed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileState {
    Open,
    Closed,
}

impl FileState {
    pub fn as_str(self) -> &'static str {
        match self {
            FileState::Open => "open",
            FileState::Closed => "closed",
        }
    }

    fn parse(text: &str) -> FileState {
        if text == "closed" {
            FileState::Closed
        } else {
            FileState::Open
        }
    }
}

/// A case file as stored.
#[derive(Clone)]
pub struct FileRow {
    pub id: String,
    pub office: String,
    pub state: FileState,
    pub opened_at: SystemTime,
    pub opened_by: String,
    pub last_activity_at: SystemTime,
    pub file: SocialFile,
    pub source_case: Option<String>,
    pub source_line: Option<u64>,
}

impl std::fmt::Debug for FileRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileRow").field("id", &self.id).field("state", &self.state).finish_non_exhaustive()
    }
}

/// A new file: what the store needs to insert it.
pub struct NewFile<'a> {
    pub id: &'a str,
    pub office: &'a str,
    pub at: SystemTime,
    pub agent: &'a str,
    pub file: &'a SocialFile,
    pub source_case: Option<&'a str>,
    pub source_line: Option<u64>,
    /// The keyed hash of the person's NIR.
    pub person: [u8; 32],
}

impl std::fmt::Debug for NewFile<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewFile").field("id", &self.id).finish_non_exhaustive()
    }
}

/// One change of the history: which field, what kind of change, by whom, when. No value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChangeRow {
    pub field: String,
    /// `update` or `rectification`.
    pub kind: String,
    pub agent: String,
    /// RFC 3339.
    pub at: String,
}

/// Which file holds a person hash, asked inside [`Store::change_file`]'s transaction.
pub type PersonHolder<'a> = dyn Fn(&[u8; 32]) -> Result<Option<String>, StoreError> + 'a;

/// The social service's store. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Store {
    db: Database,
}

pub(crate) fn ms(at: SystemTime) -> i64 {
    passerelle_sqlite::time::to_ms(at)
}

pub(crate) fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn file_row(row: &Row<'_>) -> passerelle_sqlite::rusqlite::Result<(FileRowRaw, Vec<u8>)> {
    Ok((
        FileRowRaw {
            id: row.get(0)?,
            office: row.get(1)?,
            state: row.get(2)?,
            opened_at: row.get(3)?,
            opened_by: row.get(4)?,
            last_activity_at: row.get(5)?,
            source_case: row.get(7)?,
            source_line: row.get(8)?,
        },
        row.get(6)?,
    ))
}

struct FileRowRaw {
    id: String,
    office: String,
    state: String,
    opened_at: i64,
    opened_by: String,
    last_activity_at: i64,
    source_case: Option<String>,
    source_line: Option<i64>,
}

fn decode((raw, bytes): (FileRowRaw, Vec<u8>)) -> Result<FileRow, StoreError> {
    let file = SocialFile::decode(bytes.as_slice()).map_err(|_| StoreError::Corrupt(raw.id.clone()))?;
    Ok(FileRow {
        state: FileState::parse(&raw.state),
        opened_at: passerelle_sqlite::time::from_ms(raw.opened_at),
        last_activity_at: passerelle_sqlite::time::from_ms(raw.last_activity_at),
        source_line: raw.source_line.and_then(|l| u64::try_from(l).ok()),
        id: raw.id,
        office: raw.office,
        opened_by: raw.opened_by,
        source_case: raw.source_case,
        file,
    })
}

const FILE_COLUMNS: &str =
    "id, office, state, opened_at, opened_by, last_activity_at, file, source_case, source_line FROM files";

impl Store {
    /// Opens (or creates, 0600) `data_dir/social-service.db`.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        let db = Database::open(&data_dir.join(DB_FILE), "social-service", schema::MIGRATIONS)?;
        Ok(Store { db })
    }

    pub fn path(&self) -> &Path {
        self.db.path()
    }

    /// The file of the person with this keyed hash, if one exists: its id and its office (a
    /// person has one file in the store, whichever office holds it).
    pub fn file_of_person(&self, person: &[u8; 32]) -> Result<Option<(String, String)>, StoreError> {
        self.db.read(|tx| {
            Ok(tx.query_optional(
                "SELECT id, office FROM files WHERE person = ?1",
                params![person.as_slice()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?)
        })
    }

    /// Inserts a new open file; `false` when the person already has one (nothing written).
    pub fn insert_file(&self, new: &NewFile<'_>) -> Result<bool, StoreError> {
        self.db.write(|tx| {
            if tx.exists("SELECT 1 FROM files WHERE person = ?1", params![new.person.as_slice()])? {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO files (id, office, state, opened_at, opened_by, last_activity_at, file, source_case, \
                 source_line, person) VALUES (?1, ?2, 'open', ?3, ?4, ?3, ?5, ?6, ?7, ?8)",
                params![
                    new.id,
                    new.office,
                    ms(new.at),
                    new.agent,
                    new.file.encode_to_vec(),
                    new.source_case,
                    new.source_line.map(|l| l as i64),
                    new.person.as_slice()
                ],
            )?;
            Ok(true)
        })
    }

    /// One file, whatever its office (the caller checks the office).
    pub fn file(&self, id: &str) -> Result<Option<FileRow>, StoreError> {
        let sql = format!("SELECT {FILE_COLUMNS} WHERE id = ?1");
        let raw = self.db.read(|tx| tx.query_optional(&sql, params![id], file_row))?;
        raw.map(decode).transpose()
    }

    /// Changes a file in one write transaction, so that two changes at the same time cannot
    /// put back a value the other replaced: reads the file (`None` when there is no such file),
    /// lets `change` apply and check its updates on it — `change` may ask which file holds a
    /// person's hash, in the same transaction — and writes what it returns (the content, the
    /// person hash when the NIR changed, the history rows). Nothing is written when `change`
    /// fails.
    pub fn change_file<T, E: From<StoreError> + From<passerelle_sqlite::Error>>(
        &self,
        id: &str,
        at: SystemTime,
        change: impl FnOnce(Option<FileRow>, &PersonHolder) -> Result<(FileChange, T), E>,
    ) -> Result<T, E> {
        self.db.write(|tx| {
            let sql = format!("SELECT {FILE_COLUMNS} WHERE id = ?1");
            let row = tx.query_optional(&sql, params![id], file_row).map_err(StoreError::from)?;
            let row = row.map(decode).transpose()?;
            let holder = |person: &[u8; 32]| -> Result<Option<String>, StoreError> {
                Ok(tx.query_optional("SELECT id FROM files WHERE person = ?1", params![person.as_slice()], |r| {
                    r.get(0)
                })?)
            };
            let (done, value) = change(row, &holder)?;
            if let Some(person) = done.person {
                tx.execute("UPDATE files SET person = ?2 WHERE id = ?1", params![id, person.as_slice()])
                    .map_err(StoreError::from)?;
            }
            tx.execute(
                "UPDATE files SET file = ?2, last_activity_at = ?3 WHERE id = ?1",
                params![id, done.file.encode_to_vec(), ms(at)],
            )
            .map_err(StoreError::from)?;
            for c in &done.changes {
                tx.execute(
                    "INSERT INTO file_changes (file, field, kind, agent, at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![id, c.field, c.kind, c.agent, ms(c.at)],
                )
                .map_err(StoreError::from)?;
            }
            Ok(value)
        })
    }

    /// A file's history, oldest first.
    pub fn history(&self, id: &str) -> Result<Vec<ChangeRow>, StoreError> {
        self.db.read(|tx| {
            Ok(tx.query_all(
                "SELECT field, kind, agent, at FROM file_changes WHERE file = ?1 ORDER BY at, rowid",
                params![id],
                |r| Ok(ChangeRow { field: r.get(0)?, kind: r.get(1)?, agent: r.get(2)?, at: rfc3339(r.get(3)?) }),
            )?)
        })
    }

    /// A page of an office's files (by id, after `after`), of a state or both.
    pub fn list(
        &self,
        office: &str,
        state: Option<FileState>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<FileRow>, StoreError> {
        let raws = self.db.read(|tx| match state {
            Some(state) => tx.query_all(
                &format!("SELECT {FILE_COLUMNS} WHERE office = ?1 AND state = ?2 AND id > ?3 ORDER BY id LIMIT ?4"),
                params![office, state.as_str(), after.unwrap_or(""), limit as i64],
                file_row,
            ),
            None => tx.query_all(
                &format!("SELECT {FILE_COLUMNS} WHERE office = ?1 AND id > ?2 ORDER BY id LIMIT ?3"),
                params![office, after.unwrap_or(""), limit as i64],
                file_row,
            ),
        })?;
        raws.into_iter().map(decode).collect()
    }

    /// Files open and closed, every office.
    pub fn counts(&self) -> Result<(u64, u64), StoreError> {
        self.db.read(|tx| {
            Ok(tx.query_row(
                "SELECT COALESCE(SUM(state = 'open'), 0), COALESCE(SUM(state = 'closed'), 0) FROM files",
                [],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
            )?)
        })
    }

    /// Closes a file: its open action ends at `end`; `false` when it was not open.
    pub fn close_file(&self, id: &str, end: &str, at: SystemTime) -> Result<bool, StoreError> {
        self.db.write(|tx| {
            let n = tx.execute(
                "UPDATE files SET state = 'closed', last_activity_at = ?2 WHERE id = ?1 AND state = 'open'",
                params![id, ms(at)],
            )?;
            if n == 1 {
                tx.execute("UPDATE actions SET end = ?2 WHERE file = ?1 AND end IS NULL", params![id, end])?;
            }
            Ok(n == 1)
        })
    }
}

/// What [`Store::change_file`] writes: the changed content, the new person hash when the NIR
/// changed, a history row per field.
pub struct FileChange {
    pub file: SocialFile,
    pub changes: Vec<ChangeEntryRow>,
    pub person: Option<[u8; 32]>,
}

impl std::fmt::Debug for FileChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileChange").field("changes", &self.changes.len()).finish_non_exhaustive()
    }
}

/// One history row to write.
#[derive(Debug, Clone)]
pub struct ChangeEntryRow {
    pub field: String,
    pub kind: &'static str,
    pub agent: String,
    pub at: SystemTime,
}

#[cfg(test)]
mod tests;
