//! The observatory as a party asked by a rights request (decree art. 6, `rights.proto`), on the
//! in-process bus: a peer observatory of the deployment (`cnav-idf`, played by the test) asks,
//! and reads the answers on its own rights queue.

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use common::{eventually, person, CaseSpec, Fabric, Stack, OBSERVATORY, REQUESTER};
use passerelle_bus::{Bus, Consumer, Delivery, Handler, InProcessBus, Message, Outgoing, Queue, Verdict};
use passerelle_observatory_store::CaseState;
use passerelle_protocol::rules::{days, Clock};
use passerelle_protocol::v1::{self, Category, CategoryValues, FamilySituation, HoldingKind, RightsKind};

/// The asking observatory, played by the test.
const ASKER: &str = "cnav-idf";

/// The asker's rights queue: every answer received, and the requests the observatory's desk
/// sent it.
#[derive(Default)]
struct Answers(Mutex<Vec<v1::RightsAnswer>>, Mutex<Vec<v1::RightsRequest>>);

#[async_trait::async_trait]
impl Handler for Answers {
    async fn handle(&self, delivery: Delivery) -> Verdict {
        match delivery.message {
            Message::RightsAnswer(a) => self.0.lock().unwrap().push(a),
            Message::RightsRequest(r) => self.1.lock().unwrap().push(r),
            _ => {}
        }
        Verdict::Ack
    }
}

struct Asker {
    bus: Arc<dyn Bus>,
    answers: Arc<Answers>,
    consumer: Consumer,
}

impl Asker {
    async fn start(bus: &InProcessBus) -> Asker {
        let bus: Arc<dyn Bus> = Arc::new(bus.connect_as(ASKER));
        let answers = Arc::new(Answers::default());
        let consumer = bus
            .consume(Queue::ObservatoryRights(ASKER.into()), Arc::clone(&answers) as Arc<dyn Handler>)
            .await
            .expect("the asker's rights queue");
        Asker { bus, answers, consumer }
    }

    /// Publishes a request; returns its id.
    async fn ask(&self, kind: RightsKind, nir: &str, corrected: Option<CategoryValues>) -> String {
        self.ask_with(kind, nir, corrected, |_| {}).await
    }

    /// Publishes a request changed by `change`; returns its id.
    async fn ask_with(
        &self,
        kind: RightsKind,
        nir: &str,
        corrected: Option<CategoryValues>,
        change: impl FnOnce(&mut v1::RightsRequest),
    ) -> String {
        let request_id = uuid::Uuid::now_v7().to_string();
        let now = SystemTime::now();
        let request = v1::RightsRequest {
            schema_minor: passerelle_protocol::SCHEMA_MINOR,
            schema_version: 1,
            sender: ASKER.into(),
            request_id: request_id.clone(),
            recipient: OBSERVATORY.into(),
            kind: kind as i32,
            nir: nir.into(),
            former_nirs: vec![],
            corrected,
            asked_at: Some(now.into()),
            answer_by: Some((now + days(30)).into()),
            basis: v1::LegalBasis::Decree2017334Art3 as i32,
        };
        let mut request = request;
        change(&mut request);
        let o = Outgoing::new(Message::RightsRequest(request), OBSERVATORY, now + days(30));
        self.bus.publish(vec![o]).await.expect("the rights request is published");
        request_id
    }

    async fn answer(&self, request_id: &str) -> v1::RightsAnswer {
        eventually("the rights answer", || {
            self.answers.0.lock().unwrap().iter().find(|a| a.request_id == request_id).cloned()
        })
        .await
    }
}

/// The stack with a second observatory in the deployment, the asker.
async fn stack() -> (Stack, InProcessBus, Asker) {
    let mut settings = Fabric::in_process().settings();
    settings.observatories.push(ASKER.into());
    let bus = InProcessBus::new(&settings);
    let s = Stack::start(Fabric::InProcess(bus.clone(), settings), 3000).await;
    let asker = Asker::start(&bus).await;
    (s, bus, asker)
}

