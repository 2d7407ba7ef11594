//! The scenarios of issue 4, written once and run on the in-process bus and on RabbitMQ.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::time::Duration;

use passerelle_bus::Message;
use passerelle_observatory_store::audit::Action;
use passerelle_observatory_store::{CaseState, CaseStore, Pseudonymiser, StatisticsStore};
use passerelle_protocol::rules::days;
use passerelle_protocol::v1::{self, Category, Completeness, PersonStatus};

use super::*;

/// The accepted persons of a result, each with its answers by body.
fn persons_of(result: &[v1::Result]) -> BTreeMap<String, BTreeMap<String, v1::BodyAnswer>> {
    let mut persons = BTreeMap::new();
    for chunk in result {
        for p in &chunk.persons {
            let answers = p.answers.iter().map(|a| (a.body.clone(), a.clone())).collect();
            assert!(persons.insert(p.nir.clone(), answers).is_none(), "a person appears twice in the result");
        }
    }
    persons
}

fn count(s: &Stack, case_id: &str, action: Action) -> usize {
    s.status().audit_entries(Some(case_id)).unwrap().iter().filter(|e| e.action == action.as_str()).count()
}

fn status(a: &v1::BodyAnswer) -> PersonStatus {
    PersonStatus::try_from(a.status).unwrap()
}

/// Submits a case, waits for its whole result.
async fn run_case(s: &Stack, spec: &CaseSpec) -> (String, Vec<v1::Result>) {
    let case_id = s.requester.submit(spec).await;
    let result = eventually("the whole result", || s.requester.complete_result(&case_id)).await;
    (case_id, result)
}

/// Happy path: three bodies asked (never the requester's own), chunked both ways, every
/// person exactly once with each value from its source, refusals for the bad persons, purge on
/// receipt.
pub async fn happy_path_three_bodies_chunked(s: &mut Stack) {
    let mut persons: Vec<v1::RequestedPerson> = (0..7).map(person).collect();
    let young = v1::RequestedPerson { birth_year: 1990, nir: nir(100, 1990), ..person(100) };
    let elsewhere = v1::RequestedPerson { commune_code: "75056".into(), ..person(101) };
    persons.push(young.clone());
    persons.push(elsewhere.clone());
    let (case_id, result) = run_case(s, &CaseSpec::new(persons)).await;

    // The result: 7 accepted persons in 3 chunks of 3, complete, three bodies.
    assert_eq!(result.len(), 3);
    assert!(result.iter().all(|r| r.chunk_count == 3 && r.completeness == Completeness::Complete as i32));
    let bodies: Vec<&str> = result[0].bodies.iter().map(|b| b.body.as_str()).collect();
    assert_eq!(bodies, ["cnam", "cnav", "msa"], "every other body that may hold a category, never cnaf");
    assert!(result[0].bodies.iter().all(|b| b.answered));
    let asked: BTreeMap<&str, Vec<i32>> = result[0].bodies.iter().map(|b| (b.body.as_str(), b.asked.clone())).collect();
    assert_eq!(asked["cnam"], [Category::Css as i32, Category::LongTermCondition as i32]);
    assert_eq!(asked["cnav"], [Category::FamilySituation as i32]);
    assert_eq!(asked["msa"].len(), 4);
    let by_nir = persons_of(&result);
    assert_eq!(by_nir.keys().cloned().collect::<BTreeSet<_>>(), (0..7).map(|i| person(i).nir).collect());
    let p0 = &by_nir[&person(0).nir];
    assert_eq!(status(&p0["cnam"]), PersonStatus::Found);
    assert_eq!(p0["cnam"].values.as_ref().unwrap().css, Some(true));
    assert_eq!(p0["cnav"].values.as_ref().unwrap().family_situation, Some(v1::FamilySituation::Widowed as i32));
    assert_eq!(p0["msa"].values.as_ref().unwrap().housing_aid, Some(true));
    let p1 = &by_nir[&person(1).nir];
    assert!(
        p1.values().all(|a| status(a) == PersonStatus::NotFound && a.values.is_none()),
        "found by nobody, still there"
    );

    // The two bad persons come back in a refusal for their chunk, with reasons.
    let refusals = eventually("the refusal", || Some(s.requester.refusals(&case_id)).filter(|r| !r.is_empty())).await;
    assert_eq!(refusals.len(), 1);
    assert!(!refusals[0].whole_case);
    assert_eq!(refusals[0].request_chunk_index, 2);
    let refused: BTreeMap<&str, &str> =
        refusals[0].persons.iter().map(|p| (p.nir.as_str(), p.problems[0].field.as_str())).collect();
    assert_eq!(refused[young.nir.as_str()], "birth_year");
    assert_eq!(refused[elsewhere.nir.as_str()], "commune_code");

    // What the bodies received: match keys only, only their categories, never the requester.
    assert!(s.body("cnaf").received().is_empty(), "the requester's own branch is never solicited");
    for code in ["cnam", "cnav", "msa"] {
        let received = s.body(code).received();
        assert_eq!(received.iter().map(|r| r.chunk_index).collect::<BTreeSet<_>>(), BTreeSet::from([0, 1, 2]));
        for sol in &received {
            assert_eq!(sol.wanted, asked[code]);
            assert!(!sol.reminder);
            assert_eq!(sol.basis, passerelle_protocol::v1::LegalBasis::Decree2017334Art3 as i32);
            let bytes = Message::Solicitation(sol.clone()).encode();
            assert!(!contains(&bytes, PURPOSE.as_bytes()), "the service text never leaves the observatory");
            assert!(!contains(&bytes, b"caf-13"), "the requester's office never leaves the observatory");
            assert!(!contains(&bytes, COMMUNE.as_bytes()), "the commune never leaves the observatory");
            for p in &sol.persons {
                let original = (0..7).map(person).find(|o| o.nir == p.nir).expect("an accepted person");
                assert_eq!(
                    (p.sex, p.birth_year, &p.former_nirs),
                    (original.sex, original.birth_year, &original.former_nirs)
                );
            }
        }
        let solicited: usize = received.iter().map(|r| r.persons.len()).sum();
        assert_eq!(solicited, 7);
    }

    // Receipt → purge.
    s.wait_state(&case_id, CaseState::Returned).await;
    s.requester.receipt(&case_id, 3).await;
    s.wait_state(&case_id, CaseState::Purged).await;
    let st = s.status().status().unwrap();
    assert_eq!((st.purged_cases, st.refused_persons, st.outbox_depth), (1, 2, 0));
    assert_eq!(st.cases_by_state["purged"], 1);
    let mut all = (0..7).map(|i| person(i).nir).collect::<Vec<_>>();
    all.extend([young.nir, elsewhere.nir]);
    assert_forgotten(&s.data_dir(), &all).await;
}

