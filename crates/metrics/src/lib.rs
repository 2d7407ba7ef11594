//! Metrics and health for every daemon: one Prometheus registry created in `main` and passed
//! down (each component registers its families under its own prefix), served with `/health` on
//! a configurable address.
//!
//! - [`MetricsRegistry`]: the registry; store-backed families are read by the daemon's snapshot
//!   task ([`SNAPSHOT_INTERVAL`]), so a scrape never takes a store's lock.
//! - [`Health`]: the daemon's phase, its broker connection and its announcements.
//! - [`http`]: the axum router and server ([`MetricsServer`] is what a daemon starts).
//! - [`get`] and [`fetch`]: reading an endpoint (for `ctl`, the benchmark and the tests).
#![forbid(unsafe_code)]

pub mod bus;
mod client;
pub mod deadline;
mod health;
pub mod http;
mod snapshot;

use std::sync::{Arc, Mutex};

pub use prometheus_client::metrics::counter::Counter;
pub use prometheus_client::metrics::family::Family;
pub use prometheus_client::metrics::gauge::Gauge;
pub use prometheus_client::metrics::histogram::exponential_buckets;
pub use prometheus_client::metrics::histogram::Histogram;
pub use prometheus_client::registry::Registry;

pub use client::{fetch, get, Answer, FETCH_TIMEOUT};
pub use health::{Health, HealthReport, Phase};
pub use http::MetricsServer;
use snapshot::RefreshedFamilies;
pub use snapshot::{FamilyKind, SnapshotCollector, SnapshotFamily, Value, SNAPSHOT_INTERVAL};

/// The shared registry. Components register into it at build time; the server encodes it on
/// every scrape. Clones share it.
#[derive(Debug, Clone)]
pub struct MetricsRegistry {
    registry: Arc<Mutex<Registry>>,
    /// The store-backed families, read again by [`MetricsRegistry::refresh`].
    refreshed: Arc<Mutex<Vec<Arc<RefreshedFamilies>>>>,
}

impl Default for MetricsRegistry {
    fn default() -> Self {
        MetricsRegistry {
            registry: Arc::new(Mutex::new(Registry::with_prefix("passerelle"))),
            refreshed: Arc::default(),
        }
    }
}

impl MetricsRegistry {
    /// Registers metrics under a sub-prefix (e.g. `observatory` → `passerelle_observatory_…`).
    pub fn register(&self, build: impl FnOnce(&mut Registry)) {
        build(&mut self.registry.lock().expect("metrics registry poisoned"));
    }

    /// Registers under a component prefix.
    pub fn register_in(&self, component: &str, build: impl FnOnce(&mut Registry)) {
        let mut root = self.registry.lock().expect("metrics registry poisoned");
        build(root.sub_registry_with_prefix(component));
    }

    /// Registers families that `read` takes from a store, under a component prefix: read once
    /// now, then by each [`MetricsRegistry::refresh`] (the snapshot task of a
    /// [`MetricsServer`]), never by a scrape.
    pub fn register_refreshed(&self, component: &str, read: impl Fn() -> Vec<SnapshotFamily> + Send + Sync + 'static) {
        let families = RefreshedFamilies::new(read);
        self.register_in(component, |r| r.register_collector(families.collector()));
        self.refreshed.lock().expect("metrics registry poisoned").push(families);
    }

    /// Reads every store-backed family again (blocking: each read may wait for its store).
    pub fn refresh(&self) {
        let sources = self.refreshed.lock().expect("metrics registry poisoned").clone();
        let started = std::time::Instant::now();
        for source in &sources {
            source.refresh();
        }
        tracing::debug!(sources = sources.len(), elapsed_us = started.elapsed().as_micros() as u64, "metrics snapshot");
    }

    /// The OpenMetrics text exposition of every registered metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry.lock().expect("metrics registry poisoned"))
            .expect("writing to a String cannot fail");
        out
    }
}

/// Why the metrics endpoint could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen for metrics on {addr}: {source}")]
pub struct ServeError {
    addr: String,
    source: std::io::Error,
}

