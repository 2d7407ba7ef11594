//! Unit tests of the two rights messages on the in-process bus (`rights.proto`): a request from
//! the competent observatory routed to an observatory's, a requester office's and a requester
//! body's rights queue, the answer back to the observatory's, and the refusals — a request from
//! a requester, an answer on another party's queue, a `correlation_id` that is not the request
//! id — dead-lettered with their reason, nobody told.

use std::time::{Duration, SystemTime};

use passerelle_protocol::v1;

use crate::envelope::Envelope;
use crate::seen_tests::{next, seen};
use crate::topology::Exchange;
use crate::{Bus, BusError, BusSettings, InProcessBus, Kind, Message, Outgoing, Queue, Role};

const OBS: &str = "carsat-sud-est";
const PEER: &str = "cramif";
const OFFICE: &str = "cnaf.caf-13";
const BODY: &str = "cnam";
const REQUEST_ID: &str = "0190a0b0-0000-7000-8000-0000000000d1";

/// Two observatories, a body with offices (cnaf), bodies without (cnam…), a social service;
/// one broker user per party.
fn deployment() -> BusSettings {
    let mut s = BusSettings { observatories: vec![OBS.into(), PEER.into()], ..Default::default() };
    s.identity.insecure_any_user = false;
    s.offices.insert("cnaf".into(), vec!["caf-13".into(), "caf-84".into()]);
    s.social_services.insert(OBS.into(), vec!["ss-13".into()]);
    for (user, party) in [
        ("u-obs", OBS),
        ("u-peer", PEER),
        ("u-caf-13", OFFICE),
        ("u-caf-84", "cnaf.caf-84"),
        ("u-cnaf", "cnaf"),
        ("u-cnam", BODY),
        ("u-ss-13", "carsat-sud-est.ss-13"),
    ] {
        s.identity.users.insert(user.into(), vec![party.into()]);
    }
    s
}

fn request(sender: &str, recipient: &str) -> Message {
    Message::RightsRequest(v1::RightsRequest {
        schema_version: 1,
        sender: sender.into(),
        request_id: REQUEST_ID.into(),
        recipient: recipient.into(),
        kind: v1::RightsKind::Access as i32,
        nir: "2850575123456".into(),
        ..Default::default()
    })
}

fn answer(sender: &str, recipient: &str) -> Message {
    Message::RightsAnswer(v1::RightsAnswer {
        schema_version: 1,
        sender: sender.into(),
        request_id: REQUEST_ID.into(),
        recipient: recipient.into(),
        kind: v1::RightsKind::Access as i32,
        ..Default::default()
    })
}

fn out(m: Message) -> Outgoing {
    Outgoing::to_recipient(m, SystemTime::now() + Duration::from_secs(3600))
        .expect("a rights message names its recipient")
}

/// Every notice queue of the deployment is empty: nobody was told.
fn nobody_told(bus: &InProcessBus, s: &BusSettings) {
    for q in crate::topology::Topology::flow_queues(s).into_iter().filter(Queue::is_notice_queue) {
        assert_eq!(bus.ready(&q), 0, "a notice in {}", q.name("passerelle"));
    }
}

