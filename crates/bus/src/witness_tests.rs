//! Unit tests of the four witness messages on the bus (`witness.proto`): their codec, the
//! notices queues that accept them, their routing by recipient between an observatory and a
//! body or an office, the receiver checks (sender identity, recipient), that no refusal of one
//! is ever answered by a notice, and their way through the in-process bus.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use passerelle_protocol::v1;
use tokio::sync::mpsc;

use crate::envelope::Envelope;
use crate::notice::NoticeDraft;
use crate::topology::{Exchange, Topology};
use crate::{
    Bus, BusSettings, Delivery, Handler, InProcessBus, Kind, Message, NoticeLogger, NoticeReason, Outgoing, Queue,
    Role, Verdict, SCHEMA_VERSION,
};

const OBSERVATORY: &str = "carsat-sud-est";
const OFFICE: &str = "cnaf.caf-13";
const WAIT: Duration = Duration::from_secs(5);

fn signed() -> v1::SignedCheckpoint {
    v1::SignedCheckpoint {
        trail: "audit".into(),
        year: 2026,
        count: 42,
        head: "ab".repeat(32),
        at_ms: 1_780_000_000_000,
        kind: v1::CheckpointKind::Regular as i32,
        signature: "cd".repeat(64),
        public_key: "ef".repeat(32),
    }
}

/// A message of a witness `kind` from `sender` to `recipient` (synthetic: codes and hashes).
fn witness(kind: Kind, sender: &str, recipient: &str) -> Message {
    let (schema_version, sender, recipient) = (SCHEMA_VERSION, sender.to_owned(), recipient.to_owned());
    match kind {
        Kind::Checkpoint => Message::Checkpoint(v1::Checkpoint {
            schema_version,
            sender,
            recipient,
            checkpoint: Some(signed()),
            schema_minor: 1,
        }),
        Kind::CheckpointReceipt => Message::CheckpointReceipt(v1::CheckpointReceipt {
            schema_minor: passerelle_protocol::SCHEMA_MINOR,
            schema_version,
            sender,
            recipient,
            trail: "audit".into(),
            year: 2026,
            count: 42,
            kind: v1::CheckpointKind::Regular as i32,
            accepted: true,
            refusal: String::new(),
            seq: 7,
        }),
        Kind::CheckpointQuery => Message::CheckpointQuery(v1::CheckpointQuery {
            schema_minor: passerelle_protocol::SCHEMA_MINOR,
            schema_version,
            sender,
            recipient,
            query_id: "0190a0b0-0000-7000-8000-00000000c0de".into(),
            trail: "access-log".into(),
            year: 0,
        }),
        Kind::WitnessedCheckpoints => Message::WitnessedCheckpoints(v1::WitnessedCheckpoints {
            schema_minor: passerelle_protocol::SCHEMA_MINOR,
            schema_version,
            sender,
            recipient,
            query_id: "0190a0b0-0000-7000-8000-00000000c0de".into(),
            trail: "audit".into(),
            year: 2026,
            checkpoints: vec![v1::WitnessedCheckpoint {
                seq: 1,
                checkpoint: Some(signed()),
                received_at_ms: 1_780_000_001_000,
                link: "01".repeat(32),
            }],
            years_held: vec![2025, 2026],
            years_closed: vec![],
            problem: String::new(),
        }),
        other => panic!("{other} is not a witness message"),
    }
}

fn later() -> SystemTime {
    SystemTime::now() + Duration::from_secs(3600)
}

/// A deployment with the default observatory and bodies, cnaf having the office caf-13.
fn with_office() -> BusSettings {
    let mut s = BusSettings::default();
    s.offices.insert("cnaf".into(), vec!["caf-13".into()]);
    s
}