/// A silent body: reminder halfway (outstanding chunks only, marked), partial result at the
/// deadline with `NO_ANSWER`, and its late answer acknowledged, dropped and audited.
pub async fn silent_body_partial_result_and_late_answer(s: &mut Stack) {
    s.body("msa").behaviour.silent.store(true, Ordering::SeqCst);
    let case_id = s.requester.submit(&CaseSpec::new((0..5).map(person).collect())).await;
    eventually("cnam and cnav answered", || (count(s, &case_id, Action::ResponseReceived) == 4).then_some(())).await;
    assert_eq!(s.body("msa").received().len(), 2);
    assert!(s.requester.results(&case_id).is_empty(), "no result while a body may still answer");
    let pending = s.status().status().unwrap().pending_chunks_by_body;
    assert_eq!(pending.into_iter().collect::<Vec<_>>(), vec![("msa".to_owned(), 2)]);

    s.clock.advance(days(3) + Duration::from_secs(13 * 3600));
    eventually("the reminder", || (s.body("msa").received().len() == 4).then_some(())).await;
    let reminders: Vec<v1::Solicitation> = s.body("msa").received().into_iter().filter(|r| r.reminder).collect();
    assert_eq!(reminders.iter().map(|r| r.chunk_index).collect::<BTreeSet<_>>(), BTreeSet::from([0, 1]));
    assert_eq!(reminders[0].solicitation_id, s.body("msa").received()[0].solicitation_id);
    assert_eq!(s.body("cnam").received().len(), 2, "a body that answered gets no reminder");
    assert_eq!(count(s, &case_id, Action::Reminder), 1);

    s.clock.advance(days(4));
    let result = eventually("the partial result", || s.requester.complete_result(&case_id)).await;
    assert!(result.iter().all(|r| r.completeness == Completeness::Partial as i32));
    let msa = result[0].bodies.iter().find(|b| b.body == "msa").unwrap();
    assert!(!msa.answered);
    assert!(result[0].bodies.iter().filter(|b| b.body != "msa").all(|b| b.answered));
    let by_nir = persons_of(&result);
    assert_eq!(by_nir.len(), 5);
    assert!(by_nir.values().all(|a| status(&a["msa"]) == PersonStatus::NoAnswer));
    assert_eq!(status(&by_nir[&person(0).nir]["cnam"]), PersonStatus::Found);

    // The late answer: acknowledged, dropped, audited; the case does not change.
    s.wait_state(&case_id, CaseState::Returned).await;
    s.body("msa").answer_everything_received().await;
    eventually("the late answers audited", || (count(s, &case_id, Action::LateResponse) == 4).then_some(())).await;
    assert_eq!(s.requester.results(&case_id).len(), result.len(), "no second result");
    let case = s.status().case(&case_id).unwrap().unwrap();
    assert_eq!((case.state, case.completeness.as_deref()), (CaseState::Returned, Some("partial")));
    let late = s.status().audit_entries(Some(&case_id)).unwrap();
    let late = late.iter().find(|e| e.action == "late_response").unwrap();
    assert!(late.detail.contains("\"answers\":") && late.detail.contains("\"body\":\"msa\""), "{}", late.detail);
}

