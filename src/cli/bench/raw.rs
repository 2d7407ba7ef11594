//! The raw broker, through lapin directly: what RabbitMQ itself moves on this machine, to put
//! the flow's figures in proportion — and the tap that records the flow's messages.
//!
//! - [`Tap`]: a transient, exclusive queue bound to the four flow exchanges with every party's
//!   routing key, so it receives one copy of every message the flow publishes. Drained after
//!   the flow, it gives the count, kinds and body sizes of exactly those messages.
//! - [`throughput`]: the same bodies (count and sizes, in order) through one durable quorum
//!   queue (as the product's queues), persistent, publisher confirms with the product's confirm
//!   window, one consumer with the product's prefetch and manual acks; from the first publish to
//!   the last ack.
//! - [`round_trips`]: publish → consume → reply → consume, one message at a time, persistent
//!   and confirmed at each publish, on two quorum queues.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use futures::stream::{FuturesUnordered, StreamExt};
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions, QueueBindOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::Confirmation;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use passerelle_bus::topology::Exchange;
use passerelle_bus::BusSettings;

/// AMQP delivery mode of a persistent message.
const PERSISTENT: u8 = 2;

/// How long the raw measurements may take before the benchmark gives up on the broker.
const RAW_TIMEOUT: Duration = Duration::from_secs(600);

/// Opens a plain lapin connection on the tokio runtime (lapin's default runtime).
pub async fn connect(url: &str, name: &str) -> anyhow::Result<Connection> {
    let props = ConnectionProperties::default().with_connection_name(name.into());
    Connection::connect(url, props).await.context("cannot connect to RabbitMQ")
}

/// What the tap saw of one kind of message.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct KindCount {
    pub messages: u64,
    pub bytes: u64,
}

/// The flow's messages as the tap recorded them.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    /// Body sizes in bytes, in the order the broker routed them.
    pub sizes: Vec<usize>,
    /// By AMQP `type` (`passerelle.v1.Request`…).
    pub by_kind: BTreeMap<String, KindCount>,
}

impl Recorded {
    pub fn messages(&self) -> u64 {
        self.sizes.len() as u64
    }

    pub fn bytes(&self) -> u64 {
        self.sizes.iter().map(|&s| s as u64).sum()
    }
}

/// A queue that receives a copy of every flow message of a prefix.
#[derive(Debug)]
pub struct Tap {
    channel: Channel,
    queue: String,
}

impl Tap {
    /// Declares the tap and binds it (the flow's exchanges must exist: start the observatory
    /// first). Transient and exclusive: RabbitMQ deletes it with `conn`.
    pub async fn bind(conn: &Connection, settings: &BusSettings) -> anyhow::Result<Tap> {
        let channel = conn.create_channel().await.context("cannot open the tap's channel")?;
        let queue = format!("{}.bench-tap", settings.prefix);
        let options = QueueDeclareOptions { durable: false, exclusive: true, auto_delete: false, ..Default::default() };
        channel
            .queue_declare(queue.as_str().into(), options, FieldTable::default())
            .await
            .context("cannot declare the tap")?;
        let parties: Vec<&String> = settings.observatories.iter().chain(&settings.bodies).collect();
        for exchange in Exchange::FLOW {
            for party in &parties {
                channel
                    .queue_bind(
                        queue.as_str().into(),
                        exchange.name(&settings.prefix).into(),
                        party.as_str().into(),
                        QueueBindOptions::default(),
                        FieldTable::default(),
                    )
                    .await
                    .context("cannot bind the tap")?;
            }
        }
        Ok(Tap { channel, queue })
    }

