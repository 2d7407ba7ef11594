//! One way to start a party of the exchange — the observatory, a responder, the requester — and
//! a deployment of them (zero2prod's `Application::build` / `run_until_stopped`) — and the
//! social service of norm 43, which speaks on the broker only when its settings have a
//! `[broker]` (its case-file transfers between bodies, A.3).
//!
//! The bootstrap, in one order and in one place: settings (checked, the development hooks
//! against the profile: [`PartySettings`]) → telemetry (the binary's `main`) → its folders
//! ([`storage`]) → the bus's settings (URLs, TLS files, the client certificate's CN) →
//! metrics and `/health` → for an observatory, its `data_dir` lock ([`territory`]) → the broker
//! (waited for at start, up to `[broker] start_timeout_s`, `/health` saying so; an observatory's
//! connection takes its territory's lock) → store and service → stop signals armed → run until
//! stopped → the broker connection closed → the `data_dir` lock released.
//!
//! The social service follows the same order when it has a `[broker]`: it connects as the
//! social service `body.office` of `[broker.social_services]` (its own broker user outside the
//! development profile), waits for the broker at start with `/health` following it, and once
//! its store and service are built starts its transfers (its transfers queue consumed, its
//! outbox drained to the broker) before `/health` says it serves; it stops them before its
//! connection closes. Without `[broker]` it connects to nothing: a bus that refuses every
//! operation stands in, and `/health` follows its phase only.
//! `passerelle observatory|responder|requester|social-service run` go through
//! [`run_daemon`]; the demo builds its parties on its own buses with [`Party::build_on`] and runs
//! them in-process ([`deployment::Running`]); the benchmark and the tests' stack write a
//! [`deployment::Deployment`]'s settings files and spawn the binary on them, each daemon a
//! [`process::SpawnedParty`] (started, waited on until healthy, stopped, killed, restarted).
//!
//! **API boundary.** The binary and the tests build parties only through this crate.
#![forbid(unsafe_code)]

pub mod api;
pub mod console;
pub mod deployment;
pub mod process;
mod settings;
pub mod signals;
mod social_service;
pub mod storage;
pub mod territory;
pub mod trails;

use std::future::Future;
use std::sync::Arc;

use anyhow::{anyhow, Context};
use passerelle_access_log::Accesses;
use passerelle_bus::amqp::lock::TerritoryLock;
use passerelle_bus::{AmqpBus, BrokerHealth, Bus, BusError, StartPatience};
use passerelle_hooks::Hooks;
use passerelle_metrics::{Health, MetricsRegistry, MetricsServer};
use passerelle_observatory::{Observatory, ObservatoryError, StatusReader};
use passerelle_protocol::rules::Clock;
use passerelle_requester::{Requester, RequesterError};
use passerelle_responder::{Responder, ResponderError, ResponderStats};
use passerelle_social_service::{SocialService, SocialServiceError};
use passerelle_trails::{Checkpointer, DaemonTrails, TrailsBus};
use social_service::{social_service_until, NoBroker, TransfersBus};

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
    /// Another observatory runs the territory (exit code 5): its `data_dir` or its broker lock
    /// is held (at start under `--no-wait`), or was taken while this one was disconnected.
    #[error("{0:#}")]
    Territory(anyhow::Error),
}

impl PartyError {
    /// The same error, with context.
    pub fn context(self, context: String) -> PartyError {
        match self {
            PartyError::Settings(e) => PartyError::Settings(e.context(context)),
            PartyError::Runtime(e) => PartyError::Runtime(e.context(context)),
            PartyError::Territory(e) => PartyError::Territory(e.context(context)),
        }
    }

    /// The error itself, whichever its kind.
    pub fn into_inner(self) -> anyhow::Error {
        match self {
            PartyError::Settings(e) | PartyError::Runtime(e) | PartyError::Territory(e) => e,
        }
    }
}

/// The daemon a party runs: its service.
#[derive(Debug)]
enum Daemon {
    Observatory(Observatory),
    Responder(Responder),
    Requester(Requester),
    /// With the bus its transfers travel on when its settings have a `[broker]`.
    SocialService(SocialService, Option<TransfersBus>),
}

