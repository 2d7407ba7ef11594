//! One way to start a party of the exchange — the observatory, a responder, the requester — and
//! a deployment of them (zero2prod's `Application::build` / `run_until_stopped`).
//!
//! The bootstrap, in one order and in one place: settings (checked, the development hooks
//! against the profile: [`PartySettings`]) → telemetry (the binary's `main`) → its folders
//! ([`storage`]) → the bus's settings (URLs, TLS files, the client certificate's CN) →
//! metrics and `/health` → the broker (waited for at start, up to `[broker] start_timeout_s`,
//! `/health` saying so) → store and service → stop signals armed → run until stopped → the
//! broker connection closed. `passerelle observatory|responder|requester run` go through
//! [`run_daemon`]; the demo builds its parties on its own buses with [`Party::build_on`] and runs
//! them in-process ([`deployment::Running`]); the benchmark and the tests' stack write a
//! [`deployment::Deployment`]'s settings files and spawn the binary on them, each daemon a
//! [`process::SpawnedParty`] (started, waited on until healthy, stopped, killed, restarted).
//!
//! **API boundary.** The binary and the tests build parties only through this crate.
#![forbid(unsafe_code)]

pub mod deployment;
pub mod process;
mod settings;
pub mod signals;
pub mod storage;

use std::future::Future;
use std::sync::Arc;

use anyhow::{anyhow, Context};
use passerelle_bus::{AmqpBus, Bus, BusError, StartPatience};
use passerelle_hooks::Hooks;
use passerelle_metrics::{Health, MetricsRegistry, MetricsServer};
use passerelle_observatory::{Observatory, ObservatoryError, StatusReader};
use passerelle_requester::{Requester, RequesterError};
use passerelle_responder::{Responder, ResponderError, ResponderStats};

pub use deployment::Deployment;
pub use settings::{PartyKind, PartySettings};

/// Why a party could not start or stopped on an error; the binary's exit code follows the kind.
#[derive(Debug, thiserror::Error)]
pub enum PartyError {
    /// Its settings are unusable (exit code 3): the message names the key.
    #[error("{0:#}")]
    Settings(anyhow::Error),
    /// The broker, the store or the data source failed (exit code 4).
    #[error("{0:#}")]
    Runtime(anyhow::Error),
}

impl PartyError {
    /// The same error, with context.
    pub fn context(self, context: String) -> PartyError {
        match self {
            PartyError::Settings(e) => PartyError::Settings(e.context(context)),
            PartyError::Runtime(e) => PartyError::Runtime(e.context(context)),
        }
    }

    /// The error itself, whichever its kind.
    pub fn into_inner(self) -> anyhow::Error {
        match self {
            PartyError::Settings(e) | PartyError::Runtime(e) => e,
        }
    }
}

/// The service a party runs.
#[derive(Debug)]
enum Service {
    Observatory(Observatory),
    Responder(Responder),
    Requester(Requester),
}

/// A party built and ready to run: connected, its store open, its metrics served.
#[derive(Debug)]
pub struct Party {
    name: String,
    service: Service,
    /// The party's own broker connection, closed when it stops (none on a caller's bus).
    connection: Option<Arc<AmqpBus>>,
    metrics: Option<MetricsServer>,
    health: Health,
    hooks: Hooks,
}