fn kinds(answer: &v1::RightsAnswer) -> Vec<(HoldingKind, String)> {
    answer.holdings.iter().map(|h| (h.kind(), h.case_id.clone())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_held_in_a_case_in_flight_and_in_the_statistics_is_answered_and_rectified_once() {
    let (s, _bus, asker) = stack().await;
    let persons: Vec<v1::RequestedPerson> = (0..4).map(person).collect();
    // A first case, returned and acknowledged: purged, its statistics rows written.
    let spec = CaseSpec::new(persons.clone());
    let past = s.requester.submit(&spec).await;
    let result = eventually("the first result", || s.requester.complete_result(&past)).await;
    s.requester.receipt(&past, result[0].chunk_count).await;
    s.wait_state(&past, CaseState::Purged).await;
    // A second case with the same persons, still in flight (no receipt).
    let live = s.requester.submit(&spec).await;
    s.wait_state(&live, CaseState::Returned).await;

    let started = std::time::Instant::now();
    let request_id = asker.ask(RightsKind::Access, &persons[0].nir, None).await;
    let answer = asker.answer(&request_id).await;
    assert_eq!((answer.sender.as_str(), answer.recipient.as_str()), (OBSERVATORY, ASKER));
    assert_eq!(answer.kind(), RightsKind::Access);
    assert_eq!(
        kinds(&answer),
        [(HoldingKind::CaseInFlight, live.clone()), (HoldingKind::Statistics, past.clone())],
        "{answer:#?}"
    );
    assert_eq!(answer.parties_to_ask, [REQUESTER]);
    let in_flight = &answer.holdings[0];
    assert_eq!(in_flight.requester, REQUESTER);
    assert!(in_flight.until.unwrap().seconds > in_flight.since.unwrap().seconds, "until the case's purge cap");
    let sources: Vec<&str> = in_flight.values.iter().map(|v| v.source.as_str()).collect();
    assert!(sources.contains(&REQUESTER) && sources.contains(&"cnav"), "{sources:?}");
    let statistics = &answer.holdings[1];
    let (since, until) = (statistics.since.unwrap().seconds, statistics.until.unwrap().seconds);
    assert_eq!(until - since, 1826 * 86_400, "kept 5 years from its recording");
    assert!(statistics
        .values
        .iter()
        .any(|v| v.source == "cnav"
            && v.values.as_ref().unwrap().family_situation == Some(FamilySituation::Widowed as i32)));
    assert!(answer.rectified.is_empty());

    // Rectification: every source's family situation in the statistics rows, once.
    let corrected = CategoryValues { family_situation: Some(FamilySituation::Divorced as i32), ..Default::default() };
    let first = asker.ask(RightsKind::Rectification, &persons[0].nir, Some(corrected.clone())).await;
    let first = asker.answer(&first).await;
    assert_eq!(first.rectified.len(), 1, "{first:#?}");
    assert_eq!(
        (first.rectified[0].kind(), first.rectified[0].case_id.as_str(), first.rectified[0].category()),
        (HoldingKind::Statistics, past.as_str(), Category::FamilySituation)
    );
    let rectified = first.holdings.iter().find(|h| h.kind() == HoldingKind::Statistics).unwrap();
    for v in &rectified.values {
        let family = v.values.as_ref().unwrap().family_situation;
        assert!(family.is_none() || family == Some(FamilySituation::Divorced as i32), "{rectified:#?}");
    }
    let second = asker.ask(RightsKind::Rectification, &persons[0].nir, Some(corrected)).await;
    let second = asker.answer(&second).await;
    assert!(second.rectified.is_empty(), "a second identical rectification changes nothing");
    assert_eq!(kinds(&second), kinds(&first));

    // The person found under a former NIR, the request naming another current one.
    let renumbered = common::nir(2950, 1950);
    let former =
        asker.ask_with(RightsKind::Access, &renumbered, None, |r| r.former_nirs = vec![persons[0].nir.clone()]).await;
    assert_eq!(kinds(&asker.answer(&former).await), kinds(&answer), "matched on a former NIR");

    // Another person of the same cases keeps their values.
    let other = asker.ask(RightsKind::Access, &persons[3].nir, None).await;
    let other = asker.answer(&other).await;
    let row = other.holdings.iter().find(|h| h.kind() == HoldingKind::Statistics).unwrap();
    assert!(row
        .values
        .iter()
        .all(|v| v.values.as_ref().unwrap().family_situation != Some(FamilySituation::Divorced as i32)));

    // The access log: one entry per answer, about the person, `read` then `update`.
    let log = s.accesses().log();
    let mut entries = Vec::new();
    for year in log.years().unwrap() {
        entries
            .extend(log.entries(year, 1, 1_000_000).unwrap().into_iter().filter(|e| e.object.starts_with("rights-")));
    }
    let of = |id: &str| entries.iter().filter(|e| e.object == format!("rights-{id}")).collect::<Vec<_>>();
    let access = of(&request_id);
    assert_eq!(access.len(), 1, "{entries:#?}");
    assert_eq!((access[0].agent.as_str(), access[0].kind.as_str()), ("daemon:observatory", "read"));
    assert!(access[0].concerns_person && access[0].person.is_some(), "about the person");
    assert_eq!(of(&first.request_id)[0].kind.as_str(), "update");
    let audit = s.status().audit_entries(None).unwrap();
    let answered: Vec<_> = audit.iter().filter(|e| e.action == "rights_answered").collect();
    assert_eq!(answered.len(), 5);
    assert!(answered.iter().all(|e| !e.detail.contains(&persons[0].nir)), "no NIR in the audit trail");
    eprintln!("rights scenario answered in {:?}", started.elapsed());
    asker.consumer.stop().await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_held_nowhere_gets_an_empty_answer_and_malformed_requests_are_dead_lettered() {
    let (s, bus, asker) = stack().await;
    let nobody = person(2900);
    let request_id = asker.ask(RightsKind::Access, &nobody.nir, None).await;
    let answer = asker.answer(&request_id).await;
    assert!(answer.holdings.is_empty() && answer.parties_to_ask.is_empty() && answer.rectified.is_empty());

    let unspecified = asker.ask(RightsKind::Unspecified, &nobody.nir, None).await;
    // A wrong key: the parser's words would quote the right one.
    let mut wrong_key = nobody.nir.clone();
    wrong_key.replace_range(13.., if &nobody.nir[13..] == "00" { "01" } else { "00" });
    let malformed = asker.ask(RightsKind::Access, &wrong_key, None).await;
    let empty = asker.ask(RightsKind::Rectification, &nobody.nir, Some(CategoryValues::default())).await;
    let too_many =
        asker.ask_with(RightsKind::Access, &nobody.nir, None, |r| r.former_nirs = vec![nobody.nir.clone(); 17]).await;
    let unknown = CategoryValues { housing_aid: Some(true), family_situation: Some(99), ..Default::default() };
    let not_a_value = asker.ask(RightsKind::Rectification, &nobody.nir, Some(unknown)).await;
    let elsewhere = asker.ask_with(RightsKind::Access, &nobody.nir, None, |r| r.recipient = "carsat-ne".into()).await;
    let dead = eventually("six dead-letters", || {
        let d = bus.dead_letters();
        (d.len() >= 6).then_some(d)
    })
    .await;
    let reasons: Vec<&str> = dead.iter().map(|d| d.reason.as_str()).collect();
    assert!(reasons.iter().any(|r| r.contains("names no kind")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.starts_with("nir:")), "{reasons:?}");
    let nir_reasons = reasons.iter().filter(|r| r.starts_with("nir:"));
    assert!(nir_reasons.clone().all(|r| !r.chars().any(|c| c.is_ascii_digit())), "no digit of a NIR: {reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("without a corrected value")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.starts_with("former_nirs: 17 former NIRs")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.starts_with("corrected: a field no category")), "{reasons:?}");
    // The bus refuses a request addressed elsewhere before the handler sees it.
    assert!(reasons.iter().any(|r| r.contains("for \"carsat-ne\" on the queue of")), "{reasons:?}");
    assert!(reasons.iter().all(|r| !r.contains(&nobody.nir)), "no NIR in a reason");
    let answered = asker.answers.0.lock().unwrap().iter().map(|a| a.request_id.clone()).collect::<Vec<_>>();
    for refused in [&unspecified, &malformed, &empty, &too_many, &not_a_value, &elsewhere] {
        assert!(!answered.contains(refused), "a refused request is not answered");
    }
    asker.consumer.stop().await;
    s.shutdown().await;
}

/// The desk's wiring (needs `crates/rights` implemented: run once the rights desk is merged):
/// the officer's request goes to both observatories of the deployment, this one answers itself
/// through the bus, the peer's answer is recorded, the requester party named is asked, and at
/// the deadline the silent party is listed unanswered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desk_asks_the_observatories_then_the_parties_they_name() {
    let (s, _bus, asker) = stack().await;
    let persons: Vec<v1::RequestedPerson> = (0..4).map(person).collect();
    let live = s.requester.submit(&CaseSpec::new(persons.clone())).await;
    s.wait_state(&live, CaseState::Returned).await;
    let desk = s.rights_desk().clone();
    let opening = passerelle_rights::Opening {
        kind: passerelle_rights::RightsKind::Access,
        nir: passerelle_protocol::nir::Nir::parse(&persons[0].nir).unwrap(),
        former_nirs: vec![],
        corrected: CategoryValues::default(),
        opened_by: "officer".into(),
        identity_checked_by: "officer".into(),
    };
    let request_id = desk.open_request(opening, s.clock.now()).unwrap();
    let asked = eventually("the peer observatory is asked", || {
        asker.answers.1.lock().unwrap().iter().find(|r| r.request_id == request_id).cloned()
    })
    .await;
    assert_eq!((asked.sender.as_str(), asked.recipient.as_str()), (OBSERVATORY, ASKER));
    // The peer holds nothing.
    let empty = v1::RightsAnswer {
        schema_version: 1,
        sender: ASKER.into(),
        request_id: request_id.clone(),
        recipient: OBSERVATORY.into(),
        kind: RightsKind::Access as i32,
        answered_at: Some(SystemTime::now().into()),
        ..Default::default()
    };
    let o = Outgoing::new(Message::RightsAnswer(empty), OBSERVATORY, SystemTime::now() + days(30));
    asker.bus.publish(vec![o]).await.unwrap();
    // Both observatories answered, this one with its case in flight; the requester is asked.
    let answer = eventually("both observatories answered and the requester asked", || {
        let a = desk.answer(&request_id, s.clock.now()).ok()?;
        let answered = a.parties.iter().filter(|p| p.answered_at.is_some()).count();
        (answered == 2 && a.parties.iter().any(|p| p.party == REQUESTER)).then_some(a)
    })
    .await;
    let own = answer.parties.iter().find(|p| p.party == OBSERVATORY).unwrap();
    assert!(own.holdings.iter().any(|h| h.kind == passerelle_rights::HoldingKind::CaseInFlight && h.case_id == live));
    // The requester never answers: at the deadline the request is answered without it.
    s.clock.advance(days(31));
    let done = eventually("answered at the deadline", || {
        desk.answer(&request_id, s.clock.now()).ok().filter(|a| a.state == passerelle_rights::RequestState::Answered)
    })
    .await;
    assert_eq!(done.unanswered().map(|p| p.party.as_str()).collect::<Vec<_>>(), [REQUESTER]);
    asker.consumer.stop().await;
    s.shutdown().await;
}

/// A peer observatory's answer may name only requester parties of the deployment: a social
/// service (another processing), an observatory, an office the deployment does not declare or a
/// stranger is never asked, and the person's answer does not list them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desk_asks_only_the_requester_parties_of_the_deployment_a_peer_names() {
    let (s, _bus, asker) = stack().await;
    let desk = s.rights_desk().clone();
    let opening = passerelle_rights::Opening {
        kind: passerelle_rights::RightsKind::Access,
        nir: passerelle_protocol::nir::Nir::parse(&person(2950).nir).unwrap(),
        former_nirs: vec![],
        corrected: CategoryValues::default(),
        opened_by: "officer".into(),
        identity_checked_by: "officer".into(),
    };
    let request_id = desk.open_request(opening, s.clock.now()).unwrap();
    eventually("the peer observatory is asked", || {
        asker.answers.1.lock().unwrap().iter().any(|r| r.request_id == request_id).then_some(())
    })
    .await;
    let named = [OBSERVATORY, "cnam.ss-13", "cnaf.caf-13", "stranger", "cnaf", REQUESTER];
    let answer = v1::RightsAnswer {
        schema_version: 1,
        sender: ASKER.into(),
        request_id: request_id.clone(),
        recipient: OBSERVATORY.into(),
        kind: RightsKind::Access as i32,
        parties_to_ask: named.iter().map(|p| p.to_string()).collect(),
        answered_at: Some(SystemTime::now().into()),
        ..Default::default()
    };
    let o = Outgoing::new(Message::RightsAnswer(answer), OBSERVATORY, SystemTime::now() + days(30));
    asker.bus.publish(vec![o]).await.unwrap();
    let answer = eventually("both observatories answered", || {
        let a = desk.answer(&request_id, s.clock.now()).ok()?;
        (a.parties.iter().filter(|p| p.answered_at.is_some()).count() == 2).then_some(a)
    })
    .await;
    let parties: Vec<&str> = answer.parties.iter().map(|p| p.party.as_str()).collect();
    assert_eq!(parties.len(), 3, "{parties:?}");
    assert!(parties.contains(&OBSERVATORY) && parties.contains(&ASKER) && parties.contains(&REQUESTER), "{parties:?}");
    asker.consumer.stop().await;
    s.shutdown().await;
}