#[test]
fn the_rights_queues_belong_to_observatories_offices_and_bodies_without_offices() {
    let s = deployment();
    let names: Vec<(String, Queue)> =
        crate::topology::Topology::flow_queues(&s).into_iter().map(|q| (q.name("p"), q)).collect();
    let rights: Vec<&str> =
        names.iter().filter(|(_, q)| q.binding().0 == Exchange::Rights).map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        rights,
        [
            "p.observatory.carsat-sud-est.rights",
            "p.observatory.cramif.rights",
            "p.body.cnam.rights",
            "p.body.cnav.rights",
            "p.body.msa.rights",
            "p.requester.cnaf.caf-13.rights",
            "p.requester.cnaf.caf-84.rights",
        ]
    );
    assert_eq!(Role::Body("cnaf".into()).rights_queue(&s), None, "a body with offices is asked through them");
    assert_eq!(Role::SocialService("carsat-sud-est.ss-13".into()).rights_queue(&s), None);
    let social = Role::SocialService("carsat-sud-est.ss-13".into());
    assert!(!social.publishes_to(&s).contains(&Exchange::Rights), "a social service is never asked");
    assert!(!Role::Body("cnaf".into()).publishes_to(&s).contains(&Exchange::Rights), "its offices answer");
    for role in [Role::Observatory(OBS.into()), Role::Office(OFFICE.into()), Role::Body(BODY.into())] {
        assert!(role.publishes_to(&s).contains(&Exchange::Rights), "{}", role.label());
        assert!(role.queues(&s).contains(&role.rights_queue(&s).unwrap()), "{}", role.label());
    }
    let office = Queue::OfficeRights(OFFICE.into());
    assert!(office.accepts(Kind::RightsRequest) && !office.accepts(Kind::RightsAnswer));
    assert!(!office.accepts(Kind::Request) && !Queue::OfficeResults(OFFICE.into()).accepts(Kind::RightsRequest));
    let obs = Queue::ObservatoryRights(OBS.into());
    assert!(obs.accepts(Kind::RightsRequest) && obs.accepts(Kind::RightsAnswer) && obs.is_observatory_queue());
}

#[tokio::test]
async fn a_request_reaches_each_party_asked_and_the_answers_come_back_to_the_observatory() {
    let s = deployment();
    let bus = InProcessBus::new(&s);
    let obs = bus.connect_as("u-obs");
    obs.publish(vec![
        out(request(OBS, OBS)),
        out(request(OBS, PEER)),
        out(request(OBS, OFFICE)),
        out(request(OBS, BODY)),
    ])
    .await
    .unwrap();
    for (q, user, who) in [
        (Queue::ObservatoryRights(PEER.into()), "u-peer", PEER),
        (Queue::OfficeRights(OFFICE.into()), "u-caf-13", OFFICE),
        (Queue::BodyRights(BODY.into()), "u-cnam", BODY),
    ] {
        assert_eq!(bus.ready(&q), 1, "{}", q.name("p"));
        let (h, mut delivered, _) = seen();
        let c = bus.connect_as(user).consume(q, h).await.unwrap();
        let d = next(&mut delivered).await;
        c.stop().await;
        assert_eq!((d.message.kind(), d.message.sender(), d.user_id.as_str()), (Kind::RightsRequest, OBS, "u-obs"));
        assert_eq!((d.message.case_id(), d.message.recipient()), (REQUEST_ID, Some(who)));
        bus.connect_as(user).publish(vec![out(answer(who, OBS))]).await.unwrap();
    }
    assert_eq!(bus.ready(&Queue::OfficeRights("cnaf.caf-84".into())), 0, "an office never asked gets nothing");
    let (h, mut delivered, _) = seen();
    let c = obs.consume(Queue::ObservatoryRights(OBS.into()), h).await.unwrap();
    let mut got = Vec::new();
    for _ in 0..4 {
        let d = next(&mut delivered).await;
        got.push((d.message.kind(), d.message.sender().to_owned()));
    }
    c.stop().await;
    got.sort();
    let want = [
        (Kind::RightsRequest, OBS.to_owned()),
        (Kind::RightsAnswer, OFFICE.to_owned()),
        (Kind::RightsAnswer, BODY.to_owned()),
        (Kind::RightsAnswer, PEER.to_owned()),
    ];
    assert_eq!(got, want, "its own request, then every answer");
    assert!(bus.dead_letters().is_empty());
    nobody_told(&bus, &s);
}

#[tokio::test]
async fn a_request_to_a_party_with_no_rights_queue_is_unroutable() {
    let bus = InProcessBus::new(&deployment());
    let obs = bus.connect_as("u-obs");
    for party in ["cnaf", "carsat-sud-est.ss-13", "cnaf.caf-06"] {
        let err = obs.publish(vec![out(request(OBS, party))]).await.unwrap_err();
        match err {
            BusError::Returned { routing_key, exchange, .. } => {
                assert_eq!((routing_key.as_str(), exchange.as_str()), (party, "passerelle.rights"));
            }
            other => panic!("expected the unroutable error for {party}, got {other}"),
        }
    }
}

