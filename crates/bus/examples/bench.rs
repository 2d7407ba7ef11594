//! The bus benchmark (issue 3): publish and consume N messages of 256 B, 4 KiB and 64 KiB
//! through the bus, and in the same run through lapin used directly with the same settings
//! (persistent, mandatory, confirms pipelined within the same window, the same prefetch, one
//! ack per message, the same quorum queue). Prints msg/s, MB/s and the bus/raw ratio.
//!
//! `cargo run --release -p passerelle-bus --example bench -- [--url URL] [--scale F] [--rounds R]`
//!
//! The URL defaults to `PASSERELLE_TEST_AMQP_URL`, else the local guest. Everything lives under
//! a fresh name prefix and is deleted at the end. Payloads are synthetic padding.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures::stream::{FuturesUnordered, StreamExt};
use lapin::options::*;
use lapin::types::{AMQPValue, FieldTable};
use lapin::BasicProperties;
use passerelle_bus::topology::{Exchange, Topology};
use passerelle_bus::{AmqpBus, Bus, BusSettings, Delivery, Handler, Message, Outgoing, Queue, Role, Verdict};
use passerelle_protocol::v1;
use tokio::sync::Notify;

const OBSERVATORY: &str = "bench-observatory";

/// (payload size, messages at scale 1).
const SIZES: [(usize, usize); 3] = [(256, 20_000), (4 * 1024, 10_000), (64 * 1024, 2_000)];

/// Messages per `publish` call of the bus (a chunk batch as the services send them).
const BATCH: usize = 500;

struct Args {
    url: String,
    scale: f64,
    rounds: usize,
}

fn args() -> Args {
    let mut a = Args {
        url: std::env::var("PASSERELLE_TEST_AMQP_URL")
            .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into()),
        scale: 1.0,
        rounds: 4,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => a.url = value,
            "--scale" => a.scale = value.parse().expect("--scale is a number"),
            "--rounds" => a.rounds = value.parse().expect("--rounds is a number"),
            other => panic!("unknown flag {other}"),
        }
    }
    a
}

/// A response whose encoding is `size` bytes (± a few): synthetic padding in a decline detail.
fn message(size: usize, index: u32) -> Message {
    let mut m = v1::Response {
        schema_version: 1,
        sender: "cnaf".into(),
        case_id: "0190a0b0-0000-7000-8000-00000000beef".into(),
        solicitation_id: "bench".into(),
        chunk_index: index,
        chunk_count: u32::MAX,
        ..Default::default()
    };
    let base = Message::Response(m.clone()).encode().len();
    let pad = size.saturating_sub(base + 8);
    m.declined.push(v1::Decline { category: 0, reason: 0, detail: "p".repeat(pad) });
    Message::Response(m)
}

/// Counts deliveries and wakes the benchmark at the target.
struct Counter {
    n: AtomicUsize,
    target: usize,
    done: Notify,
}

impl Counter {
    fn hit(&self) {
        if self.n.fetch_add(1, Ordering::SeqCst) + 1 == self.target {
            self.done.notify_one();
        }
    }
}

#[async_trait::async_trait]
impl Handler for Counter {
    async fn handle(&self, _d: Delivery) -> Verdict {
        self.hit();
        Verdict::Ack
    }
}

async fn bus_round(obs: &AmqpBus, body: &AmqpBus, size: usize, n: usize) -> Duration {
    let counter = Arc::new(Counter { n: AtomicUsize::new(0), target: n, done: Notify::new() });
    let consumer = obs.consume(Queue::ObservatoryResponses(OBSERVATORY.into()), counter.clone()).await.unwrap();
    let expires = SystemTime::now() + Duration::from_secs(3600);
    let messages: Vec<Outgoing> =
        (0..n).map(|i| Outgoing::new(message(size, i as u32), OBSERVATORY, expires)).collect();
    let started = Instant::now();
    let mut it = messages.into_iter().peekable();
    while it.peek().is_some() {
        body.publish(it.by_ref().take(BATCH).collect()).await.expect("bus publish");
    }
    counter.done.notified().await;
    let elapsed = started.elapsed();
    consumer.stop().await;
    elapsed
}

async fn raw_connection(url: &str) -> lapin::Connection {
    let props = lapin::ConnectionProperties::default();
    lapin::Connection::connect(url, props).await.expect("raw connection")
}

