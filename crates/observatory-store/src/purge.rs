//! Purging a case's payloads, and making the purge real on disk.
//!
//! "Purged" means unreadable in the files, not merely unreachable by SQL:
//! 0. Every payload is sealed with its case's key ([`crate::keys`]); [`Tx::purge_case_payloads`]
//!    destroys the key before its transaction commits, so "purged" holds at the commit, crash
//!    or not, whatever copy the WAL, the free pages or a backup keeps.
//! 1. [`Tx::purge_case_payloads`] deletes the case's persons, answers and outbox rows. With
//!    `secure_delete=ON`, SQLite overwrites the deleted cells and the freed pages with zeros.
//! 2. [`crate::CaseStore::reclaim`], after the purge's commit, rebuilds the file from its live rows
//!    and truncates the WAL ([`passerelle_sqlite::rebuild`] says why step 1 alone is not enough):
//!    no stale copy of a purged cell survives, and the file does not grow across months of
//!    purged cases.
//!
//! The forensic test scans every byte of `.db`, `-wal` and `-shm` for the purged NIRs, in ASCII
//! and UTF-16.

use std::ops::{AddAssign, Range};
use std::time::SystemTime;

use rusqlite::params;

use passerelle_sqlite::time::to_ms;

use crate::{Result, Tx};

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
    /// bodies' answers, the messages not yet published), destroys the case's key with this
    /// transaction (every copy of a payload left in the WAL or free pages is then sealed with a
    /// key that no longer exists) and records when. The case row and its metadata stay, but
    /// without the requester's office, its broker user and the free-text purpose: the audit
    /// trail names who did what itself (each entry's actor), so the row keeps only the
    /// requester body, ids, counts, states and times ([`Tx::delete_purged_cases_through`]
    /// deletes it with the trail's year).
    pub fn purge_case_payloads(&self, case_id: &str, now: SystemTime) -> Result<PurgeCounts> {
        let persons = self.execute("DELETE FROM persons WHERE case_id = ?1", [case_id])? as u64;
        let answers = self.delete_answer_chunks(case_id, None)?;
        let outbox = self.execute("DELETE FROM outbox WHERE case_id = ?1", [case_id])? as u64;
        self.destroy_case_key(case_id);
        self.execute(
            "UPDATE cases SET purged_at = ?2, updated_at = ?2, requester_office = '', requester_user = '', \
             purpose = '' WHERE case_id = ?1",
            params![case_id, to_ms(now)],
        )?;
        Ok(PurgeCounts { persons, answers, outbox })
    }

    /// Deletes the purged cases last changed in `year` (UTC, as the audit trail's years) or
    /// before, with their request chunks and solicitations: called when the trail's chain of
    /// `year` goes ([`Tx::audit_delete_year`]), so a case row lives as long as the trail that
    /// speaks of it and no longer. Returns how many cases went.
    pub fn delete_purged_cases_through(&self, year: i32) -> Result<usize> {
        let gone = "SELECT case_id FROM cases WHERE purged_at IS NOT NULL \
             AND CAST(strftime('%Y', updated_at / 1000, 'unixepoch') AS INTEGER) <= ?1";
        self.execute(
            &format!(
                "DELETE FROM solicitation_chunks WHERE solicitation_id IN \
                 (SELECT solicitation_id FROM solicitations WHERE case_id IN ({gone}))"
            ),
            [year],
        )?;
        self.execute(&format!("DELETE FROM solicitations WHERE case_id IN ({gone})"), [year])?;
        self.execute(&format!("DELETE FROM request_chunks WHERE case_id IN ({gone})"), [year])?;
        self.execute(&format!("DELETE FROM cases WHERE case_id IN ({gone})"), [year])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CaseState, CaseStore, NewCase, StoreError, StoredPerson};
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
            service: 0,
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
        assert_eq!(readable(&all_bytes(&store), &gone), 0, "payloads are sealed: no NIR in the clear");
        let counts = store.write(|tx| tx.purge_case_payloads("gone", now)).unwrap();
        assert_eq!(counts.persons, 2000);
        let reclaimed = store.reclaim().unwrap();
        assert!(reclaimed.wal_truncated);
        assert!(reclaimed.pages_freed > 0);
        let (size_after, wal_after) = store.file_sizes().unwrap();
        assert!(size_after < size_full, "{size_after} < {size_full}");
        assert_eq!(wal_after, 0);
        let kept = store.read(|tx| tx.persons("kept", 0..2000)).unwrap();
        assert_eq!(kept.len(), 2000, "the other case reads back");
        assert_eq!(kept[7].nir, nir(5007));
    }

    /// A crash between a purge's commit and the rebuild: the WAL and the file still hold the
    /// purged rows' pages, but sealed with a key that no longer exists in any file.
    #[test]
    fn a_purge_holds_at_its_commit_without_the_rebuild() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.db");
        let store = CaseStore::open(&path).unwrap();
        let now = SystemTime::now();
        let nir = |i: u64| test_nir(i);
        store.write(|tx| tx.insert_case(&case("gone"), now)).unwrap();
        let persons: Vec<StoredPerson> = (0..50)
            .map(|i| StoredPerson {
                person_ref: i,
                nir: nir(i),
                former_nirs: vec![nir(i + 100)],
                sex: 2,
                birth_year: 1948,
                departement: "13".into(),
                risk_factors: vec![1, 2, 3],
            })
            .collect();
        store.write(|tx| tx.insert_persons("gone", &persons)).unwrap();
        let before = store.read(|tx| tx.persons("gone", 0..50)).unwrap();
        assert_eq!(before, persons, "sealed persons open whole");
        let sealed_rows: Vec<Vec<u8>> = store
            .read(|tx| {
                Ok::<_, StoreError>(
                    tx.tx.query_all("SELECT sealed FROM persons WHERE case_id = 'gone'", [], |r| r.get(0))?,
                )
            })
            .unwrap();
        let key_file = crate::keys::keys_path(&path);
        let keys_before = std::fs::read(&key_file).unwrap();
        store.write(|tx| tx.purge_case_payloads("gone", now)).unwrap();
        // No rebuild: what a crash right now leaves.
        let keys_after = std::fs::read(&key_file).unwrap();
        assert!(keys_before.len() > keys_after.len(), "the case's key is gone from its file");
        let mut every_file = Vec::new();
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            every_file.extend(std::fs::read(entry.unwrap().path()).unwrap());
        }
        let all: Vec<String> = (0..200).map(nir).collect();
        assert_eq!(readable(&every_file, &all), 0, "no purged NIR in the clear in any file");
        drop(store);
        // Even with the rows' ciphertexts in hand (from a backup), nothing opens them.
        let store = CaseStore::open(&path).unwrap();
        let refused = store.read(|tx| {
            let key = tx.keys.ring().key("gone")?;
            Ok::<_, StoreError>(key.map(|k| sealed_rows.iter().any(|s| k.open(b"any", s).is_ok())))
        });
        assert!(matches!(refused, Ok(None)), "no key is left for the purged case");
    }

    #[test]
    fn a_purged_case_row_keeps_no_office_user_or_purpose_in_any_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = CaseStore::open(&dir.path().join("o.db")).unwrap();
        let now = SystemTime::now();
        let mut c = case("gone");
        c.requester_office = "office-zq7x".into();
        c.requester_user = "agent-kw3v".into();
        c.purpose = "atelier equilibre rue-xq9".into();
        store.write(|tx| tx.insert_case(&c, now)).unwrap();
        store.write(|tx| tx.purge_case_payloads("gone", now)).unwrap();
        store.reclaim().unwrap();
        let row = store.read(|tx| tx.case("gone")).unwrap().unwrap();
        assert_eq!(row.requester, "cnaf", "the requester body stays (the trail's actor names it too)");
        assert_eq!((row.requester_office.as_str(), row.requester_user.as_str(), row.purpose.as_str()), ("", "", ""));
        let bytes = all_bytes(&store);
        for text in ["office-zq7x", "agent-kw3v", "rue-xq9"] {
            assert!(!bytes.windows(text.len()).any(|w| w == text.as_bytes()), "{text} left in the store's files");
        }
    }

    #[test]
    fn purged_case_rows_are_deleted_with_their_year_of_the_audit_trail() {
        let dir = tempfile::tempdir().unwrap();
        let store = CaseStore::open(&dir.path().join("o.db")).unwrap();
        let in_2025 = UNIX_EPOCH + Duration::from_secs(1_750_000_000); // June 2025
        let in_2026 = UNIX_EPOCH + Duration::from_secs(1_780_000_000); // May 2026
        store
            .write(|tx| {
                for id in ["purged-2025", "purged-2026", "live"] {
                    tx.insert_case(&case(id), in_2025)?;
                }
                tx.execute(
                    "INSERT INTO request_chunks (case_id, chunk_index, received_at, accepted, refused) \
                     VALUES ('purged-2025', 0, 0, 1, 0)",
                    [],
                )?;
                tx.purge_case_payloads("purged-2025", in_2025)?;
                tx.purge_case_payloads("purged-2026", in_2026)
            })
            .unwrap();
        store.write(|tx| tx.audit_delete_year(2025)).unwrap();
        let left = |id: &str| store.read(|tx| tx.case(id)).unwrap().is_some();
        assert!(!left("purged-2025"), "deleted with the trail's 2025 chain");
        assert!(left("purged-2026"), "its trail year is still kept");
        assert!(left("live"), "a case not purged stays");
        let chunks: i64 = store
            .read(|tx| Ok::<_, StoreError>(tx.tx.query_row("SELECT COUNT(*) FROM request_chunks", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(chunks, 0, "its request chunks went with it");
    }

    fn test_nir(i: u64) -> String {
        let first13 = format!("1480213{:03}{:03}", 100 + i / 999, 1 + i % 999);
        passerelle_protocol::nir::with_key(&first13).unwrap().as_str().to_owned()
    }
}
