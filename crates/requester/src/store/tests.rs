//! The requester store's unit tests.

use std::path::Path;
use std::time::{Duration, SystemTime};

use passerelle_protocol::v1::{self, Category};
use passerelle_sqlite::rusqlite::params;
use prost::Message as _;
use uuid::Uuid;

use super::matching::{self, PersonIndex};
use super::schema::MIGRATIONS;
use super::*;

/// A synthetic, valid NIR (a man born in March 1950 in Paris), order number from `n`.
fn nir(n: u32) -> String {
    let body = format!("1500375{:03}{:03}", 1 + (n / 999) % 999, 1 + n % 999);
    let key = 97 - body.parse::<u64>().unwrap() % 97;
    format!("{body}{key:02}")
}

fn answers(n: u32) -> Vec<v1::BodyAnswer> {
    let status = if n.is_multiple_of(2) { v1::PersonStatus::Found } else { v1::PersonStatus::NotFound };
    vec![v1::BodyAnswer { body: "cnam".into(), status: status as i32, values: None }]
}

/// A store with one submission and one case of `persons` persons (lines 1.., NIRs `nir(line)`
/// in reverse order, so that lines and NIRs are not in the same order).
fn store_with_case(dir: &Path, persons: u32) -> (Store, Uuid) {
    let store = Store::open(dir).unwrap();
    let now = SystemTime::now();
    let (submission, case) = (Uuid::now_v7(), Uuid::now_v7());
    store
        .write(|tx| {
            Store::insert_submission(
                tx,
                &SubmissionRecord {
                    id: submission,
                    submitted_at: now,
                    purge_after: now + Duration::from_secs(86_400),
                    respond_by: now,
                    service: "visite".into(),
                    offered_service: 0,
                    wanted: vec![Category::LongTermCondition],
                    columns: vec!["nir".into(), "family_name".into()],
                    separator: b',',
                    encoding: "utf-8".into(),
                    out_path: None,
                    lines: persons.into(),
                    rejected: 0,
                    written_at: None,
                    purged_at: None,
                },
            )?;
            Store::insert_case(tx, case, submission, "carsat-sud-est", now)?;
            for line in 1..=persons {
                let p = NewPerson {
                    line: line.into(),
                    nir: nir(persons - line),
                    cells: vec![nir(persons - line), format!("Zorglub{line:04}")],
                    ..Default::default()
                };
                Store::insert_person(tx, case, &p)?;
            }
            Store::set_case_counts(tx, case, persons.into(), 1)
        })
        .unwrap();
    (store, case)
}

fn result(case: Uuid, index: u32, count: u32, nirs: impl IntoIterator<Item = u32>) -> v1::Result {
    v1::Result {
        case_id: case.to_string(),
        chunk_index: index,
        chunk_count: count,
        persons: nirs.into_iter().map(|n| v1::ResultPerson { nir: nir(n), answers: answers(n) }).collect(),
        ..Default::default()
    }
}

/// Each person's (line, NIR of its answers, its answers), in selection order.
fn stored_answers(store: &Store, case: Uuid) -> Vec<(u64, Option<v1::ResultPerson>)> {
    let mut out = Vec::new();
    store
        .for_each_person(&[case], |p| {
            out.push((p.line, p.answers));
            Ok(())
        })
        .unwrap();
    out
}

#[test]
fn result_chunks_are_matched_by_nir_counted_when_unknown_and_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let (store, case) = store_with_case(dir.path(), 6);
    let now = SystemTime::now();
    // Chunk 1 first, with a NIR that is not in the case (counted, not stored).
    let stored = store.store_result(&result(case, 1, 2, [3, 4, 5, 999]), now).unwrap();
    assert_eq!(stored, Stored::New { settled: false, unmatched: 1 });
    // A redelivery with other answers changes nothing.
    let mut again = result(case, 1, 2, [3, 4, 5]);
    again.persons[0].answers.clear();
    assert_eq!(store.store_result(&again, now).unwrap(), Stored::Duplicate);
    assert_eq!(
        store.store_result(&result(case, 0, 2, [0, 1, 2]), now).unwrap(),
        Stored::New { settled: true, unmatched: 0 }
    );
    assert_eq!(store.case(case).unwrap().unwrap().state, CaseState::Answered);
    // Line l holds nir(6 - l): every person got its own answers, with its NIR.
    for (line, answers) in stored_answers(&store, case) {
        let n = 6 - line as u32;
        let answers = answers.unwrap_or_else(|| panic!("line {line} has no answers"));
        assert_eq!(answers.nir, nir(n));
        assert_eq!(answers.answers, self::answers(n), "line {line}");
    }
    let one = store.person(1).unwrap();
    assert_eq!(one.answers.unwrap().answers, answers(5));
    assert_eq!(one.cells[1], "Zorglub0001");
}

