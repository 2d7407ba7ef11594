//! Helpers of the broker tests: a fresh vhost (and users) per test, created with `rabbitmqctl`
//! and deleted on drop; synthetic messages; a recording handler; bounded waits.
//!
//! The broker is `PASSERELLE_TEST_AMQP_URL` (default the local guest). A test that cannot reach
//! it, or cannot run `rabbitmqctl`, fails: it never skips.
#![allow(dead_code)]

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use lapin::uri::AMQPUri;
use passerelle_bus::{BusSettings, Delivery, Handler, Message, Outgoing, Verdict};
use passerelle_protocol::v1;
use tokio::sync::mpsc;

/// Upper bound of every wait in these tests.
pub const WAIT: Duration = Duration::from_secs(30);

/// The observatory of the test deployments.
pub const OBSERVATORY: &str = "carsat-sud-est";

pub fn base_url() -> String {
    std::env::var("PASSERELLE_TEST_AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// The broker URL for `user` in `vhost`.
pub fn url(vhost: &str, user: &str, password: &str) -> String {
    let base: AMQPUri = base_url().parse().expect("PASSERELLE_TEST_AMQP_URL is an AMQP URL");
    format!("amqp://{user}:{password}@{}:{}/{}", base.authority.host, base.authority.port, vhost.replace('/', "%2f"))
}

fn guest() -> (String, String) {
    let base: AMQPUri = base_url().parse().expect("PASSERELLE_TEST_AMQP_URL is an AMQP URL");
    (base.authority.userinfo.username, base.authority.userinfo.password)
}

/// Runs `rabbitmqctl`; panics (fails the test) when it does not succeed.
pub fn rabbitmqctl(args: &[&str]) -> String {
    let out = Command::new("rabbitmqctl")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run rabbitmqctl {args:?}: {e} (the broker tests need it)"));
    assert!(
        out.status.success(),
        "rabbitmqctl {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A unique short id for names.
pub fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

/// A vhost of its own, where the test user (guest) may do anything; deleted on drop.
#[derive(Debug)]
pub struct Vhost {
    pub name: String,
}

impl Vhost {
    pub fn new() -> Vhost {
        let v = Vhost::named(&format!("test-{}", unique()));
        rabbitmqctl(&["set_permissions", "-p", &v.name, &guest().0, ".*", ".*", ".*"]);
        v
    }

    /// A vhost that `rabbitmqctl import_definitions` will create (deleted on drop).
    pub fn reserved() -> Vhost {
        Vhost { name: format!("test-{}", unique()) }
    }

    fn named(name: &str) -> Vhost {
        rabbitmqctl(&["add_vhost", name]);
        Vhost { name: name.to_owned() }
    }

    /// The guest's URL in this vhost.
    pub fn url(&self) -> String {
        let (user, password) = guest();
        url(&self.name, &user, &password)
    }

    /// Development settings pointing at this vhost.
    pub fn settings(&self) -> BusSettings {
        BusSettings { urls: vec![self.url()], observatories: vec![OBSERVATORY.into()], ..Default::default() }
    }

    /// `rabbitmqctl list_queues` for this vhost as (name, arguments JSON, messages).
    pub fn queues(&self) -> Vec<serde_json::Value> {
        let out = rabbitmqctl(&[
            "list_queues",
            "-q",
            "-p",
            &self.name,
            "name",
            "arguments",
            "messages",
            "--formatter",
            "json",
        ]);
        serde_json::from_str(&out).expect("rabbitmqctl JSON")
    }

    /// Closes every connection of this vhost (fault tests).
    pub fn close_connections(&self) {
        rabbitmqctl(&["close_all_connections", "-p", &self.name, "passerelle fault test"]);
    }
}

impl Drop for Vhost {
    fn drop(&mut self) {
        let _ = Command::new("rabbitmqctl").args(["delete_vhost", &self.name]).output();
    }
}

/// A broker user with a password; deleted on drop.
#[derive(Debug)]
pub struct User {
    pub name: String,
    pub password: String,
}

impl User {
    pub fn new(name: &str) -> User {
        let password = unique();
        rabbitmqctl(&["add_user", name, &password]);
        User { name: name.to_owned(), password }
    }

    /// Gives a password to a user created by an import.
    pub fn imported(name: &str) -> User {
        let password = unique();
        rabbitmqctl(&["change_password", name, &password]);
        User { name: name.to_owned(), password }
    }

    pub fn url(&self, vhost: &Vhost) -> String {
        url(&vhost.name, &self.name, &self.password)
    }
}

impl Drop for User {
    fn drop(&mut self) {
        let _ = Command::new("rabbitmqctl").args(["delete_user", &self.name]).output();
    }
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

/// Polls `cond` until it holds, failing the test after [`WAIT`].
pub async fn eventually<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

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
