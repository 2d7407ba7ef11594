//! A requester store written by an earlier build (`tests/fixtures/requester.db`, made by
//! `passerelle demo --persons 12`, synthetic persons only) still opens, reads back as it was
//! written — the result files written from it now are byte for byte the ones the demo wrote then
//! (`tests/fixtures/demo-result.*`) — and purges to nothing readable. An office upgraded in
//! place keeps its submissions, results and retention.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use passerelle_protocol::rules::ManualClock;
use passerelle_requester::store::DB_FILE;
use passerelle_requester::{CaseState, Requester, RequesterSettings};
use uuid::Uuid;

const SUBMISSION: &str = "01a24d78-2e70-7153-9092-78191c7f9eb8";
const CASE: &str = "01a24d78-2e71-736a-afe1-a88a14ccbee9";
/// The submission's time and end of retention in the fixture (milliseconds since the epoch).
const SUBMITTED_AT_MS: u64 = 1_796_596_051_568;
const PURGE_AFTER_MS: u64 = 1_859_668_051_568;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A requester folder (`data/`, `out/`) whose store is a copy of the fixture.
fn requester_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    let store = dir.path().join("data").join(DB_FILE);
    std::fs::copy(fixtures().join(DB_FILE), &store).unwrap();
    // Git checks files out 0644; a store must be 0600 to be opened.
    passerelle_sqlite::private::restrict(&store).unwrap();
    dir
}

fn requester(dir: &Path, clock: &ManualClock) -> Requester {
    let settings = RequesterSettings::for_dir("cnaf", "caf-13", dir);
    Requester::offline(settings, Arc::new(clock.clone())).unwrap()
}

#[test]
fn a_store_written_by_an_earlier_build_reads_back_as_it_was_written() {
    let dir = requester_dir();
    let clock = ManualClock::starting_at(UNIX_EPOCH + Duration::from_millis(SUBMITTED_AT_MS + 60_000));
    let requester = requester(dir.path(), &clock);
    let store = requester.store();

    let submissions = store.submissions().unwrap();
    assert_eq!(submissions.len(), 1);
    let s = &submissions[0];
    assert_eq!(s.id.to_string(), SUBMISSION);
    assert_eq!(s.submitted_at, UNIX_EPOCH + Duration::from_millis(SUBMITTED_AT_MS));
    assert_eq!(s.purge_after, UNIX_EPOCH + Duration::from_millis(PURGE_AFTER_MS));
    assert_eq!(s.service, "Atelier prévention des chutes (démonstration)");
    assert_eq!((s.lines, s.rejected, s.separator, s.encoding.as_str()), (12, 0, b',', "utf-8"));
    assert_eq!((s.wanted.len(), s.columns.len(), s.columns[2].as_str()), (21, 19, "family_name"));
    assert!(s.written_at.is_some() && s.purged_at.is_none());

    let cases = store.cases().unwrap();
    assert_eq!(cases.len(), 1);
    let c = &cases[0];
    assert_eq!((c.id.to_string().as_str(), c.observatory.as_str()), (CASE, "carsat-sud-est"));
    assert_eq!((c.persons, c.request_chunks, c.state), (12, 1, CaseState::Answered));
    assert_eq!((c.result_chunks, c.result_chunks_received, c.refused_persons), (Some(1), 1, 0));
    assert!(c.sent_at.is_some() && c.settled_at.is_some() && c.receipt_sent_at.is_some());
    let bodies: Vec<&str> = c.bodies.iter().map(|b| b.body.as_str()).collect();
    assert_eq!(bodies, ["cnam", "cnav", "msa"]);

    let mut lines = Vec::new();
    store
        .for_each_person(&[c.id], |p| {
            assert_eq!(p.answers.as_ref().map(|a| a.answers.len()), Some(3), "line {}: every body answered", p.line);
            lines.push(p.line);
            Ok(())
        })
        .unwrap();
    assert_eq!(lines, (2..=13).collect::<Vec<u64>>());

    // The result files written from the store now are those the demo wrote then.
    let out = dir.path().join("again");
    let (written, summary) = requester.write_case(c.id, Some(&out)).unwrap();
    assert_eq!((written.persons, summary.persons_listed), (12, 12));
    for ext in ["csv", "jsonl"] {
        let now = std::fs::read_to_string(out.with_extension(ext)).unwrap();
        let then = std::fs::read_to_string(fixtures().join(format!("demo-result.{ext}"))).unwrap();
        assert!(now == then, "the {ext} result differs from the one the demo wrote");
    }
}

#[test]
fn a_store_written_by_an_earlier_build_purges_to_nothing_readable() {
    let dir = requester_dir();
    let clock = ManualClock::starting_at(UNIX_EPOCH + Duration::from_millis(SUBMITTED_AT_MS + 60_000));
    let requester = requester(dir.path(), &clock);
    let store = requester.store();
    let case: Uuid = CASE.parse().unwrap();
    let mut ids = Vec::new();
    store
        .for_each_person(&[case], |p| {
            ids.push(p.id);
            Ok(())
        })
        .unwrap();
    let mut secrets = Vec::new();
    for id in ids {
        let person = store.person(id).unwrap();
        // NIR, family name, given names, postal address: columns 0, 2, 4 and 8.
        secrets.extend([0, 2, 4, 8].map(|i| person.cells[i].clone()).into_iter().filter(|s| s.len() > 3));
    }
    assert!(secrets.len() >= 40, "{} identifying cells", secrets.len());
    assert!(store.purge_due(UNIX_EPOCH + Duration::from_millis(PURGE_AFTER_MS - 1)).unwrap().is_empty());

    let purged = store.purge_due(UNIX_EPOCH + Duration::from_millis(PURGE_AFTER_MS)).unwrap();
    assert_eq!(purged.len(), 1);
    assert_eq!(purged[0].id.to_string(), SUBMISSION);
    assert_eq!(purged[0].files.len(), 3, "the demo's three result files are to be deleted");
    let c = store.case(case).unwrap().unwrap();
    assert_eq!(c.state, CaseState::Purged);
    store.for_each_person(&[case], |p| panic!("line {} survived the purge", p.line)).unwrap();
    let s = store.submission(SUBMISSION.parse().unwrap()).unwrap().unwrap();
    assert!(s.purged_at.is_some() && s.service.is_empty());

    for entry in std::fs::read_dir(dir.path().join("data")).unwrap() {
        let entry = entry.unwrap();
        let bytes = std::fs::read(entry.path()).unwrap();
        for secret in &secrets {
            let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
            assert!(!found, "a purged value is still readable in {}", entry.file_name().to_string_lossy());
        }
    }
}
