//! The local API a daemon serves while it runs (DESIGN §7.1): its socket (`[api] socket`), its
//! agent registry (`[agents] registry`, reloaded on SIGHUP), and where it records what the API
//! refused and how the registry changed ([`Trail`]): every refusal in the daemon's access log
//! (kind `refused`, [`AccessLogTrail`]), the registry's changes in the observatory's audit trail
//! ([`observatory`]) and in the access log of the other daemons (kind `update`, object
//! `agents-registry`, the before and after in their log).
//!
//! A registry file named by the settings must be usable at start (else the daemon does not
//! start: a settings error naming its problems); the default file may be missing (no agent:
//! every call refused, said at start). A reload with problems keeps the registry before and
//! logs why.

pub mod observatory;
pub mod rights;
pub mod trails;

use std::sync::Arc;

use anyhow::anyhow;
use axum::Router;
use passerelle_access_log::{agent_actor, daemon_actor, os_actor, AccessEntry, AccessKind, Accesses};
use passerelle_agents::AgentChange;
use passerelle_local_api::{Access, AccessRecorder, ApiServer, LogRecorder, RegistryHandle};
use passerelle_protocol::rules::Clock;

use crate::{PartyError, PartySettings};

/// Where a daemon records its API's refusals and the registry's changes.
pub trait Trail: AccessRecorder {
    /// The registry was reloaded from `registry` and these accounts changed.
    fn registry_changed(&self, registry: &std::path::Path, changes: &[AgentChange]);
}

/// The access log of a daemon as its API's trail: each refused call an entry of kind `refused`
/// (actor the agent, or the OS account the registry does not know; object the route), and each
/// registry reload that changed something an `update` of `agents-registry` by the daemon. Both
/// also go to the daemon's log, with the details an entry does not hold (the outcome's reason,
/// the agents before and after).
#[derive(Debug, Clone)]
pub struct AccessLogTrail {
    pub accesses: Accesses,
    /// `observatory`, `responder`, `requester`: the daemon's name in `daemon:<name>`.
    pub daemon: &'static str,
    pub clock: Arc<dyn Clock>,
}

impl AccessRecorder for AccessLogTrail {
    fn record(&self, access: &Access) {
        LogRecorder.record(access);
        let entry =
            AccessEntry::new(self.clock.now(), refused_actor(access), AccessKind::Refused, route_object(&access.path));
        if let Err(e) = self.accesses.record(&entry) {
            tracing::error!(error = %e, "a refused call of the local API could not be written to the access log");
        }
    }
}

impl Trail for AccessLogTrail {
    fn registry_changed(&self, registry: &std::path::Path, changes: &[AgentChange]) {
        log_registry_changes(registry, changes);
        let entry =
            AccessEntry::new(self.clock.now(), daemon_actor(self.daemon), AccessKind::Update, "agents-registry");
        if let Err(e) = self.accesses.record(&entry) {
            tracing::error!(error = %e, "a change of the agent registry could not be written to the access log");
        }
    }
}

/// Who a refused call came from, as an access log actor: the agent, else the OS account (its
/// uid when its name is not an identifier).
pub fn refused_actor(access: &Access) -> String {
    if let Some(agent) = &access.agent_id {
        return agent_actor(agent);
    }
    let named =
        access.account.as_deref().filter(|a| passerelle_protocol::untrusted::is_identifier(&os_actor(Some(a), 0)));
    match (named, access.uid) {
        (Some(account), uid) => os_actor(Some(account), uid.unwrap_or(0)),
        (None, Some(uid)) => os_actor(None, uid),
        (None, None) => "os-user:unknown".to_owned(),
    }
}

/// A route as an access log object: `api:v1.audit.entries` for `/v1/audit/entries` (path
/// segments joined by dots; a segment that is not an identifier shown as `_`).
pub fn route_object(path: &str) -> String {
    let segments: Vec<&str> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| if passerelle_protocol::untrusted::is_identifier(s) && !s.contains(':') { s } else { "_" })
        .collect();
    format!("api:{}", segments.join("."))
}

/// The registry's changes in the daemon's log, with the agents before and after.
pub fn log_registry_changes(registry: &std::path::Path, changes: &[AgentChange]) {
    for change in changes {
        tracing::info!(
            registry = %registry.display(),
            account = %change.account,
            change = ?change.kind(),
            before = %serde_json::to_string(&change.before).unwrap_or_default(),
            after = %serde_json::to_string(&change.after).unwrap_or_default(),
            "agent registry changed"
        );
    }
}

