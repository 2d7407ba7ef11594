//! Purging a case's payloads, and making the purge real on disk.
//!
//! "Purged" means unreadable in the files, not merely unreachable by SQL:
//! 1. [`Tx::purge_case_payloads`] deletes the case's persons, answers and outbox rows. With
//!    `secure_delete=ON`, SQLite overwrites the deleted cells and the freed pages with zeros.
//! 2. That is not enough on its own: when SQLite rebalances a B-tree page it rebuilds the page
//!    without clearing the gap between the cell pointers and the cell content, so stale copies of
//!    cells that moved (a NIR among them) can survive inside pages that stay in use (SQLite's
//!    `rebuildPage`). [`CaseStore::reclaim`] therefore runs `VACUUM` after the purge's commit:
//!    every page is rebuilt from the live rows only (the temporary copy lives in memory,
//!    `temp_store=MEMORY`), so no stale byte survives, and freed space goes back to the file
//!    system (the file does not grow across months of purged cases).
//! 3. Then the WAL, which held copies of the pages as they were written, is checkpointed into the
//!    database and truncated to zero bytes.
//!
//! The `-shm` file holds only the WAL index (page numbers and checksums), never content. The
//! forensic tests scan every byte of `.db`, `-wal` and `-shm` for the purged NIRs, in ASCII and
//! UTF-16.

use std::ops::{AddAssign, Range};
use std::time::SystemTime;

use rusqlite::params;

use crate::{to_ms, CaseStore, Result, StoreError, Tx};

/// What a purge deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PurgeCounts {
    pub persons: u64,
    pub answers: u64,
    pub outbox: u64,
}

impl AddAssign for PurgeCounts {
    fn add_assign(&mut self, other: PurgeCounts) {
        self.persons += other.persons;
        self.answers += other.answers;
        self.outbox += other.outbox;
    }
}

/// What [`CaseStore::reclaim`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reclaimed {
    /// Whether the WAL was fully checkpointed and truncated (false if a reader held it: retry).
    pub wal_truncated: bool,
    /// Pages given back to the file system.
    pub pages_freed: u64,
}

impl Tx<'_> {
    /// Deletes the payloads of the persons whose refs are in `refs` (their identifiers, risk
    /// factors and the bodies' answers about them): one slice of a big case's purge, so that
    /// the daemon's other transactions run between the slices. The purge is complete only once
    /// [`Tx::purge_case_payloads`] has run (it takes whatever is left, and records when).
    pub fn purge_person_slice(&self, case_id: &str, refs: Range<u64>) -> Result<PurgeCounts> {
        let (start, end) = (refs.start as i64, refs.end as i64);
        let persons = self
            .tx
            .prepare_cached("DELETE FROM persons WHERE case_id = ?1 AND person_ref >= ?2 AND person_ref < ?3")?
            .execute(params![case_id, start, end])? as u64;
        let answers = self.delete_answer_chunks(case_id, Some(refs))?;
        Ok(PurgeCounts { persons, answers, outbox: 0 })
    }

    /// Deletes every payload of a case (persons with their identifiers and risk factors, the
    /// bodies' answers, the messages not yet published) and records when. The case row and its
    /// metadata stay.
    pub fn purge_case_payloads(&self, case_id: &str, now: SystemTime) -> Result<PurgeCounts> {
        let persons = self.execute("DELETE FROM persons WHERE case_id = ?1", [case_id])? as u64;
        let answers = self.delete_answer_chunks(case_id, None)?;
        let outbox = self.execute("DELETE FROM outbox WHERE case_id = ?1", [case_id])? as u64;
        self.execute(
            "UPDATE cases SET purged_at = ?2, updated_at = ?2 WHERE case_id = ?1",
            params![case_id, to_ms(now)],
        )?;
        Ok(PurgeCounts { persons, answers, outbox })
    }
}

impl CaseStore {
    /// Rebuilds the database from its live rows (`VACUUM`), then checkpoints and truncates the
    /// WAL: after a purge, nothing of the purged rows is left in any page of either file.
    pub fn reclaim(&self) -> Result<Reclaimed> {
        self.with_connection(|conn| {
            let pages_before: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
            conn.execute_batch("VACUUM")?;
            let truncated = checkpoint_truncate(conn)?;
            let pages_after: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
            Ok(Reclaimed { wal_truncated: truncated, pages_freed: (pages_before - pages_after).max(0) as u64 })
        })
    }

    /// The sizes of the database and its WAL, in bytes (for metrics and tests).
    pub fn file_sizes(&self) -> Result<(u64, u64)> {
        let size = |p: &std::path::Path| match std::fs::metadata(p) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(source) => Err(StoreError::Io { path: p.to_owned(), source }),
        };
        let mut wal = self.path().as_os_str().to_owned();
        wal.push("-wal");
        Ok((size(self.path())?, size(std::path::Path::new(&wal))?))
    }
}