    /// Takes every message in the tap (the flow must be over) and deletes it.
    pub async fn drain(self) -> anyhow::Result<Recorded> {
        let passive = QueueDeclareOptions { passive: true, ..Default::default() };
        let declared = self.channel.queue_declare(self.queue.as_str().into(), passive, FieldTable::default()).await?;
        let expected = declared.message_count() as usize;
        let mut recorded = Recorded { sizes: Vec::with_capacity(expected), by_kind: BTreeMap::new() };
        if expected > 0 {
            let mut consumer = self
                .channel
                .basic_consume(
                    self.queue.as_str().into(),
                    "bench-tap".into(),
                    BasicConsumeOptions { no_ack: true, ..Default::default() },
                    FieldTable::default(),
                )
                .await
                .context("cannot consume the tap")?;
            let deadline = tokio::time::Instant::now() + RAW_TIMEOUT;
            while recorded.sizes.len() < expected {
                let next = tokio::time::timeout_at(deadline, consumer.next())
                    .await
                    .map_err(|_| anyhow!("the tap did not deliver its {expected} messages"))?;
                let delivery = next.ok_or_else(|| anyhow!("the tap's consumer ended"))??;
                let kind = delivery.properties.kind().as_ref().map_or("unknown", |k| k.as_str()).to_owned();
                let entry = recorded.by_kind.entry(kind).or_default();
                entry.messages += 1;
                entry.bytes += delivery.data.len() as u64;
                recorded.sizes.push(delivery.data.len());
            }
        }
        let _ = self.channel.queue_delete(self.queue.as_str().into(), QueueDeleteOptions::default()).await;
        let _ = self.channel.close(200, "tap drained".into()).await;
        Ok(recorded)
    }
}

/// Declares a durable quorum queue, as the product's queues are.
async fn quorum_queue(channel: &Channel, name: &str) -> anyhow::Result<()> {
    let mut args = FieldTable::default();
    args.insert("x-queue-type".into(), AMQPValue::LongString("quorum".into()));
    let options = QueueDeclareOptions { durable: true, ..Default::default() };
    channel.queue_declare(name.into(), options, args).await.with_context(|| format!("cannot declare {name}"))?;
    Ok(())
}

fn persistent() -> BasicProperties {
    BasicProperties::default().with_delivery_mode(PERSISTENT)
}