/// A party built and ready to run: connected, its store open, its metrics served.
#[derive(Debug)]
pub struct Party {
    name: String,
    service: Daemon,
    /// The party's own broker connection, closed when it stops (none on a caller's bus).
    connection: Option<Arc<AmqpBus>>,
    metrics: Option<MetricsServer>,
    health: Health,
    hooks: Hooks,
    /// An observatory daemon's `data_dir` lock, released last.
    data_dir_lock: Option<territory::DataDirLock>,
    /// Its local API, served from the moment its store is open until it stops.
    api: Option<api::DaemonApi>,
    /// Its trails' checkpoints to its witness, and its witness side.
    trails: Option<DaemonTrails>,
}

/// How a daemon starts when another process holds its territory's locks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Startup {
    /// Fail at once ([`PartyError::Territory`]) instead of standing by.
    pub no_wait: bool,
}

/// `/metrics` and `/health`, served from the start of the bootstrap.
struct Endpoint {
    registry: MetricsRegistry,
    health: Health,
    server: Option<MetricsServer>,
}

impl Endpoint {
    async fn serve(addr: Option<&str>, health: Health, hooks: &Hooks) -> Result<Endpoint, PartyError> {
        health.set_profile(hooks.profile().name());
        health.set_announcements(hooks.notices());
        let registry = MetricsRegistry::default();
        let server = passerelle_metrics::serve(addr, registry.clone(), health.clone())
            .await
            .context("cannot serve the metrics")
            .map_err(PartyError::Runtime)?;
        Ok(Endpoint { registry, health, server })
    }

    fn stop(self) {
        if let Some(server) = self.server {
            server.stop();
        }
    }
}

impl Party {
    /// Checks the settings and the party's folders, connects to their broker (waiting for it up
    /// to `[broker] start_timeout_s`, `/health` saying so), then builds the party (an observatory
    /// stands by while another process holds its territory).
    pub async fn build(settings: PartySettings) -> Result<Party, PartyError> {
        Party::build_with(settings, Startup::default()).await
    }

    /// [`Party::build`], an observatory taking its `data_dir` lock, then its territory's broker
    /// lock, before its stores open — waiting for them unless `startup.no_wait`.
    pub async fn build_with(settings: PartySettings, startup: Startup) -> Result<Party, PartyError> {
        let hooks = settings.check()?;
        hooks.announce();
        settings.check_storage()?;
        if !settings.has_broker() {
            // A social service without `[broker]`: nothing to wait for, `/health` follows its
            // phase only.
            let endpoint = Endpoint::serve(settings.metrics_addr(), Health::default(), &hooks).await?;
            return Party::assemble(settings, Arc::new(NoBroker), None, hooks, endpoint, true).await;
        }
        let endpoint = Endpoint::serve(settings.metrics_addr(), Health::new(BrokerHealth::amqp()), &hooks).await?;
        let health = endpoint.health.clone();
        let on_standby: territory::OnStandby = Arc::new(move |holder| health.stand_by(holder));
        let (data_dir_lock, lock) = match &settings {
            PartySettings::Observatory(s) => {
                let record = territory::holder_record(&s.code, &s.data_dir);
                let taken = territory::DataDirLock::take(&s.data_dir, &record, !startup.no_wait, &on_standby).await;
                let held = match taken {
                    Ok(held) => held,
                    Err(e) => {
                        endpoint.stop();
                        return Err(e);
                    }
                };
                let lock = TerritoryLock { holder: record, wait: !startup.no_wait, on_standby };
                (Some(held), Some(lock))
            }
            _ => (None, None),
        };
        let connection = match AmqpBus::new_holding(settings.broker(), settings.role(), lock) {
            Ok(connection) => Arc::new(connection),
            Err(e) => {
                endpoint.stop();
                return Err(broker_error(e));
            }
        };
        endpoint.health.follow_broker(connection.broker_health());
        passerelle_metrics::bus::register_bus(&endpoint.registry, connection.stats());
        let patience = StartPatience::from_timeout_s(settings.broker().start_timeout_s);
        let waiting = {
            let health = endpoint.health.clone();
            move |e: &BusError| health.waiting_for_broker(e.to_string())
        };
        if let Err(e) = connection.open(patience, &waiting).await {
            endpoint.stop();
            return Err(broker_error(e));
        }
        endpoint.health.connected();
        let bus = Arc::clone(&connection) as Arc<dyn Bus>;
        let built = Party::assemble(settings, bus, Some(Arc::clone(&connection)), hooks, endpoint, true).await;
        match built {
            Ok(party) => Ok(Party { data_dir_lock, ..party }),
            Err(e) => {
                connection.close().await;
                Err(e)
            }
        }
    }

