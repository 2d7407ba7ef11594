//! The persons' rights at a requester (decree art. 6; DESIGN §7.3; `rights.proto`), on the
//! in-process bus with a settable clock: an access request is answered with the selection row,
//! the values received and the offer's outcome, each with its dates; a person is found by a
//! former NIR; a person not held gets nothing; a rectification replaces the values held, marks
//! them and ranks the case again, and a second identical one changes nothing; a request from a
//! party that is not an observatory, or malformed, is dead-lettered unanswered; each request is
//! one access entry, however often it is delivered.
//!
//! The handler is driven directly ([`Requester::on_rights_request`]): the bus routing of rights
//! messages is another branch's work, so the answers are captured where the requester publishes
//! them.

#[path = "support/mod.rs"]
#[allow(unused_imports)]
mod support;

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use chrono::Datelike;
use indicatif::ProgressBar;
use passerelle_access_log::{AccessKind, StoredEntry};
use passerelle_bus::{Bus, BusError, BusSettings, Consumer, Handler, InProcessBus, Message, Outgoing, Queue, Verdict};
use passerelle_protocol::nir::Nir;
use passerelle_protocol::rules::{days, ManualClock};
use passerelle_protocol::v1::{self, Category, FamilySituation, HoldingKind, NoticeReason, RightsKind};
use passerelle_requester::service::NewOutcome;
use passerelle_requester::store::Outcome;
use passerelle_requester::{CaseState, Requester, RequesterError, RequesterSettings, SubmitRequest, Uuid};
use passerelle_selection::Encoding;
use support::*;
use tempfile::TempDir;

const SUD_EST: &str = "carsat-sud-est";
/// The requester party: a body without offices.
const PARTY: &str = "cnaf";

/// A bus that publishes through the in-process one, but keeps the rights answers (the rights
/// exchange is not in this branch's topology).
struct Capturing {
    inner: Arc<dyn Bus>,
    answers: Mutex<Vec<Outgoing>>,
}

#[async_trait::async_trait]
impl Bus for Capturing {
    async fn publish(&self, messages: Vec<Outgoing>) -> Result<(), BusError> {
        let (answers, rest): (Vec<_>, Vec<_>) =
            messages.into_iter().partition(|o| matches!(o.message, Message::RightsAnswer(_)));
        self.answers.lock().unwrap().extend(answers);
        if rest.is_empty() {
            return Ok(());
        }
        self.inner.publish(rest).await
    }

    async fn consume(&self, queue: Queue, handler: Arc<dyn Handler>) -> Result<Consumer, BusError> {
        self.inner.consume(queue, handler).await
    }
}

struct Office {
    _dir: TempDir,
    clock: ManualClock,
    requester: Requester,
    bus: Arc<Capturing>,
    case: Uuid,
    submitted_at: SystemTime,
    purge_after: SystemTime,
    received_at: SystemTime,
    consumers: Vec<Consumer>,
}

/// The selection: person 0 (former NIR: person 900's), person 2 (the selection says housing
/// aid: 1 point), person 4. cnav answers person 4 widowed (2 points), the others married.
fn selection_text() -> String {
    let mut text = String::from("nir,former_nirs,family_name,given_names,sex,birth_year,commune_code,housing_aid\n");
    for (n, former, housing) in [(0, nir(900), ""), (2, String::new(), "true"), (4, String::new(), "")] {
        text.push_str(&format!("{},{former},Zorglub{n:04},Ambrosine,M,1950,{MARSEILLE},{housing}\n", nir(n)));
    }
    text
}