/// The daemon stopped and started again on the same database at several points of a case: it
/// completes, each person exactly once.
pub async fn restart_mid_case_completes_once(s: &mut Stack) {
    s.body("msa").behaviour.silent.store(true, Ordering::SeqCst);
    let spec = CaseSpec::new((0..8).map(person).collect());
    let case_id = uuid::Uuid::now_v7().to_string();
    let chunks = Requester::chunks(&case_id, &spec);
    assert_eq!(chunks.len(), 3);

    // Down between request chunks.
    s.requester.publish(vec![Message::Request(chunks[0].clone())]).await;
    eventually("the first chunk", || (count(s, &case_id, Action::RequestReceived) == 1).then_some(())).await;
    s.stop_observatory().await;
    s.requester.publish(chunks[1..].iter().cloned().map(Message::Request).collect()).await;
    s.start_observatory().await;
    s.wait_state(&case_id, CaseState::Collecting).await;

    // Down while a body answers.
    eventually("msa solicited", || (s.body("msa").received().len() == 3).then_some(())).await;
    s.stop_observatory().await;
    s.body("msa").answer_everything_received().await;
    s.start_observatory().await;
    let result = eventually("the whole result", || s.requester.complete_result(&case_id)).await;
    assert!(result.iter().all(|r| r.completeness == Completeness::Complete as i32));
    let by_nir = persons_of(&result);
    assert_eq!(by_nir.len(), 8, "each person exactly once");
    assert_eq!(status(&by_nir[&person(0).nir]["msa"]), PersonStatus::Found);

    // Down between the result and the receipt.
    s.wait_state(&case_id, CaseState::Returned).await;
    s.stop_observatory().await;
    s.requester.receipt(&case_id, 3).await;
    s.start_observatory().await;
    s.wait_state(&case_id, CaseState::Purged).await;
    assert_eq!(count(s, &case_id, Action::RequestReceived), 3);
    assert_eq!(count(s, &case_id, Action::ResponseReceived), 9);
    assert_eq!(count(s, &case_id, Action::ResultReturned), 1);
    assert_eq!(count(s, &case_id, Action::Purge), 1);
}

/// Every message type delivered more than once (same id, and a new id for the same chunk)
/// changes nothing.
pub async fn duplicates_change_nothing(s: &mut Stack) {
    s.requester.duplicate.store(true, Ordering::SeqCst);
    for body in s.bodies.values() {
        body.behaviour.duplicate.store(true, Ordering::SeqCst);
    }
    let spec = CaseSpec::new((0..7).map(person).collect());
    let (case_id, result) = run_case(s, &spec).await;
    assert_eq!(persons_of(&result).len(), 7);
    s.wait_state(&case_id, CaseState::Returned).await;
    assert_eq!(count(s, &case_id, Action::RequestReceived), 3);
    assert_eq!(count(s, &case_id, Action::ResponseReceived), 9);
    assert_eq!(count(s, &case_id, Action::ResultReturned), 1);
    assert_eq!(s.requester.results(&case_id).len(), 3, "each result chunk published once");
    let case = s.status().case(&case_id).unwrap().unwrap();
    assert_eq!(case.persons_accepted, 7);

    // A request chunk again after the case moved on, receipts three times, a response again.
    s.requester.publish(vec![Message::Request(Requester::chunks(&case_id, &spec)[0].clone())]).await;
    s.requester.receipt(&case_id, 3).await;
    s.wait_state(&case_id, CaseState::Purged).await;
    let first = s.body("cnam").received()[0].clone();
    s.body("cnam").respond(s.body("cnam").response_to(&first)).await;
    eventually("the response after the purge dropped", || {
        (count(s, &case_id, Action::LateResponse) >= 1).then_some(())
    })
    .await;
    eventually("receipts processed", || (count(s, &case_id, Action::Receipt) >= 1).then_some(())).await;
    assert_eq!(count(s, &case_id, Action::Receipt), 1);
    assert_eq!(count(s, &case_id, Action::Purge), 1);
    assert_eq!(count(s, &case_id, Action::RequestReceived), 3);
    assert_eq!(s.status().case(&case_id).unwrap().unwrap().state, CaseState::Purged);
}

/// Purge on receipt and at the 30-day cap: none of the case's NIRs remains readable in any of
/// the observatory's files or in the logs; the case store does not keep growing.
pub async fn purges_leave_nothing_readable(s: &mut Stack) {
    // On receipt.
    let a: Vec<v1::RequestedPerson> = (0..30).map(person).collect();
    let mut spec = CaseSpec::new(a.clone());
    spec.chunk_size = 10;
    let (case_a, result) = run_case(s, &spec).await;
    s.wait_state(&case_a, CaseState::Returned).await;
    s.requester.receipt(&case_a, result[0].chunk_count).await;
    s.wait_state(&case_a, CaseState::Purged).await;
    let nirs_a: Vec<String> = a.iter().map(|p| p.nir.clone()).collect();
    assert_forgotten(&s.data_dir(), &nirs_a).await;

    // At the cap, with no receipt ever.
    let b: Vec<v1::RequestedPerson> = (1000..1030).map(person).collect();
    let mut spec = CaseSpec::new(b.clone());
    spec.chunk_size = 10;
    let (case_b, _) = run_case(s, &spec).await;
    s.wait_state(&case_b, CaseState::Returned).await;
    s.clock.advance(days(29));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(s.status().case(&case_b).unwrap().unwrap().state, CaseState::Returned, "not before the cap");
    s.clock.advance(days(1));
    s.wait_state(&case_b, CaseState::Purged).await;
    let nirs_b: Vec<String> = b.iter().map(|p| p.nir.clone()).collect();
    assert_forgotten(&s.data_dir(), &nirs_b).await;
    let purge = s.status().audit_entries(Some(&case_b)).unwrap().into_iter().find(|e| e.action == "purge").unwrap();
    assert!(purge.detail.contains("retention cap"), "{}", purge.detail);

    // Space is given back: bigger cases, purged one after the other, do not grow the file
    // beyond their metadata (ids, counts, audit entries).
    s.stop_observatory().await;
    s.settings.chunk_size = 100;
    s.start_observatory().await;
    let mut sizes = Vec::new();
    for round in 0..4u32 {
        let persons: Vec<v1::RequestedPerson> = (2000 + round * 300..2300 + round * 300).map(person).collect();
        let mut spec = CaseSpec::new(persons.clone());
        spec.chunk_size = 100;
        let (case_id, result) = run_case(s, &spec).await;
        s.wait_state(&case_id, CaseState::Returned).await;
        s.requester.receipt(&case_id, result[0].chunk_count).await;
        s.wait_state(&case_id, CaseState::Purged).await;
        let nirs: Vec<String> = persons.iter().map(|p| p.nir.clone()).collect();
        assert_forgotten(&s.data_dir(), &nirs).await;
        assert_eq!(s.status().free_pages().unwrap(), 0, "freed pages are given back to the file system");
        sizes.push(s.status().file_sizes().unwrap().0);
    }
    let growth = sizes[3] - sizes[0];
    assert!(
        growth <= 3 * METADATA_BUDGET_PER_CASE,
        "3 purged cases of 300 persons grew the case store by {growth} bytes ({sizes:?})"
    );
}