    /// Builds the party on a bus the caller connected and closes (the in-process bus, a demo's
    /// connection). It serves no local API: its caller uses it in-process.
    pub async fn build_on(settings: PartySettings, bus: Arc<dyn Bus>) -> Result<Party, PartyError> {
        let hooks = settings.check()?;
        hooks.announce();
        settings.check_storage()?;
        let endpoint = Endpoint::serve(settings.metrics_addr(), Health::default(), &hooks).await?;
        Party::assemble(settings, bus, None, hooks, endpoint, false).await
    }

    /// [`Party::build_on`], serving its local API as a daemon does (tests that read a store they
    /// prepared through the API, without running the service).
    pub async fn build_on_with_api(settings: PartySettings, bus: Arc<dyn Bus>) -> Result<Party, PartyError> {
        let hooks = settings.check()?;
        settings.check_storage()?;
        let endpoint = Endpoint::serve(settings.metrics_addr(), Health::default(), &hooks).await?;
        Party::assemble(settings, bus, None, hooks, endpoint, true).await
    }

    /// The store and the service, on the `/metrics` and `/health` endpoint already served; and
    /// for a daemon, its local API.
    async fn assemble(
        settings: PartySettings,
        bus: Arc<dyn Bus>,
        connection: Option<Arc<AmqpBus>>,
        hooks: Hooks,
        endpoint: Endpoint,
        serve_api: bool,
    ) -> Result<Party, PartyError> {
        let api_settings = settings.clone();
        let routed = TrailsBus::wrap(bus, settings.role().notices_queue());
        let built = Party::service(settings, Arc::clone(&routed) as Arc<dyn Bus>, &endpoint.registry, &hooks).await;
        let (name, service) = match built {
            Ok(built) => built,
            Err(e) => {
                endpoint.stop();
                return Err(e);
            }
        };
        let wired = Party::wire_trails(&api_settings, &service, &routed, &hooks, serve_api).await;
        let (trails, api) = match wired {
            Ok(wired) => wired,
            Err(e) => {
                endpoint.stop();
                return Err(e);
            }
        };
        trails::register_metrics(&endpoint.registry, Arc::clone(trails.checkpointer()));
        hooks.arm();
        let Endpoint { health, server: metrics, .. } = endpoint;
        Ok(Party { name, service, connection, metrics, health, hooks, data_dir_lock: None, api, trails: Some(trails) })
    }

    /// The access log (one handle per process), the trails anchored at the witness, and for a
    /// daemon its local API.
    async fn wire_trails(
        settings: &PartySettings,
        service: &Daemon,
        routed: &TrailsBus,
        hooks: &Hooks,
        serve_api: bool,
    ) -> Result<(DaemonTrails, Option<api::DaemonApi>), PartyError> {
        // One handle per file per process: the service's when it opens its own.
        let accesses = match service {
            Daemon::Observatory(o) => o.accesses(),
            Daemon::Responder(r) => r.accesses().clone(),
            Daemon::Requester(r) => r.accesses().clone(),
            Daemon::SocialService(s, _) => s.accesses().clone(),
        };
        let audit = match service {
            Daemon::Observatory(o) => Some(o.audit_trail()),
            _ => None,
        };
        let trails = trails::start(settings, &accesses, audit, routed, hooks.clock()).await?;
        if !serve_api {
            return Ok((trails, None));
        }
        match Party::serve_api(settings, service, accesses, Arc::clone(trails.checkpointer()), hooks.clock()).await {
            Ok(api) => Ok((trails, Some(api))),
            Err(e) => {
                trails.stop().await;
                Err(e)
            }
        }
    }

