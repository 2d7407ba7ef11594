//! The store's side of retention (norm 43, DESIGN §7.2): which files are due, the idle actions,
//! the objections and their decisions, the persons whose objection was upheld, and the
//! erasure of every row of a file.
//!
//! The due files are found on indexes (`actions_by_end`, `files_by_activity`, migration 2),
//! walked with a cursor, a batch at a time: a pass costs what is due, not the store's size,
//! and memory holds one batch.

use std::time::SystemTime;

use passerelle_sqlite::{params, Tx};

use super::{ms, Store, StoreError};

/// A file found due or idle, with the key the walk continues after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub file: String,
    /// What the walk is ordered by: the end of the file's last action (`YYYY-MM-DD`), or its
    /// last activity (ms since the epoch) as text padded to sort.
    pub key: Cursor,
}

/// Where a walk of due files stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    /// The end of the last action (`YYYY-MM-DD`) and the file id.
    End(String, String),
    /// The last activity (ms) and the file id.
    Activity(i64, String),
}

/// What an objection's decision is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The objection is founded: the file goes at once, the person gets no new offer.
    Upheld,
    /// The objection is not founded: the reason is recorded, the file stays.
    Refused,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Upheld => "upheld",
            Decision::Refused => "refused",
        }
    }
}

/// The last retention pass, as the metrics read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LastPass {
    pub at: Option<SystemTime>,
    pub flagged_idle: u64,
    pub waiting_objection: u64,
}

impl Store {
    /// Closed files whose last action ended on or before `cutoff` (`YYYY-MM-DD`) and that have
    /// no later or open action, after `after`, by end then id; at most `limit`.
    pub fn due_by_end(&self, cutoff: &str, after: Option<&Cursor>, limit: usize) -> Result<Vec<Candidate>, StoreError> {
        let (end, file) = match after {
            Some(Cursor::End(end, file)) => (end.as_str(), file.as_str()),
            _ => ("", ""),
        };
        self.db.read(|tx| {
            Ok(tx.query_all(
                "SELECT a.end, a.file FROM actions a JOIN files f ON f.id = a.file \
                 WHERE a.end IS NOT NULL AND a.end <= ?1 AND (a.end > ?2 OR (a.end = ?2 AND a.file > ?3)) \
                 AND f.state = 'closed' \
                 AND NOT EXISTS (SELECT 1 FROM actions b WHERE b.file = a.file \
                     AND (b.end IS NULL OR b.end > a.end OR (b.end = a.end AND b.rowid > a.rowid))) \
                 ORDER BY a.end, a.file LIMIT ?4",
                params![cutoff, end, file, limit as i64],
                |r| {
                    let (end, file): (String, String) = (r.get(0)?, r.get(1)?);
                    Ok(Candidate { key: Cursor::End(end, file.clone()), file })
                },
            )?)
        })
    }

