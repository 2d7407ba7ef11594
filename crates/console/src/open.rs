//! `POST /v1/console/session` on the daemon's local API: what `passerelle console open` calls.
//! The caller is the socket's peer (DESIGN §7.1), so the account that runs the command is the
//! one the session is for; any agent of the registry may open one, and the pages then show only
//! what its roles open.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use passerelle_local_api::Caller;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::sessions::{Holder, Sessions, TICKET_LIFETIME};

/// The local API's route.
pub const OPEN_ROUTE: &str = "/v1/console/session";

/// What `console open` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenedTicket {
    /// The one-time URL: it opens a session for the caller, once, within `expires_in_seconds`.
    pub url: String,
    pub expires_in_seconds: u64,
    /// The agent the session is for.
    pub agent: String,
}

#[derive(Debug, Clone)]
struct Opener {
    sessions: Sessions,
    base: Url,
}

/// The route, opening tickets in `sessions` for URLs under `base`.
pub fn routes(sessions: Sessions, base: Url) -> Router {
    Router::new().route(OPEN_ROUTE, post(open)).with_state(Opener { sessions, base })
}

async fn open(State(opener): State<Opener>, caller: Caller) -> Json<OpenedTicket> {
    let agent = caller.agent();
    let ticket = opener.sessions.open(Holder { account: agent.account.clone(), uid: caller.uid() });
    tracing::info!(agent = %agent.id, "console: a one-time URL issued");
    let url = opener.base.join(&format!("session/{ticket}")).map(|u| u.to_string()).unwrap_or_default();
    Json(OpenedTicket { url, expires_in_seconds: TICKET_LIFETIME.as_secs(), agent: agent.id.clone() })
}