/// What a purged case of a few hundred persons may leave in the case store: its row, its
/// solicitations, its inbox ids and its audit entries — a few pages, not its payloads (tens of
/// kB of identifiers, risk factors and answers).
const METADATA_BUDGET_PER_CASE: u64 = 6 * 4096;

/// The statistics store: no identifying column, no NIR, a pseudonym stable across cases and
/// different under another secret.
pub async fn statistics_are_pseudonymous(s: &mut Stack) {
    let mut returned = Vec::new();
    for persons in [(0..5).map(person).collect::<Vec<_>>(), (0..3).map(person).collect()] {
        let count = persons.len();
        let (case_id, result) = run_case(s, &CaseSpec::new(persons)).await;
        s.wait_state(&case_id, CaseState::Returned).await;
        returned.push((case_id, result[0].chunk_count, count));
    }
    // Both receipts first: a tick purges the small cases it finds together (their statistics in
    // one transaction), and each case's purge still counts its own rows.
    for (case_id, chunks, _) in &returned {
        s.requester.receipt(case_id, *chunks).await;
    }
    for (case_id, _, count) in &returned {
        s.wait_state(case_id, CaseState::Purged).await;
        let entries = s.status().audit_entries(Some(case_id)).unwrap();
        let purge = entries.iter().find(|e| e.action == "purge").expect("a purge entry");
        assert!(purge.detail.contains(&format!("\"statistics_rows\":{count}")), "{}", purge.detail);
    }
    let stats = StatisticsStore::open(&s.settings.statistics_db_path()).unwrap();
    for (table, column) in stats.columns().unwrap() {
        let identifying = passerelle_protocol::catalogue::identity_field(&column).is_some_and(|f| f.identifying);
        assert!(!identifying, "{table}.{column} is identifying");
    }
    assert_statistics_folder_holds_no_nir_nor_key(s);
    let secret = Pseudonymiser::load_or_create(&s.settings.secret_path()).unwrap();
    let followed = stats.follow(&secret.pseudonym(&person(0).nir)).unwrap();
    assert_eq!(followed.len(), 2, "the same person, followed across two cases");
    assert_ne!(followed[0].case_id, followed[1].case_id);
    assert!(followed[0].values.iter().any(|v| v == "rsa=true (requester)"), "{:?}", followed[0].values);
    assert!(followed[0].values.iter().any(|v| v == "css=true (cnam)"), "{:?}", followed[0].values);
    let other = Pseudonymiser::new(b"another secret, another pseudonym");
    assert_ne!(other.pseudonym(&person(0).nir), secret.pseudonym(&person(0).nir));
    assert!(stats.follow(&other.pseudonym(&person(0).nir)).unwrap().is_empty());
    let report = stats.report().unwrap();
    assert_eq!((report.persons, report.distinct_pseudonyms, report.cases), (8, 5, 2));
    assert!(report.body_answers.iter().all(|b| b.asked == 8 && b.body != "cnaf"));
    assert!(report.by_risk_factor.contains(&("rsa".to_owned(), 8)));
    // Minimisation: the service as a code (the requester sent none: `unspecified`), the time as
    // its month, and no byte of the request's free-text purpose in any file of the folder.
    use passerelle_protocol::rules::Clock;
    let month = passerelle_observatory_store::month_of(s.clock.now());
    for a in &followed {
        assert_eq!((a.service.as_str(), a.recorded_month.as_str()), ("unspecified", month.as_str()));
    }
    let files = files_under(&s.settings.statistics_dir());
    assert_eq!(find_any(&files, &encodings(PURPOSE)), None, "the request's purpose is in the statistics folder");
}

/// The persons whose NIRs the statistics folder is scanned for: the stacks' whole population.
const SCANNED_PERSONS: u32 = 3000;