impl Office {
    /// A requester of cnaf whose case went to carsat-sud-est and was answered a day after it
    /// was submitted.
    async fn answered() -> Office {
        let dir = TempDir::new().unwrap();
        let clock = ManualClock::starting_at(SystemTime::now());
        let bus_settings = BusSettings { observatories: vec![SUD_EST.into()], ..BusSettings::default() };
        let in_process = InProcessBus::new(&bus_settings);
        let mut settings = RequesterSettings::for_dir(PARTY, "caf-13", dir.path());
        settings.broker = bus_settings;
        let bus =
            Arc::new(Capturing { inner: Arc::new(in_process.connect_as("body-cnaf")), answers: Mutex::default() });
        let requester = Requester::build(settings, bus.clone(), Arc::new(clock.clone())).unwrap();
        let widowed = nir(4);
        let answers: Answers = Arc::new(move |p: &v1::RequestedPerson| {
            let situation = if p.nir == widowed { FamilySituation::Widowed } else { FamilySituation::Married };
            vec![found("cnav", |v| v.family_situation = Some(situation as i32))]
        });
        let bodies = vec![outcome("cnav", &[Category::FamilySituation], vec![])];
        let behaviour = Behaviour::Answer { answers, bodies, chunk: 10 };
        let (_, observatory) =
            FakeObservatory::start(SUD_EST, Arc::new(in_process.connect_as("obs-sud-est")), behaviour).await;
        let listening = requester.listen().await.unwrap();

        let request = SubmitRequest {
            selection: write(dir.path(), "selection.csv", selection_text().as_bytes()),
            encoding: Encoding::Utf8,
            wanted: vec![Category::FamilySituation],
            service: passerelle_protocol::v1::OfferedService::PreventionWorkshop,
            purpose: "Atelier prévention des chutes".into(),
            respond_by: days(7),
            out: None,
            strict: false,
        };
        let submitted = requester.prepare(&request, &mut |_| {}).unwrap();
        assert_eq!(submitted.selection.rejected, 0);
        let submission = requester.store().submission(submitted.submission).unwrap().unwrap();
        // The result arrives a day after the submission.
        clock.advance(days(1));
        let received_at = passerelle_protocol::rules::Clock::now(&clock);
        requester.send(&submitted.case_ids(), &ProgressBar::hidden()).await.unwrap();
        let case = submitted.case_ids()[0];
        passerelle_test_support::eventually_async("the case answered", || async {
            (requester.store().case(case).unwrap().unwrap().state == CaseState::Answered).then_some(())
        })
        .await;
        Office {
            _dir: dir,
            clock,
            requester,
            bus,
            case,
            submitted_at: submission.submitted_at,
            purge_after: submission.purge_after,
            received_at,
            consumers: vec![observatory, listening],
        }
    }

    fn now(&self) -> SystemTime {
        passerelle_protocol::rules::Clock::now(&self.clock)
    }

    fn request(&self, kind: RightsKind, nir: &str, former: &[String]) -> v1::RightsRequest {
        v1::RightsRequest {
            schema_minor: passerelle_protocol::SCHEMA_MINOR,
            schema_version: passerelle_bus::SCHEMA_VERSION,
            sender: SUD_EST.into(),
            request_id: Uuid::now_v7().to_string(),
            recipient: PARTY.into(),
            kind: kind as i32,
            nir: nir.to_owned(),
            former_nirs: former.to_vec(),
            corrected: None,
            asked_at: Some(self.now().into()),
            answer_by: Some((self.now() + days(20)).into()),
            basis: v1::LegalBasis::Decree2017334Art3 as i32,
        }
    }

    fn rectification(&self, nir: &str, set: impl FnOnce(&mut v1::CategoryValues)) -> v1::RightsRequest {
        let mut corrected = v1::CategoryValues::default();
        set(&mut corrected);
        v1::RightsRequest { corrected: Some(corrected), ..self.request(RightsKind::Rectification, nir, &[]) }
    }

    /// The contact list's lines in rank order.
    fn ranked_lines(&self) -> Vec<u64> {
        let page = self.requester.worklist(None, 100, false).unwrap();
        page.entries.iter().map(|e| e.line).collect()
    }

    fn entries_for(&self, request: &v1::RightsRequest) -> Vec<StoredEntry> {
        let log = self.requester.accesses().log();
        let object = format!("rights-{}", request.request_id);
        log.years()
            .unwrap()
            .into_iter()
            .flat_map(|y| log.entries(y, 1, 10_000).unwrap())
            .filter(|e| e.object == object)
            .collect()
    }

