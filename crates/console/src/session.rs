//! [`Session`], what every page handler takes: the agent signed in (looked up in the registry at
//! each request, so a role taken away takes effect at once), its CSRF token, and the daemon's
//! local API called **in-process as that agent** — the request carries the peer credentials the
//! agent's own socket call would, so the API's role checks and access-log entries are the ones a
//! CLI call gets, written once. [`CsrfForm`] is a form whose token was checked.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use passerelle_agents::{Agent, Role};
use passerelle_local_api::{Access, AccessOutcome, AccessRecorder, ErrorBody, PeerCred, RegistryHandle};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tower::ServiceExt;

use crate::page::{csrf_field, laid_out, Frame, NavLink, Page, PageError};
use crate::sessions::{same_token, Found, Sessions};

/// The session cookie's name when the console's port is not known (a router without a listener,
/// in tests); a listener names it after its port ([`cookie_name`]).
pub const COOKIE: &str = "passerelle_console";

/// The session cookie's name of a console reached on `port`: browsers keep cookies per host,
/// not per port, so the consoles of two daemons on one host (`127.0.0.1:8441`, `:8442`) would
/// otherwise overwrite each other's session.
pub fn cookie_name(port: Option<u16>) -> String {
    match port {
        Some(port) => format!("{COOKIE}_{port}"),
        None => COOKIE.to_owned(),
    }
}

/// The largest API answer a page reads whole (JSON); files are streamed.
const MAX_ANSWER: usize = 64 * 1024 * 1024;

/// The largest form a page takes (a selection file goes through [`axum::extract::Multipart`]).
const MAX_FORM: usize = 1024 * 1024;

/// What every request of one console shares.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    pub daemon: String,
    pub nav: Arc<Vec<NavLink>>,
    pub sessions: Sessions,
    pub registry: RegistryHandle,
    /// The daemon's local API (its routes with the context its server adds).
    pub api: Router,
    /// Cookies marked `Secure` (the console is reached over HTTPS through a proxy).
    pub secure: bool,
    /// The session cookie's name ([`cookie_name`]).
    pub cookie: String,
    /// Where a page's own refusals go: the daemon's trail, as the API's.
    pub recorder: Arc<dyn AccessRecorder>,
}

/// The agent signed in, for one request.
#[derive(Debug, Clone)]
pub struct Session {
    context: Arc<Context>,
    found: Found,
    agent: Agent,
    cookie: String,
    method: String,
    path: String,
}

impl Session {
    /// The agent signed in.
    pub fn agent(&self) -> &Agent {
        &self.agent
    }