#[test]
fn a_person_without_answers_reads_as_none_and_the_purge_deletes_the_answers() {
    let dir = tempfile::tempdir().unwrap();
    let (store, case) = store_with_case(dir.path(), 3);
    let now = SystemTime::now();
    store.store_result(&result(case, 0, 1, [0, 1]), now).unwrap();
    let got: Vec<bool> = stored_answers(&store, case).iter().map(|(_, a)| a.is_some()).collect();
    // Line 1 is nir(2), which the result did not name.
    assert_eq!(got, vec![false, true, true]);
    assert_eq!(store.purge_due(now + Duration::from_secs(2 * 86_400)).unwrap().len(), 1);
    let left: i64 =
        store.read(|tx| Ok(tx.query_row("SELECT COUNT(*) FROM person_answers", [], |r| r.get(0))?)).unwrap();
    assert_eq!(left, 0);
}

#[test]
fn a_version_1_store_keeps_its_answers_after_the_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let (store, case) = store_with_case(dir.path(), 3);
    // Back to version 1's shape: the answers in the persons' rows.
    store
        .db
        .with_connection(|conn| {
            conn.execute_batch(
                "DROP TABLE rights_requests; DROP TABLE rectifications; DROP TABLE worklist_ranks; DROP TABLE worklist_orders; DROP TABLE offer_outcomes; DROP TABLE person_answers;
                 ALTER TABLE persons ADD COLUMN answers BLOB; ALTER TABLE submissions DROP COLUMN offered_service;",
            )?;
            let old = v1::ResultPerson { nir: nir(2), answers: answers(2) };
            conn.execute("UPDATE persons SET answers = ?1 WHERE line = 1", params![old.encode_to_vec()])?;
            conn.pragma_update(None, "user_version", 1)?;
            Ok::<_, StoreError>(())
        })
        .unwrap();
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    store
        .db
        .with_connection(|conn| {
            assert_eq!(passerelle_sqlite::migrate::version(conn)?, passerelle_sqlite::migrate::latest(MIGRATIONS));
            let columns: i64 =
                conn.query_row("SELECT COUNT(*) FROM pragma_table_info('persons') WHERE name = 'answers'", [], |r| {
                    r.get(0)
                })?;
            assert_eq!(columns, 0, "the old column is gone");
            Ok::<_, StoreError>(())
        })
        .unwrap();
    let stored = stored_answers(&store, case);
    assert_eq!(stored[0].1.as_ref().map(|a| a.answers.clone()), Some(answers(2)));
    assert!(stored[1].1.is_none());
    // And the upgraded store takes new results.
    store.store_result(&result(case, 0, 1, [0, 1]), SystemTime::now()).unwrap();
    assert!(stored_answers(&store, case).iter().all(|(_, a)| a.is_some()));
    // Opening it again migrates nothing twice.
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(stored_answers(&store, case).len(), 3);
}

/// A further case of the store's submission, its persons `nirs` on lines 1…
fn add_case(store: &Store, nirs: &[String]) -> Uuid {
    let now = SystemTime::now();
    let case = Uuid::now_v7();
    let submission = store.submissions().unwrap()[0].id;
    store
        .write(|tx| {
            Store::insert_case(tx, case, submission, "cnav-idf", now)?;
            for (line, nir) in nirs.iter().enumerate() {
                let person = NewPerson { line: line as u64 + 1, nir: nir.clone(), ..Default::default() };
                Store::insert_person(tx, case, &person)?;
            }
            Store::set_case_counts(tx, case, nirs.len() as u64, nirs.len() as u32)
        })
        .unwrap();
    case
}