/// `PRAGMA wal_checkpoint(TRUNCATE)`; `true` when complete (not blocked by a reader).
pub(crate) fn checkpoint_truncate(conn: &rusqlite::Connection) -> Result<bool> {
    let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
    Ok(busy == 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cases::{CaseState, NewCase, StoredPerson};
    use std::time::{Duration, UNIX_EPOCH};

    fn case(id: &str) -> NewCase {
        let t0 = UNIX_EPOCH + Duration::from_secs(1_750_000_000);
        NewCase {
            case_id: id.into(),
            state: CaseState::Receiving,
            requester: "cnaf".into(),
            requester_office: "caf-13".into(),
            requester_user: "cnaf".into(),
            purpose: "p".into(),
            legal_basis: "l".into(),
            wanted: vec![2],
            arrived_at: t0,
            respond_by: t0,
            remind_at: t0,
            expires_at: t0,
            chunk_size: 100,
            request_chunk_count: 1,
        }
    }

    /// How many of `nirs` appear in `bytes`, in ASCII or UTF-16 (either byte order).
    fn readable(bytes: &[u8], nirs: &[String]) -> usize {
        let mut found = std::collections::HashSet::new();
        for (width, encode) in [(15, 0), (30, 1), (30, 2)] {
            let encoded: std::collections::HashMap<Vec<u8>, &String> = nirs
                .iter()
                .map(|n| {
                    let e = match encode {
                        0 => n.as_bytes().to_vec(),
                        1 => utf16(n),
                        _ => n.encode_utf16().flat_map(u16::to_be_bytes).collect(),
                    };
                    (e, n)
                })
                .collect();
            for w in bytes.windows(width) {
                if let Some(n) = encoded.get(w) {
                    found.insert(*n);
                }
            }
        }
        found.len()
    }

    fn utf16(text: &str) -> Vec<u8> {
        text.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    /// Every file of the store, concatenated.
    fn all_bytes(store: &CaseStore) -> Vec<u8> {
        let mut bytes = Vec::new();
        for suffix in ["", "-wal", "-shm"] {
            let mut p = store.path().as_os_str().to_owned();
            p.push(suffix);
            if let Ok(b) = std::fs::read(std::path::Path::new(&p)) {
                bytes.extend(b);
            }
        }
        bytes
    }

    #[test]
    fn purged_nirs_are_gone_from_every_file_and_the_file_shrinks() {
        let dir = tempfile::tempdir().unwrap();
        let store = CaseStore::open(&dir.path().join("o.db")).unwrap();
        let now = SystemTime::now();
        fn nir(i: u64) -> String {
            let first13 = format!("1500513{:03}{:03}", 100 + i / 999, 1 + i % 999);
            passerelle_protocol::nir::with_key(&first13).unwrap().as_str().to_owned()
        }
        let gone: Vec<String> = (0..2000).map(nir).collect();
        for case_id in ["gone", "kept"] {
            store.write(|tx| tx.insert_case(&case(case_id), now)).unwrap();
        }
        // Interleaved batches, so that both cases share pages and the B-trees rebalance while
        // they grow (which leaves stale cell copies in page gaps: the VACUUM must clear them).
        for batch in 0..20u64 {
            store
                .write(|tx| {
                    for (case_id, offset) in [("gone", 0), ("kept", 5000)] {
                        for i in batch * 100..(batch + 1) * 100 {
                            tx.insert_person(
                                case_id,
                                &StoredPerson {
                                    person_ref: i,
                                    nir: nir(i + offset),
                                    former_nirs: vec![],
                                    sex: 1,
                                    birth_year: 1950,
                                    departement: "13".into(),
                                    risk_factors: vec![7; 64],
                                },
                            )?;
                        }
                    }
                    Ok::<_, StoreError>(())
                })
                .unwrap();
        }
        store.reclaim().unwrap();
        let (size_full, _) = store.file_sizes().unwrap();
        let counts = store.write(|tx| tx.purge_case_payloads("gone", now)).unwrap();
        assert_eq!(readable(&all_bytes(&store), &gone), 2000, "the scan sees them before the reclaim");
        assert_eq!(counts.persons, 2000);
        let reclaimed = store.reclaim().unwrap();
        assert!(reclaimed.wal_truncated);
        assert!(reclaimed.pages_freed > 0);
        let (size_after, wal_after) = store.file_sizes().unwrap();
        assert!(size_after < size_full, "{size_after} < {size_full}");
        assert_eq!(wal_after, 0);
        let bytes = all_bytes(&store);
        assert_eq!(readable(&bytes, &gone), 0, "purged NIRs still on disk");
        let kept: Vec<String> = (5000..7000).map(nir).collect();
        assert_eq!(readable(&bytes, &kept), 2000, "the scan finds what is really there");
    }
}