    /// Files with no action whose last activity is before `before`, after `after`, by last
    /// activity then id; at most `limit`.
    pub fn due_by_activity(
        &self,
        before: SystemTime,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Vec<Candidate>, StoreError> {
        self.by_activity("NOT EXISTS (SELECT 1 FROM actions a WHERE a.file = f.id)", before, after, limit)
    }

    /// Open files whose open action has seen no activity since before `before`, after
    /// `after`, by last activity then id; at most `limit`.
    pub fn idle(&self, before: SystemTime, after: Option<&Cursor>, limit: usize) -> Result<Vec<Candidate>, StoreError> {
        self.by_activity(
            "f.state = 'open' AND EXISTS (SELECT 1 FROM actions a WHERE a.file = f.id AND a.end IS NULL)",
            before,
            after,
            limit,
        )
    }

    fn by_activity(
        &self,
        condition: &str,
        before: SystemTime,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Vec<Candidate>, StoreError> {
        let (at, file) = match after {
            Some(Cursor::Activity(at, file)) => (*at, file.as_str()),
            _ => (i64::MIN, ""),
        };
        let sql = format!(
            "SELECT f.last_activity_at, f.id FROM files f INDEXED BY files_by_activity \
             WHERE f.last_activity_at < ?1 AND (f.last_activity_at > ?2 OR (f.last_activity_at = ?2 AND f.id > ?3)) \
             AND {condition} ORDER BY f.last_activity_at, f.id LIMIT ?4"
        );
        self.db.read(|tx| {
            Ok(tx.query_all(&sql, params![ms(before), at, file, limit as i64], |r| {
                let (at, file): (i64, String) = (r.get(0)?, r.get(1)?);
                Ok(Candidate { key: Cursor::Activity(at, file.clone()), file })
            })?)
        })
    }

    /// Closes an idle file: its open action ends at `end` (`YYYY-MM-DD`, the day of its last
    /// activity: no later than the action's start is kept), its last activity unchanged.
    /// `false` when it was not open any more.
    pub fn close_idle(&self, id: &str, end: &str) -> Result<bool, StoreError> {
        self.db.write(|tx| {
            let n = tx.execute("UPDATE files SET state = 'closed' WHERE id = ?1 AND state = 'open'", params![id])?;
            if n == 1 {
                tx.execute(
                    "UPDATE actions SET end = MAX(start, ?2) WHERE file = ?1 AND end IS NULL",
                    params![id, end],
                )?;
            }
            Ok(n == 1)
        })
    }

    /// Whether the file has an objection still pending (live or archived file).
    pub fn pending_objection(&self, file: &str) -> Result<bool, StoreError> {
        self.db.read(|tx| {
            Ok(tx.exists(
                "SELECT 1 FROM rights_records WHERE file = ?1 AND kind = 'object' AND decision = 'pending'",
                params![file],
            )?)
        })
    }

    /// Whether the person refused the archive (a `refuse_archive` request on the file).
    pub fn refused_archive(&self, file: &str) -> Result<bool, StoreError> {
        self.db.read(|tx| {
            Ok(tx.exists("SELECT 1 FROM rights_records WHERE file = ?1 AND kind = 'refuse_archive'", params![file])?)
        })
    }

    /// Records the director's decision on the file's pending objection; `false` when none is
    /// pending.
    pub fn decide(
        &self,
        file: &str,
        decision: Decision,
        by: &str,
        at: SystemTime,
        reason: Option<&str>,
    ) -> Result<bool, StoreError> {
        self.db.write(|tx| {
            let n = tx.execute(
                "UPDATE rights_records SET decision = ?2, decided_by = ?3, decided_at = ?4, decision_reason = ?5 \
                 WHERE file = ?1 AND kind = 'object' AND decision = 'pending'",
                params![file, decision.as_str(), by, ms(at), reason],
            )?;
            Ok(n > 0)
        })
    }

    /// Whether the person with this keyed hash had an objection upheld (no new offer).
    pub fn is_opposed(&self, person: &[u8; 32]) -> Result<bool, StoreError> {
        self.db.read(|tx| Ok(tx.exists("SELECT 1 FROM opposed_persons WHERE person = ?1", params![person.as_slice()])?))
    }

    /// Remembers a person whose objection was upheld (the keyed hash only, and the date).
    pub fn oppose(&self, person: &[u8; 32], at: SystemTime) -> Result<(), StoreError> {
        self.db.write(|tx| oppose_in(tx, person, at))
    }

    /// Erases every row of each file in `ids` in one transaction — the file, its history,
    /// actions, contacts, offer participations and attendances, rights records — calling
    /// `before_commit` with the ids found, inside the transaction (the access-log entries: an
    /// error aborts the erasure). With `opposed`, each file's person hash goes to
    /// `opposed_persons` in the same transaction. The ids erased; [`Store::scrub`] then makes
    /// them unreadable on disk.
    pub fn erase_files<E: From<StoreError> + From<passerelle_sqlite::Error>>(
        &self,
        ids: &[String],
        opposed: Option<SystemTime>,
        before_commit: impl FnOnce(&[String]) -> Result<(), E>,
    ) -> Result<Vec<String>, E> {
        self.db.write(|tx| {
            let mut erased = Vec::new();
            for id in ids {
                let person: Option<Vec<u8>> = tx
                    .query_optional("SELECT person FROM files WHERE id = ?1", params![id], |r| r.get(0))
                    .map_err(StoreError::from)?;
                let Some(person) = person else { continue };
                if let (Some(at), Ok(person)) = (opposed, <[u8; 32]>::try_from(person.as_slice())) {
                    oppose_in(tx, &person, at)?;
                }
                erase_in(tx, id).map_err(StoreError::from)?;
                erased.push(id.clone());
            }
            if !erased.is_empty() {
                before_commit(&erased)?;
            }
            Ok(erased)
        })
    }

    /// Erases the rights records kept for a file that is not in the live store (an archived
    /// file leaving the archive); `true` if there were some.
    pub fn erase_rights(&self, file: &str) -> Result<bool, StoreError> {
        self.db.write(|tx| Ok(tx.execute("DELETE FROM rights_records WHERE file = ?1", params![file])? > 0))
    }

    /// Leaves no erased byte readable in the store's files ([`passerelle_sqlite::Database::rebuild`]).
    pub fn scrub(&self) -> Result<(), StoreError> {
        if !self.db.rebuild()?.wal_truncated {
            tracing::warn!(
                path = %self.path().display(),
                "another process was reading the social-service store: its WAL is truncated once the store is idle"
            );
        }
        Ok(())
    }

    /// Records the last pass (what the metrics show).
    pub fn record_pass(&self, pass: &LastPass) -> Result<(), StoreError> {
        self.db.write(|tx| {
            tx.execute(
                "INSERT INTO retention_pass (id, at, flagged_idle, waiting_objection) VALUES (1, ?1, ?2, ?3) \
                 ON CONFLICT (id) DO UPDATE SET at = ?1, flagged_idle = ?2, waiting_objection = ?3",
                params![pass.at.map(ms), pass.flagged_idle as i64, pass.waiting_objection as i64],
            )?;
            Ok(())
        })
    }

    /// The last pass, or the default if none ran.
    pub fn last_pass(&self) -> Result<LastPass, StoreError> {
        let row = self.db.read(|tx| {
            tx.query_optional("SELECT at, flagged_idle, waiting_objection FROM retention_pass WHERE id = 1", [], |r| {
                Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
            })
        })?;
        Ok(row
            .map(|(at, idle, waiting)| LastPass {
                at: at.map(passerelle_sqlite::time::from_ms),
                flagged_idle: idle as u64,
                waiting_objection: waiting as u64,
            })
            .unwrap_or_default())
    }
}

fn oppose_in(tx: &Tx<'_>, person: &[u8; 32], at: SystemTime) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO opposed_persons (person, at) VALUES (?1, ?2) ON CONFLICT (person) DO NOTHING",
        params![person.as_slice(), ms(at)],
    )?;
    Ok(())
}

/// Every row of one file, children first (the foreign keys are enforced).
fn erase_in(tx: &Tx<'_>, id: &str) -> Result<(), passerelle_sqlite::Error> {
    tx.execute("DELETE FROM session_attendees WHERE file = ?1", params![id])?;
    tx.execute("DELETE FROM offer_participants WHERE file = ?1", params![id])?;
    tx.execute("DELETE FROM contacts WHERE action IN (SELECT id FROM actions WHERE file = ?1)", params![id])?;
    tx.execute("DELETE FROM actions WHERE file = ?1", params![id])?;
    tx.execute("DELETE FROM file_changes WHERE file = ?1", params![id])?;
    tx.execute("DELETE FROM rights_records WHERE file = ?1", params![id])?;
    tx.execute("DELETE FROM files WHERE id = ?1", params![id])?;
    Ok(())
}

impl Store {
    /// The keyed hash of a live file's person (`files.person`), if the file exists.
    pub fn person_of(&self, id: &str) -> Result<Option<[u8; 32]>, StoreError> {
        let bytes: Option<Vec<u8>> = self
            .db
            .read(|tx| tx.query_optional("SELECT person FROM files WHERE id = ?1", params![id], |r| r.get(0)))?;
        Ok(bytes.and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok()))
    }
}