    /// Serves the party's local API: the service's routes (`api::observatory` and `api::rights`,
    /// `passerelle_responder::api`, `passerelle_requester::api`) and every daemon's trail routes
    /// (`api::trails`), the API's refusals recorded in `accesses`, the service's own handle on its
    /// access log (one per file in the process).
    async fn serve_api(
        settings: &PartySettings,
        service: &Daemon,
        accesses: Accesses,
        checkpointer: Arc<Checkpointer>,
        clock: Arc<dyn Clock>,
    ) -> Result<api::DaemonApi, PartyError> {
        let trail_routes = api::trails::routes(api::trails::TrailsApi {
            accesses: accesses.clone(),
            checkpointer,
            timeout: std::time::Duration::from_secs(settings.trails().witness_timeout_s),
            audit: match service {
                Daemon::Observatory(o) => Some(o.audit_trail()),
                _ => None,
            },
            clock: Arc::clone(&clock),
        });
        let (routes, trail): (axum::Router, Arc<dyn api::Trail>) = match service {
            Daemon::Observatory(o) => {
                let PartySettings::Observatory(observatory) = settings else {
                    return Err(PartyError::Runtime(anyhow!("an observatory built from another party's settings")));
                };
                let routes = api::observatory::routes(observatory, o.status_reader(), accesses.clone())
                    .merge(api::rights::routes(o.rights_desk(), accesses.clone(), Arc::clone(&clock)));
                let refusals = api::AccessLogTrail { accesses, daemon: "observatory", clock };
                (routes, Arc::new(api::observatory::ObservatoryTrail { trail: o.audit_trail(), accesses: refusals }))
            }
            Daemon::Responder(r) => {
                let routes = match settings {
                    PartySettings::Responder(s) => {
                        passerelle_responder::api::routes(s.clone(), Some(r.stats()), accesses.clone())
                    }
                    _ => axum::Router::new(),
                };
                (routes, Arc::new(api::AccessLogTrail { accesses, daemon: passerelle_responder::DAEMON, clock }))
            }
            Daemon::Requester(r) => (
                passerelle_requester::api::routes(r.clone()),
                Arc::new(api::AccessLogTrail { accesses, daemon: passerelle_requester::service::DAEMON, clock }),
            ),
            Daemon::SocialService(s, _) => (
                passerelle_social_service::api::routes(s.clone()),
                Arc::new(api::AccessLogTrail { accesses, daemon: passerelle_social_service::DAEMON, clock }),
            ),
        };
        api::DaemonApi::start(settings, routes.merge(trail_routes), trail, console::for_party(settings)).await
    }