/// Moves messages of `sizes` through one quorum queue and returns the seconds from the first
/// publish to the last ack.
pub async fn throughput(
    conn: &Connection,
    prefix: &str,
    sizes: &[usize],
    confirm_window: usize,
    prefetch: u16,
) -> anyhow::Result<f64> {
    let queue = format!("{prefix}.bench-raw");
    let publisher = conn.create_channel().await?;
    quorum_queue(&publisher, &queue).await?;
    let outcome = async {
        publisher.confirm_select(ConfirmSelectOptions::default()).await?;
        let consuming = conn.create_channel().await?;
        consuming.basic_qos(prefetch, BasicQosOptions::default()).await?;
        let mut consumer = consuming
            .basic_consume(
                queue.as_str().into(),
                "bench-raw".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let expected = sizes.len();
        let consumed = tokio::spawn(async move {
            let mut count = 0usize;
            while count < expected {
                let delivery = consumer.next().await.ok_or_else(|| anyhow!("the raw consumer ended"))??;
                delivery.ack(BasicAckOptions::default()).await?;
                count += 1;
            }
            Ok::<Instant, anyhow::Error>(Instant::now())
        });
        let body = vec![0x5au8; sizes.iter().copied().max().unwrap_or(0)];
        let started = Instant::now();
        let mut in_flight = FuturesUnordered::new();
        for &size in sizes {
            while in_flight.len() >= confirm_window.max(1) {
                confirmed(in_flight.next().await)?;
            }
            let confirm = publisher
                .basic_publish(
                    "".into(),
                    queue.as_str().into(),
                    BasicPublishOptions::default(),
                    &body[..size],
                    persistent(),
                )
                .await?;
            in_flight.push(confirm);
        }
        while let Some(done) = in_flight.next().await {
            confirmed(Some(done))?;
        }
        let finished = tokio::time::timeout(RAW_TIMEOUT, consumed)
            .await
            .map_err(|_| anyhow!("the raw consumer did not get every message"))???;
        let _ = consuming.close(200, "raw done".into()).await;
        Ok::<f64, anyhow::Error>(finished.duration_since(started).as_secs_f64())
    }
    .await;
    let _ = publisher.queue_delete(queue.as_str().into(), QueueDeleteOptions::default()).await;
    let _ = publisher.close(200, "raw done".into()).await;
    outcome
}

fn confirmed(done: Option<lapin::Result<Confirmation>>) -> anyhow::Result<()> {
    match done {
        Some(Ok(Confirmation::Ack(_))) | None => Ok(()),
        Some(Ok(other)) => bail!("the broker did not confirm a raw message: {other:?}"),
        Some(Err(e)) => Err(e.into()),
    }
}

/// `count` sequential round trips of a `size`-byte message: publish (confirmed) to a ping
/// queue → consumed → reply published (confirmed) to a pong queue, then the ping acked →
/// consumed. Returns each round trip in milliseconds.
pub async fn round_trips(conn: &Connection, prefix: &str, count: usize, size: usize) -> anyhow::Result<Vec<f64>> {
    let ping = format!("{prefix}.bench-ping");
    let pong = format!("{prefix}.bench-pong");
    let control = conn.create_channel().await?;
    quorum_queue(&control, &ping).await?;
    quorum_queue(&control, &pong).await?;
    let outcome = async {
        // The replying side: its own consuming and confirm-mode publishing channels.
        let reply_in = conn.create_channel().await?;
        let reply_out = Arc::new(conn.create_channel().await?);
        reply_out.confirm_select(ConfirmSelectOptions::default()).await?;
        let mut pings = reply_in
            .basic_consume(
                ping.as_str().into(),
                "bench-ping".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let replier = {
            let reply_out = Arc::clone(&reply_out);
            let pong = pong.clone();
            tokio::spawn(async move {
                for _ in 0..count {
                    let delivery = pings.next().await.ok_or_else(|| anyhow!("the ping consumer ended"))??;
                    let confirm = reply_out
                        .basic_publish(
                            "".into(),
                            pong.as_str().into(),
                            BasicPublishOptions::default(),
                            &delivery.data,
                            persistent(),
                        )
                        .await?;
                    confirmed(Some(confirm.await))?;
                    delivery.ack(BasicAckOptions::default()).await?;
                }
                Ok::<(), anyhow::Error>(())
            })
        };
        let asking = conn.create_channel().await?;
        asking.confirm_select(ConfirmSelectOptions::default()).await?;
        let answers = conn.create_channel().await?;
        let mut pongs = answers
            .basic_consume(
                pong.as_str().into(),
                "bench-pong".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let body = vec![0x5au8; size];
        let mut rtts = Vec::with_capacity(count);
        for _ in 0..count {
            let started = Instant::now();
            let confirm = asking
                .basic_publish("".into(), ping.as_str().into(), BasicPublishOptions::default(), &body, persistent())
                .await?;
            confirmed(Some(confirm.await))?;
            let delivery = tokio::time::timeout(RAW_TIMEOUT, pongs.next())
                .await
                .map_err(|_| anyhow!("no pong"))?
                .ok_or_else(|| anyhow!("the pong consumer ended"))??;
            rtts.push(started.elapsed().as_secs_f64() * 1000.0);
            delivery.ack(BasicAckOptions::default()).await?;
        }
        replier.await??;
        for ch in [&reply_in, &asking, &answers] {
            let _ = ch.close(200, "rtt done".into()).await;
        }
        let _ = reply_out.close(200, "rtt done".into()).await;
        Ok::<Vec<f64>, anyhow::Error>(rtts)
    }
    .await;
    for q in [&ping, &pong] {
        let _ = control.queue_delete(q.as_str().into(), QueueDeleteOptions::default()).await;
    }
    let _ = control.close(200, "rtt done".into()).await;
    outcome
}