/// The statistics folder holds the statistics store alone, and none of its files holds a NIR of
/// the population (any encoding) or the pseudonym key (as written in its file, or raw); the key
/// is outside the folder.
fn assert_statistics_folder_holds_no_nir_nor_key(s: &Stack) {
    let folder = s.settings.statistics_dir();
    let files = files_under(&folder);
    assert!(files.iter().any(|f| *f == s.settings.statistics_db_path()), "the scan sees the store: {files:?}");
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy();
        assert!(name.starts_with("statistics.db"), "{} is in the statistics folder", file.display());
    }
    let key = s.settings.secret_path();
    assert!(key.exists() && !key.starts_with(&folder), "the key is outside the statistics folder");
    let key_text = std::fs::read(&key).unwrap();
    let raw_key: Vec<u8> = key_text
        .trim_ascii()
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect();
    let mut needles = vec![key_text.trim_ascii().to_vec(), raw_key, key_text.trim_ascii()[..32].to_vec()];
    let nirs: Vec<String> = (0..SCANNED_PERSONS).map(|i| person(i).nir).collect();
    needles.extend(nirs.iter().flat_map(|nir| encodings(nir)));
    if let Some((file, i)) = find_any(&files, &needles) {
        let what = if i < 3 { "the pseudonym key".to_owned() } else { format!("the NIR of person {}", (i - 3) / 3) };
        panic!("{what} is readable in {}", file.display());
    }
}

/// A deployment of the earlier layout (the statistics store beside the case store and the key,
/// in `data_dir`) restarted: the store moves into the statistics folder, the key stays where it
/// was, and a person followed before the move is the same pseudonym after it.
pub async fn statistics_keep_their_pseudonyms_across_the_move(s: &mut Stack) {
    let first = purged_case(s, (0..3).map(person).collect()).await;
    let key_before = std::fs::read(s.settings.secret_path()).unwrap();
    s.stop_observatory().await;
    // The earlier layout: the store in data_dir, no statistics folder.
    let legacy = s.data_dir().join("statistics.db");
    for suffix in ["", "-wal", "-shm"] {
        let from = PathBuf::from(format!("{}{suffix}", s.settings.statistics_db_path().display()));
        if from.exists() {
            std::fs::rename(&from, format!("{}{suffix}", legacy.display())).unwrap();
        }
    }
    std::fs::remove_dir(s.settings.statistics_dir()).unwrap();
    s.start_observatory().await;
    assert!(!legacy.exists(), "the store left data_dir");
    assert!(s.settings.statistics_db_path().exists(), "the store is in the statistics folder");
    assert_eq!(std::fs::read(s.settings.secret_path()).unwrap(), key_before, "the same key");
    let second = purged_case(s, (0..2).map(person).collect()).await;
    assert_statistics_folder_holds_no_nir_nor_key(s);
    let stats = StatisticsStore::open(&s.settings.statistics_db_path()).unwrap();
    // The test plays the daemon's part here: only it holds the key.
    let pseudonym = Pseudonymiser::load_or_create(&s.settings.secret_path()).unwrap().pseudonym(&person(0).nir);
    let cases: Vec<String> = stats.follow(&pseudonym).unwrap().into_iter().map(|a| a.case_id).collect();
    assert_eq!(cases, [first, second], "one person, one pseudonym, before and after the move");
    let report = stats.report().unwrap();
    assert_eq!((report.persons, report.distinct_pseudonyms, report.cases), (5, 3, 2));
}

/// Runs a case of `persons` to its purge; its id.
async fn purged_case(s: &mut Stack, persons: Vec<v1::RequestedPerson>) -> String {
    let (case_id, result) = run_case(s, &CaseSpec::new(persons)).await;
    s.wait_state(&case_id, CaseState::Returned).await;
    s.requester.receipt(&case_id, result[0].chunk_count).await;
    s.wait_state(&case_id, CaseState::Purged).await;
    case_id
}

/// The audit trail of a whole case verifies, holds no NIR, and an edit, a deletion or a swap
/// made directly in SQLite is named by `verify`.
pub async fn audit_trail_verifies_and_names_tampering(s: &mut Stack) {
    let persons: Vec<v1::RequestedPerson> = (0..4).map(person).collect();
    let (case_id, result) = run_case(s, &CaseSpec::new(persons.clone())).await;
    s.wait_state(&case_id, CaseState::Returned).await;
    s.requester.receipt(&case_id, result[0].chunk_count).await;
    s.wait_state(&case_id, CaseState::Purged).await;
    let v = s.status().audit_verify().unwrap();
    assert_eq!(v.broken, None);
    let entries = s.status().audit_entries(Some(&case_id)).unwrap();
    let actions: BTreeSet<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    for a in ["request_received", "solicitation_sent", "response_received", "result_returned", "receipt", "purge"] {
        assert!(actions.contains(a), "no {a} entry");
    }
    let receipt = entries.iter().find(|e| e.action == "receipt").unwrap();
    assert!(receipt.actor.starts_with("body:cnaf user:"), "{}", receipt.actor);
    for e in &entries {
        for p in &persons {
            assert!(!e.detail.contains(&p.nir) && !e.actor.contains(&p.nir));
        }
    }
    s.stop_observatory().await;

    let db = s.settings.case_db_path();
    let tampered = |name: &str, sql: &str| {
        let copy = s.dir.path().join(name);
        std::fs::copy(&db, &copy).unwrap();
        passerelle_observatory_store::store::tamper(&copy, &format!("DROP TRIGGER audit_is_append_only; {sql}"))
            .unwrap();
        CaseStore::open(&copy).unwrap().read(|tx| tx.audit_verify()).unwrap().broken.expect("tampering detected")
    };
    let year = entries[0].year;
    let edit = tampered("edit.db", &format!("UPDATE audit SET detail = '{{}}' WHERE year = {year} AND seq = 3"));
    assert_eq!(edit.entry, format!("{year}#3"));
    assert!(edit.reason.starts_with("altered"), "{edit}");
    let deletion = tampered("delete.db", &format!("DELETE FROM audit WHERE year = {year} AND seq = 4"));
    assert_eq!(deletion.entry, format!("{year}#4"));
    assert!(deletion.reason.starts_with("deleted"), "{deletion}");
    let swap = tampered(
        "swap.db",
        &format!(
            "UPDATE audit SET seq = -1 WHERE year = {year} AND seq = 5; \
             UPDATE audit SET seq = 5 WHERE year = {year} AND seq = 6; \
             UPDATE audit SET seq = 6 WHERE year = {year} AND seq = -1;"
        ),
    );
    assert_eq!(swap.entry, format!("{year}#5"));
    assert!(swap.reason.starts_with("reordered"), "{swap}");
    s.start_observatory().await;
}