async fn raw_round(conn: &lapin::Connection, settings: &BusSettings, size: usize, n: usize) -> Duration {
    let queue = Queue::ObservatoryResponses(OBSERVATORY.into()).name(&settings.prefix);
    let exchange = Exchange::Responses.name(&settings.prefix);
    let cch = conn.create_channel().await.unwrap();
    cch.basic_qos(settings.prefetch, BasicQosOptions::default()).await.unwrap();
    let mut stream = cch
        .basic_consume(queue.as_str().into(), "raw-bench".into(), BasicConsumeOptions::default(), FieldTable::default())
        .await
        .unwrap();
    let consumer = tokio::spawn(async move {
        for _ in 0..n {
            let d = stream.next().await.unwrap().unwrap();
            d.acker.ack(BasicAckOptions::default()).await.unwrap();
        }
        cch.close(200, "done".into()).await.unwrap();
    });
    let pch = conn.create_channel().await.unwrap();
    pch.confirm_select(ConfirmSelectOptions::default()).await.unwrap();
    let bodies: Vec<(String, Vec<u8>)> =
        (0..n).map(|i| (uuid::Uuid::now_v7().to_string(), message(size, i as u32).encode())).collect();
    let started = Instant::now();
    let mut in_flight: FuturesUnordered<lapin::PublisherConfirm> = FuturesUnordered::new();
    for (i, (id, body)) in bodies.iter().enumerate() {
        while in_flight.len() >= settings.confirm_window {
            let c: lapin::Confirmation = in_flight.next().await.unwrap().unwrap();
            assert!(c.is_ack());
        }
        let mut headers = FieldTable::default();
        headers.insert("x-passerelle-schema-version".into(), AMQPValue::LongLongInt(1));
        headers.insert("x-passerelle-chunk-index".into(), AMQPValue::LongLongInt(i as i64));
        headers.insert("x-passerelle-chunk-count".into(), AMQPValue::LongLongInt(i64::from(u32::MAX)));
        let props = BasicProperties::default()
            .with_message_id(id.as_str().into())
            .with_type("passerelle.v1.Response".into())
            .with_content_type("application/x-protobuf".into())
            .with_delivery_mode(2)
            .with_user_id("guest".into())
            .with_timestamp(0)
            .with_correlation_id("0190a0b0-0000-7000-8000-00000000beef".into())
            .with_expiration("3600000".into())
            .with_headers(headers);
        let options = BasicPublishOptions { mandatory: true, ..Default::default() };
        in_flight
            .push(pch.basic_publish(exchange.as_str().into(), OBSERVATORY.into(), options, body, props).await.unwrap());
    }
    while let Some(c) = in_flight.next().await {
        assert!(c.unwrap().is_ack());
    }
    consumer.await.unwrap();
    let elapsed = started.elapsed();
    pch.close(200, "done".into()).await.unwrap();
    elapsed
}

async fn cleanup(conn: &lapin::Connection, settings: &BusSettings) {
    let ch = conn.create_channel().await.unwrap();
    let topology = Topology::of(settings);
    for q in &topology.queues {
        ch.queue_delete(q.name.as_str().into(), QueueDeleteOptions::default()).await.unwrap();
    }
    for (e, _) in &topology.exchanges {
        ch.exchange_delete(e.as_str().into(), ExchangeDeleteOptions::default()).await.unwrap();
    }
}

fn rate(n: usize, size: usize, d: Duration) -> (f64, f64) {
    let s = d.as_secs_f64();
    (n as f64 / s, (n * size) as f64 / s / 1e6)
}

#[tokio::main]
async fn main() {
    let a = args();
    let settings = BusSettings {
        urls: vec![a.url.clone()],
        prefix: format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
        observatories: vec![OBSERVATORY.into()],
        bodies: vec!["cnaf".into()],
        ..Default::default()
    };
    let obs = AmqpBus::connect(&settings, Role::Observatory(OBSERVATORY.into())).await.expect("bus connects");
    let body = AmqpBus::connect(&settings, Role::Body("cnaf".into())).await.expect("bus connects");
    let raw = raw_connection(&a.url).await;
    println!(
        "prefetch {}, confirm window {}, bus batches of {BATCH}, best of {} rounds",
        settings.prefetch, settings.confirm_window, a.rounds
    );
    println!("| size | messages | raw lapin msg/s | raw MB/s | bus msg/s | bus MB/s | bus / raw |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for (size, base_n) in SIZES {
        let n = ((base_n as f64 * a.scale) as usize).max(100);
        let (mut raw_best, mut bus_best) = (Duration::MAX, Duration::MAX);
        // Alternate which goes first, so warm-up and background load do not favour one side.
        for round in 0..a.rounds {
            if round % 2 == 0 {
                raw_best = raw_best.min(raw_round(&raw, &settings, size, n).await);
                bus_best = bus_best.min(bus_round(&obs, &body, size, n).await);
            } else {
                bus_best = bus_best.min(bus_round(&obs, &body, size, n).await);
                raw_best = raw_best.min(raw_round(&raw, &settings, size, n).await);
            }
        }
        let (raw_msgs, raw_mb) = rate(n, size, raw_best);
        let (bus_msgs, bus_mb) = rate(n, size, bus_best);
        let label = if size >= 1024 { format!("{} KiB", size / 1024) } else { format!("{size} B") };
        println!(
            "| {label} | {n} | {raw_msgs:.0} | {raw_mb:.1} | {bus_msgs:.0} | {bus_mb:.1} | {:.0}% |",
            100.0 * bus_msgs / raw_msgs
        );
    }
    body.close().await;
    obs.close().await;
    cleanup(&raw, &settings).await;
    let _ = raw.close(200, "bench done".into()).await;
}
