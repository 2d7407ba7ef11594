//! The bus on RabbitMQ (lapin on tokio): one connection per [`AmqpBus`], recovered after any
//! loss; a confirm-mode publishing channel; one channel per consumer.
//!
//! - [`connection`]: URLs, TLS, reconnection with backoff, topology declaration on each connect;
//!   `start`: a daemon's first connection, waiting for a broker that is down; `diagnose`: why a
//!   connection failed, in one line; `certificate`: the client certificate's subject and CN.
//! - [`publisher`]: persistent, mandatory, confirmed publishing with a bounded window.
//! - [`consumer`]: manual acks, prefetch, receiver checks, verdicts, reasoned dead-letters.
//! - `alarms`: the observatory's watch on delivery-limit drops.
//! - `sweep`: the observatory's sweep of the dead-letter queue (no copy outlives its case's cap).
//! - [`lock`]: the territory lock an observatory daemon's connection holds (one per territory).
//! - [`delete_topology`]: deletes a prefix's queues and exchanges (demo, tests, benchmarks).

mod alarms;
mod certificate;
pub mod connection;
pub mod consumer;
mod declare;
mod diagnose;
pub mod lock;
pub mod properties;
pub mod publisher;
mod start;
mod sweep;
mod teardown;
mod tls;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use tokio::sync::watch;

use crate::{Bus, BusError, BusSettings, Consumer, Handler, Outgoing, Queue, Role};
pub use certificate::ClientCertificate;
use connection::Connector;
use publisher::Publisher;
pub use start::StartPatience;
pub use teardown::delete_topology;

/// The bus on RabbitMQ.
#[derive(Debug)]
pub struct AmqpBus {
    connector: Arc<Connector>,
    publisher: Publisher,
    /// The observatory's alarm watch and dead-letter sweep, taken (and stopped) by
    /// [`AmqpBus::close`].
    watches: std::sync::Mutex<Vec<Consumer>>,
    alarm_count: Arc<AtomicU64>,
    /// How often the observatory sweeps the dead-letter queue.
    sweep_interval: std::time::Duration,
}

impl AmqpBus {
    /// Connects to the first reachable URL (each tried once: an unreachable broker is an error
    /// the caller reports), then declares the whole topology (observatory) or checks passively
    /// that the party's queues and exchanges exist (body).
    pub async fn connect(settings: &BusSettings, role: Role) -> Result<AmqpBus, BusError> {
        AmqpBus::connect_holding(settings, role, None).await
    }

    /// [`AmqpBus::connect`] with a territory lock: see [`AmqpBus::new_holding`].
    pub async fn connect_holding(
        settings: &BusSettings,
        role: Role,
        territory: Option<lock::TerritoryLock>,
    ) -> Result<AmqpBus, BusError> {
        let bus = AmqpBus::new_holding(settings, role, territory)?;
        bus.open(StartPatience::Once, &|_| {}).await?;
        Ok(bus)
    }

    /// The bus, not connected yet: its URLs parsed, its TLS files read, its client certificate's
    /// CN checked against the identity map (all settings errors, before anything connects).
    pub fn new(settings: &BusSettings, role: Role) -> Result<AmqpBus, BusError> {
        AmqpBus::new_holding(settings, role, None)
    }

    /// [`AmqpBus::new`], and, with a `territory` lock (an observatory daemon), every connection
    /// takes the territory's lock before anything consumes: at start it waits for it (standby)
    /// or fails with [`BusError::TerritoryHeld`]; lost after a reconnection, the bus closes
    /// ([`AmqpBus::territory_lost`]).
    pub fn new_holding(
        settings: &BusSettings,
        role: Role,
        territory: Option<lock::TerritoryLock>,
    ) -> Result<AmqpBus, BusError> {
        let mut connector = Connector::new(settings, role)?;
        if let Some(territory) = territory {
            connector = connector.with_territory_lock(territory);
        }
        let connector = Arc::new(connector);
        Ok(AmqpBus {
            publisher: Publisher::new(Arc::clone(&connector)),
            connector,
            watches: std::sync::Mutex::new(Vec::new()),
            alarm_count: Arc::new(AtomicU64::new(0)),
            sweep_interval: crate::topology::DEAD_LETTER_SWEEP_INTERVAL,
        })
    }

    /// The bus, sweeping the dead-letter queue every `interval` instead of
    /// [`DEAD_LETTER_SWEEP_INTERVAL`](crate::topology::DEAD_LETTER_SWEEP_INTERVAL) (tests with
    /// caps of seconds). Set before [`AmqpBus::open`].
    pub fn with_dead_letter_sweep(mut self, interval: std::time::Duration) -> AmqpBus {
        self.sweep_interval = interval;
        self
    }