/// A daemon's API being served, and its registry's reloads.
#[derive(Debug)]
pub struct DaemonApi {
    server: ApiServer,
    /// Its web console, when `[api] console_addr` is set.
    console: Option<passerelle_console::ConsoleServer>,
    registry: RegistryHandle,
    reloads: tokio::task::JoinHandle<()>,
}

impl DaemonApi {
    /// Loads the registry, binds the socket and serves `routes` there; arms the SIGHUP reload.
    /// With `[api] console_addr`, serves `console` there too, its pages calling these routes, and
    /// adds the route `passerelle console open` calls.
    pub async fn start(
        settings: &PartySettings,
        routes: Router,
        trail: Arc<dyn Trail>,
        console: passerelle_console::Console,
    ) -> Result<DaemonApi, PartyError> {
        let registry = registry(settings)?;
        let socket = settings.api_socket();
        let recorder: Arc<dyn AccessRecorder> = Arc::new(AsRecorder(Arc::clone(&trail)));
        let api = settings.api();
        let listener = match &api.console_addr {
            None => None,
            Some(addr) => {
                let public = api.console_url.as_deref().and_then(|u| url::Url::parse(u).ok());
                let listener = passerelle_console::Listener::bind(addr, public.as_ref(), api.console_idle())
                    .await
                    .map_err(|e| PartyError::Runtime(anyhow!("cannot listen on `api.console_addr` {addr}: {e}")))?;
                Some(listener)
            }
        };
        let routes = match &listener {
            Some(l) => routes.merge(passerelle_console::open::routes(l.sessions().clone(), l.base().clone())),
            None => routes,
        };
        let server = ApiServer::start(&socket, routes, registry.clone(), Arc::clone(&recorder))
            .map_err(|e| PartyError::Runtime(anyhow!(e)))?;
        let console = listener.map(|l| l.serve(console, server.router(), registry.clone(), recorder));
        let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .map_err(|e| PartyError::Runtime(anyhow!("cannot watch for SIGHUP (registry reloads): {e}")))?;
        let watched = registry.clone();
        let reloads = tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                reload(&watched, trail.as_ref());
            }
        });
        Ok(DaemonApi { server, console, registry, reloads })
    }

    /// The registry the API serves with.
    pub fn registry(&self) -> &RegistryHandle {
        &self.registry
    }

    /// Where the console listens, when it is served.
    pub fn console_addr(&self) -> Option<std::net::SocketAddr> {
        self.console.as_ref().and_then(|c| c.addr())
    }

    /// Stops serving (the calls in flight finish) and removes the socket.
    pub async fn stop(self) {
        self.reloads.abort();
        if let Some(console) = self.console {
            console.stop().await;
        }
        self.server.stop().await;
    }
}

/// Reloads the registry (what SIGHUP does): its changes recorded in `trail`; a file with
/// problems changes nothing and is logged.
pub fn reload(registry: &RegistryHandle, trail: &dyn Trail) {
    let path = registry.path().map(|p| p.display().to_string()).unwrap_or_default();
    match registry.reload() {
        Ok(changes) => {
            tracing::info!(registry = %path, changed = changes.len(), "agent registry reloaded");
            if let (Some(file), false) = (registry.path(), changes.is_empty()) {
                trail.registry_changed(file, &changes);
            }
        }
        Err(e) => tracing::error!(error = %e, "agent registry not reloaded: the one before stays in force"),
    }
}

/// The registry the settings name, or the default one (missing: no agent).
fn registry(settings: &PartySettings) -> Result<RegistryHandle, PartyError> {
    let (path, named) = settings.agents().registry_path();
    if !named && !path.exists() {
        tracing::warn!(
            registry = %path.display(),
            "no agent registry: every call of the local API is refused until the file exists and the daemon \
             gets SIGHUP (README, \"Agents and roles\")"
        );
        return Ok(RegistryHandle::empty_at(&path));
    }
    let handle = RegistryHandle::load(&path).map_err(|e| PartyError::Settings(anyhow!(e)))?;
    tracing::info!(registry = %path.display(), agents = handle.current().len(), "agent registry loaded");
    Ok(handle)
}

/// A [`Trail`] as the API's [`AccessRecorder`].
#[derive(Debug)]
struct AsRecorder(Arc<dyn Trail>);

impl AccessRecorder for AsRecorder {
    fn record(&self, access: &Access) {
        self.0.record(access);
    }
}
