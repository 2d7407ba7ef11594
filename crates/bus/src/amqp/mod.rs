//! The bus on RabbitMQ (lapin on tokio): one connection per [`AmqpBus`], recovered after any
//! loss; a confirm-mode publishing channel; one channel per consumer.
//!
//! - [`connection`]: URLs, TLS, reconnection with backoff, topology declaration on each connect.
//! - [`publisher`]: persistent, mandatory, confirmed publishing with a bounded window.
//! - [`consumer`]: manual acks, prefetch, receiver checks, verdicts, reasoned dead-letters.
//! - `alarms`: the observatory's watch on delivery-limit drops.
//! - [`lock`]: the territory lock an observatory daemon's connection holds (one per territory).
//! - [`delete_topology`]: deletes a prefix's queues and exchanges (demo, tests, benchmarks).

mod alarms;
pub mod connection;
pub mod consumer;
mod declare;
pub mod lock;
pub mod properties;
pub mod publisher;
mod teardown;
mod tls;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use tokio::sync::watch;

use crate::{Bus, BusError, BusSettings, Consumer, Handler, Outgoing, Queue, Role};
use connection::Connector;
use publisher::Publisher;
pub use teardown::delete_topology;

/// The bus on RabbitMQ.
#[derive(Debug)]
pub struct AmqpBus {
    connector: Arc<Connector>,
    publisher: Publisher,
    /// The observatory's alarm watch, taken (and stopped) by [`AmqpBus::close`].
    alarms: std::sync::Mutex<Option<Consumer>>,
    alarm_count: Arc<AtomicU64>,
}

impl AmqpBus {
    /// Connects to the first reachable URL (each tried once: an unreachable broker at start-up
    /// is an error the service reports), then declares the whole topology (observatory) or
    /// checks passively that the party's queues and exchanges exist (body).
    pub async fn connect(settings: &BusSettings, role: Role) -> Result<AmqpBus, BusError> {
        AmqpBus::connect_holding(settings, role, None).await
    }

    /// [`AmqpBus::connect`], and, with a `territory` lock (an observatory daemon), every
    /// connection takes the territory's lock before anything consumes: at start it waits for it
    /// (standby) or fails with [`BusError::TerritoryHeld`]; lost after a reconnection, the bus
    /// closes ([`AmqpBus::territory_lost`]).
    pub async fn connect_holding(
        settings: &BusSettings,
        role: Role,
        territory: Option<lock::TerritoryLock>,
    ) -> Result<AmqpBus, BusError> {
        let mut connector = Connector::new(settings, role.clone())?;
        if let Some(territory) = territory {
            connector = connector.with_territory_lock(territory);
        }
        let connector = Arc::new(connector);
        if settings.identity.insecure_any_user {
            tracing::warn!("INSECURE bus identity profile: any broker user may speak for any body or observatory");
        }
        connector.live().await?;
        let alarm_count = Arc::new(AtomicU64::new(0));
        let alarms = match role {
            Role::Observatory(_) => {
                let (stop_tx, stop) = watch::channel(false);
                let task = tokio::spawn(alarms::watch_alarms(Arc::clone(&connector), Arc::clone(&alarm_count), stop));
                Some(Consumer::new(stop_tx, task))
            }
            Role::Body(_) => None,
        };
        Ok(AmqpBus {
            publisher: Publisher::new(Arc::clone(&connector)),
            connector,
            alarms: std::sync::Mutex::new(alarms),
            alarm_count,
        })
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

    /// The settings this bus runs with.
    pub fn settings(&self) -> &BusSettings {
        &self.connector.settings
    }

    /// Closes cleanly: the alarm watch stops, the publishing channel and the connection close.
    /// Stop the consumers first (`Consumer::stop`) so their in-flight deliveries are settled;
    /// consumers still running end when the connection closes, their unacked deliveries going
    /// back to the queues.
    ///
    /// Takes `&self`, so that a bus still shared (a task that has not dropped its handle yet)
    /// is closed all the same: left open, its connection would be torn down by the runtime's
    /// shutdown instead, and lapin would log that as an error at every clean stop. Later
    /// publishes fail with [`BusError::Closed`].
    pub async fn close(&self) {
        let alarms = self.alarms.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(alarms) = alarms {
            alarms.stop().await;
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
