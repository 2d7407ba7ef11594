//! Unit tests of the in-process bus: the semantics the AMQP bus has, checked in memory.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use passerelle_protocol::v1;
use tokio::sync::mpsc;

use super::*;
use crate::{Delivery, IdentitySettings, Message, Verdict};

const WAIT: Duration = Duration::from_secs(5);

fn solicitation(sender: &str, index: u32) -> Message {
    Message::Solicitation(v1::Solicitation {
        schema_version: 1,
        sender: sender.into(),
        case_id: "case-1".into(),
        body: "cnaf".into(),
        chunk_index: index,
        chunk_count: 100,
        ..Default::default()
    })
}

fn later() -> SystemTime {
    SystemTime::now() + Duration::from_secs(3600)
}

fn out(index: u32) -> Outgoing {
    Outgoing::new(solicitation("carsat-sud-est", index), "cnaf", later())
}

fn queue() -> Queue {
    Queue::BodySolicitations("cnaf".into())
}

/// Answers with the verdicts given in turn (the last one repeats) and reports each delivery.
struct Scripted {
    verdicts: Vec<Verdict>,
    calls: AtomicUsize,
    seen: mpsc::UnboundedSender<Delivery>,
}

#[async_trait::async_trait]
impl Handler for Scripted {
    async fn handle(&self, delivery: Delivery) -> Verdict {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let _ = self.seen.send(delivery);
        self.verdicts[n.min(self.verdicts.len() - 1)].clone()
    }
}

fn scripted(verdicts: Vec<Verdict>) -> (Arc<Scripted>, mpsc::UnboundedReceiver<Delivery>) {
    let (seen, rx) = mpsc::unbounded_channel();
    (Arc::new(Scripted { verdicts, calls: AtomicUsize::new(0), seen }), rx)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Delivery>) -> Delivery {
    tokio::time::timeout(WAIT, rx.recv()).await.expect("a delivery within the deadline").unwrap()
}

async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn published_messages_are_delivered_once_each_and_acked() {
    let bus = InProcessBus::new(&BusSettings::default());
    let conn = bus.connect_as("guest");
    conn.publish((0..10).map(out).collect()).await.unwrap();
    let (h, mut rx) = scripted(vec![Verdict::Ack]);
    let consumer = conn.consume(queue(), h.clone()).await.unwrap();
    for i in 0..10 {
        let d = next(&mut rx).await;
        assert_eq!(d.message.chunk(), Some((i, 100)));
        assert_eq!(d.user_id, "guest");
        assert!(!d.redelivered);
    }
    consumer.stop().await;
    assert_eq!(h.calls.load(Ordering::SeqCst), 10);
    assert_eq!(bus.ready(&queue()), 0);
    assert!(bus.dead_letters().is_empty());
}

#[tokio::test]
async fn competing_consumers_share_the_queue_without_duplicates() {
    let bus = InProcessBus::new(&BusSettings::default());
    let conn = bus.connect_as("guest");
    let (h, mut rx) = scripted(vec![Verdict::Ack]);
    let a = conn.consume(queue(), h.clone()).await.unwrap();
    let b = conn.consume(queue(), h.clone()).await.unwrap();
    conn.publish((0..50).map(out).collect()).await.unwrap();
    let mut ids = std::collections::BTreeSet::new();
    for _ in 0..50 {
        assert!(ids.insert(next(&mut rx).await.message_id));
    }
    a.stop().await;
    b.stop().await;
    assert_eq!(h.calls.load(Ordering::SeqCst), 50);
}

#[tokio::test]
async fn unroutable_and_expired_messages_are_errors_and_nothing_is_sent() {
    let bus = InProcessBus::new(&BusSettings::default());
    let conn = bus.connect_as("guest");
    let stray = Outgoing::new(solicitation("carsat-sud-est", 0), "nobody", later());
    let err = conn.publish(vec![out(0), stray]).await.unwrap_err();
    assert!(matches!(err, BusError::Returned { ref routing_key, .. } if routing_key == "nobody"), "{err}");
    let past = Outgoing::new(solicitation("carsat-sud-est", 0), "cnaf", SystemTime::now() - Duration::from_secs(1));
    assert!(matches!(conn.publish(vec![past]).await, Err(BusError::Expired { .. })));
    assert_eq!(bus.ready(&queue()), 0);
}

