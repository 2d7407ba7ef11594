//! Who is calling: the socket's peer credentials (uid), the account name the system gives that
//! uid, and the agent the registry maps it to. [`Caller`] is the extractor handlers take; it
//! refuses (403, recorded) an account the registry does not know.

use std::sync::Arc;

use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::serve::IncomingStream;
use passerelle_agents::{Agent, Decision, Role};
use tokio::net::UnixListener;

use crate::access::{Access, AccessOutcome, AccessRecorder};
use crate::error::ApiError;
use crate::registry_handle::RegistryHandle;

/// The peer credentials of a connection, taken by the kernel when the client connected: the
/// only source of the caller's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerCred {
    /// `None` when the kernel gave none (the call is then refused).
    pub uid: Option<u32>,
}

impl Connected<IncomingStream<'_, UnixListener>> for PeerCred {
    fn connect_info(stream: IncomingStream<'_, UnixListener>) -> Self {
        PeerCred { uid: stream.io().peer_cred().ok().map(|c| c.uid()) }
    }
}

/// The account name of `uid` in the system's user database (`/etc/passwd`, or whatever NSS
/// is set to read), `None` when it has none.
pub fn account_name(uid: u32) -> std::io::Result<Option<String>> {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .map(|u| u.map(|u| u.name))
        .map_err(std::io::Error::from)
}

/// The account name of this process's own uid (the account a command calls a daemon as).
pub fn own_account() -> std::io::Result<Option<String>> {
    account_name(nix::unistd::getuid().as_raw())
}

/// What the server gives every request: the registry and where refusals are recorded.
#[derive(Debug, Clone)]
pub(crate) struct ApiContext {
    pub registry: RegistryHandle,
    pub recorder: Arc<dyn AccessRecorder>,
}

/// The agent making the call. A handler that takes it is called only for an account of the
/// registry; it then asks for the roles its call needs with [`Caller::require`].
#[derive(Debug, Clone)]
pub struct Caller {
    agent: Agent,
    uid: u32,
    method: String,
    path: String,
    recorder: Arc<dyn AccessRecorder>,
    relayed: Relayed,
}

/// What a call said of the agent a service account acts for ([`RELAYED_AGENT_HEADER`]).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Relayed {
    None,
    Agent(String),
    /// Not shaped like an agent id: never shown, never used.
    Malformed,
}

/// The header a service account names the agent it acts for with (an agent id of its own
/// registry, e.g. the social worker the social-service daemon reads a contact list for). Only a
/// handler that allows relaying reads it ([`Caller::relayed_agent`]); the caller stays the
/// socket's peer.
pub const RELAYED_AGENT_HEADER: &str = "x-passerelle-on-behalf-of";

impl Caller {
    /// The calling agent.
    pub fn agent(&self) -> &Agent {
        &self.agent
    }

    /// The peer's uid.
    pub fn uid(&self) -> u32 {
        self.uid
    }

    /// The agent id the calling service account says it acts for ([`RELAYED_AGENT_HEADER`]):
    /// `Ok(None)` when the call names none, a 400 when it is not shaped like an agent id (not
    /// repeated). The id is the relaying service's word, recorded as such; the caller's own
    /// roles decide what the call may do.
    pub fn relayed_agent(&self) -> Result<Option<&str>, ApiError> {
        match &self.relayed {
            Relayed::None => Ok(None),
            Relayed::Agent(id) => Ok(Some(id)),
            Relayed::Malformed => Err(ApiError::bad_request(format!(
                "the {RELAYED_AGENT_HEADER} header is not an agent id (letters, digits, `-`, `_`, `.`)"
            ))),
        }
    }

    /// Ok when the agent holds one of `roles`; else the 403 to answer (`not_permitted`, the
    /// reason naming the roles needed and held), the attempt recorded.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        self.decided(self.agent.allows_any(roles))
    }

    /// Ok when the agent holds `role` for `office` (a role scoped to an office); else the 403,
    /// recorded.
    pub fn require_in_office(&self, role: Role, office: &str) -> Result<(), ApiError> {
        self.decided(self.agent.allows_in_office(role, office))
    }

    fn decided(&self, decision: Decision) -> Result<(), ApiError> {
        match decision {
            Decision::Allowed => Ok(()),
            Decision::Refused { reason } => {
                self.recorder.record(&Access {
                    uid: Some(self.uid),
                    account: Some(self.agent.account.clone()),
                    agent_id: Some(self.agent.id.clone()),
                    method: self.method.clone(),
                    path: self.path.clone(),
                    outcome: AccessOutcome::Refused { reason: reason.clone() },
                });
                Err(ApiError::not_permitted(reason))
            }
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Caller, ApiError> {
        let Some(context) = parts.extensions.get::<ApiContext>().cloned() else {
            let e = std::io::Error::other("the router is not served by ApiServer");
            return Err(ApiError::internal("cannot identify the caller", &e));
        };
        let uid = parts.extensions.get::<ConnectInfo<PeerCred>>().and_then(|c| c.0.uid);
        let method = parts.method.to_string();
        let path = parts.uri.path().to_owned();
        let refuse = |uid: Option<u32>, account: Option<String>, message: String| {
            context.recorder.record(&Access {
                uid,
                account,
                agent_id: None,
                method: method.clone(),
                path: path.clone(),
                outcome: AccessOutcome::NotAnAgent,
            });
            ApiError::not_an_agent(message)
        };
        let Some(uid) = uid else {
            return Err(refuse(None, None, "not an authorised agent: the daemon cannot tell who is calling".into()));
        };
        let name = tokio::task::spawn_blocking(move || account_name(uid)).await;
        let account = match name {
            Ok(Ok(Some(account))) => account,
            Ok(Ok(None)) => {
                return Err(refuse(Some(uid), None, format!("not an authorised agent: uid {uid} has no account name")));
            }
            Ok(Err(e)) => return Err(ApiError::internal("cannot read the caller's account name", &e)),
            Err(e) => return Err(ApiError::internal("cannot read the caller's account name", &e)),
        };
        let Some(agent) = context.registry.agent(&account) else {
            let registry = context.registry.path().map(|p| format!(" ({})", p.display())).unwrap_or_default();
            let message = format!(
                "not an authorised agent: the account \"{account}\" is not in this daemon's agent registry{registry}; \
                 the body's director adds agents there"
            );
            return Err(refuse(Some(uid), Some(account), message));
        };
        let relayed = match parts.headers.get(RELAYED_AGENT_HEADER) {
            None => Relayed::None,
            Some(value) => match value.to_str() {
                Ok(id) if is_agent_id(id) => Relayed::Agent(id.to_owned()),
                _ => Relayed::Malformed,
            },
        };
        Ok(Caller { agent, uid, method, path, recorder: context.recorder, relayed })
    }
}

/// An agent id as a registry writes one: 1 to 64 ASCII letters, digits, `-`, `_` or `.`.
fn is_agent_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}
