//! Fault injection against the real RabbitMQ: connections force-closed mid-stream and a broker
//! restart. Publisher and consumer recover; every confirmed message is delivered (at least
//! once). These tests disturb the broker, so they are ignored by the parallel suite and run one
//! at a time:
//!
//! `cargo test -p passerelle-bus --test faults -- --ignored --test-threads=1`

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use passerelle_bus::{AmqpBus, Bus, Delivery, Handler, Queue, Role, Verdict};

/// Records the ids it acknowledges.
struct Collect(Arc<Mutex<HashSet<String>>>);

#[async_trait::async_trait]
impl Handler for Collect {
    async fn handle(&self, d: Delivery) -> Verdict {
        self.0.lock().unwrap().insert(d.message_id);
        Verdict::Ack
    }
}

/// Publishes batches of `size` responses until `stop` is raised, returning the confirmed ids.
async fn publish_until(bus: Arc<AmqpBus>, size: u32, stop: Arc<AtomicBool>) -> HashSet<String> {
    let mut confirmed = HashSet::new();
    while !stop.load(Ordering::SeqCst) {
        let batch = responses("cnaf", size);
        let ids: Vec<String> = batch.iter().map(|o| o.message_id.to_string()).collect();
        bus.publish(batch).await.expect("publish recovers and confirms");
        confirmed.extend(ids);
    }
    confirmed
}

/// How long the stream may take to resume after a fault: a restarted broker recovers its quorum
/// queues and the bus reconnects with capped backoff (up to 15 s between tries), which on a
/// loaded two-core machine took more than the default 30 s.
const RECOVERY: Duration = Duration::from_secs(120);

async fn wait_for_count(seen: &Arc<Mutex<HashSet<String>>>, n: usize) {
    let reached = tokio::time::timeout(RECOVERY, async {
        while seen.lock().unwrap().len() < n {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let len = seen.lock().unwrap().len();
    assert!(reached.is_ok(), "timed out after {RECOVERY:?} waiting for {n} messages consumed ({len} were)");
}

/// Streams messages from a body to the observatory, injects `fault` mid-stream, lets the
/// stream go on until 500 more messages arrived, then checks every confirmed one was delivered.
async fn run_with_fault(v: &Vhost, fault: impl FnOnce() + Send + 'static) {
    let obs = AmqpBus::connect(&v.settings(), Role::Observatory(OBSERVATORY.into())).await.unwrap();
    let body = Arc::new(AmqpBus::connect(&v.settings(), Role::Body("cnaf".into())).await.unwrap());
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let consumer = obs
        .consume(Queue::ObservatoryResponses(OBSERVATORY.into()), Arc::new(Collect(Arc::clone(&seen))))
        .await
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let publisher = tokio::spawn(publish_until(Arc::clone(&body), 50, Arc::clone(&stop)));
    wait_for_count(&seen, 300).await;
    tokio::task::spawn_blocking(fault).await.unwrap();
    assert!(!publisher.is_finished(), "the publisher survived the fault");
    let at_fault = seen.lock().unwrap().len();
    wait_for_count(&seen, at_fault + 500).await;
    stop.store(true, Ordering::SeqCst);
    let confirmed =
        tokio::time::timeout(Duration::from_secs(240), publisher).await.expect("publisher finishes").unwrap();
    eprintln!("{at_fault} consumed when the fault ended; {} confirmed in all", confirmed.len());
    let seen_now = Arc::clone(&seen);
    let confirmed_ref = confirmed.clone();
    eventually("every confirmed message delivered", move || {
        let missing = confirmed_ref.difference(&seen_now.lock().unwrap()).count();
        async move { missing == 0 }
    })
    .await;
    consumer.stop().await;
    Arc::try_unwrap(body).expect("publisher done").close().await;
    obs.close().await;
}

#[tokio::test]
#[ignore = "fault injection: run with --ignored --test-threads=1"]
async fn connections_force_closed_mid_stream_recover_without_losing_confirmed_messages() {
    let v = Arc::new(Vhost::new());
    let target = Arc::clone(&v);
    run_with_fault(&v, move || {
        target.close_connections();
        // A second loss soon after the first, while the bus is recovering.
        std::thread::sleep(Duration::from_millis(300));
        target.close_connections();
    })
    .await;
}

#[tokio::test]
#[ignore = "fault injection (restarts the broker): run with --ignored --test-threads=1"]
async fn a_broker_restart_is_survived_by_publisher_and_consumer() {
    let v = Vhost::new();
    run_with_fault(&v, || {
        rabbitmqctl(&["stop_app"]);
        rabbitmqctl(&["start_app"]);
        rabbitmqctl(&["await_startup"]);
    })
    .await;
}