#[tokio::test]
async fn a_request_from_a_requester_is_dead_lettered_and_never_handled_nor_told() {
    let s = deployment();
    let bus = InProcessBus::new(&s);
    // An office asks another office, in its own name and in the observatory's; a body asks an
    // observatory; the genuine request comes last.
    bus.connect_as("u-caf-13").publish(vec![out(request(OFFICE, "cnaf.caf-84"))]).await.unwrap();
    bus.connect_as("u-caf-13").publish(vec![out(request(OBS, "cnaf.caf-84"))]).await.unwrap();
    bus.connect_as("u-cnam").publish(vec![out(request(BODY, "cnaf.caf-84"))]).await.unwrap();
    bus.connect_as("u-obs").publish(vec![out(request(OBS, "cnaf.caf-84"))]).await.unwrap();
    let (h, mut delivered, mut refused) = seen();
    let c = bus.connect_as("u-caf-84").consume(Queue::OfficeRights("cnaf.caf-84".into()), h).await.unwrap();
    let d = next(&mut delivered).await;
    let refusals = [next(&mut refused).await, next(&mut refused).await, next(&mut refused).await];
    c.stop().await;
    assert_eq!((d.message.sender(), d.user_id.as_str()), (OBS, "u-obs"), "only the observatory's is handled");
    assert!(refusals[0].reason.contains("\"cnaf.caf-13\" is not an observatory"), "{}", refusals[0].reason);
    assert!(refusals[1].reason.contains("may not speak for \"carsat-sud-est\""), "{}", refusals[1].reason);
    assert!(refusals[2].reason.contains("\"cnam\" is not an observatory"), "{}", refusals[2].reason);
    assert!(refusals.iter().all(|r| r.answer_to.is_none()), "nobody is told");
    let dead = bus.dead_letters();
    assert_eq!(dead.len(), 3);
    assert!(dead
        .iter()
        .all(|d| d.kind == Some(Kind::RightsRequest) && d.queue == "passerelle.requester.cnaf.caf-84.rights"));
    nobody_told(&bus, &s);
}

#[tokio::test]
async fn an_answer_for_another_party_or_with_another_correlation_id_is_dead_lettered() {
    let s = deployment();
    let bus = InProcessBus::new(&s);
    // An answer for PEER routed (by its key) to OBS's queue.
    let mut misrouted = out(answer(OFFICE, PEER));
    misrouted.routing_key = OBS.into();
    bus.connect_as("u-caf-13").publish(vec![misrouted]).await.unwrap();
    let (h, _delivered, mut refused) = seen();
    let c = bus.connect_as("u-obs").consume(Queue::ObservatoryRights(OBS.into()), h).await.unwrap();
    let r = next(&mut refused).await;
    c.stop().await;
    assert!(r.reason.contains("for \"cramif\" on the queue of \"carsat-sud-est\""), "{}", r.reason);
    assert_eq!(r.answer_to, None);
    nobody_told(&bus, &s);

    let q = Queue::ObservatoryRights(OBS.into());
    let ok = Envelope::of(&answer(OFFICE, OBS), "m1", "u-caf-13");
    ok.inspect(&q, &s).expect("a well-formed answer");
    let other = Envelope { correlation_id: Some("0190a0b0-0000-7000-8000-0000000000ff".into()), ..ok.clone() };
    assert!(other.inspect(&q, &s).unwrap_err().reason.contains("correlation_id disagrees"));
    let missing = Envelope { correlation_id: None, ..ok.clone() };
    assert!(missing.inspect(&q, &s).unwrap_err().reason.contains("without correlation_id"));
    let forged = Envelope::of(&answer(OFFICE, OBS), "m2", "u-caf-84").inspect(&q, &s).unwrap_err();
    assert!(forged.identity_refused && forged.reason.contains("may not speak for \"cnaf.caf-13\""), "{forged:?}");
    let wrong = Envelope::of(&answer(OBS, OFFICE), "m3", "u-obs").inspect(&Queue::OfficeRights(OFFICE.into()), &s);
    assert_eq!(wrong.unwrap_err().code, crate::NoticeReason::WrongType, "a requester is never answered");
    let rejected = forged.rejected(&q, "p", &ok, &s.identity);
    assert_eq!(rejected.answer_to, None, "nobody is told on a rights queue");
}
