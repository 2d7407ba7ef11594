//! Tests of the audit trail: its chain across years, and each kind of tampering named.

use super::*;
use crate::CaseStore;
use std::time::{Duration, UNIX_EPOCH};

fn at(year_offset_days: u64) -> SystemTime {
    // 2025-12-30T00:00:00Z, then days later.
    UNIX_EPOCH + Duration::from_secs(1_767_052_800) + Duration::from_secs(86400 * year_offset_days)
}

#[test]
fn actions_and_dead_letter_reasons_are_counted() {
    let (_dir, store) = store_with_entries(3);
    store
        .write(|tx| {
            for reason in ["bad chunk", "bad chunk", "unknown case"] {
                tx.audit_append(&AuditEntry::new(
                    at(1),
                    Action::DeadLetter,
                    None,
                    "body:cnam user:cnam",
                    serde_json::json!({ "reason": reason }),
                ))?;
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
    let counts = store.read(|tx| tx.audit_action_counts()).unwrap();
    assert_eq!(counts, [("dead_letter".to_owned(), 3), ("request_received".to_owned(), 3)]);
    let reasons = store.read(|tx| tx.audit_dead_letter_reasons()).unwrap();
    assert_eq!(reasons, [("bad chunk".to_owned(), 2), ("unknown case".to_owned(), 1)]);
    let senders = store.read(|tx| tx.audit_dead_letter_senders()).unwrap();
    assert_eq!(
        senders,
        [
            ("body:cnam user:cnam".to_owned(), "bad chunk".to_owned(), 2),
            ("body:cnam user:cnam".to_owned(), "unknown case".to_owned(), 1)
        ]
    );
    let latest = store.read(|tx| tx.audit_latest(Action::RequestReceived, 2)).unwrap();
    assert_eq!(
        latest.iter().map(AuditRecord::name).collect::<Vec<_>>(),
        ["2026#1", "2025#2"],
        "newest first, at most the limit"
    );
}

fn store_with_entries(n: u64) -> (tempfile::TempDir, CaseStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = CaseStore::open(&dir.path().join("o.db")).unwrap();
    store
        .write(|tx| {
            for i in 0..n {
                tx.audit_append(&AuditEntry::new(
                    at(i),
                    Action::RequestReceived,
                    Some("case-1"),
                    "body:cnaf user:cnaf",
                    serde_json::json!({ "chunk": i }),
                ))?;
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
    (dir, store)
}

fn raw(dir: &tempfile::TempDir) -> rusqlite::Connection {
    let c = passerelle_sqlite::testing::raw_connection(&dir.path().join("o.db")).unwrap();
    c.execute_batch("DROP TRIGGER audit_is_append_only").unwrap();
    c
}

fn verify(store: &CaseStore) -> Verification {
    store.read(|tx| tx.audit_verify()).unwrap()
}

#[test]
fn years_chain_to_each_other_and_an_untouched_trail_verifies() {
    let (_dir, store) = store_with_entries(5);
    let all = store.read(|tx| tx.audit_entries(None)).unwrap();
    assert_eq!(
        all.iter().map(AuditRecord::name).collect::<Vec<_>>(),
        ["2025#1", "2025#2", "2026#1", "2026#2", "2026#3"]
    );
    assert_eq!(all[2].prev_hash, all[1].hash, "a year's first entry carries the previous year's last hash");
    assert_eq!(all[0].prev_hash, GENESIS);
    let v = verify(&store);
    assert_eq!((v.entries, v.years.clone(), v.broken), (5, vec![2025, 2026], None));
}

#[test]
fn an_edit_is_named() {
    let (dir, store) = store_with_entries(5);
    raw(&dir).execute("UPDATE audit SET detail = '{\"chunk\":9}' WHERE year = 2026 AND seq = 2", []).unwrap();
    let b = verify(&store).broken.unwrap();
    assert_eq!(b.entry, "2026#2");
    assert!(b.reason.starts_with("altered"), "{b}");
}

#[test]
fn an_edit_with_a_recomputed_hash_is_named_by_the_next_link() {
    let (dir, store) = store_with_entries(5);
    let mut e = store.read(|tx| tx.audit_entries(None)).unwrap()[3].clone();
    e.detail = "{\"chunk\":9}".into();
    let h = e.computed_hash();
    raw(&dir)
        .execute("UPDATE audit SET detail = ?1, hash = ?2 WHERE year = 2026 AND seq = 2", params![e.detail, h])
        .unwrap();
    let b = verify(&store).broken.unwrap();
    assert_eq!(b.entry, "2026#2", "{b}");
}

#[test]
fn a_deletion_is_named() {
    let (dir, store) = store_with_entries(5);
    raw(&dir).execute("DELETE FROM audit WHERE year = 2026 AND seq = 2", []).unwrap();
    let b = verify(&store).broken.unwrap();
    assert_eq!(b.entry, "2026#2");
    assert!(b.reason.starts_with("deleted"), "{b}");
    // The newest entry too, thanks to the head row.
    let (dir, store) = store_with_entries(5);
    raw(&dir).execute("DELETE FROM audit WHERE year = 2026 AND seq = 3", []).unwrap();
    assert_eq!(verify(&store).broken.unwrap().entry, "2026#3");
}

#[test]
fn a_swap_is_named() {
    let (dir, store) = store_with_entries(5);
    raw(&dir)
        .execute_batch(
            "UPDATE audit SET seq = -1 WHERE year = 2026 AND seq = 1; \
             UPDATE audit SET seq = 1 WHERE year = 2026 AND seq = 2; \
             UPDATE audit SET seq = 2 WHERE year = 2026 AND seq = -1;",
        )
        .unwrap();
    let b = verify(&store).broken.unwrap();
    assert_eq!(b.entry, "2026#1");
    assert!(b.reason.starts_with("reordered"), "{b}");
}

#[test]
fn whole_old_years_can_go_and_the_rest_still_verifies() {
    let (_dir, store) = store_with_entries(5);
    assert_eq!(store.write(|tx| tx.audit_delete_year(2025)).unwrap(), 2);
    let v = verify(&store);
    assert_eq!((v.entries, v.broken), (3, None));
}

#[test]
fn the_trail_is_append_only_and_refuses_nirs() {
    let (dir, store) = store_with_entries(1);
    let c = passerelle_sqlite::testing::raw_connection(&dir.path().join("o.db")).unwrap();
    let err = c.execute("UPDATE audit SET actor = 'x'", []).unwrap_err().to_string();
    assert!(err.contains("append-only"), "{err}");
    let nir = passerelle_protocol::nir::with_key("1840575123456").unwrap();
    let err = store
        .write(|tx| {
            tx.audit_append(&AuditEntry::new(
                at(0),
                Action::Refusal,
                None,
                "x",
                serde_json::json!({ "oops": nir.as_str() }),
            ))
        })
        .unwrap_err();
    assert!(matches!(err, StoreError::PersonalData(_)));
    assert!(!contains_nir("0190d5a0-7c2e-7aa1-9b1e-1234567890ab"));
}