    fn answers(&self) -> Vec<Outgoing> {
        self.bus.answers.lock().unwrap().clone()
    }

    async fn stop(self) {
        for c in self.consumers {
            c.stop().await;
        }
    }
}

fn ts(t: SystemTime) -> Option<prost_types::Timestamp> {
    Some(t.into())
}

fn of_kind(answer: &v1::RightsAnswer, kind: HoldingKind) -> Vec<&v1::Holding> {
    answer.holdings.iter().filter(|h| h.kind == kind as i32).collect()
}

/// The selection's lines: person 0 on line 2, person 2 on line 3, person 4 on line 4.
const LINE_0: u64 = 2;
const LINE_2: u64 = 3;
const LINE_4: u64 = 4;

#[tokio::test]
async fn an_access_request_is_answered_with_the_selection_the_values_received_and_the_outcome() {
    let office = Office::answered().await;
    let zone = office.requester.settings().trails.time_zone.zone();
    let today = chrono::DateTime::<chrono::Utc>::from(office.now()).with_timezone(&zone).date_naive();
    let new = NewOutcome { case: office.case, line: LINE_2, outcome: Outcome::Declined, date: today };
    office.requester.record_offer_outcome("agent:sw-1:via:svc", "sw-1", &new).unwrap();

    let request = office.request(RightsKind::Access, &nir(2), &[]);
    let verdict = office.requester.on_rights_request(request.clone()).await;
    assert!(matches!(verdict, Verdict::Ack), "{verdict:?}");
    let sent = office.answers();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].routing_key, SUD_EST);
    assert_eq!(sent[0].expires_at, office.now() + days(20), "due by the request's answer_by");
    let Message::RightsAnswer(answer) = &sent[0].message else { panic!("{:?}", sent[0].message) };
    assert_eq!((answer.sender.as_str(), answer.recipient.as_str()), (PARTY, SUD_EST));
    assert_eq!((answer.request_id.as_str(), answer.kind), (request.request_id.as_str(), RightsKind::Access as i32));
    assert!(answer.rectified.is_empty() && answer.parties_to_ask.is_empty());
    assert_eq!(answer.holdings.len(), 3, "{:?}", answer.holdings);

    let case = office.case.to_string();
    let selection = of_kind(answer, HoldingKind::Selection);
    assert_eq!(selection.len(), 1);
    assert_eq!(selection[0].case_id, case);
    assert_eq!(selection[0].requester, PARTY);
    assert_eq!((selection[0].since, selection[0].until), (ts(office.submitted_at), ts(office.purge_after)));
    assert!(office.purge_after <= office.submitted_at + days(731), "24 months at most");
    assert_eq!(selection[0].values.len(), 1);
    assert_eq!(selection[0].values[0].source, PARTY);
    assert_eq!(selection[0].values[0].values.as_ref().unwrap().housing_aid, Some(true));

    let received = of_kind(answer, HoldingKind::ReceivedValues);
    assert_eq!(received.len(), 1);
    assert_eq!((received[0].since, received[0].until), (ts(office.received_at), ts(office.purge_after)));
    assert_ne!(office.received_at, office.submitted_at);
    assert_eq!(received[0].values.len(), 1);
    assert_eq!(received[0].values[0].source, "cnav");
    let married = Some(FamilySituation::Married as i32);
    assert_eq!(received[0].values[0].values.as_ref().unwrap().family_situation, married);

    let outcome = of_kind(answer, HoldingKind::OfferOutcome);
    assert_eq!(outcome.len(), 1);
    assert_eq!(outcome[0].outcome, v1::OfferOutcome::Declined as i32);
    let day = outcome[0].outcome_date.unwrap();
    assert_eq!((day.year, day.month, day.day), (today.year_ce().1, today.month(), today.day()));
    assert_eq!(outcome[0].until, ts(office.purge_after));

    // One access entry: a read of `rights-<id>` by the daemon, about the person's keyed hash.
    let entries = office.entries_for(&request);
    assert_eq!(entries.len(), 1);
    assert_eq!((entries[0].agent.as_str(), entries[0].kind), ("daemon:requester", AccessKind::Read));
    let person = office.requester.accesses().person(&Nir::parse(&nir(2)).unwrap());
    assert_eq!(entries[0].person.as_ref(), Some(&person));

    // Delivered again: answered again, in full, and not logged again.
    office.requester.on_rights_request(request.clone()).await;
    let sent = office.answers();
    assert_eq!(sent.len(), 2);
    let Message::RightsAnswer(again) = &sent[1].message else { panic!() };
    assert_eq!(again.holdings, answer.holdings);
    assert_eq!(office.entries_for(&request).len(), 1);

    // Past its answer_by: a week from now, within the request's 30-day cap.
    let late = v1::RightsRequest {
        asked_at: ts(office.now() - days(25)),
        answer_by: ts(office.now() - days(1)),
        request_id: Uuid::now_v7().to_string(),
        ..request
    };
    office.requester.on_rights_request(late).await;
    assert_eq!(office.answers()[2].expires_at, office.now() + days(5), "the 30-day cap comes first");
    office.stop().await;
}

