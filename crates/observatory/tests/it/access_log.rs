//! The observatory's access log on the in-process bus: a case's machine actions are entries of
//! `daemon:observatory` per chunk or per case, never per person, with no NIR in the file, and
//! the chain verifies.

use crate::common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use common::{encodings, eventually, find_any, person, CaseSpec, Fabric, Stack};
use passerelle_access_log::{StoredEntry, ACCESS_LOG_FILE};
use passerelle_observatory_store::CaseState;
use passerelle_protocol::rules::days;
use passerelle_protocol::v1;

/// Every entry of the access log about `case_id`, in order.
fn entries_of(s: &Stack, case_id: &str) -> Vec<StoredEntry> {
    let log = s.accesses().log();
    let mut entries = Vec::new();
    for year in log.years().unwrap() {
        entries.extend(log.entries(year, 1, 1_000_000).unwrap().into_iter().filter(|e| e.object == case_id));
    }
    entries
}

/// Entries by kind.
fn kinds(entries: &[StoredEntry]) -> BTreeMap<&'static str, usize> {
    let mut kinds = BTreeMap::new();
    for e in entries {
        *kinds.entry(e.kind.as_str()).or_default() += 1;
    }
    kinds
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_s_machine_actions_are_logged_per_chunk_and_per_case() {
    let mut s = Stack::start(Fabric::in_process(), 3000).await;
    s.stop_observatory().await;
    s.settings.chunk_size = 1000;
    s.start_observatory().await;

    // 2,500 persons: 3 request chunks, 3 solicitation chunks per body, 3 result chunks.
    let persons: Vec<v1::RequestedPerson> = (0..2500).map(person).collect();
    let mut spec = CaseSpec::new(persons.clone());
    spec.chunk_size = 1000;
    let case_id = s.requester.submit(&spec).await;
    let result = eventually("the whole result", || s.requester.complete_result(&case_id)).await;
    s.wait_state(&case_id, CaseState::Returned).await;
    s.requester.receipt(&case_id, result[0].chunk_count).await;
    s.wait_state(&case_id, CaseState::Purged).await;

    let bodies = result[0].bodies.len();
    assert_eq!((bodies, result[0].chunk_count), (3, 3), "cnam, cnav and msa asked; 3 chunks each way");
    let entries = entries_of(&s, &case_id);
    assert!(entries.iter().all(|e| e.agent == "daemon:observatory"), "{entries:#?}");
    assert!(entries.iter().all(|e| !e.concerns_person && e.person.is_none()), "no person in a machine action");
    let expected: BTreeMap<&str, usize> = [
        // 3 request chunks stored, then each body's 3 response chunks.
        ("create", 3 + bodies * 3),
        // One per body solicited, one for the result.
        ("transfer", bodies + 1),
        ("delete", 1),
    ]
    .into();
    assert_eq!(kinds(&entries), expected, "per chunk and per case, not per person: {entries:#?}");
    assert_eq!(entries.last().unwrap().kind.as_str(), "delete", "the purge comes last");

    // At the cap, with no receipt: one `delete` too.
    let small: Vec<v1::RequestedPerson> = (2500..2505).map(person).collect();
    let capped = s.requester.submit(&CaseSpec::new(small.clone())).await;
    s.wait_state(&capped, CaseState::Returned).await;
    s.clock.advance(days(30));
    s.wait_state(&capped, CaseState::Purged).await;
    let capped_entries = entries_of(&s, &capped);
    assert_eq!(kinds(&capped_entries)["delete"], 1, "{capped_entries:#?}");

    // No NIR (whole, or its 13 digits) anywhere in the access log's files.
    let data = s.data_dir();
    let files: Vec<PathBuf> = [ACCESS_LOG_FILE.to_owned(), format!("{ACCESS_LOG_FILE}-wal")]
        .iter()
        .map(|name| data.join(name))
        .filter(|path| path.exists())
        .collect();
    assert!(!files.is_empty());
    let needles: Vec<Vec<u8>> = persons
        .iter()
        .chain(&small)
        .flat_map(|p| encodings(&p.nir).into_iter().chain(encodings(&p.nir[..13])))
        .collect();
    assert_eq!(find_any(&files, &needles).map(|(file, _)| file), None, "a NIR in the access log");

    let verification = s.accesses().log().verify().unwrap();
    assert!(verification.is_intact(), "{verification:?}");
    s.shutdown().await;
}