/// `with_office`, strict identity: one broker user per party.
fn strict() -> BusSettings {
    let mut s = with_office();
    s.identity.insecure_any_user = false;
    for (user, party) in [("u-obs", OBSERVATORY), ("u-cnaf", "cnaf"), ("u-cnam", "cnam"), ("u-caf-13", OFFICE)] {
        s.identity.users.insert(user.into(), vec![party.into()]);
    }
    s
}

#[test]
fn the_witness_kinds_round_trip_and_belong_to_no_case() {
    let names = ["Checkpoint", "CheckpointReceipt", "CheckpointQuery", "WitnessedCheckpoints"];
    for (kind, name) in Kind::WITNESS.into_iter().zip(names) {
        assert!(Kind::ALL.contains(&kind));
        assert_eq!(kind.type_name(), format!("passerelle.v1.{name}"));
        assert_eq!(Kind::from_type_name(kind.type_name()), Some(kind));
        assert!(!kind.is_chunked() && kind.is_witness() && kind.travels_as_notice(), "{kind}");
        let m = witness(kind, "cnaf", OBSERVATORY);
        assert_eq!(m.kind(), kind);
        assert_eq!(Message::decode(kind, &m.encode()).unwrap(), m);
        assert_eq!((m.sender(), m.recipient(), m.case_id(), m.chunk()), ("cnaf", Some(OBSERVATORY), "", None));
    }
    let Message::Checkpoint(mut other) = witness(Kind::Checkpoint, "cnaf", OBSERVATORY) else { unreachable!() };
    other.schema_version = 2;
    let err = Message::decode(Kind::Checkpoint, &Message::Checkpoint(other).encode()).unwrap_err();
    assert!(err.to_string().contains("schema version"), "{err}");
    assert!(!Kind::Notice.is_witness() && Kind::Notice.travels_as_notice());
    assert!(Kind::ALL[..7].iter().all(|k| !k.is_witness()));
    let o = Outgoing::to_recipient(witness(Kind::CheckpointQuery, OFFICE, OBSERVATORY), later()).unwrap();
    assert_eq!(o.routing_key, OBSERVATORY, "the recipient is the routing key");
    let flow = Message::Receipt(v1::Receipt { schema_version: SCHEMA_VERSION, ..Default::default() });
    assert!(Outgoing::to_recipient(flow, later()).is_none(), "a flow kind is routed by kind");
}

#[test]
fn only_the_notices_queues_accept_the_witness_messages() {
    let s = with_office();
    for q in Topology::flow_queues(&s) {
        for kind in Kind::WITNESS {
            assert_eq!(q.accepts(kind), q.is_notice_queue(), "{} and {kind}", q.name("p"));
        }
    }
}

/// The queue a message published by `from` to `to` lands in, checking that `from`'s role may
/// write the exchange it is published to.
fn lands_in(s: &BusSettings, from: &Role, kind: Kind, to: &str) -> Option<Queue> {
    let exchange = Exchange::for_message(kind, to, s);
    assert!(from.publishes_to(s).contains(&exchange), "{} may not write {exchange:?}", from.label());
    Topology::flow_queues(s).into_iter().find(|q| q.binding() == (exchange, to))
}

#[test]
fn witness_messages_go_to_the_recipients_notices_queue_between_an_observatory_and_a_body_or_an_office() {
    let s = with_office();
    let (obs, cnam, office) =
        (Role::Observatory(OBSERVATORY.into()), Role::Body("cnam".into()), Role::Office(OFFICE.into()));
    for kind in Kind::WITNESS {
        assert_eq!(lands_in(&s, &obs, kind, "cnam"), Some(Queue::BodyNotices("cnam".into())), "{kind}");
        assert_eq!(lands_in(&s, &obs, kind, "cnaf"), Some(Queue::BodyNotices("cnaf".into())), "{kind}");
        assert_eq!(lands_in(&s, &obs, kind, OFFICE), Some(Queue::OfficeNotices(OFFICE.into())), "{kind}");
        let at_obs = Some(Queue::ObservatoryNotices(OBSERVATORY.into()));
        assert_eq!(lands_in(&s, &cnam, kind, OBSERVATORY), at_obs, "{kind}");
        assert_eq!(lands_in(&s, &office, kind, OBSERVATORY), at_obs, "{kind}");
        assert_eq!(Exchange::for_message(kind, OBSERVATORY, &s), Exchange::for_message(Kind::Notice, OBSERVATORY, &s));
        assert_eq!(Exchange::for_message(kind, OFFICE, &s), Exchange::for_message(Kind::Notice, OFFICE, &s));
    }
    assert_eq!(lands_in(&s, &obs, Kind::Checkpoint, "nobody"), None, "unroutable: the publish is an error");
}