/// Requests that cannot be served are refused with reasons; messages that cannot be trusted
/// are dead-lettered; a body's unasked values are dropped on receipt.
pub async fn refusals_dead_letters_and_minimisation(s: &mut Stack) {
    let mut spec = CaseSpec::new((0..3).map(person).collect());
    spec.wanted = vec![];
    let case_id = s.requester.submit(&spec).await;
    let refusal = eventually("the whole-case refusal", || s.requester.refusals(&case_id).pop()).await;
    assert!(refusal.whole_case);
    assert_eq!(refusal.case_problems[0].field, "wanted");
    s.wait_state(&case_id, CaseState::Refused).await;

    // A case id that is not a UUID: refused from the edge, audited, and no case row keyed by it.
    let not_a_uuid = "dossier-42";
    s.requester
        .publish(
            Requester::chunks(not_a_uuid, &CaseSpec::new(vec![person(0)])).into_iter().map(Message::Request).collect(),
        )
        .await;
    let refusal = eventually("the refusal of a non-UUID case id", || s.requester.refusals(not_a_uuid).pop()).await;
    assert!(refusal.whole_case);
    assert!(refusal.case_problems.iter().any(|p| p.field == "case_id"), "{refusal:?}");
    eventually("the refusal audited", || (count(s, not_a_uuid, Action::Refusal) == 1).then_some(())).await;
    assert_eq!(count(s, not_a_uuid, Action::RequestReceived), 1);
    assert!(s.status().case(not_a_uuid).unwrap().is_none(), "no case row for a non-UUID id");

    let mut spec = CaseSpec::new(vec![v1::RequestedPerson { birth_year: 1990, ..person(0) }]);
    spec.chunk_size = 1;
    let case_id = s.requester.submit(&spec).await;
    let refusals = eventually("refusals", || Some(s.requester.refusals(&case_id)).filter(|r| r.len() == 2)).await;
    assert!(refusals.iter().any(|r| r.whole_case && r.case_problems[0].reason.contains("no person")));
    s.wait_state(&case_id, CaseState::Refused).await;

    // A body oversharing, and another answering a solicitation addressed to it.
    s.body("msa").behaviour.overshare.store(true, Ordering::SeqCst);
    s.body("cnav").behaviour.silent.store(true, Ordering::SeqCst);
    let case_id = s.requester.submit(&CaseSpec::new((0..3).map(person).collect())).await;
    eventually("cnav solicited", || (s.body("cnav").received().len() == 1).then_some(())).await;
    let msa_solicitation = eventually("msa solicited", || s.body("msa").received().pop()).await;
    let mut forged = s.body("cnav").response_to(&msa_solicitation);
    forged.sender = "cnav".into();
    s.body("cnav").respond(forged).await;
    eventually("the forged response dead-lettered", || (count(s, &case_id, Action::DeadLetter) == 1).then_some(()))
        .await;
    if s.fabric.dead_letters().is_some() {
        eventually("the bus's dead letter with its reason", || {
            let dead = s.fabric.dead_letters().unwrap();
            dead.iter().any(|d| d.reason.contains("was addressed to `msa`")).then_some(())
        })
        .await;
    }
    s.body("cnav").answer_everything_received().await;
    let result = eventually("the result", || s.requester.complete_result(&case_id)).await;
    let by_nir = persons_of(&result);
    let msa = &by_nir[&person(0).nir]["msa"];
    assert_eq!(status(msa), PersonStatus::Found);
    assert_eq!(msa.values.as_ref().unwrap().quarters_contributed, None, "an unasked value is dropped on receipt");
    assert!(count(s, &case_id, Action::Violation) >= 1);
}

/// A request whose chunks do not all arrive before the deadline is refused as a whole and its
/// persons purged.
pub async fn incomplete_request_refused_at_deadline(s: &mut Stack) {
    let spec = CaseSpec::new((0..6).map(person).collect());
    let case_id = uuid::Uuid::now_v7().to_string();
    let chunks = Requester::chunks(&case_id, &spec);
    s.requester.publish(vec![Message::Request(chunks[0].clone())]).await;
    eventually("the first chunk", || (count(s, &case_id, Action::RequestReceived) == 1).then_some(())).await;
    assert_eq!(s.status().case(&case_id).unwrap().unwrap().state, CaseState::Receiving);
    s.clock.advance(days(7) + Duration::from_secs(60));
    s.wait_state(&case_id, CaseState::Refused).await;
    let refusal = eventually("the refusal", || s.requester.refusals(&case_id).pop()).await;
    assert!(refusal.whole_case);
    assert_eq!(refusal.case_problems[0].field, "chunk_count");
    assert!(refusal.case_problems[0].reason.contains("only 1 of the 2"), "{:?}", refusal.case_problems);
    let nirs: Vec<String> = chunks[0].persons.iter().map(|p| p.nir.clone()).collect();
    assert_forgotten(&s.data_dir(), &nirs).await;
    assert!(s.body("cnam").received().is_empty(), "nobody is solicited for an incomplete request");
}