#[tokio::test]
async fn a_person_is_found_by_a_former_nir_and_a_person_not_held_gets_nothing() {
    let office = Office::answered().await;
    let case = office.case.to_string();
    // Person 0's selection gave person 900's NIR as a former one.
    let answer = office.requester.answer_rights(&office.request(RightsKind::Access, &nir(900), &[])).unwrap();
    assert!(!answer.holdings.is_empty() && answer.holdings.iter().all(|h| h.case_id == case), "{answer:?}");
    // The request names person 0's NIR as a former one of a new NIR.
    let answer = office.requester.answer_rights(&office.request(RightsKind::Access, &nir(901), &[nir(0)])).unwrap();
    assert_eq!(of_kind(&answer, HoldingKind::Selection).len(), 1);
    assert_eq!(of_kind(&answer, HoldingKind::ReceivedValues).len(), 1);
    assert!(of_kind(&answer, HoldingKind::OfferOutcome).is_empty(), "no outcome recorded");
    // Nobody here: nothing held, and still answered and logged.
    let nobody = office.request(RightsKind::Access, &nir(777), &[nir(778)]);
    let verdict = office.requester.on_rights_request(nobody.clone()).await;
    assert!(matches!(verdict, Verdict::Ack), "{verdict:?}");
    let Message::RightsAnswer(answer) = &office.answers()[0].message else { panic!() };
    assert!(answer.holdings.is_empty() && answer.rectified.is_empty(), "{answer:?}");
    assert_eq!(office.entries_for(&nobody).len(), 1);
    // A purged case holds nobody.
    office.clock.advance(days(740));
    office.requester.purge().unwrap();
    let answer = office.requester.answer_rights(&office.request(RightsKind::Access, &nir(2), &[])).unwrap();
    assert!(answer.holdings.is_empty(), "{answer:?}");
    office.stop().await;
}

