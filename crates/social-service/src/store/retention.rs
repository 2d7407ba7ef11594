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

/// The closed files whose last action ended by `?1`, after the cursor (`?2`, `?3`): walked on
/// `actions_by_end`, one row a file (its last action), at most `?4`.
const DUE_BY_END: &str = "SELECT a.end, a.file FROM actions a JOIN files f ON f.id = a.file \
     WHERE a.end IS NOT NULL AND a.end <= ?1 AND (a.end > ?2 OR (a.end = ?2 AND a.file > ?3)) \
     AND f.state = 'closed' \
     AND NOT EXISTS (SELECT 1 FROM actions b WHERE b.file = a.file \
         AND (b.end IS NULL OR b.end > a.end OR (b.end = a.end AND b.rowid > a.rowid))) \
     ORDER BY a.end, a.file LIMIT ?4";

/// A file with no action at all (its clock is its last activity).
const NO_ACTION: &str = "NOT EXISTS (SELECT 1 FROM actions a WHERE a.file = f.id)";

/// An open file whose action is open.
const IDLE: &str = "f.state = 'open' AND EXISTS (SELECT 1 FROM actions a WHERE a.file = f.id AND a.end IS NULL)";

/// The files matching `condition` whose last activity is before `?1`, after the cursor (`?2`,
/// `?3`): walked on `files_by_activity`, at most `?4`.
fn by_activity_sql(condition: &str) -> String {
    format!(
        "SELECT f.last_activity_at, f.id FROM files f INDEXED BY files_by_activity \
         WHERE f.last_activity_at < ?1 AND (f.last_activity_at > ?2 OR (f.last_activity_at = ?2 AND f.id > ?3)) \
         AND {condition} ORDER BY f.last_activity_at, f.id LIMIT ?4"
    )
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
            Ok(tx.query_all(DUE_BY_END, params![cutoff, end, file, limit as i64], |r| {
                let (end, file): (String, String) = (r.get(0)?, r.get(1)?);
                Ok(Candidate { key: Cursor::End(end, file.clone()), file })
            })?)
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
        self.by_activity(NO_ACTION, before, after, limit)
    }

    /// Open files whose open action has seen no activity since before `before`, after
    /// `after`, by last activity then id; at most `limit`.
    pub fn idle(&self, before: SystemTime, after: Option<&Cursor>, limit: usize) -> Result<Vec<Candidate>, StoreError> {
        self.by_activity(IDLE, before, after, limit)
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
        let sql = by_activity_sql(condition);
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
        self.erase_unless(ids, opposed, |_, _| Ok(false), before_commit)
    }

    /// The retention pass's erasure ([`Store::erase_files`], no opposition): a file that has
    /// an objection pending, or, among `admitted` (just copied to the archive), a refusal of
    /// the archive, **when the transaction holds the write lock** is left — the right was
    /// recorded while the pass ran, after it chose the file's fate. The ids erased.
    pub fn erase_retired<E: From<StoreError> + From<passerelle_sqlite::Error>>(
        &self,
        ids: &[String],
        admitted: &std::collections::HashSet<String>,
        before_commit: impl FnOnce(&[String]) -> Result<(), E>,
    ) -> Result<Vec<String>, E> {
        self.erase_unless(
            ids,
            None,
            |tx, id| {
                let kinds = if admitted.contains(id) {
                    "(kind = 'object' AND decision = 'pending') OR kind = 'refuse_archive'"
                } else {
                    "kind = 'object' AND decision = 'pending'"
                };
                tx.exists(&format!("SELECT 1 FROM rights_records WHERE file = ?1 AND ({kinds})"), params![id])
            },
            before_commit,
        )
    }

    fn erase_unless<E: From<StoreError> + From<passerelle_sqlite::Error>>(
        &self,
        ids: &[String],
        opposed: Option<SystemTime>,
        keep: impl Fn(&Tx<'_>, &str) -> Result<bool, passerelle_sqlite::Error>,
        before_commit: impl FnOnce(&[String]) -> Result<(), E>,
    ) -> Result<Vec<String>, E> {
        self.db.write(|tx| {
            let mut erased = Vec::new();
            for id in ids {
                if keep(tx, id)? {
                    continue;
                }
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

    /// The files, after `after` by id, that rights records are kept for but the live store does
    /// not hold (archived, or erased from the archive by a pass or a decision that stopped
    /// before it erased the records); at most `limit`.
    pub fn rights_without_live_file(&self, after: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        self.db.read(|tx| {
            Ok(tx.query_all(
                "SELECT DISTINCT r.file FROM rights_records r WHERE r.file > ?1 \
                 AND NOT EXISTS (SELECT 1 FROM files f WHERE f.id = r.file) ORDER BY r.file LIMIT ?2",
                params![after, limit as i64],
                |r| r.get(0),
            )?)
        })
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

/// Every row of one file, children first (the foreign keys are enforced) — with the transfer
/// rows that hold its personal data: its releases, the chunks received for it, and the chunks
/// of a transfer of it still in the outbox (the rows without a value — `transfers_out`,
/// `transfers_in` — stay; a transfer whose chunks never left is refused `not-sent`, not left
/// in flight for good).
fn erase_in(tx: &Tx<'_>, id: &str) -> Result<(), passerelle_sqlite::Error> {
    tx.execute("DELETE FROM transfer_releases WHERE file = ?1", params![id])?;
    tx.execute(
        "DELETE FROM transfer_chunks WHERE transfer IN (SELECT id FROM transfers_in WHERE file = ?1)",
        params![id],
    )?;
    tx.execute(
        "DELETE FROM outbox WHERE kind = 'passerelle.v1.Transfer' \
         AND transfer IN (SELECT id FROM transfers_out WHERE file = ?1)",
        params![id],
    )?;
    tx.execute(
        "UPDATE transfers_out SET state = 'refused', refusal = 'not-sent' WHERE file = ?1 AND state = 'sending'",
        params![id],
    )?;
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use passerelle_social_file::v1::{self, SocialFile};

    use super::*;
    use crate::store::{NewFile, RightKind};

    fn insert(store: &Store, n: u32, at: SystemTime) -> String {
        let id = format!("f{n:07}");
        let mut person = [0u8; 32];
        person[..4].copy_from_slice(&n.to_be_bytes());
        let file = SocialFile::default();
        let new = NewFile {
            id: &id,
            office: "ss-13",
            at,
            agent: "sw-1",
            file: &file,
            source_case: None,
            source_line: None,
            person,
        };
        assert!(store.insert_file(&new).unwrap());
        id
    }

    fn action(store: &Store, file: &str, n: u32, start: &str, end: Option<&str>, at: SystemTime) {
        let action = v1::Action {
            action_id: format!("a{n:07}"),
            file_id: file.to_owned(),
            purpose: 1,
            start: passerelle_protocol::value::parse_date(start),
            ..Default::default()
        };
        assert!(store.start_action(&action, at).unwrap());
        if let Some(end) = end {
            assert!(store.close_file(file, end, at).unwrap());
        }
    }

    fn plan(store: &Store, sql: &str, params: impl passerelle_sqlite::rusqlite::Params) -> Vec<String> {
        store
            .db
            .read(|tx| {
                let mut stmt = tx.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
                let rows = stmt.query_map(params, |r| r.get::<_, String>(3))?.collect::<Result<Vec<_>, _>>();
                Ok::<_, StoreError>(rows?)
            })
            .unwrap()
    }

    #[test]
    fn the_due_files_are_walked_on_indexes_a_batch_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let t0 = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        // 30 closed files ended on 2024-01-01, 10 ended on 2025-06-01, 5 with no action, 5 open.
        for n in 0..50u32 {
            let id = insert(&store, n, t0);
            match n {
                0..30 => action(&store, &id, n, "2023-12-01", Some("2024-01-01"), t0),
                30..40 => action(&store, &id, n, "2025-05-01", Some("2025-06-01"), t0),
                40..45 => {}
                _ => action(&store, &id, n, "2023-12-01", None, t0),
            }
        }
        // A file with two ended actions is found once, by its last.
        store
            .db
            .write(|tx| {
                tx.execute(
                    "INSERT INTO actions (id, file, purpose, start, end) VALUES ('a-early', 'f0000000', 1, '2023-11-01', '2023-11-15')",
                    [],
                )
            })
            .unwrap();
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let batch = store.due_by_end("2024-06-01", after.as_ref(), 7).unwrap();
            after = batch.last().map(|c| c.key.clone());
            seen.extend(batch.iter().map(|c| c.file.clone()));
            if batch.len() < 7 {
                break;
            }
        }
        assert_eq!(seen.len(), 30, "{seen:?}");
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 30, "each file once, by its last action: {seen:?}");
        assert_eq!(store.due_by_activity(t0 + Duration::from_secs(1), None, 100).unwrap().len(), 5);
        assert_eq!(store.idle(t0 + Duration::from_secs(1), None, 100).unwrap().len(), 5);
        assert!(store.idle(t0, None, 100).unwrap().is_empty(), "strictly before");

        let p = plan(&store, DUE_BY_END, params!["2024-06-01", "", "", 10]);
        assert!(p.iter().any(|l| l.contains("actions_by_end")), "{p:?}");
        assert!(!p.iter().any(|l| l.contains("TEMP B-TREE")), "no sort of what is due: {p:?}");
        for condition in [NO_ACTION, IDLE] {
            let p = plan(&store, &by_activity_sql(condition), params![0, i64::MIN, "", 10]);
            assert!(p.iter().any(|l| l.contains("files_by_activity")), "{p:?}");
            assert!(!p.iter().any(|l| l.starts_with("SCAN a") || l.contains("TEMP B-TREE")), "{p:?}");
        }
    }

    #[test]
    fn an_erasure_takes_every_row_of_the_file_and_rights_work_without_a_live_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let t0 = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let a = insert(&store, 1, t0);
        let b = insert(&store, 2, t0);
        action(&store, &a, 1, "2024-01-01", None, t0);
        let offer = v1::Offer {
            offer_id: "o1".into(),
            kind: 1,
            theme: 1,
            participant_file_ids: vec![a.clone(), b.clone()],
            sessions: vec![v1::OfferSession {
                date: passerelle_protocol::value::parse_date("2024-01-02"),
                attendee_file_ids: vec![a.clone(), b.clone()],
            }],
        };
        store.insert_offer("ss-13", &offer, "sw-1", t0).unwrap();
        store.record_right(&a, RightKind::Object, t0, "ro-1", Some("raisons")).unwrap();
        // A right on a file that is not live (archived): recorded by id, no foreign key stops it.
        store.record_right("archived-1", RightKind::Object, t0, "ro-1", Some("raisons")).unwrap();
        assert!(store.pending_objection("archived-1").unwrap());
        assert!(store.decide("archived-1", Decision::Refused, "dd-1", t0, Some("non fondée")).unwrap());
        assert!(!store.pending_objection("archived-1").unwrap());
        assert!(!store.decide("archived-1", Decision::Refused, "dd-1", t0, None).unwrap(), "nothing pending");

        let seen = std::cell::Cell::new(0);
        let erased = store
            .erase_files::<StoreError>(&[a.clone(), "nowhere".into()], Some(t0), |ids| {
                seen.set(ids.len());
                Ok(())
            })
            .unwrap();
        assert_eq!((erased, seen.get()), (vec![a.clone()], 1));
        let counts: Vec<i64> = store
            .db
            .read(|tx| {
                ["files", "actions", "offer_participants", "session_attendees", "rights_records"]
                    .iter()
                    .map(|t| {
                        tx.query_row(
                            &format!(
                                "SELECT COUNT(*) FROM {t} WHERE {}",
                                if *t == "files" { "id = ?1" } else { "file = ?1" }
                            ),
                            params![a],
                            |r| r.get(0),
                        )
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .unwrap();
        assert_eq!(counts, vec![0; 5]);
        assert!(store.file(&b).unwrap().is_some(), "the other participant stays");
        let mut person = [0u8; 32];
        person[..4].copy_from_slice(&1u32.to_be_bytes());
        assert!(store.is_opposed(&person).unwrap());
        // A failing entry aborts the erasure.
        let kept =
            store.erase_files::<StoreError>(std::slice::from_ref(&b), None, |_| Err(StoreError::Corrupt("log".into())));
        assert!(kept.is_err());
        assert!(store.file(&b).unwrap().is_some());
        assert!(store.erase_rights("archived-1").unwrap());
    }

    #[test]
    fn the_pass_s_erasure_leaves_a_file_whose_right_was_recorded_after_its_fate_was_chosen() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let t0 = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let ids: Vec<String> = (1..=4).map(|n| insert(&store, n, t0)).collect();
        // Rights recorded while the pass ran: an objection on a file it archived (0) and on one it
        // erases (1), a refusal on a file it archived (2); a refusal on a file it erases (3) is
        // what made it erase that one.
        store.record_right(&ids[0], RightKind::Object, t0, "ro-1", Some("raisons")).unwrap();
        store.record_right(&ids[1], RightKind::Object, t0, "ro-1", Some("raisons")).unwrap();
        store.record_right(&ids[2], RightKind::RefuseArchive, t0, "ro-1", None).unwrap();
        store.record_right(&ids[3], RightKind::RefuseArchive, t0, "ro-1", None).unwrap();
        let admitted: std::collections::HashSet<String> = [ids[0].clone(), ids[2].clone()].into();
        let erased = store.erase_retired::<StoreError>(&ids, &admitted, |_| Ok(())).unwrap();
        assert_eq!(erased, vec![ids[3].clone()]);
        for id in &ids[..3] {
            assert!(store.file(id).unwrap().is_some(), "{id} kept");
        }
    }
}
