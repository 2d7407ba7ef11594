//! The local API a daemon serves while it runs (DESIGN §7.1): its socket (`[api] socket`), its
//! agent registry (`[agents] registry`, reloaded on SIGHUP), and where it records what the API
//! refused and how the registry changed ([`Trail`]): the observatory in its audit trail
//! ([`observatory`]), the other daemons in their log until they have a trail of their own.
//!
//! A registry file named by the settings must be usable at start (else the daemon does not
//! start: a settings error naming its problems); the default file may be missing (no agent:
//! every call refused, said at start). A reload with problems keeps the registry before and
//! logs why.

pub mod observatory;

use std::sync::Arc;

use anyhow::anyhow;
use axum::Router;
use passerelle_agents::AgentChange;
use passerelle_local_api::{Access, AccessRecorder, ApiServer, LogRecorder, RegistryHandle};

use crate::{PartyError, PartySettings};

/// Where a daemon records its API's refusals and the registry's changes.
pub trait Trail: AccessRecorder {
    /// The registry was reloaded from `registry` and these accounts changed.
    fn registry_changed(&self, registry: &std::path::Path, changes: &[AgentChange]);
}

/// A daemon without a trail of its own: both go to its log.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogTrail;

impl AccessRecorder for LogTrail {
    fn record(&self, access: &Access) {
        LogRecorder.record(access);
    }
}

impl Trail for LogTrail {
    fn registry_changed(&self, registry: &std::path::Path, changes: &[AgentChange]) {
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
}

/// A daemon's API being served, and its registry's reloads.
#[derive(Debug)]
pub struct DaemonApi {
    server: ApiServer,
    registry: RegistryHandle,
    reloads: tokio::task::JoinHandle<()>,
}

impl DaemonApi {
    /// Loads the registry, binds the socket and serves `routes` there; arms the SIGHUP reload.
    pub async fn start(
        settings: &PartySettings,
        routes: Router,
        trail: Arc<dyn Trail>,
    ) -> Result<DaemonApi, PartyError> {
        let registry = registry(settings)?;
        let socket = settings.api_socket();
        let recorder: Arc<dyn AccessRecorder> = Arc::new(AsRecorder(Arc::clone(&trail)));
        let server = ApiServer::start(&socket, routes, registry.clone(), recorder)
            .map_err(|e| PartyError::Runtime(anyhow!(e)))?;
        let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .map_err(|e| PartyError::Runtime(anyhow!("cannot watch for SIGHUP (registry reloads): {e}")))?;
        let watched = registry.clone();
        let reloads = tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                reload(&watched, trail.as_ref());
            }
        });
        Ok(DaemonApi { server, registry, reloads })
    }

    /// The registry the API serves with.
    pub fn registry(&self) -> &RegistryHandle {
        &self.registry
    }

    /// Stops serving (the calls in flight finish) and removes the socket.
    pub async fn stop(self) {
        self.reloads.abort();
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