#[tokio::test]
async fn a_message_past_its_expiry_is_dropped_in_the_queue() {
    let bus = InProcessBus::new(&BusSettings::default());
    let conn = bus.connect_as("guest");
    let expires = SystemTime::now() + Duration::from_millis(30);
    conn.publish(vec![Outgoing::new(solicitation("carsat-sud-est", 0), "cnaf", expires), out(1)]).await.unwrap();
    eventually("the first message's expiry", || SystemTime::now() > expires).await;
    let (h, mut rx) = scripted(vec![Verdict::Ack]);
    let c = conn.consume(queue(), h.clone()).await.unwrap();
    assert_eq!(next(&mut rx).await.message.chunk(), Some((1, 100)));
    c.stop().await;
    assert_eq!(h.calls.load(Ordering::SeqCst), 1);
    assert!(bus.dead_letters().is_empty(), "expiry is not a dead-letter");
}

#[tokio::test]
async fn a_dead_letter_verdict_records_the_reason() {
    let bus = InProcessBus::new(&BusSettings::default());
    let conn = bus.connect_as("guest");
    let o = out(0);
    let id = o.message_id.to_string();
    conn.publish(vec![o]).await.unwrap();
    let (h, mut rx) =
        scripted(vec![Verdict::dead_letter(passerelle_protocol::v1::NoticeReason::UnknownReference, "unknown body")]);
    let c = conn.consume(queue(), h).await.unwrap();
    next(&mut rx).await;
    eventually("the dead-letter", || !bus.dead_letters().is_empty()).await;
    c.stop().await;
    assert_eq!(
        bus.dead_letters(),
        vec![DeadLetter {
            kind: Some(Kind::Solicitation),
            reason: "unknown body".into(),
            message_id: id,
            queue: "passerelle.body.cnaf.solicitations".into()
        }]
    );
    assert_eq!(bus.ready(&queue()), 0);
}