#[test]
fn tables_are_kept_within_the_bound_without_evicting_a_case_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let (store, first) = store_with_case(dir.path(), 3);
    let second = add_case(&store, &[nir(500)]);
    let now = SystemTime::now();
    let mut index = PersonIndex::default();
    store
        .read(|tx| {
            let nirs = [nir(0), nir(7)];
            let (ids, unmatched) =
                index.ids(tx, first, &first.to_string(), nirs.iter().map(String::as_str), now).unwrap();
            assert_eq!((ids[0].is_some(), ids[1], unmatched), (true, None, 1));
            let nirs = [nir(500)];
            let (ids, _) = index.ids(tx, second, &second.to_string(), nirs.iter().map(String::as_str), now).unwrap();
            assert!(ids[0].is_some());
            assert_eq!(index.held(), vec![first, second]);
            index.forget(first);
            assert_eq!(index.held(), vec![second]);
            // Idle tables go when another case needs a table.
            let later = now + matching::IDLE;
            let nirs = [nir(1)];
            let (ids, _) = index.ids(tx, first, &first.to_string(), nirs.iter().map(String::as_str), later).unwrap();
            assert!(ids[0].is_some());
            assert_eq!(index.held(), vec![first]);
            Ok(())
        })
        .unwrap();
}

#[test]
fn nirs_that_do_not_pack_are_matched_in_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let (store, case) = store_with_case(dir.path(), 3);
    // A second case whose stored NIRs include one that does not pack (a lowercase letter):
    // the whole case is matched person by person in the (case, NIR) index.
    let odd_case = add_case(&store, &[nir(40), "2a0000000000000".to_owned()]);
    let now = SystemTime::now();
    let mut index = PersonIndex::default();
    store
        .read(|tx| {
            let id_of = |case: Uuid, nir: &str| -> i64 {
                tx.query_row(
                    "SELECT id FROM persons WHERE case_id = ?1 AND nir = ?2",
                    params![case.to_string(), nir],
                    |r| r.get(0),
                )
                .unwrap()
            };
            let nirs = [nir(40), "2a0000000000000".to_owned(), nir(41)];
            let (ids, unmatched) =
                index.ids(tx, odd_case, &odd_case.to_string(), nirs.iter().map(String::as_str), now).unwrap();
            assert_eq!(ids, vec![Some(id_of(odd_case, &nirs[0])), Some(id_of(odd_case, &nirs[1])), None]);
            assert_eq!(unmatched, 1);
            assert!(index.held().is_empty(), "no table for a case with a NIR that does not pack");
            // A case held as a table still matches, in the index, a result NIR that does not pack.
            let nirs = [nir(1), "not a NIR".to_owned()];
            let (ids, unmatched) =
                index.ids(tx, case, &case.to_string(), nirs.iter().map(String::as_str), now).unwrap();
            assert_eq!(ids, vec![Some(id_of(case, &nirs[0])), None]);
            assert_eq!(unmatched, 1);
            assert_eq!(index.held(), vec![case]);
            Ok(())
        })
        .unwrap();
}

#[test]
fn refused_persons_are_matched_by_nir_counted_when_unknown_and_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let (store, case) = store_with_case(dir.path(), 3);
    let now = SystemTime::now();
    let problem = v1::Problem { field: "birth_year".into(), reason: "under 55".into() };
    let refusal = v1::Refusal {
        case_id: case.to_string(),
        request_chunk_index: 0,
        persons: [nir(2), nir(999)]
            .into_iter()
            .map(|nir| v1::RefusedPerson { nir, problems: vec![problem.clone()] })
            .collect(),
        ..Default::default()
    };
    assert_eq!(store.store_refusal(&refusal, now).unwrap(), Stored::New { settled: false, unmatched: 1 });
    assert_eq!(store.store_refusal(&refusal, now).unwrap(), Stored::Duplicate);
    assert_eq!(store.case(case).unwrap().unwrap().refused_persons, 1);
    let refused: Vec<(String, String)> = store
        .read(|tx| {
            Ok(tx.query_all(
                "SELECT nir, refusal FROM persons WHERE case_id = ?1 AND refusal IS NOT NULL",
                [case.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?)
        })
        .unwrap();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].0, nir(2));
    assert!(refused[0].1.contains("under 55"), "{}", refused[0].1);
}