impl Party {
    /// Checks the settings and the party's folders, connects to their broker (waiting for it up
    /// to `[broker] start_timeout_s`, `/health` saying so), then builds the party.
    pub async fn build(settings: PartySettings) -> Result<Party, PartyError> {
        let hooks = settings.check()?;
        hooks.announce();
        settings.check_storage()?;
        let connection = Arc::new(AmqpBus::new(settings.broker(), settings.role()).map_err(broker_error)?);
        let registry = MetricsRegistry::default();
        passerelle_metrics::bus::register_bus(&registry, connection.stats());
        let health = Health::new(connection.broker_health());
        health.set_announcements(hooks.notices());
        let metrics = serve_metrics(&settings, &registry, &health).await?;
        let patience = StartPatience::from_timeout_s(settings.broker().start_timeout_s);
        let waiting = {
            let health = health.clone();
            move |e: &BusError| health.waiting_for_broker(e.to_string())
        };
        if let Err(e) = connection.open(patience, &waiting).await {
            stop_metrics(metrics);
            return Err(broker_error(e));
        }
        health.connected();
        let bus = Arc::clone(&connection) as Arc<dyn Bus>;
        let built =
            Party::assemble(settings, bus, Some(Arc::clone(&connection)), hooks, registry, health, metrics).await;
        if built.is_err() {
            connection.close().await;
        }
        built
    }

    /// Builds the party on a bus the caller connected and closes (the in-process bus, a demo's
    /// connection).
    pub async fn build_on(settings: PartySettings, bus: Arc<dyn Bus>) -> Result<Party, PartyError> {
        let hooks = settings.check()?;
        hooks.announce();
        settings.check_storage()?;
        let registry = MetricsRegistry::default();
        let health = Health::default();
        health.set_announcements(hooks.notices());
        let metrics = serve_metrics(&settings, &registry, &health).await?;
        Party::assemble(settings, bus, None, hooks, registry, health, metrics).await
    }

    /// The store and the service, registering their metrics with the server already serving.
    async fn assemble(
        settings: PartySettings,
        bus: Arc<dyn Bus>,
        connection: Option<Arc<AmqpBus>>,
        hooks: Hooks,
        registry: MetricsRegistry,
        health: Health,
        metrics: Option<MetricsServer>,
    ) -> Result<Party, PartyError> {
        let name = settings.name();
        let clock = hooks.clock();
        let cannot_start = |e: anyhow::Error| PartyError::Runtime(e.context(format!("the {name} cannot start")));
        let service = match settings {
            PartySettings::Observatory(s) => {
                // Instrumented for the per-body response latency.
                let metered = passerelle_observatory::metrics::instrument(bus, &registry);
                Observatory::build(s, metered, clock)
                    .map_err(|e| match e {
                        ObservatoryError::Settings(_) => PartyError::Settings(anyhow!(e)),
                        other => cannot_start(anyhow!(other)),
                    })
                    .map(|observatory| {
                        passerelle_observatory::metrics::register(&registry, &observatory.status_reader());
                        Service::Observatory(observatory)
                    })
            }
            PartySettings::Responder(s) => Responder::build(&s, bus)
                .await
                .map_err(|e| match e {
                    ResponderError::Settings(_) | ResponderError::Postgres(_) => PartyError::Settings(anyhow!(e)),
                    other => cannot_start(anyhow!(other)),
                })
                .map(|responder| {
                    let responder = responder.with_clock(clock);
                    passerelle_responder::metrics::register(&registry, responder.stats(), &s.body);
                    Service::Responder(responder)
                }),
            PartySettings::Requester(s) => Requester::build(s, bus, clock)
                .map_err(|e| match e {
                    RequesterError::Settings(_) => PartyError::Settings(anyhow!(e)),
                    other => cannot_start(anyhow!(other)),
                })
                .map(|requester| {
                    passerelle_requester::metrics::register(&registry, &requester);
                    Service::Requester(requester)
                }),
        };
        let service = match service {
            Ok(service) => service,
            Err(e) => {
                stop_metrics(metrics);
                return Err(e);
            }
        };
        hooks.arm();
        Ok(Party { name, service, connection, metrics, health, hooks })
    }

    /// `observatory carsat-sud-est`, `responder cnam`…
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What its `/health` announces besides its status (the development hooks it honours).
    pub fn notices(&self) -> Vec<String> {
        self.hooks.notices()
    }