#[tokio::test]
async fn bad_bytes_wrong_types_and_forgers_are_dead_lettered_and_the_consumer_goes_on() {
    let mut identity = IdentitySettings { insecure_any_user: false, ..Default::default() };
    identity.users.insert("observatory".into(), vec!["carsat-sud-est".into()]);
    identity.users.insert("body-cnam".into(), vec!["cnam".into()]);
    let bus = InProcessBus::new(&BusSettings { identity, ..Default::default() });
    bus.inject_raw(&queue(), Kind::Solicitation.type_name(), vec![0xde, 0xad, 0xbe, 0xef], "observatory").unwrap();
    bus.inject_raw(&queue(), "passerelle.v1.Gossip", vec![], "observatory").unwrap();
    // A body user publishing a solicitation that claims to come from the observatory.
    bus.connect_as("body-cnam").publish(vec![out(7)]).await.unwrap();
    bus.connect_as("observatory").publish(vec![out(8)]).await.unwrap();
    let (h, mut rx) = scripted(vec![Verdict::Ack]);
    let c = bus.connect_as("observatory").consume(queue(), h.clone()).await.unwrap();
    let d = next(&mut rx).await;
    assert_eq!((d.message.chunk(), d.user_id.as_str()), (Some((8, 100)), "observatory"));
    c.stop().await;
    let reasons: Vec<(Option<Kind>, String)> = bus.dead_letters().into_iter().map(|d| (d.kind, d.reason)).collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons[0].1.contains("undecodable") && reasons[0].0 == Some(Kind::Solicitation));
    assert!(reasons[1].1.contains("unknown message type") && reasons[1].0.is_none());
    assert!(reasons[2].1.contains("may not speak for \"carsat-sud-est\""), "{}", reasons[2].1);
    assert_eq!(h.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn retry_later_retries_in_process_without_redelivery() {
    let bus = InProcessBus::new(&BusSettings::default());
    let conn = bus.connect_as("guest");
    conn.publish(vec![out(0)]).await.unwrap();
    let (h, mut rx) = scripted(vec![Verdict::RetryLater("disk full".into()), Verdict::Ack]);
    let c = conn.consume(queue(), h.clone()).await.unwrap();
    let first = next(&mut rx).await;
    let second = next(&mut rx).await;
    assert_eq!(first.message_id, second.message_id);
    assert!(!second.redelivered, "a retry is not a broker redelivery");
    c.stop().await;
    assert_eq!(h.calls.load(Ordering::SeqCst), 2);
    assert!(bus.dead_letters().is_empty());
    assert_eq!(bus.ready(&queue()), 0);
}

#[tokio::test]
async fn a_consumer_stopped_while_retrying_gives_the_message_back() {
    let bus = InProcessBus::new(&BusSettings::default());
    let conn = bus.connect_as("guest");
    conn.publish(vec![out(0)]).await.unwrap();
    let (h, mut rx) = scripted(vec![Verdict::RetryLater("disk full".into())]);
    let c = conn.consume(queue(), h).await.unwrap();
    next(&mut rx).await;
    c.stop().await;
    assert_eq!(bus.ready(&queue()), 1);
    let (h2, mut rx2) = scripted(vec![Verdict::Ack]);
    let c2 = conn.consume(queue(), h2).await.unwrap();
    assert!(next(&mut rx2).await.redelivered);
    c2.stop().await;
    assert_eq!(bus.ready(&queue()), 0);
}

/// Panics on every delivery, as a crashing handler would.
struct Crashing(AtomicUsize);

#[async_trait::async_trait]
impl Handler for Crashing {
    async fn handle(&self, _delivery: Delivery) -> Verdict {
        self.0.fetch_add(1, Ordering::SeqCst);
        panic!("handler crash (expected by the test)");
    }
}

#[tokio::test]
async fn a_crashing_handler_gets_redeliveries_up_to_the_delivery_limit() {
    let bus = InProcessBus::new(&BusSettings::default());
    let conn = bus.connect_as("guest");
    conn.publish(vec![out(0), out(1)]).await.unwrap();
    let crashing = Arc::new(Crashing(AtomicUsize::new(0)));
    let c = conn.consume(queue(), crashing.clone()).await.unwrap();
    eventually("both messages dead-lettered", || bus.dead_letters().len() == 2).await;
    c.stop().await;
    assert_eq!(crashing.0.load(Ordering::SeqCst), 2 * DELIVERY_LIMIT as usize);
    assert!(bus.dead_letters().iter().all(|d| d.reason == "delivery limit reached"));
}

/// Records the refusals it is told of; the first `failures` attempts fail (a full disk).
struct Recording {
    failures: usize,
    attempts: AtomicUsize,
    recorded: std::sync::Mutex<Vec<crate::Rejected>>,
}

#[async_trait::async_trait]
impl Handler for Recording {
    async fn handle(&self, _delivery: Delivery) -> Verdict {
        Verdict::Ack
    }

    async fn rejected(&self, rejected: crate::Rejected) -> Result<(), String> {
        if self.attempts.fetch_add(1, Ordering::SeqCst) < self.failures {
            return Err("disk full".into());
        }
        self.recorded.lock().unwrap().push(rejected);
        Ok(())
    }
}

#[tokio::test]
async fn a_refusal_is_dead_lettered_only_once_the_handler_recorded_it() {
    let bus = InProcessBus::new(&BusSettings::default());
    bus.inject_raw(&queue(), Kind::Solicitation.type_name(), vec![0xff; 9], "guest").unwrap();
    let h = Arc::new(Recording { failures: 2, attempts: AtomicUsize::new(0), recorded: Default::default() });
    let c = bus.connect_as("guest").consume(queue(), h.clone()).await.unwrap();
    eventually("the dead-letter", || bus.dead_letters().len() == 1).await;
    c.stop().await;
    assert_eq!(h.attempts.load(Ordering::SeqCst), 3, "two failed records retried, then recorded");
    let recorded = h.recorded.lock().unwrap().clone();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].kind, Some(Kind::Solicitation));
    assert_eq!(recorded[0].user_id.as_deref(), Some("guest"));
    assert_eq!(recorded[0].queue, queue().name("passerelle"));
    assert!(recorded[0].reason.contains("undecodable"), "{}", recorded[0].reason);
    assert_eq!(bus.dead_letters()[0].reason, recorded[0].reason);
}