#[test]
fn an_outcome_is_replaced_until_accepted_which_stays_and_purged_with_its_case_leaving_no_byte() {
    let dir = tempfile::tempdir().unwrap();
    let (store, case) = store_with_case(dir.path(), 3);
    // To the millisecond, as the store keeps it.
    let now = SystemTime::UNIX_EPOCH
        + Duration::from_millis(SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_millis() as u64);
    let outcome = |line: u64, outcome: Outcome, agent: &str| OutcomeRecord {
        case,
        line,
        outcome,
        date: chrono::NaiveDate::from_ymd_opt(2026, 12, 7).unwrap(),
        agent: agent.to_owned(),
        recorded_at: now,
    };
    let recorded = std::cell::Cell::new(0);
    let count = || {
        recorded.set(recorded.get() + 1);
        Ok(())
    };
    let recorded_as = |o: &OutcomeRecord, write: OutcomeWrite| assert_eq!(write, OutcomeWrite::Recorded(o.clone()));
    // Not answered yet: no contact list, nothing recorded.
    let first = outcome(1, Outcome::Declined, "sw-first");
    assert_eq!(store.record_outcome(&first, &count).unwrap(), OutcomeWrite::NotListed);
    store.store_result(&result(case, 0, 1, [0, 1, 2]), now).unwrap();
    assert_eq!(store.persons_awaiting_outcome().unwrap(), 3);
    recorded_as(&first, store.record_outcome(&first, &count).unwrap());
    // `declined` is replaced by any outcome.
    let accepted = outcome(1, Outcome::Accepted, "sw-zorglub-9");
    recorded_as(&accepted, store.record_outcome(&accepted, &count).unwrap());
    let no_line = store.record_outcome(&outcome(7, Outcome::Accepted, "sw-zorglub-9"), &count).unwrap();
    assert_eq!(no_line, OutcomeWrite::NotListed, "no line 7");
    // `accepted` is final: another outcome is refused, `accepted` again keeps the first one.
    let mut later = outcome(1, Outcome::Accepted, "sw-other");
    later.date = chrono::NaiveDate::from_ymd_opt(2026, 12, 8).unwrap();
    recorded_as(&accepted, store.record_outcome(&later, &count).unwrap());
    for refused in [Outcome::Declined, Outcome::NoReply] {
        let write = store.record_outcome(&outcome(1, refused, "sw-other"), &count).unwrap();
        assert_eq!(write, OutcomeWrite::AlreadyAccepted(accepted.date));
    }
    assert_eq!(recorded.get(), 3, "the access entries run for what is recorded only");
    let held = store.outcomes_of(case).unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(held[&1], accepted);
    assert_eq!(
        store.outcome_counts().unwrap(),
        [(Outcome::Accepted, 1), (Outcome::Declined, 0), (Outcome::NoReply, 0)]
    );
    assert_eq!(store.persons_awaiting_outcome().unwrap(), 2);
    // An access entry that cannot be written: nothing recorded.
    let failing = || Err(StoreError::Corrupt("the access log is gone".into()));
    assert!(store.record_outcome(&outcome(2, Outcome::NoReply, "sw-zorglub-9"), &failing).is_err());
    assert_eq!(store.outcomes_of(case).unwrap().len(), 1);

    let on_disk = || {
        std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .any(|bytes| bytes.windows(12).any(|w| w == b"sw-zorglub-9"))
    };
    assert!(on_disk(), "the scan must see the outcome before the purge");
    assert_eq!(store.purge_due(now + Duration::from_secs(2 * 86_400)).unwrap().len(), 1);
    assert!(store.outcomes_of(case).unwrap().is_empty());
    assert!(!on_disk(), "an outcome survived the purge in the store's files");
}