    /// Whether the agent holds one of `roles` (what a page shows; the API decides what it gives).
    pub fn has_any(&self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.agent.has(*r))
    }

    /// Ok when the agent holds one of `roles`; else the page's 403, recorded in the daemon's
    /// trail as the API records its refusals (kind `refused`, the page's path under `/console`).
    /// For a page that shows a form before any API call, or whose API call other roles may make.
    pub fn require(&self, roles: &[Role]) -> Result<(), PageError> {
        match self.agent.allows_any(roles) {
            passerelle_agents::Decision::Allowed => Ok(()),
            passerelle_agents::Decision::Refused { reason } => {
                self.context.recorder.record(&Access {
                    uid: Some(self.found.holder.uid),
                    account: Some(self.agent.account.clone()),
                    agent_id: Some(self.agent.id.clone()),
                    method: self.method.clone(),
                    path: format!("/console{}", self.path),
                    outcome: AccessOutcome::Refused { reason },
                });
                let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
                Err(PageError::new(
                    StatusCode::FORBIDDEN,
                    "Accès refusé",
                    format!("Cette page est réservée aux rôles : {}.", names.join(", ")),
                ))
            }
        }
    }

    /// The hidden field every form of the page carries.
    pub fn csrf_field(&self) -> String {
        csrf_field(&self.found.csrf)
    }

    /// Ok when `given` is the session's CSRF token (for a form read by hand, a multipart one).
    pub fn check_csrf(&self, given: &str) -> Result<(), PageError> {
        if same_token(given, &self.found.csrf) {
            Ok(())
        } else {
            tracing::warn!(agent = %self.agent.id, path = %self.path, "console: a form without its session's token refused");
            Err(PageError::csrf())
        }
    }

    /// A page of this session: `body` (HTML) laid out under `title`.
    pub fn page(&self, title: &str, body: &str) -> Page {
        let frame = Frame {
            daemon: &self.context.daemon,
            nav: &self.context.nav,
            agent: &self.agent,
            csrf: &self.found.csrf,
            path: &self.path,
        };
        Page::document(StatusCode::OK, laid_out(&frame, title, body))
    }

    /// The pages of the menu this agent may open.
    pub fn nav(&self) -> Vec<NavLink> {
        self.context.nav.iter().filter(|l| l.open_to(&self.agent)).copied().collect()
    }

    /// `GET path` of the daemon's API (path and query, e.g. `/v1/cases?submission=ID`), its JSON
    /// answer decoded; a refusal or failure is the page's error.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, PageError> {
        let response = self.call(Method::GET, path, None).await?;
        decode(response).await
    }

    /// `POST path` with `body` as JSON.
    pub async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, PageError> {
        let json = serde_json::to_vec(body).map_err(|e| PageError::internal("cannot write the call", &e))?;
        let response = self.call(Method::POST, path, Some(("application/json", Bytes::from(json)))).await?;
        decode(response).await
    }

    /// `POST path` with bytes of `content_type` (a selection file, a CSV).
    pub async fn post_bytes<T: DeserializeOwned>(
        &self,
        path: &str,
        content_type: &'static str,
        bytes: Bytes,
    ) -> Result<T, PageError> {
        let response = self.call(Method::POST, path, Some((content_type, bytes))).await?;
        decode(response).await
    }

    /// `GET path` of the API as it answers (a file streamed, a page of HTML): a success passed
    /// through with its body, a refusal as the page's error.
    pub async fn get_raw(&self, path: &str) -> Result<Response, PageError> {
        let response = self.call(Method::GET, path, None).await?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(error_of(response).await)
        }
    }

    /// `GET path` as a download named `filename` (`Content-Disposition: attachment`).
    pub async fn download(&self, path: &str, filename: &str) -> Result<Response, PageError> {
        let mut response = self.get_raw(path).await?;
        let safe: String =
            filename.chars().map(|c| if c.is_ascii_alphanumeric() || ".-_".contains(c) { c } else { '_' }).collect();
        let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{safe}\""))
            .map_err(|e| PageError::internal("cannot name the download", &e))?;
        response.headers_mut().insert(header::CONTENT_DISPOSITION, disposition);
        Ok(response)
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<(&'static str, Bytes)>,
    ) -> Result<Response, PageError> {
        let mut request = Request::builder().method(method).uri(path);
        let body = match body {
            Some((content_type, bytes)) => {
                request = request.header(header::CONTENT_TYPE, content_type);
                Body::from(bytes)
            }
            None => Body::empty(),
        };
        let mut request = request.body(body).map_err(|e| PageError::internal("cannot write the call", &e))?;
        // The peer credentials the agent's own call on the socket would carry: the API maps them
        // to the agent exactly as it does for the CLI.
        request.extensions_mut().insert(ConnectInfo(PeerCred { uid: Some(self.found.holder.uid) }));
        match self.context.api.clone().oneshot(request).await {
            Ok(response) => Ok(response),
            Err(never) => match never {},
        }
    }
}

async fn decode<T: DeserializeOwned>(response: Response) -> Result<T, PageError> {
    if !response.status().is_success() {
        return Err(error_of(response).await);
    }
    let bytes = axum::body::to_bytes(response.into_body(), MAX_ANSWER)
        .await
        .map_err(|e| PageError::internal("cannot read the service's answer", &e))?;
    serde_json::from_slice(&bytes).map_err(|e| PageError::internal("cannot read the service's answer", &unquoted(&e)))
}

