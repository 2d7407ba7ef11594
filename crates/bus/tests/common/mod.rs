//! Helpers of the broker tests: bus settings for a test's own vhost (the vhost and users come
//! from `passerelle-test-support`), synthetic messages, a recording handler, raw lapin access.
//!
//! The broker is `PASSERELLE_TEST_AMQP_URL` (default the local guest). A test that cannot reach
//! it, or cannot run `rabbitmqctl`, fails: it never skips.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use passerelle_bus::{BusSettings, Delivery, Handler, Message, Outgoing, Verdict};
use passerelle_protocol::v1;
use tokio::sync::mpsc;

pub use passerelle_test_support::{rabbitmqctl, Vhost, WAIT};

/// The observatory of the test deployments.
pub const OBSERVATORY: &str = "carsat-sud-est";

/// Bus settings for a test [`Vhost`].
pub trait VhostSettings {
    /// Development settings pointing at this vhost, as the test broker's user.
    fn settings(&self) -> BusSettings;
}

impl VhostSettings for Vhost {
    fn settings(&self) -> BusSettings {
        BusSettings { urls: vec![self.url()], observatories: vec![OBSERVATORY.into()], ..Default::default() }
    }
}

/// Imports the definitions `topology export` writes for `settings`.
pub fn import(settings: &BusSettings) {
    let definitions = passerelle_bus::definitions::definitions(settings).unwrap();
    let file = std::env::temp_dir().join(format!("passerelle-definitions-{}.json", passerelle_test_support::unique()));
    std::fs::write(&file, serde_json::to_vec_pretty(&definitions).unwrap()).unwrap();
    rabbitmqctl(&["import_definitions", file.to_str().unwrap()]);
    std::fs::remove_file(&file).unwrap();
}

/// `settings`, logging in as `user` in `v`.
pub fn as_user(settings: &BusSettings, user: &passerelle_test_support::User, v: &Vhost) -> BusSettings {
    BusSettings { urls: vec![user.url(v)], ..settings.clone() }
}

pub fn in_an_hour() -> SystemTime {
    SystemTime::now() + Duration::from_secs(3600)
}

/// A synthetic response chunk from `sender` (no personal data).
pub fn response(sender: &str, index: u32, count: u32) -> Message {
    Message::Response(v1::Response {
        schema_version: 1,
        sender: sender.into(),
        case_id: "0190a0b0-0000-7000-8000-000000000001".into(),
        solicitation_id: "sol-1".into(),
        chunk_index: index,
        chunk_count: count,
        ..Default::default()
    })
}

/// `n` responses from `sender` to the test observatory.
pub fn responses(sender: &str, n: u32) -> Vec<Outgoing> {
    (0..n).map(|i| Outgoing::new(response(sender, i, n), OBSERVATORY, in_an_hour())).collect()
}

/// Reports every delivery and answers with `verdict(call number)`.
pub struct Recorder {
    pub calls: AtomicUsize,
    seen: mpsc::UnboundedSender<Delivery>,
    verdict: Box<dyn Fn(usize) -> Verdict + Send + Sync>,
}

impl Recorder {
    pub fn new(verdict: impl Fn(usize) -> Verdict + Send + Sync + 'static) -> (Arc<Recorder>, Deliveries) {
        let (seen, rx) = mpsc::unbounded_channel();
        (Arc::new(Recorder { calls: AtomicUsize::new(0), seen, verdict: Box::new(verdict) }), Deliveries(rx))
    }

    pub fn acking() -> (Arc<Recorder>, Deliveries) {
        Recorder::new(|_| Verdict::Ack)
    }
}

#[async_trait::async_trait]
impl Handler for Recorder {
    async fn handle(&self, delivery: Delivery) -> Verdict {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let _ = self.seen.send(delivery);
        (self.verdict)(n)
    }
}

/// What a [`Recorder`] saw.
pub struct Deliveries(mpsc::UnboundedReceiver<Delivery>);

