//! The archive store: opening it, files in ([`Archive::admit`]), files out by erasure
//! ([`Archive::erase`], [`Archive::erase_due`]) — never by content: reading is
//! [`crate::reading`]'s, under a grant.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use passerelle_sqlite::time::to_ms;
use passerelle_sqlite::{Database, Tx};
use prost::Message;

use crate::records::{date_text, encode_action, person};
use crate::{ArchivedFile, Result, DB_FILE};

/// The archive store. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Archive {
    dir: PathBuf,
    pub(crate) db: Database,
}

impl Archive {
    /// Opens (or creates: folder 0700, `archive.db` 0600) the archive in `dir`.
    pub fn open(dir: &Path) -> Result<Archive> {
        passerelle_sqlite::private::create_folder(dir)
            .map_err(|source| passerelle_sqlite::Error::Io { path: dir.to_owned(), source })?;
        let db = Database::open(&dir.join(DB_FILE), "social-archive", crate::schema::MIGRATIONS)?;
        Ok(Archive { dir: dir.to_owned(), db })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Admits a file at `at`, to be erased at `delete_at`. `false` (nothing written) when a
    /// file with that id is already there: the retention pass may be replayed after a crash
    /// between the admission and the live store's deletion.
    pub fn admit(&self, file: &ArchivedFile, at: SystemTime, delete_at: SystemTime) -> Result<bool> {
        let encoded = file.file.encode_to_vec();
        let actions: Vec<Vec<u8>> = file.actions.iter().map(encode_action).collect();
        self.db.write(|tx| {
            let inserted = tx.execute(
                "INSERT INTO archived (id, office, opened_at, entered_at, delete_at, retention_start, file, person)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (id) DO NOTHING",
                (
                    &file.id,
                    &file.office,
                    to_ms(file.opened_at),
                    to_ms(at),
                    to_ms(delete_at),
                    date_text(&file.retention_start),
                    &encoded,
                    &file.person[..],
                ),
            )?;
            if inserted == 0 {
                return Ok(false);
            }
            for (n, action) in actions.iter().enumerate() {
                tx.execute(
                    "INSERT INTO archived_actions (file, n, action) VALUES (?1, ?2, ?3)",
                    (&file.id, n as i64, action),
                )?;
            }
            Ok(true)
        })
    }

    /// Whether a file with that id is archived (no content read): where a rights request finds it.
    pub fn contains(&self, id: &str) -> Result<bool> {
        self.db.read(|tx| Ok(tx.exists("SELECT 1 FROM archived WHERE id = ?1", [id])?))
    }

    /// The live store's keyed hash of an archived file's person (no content read): an upheld
    /// objection records it among the opposed persons before the file is erased, so that a
    /// crash between the two cannot let a new offer through.
    pub fn person_of(&self, id: &str) -> Result<Option<[u8; 32]>> {
        self.db.read(|tx| {
            let hash =
                tx.query_optional("SELECT person FROM archived WHERE id = ?1", [id], |r| r.get::<_, Vec<u8>>(0))?;
            hash.map(|h| person(id, h)).transpose()
        })
    }

    /// Erases a file now (a refusal of the archive, an upheld objection): its person hash if it
    /// was there, `None` if not. Unreadable on disk once this returns (secure delete, rebuild).
    pub fn erase(&self, id: &str) -> Result<Option<[u8; 32]>> {
        let found = self.db.write(|tx| {
            let Some(hash) =
                tx.query_optional("SELECT person FROM archived WHERE id = ?1", [id], |r| r.get::<_, Vec<u8>>(0))?
            else {
                return Ok(None);
            };
            delete(tx, id)?;
            person(id, hash).map(Some)
        })?;
        if found.is_some() {
            self.scrub()?;
        }
        Ok(found)
    }

    /// Erases every file whose `delete_at` is at or before `now` (3 years after it entered, or
    /// less if the settings say so); their ids. Unreadable on disk once this returns.
    pub fn erase_due(&self, now: SystemTime) -> Result<Vec<String>> {
        self.erase_due_recorded(now, |_| Ok::<(), crate::ArchiveError>(()))
    }

    /// [`Archive::erase_due`], calling `before_commit` with the ids it erases, inside the
    /// transaction, before it commits (the erasure's access-log entries: an error aborts the
    /// erasure). A crash between the entries and the commit leaves an entry for an erasure not
    /// done — replayed by the next pass — never an erasure without its entry. Not called when
    /// nothing is due.
    pub fn erase_due_recorded<E>(
        &self,
        now: SystemTime,
        before_commit: impl FnOnce(&[String]) -> std::result::Result<(), E>,
    ) -> std::result::Result<Vec<String>, E>
    where
        E: From<crate::ArchiveError> + From<passerelle_sqlite::Error>,
    {
        let ids = self.db.write(|tx| {
            let ids = tx.query_all("SELECT id FROM archived WHERE delete_at <= ?1 ORDER BY id", [to_ms(now)], |r| {
                r.get::<_, String>(0)
            })?;
            for id in &ids {
                delete(tx, id)?;
            }
            if !ids.is_empty() {
                before_commit(&ids)?;
            }
            Ok::<_, E>(ids)
        })?;
        if !ids.is_empty() {
            self.scrub()?;
        }
        Ok(ids)
    }

    /// How many files the archive holds.
    pub fn count(&self) -> Result<u64> {
        self.db.read(|tx| Ok(tx.query_row("SELECT count(*) FROM archived", [], |r| r.get::<_, i64>(0))? as u64))
    }

    /// Leaves no erased byte readable in the archive's files: rebuilds the file from its live
    /// rows and truncates the WAL ([`Database::rebuild`]).
    fn scrub(&self) -> Result<()> {
        if !self.db.rebuild()?.wal_truncated {
            tracing::warn!(
                path = %self.db.path().display(),
                "another process was reading the archive: its WAL is truncated once the archive is idle"
            );
        }
        Ok(())
    }
}

fn delete(tx: &Tx<'_>, id: &str) -> Result<()> {
    tx.execute("DELETE FROM archived_actions WHERE file = ?1", [id])?;
    tx.execute("DELETE FROM archived WHERE id = ?1", [id])?;
    Ok(())
}