/// Checks a `metrics_addr` setting without binding it: `HOST:PORT` (`127.0.0.1:9464`,
/// `[::1]:9464`, `localhost:9464`; port 0 picks a free port). Loading settings never binds.
pub fn check_addr(addr: &str) -> Result<(), String> {
    let Some((host, port)) = addr.trim().rsplit_once(':') else {
        return Err(format!("`{addr}` is not HOST:PORT (e.g. 127.0.0.1:9464)"));
    };
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(format!("`{addr}` is not HOST:PORT (e.g. 127.0.0.1:9464)"));
    }
    Ok(())
}

/// Starts the endpoint when the daemon's settings give an address (`metrics_addr`).
pub async fn serve(
    addr: Option<&str>,
    registry: MetricsRegistry,
    health: Health,
) -> Result<Option<MetricsServer>, ServeError> {
    match addr {
        Some(addr) => {
            let server = MetricsServer::start(addr, registry, health).await?;
            tracing::info!(addr = %server.local_addr, "serving /metrics and /health");
            Ok(Some(server))
        }
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[test]
    fn snapshot_families_are_read_at_each_scrape() {
        let registry = MetricsRegistry::default();
        let calls = Arc::new(AtomicU64::new(0));
        let seen = Arc::clone(&calls);
        registry.register_in("observatory", move |r| {
            r.register_collector(SnapshotCollector::new(move || {
                let n = seen.fetch_add(1, Ordering::SeqCst) + 1;
                vec![
                    SnapshotFamily::counter("purges", "Cases purged", n),
                    SnapshotFamily::by_label(
                        "cases",
                        "Cases by state",
                        FamilyKind::Gauge,
                        "state",
                        [("collecting".to_owned(), Value::Int(2)), ("purged".to_owned(), Value::Int(n))],
                    ),
                ]
            }))
        });
        let first = registry.encode();
        assert!(first.contains("passerelle_observatory_purges_total 1"), "{first}");
        assert!(first.contains("passerelle_observatory_cases{state=\"collecting\"} 2"), "{first}");
        assert!(first.contains("# TYPE passerelle_observatory_cases gauge"), "{first}");
        let second = registry.encode();
        assert!(second.contains("passerelle_observatory_purges_total 2"), "{second}");
    }

    #[test]
    fn addresses_are_checked_without_binding() {
        for ok in ["127.0.0.1:9464", "[::1]:0", "localhost:9464", "0.0.0.0:9464"] {
            assert!(check_addr(ok).is_ok(), "{ok}");
        }
        for bad in ["", "9464", "127.0.0.1", ":9464", "127.0.0.1:http", "127.0.0.1:99999"] {
            assert!(check_addr(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bus_counters_are_exposed() {
        let registry = MetricsRegistry::default();
        let bus = passerelle_bus::InProcessBus::new(&passerelle_bus::BusSettings::default());
        bus::register_bus(&registry, bus.stats());
        let text = registry.encode();
        for family in [
            "passerelle_bus_reconnects_total 0",
            "passerelle_bus_blocked_seconds_total 0",
            "# TYPE passerelle_bus_dead_letters counter",
        ] {
            assert!(text.contains(family), "{family} in {text}");
        }
    }

    #[test]
    fn refreshed_families_are_read_by_a_refresh_not_by_a_scrape() {
        let registry = MetricsRegistry::default();
        let reads = Arc::new(AtomicU64::new(0));
        let seen = Arc::clone(&reads);
        registry.register_refreshed("requester", move || {
            vec![SnapshotFamily::gauge("receipts_pending", "Receipts", seen.fetch_add(1, Ordering::SeqCst) + 1)]
        });
        assert_eq!(reads.load(Ordering::SeqCst), 1, "read once at registration");
        let text = registry.encode();
        assert!(text.contains("passerelle_requester_receipts_pending 1"), "{text}");
        registry.encode();
        assert_eq!(reads.load(Ordering::SeqCst), 1, "a scrape does not read the source");
        registry.refresh();
        assert!(registry.encode().contains("passerelle_requester_receipts_pending 2"));
    }

    #[tokio::test]
    async fn serves_metrics_and_health() {
        let registry = MetricsRegistry::default();
        let purges = Counter::<u64>::default();
        registry.register_in("observatory", |r| r.register("purges", "Cases purged", purges.clone()));
        purges.inc_by(3);
        let health = Health::default();
        health.set_announcements(["development hooks active: clock offset +3600 s"]);
        let server = MetricsServer::start("127.0.0.1:0", registry, health.clone()).await.unwrap();
        assert_ne!(server.local_addr.port(), 0, "the bound port is reported");

        let metrics = get(server.local_addr, "/metrics").await.unwrap();
        assert_eq!(metrics.status, 200);
        assert_eq!(metrics.content_type.as_deref(), Some(http::METRICS_CONTENT_TYPE));
        assert!(metrics.body.contains("passerelle_observatory_purges_total 3"), "{}", metrics.body);
        assert!(metrics.body.ends_with("# EOF\n"), "{}", metrics.body);

        let starting = get(server.local_addr, "/health").await.unwrap();
        assert_eq!(starting.status, 503);
        assert_eq!(starting.content_type.as_deref(), Some("application/json"));
        let report: serde_json::Value = serde_json::from_str(&starting.body).unwrap();
        assert_eq!(report["phase"], "starting", "{report}");
        assert_eq!(report["broker_connected"], true, "{report}");
        assert_eq!(report["announcements"][0], "development hooks active: clock offset +3600 s");
        health.set(true);
        let (status, body) = fetch(server.local_addr, "/health").await.unwrap();
        assert_eq!(status, 200);
        let report: HealthReport = serde_json::from_str(&body).unwrap();
        assert!(report.healthy && report.reasons.is_empty(), "{report:?}");
        health.set(false);
        let (status, body) = fetch(server.local_addr, "/health").await.unwrap();
        assert_eq!((status, serde_json::from_str::<HealthReport>(&body).unwrap().phase), (503, Phase::Stopping));
        assert_eq!(fetch(server.local_addr, "/nope").await.unwrap().0, 404);

        let addr = server.local_addr;
        server.shutdown().await;
        assert!(fetch(addr, "/health").await.is_err(), "stopped: nothing listens any more");
    }

    #[tokio::test]
    async fn other_methods_are_refused() {
        let app = http::router(http::HttpState { registry: MetricsRegistry::default(), health: Health::default() });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = tokio::spawn(http::serve(listener, app, async move {
            let _ = stopped.await;
        }));
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        stream
            .write_all(b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 405"), "{answer}");
        stop.send(()).unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(5), served).await.unwrap().unwrap().unwrap();
    }

    /// A store-backed family whose store is locked by a writer: the scrape answers at once
    /// from the last snapshot, while the snapshot task waits for the lock.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_scrape_does_not_wait_for_a_locked_store() {
        let store = Arc::new(Mutex::new(7u64));
        let registry = MetricsRegistry::default();
        let read = Arc::clone(&store);
        registry.register_refreshed("observatory", move || {
            vec![SnapshotFamily::gauge("outbox_messages", "Outbox", *read.lock().unwrap())]
        });
        let server = MetricsServer::start("127.0.0.1:0", registry.clone(), Health::default()).await.unwrap();
        let (locked, release) = (std::sync::mpsc::channel(), std::sync::mpsc::channel::<()>());
        let writer = std::thread::spawn({
            let store = Arc::clone(&store);
            move || {
                let mut guard = store.lock().unwrap();
                *guard = 8;
                locked.0.send(()).unwrap();
                release.1.recv().unwrap();
            }
        });
        locked.1.recv().unwrap();
        // A refresh now blocks on the writer's lock, as the snapshot task's next one does.
        let blocked = tokio::task::spawn_blocking(move || registry.refresh());
        let scraped = tokio::time::timeout(std::time::Duration::from_secs(2), get(server.local_addr, "/metrics"))
            .await
            .expect("the scrape waited for the store's lock")
            .unwrap();
        assert!(scraped.body.contains("passerelle_observatory_outbox_messages 7"), "{}", scraped.body);
        assert!(!blocked.is_finished(), "the refresh waits for the writer");
        release.0.send(()).unwrap();
        writer.join().unwrap();
        blocked.await.unwrap();
        let (_, body) = fetch(server.local_addr, "/metrics").await.unwrap();
        assert!(body.contains("passerelle_observatory_outbox_messages 8"), "{body}");
        server.shutdown().await;
    }
}