#[test]
fn the_sender_must_be_the_users_party_and_the_recipient_the_queues_owner() {
    let s = strict();
    let queue = Queue::ObservatoryNotices(OBSERVATORY.into());
    for kind in Kind::WITNESS {
        let inspect = |m: &Message, user: &str| Envelope::of(m, "m-1", user).inspect(&queue, &s);
        let d = inspect(&witness(kind, "cnaf", OBSERVATORY), "u-cnaf").expect("its own user, to its witness");
        assert_eq!(d.message.sender(), "cnaf");
        inspect(&witness(kind, OFFICE, OBSERVATORY), "u-caf-13").expect("an office speaks for itself");
        let forged = inspect(&witness(kind, "cnaf", OBSERVATORY), "u-cnam").unwrap_err();
        assert_eq!(forged.code, NoticeReason::NotPermitted, "{kind}");
        assert!(forged.reason.contains("may not speak for") && forged.identity_refused, "{}", forged.reason);
        let elsewhere = inspect(&witness(kind, "cnaf", "cnav-idf"), "u-cnaf").unwrap_err();
        assert_eq!(elsewhere.code, NoticeReason::NotPermitted, "{kind}");
        assert!(elsewhere.reason.contains("\"cnav-idf\" on the queue of \"carsat-sud-est\""), "{}", elsewhere.reason);
        let office_queue = Queue::OfficeNotices(OFFICE.into());
        let to_office = Envelope::of(&witness(kind, OBSERVATORY, OFFICE), "m-2", "u-obs");
        to_office.inspect(&office_queue, &s).expect("the office reads what names it");
    }
}

#[test]
fn no_refused_witness_message_is_answered_by_a_notice() {
    let s = strict();
    let queues = [
        Queue::ObservatoryNotices(OBSERVATORY.into()),
        Queue::BodyNotices("cnaf".into()),
        Queue::OfficeNotices(OFFICE.into()),
        // Where a witness message does not belong (refused as of the wrong type).
        Queue::ObservatoryResponses(OBSERVATORY.into()),
        Queue::BodySolicitations("cnaf".into()),
    ];
    for queue in &queues {
        for kind in Kind::WITNESS {
            let told = NoticeDraft::for_rejection(queue, &s, Some("cnaf"), Some("m-1"), Some(kind), None);
            assert_eq!(told, None, "{} refusing a {kind}", queue.name("p"));
            let told = NoticeDraft::for_rejection(queue, &s, Some(OBSERVATORY), Some("m-1"), Some(kind), None);
            assert_eq!(told, None, "{} refusing a {kind}", queue.name("p"));
            let d = Delivery {
                message: witness(kind, "cnaf", queue.owner()),
                message_id: "m-1".into(),
                user_id: "u-cnaf".into(),
                redelivered: false,
                unknown_fields: Vec::new(),
            };
            assert_eq!(NoticeDraft::for_delivery(queue, &s, &d), None, "{} handing a {kind} back", queue.name("p"));
        }
    }
}

#[tokio::test]
async fn the_notice_logger_acknowledges_a_witness_message_as_not_handled_here() {
    for kind in Kind::WITNESS {
        let d = Delivery {
            message: witness(kind, OBSERVATORY, "cnaf"),
            message_id: "m-1".into(),
            user_id: "u-obs".into(),
            redelivered: false,
            unknown_fields: Vec::new(),
        };
        assert_eq!(NoticeLogger.handle(d).await, Verdict::Ack, "{kind}");
    }
}

