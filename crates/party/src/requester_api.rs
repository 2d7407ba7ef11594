//! The requester daemon's local API (DESIGN §7.1): the requester's routes
//! (`passerelle_requester::api`) on its `[api] socket`, callers mapped by its `[agents]
//! registry`, refusals in its log.
//!
//! A registry file the settings name must load (else the daemon does not start, a settings
//! error naming its problems); the default one may be missing: no agent, every call refused, said
//! at start.

use std::sync::Arc;

use anyhow::anyhow;
use passerelle_local_api::{ApiServer, LogRecorder, RegistryHandle};
use passerelle_requester::Requester;

use crate::PartyError;

/// Serves the requester's routes until the returned server is stopped.
pub(crate) fn serve(requester: &Requester) -> Result<ApiServer, PartyError> {
    let settings = requester.settings();
    let (path, named) = settings.agents.registry_path();
    let registry = if !named && !path.exists() {
        tracing::warn!(
            registry = %path.display(),
            "no agent registry: every call of the local API is refused until the file exists (README, \"Agents and roles\")"
        );
        RegistryHandle::empty_at(&path)
    } else {
        RegistryHandle::load(&path).map_err(|e| PartyError::Settings(anyhow!(e)))?
    };
    let routes = passerelle_requester::api::routes(requester.clone());
    ApiServer::start(&settings.api_socket(), routes, registry, Arc::new(LogRecorder))
        .map_err(|e| PartyError::Runtime(anyhow!(e)))
}