impl Deliveries {
    /// The next delivery, within [`WAIT`].
    pub async fn next(&mut self) -> Delivery {
        tokio::time::timeout(WAIT, self.0.recv()).await.expect("a delivery within the deadline").expect("open")
    }

    /// Whether another delivery arrives within `d`.
    pub async fn more_within(&mut self, d: Duration) -> bool {
        tokio::time::timeout(d, self.0.recv()).await.is_ok()
    }
}

/// Polls an asynchronous condition until it holds, failing the test after [`WAIT`].
#[allow(unused_imports)]
pub use passerelle_test_support::eventually_async as eventually;

/// A raw lapin connection (for what the bus never does: forging, raw bytes, reading the DLQ).
pub async fn raw(url: &str) -> lapin::Connection {
    let props = lapin::ConnectionProperties::default();
    lapin::Connection::connect(url, props).await.unwrap_or_else(|e| panic!("cannot connect to the test broker: {e}"))
}

/// Everything waiting in a queue, taken with `basic_get` (auto-ack).
pub async fn drain(conn: &lapin::Connection, queue: &str) -> Vec<lapin::message::BasicGetMessage> {
    let ch = conn.create_channel().await.unwrap();
    let mut out = Vec::new();
    while let Some(m) = ch.basic_get(queue.into(), lapin::options::BasicGetOptions { no_ack: true }).await.unwrap() {
        out.push(m);
    }
    let _ = ch.close(200, "drained".into()).await;
    out
}

/// A text header of a message.
pub fn header(props: &lapin::BasicProperties, key: &str) -> Option<String> {
    match props.headers().as_ref()?.inner().get(key)? {
        lapin::types::AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        other => Some(format!("{other:?}")),
    }
}

/// Shared list for handlers that record ids.
pub type Seen = Arc<Mutex<Vec<String>>>;

/// Takes messages from the dead-letter queue until there are at least `n`, within [`WAIT`].
pub async fn dead_letters(conn: &lapin::Connection, n: usize) -> Vec<lapin::message::BasicGetMessage> {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut dead = Vec::new();
    loop {
        dead.extend(drain(conn, "passerelle.dead-letters").await);
        if dead.len() >= n {
            return dead;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {n} dead-letters, got {}", dead.len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A party's handler that reports the deliveries it acknowledges and the refusals the bus tells
/// it of ([`listener`]).
pub struct Listener {
    delivered: mpsc::UnboundedSender<Delivery>,
    refused: mpsc::UnboundedSender<passerelle_bus::Rejected>,
}

#[async_trait::async_trait]
impl Handler for Listener {
    async fn handle(&self, delivery: Delivery) -> Verdict {
        let _ = self.delivered.send(delivery);
        Verdict::Ack
    }

    async fn rejected(&self, rejected: passerelle_bus::Rejected) -> Result<(), String> {
        let _ = self.refused.send(rejected);
        Ok(())
    }
}

/// A [`Listener`], with the receivers of its deliveries and of its refusals.
pub fn listener(
) -> (Arc<Listener>, mpsc::UnboundedReceiver<Delivery>, mpsc::UnboundedReceiver<passerelle_bus::Rejected>) {
    let (delivered, d) = mpsc::unbounded_channel();
    let (refused, r) = mpsc::unbounded_channel();
    (Arc::new(Listener { delivered, refused }), d, r)
}

/// The next item of `rx`, within [`WAIT`].
pub async fn next<T>(rx: &mut mpsc::UnboundedReceiver<T>) -> T {
    tokio::time::timeout(WAIT, rx.recv()).await.expect("within the deadline").expect("open")
}

/// How many messages wait in `queue` (a passive declare, which needs no permission).
pub async fn waiting(conn: &lapin::Connection, queue: &str) -> u32 {
    let ch = conn.create_channel().await.unwrap();
    let passive = lapin::options::QueueDeclareOptions { passive: true, ..Default::default() };
    let count =
        ch.queue_declare(queue.into(), passive, lapin::types::FieldTable::default()).await.unwrap().message_count();
    let _ = ch.close(200, "counted".into()).await;
    count
}
