//! Metrics and health for every daemon: one Prometheus registry created in `main` and passed
//! down (each component registers its families under its own prefix), served with `/health` on
//! a configurable address.
//!
//! The HTTP side is deliberately tiny — two read-only `GET` endpoints on a plain TCP listener —
//! so a scrape never competes with the daemon's real work and adds no web framework.
#![forbid(unsafe_code)]

pub mod bus;
mod snapshot;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use prometheus_client::metrics::counter::Counter;
pub use prometheus_client::metrics::family::Family;
pub use prometheus_client::metrics::gauge::Gauge;
pub use prometheus_client::metrics::histogram::exponential_buckets;
pub use prometheus_client::metrics::histogram::Histogram;
pub use prometheus_client::registry::Registry;
pub use snapshot::{FamilyKind, SnapshotCollector, SnapshotFamily, Value};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The largest request head we read: endpoints take no body, so anything longer is refused.
const MAX_REQUEST_HEAD: usize = 8 * 1024;

/// A slow or stuck client is dropped after this long, so it cannot hold a task forever.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// The shared registry. Components register into it at build time; the server encodes it on
/// every scrape.
#[derive(Debug, Clone)]
pub struct MetricsRegistry(Arc<Mutex<Registry>>);

impl Default for MetricsRegistry {
    fn default() -> Self {
        MetricsRegistry(Arc::new(Mutex::new(Registry::with_prefix("passerelle"))))
    }
}

impl MetricsRegistry {
    /// Registers metrics under a sub-prefix (e.g. `observatory` → `passerelle_observatory_…`).
    pub fn register(&self, build: impl FnOnce(&mut Registry)) {
        build(&mut self.0.lock().expect("metrics registry poisoned"));
    }

    /// Registers under a component prefix.
    pub fn register_in(&self, component: &str, build: impl FnOnce(&mut Registry)) {
        let mut root = self.0.lock().expect("metrics registry poisoned");
        build(root.sub_registry_with_prefix(component));
    }

    /// The Prometheus text exposition of every registered metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.0.lock().expect("metrics registry poisoned"))
            .expect("writing to a String cannot fail");
        out
    }
}

/// What `/health` reports: the daemon sets it healthy once connected and serving, unhealthy
/// when it loses the broker or its store; and the notices a start announced (development
/// hooks), one line each after the status.
#[derive(Debug, Clone, Default)]
pub struct Health {
    healthy: Arc<AtomicBool>,
    notices: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Health {
    pub fn set(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::SeqCst);
    }
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::SeqCst)
    }
    /// Lines `/health` shows after its status (`notice: …`).
    pub fn announce(&self, notices: Vec<String>) {
        *self.notices.lock().unwrap_or_else(|p| p.into_inner()) = notices;
    }
    /// The body of `/health`: `ok` or `unhealthy`, then a `notice: …` line per notice.
    fn body(&self) -> String {
        let mut body = if self.is_healthy() { "ok\n" } else { "unhealthy\n" }.to_owned();
        for notice in self.notices.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            body.push_str("notice: ");
            body.push_str(notice);
            body.push('\n');
        }
        body
    }
}

/// Why the metrics endpoint could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen for metrics on {addr}: {source}")]
pub struct ServeError {
    addr: String,
    source: std::io::Error,
}

/// A running metrics endpoint.
#[derive(Debug)]
pub struct MetricsServer {
    /// The address actually bound (useful with port 0 in tests).
    pub local_addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl MetricsServer {
    /// Binds `addr` (e.g. `127.0.0.1:9464`, or port 0) and serves `/metrics` and `/health`.
    pub async fn start(addr: &str, registry: MetricsRegistry, health: Health) -> Result<Self, ServeError> {
        let listener = TcpListener::bind(addr).await.map_err(|source| ServeError { addr: addr.to_owned(), source })?;
        let local_addr = listener.local_addr().map_err(|source| ServeError { addr: addr.to_owned(), source })?;
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let (registry, health) = (registry.clone(), health.clone());
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(CLIENT_TIMEOUT, answer(stream, &registry, &health)).await;
                });
            }
        });
        Ok(MetricsServer { local_addr, task })
    }

    /// Stops serving.
    pub fn stop(self) {
        self.task.abort();
    }
}

async fn answer(mut stream: TcpStream, registry: &MetricsRegistry, health: &Health) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 || head.len() + n > MAX_REQUEST_HEAD {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let request_line = String::from_utf8_lossy(head.split(|b| *b == b'\r').next().unwrap_or_default()).into_owned();
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, content_type, body) = match (method, path) {
        ("GET", "/metrics") => {
            ("200 OK", "application/openmetrics-text; version=1.0.0; charset=utf-8", registry.encode())
        }
        ("GET", "/health") if health.is_healthy() => ("200 OK", "text/plain", health.body()),
        ("GET", "/health") => ("503 Service Unavailable", "text/plain", health.body()),
        ("GET", _) => ("404 Not Found", "text/plain", "not found: try /metrics or /health\n".to_owned()),
        _ => ("405 Method Not Allowed", "text/plain", "only GET\n".to_owned()),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
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

/// Fetches a path from a metrics endpoint (for `ctl` and tests): the body of a 200 answer.
pub async fn fetch(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes()).await?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await?;
    let status = raw.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = raw.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_families_are_read_at_each_scrape() {
        let registry = MetricsRegistry::default();
        let calls = Arc::new(std::sync::atomic::AtomicU64::new(0));
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

    #[tokio::test]
    async fn serves_metrics_and_health() {
        let registry = MetricsRegistry::default();
        let purges = Counter::<u64>::default();
        registry.register_in("observatory", |r| r.register("purges", "Cases purged", purges.clone()));
        purges.inc_by(3);
        let health = Health::default();
        let server = MetricsServer::start("127.0.0.1:0", registry, health.clone()).await.unwrap();

        let (status, body) = fetch(server.local_addr, "/metrics").await.unwrap();
        assert_eq!(status, 200);
        assert!(body.contains("passerelle_observatory_purges_total 3"), "{body}");

        assert_eq!(fetch(server.local_addr, "/health").await.unwrap().0, 503);
        health.set(true);
        assert_eq!(fetch(server.local_addr, "/health").await.unwrap().0, 200);
        health.announce(vec!["development hook: x".to_owned()]);
        assert_eq!(fetch(server.local_addr, "/health").await.unwrap().1, "ok\nnotice: development hook: x\n");
        assert_eq!(fetch(server.local_addr, "/nope").await.unwrap().0, 404);
        server.stop();
    }
}