#[test]
fn a_contact_list_order_is_read_by_rank_kept_per_ranking_dropped_by_a_late_refusal_and_purged_leaving_no_byte() {
    // The ranking settings' text: unusual enough to be looked for in the store's bytes.
    const RANKING: &str = "{\"ranking\":\"zorglub-order-1\"}";
    const OTHER: &str = "{\"ranking\":\"zorglub-order-2\"}";
    let dir = tempfile::tempdir().unwrap();
    // Lines 1 to 4 are persons 1 to 4 of the fresh store.
    let (store, case) = store_with_case(dir.path(), 4);
    let now = SystemTime::now();
    let order = |lines: &[u64]| -> Vec<RankedPerson> {
        lines.iter().map(|&line| RankedPerson { person: line as i64, line, score: 5.0 - line as f64 }).collect()
    };
    let lines = |rows: Vec<WorklistRow>| -> Vec<(u64, u64)> { rows.iter().map(|r| (r.rank, r.line)).collect() };
    // Not answered yet: no contact list to order.
    assert!(!store.store_worklist_order(case, RANKING, &order(&[3, 1, 4, 2])).unwrap());
    assert_eq!(store.worklist_order(case, RANKING).unwrap(), None);
    store.store_result(&result(case, 0, 1, [0, 1, 2, 3]), now).unwrap();
    assert!(store.store_worklist_order(case, RANKING, &order(&[3, 1, 4, 2])).unwrap());
    assert_eq!(store.worklist_order(case, RANKING).unwrap(), Some(4));
    assert_eq!(store.worklist_order(case, OTHER).unwrap(), None, "kept under its own ranking only");

    // A page is a range of ranks, with the persons' cells and outcomes.
    let page = store.worklist_rows(case, 1, 2, false).unwrap();
    assert_eq!(lines(page.clone()), [(2, 1), (3, 4)]);
    assert_eq!((page[0].score, page[0].cells[1].as_str(), &page[0].outcome), (4.0, "Zorglub0001", &None));
    let outcome = OutcomeRecord {
        case,
        line: 1,
        outcome: Outcome::Declined,
        date: chrono::NaiveDate::from_ymd_opt(2026, 12, 7).unwrap(),
        agent: "sw-zorglub-3".into(),
        recorded_at: now,
    };
    assert_eq!(store.record_outcome(&outcome, &|| Ok(())).unwrap(), OutcomeWrite::Recorded(outcome.clone()));
    let page = store.worklist_rows(case, 0, 10, false).unwrap();
    assert_eq!(
        page[1].outcome.as_ref().map(|o| (o.outcome, o.agent.as_str())),
        Some((Outcome::Declined, "sw-zorglub-3"))
    );
    assert_eq!(lines(store.worklist_rows(case, 0, 10, true).unwrap()), [(1, 3), (3, 4), (4, 2)]);
    assert_eq!(lines(store.worklist_rows(case, 3, 10, true).unwrap()), [(4, 2)]);
    assert!(store.worklist_rows(case, 4, 10, false).unwrap().is_empty());

    // Stored again: the same settings keep the first order; other settings replace it.
    assert!(store.store_worklist_order(case, RANKING, &order(&[1, 2, 3, 4])).unwrap());
    assert_eq!(lines(store.worklist_rows(case, 0, 1, false).unwrap()), [(1, 3)]);
    assert!(store.store_worklist_order(case, OTHER, &order(&[1, 2, 3, 4])).unwrap());
    assert_eq!(store.worklist_order(case, RANKING).unwrap(), None);
    assert_eq!(lines(store.worklist_rows(case, 0, 10, false).unwrap()), [(1, 1), (2, 2), (3, 3), (4, 4)]);

    // A refusal arriving after the case settled changes its list: the order goes.
    let refusal = v1::Refusal {
        case_id: case.to_string(),
        request_chunk_index: 0,
        persons: vec![v1::RefusedPerson { nir: nir(0), problems: Vec::new() }],
        ..Default::default()
    };
    assert!(matches!(store.store_refusal(&refusal, now).unwrap(), Stored::New { .. }));
    assert_eq!(store.worklist_order(case, OTHER).unwrap(), None);
    assert!(store.worklist_rows(case, 0, 10, false).unwrap().is_empty());

    // The purge takes the order with the case, unreadable on disk.
    assert!(store.store_worklist_order(case, RANKING, &order(&[3, 1, 2])).unwrap());
    let on_disk = || {
        std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .any(|bytes| bytes.windows(15).any(|w| w == b"zorglub-order-1"))
    };
    assert!(on_disk(), "the scan must see the order before the purge");
    assert_eq!(store.purge_due(now + Duration::from_secs(2 * 86_400)).unwrap().len(), 1);
    let left: (i64, i64) = store
        .read(|tx| {
            Ok(tx.query_row(
                "SELECT (SELECT COUNT(*) FROM worklist_ranks), (SELECT COUNT(*) FROM worklist_orders)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?)
        })
        .unwrap();
    assert_eq!(left, (0, 0));
    assert!(!on_disk(), "an order survived the purge in the store's files");
}