/// Five years on, the statistics rows and the audit years past the policy are gone, and what
/// remains of the trail still verifies.
pub async fn statistics_and_audit_retention(s: &mut Stack) {
    let (case_id, result) = run_case(s, &CaseSpec::new((0..5).map(person).collect())).await;
    s.wait_state(&case_id, CaseState::Returned).await;
    s.requester.receipt(&case_id, result[0].chunk_count).await;
    s.wait_state(&case_id, CaseState::Purged).await;
    let stats = StatisticsStore::open(&s.settings.statistics_db_path()).unwrap();
    assert_eq!(stats.report().unwrap().persons, 5);
    let first_year = s.status().audit_entries(None).unwrap()[0].year;

    s.clock.advance(days(4 * 365));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(stats.report().unwrap().persons, 5, "kept within 5 years");
    s.clock.advance(days(366 + 2));
    eventually("the statistics purged at 5 years", || (stats.report().unwrap().persons == 0).then_some(())).await;
    // The purge is audited right after the statistics store's commit: wait for that entry too.
    let entries = eventually("the statistics purge audited", || {
        let entries = s.status().audit_entries(None).unwrap();
        entries.iter().any(|e| e.action == "statistics_purge" && e.detail.contains("\"rows\":5")).then_some(entries)
    })
    .await;
    // The audit trail's years go only through their witness's year-closed checkpoint (the
    // party's trails, tested across processes in tests/e2e/trails.rs): the service alone keeps them.
    assert!(entries.iter().any(|e| e.year == first_year), "no year dropped behind the witness's back");
    assert_eq!(s.status().audit_verify().unwrap().broken, None, "what remains still verifies");
    assert_eq!(s.status().case(&case_id).unwrap().unwrap().state, CaseState::Purged, "case metadata stays");
}

/// A NIR already accepted in the case is refused as a duplicate: within a chunk, across
/// chunks, and across a restart of the observatory between chunks (the duplicate check lives in
/// memory and is rebuilt from the store).
pub async fn duplicate_nirs_refused_across_chunks_and_restarts(s: &mut Stack) {
    let order = [0, 1, 2, 3, 0, 3, 1, 4];
    let spec = CaseSpec::new(order.iter().map(|i| person(*i)).collect());
    let case_id = uuid::Uuid::now_v7().to_string();
    let chunks = Requester::chunks(&case_id, &spec);
    assert_eq!(chunks.len(), 3);
    s.requester.publish(vec![Message::Request(chunks[0].clone())]).await;
    eventually("the first chunk", || (count(s, &case_id, Action::RequestReceived) == 1).then_some(())).await;
    s.requester.publish(vec![Message::Request(chunks[1].clone())]).await;
    eventually("the second chunk", || (count(s, &case_id, Action::RequestReceived) == 2).then_some(())).await;
    s.stop_observatory().await;
    s.start_observatory().await;
    s.requester.publish(vec![Message::Request(chunks[2].clone())]).await;
    s.wait_state(&case_id, CaseState::Returned).await;

    let refused: BTreeMap<u32, Vec<String>> = eventually("both refusals", || {
        let refusals = s.requester.refusals(&case_id);
        (refusals.len() == 2).then(|| {
            refusals
                .iter()
                .map(|r| (r.request_chunk_index, r.persons.iter().map(|p| p.nir.clone()).collect()))
                .collect()
        })
    })
    .await;
    assert_eq!(refused[&1], vec![person(0).nir, person(3).nir], "across chunks, then within the chunk");
    assert_eq!(refused[&2], vec![person(1).nir], "across a restart");
    let result = eventually("the whole result", || s.requester.complete_result(&case_id)).await;
    let by_nir = persons_of(&result);
    assert_eq!(by_nir.keys().cloned().collect::<BTreeSet<_>>(), (0..5).map(|i| person(i).nir).collect());
}

/// A case whose messages fill several publish batches (450 persons in chunks of 3: 150
/// solicitation chunks a body and 150 result chunks, against batches of 64), published two
/// batches at a time: every chunk reaches its receiver exactly once and the outbox ends empty.
pub async fn many_publish_batches_each_message_once(s: &mut Stack) {
    const PERSONS: u32 = 450;
    let (case_id, result) = run_case(s, &CaseSpec::new((0..PERSONS).map(person).collect())).await;
    let chunks = result[0].chunk_count;
    assert!(chunks > 2 * 64, "{chunks} result chunks: more than two batches");
    let by_nir = persons_of(&result);
    assert_eq!(by_nir.keys().cloned().collect::<BTreeSet<_>>(), (0..PERSONS).map(|i| person(i).nir).collect());
    s.wait_state(&case_id, CaseState::Returned).await;
    assert_eq!(s.requester.results(&case_id).len(), chunks as usize, "no result chunk sent twice");
    for code in ["cnam", "cnav", "msa"] {
        let indexes: Vec<u32> = s.body(code).received().iter().map(|r| r.chunk_index).collect();
        assert_eq!(indexes.len(), chunks as usize, "{code}: each solicitation chunk once");
        assert_eq!(indexes.iter().copied().collect::<BTreeSet<_>>(), (0..chunks).collect());
    }
    assert_eq!(s.status().status().unwrap().outbox_depth, 0);
}