/// A decoding error without the value it quotes (serde's `invalid type: string "…"` would put a
/// name or a NIR of the answer in the daemon's log): its kind and where it stopped.
fn unquoted(e: &serde_json::Error) -> String {
    let kind = match e.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax => "not JSON",
        serde_json::error::Category::Data => "not the shape the page reads",
        serde_json::error::Category::Eof => "cut short",
    };
    format!("the answer is {kind} (line {}, column {})", e.line(), e.column())
}

async fn error_of(response: Response) -> PageError {
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), MAX_ANSWER).await.unwrap_or_default();
    match serde_json::from_slice::<ErrorBody>(&bytes) {
        Ok(body) => PageError::from_api(status, &body),
        Err(_) => PageError::new(
            status,
            "Demande refusée",
            String::from_utf8_lossy(&bytes).chars().take(400).collect::<String>(),
        ),
    }
}

/// The session cookie `cookie` of a request, if any.
pub(crate) fn cookie_of(parts: &Parts, cookie: &str) -> Option<String> {
    parts.headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|line| {
        line.split(';').find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == cookie && !value.is_empty()).then(|| value.to_owned())
        })
    })
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Session, PageError> {
        let Some(context) = parts.extensions.get::<Arc<Context>>().cloned() else {
            return Err(PageError::internal("the page is not served by the console", &"no context"));
        };
        let cookie = cookie_of(parts, &context.cookie).ok_or_else(PageError::no_session)?;
        let found = context.sessions.find(&cookie).ok_or_else(PageError::no_session)?;
        let Some(agent) = context.registry.agent(&found.holder.account) else {
            context.sessions.close(&cookie);
            return Err(PageError::new(
                StatusCode::FORBIDDEN,
                "Accès refusé",
                "Votre compte n'est plus dans le registre des agents de ce service : la session est close.",
            ));
        };
        Ok(Session {
            context,
            found,
            agent,
            cookie,
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
        })
    }
}

impl Session {
    /// Ends the session (logout).
    pub(crate) fn close(&self) {
        self.context.sessions.close(&self.cookie);
    }

    pub(crate) fn secure(&self) -> bool {
        self.context.secure
    }

    pub(crate) fn cookie_name(&self) -> &str {
        &self.context.cookie
    }
}

/// A urlencoded form whose `csrf` field was the session's token; `T` is the rest of its fields.
#[derive(Debug)]
pub struct CsrfForm<T>(pub T);

#[derive(Deserialize)]
struct Token {
    csrf: Option<String>,
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for CsrfForm<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<CsrfForm<T>, Response> {
        let (mut parts, body) = request.into_parts();
        let session = Session::from_request_parts(&mut parts, state).await.map_err(IntoResponse::into_response)?;
        let bytes = axum::body::to_bytes(body, MAX_FORM)
            .await
            .map_err(|_| PageError::bad_request("Le formulaire est trop grand.").into_response())?;
        let token: Token = serde_urlencoded::from_bytes(&bytes).map_err(|_| PageError::csrf().into_response())?;
        session.check_csrf(token.csrf.as_deref().unwrap_or("")).map_err(IntoResponse::into_response)?;
        let form = serde_urlencoded::from_bytes(&bytes).map_err(|e| {
            PageError::bad_request(format!("Le formulaire est incomplet ou mal rempli : {e}.")).into_response()
        })?;
        Ok(CsrfForm(form))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_port_has_a_cookie_of_its_own() {
        assert_eq!(cookie_name(Some(8441)), "passerelle_console_8441");
        assert_ne!(cookie_name(Some(8441)), cookie_name(Some(8442)), "two consoles on one host keep both sessions");
        assert_eq!(cookie_name(None), COOKIE);
        let parts = |header: &str| Request::get("/").header(header::COOKIE, header).body(()).unwrap().into_parts().0;
        let both = parts("passerelle_console_8441=aaa; passerelle_console_8442=bbb");
        assert_eq!(cookie_of(&both, "passerelle_console_8442").as_deref(), Some("bbb"));
        assert_eq!(cookie_of(&both, "passerelle_console_8441").as_deref(), Some("aaa"));
        assert_eq!(cookie_of(&both, COOKIE), None);
    }
}
