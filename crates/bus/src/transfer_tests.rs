//! Unit tests of the three transfer messages on the in-process bus (`transfer.proto`): routing
//! by the recipient social service's party to its transfers queue, the unroutable error for an
//! office with no queue, the receipt's way back, and a forged sender dead-lettered with nobody
//! told.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use passerelle_protocol::v1;

use crate::seen_tests::{next, seen, WAIT};
use crate::{Bus, BusError, BusSettings, Delivery, Handler, InProcessBus, Kind, Message, Outgoing, Queue, Verdict};

const A: &str = "carsat-sud-est.ss-13";
const B: &str = "cramif.ss-75";
const TRANSFER_ID: &str = "0190a0b0-0000-7000-8000-0000000000c1";

/// A deployment with two social services, each with its own broker user.
fn deployment() -> BusSettings {
    let mut s = BusSettings::default();
    s.identity.insecure_any_user = false;
    s.identity.users.insert("u-obs".into(), vec!["carsat-sud-est".into()]);
    s.identity.users.insert("u-cnaf".into(), vec!["cnaf".into()]);
    s.identity.users.insert("u-a".into(), vec![A.into()]);
    s.identity.users.insert("u-b".into(), vec![B.into()]);
    s.social_services.insert("carsat-sud-est".into(), vec!["ss-13".into()]);
    s.social_services.insert("cramif".into(), vec!["ss-75".into()]);
    s
}

fn transfer(sender: &str, to: &str) -> Outgoing {
    let m = Message::Transfer(v1::Transfer {
        schema_version: 1,
        sender: sender.into(),
        transfer_id: TRANSFER_ID.into(),
        chunk_index: 0,
        chunk_count: 1,
        ..Default::default()
    });
    Outgoing::new(m, to, SystemTime::now() + Duration::from_secs(3600))
}

fn receipt(sender: &str, to: &str) -> Outgoing {
    let m = Message::TransferReceipt(v1::TransferReceipt {
        schema_version: 1,
        sender: sender.into(),
        transfer_id: TRANSFER_ID.into(),
        accepted: true,
        ..Default::default()
    });
    Outgoing::new(m, to, SystemTime::now() + Duration::from_secs(3600))
}

#[tokio::test]
async fn a_transfer_reaches_the_recipients_transfers_queue_and_the_receipt_comes_back() {
    let bus = InProcessBus::new(&deployment());
    let (a, b) = (bus.connect_as("u-a"), bus.connect_as("u-b"));
    a.publish(vec![transfer(A, B)]).await.unwrap();
    assert_eq!(bus.ready(&Queue::SocialServiceTransfers(B.into())), 1);
    assert_eq!(bus.ready(&Queue::SocialServiceTransfers(A.into())), 0);
    let (h, mut delivered, _) = seen();
    let c = b.consume(Queue::SocialServiceTransfers(B.into()), h).await.unwrap();
    let d = next(&mut delivered).await;
    assert_eq!((d.message.kind(), d.message.sender(), d.user_id.as_str()), (Kind::Transfer, A, "u-a"));
    assert_eq!(d.message.case_id(), TRANSFER_ID);
    c.stop().await;
    b.publish(vec![receipt(B, A)]).await.unwrap();
    let (h, mut delivered, _) = seen();
    let c = a.consume(Queue::SocialServiceTransfers(A.into()), h).await.unwrap();
    let d = next(&mut delivered).await;
    assert_eq!((d.message.kind(), d.message.sender()), (Kind::TransferReceipt, B));
    c.stop().await;
    assert!(bus.dead_letters().is_empty());
}

#[tokio::test]
async fn a_transfer_to_an_office_with_no_queue_is_unroutable_and_nothing_is_sent() {
    let bus = InProcessBus::new(&deployment());
    let a = bus.connect_as("u-a");
    let err = a.publish(vec![transfer(A, B), transfer(A, "cramif.ss-93")]).await.unwrap_err();
    match err {
        BusError::Returned { routing_key, exchange, .. } => {
            assert_eq!((routing_key.as_str(), exchange.as_str()), ("cramif.ss-93", "passerelle.transfers"));
        }
        other => panic!("expected the unroutable error, got {other}"),
    }
    assert_eq!(bus.ready(&Queue::SocialServiceTransfers(B.into())), 0, "nothing of the batch was sent");
    let err = a.publish(vec![transfer(A, "cnaf")]).await.unwrap_err();
    assert!(matches!(err, BusError::Returned { .. }), "a body is no social service: {err}");
}

#[tokio::test]
async fn a_forged_sender_is_dead_lettered_with_its_reason_and_nobody_is_told() {
    let bus = InProcessBus::new(&deployment());
    // A's user claims to be B, then a body's user claims to be a body: both reach A's queue.
    bus.connect_as("u-a").publish(vec![transfer(B, A)]).await.unwrap();
    bus.connect_as("u-cnaf").publish(vec![transfer("cnaf", A)]).await.unwrap();
    bus.connect_as("u-b").publish(vec![transfer(B, A)]).await.unwrap();
    let (h, mut delivered, mut refused) = seen();
    let c = bus.connect_as("u-a").consume(Queue::SocialServiceTransfers(A.into()), h).await.unwrap();
    let d = next(&mut delivered).await;
    assert_eq!((d.message.sender(), d.user_id.as_str()), (B, "u-b"), "only the genuine one is handled");
    let (first, second) = (next(&mut refused).await, next(&mut refused).await);
    c.stop().await;
    assert!(first.reason.contains(&format!("may not speak for \"{B}\"")), "{}", first.reason);
    assert!(second.reason.contains("\"cnaf\" is not a social service"), "{}", second.reason);
    assert!(first.answer_to.is_none() && second.answer_to.is_none(), "nobody is told");
    let dead = bus.dead_letters();
    assert_eq!(dead.len(), 2);
    assert!(dead.iter().all(
        |d| d.kind == Some(Kind::Transfer) && d.queue == "passerelle.social-service.carsat-sud-est.ss-13.transfers"
    ));
    for party in [A, B] {
        assert_eq!(bus.ready(&Queue::SocialServiceNotices(party.into())), 0, "no notice to {party}");
    }
    assert_eq!(bus.ready(&Queue::BodyNotices("cnaf".into())), 0);
    assert_eq!(bus.ready(&Queue::ObservatoryNotices("carsat-sud-est".into())), 0);
}

#[tokio::test]
async fn a_transfer_the_handler_refuses_is_dead_lettered_and_nobody_is_told() {
    let bus = InProcessBus::new(&deployment());
    bus.connect_as("u-a").publish(vec![transfer(A, B)]).await.unwrap();
    struct Refusing;
    #[async_trait::async_trait]
    impl Handler for Refusing {
        async fn handle(&self, _d: Delivery) -> Verdict {
            Verdict::dead_letter(crate::NoticeReason::Malformed, "chunks disagree")
        }
    }
    let c = bus.connect_as("u-b").consume(Queue::SocialServiceTransfers(B.into()), Arc::new(Refusing)).await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while bus.dead_letters().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for the dead-letter");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    c.stop().await;
    assert_eq!(bus.dead_letters()[0].reason, "chunks disagree");
    assert_eq!(bus.ready(&Queue::SocialServiceNotices(A.into())), 0, "a social service tells no notice");
}