    /// Opens the first connection, waiting for the broker as `patience` allows (`waiting` hears
    /// each failure that will be retried), then starts the observatory's alarm watch and its
    /// dead-letter sweep.
    pub async fn open(
        &self,
        patience: StartPatience,
        waiting: &(dyn Fn(&BusError) + Send + Sync),
    ) -> Result<(), BusError> {
        if self.connector.settings.identity.insecure_any_user {
            tracing::warn!("INSECURE bus identity profile: any broker user may speak for any body or observatory");
        }
        start::first_connection(&self.connector, patience, waiting).await?;
        if let Role::Observatory(_) = self.connector.role {
            let (stop_tx, stop) = watch::channel(false);
            let task =
                tokio::spawn(alarms::watch_alarms(Arc::clone(&self.connector), Arc::clone(&self.alarm_count), stop));
            let alarms = Consumer::new(stop_tx, task);
            let (stop_tx, stop) = watch::channel(false);
            let task = tokio::spawn(sweep::sweep_dead_letters(Arc::clone(&self.connector), self.sweep_interval, stop));
            let sweep = Consumer::new(stop_tx, task);
            self.watches.lock().unwrap_or_else(|p| p.into_inner()).extend([alarms, sweep]);
        }
        Ok(())
    }

    /// Messages the broker dead-lettered at the delivery limit since this bus connected
    /// (observatory only; each is also logged as an error).
    pub fn delivery_limit_alarms(&self) -> u64 {
        self.alarm_count.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Why the bus closed itself, if it did: another observatory took the territory's lock
    /// while this one was disconnected.
    pub fn territory_lost(&self) -> Option<String> {
        self.connector.territory_lost()
    }

    /// Its counters: connections, blocked time, dead-letters (for the metrics).
    pub fn stats(&self) -> Arc<crate::BusStats> {
        Arc::clone(&self.connector.stats)
    }

    /// Whether its broker connection is open now (for `/health`).
    pub fn broker_health(&self) -> crate::BrokerHealth {
        self.connector.health.clone()
    }

    /// How many consumers `queue` has now: a passive declare, which needs no right on the
    /// queue (the queue must exist). For a client waiting on another party, to say whom it
    /// waits for when nobody consumes what it sent.
    pub async fn consumer_count(&self, queue: &Queue) -> Result<u32, BusError> {
        let live = self.connector.live().await?;
        let failed =
            |e: lapin::Error| BusError::Amqp { context: "counting a queue's consumers", detail: e.to_string() };
        let ch = live.conn.create_channel().await.map_err(failed)?;
        let name = queue.name(&self.connector.settings.prefix);
        let passive = lapin::options::QueueDeclareOptions { passive: true, ..Default::default() };
        let declared = ch.queue_declare(name.as_str().into(), passive, lapin::types::FieldTable::default()).await;
        // A failed passive declare closes the channel by itself.
        if declared.is_ok() {
            let _ = ch.close(200, "consumers counted".into()).await;
        }
        Ok(declared.map_err(failed)?.consumer_count())
    }

    /// The settings this bus runs with.
    pub fn settings(&self) -> &BusSettings {
        &self.connector.settings
    }

    /// Closes cleanly: the alarm watch and the dead-letter sweep stop, the publishing channel and the connection close.
    /// Stop the consumers first (`Consumer::stop`) so their in-flight deliveries are settled;
    /// consumers still running end when the connection closes, their unacked deliveries going
    /// back to the queues.
    ///
    /// Takes `&self`, so that a bus still shared (a task that has not dropped its handle yet)
    /// is closed all the same: left open, its connection would be torn down by the runtime's
    /// shutdown instead, and lapin would log that as an error at every clean stop. Later
    /// publishes fail with [`BusError::Closed`].
    pub async fn close(&self) {
        let watches = std::mem::take(&mut *self.watches.lock().unwrap_or_else(|p| p.into_inner()));
        for watch in watches {
            watch.stop().await;
        }
        self.publisher.close().await;
        self.connector.close().await;
    }
}

#[async_trait::async_trait]
impl Bus for AmqpBus {
    async fn publish(&self, messages: Vec<Outgoing>) -> Result<(), BusError> {
        self.publisher.publish(messages).await
    }

    async fn consume(&self, queue: Queue, handler: Arc<dyn Handler>) -> Result<Consumer, BusError> {
        let subscription = consumer::Subscription { connector: Arc::clone(&self.connector), queue, handler };
        let live = self.connector.live().await?;
        let session = subscription.open(live).await?;
        let (stop_tx, stop) = watch::channel(false);
        let task = tokio::spawn(subscription.run(session, stop));
        Ok(Consumer::new(stop_tx, task))
    }
}