#[tokio::test]
async fn a_rectification_replaces_the_values_held_marks_them_and_ranks_the_case_again_once() {
    let office = Office::answered().await;
    let case = office.case.to_string();
    // Person 4 widowed (2), person 2 housing aid (1), person 0 nothing.
    assert_eq!(office.ranked_lines(), [LINE_4, LINE_2, LINE_0]);

    // Person 0 is in fact widowed; the RSA, which nobody holds here, is not created.
    let widowed = Some(FamilySituation::Widowed as i32);
    let request = office.rectification(&nir(0), |v| {
        v.family_situation = widowed;
        v.rsa = Some(true);
    });
    assert!(matches!(office.requester.on_rights_request(request.clone()).await, Verdict::Ack));
    let Message::RightsAnswer(answer) = &office.answers()[0].message else { panic!() };
    let rectified = v1::Rectified {
        kind: HoldingKind::ReceivedValues as i32,
        case_id: case.clone(),
        category: Category::FamilySituation as i32,
    };
    assert_eq!(answer.rectified, std::slice::from_ref(&rectified));
    let received = of_kind(answer, HoldingKind::ReceivedValues);
    let values = received[0].values[0].values.clone().unwrap();
    assert_eq!((values.family_situation, values.rsa), (widowed, None), "replaced, nothing created");
    assert!(of_kind(answer, HoldingKind::Selection)[0].values.is_empty(), "no risk factor created");
    // Marked, and ranked again at once: a tie with person 4 (2 points), broken by the NIR.
    let marks = office.requester.store().rectifications_of(office.case).unwrap();
    assert_eq!(marks.len(), 1);
    assert_eq!((marks[0].0, marks[0].1), (LINE_0, Category::FamilySituation));
    let ranking = serde_json::to_string(&office.requester.settings().ranking).unwrap();
    assert_eq!(office.requester.store().worklist_order(office.case, &ranking).unwrap(), Some(3), "ranked again");
    assert_eq!(office.ranked_lines(), [LINE_0, LINE_4, LINE_2]);
    let entries = office.entries_for(&request);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].kind, AccessKind::Update);

    // Delivered again: the same changes answered, nothing logged or changed again.
    office.requester.on_rights_request(request.clone()).await;
    let Message::RightsAnswer(again) = &office.answers()[1].message else { panic!() };
    assert_eq!(again.rectified, [rectified]);
    assert_eq!(office.entries_for(&request).len(), 1);

    // A second identical rectification changes nothing.
    let second = office.rectification(&nir(0), |v| v.family_situation = widowed);
    let answer = office.requester.answer_rights(&second).unwrap();
    assert!(answer.rectified.is_empty(), "{answer:?}");
    assert_eq!(office.requester.store().rectifications_of(office.case).unwrap(), marks);
    assert_eq!(office.ranked_lines(), [LINE_0, LINE_4, LINE_2]);
    assert_eq!(office.entries_for(&second).len(), 1, "still traced");

    // Person 2's housing aid, a risk factor of the selection, was wrong: replaced in the
    // selection's row and cell, and the person falls to last.
    let third = office.rectification(&nir(2), |v| v.housing_aid = Some(false));
    let answer = office.requester.answer_rights(&third).unwrap();
    assert_eq!(answer.rectified.len(), 1);
    assert_eq!(answer.rectified[0].kind, HoldingKind::Selection as i32);
    let selection = of_kind(&answer, HoldingKind::Selection);
    assert_eq!(selection[0].values[0].values.as_ref().unwrap().housing_aid, Some(false));
    assert_eq!(office.ranked_lines(), [LINE_0, LINE_4, LINE_2]);
    let (written, _) = office
        .requester
        .write_result(office.requester.store().case(office.case).unwrap().unwrap().submission_id)
        .unwrap();
    assert_eq!(written.persons, 3);
    let csv = std::fs::read_to_string(&written.files[0]).unwrap();
    let row = csv.lines().find(|l| l.contains("Zorglub0002")).unwrap();
    assert!(row.contains("false") && !row.contains("true"), "the result shows the rectified value: {row}");

    // The marks go with the case at the purge.
    office.clock.advance(days(740));
    office.requester.purge().unwrap();
    assert!(office.requester.store().rectifications_of(office.case).unwrap().is_empty());
    office.stop().await;
}

