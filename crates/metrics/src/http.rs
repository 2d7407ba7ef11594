//! The daemons' HTTP endpoint, axum on hyper: `GET /metrics` (the OpenMetrics text of the
//! registry) and `GET /health` (JSON, 200 when healthy, 503 otherwise). [`router`] builds the
//! routes and [`serve`] serves any router on a bound listener until its shutdown future
//! completes, so more routes (the console to come) are merged into the same server.
//! [`MetricsServer`] is what a daemon starts: the server and the task refreshing the
//! store-backed metrics.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::deadline::DeadlineListener;
use crate::{Health, MetricsRegistry, ServeError, SNAPSHOT_INTERVAL};

/// The content type of `/metrics`: prometheus-client writes OpenMetrics text.
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// How long [`MetricsServer::shutdown`] waits for the connections in progress and the snapshot
/// task: a scrape takes milliseconds, a snapshot read a few.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What the endpoints read.
#[derive(Debug, Clone)]
pub struct HttpState {
    pub registry: MetricsRegistry,
    pub health: Health,
}

/// The routes `/metrics` and `/health` (anything else: 404, another method: 405).
pub fn router(state: HttpState) -> Router {
    Router::new().route("/metrics", get(metrics)).route("/health", get(health)).fallback(not_found).with_state(state)
}

/// Serves `router` on `listener` until `shutdown` completes, then lets the requests in
/// progress finish (graceful shutdown). Every connection has deadlines ([`crate::deadline`]).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(DeadlineListener::new(listener), router).with_graceful_shutdown(shutdown).await
}

/// Encodes the registry: the store-backed families from the last snapshot, so a scrape never
/// waits for a store.
async fn metrics(State(state): State<HttpState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)], state.registry.encode())
}

async fn health(State(state): State<HttpState>) -> impl IntoResponse {
    let report = state.health.report();
    let status = if report.healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(report))
}

async fn not_found() -> impl IntoResponse {
    (StatusCode::NOT_FOUND, "not found: try /metrics or /health\n")
}

/// A running endpoint and its snapshot task; both stop when it is stopped or dropped.
#[derive(Debug)]
pub struct MetricsServer {
    /// The address actually bound (useful with port 0 in tests).
    pub local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl MetricsServer {
    /// Binds `addr` (e.g. `127.0.0.1:9464`, or port 0) and serves `/metrics` and `/health`.
    pub async fn start(addr: &str, registry: MetricsRegistry, health: Health) -> Result<Self, ServeError> {
        let error = |source| ServeError { addr: addr.to_owned(), source };
        let listener = TcpListener::bind(addr).await.map_err(error)?;
        MetricsServer::on(listener, registry, health).await.map_err(error)
    }

    /// Serves on a bound listener: takes a first snapshot of the store-backed metrics, then
    /// serves while the snapshot task refreshes them every [`SNAPSHOT_INTERVAL`].
    pub async fn on(listener: TcpListener, registry: MetricsRegistry, health: Health) -> std::io::Result<Self> {
        let local_addr = listener.local_addr()?;
        let (stop, stopped) = watch::channel(false);
        let first = registry.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || first.refresh()).await {
            tracing::error!(error = %e, "the first snapshot of the metrics failed");
        }
        let refresher =
            tokio::spawn(refresh_every(registry.clone(), SNAPSHOT_INTERVAL, until_stopped(stopped.clone())));
        let app = router(HttpState { registry, health });
        let server = tokio::spawn(async move {
            if let Err(e) = serve(listener, app, until_stopped(stopped)).await {
                tracing::error!(error = %e, "the metrics endpoint stopped on an error");
            }
        });
        Ok(MetricsServer { local_addr, stop, tasks: vec![refresher, server] })
    }

    /// Stops serving: no new connection is accepted, the requests in progress finish.
    pub fn stop(self) {
        let _ = self.stop.send(true);
    }

    /// As [`MetricsServer::stop`], and waits (at most [`SHUTDOWN_GRACE`]) until it is done.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            if tokio::time::timeout(SHUTDOWN_GRACE, task).await.is_err() {
                tracing::warn!("the metrics endpoint did not stop in time");
            }
        }
    }
}

/// Completes when `stop` is raised or its sender dropped.
async fn until_stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// Refreshes the registry's store-backed families every `every` until `stop` completes, on a
/// blocking thread (a store read may wait for the store's lock).
async fn refresh_every(registry: MetricsRegistry, every: Duration, stop: impl Future<Output = ()>) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => return,
            _ = ticks.tick() => {
                let registry = registry.clone();
                if let Err(e) = tokio::task::spawn_blocking(move || registry.refresh()).await {
                    tracing::error!(error = %e, "a snapshot of the metrics failed");
                }
            }
        }
    }
}