/// Refusals are told: a body that sends a misaddressed response and a requester that sends a
/// request without a case id each get a notice on their own queue (from the observatory, with
/// the reason code); a body that cannot handle a solicitation refuses it — the bus rejects it
/// (on RabbitMQ the broker dead-letters it) — and the observatory records the body's notice in
/// its audit trail.
pub async fn refusals_are_told_by_notices(s: &mut Stack) {
    let (cnav_inbox, cnav_consumer) = NoticeInbox::open(&s.body("cnav").bus, Queue::BodyNotices("cnav".into())).await;
    let (cnaf_inbox, cnaf_consumer) = NoticeInbox::open(&s.requester.bus, Queue::BodyNotices(REQUESTER.into())).await;

    // cnav answers msa's solicitation: refused, and cnav is told why.
    s.body("cnav").behaviour.silent.store(true, Ordering::SeqCst);
    s.body("msa").behaviour.refuse.store(true, Ordering::SeqCst);
    let case_id = s.requester.submit(&CaseSpec::new((0..3).map(person).collect())).await;
    let msa_solicitation = eventually("msa solicited", || s.body("msa").received().pop()).await;
    let mut misaddressed = s.body("cnav").response_to(&msa_solicitation);
    misaddressed.sender = "cnav".into();
    s.body("cnav").respond(misaddressed).await;
    let notice = eventually("cnav's notice", || cnav_inbox.notices().pop()).await;
    assert_eq!((notice.sender.as_str(), notice.recipient.as_str()), (OBSERVATORY, "cnav"));
    assert_eq!(notice.reason, v1::NoticeReason::NotPermitted as i32);
    assert_eq!(notice.case_id, case_id);
    assert_eq!(notice.refused_type, "passerelle.v1.Response");
    assert!(notice.detail.contains("was addressed to `msa`"), "{notice:?}");
    assert!(cnaf_inbox.notices().is_empty(), "only the refused party is told");

    // msa cannot handle its solicitations: each is refused and the observatory records msa's
    // notices (ids and the reason code, never content).
    let chunks = msa_solicitation.chunk_count as usize;
    eventually("msa's notices recorded", || (count(s, &case_id, Action::NoticeReceived) == chunks).then_some(())).await;
    for entry in s.status().audit_entries(Some(&case_id)).unwrap().iter().filter(|e| e.action == "notice_received") {
        let detail: serde_json::Value = serde_json::from_str(&entry.detail).unwrap();
        assert_eq!(detail["from"], "msa", "{detail}");
        assert_eq!(detail["code"], "NOTICE_REASON_INVALID", "{detail}");
        assert_eq!(detail["refused_type"], "passerelle.v1.Solicitation", "{detail}");
        assert_eq!(detail["reason"], "this body cannot handle it", "{detail}");
        assert!(entry.actor.contains("body:msa"), "{}", entry.actor);
    }
    if let Some(dead) = s.fabric.dead_letters() {
        let refused = dead.iter().filter(|d| d.queue.ends_with(".body.msa.solicitations")).count();
        assert_eq!(refused, chunks, "{dead:?}");
    }
    assert!(s.status().audit_verify().unwrap().broken.is_none());

    // A request without a case id: dead-lettered, and the requester is told.
    s.requester
        .publish(Requester::chunks("", &CaseSpec::new(vec![person(0)])).into_iter().map(Message::Request).collect())
        .await;
    let notice = eventually("the requester's notice", || cnaf_inbox.notices().pop()).await;
    assert_eq!((notice.recipient.as_str(), notice.reason), (REQUESTER, v1::NoticeReason::Invalid as i32));
    assert!(notice.detail.contains("case id is empty"), "{notice:?}");
    assert!(cnav_inbox.notices().len() == 1, "cnav was told once");

    // A witness message shares the notices queue; until the observatory witnesses, it is
    // refused as not handled here (audited, dead-lettered), and nobody is told.
    let checkpoint = v1::Checkpoint {
        schema_version: 1,
        sender: REQUESTER.into(),
        recipient: OBSERVATORY.into(),
        checkpoint: None,
        schema_minor: 0,
    };
    s.requester.publish(vec![Message::Checkpoint(checkpoint)]).await;
    let refused = |e: &passerelle_observatory_store::AuditRecord| {
        e.action == Action::DeadLetter.as_str() && e.detail.contains("passerelle.v1.Checkpoint")
    };
    let entry = eventually("the checkpoint refused", || {
        s.status().audit_entries(None).unwrap().into_iter().find(|e| refused(e))
    })
    .await;
    assert!(entry.detail.contains("NOTICE_REASON_WRONG_TYPE"), "{}", entry.detail);
    assert_eq!(cnaf_inbox.notices().len(), 1, "no notice about a witness message");
    cnav_consumer.stop().await;
    cnaf_consumer.stop().await;
}