#[tokio::test]
async fn a_request_not_from_an_observatory_or_malformed_is_dead_lettered_unanswered() {
    let office = Office::answered().await;
    let good = office.request(RightsKind::Access, &nir(2), &[]);
    let mut bad_nir = nir(2);
    bad_nir.replace_range(13.., "00");
    let cases: [(v1::RightsRequest, NoticeReason, &str); 7] = [
        (v1::RightsRequest { sender: "cnam".into(), ..good.clone() }, NoticeReason::NotPermitted, "not an observatory"),
        (v1::RightsRequest { recipient: "msa".into(), ..good.clone() }, NoticeReason::NotPermitted, "not for cnaf"),
        (v1::RightsRequest { nir: bad_nir.clone(), ..good.clone() }, NoticeReason::Invalid, "nir:"),
        (v1::RightsRequest { former_nirs: vec![bad_nir], ..good.clone() }, NoticeReason::Invalid, "former_nirs[0]"),
        (v1::RightsRequest { kind: 0, ..good.clone() }, NoticeReason::Invalid, "kind:"),
        (
            v1::RightsRequest { former_nirs: vec![nir(3); 17], ..good.clone() },
            NoticeReason::Invalid,
            "former_nirs: 17 former NIRs",
        ),
        (
            v1::RightsRequest { kind: RightsKind::Rectification as i32, ..good.clone() },
            NoticeReason::Invalid,
            "corrected:",
        ),
    ];
    for (request, code, says) in cases {
        let verdict = office.requester.on_rights_request(request.clone()).await;
        let Verdict::DeadLetter(reason) = verdict else { panic!("{says}: {verdict:?}") };
        assert_eq!(reason.code, code, "{says}");
        assert!(reason.text.contains(says), "{says}: {}", reason.text);
        assert!(!reason.text.contains(&nir(2)[..13]), "no NIR in a reason: {}", reason.text);
        assert!(matches!(office.requester.answer_rights(&request), Err(RequesterError::RightsRefused(..))));
        assert!(office.entries_for(&request).is_empty(), "{says}: nothing read, nothing logged");
    }
    assert!(office.answers().is_empty(), "nobody is answered");
    office.stop().await;
}

#[tokio::test]
async fn a_rectification_to_a_value_outside_its_category_is_dead_lettered_and_changes_nothing() {
    let office = Office::answered().await;
    let before = office.requester.answer_rights(&office.request(RightsKind::Access, &nir(4), &[])).unwrap();
    type Set = fn(&mut v1::CategoryValues);
    let not_values: [(Set, &str); 3] = [
        (|v| v.family_situation = Some(FamilySituation::Unspecified as i32), "family_situation"),
        (
            |v| {
                v.housing_aid = Some(true);
                v.family_situation = Some(99);
            },
            "unknown value",
        ),
        (|v| v.pension_start_date = Some(v1::Date { year: 2024, month: 13, day: 40 }), "pension_start_date"),
    ];
    for (set, says) in not_values {
        let request = office.rectification(&nir(4), set);
        let verdict = office.requester.on_rights_request(request.clone()).await;
        let Verdict::DeadLetter(reason) = verdict else { panic!("{says}: {verdict:?}") };
        assert_eq!(reason.code, NoticeReason::Invalid, "{says}");
        assert!(reason.text.starts_with("corrected:") && reason.text.contains(says), "{says}: {}", reason.text);
        assert!(office.entries_for(&request).is_empty(), "{says}: nothing read, nothing logged");
    }
    assert!(office.answers().is_empty(), "nobody is answered");
    assert!(office.requester.store().rectifications_of(office.case).unwrap().is_empty(), "nothing marked");
    let after = office.requester.answer_rights(&office.request(RightsKind::Access, &nir(4), &[])).unwrap();
    assert_eq!(after.holdings, before.holdings, "the person's values are unchanged");
    office.stop().await;
}

#[tokio::test]
async fn a_rectification_past_its_cap_is_neither_applied_nor_logged() {
    let office = Office::answered().await;
    let mut stale = office.rectification(&nir(0), |v| v.family_situation = Some(FamilySituation::Widowed as i32));
    stale.asked_at = ts(office.now() - days(31));
    stale.answer_by = ts(office.now() - days(1));
    assert!(matches!(office.requester.on_rights_request(stale.clone()).await, Verdict::Ack));
    assert!(office.answers().is_empty(), "not answered");
    assert!(office.entries_for(&stale).is_empty(), "not read");
    assert!(office.requester.store().rectifications_of(office.case).unwrap().is_empty(), "nothing changed");
    office.stop().await;
}