/// Reports every delivery and acknowledges it.
struct Recorder(mpsc::UnboundedSender<Delivery>);

#[async_trait::async_trait]
impl Handler for Recorder {
    async fn handle(&self, delivery: Delivery) -> Verdict {
        let _ = self.0.send(delivery);
        Verdict::Ack
    }
}

fn recorder() -> (Arc<Recorder>, mpsc::UnboundedReceiver<Delivery>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Arc::new(Recorder(tx)), rx)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Delivery>) -> Delivery {
    tokio::time::timeout(WAIT, rx.recv()).await.expect("a delivery within the deadline").unwrap()
}

#[tokio::test]
async fn a_checkpoint_reaches_its_witness_and_the_receipt_comes_back_on_the_in_process_bus() {
    let bus = InProcessBus::new(&strict());
    let (cnaf, obs) = (bus.connect_as("u-cnaf"), bus.connect_as("u-obs"));
    let (at_obs, mut obs_seen) = recorder();
    let (at_cnaf, mut cnaf_seen) = recorder();
    let obs_consumer = obs.consume(Queue::ObservatoryNotices(OBSERVATORY.into()), at_obs).await.unwrap();
    let cnaf_consumer = cnaf.consume(Queue::BodyNotices("cnaf".into()), at_cnaf).await.unwrap();

    let checkpoint = witness(Kind::Checkpoint, "cnaf", OBSERVATORY);
    cnaf.publish(vec![Outgoing::to_recipient(checkpoint.clone(), later()).unwrap()]).await.unwrap();
    let d = next(&mut obs_seen).await;
    assert_eq!((&d.message, d.user_id.as_str()), (&checkpoint, "u-cnaf"));

    let receipt = witness(Kind::CheckpointReceipt, OBSERVATORY, "cnaf");
    obs.publish(vec![Outgoing::to_recipient(receipt.clone(), later()).unwrap()]).await.unwrap();
    assert_eq!(next(&mut cnaf_seen).await.message, receipt);

    // Forged (cnam's user for cnaf), and misaddressed (routed to cnam, naming cnaf): both
    // refused by the bus, neither handled nor answered.
    let cnam = bus.connect_as("u-cnam");
    cnam.publish(vec![Outgoing::to_recipient(checkpoint, later()).unwrap()]).await.unwrap();
    let stray = witness(Kind::WitnessedCheckpoints, OBSERVATORY, "cnaf");
    obs.publish(vec![Outgoing::new(stray, "cnam", later())]).await.unwrap();
    let cnam_consumer = cnam.consume(Queue::BodyNotices("cnam".into()), recorder().0).await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while bus.dead_letters().len() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "both refusals within the deadline: {:?}", bus.dead_letters());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let dead = bus.dead_letters();
    assert!(
        dead.iter().any(|d| d.kind == Some(Kind::Checkpoint) && d.reason.contains("may not speak for")),
        "{dead:?}"
    );
    assert!(
        dead.iter()
            .any(|d| d.kind == Some(Kind::WitnessedCheckpoints)
                && d.reason.contains("\"cnaf\" on the queue of \"cnam\"")),
        "{dead:?}"
    );
    for consumer in [obs_consumer, cnaf_consumer, cnam_consumer] {
        consumer.stop().await;
    }
    assert!(obs_seen.try_recv().is_err() && cnaf_seen.try_recv().is_err(), "nothing else was handled");
    for q in [
        Queue::ObservatoryNotices(OBSERVATORY.into()),
        Queue::BodyNotices("cnaf".into()),
        Queue::BodyNotices("cnam".into()),
    ] {
        assert_eq!(bus.ready(&q), 0, "no notice told of a refused witness message: {}", q.name("p"));
    }
}