    /// Opens the store and builds the service, registering its metrics.
    async fn service(
        settings: PartySettings,
        bus: Arc<dyn Bus>,
        registry: &MetricsRegistry,
        hooks: &Hooks,
    ) -> Result<(String, Daemon), PartyError> {
        let name = settings.name();
        let clock = hooks.clock();
        let cannot_start = |e: anyhow::Error| PartyError::Runtime(e.context(format!("the {name} cannot start")));
        let service = match settings {
            PartySettings::Observatory(s) => {
                // Instrumented for the per-body response latency.
                let metered = passerelle_observatory::metrics::instrument(bus, registry);
                let observatory = Observatory::build(s, metered, clock).map_err(|e| match e {
                    ObservatoryError::Settings(_) => PartyError::Settings(anyhow!(e)),
                    other => cannot_start(anyhow!(other)),
                })?;
                passerelle_observatory::metrics::register(registry, &observatory.status_reader());
                Daemon::Observatory(observatory)
            }
            PartySettings::Responder(s) => {
                let responder = Responder::build(&s, bus).await.map_err(|e| match e {
                    ResponderError::Settings(_) | ResponderError::Postgres(_) => PartyError::Settings(anyhow!(e)),
                    other => cannot_start(anyhow!(other)),
                })?;
                let responder = responder.with_clock(clock);
                passerelle_responder::metrics::register(registry, responder.stats(), &s.body);
                Daemon::Responder(responder)
            }
            PartySettings::Requester(s) => {
                let requester = Requester::build(s, bus, clock).map_err(|e| match e {
                    RequesterError::Settings(_) => PartyError::Settings(anyhow!(e)),
                    other => cannot_start(anyhow!(other)),
                })?;
                passerelle_requester::metrics::register(registry, &requester);
                Daemon::Requester(requester)
            }
            PartySettings::SocialService(s) => {
                // Its transfers travel on the party's bus only when it has a `[broker]`.
                let transfers_bus = s.broker.is_some().then_some(TransfersBus(bus));
                let service = SocialService::build(s, clock).map_err(|e| match e {
                    SocialServiceError::Settings(_) => PartyError::Settings(anyhow!(e)),
                    other => cannot_start(anyhow!(other)),
                })?;
                passerelle_social_service::metrics::register(registry, &service);
                Daemon::SocialService(service, transfers_bus)
            }
        };
        Ok((name, service))
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
            Daemon::Observatory(o) => Some(o.status_reader()),
            _ => None,
        }
    }

    /// A responder's running totals.
    pub fn responder_stats(&self) -> Option<Arc<ResponderStats>> {
        match &self.service {
            Daemon::Responder(r) => Some(r.stats()),
            _ => None,
        }
    }

    /// The requester, for a caller that submits and follows cases itself (the demo, the
    /// benchmark) rather than running it as a daemon.
    pub fn requester(&self) -> Option<&Requester> {
        match &self.service {
            Daemon::Requester(r) => Some(r),
            _ => None,
        }
    }

    /// Stops serving metrics and closes its broker connection, for a party that was not run
    /// (a requester the caller used to submit and follow cases).
    pub async fn close(self) {
        let Party { service, connection, metrics, api, trails, .. } = self;
        if let Some(api) = api {
            api.stop().await;
        }
        if let Some(trails) = trails {
            trails.stop().await;
        }
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
        let Party { name, service, connection, metrics, health, hooks: _, data_dir_lock, api, trails } = self;
        let shutdown = signals::armed(shutdown).await;
        let serving = health.clone();
        let ready = move || serving.set(true);
        let result = match service {
            Daemon::Observatory(observatory) => {
                observatory.run_until_stopped_with_ready(shutdown, ready).await.map_err(|e| anyhow!(e))
            }
            Daemon::Responder(responder) => {
                responder.run_until_stopped_with_ready(shutdown, ready).await.map_err(|e| anyhow!(e))
            }
            Daemon::Requester(requester) => {
                let settings = requester.settings();
                tracing::info!(body = %settings.body, office = %settings.office, "requester daemon running");
                let result = requester.run_until_stopped_with_ready(shutdown, ready).await.map_err(|e| anyhow!(e));
                // Its store is closed before its connection.
                drop(requester);
                result
            }
            Daemon::SocialService(service, bus) => social_service_until(service, bus, shutdown, ready).await,
        };
        health.set(false);
        if let Some(api) = api {
            api.stop().await;
        }
        if let Some(trails) = trails {
            trails.stop().await;
        }
        if let Some(server) = metrics {
            server.stop();
        }
        let lost = connection.as_ref().and_then(|c| c.territory_lost());
        if let Some(connection) = connection {
            connection.close().await;
        }
        drop(data_dir_lock);
        if let Some(lost) = lost {
            return Err(PartyError::Territory(anyhow!("the {name} stopped: {lost}")));
        }
        result.map_err(|e| PartyError::Runtime(e.context(format!("the {name} stopped on an error"))))
    }
}

/// A bus failure at start: the settings' fault (exit 3: a wrong URL or TLS file, a certificate
/// of another party, credentials the broker refused) or the broker's (exit 4: unreachable within
/// `start_timeout_s`), or another observatory's territory (exit 5, under `--no-wait`).
fn broker_error(e: BusError) -> PartyError {
    if let BusError::TerritoryHeld { .. } = e {
        PartyError::Territory(anyhow!(e))
    } else if e.is_settings() {
        PartyError::Settings(anyhow!(e))
    } else {
        PartyError::Runtime(anyhow!(e))
    }
}

/// `passerelle <party> run`: a runtime, the party built from its settings, run until SIGINT or
/// SIGTERM.
pub fn run_daemon(settings: PartySettings) -> Result<(), PartyError> {
    run_daemon_with(settings, Startup::default())
}

/// [`run_daemon`], with how to start when the territory is held (`observatory run --no-wait`).
pub fn run_daemon_with(settings: PartySettings, startup: Startup) -> Result<(), PartyError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .map_err(PartyError::Runtime)?;
    runtime.block_on(async {
        let party = Party::build_with(settings, startup).await?;
        party.run_until_stopped(signals::shutdown_signal()).await
    })
}