    /// The observatory's store, read-only (the demo follows its cases).
    pub fn status_reader(&self) -> Option<StatusReader> {
        match &self.service {
            Service::Observatory(o) => Some(o.status_reader()),
            _ => None,
        }
    }

    /// A responder's running totals.
    pub fn responder_stats(&self) -> Option<Arc<ResponderStats>> {
        match &self.service {
            Service::Responder(r) => Some(r.stats()),
            _ => None,
        }
    }

    /// The requester, for a caller that submits and follows cases itself (the demo, the
    /// benchmark) rather than running it as a daemon.
    pub fn requester(&self) -> Option<&Requester> {
        match &self.service {
            Service::Requester(r) => Some(r),
            _ => None,
        }
    }

    /// Stops serving metrics and closes its broker connection, for a party that was not run
    /// (a requester the caller used to submit and follow cases).
    pub async fn close(self) {
        let Party { service, connection, metrics, .. } = self;
        drop(service);
        if let Some(server) = metrics {
            server.stop();
        }
        if let Some(connection) = connection {
            connection.close().await;
        }
    }

    /// Arms `shutdown` (so a stop signal that comes once `/health` says ok takes the graceful
    /// path), runs until `shutdown` completes, then stops serving metrics and closes its broker
    /// connection. `/health` reports serving only once the service's consumers are registered:
    /// a 200 means the daemon consumes, so a broker lost before that is never hidden behind it.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), PartyError> {
        let Party { name, service, connection, metrics, health, hooks: _ } = self;
        let shutdown = signals::armed(shutdown).await;
        let serving = health.clone();
        let ready = move || serving.set(true);
        let result = match service {
            Service::Observatory(observatory) => {
                observatory.run_until_stopped_with_ready(shutdown, ready).await.map_err(|e| anyhow!(e))
            }
            Service::Responder(responder) => {
                responder.run_until_stopped_with_ready(shutdown, ready).await.map_err(|e| anyhow!(e))
            }
            Service::Requester(requester) => {
                let settings = requester.settings();
                tracing::info!(body = %settings.body, office = %settings.office, "requester daemon running");
                let result = requester.run_until_stopped_with_ready(shutdown, ready).await.map_err(|e| anyhow!(e));
                // Its store is closed before its connection.
                drop(requester);
                result
            }
        };
        health.set(false);
        if let Some(server) = metrics {
            server.stop();
        }
        if let Some(connection) = connection {
            connection.close().await;
        }
        result.map_err(|e| PartyError::Runtime(e.context(format!("the {name} stopped on an error"))))
    }
}

/// Serves `/metrics` and `/health` on the party's `metrics_addr` (if set), from the start: a
/// daemon waiting for its broker says so there.
async fn serve_metrics(
    settings: &PartySettings,
    registry: &MetricsRegistry,
    health: &Health,
) -> Result<Option<MetricsServer>, PartyError> {
    passerelle_metrics::serve(settings.metrics_addr(), registry.clone(), health.clone())
        .await
        .context("cannot serve the metrics")
        .map_err(PartyError::Runtime)
}

fn stop_metrics(metrics: Option<MetricsServer>) {
    if let Some(server) = metrics {
        server.stop();
    }
}

/// A bus failure at start: the settings' fault (exit 3: a wrong URL or TLS file, a certificate
/// of another party, credentials the broker refused) or the broker's (exit 4: unreachable within
/// `start_timeout_s`).
fn broker_error(e: BusError) -> PartyError {
    if e.is_settings() {
        PartyError::Settings(anyhow!(e))
    } else {
        PartyError::Runtime(anyhow!(e))
    }
}

/// `passerelle <party> run`: a runtime, the party built from its settings, run until SIGINT or
/// SIGTERM.
pub fn run_daemon(settings: PartySettings) -> Result<(), PartyError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .map_err(PartyError::Runtime)?;
    runtime.block_on(async {
        let party = Party::build(settings).await?;
        party.run_until_stopped(signals::shutdown_signal()).await
    })
}
