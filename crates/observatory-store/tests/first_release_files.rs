//! Store files written by the first release open with this code: their cases, audit trail and
//! statistics read back, the schema is brought to the current version, and they take new writes.
//!
//! `fixtures/demo-20-persons/` holds the `observatory.db` and `statistics.db` that
//! `passerelle demo --persons 20 --data-dir DIR` of the first release left (synthetic persons;
//! one case, gone through the whole flow and purged). Those files carry `user_version` 0 and
//! every table already made.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use passerelle_observatory_store::{CaseEvent, CaseState, CaseStore, NewCase, StatisticsStore, StoreError};

const CASE_ID: &str = "01a24d9a-525e-726c-b102-1877960b0e19";

/// A copy of a fixture in a temporary folder: opening a store migrates its file.
fn copy_of(name: &str, dir: &Path) -> PathBuf {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/demo-20-persons").join(name);
    let to = dir.join(name);
    std::fs::copy(&from, &to).unwrap();
    // Git checks files out 0644; a store must be 0600 to be opened.
    passerelle_sqlite::private::restrict(&to).unwrap();
    to
}

#[test]
fn a_case_store_of_the_first_release_reads_back_and_takes_new_cases() {
    let dir = tempfile::tempdir().unwrap();
    let path = copy_of("observatory.db", dir.path());
    let store = CaseStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), 7, "brought to the current schema");
    let case = store.read(|tx| tx.case(CASE_ID)).unwrap().expect("the demo's case");
    assert_eq!(case.state, CaseState::Purged);
    assert_eq!((case.persons_accepted, case.persons_refused), (20, 0));
    assert_eq!(case.completeness.as_deref(), Some("complete"));
    assert_eq!(case.requester, "cnaf");
    assert_eq!(
        (case.requester_office.as_str(), case.requester_user.as_str(), case.purpose.as_str()),
        ("", "", ""),
        "a case purged before the upgrade forgets its office, user and purpose too"
    );
    assert!(case.purged_at.is_some() && case.receipt_at.is_some() && case.returned_at.is_some());
    assert!(store.read(|tx| tx.persons(CASE_ID, 0..20)).unwrap().is_empty(), "its payloads were purged");
    let solicitations = store.read(|tx| tx.solicitations(CASE_ID)).unwrap();
    assert_eq!(solicitations.len(), 3, "cnam, cnav and msa were asked");

    let verification = store.read(|tx| tx.audit_verify()).unwrap();
    assert_eq!(verification.broken, None, "the audit chain of the first release still verifies");
    assert_eq!(verification.entries, 11);
    let actions = store.read(|tx| tx.audit_action_counts()).unwrap();
    for (action, n) in [("purge", 1), ("receipt", 1), ("request_received", 1), ("response_received", 3)] {
        assert!(actions.contains(&(action.to_owned(), n)), "{action} × {n} in {actions:?}");
    }

    // New writes go on: a new case moves through the checked transitions, the chain grows.
    let now = SystemTime::now();
    store
        .write(|tx| {
            tx.insert_case(&new_case("after-upgrade", now), now)?;
            tx.transition("after-upgrade", CaseState::Receiving, CaseEvent::SolicitationsQueued, now)?;
            tx.audit_append(&passerelle_observatory_store::AuditEntry::new(
                now,
                passerelle_observatory_store::Action::Started,
                None,
                "observatory",
                serde_json::json!({ "upgraded": true }),
            ))?;
            Ok::<_, StoreError>(())
        })
        .unwrap();
    drop(store);
    let store = CaseStore::open(&path).unwrap();
    assert_eq!(store.read(|tx| tx.case("after-upgrade")).unwrap().unwrap().state, CaseState::Soliciting);
    let verification = store.read(|tx| tx.audit_verify()).unwrap();
    assert_eq!((verification.entries, verification.broken), (12, None));
}

#[test]
fn a_statistics_store_of_the_first_release_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = copy_of("statistics.db", dir.path());
    let raw = passerelle_sqlite::testing::raw_connection(&path).unwrap();
    let purpose: String = raw.query_row("SELECT DISTINCT service FROM persons", [], |r| r.get(0)).unwrap();
    assert!(purpose.len() > 8, "the first release kept the purpose's free text: {purpose:?}");
    drop(raw);
    let store = StatisticsStore::open(&path).unwrap();
    // Minimised: the free text became `unspecified`, the times months, and no byte of the text
    // is left in the store's files.
    let raw = passerelle_sqlite::testing::raw_connection(&path).unwrap();
    let kept: Vec<(String, String)> = raw
        .prepare("SELECT DISTINCT service, recorded_at FROM persons")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    drop(raw);
    assert!(!kept.is_empty());
    for (service, month) in &kept {
        assert_eq!(service, "unspecified");
        assert!(month.len() == 7 && month.as_bytes()[4] == b'-', "a month: {month:?}");
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        if let Ok(bytes) = std::fs::read(&file) {
            assert!(!bytes.windows(purpose.len()).any(|w| w == purpose.as_bytes()), "{purpose:?} left in {file:?}");
        }
    }
    let report = store.report().unwrap();
    assert_eq!((report.persons, report.cases), (20, 1));
    assert_eq!(store.persons_of_case(CASE_ID).unwrap(), 20);
    assert_eq!(report.by_sex.iter().map(|(_, n)| n).sum::<u64>(), 20);
    assert_eq!(report.by_requester, vec![("cnaf / caf-13".to_owned(), 20)]);
    assert!(!report.body_answers.is_empty(), "the bodies' answers are kept per person");
    // Opening again changes nothing.
    drop(store);
    assert_eq!(StatisticsStore::open(&path).unwrap().report().unwrap(), report);
}

fn new_case(id: &str, now: SystemTime) -> NewCase {
    NewCase {
        case_id: id.into(),
        state: CaseState::Receiving,
        requester: "cnaf".into(),
        requester_office: "caf-13".into(),
        requester_user: "cnaf".into(),
        purpose: "falls workshop".into(),
        service: 1,
        legal_basis: "Décret n° 2017-334, art. 3".into(),
        wanted: vec![2],
        arrived_at: now,
        respond_by: now + Duration::from_secs(86_400),
        remind_at: now + Duration::from_secs(43_200),
        expires_at: now + Duration::from_secs(30 * 86_400),
        chunk_size: 100,
        request_chunk_count: 1,
    }
}
