//! Serving a console: its listener bound first ([`Listener::bind`], so the one-time URLs know
//! where they point before the local API serves them), then its pages ([`Listener::serve`]):
//! the daemon's routes and the ones every console has — `/` (the pages the agent may open),
//! `/session/{ticket}` (the one-time URL), `POST /logout`, `/console.css` — with the headers
//! that keep a page of personal data out of caches, frames, referrers and other sites' scripts.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Request};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use passerelle_local_api::{AccessRecorder, LogRecorder, RegistryHandle};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use url::Url;

use crate::html::{link, text};
use crate::page::{NavLink, Page, PageError, STYLESHEET};
use crate::session::{cookie_name, Context, CsrfForm, Session};
use crate::sessions::Sessions;

/// What a daemon's console shows: its name, its menu and its pages.
#[derive(Debug)]
pub struct Console {
    /// The daemon as its agents name it (`Observatoire cnav-idf`).
    pub daemon: String,
    pub nav: Vec<NavLink>,
    /// The pages; each handler takes a [`Session`].
    pub pages: Router,
}

/// A console's listener, bound, not yet serving.
#[derive(Debug)]
pub struct Listener {
    listener: TcpListener,
    base: Url,
    sessions: Sessions,
}

impl Listener {
    /// Binds `addr` (`HOST:PORT`; port 0 picks a free one). The one-time URLs start with
    /// `public_url` when the console is reached through a reverse proxy, else with
    /// `http://<the address bound>`.
    pub async fn bind(addr: &str, public_url: Option<&Url>, idle: Duration) -> std::io::Result<Listener> {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let base = match public_url {
            Some(url) => url.clone(),
            None => Url::parse(&format!("http://{}/", shown_addr(local))).map_err(std::io::Error::other)?,
        };
        Ok(Listener { listener, base, sessions: Sessions::new(idle) })
    }

    /// The sessions the local API opens tickets in.
    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    /// Where the one-time URLs point.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// The address bound.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves `console`, its pages calling `api` (the daemon's local API router) as each
    /// session's agent, mapped through `registry`; a page a role may not open is refused and
    /// given to `recorder` (the daemon's trail, as the API's refusals).
    pub fn serve(
        self,
        console: Console,
        api: Router,
        registry: RegistryHandle,
        recorder: Arc<dyn AccessRecorder>,
    ) -> ConsoleServer {
        let Listener { listener, base, sessions } = self;
        let addr = listener.local_addr().ok();
        let secure = base.scheme() == "https";
        let app = served(console, api, registry, sessions, (secure, base.port_or_known_default()), recorder);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            if let Err(e) = passerelle_metrics::http::serve(listener, app, shutdown).await {
                tracing::error!(error = %e, "the console stopped on an error");
            }
        });
        if let Some(addr) = addr {
            tracing::info!(addr = %addr, url = %base, "console listening");
        }
        ConsoleServer { stop: Some(stop), task: Some(task), addr }
    }
}

/// `127.0.0.1:8080`, or `[::1]:8080`.
fn shown_addr(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => a.to_string(),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    }
}

/// What [`Listener::serve`] serves: `console`'s pages and the routes every console has, each
/// request's [`Session`] found in `sessions` and its calls made to `api` as its agent
/// (`secure`: the cookie is marked `Secure`). Tests call it without a listener.
pub fn app(console: Console, api: Router, registry: RegistryHandle, sessions: Sessions, secure: bool) -> Router {
    app_recording(console, api, registry, sessions, secure, Arc::new(LogRecorder))
}

/// [`app`], the pages' own refusals ([`Session::require`]) given to `recorder`.
pub fn app_recording(
    console: Console,
    api: Router,
    registry: RegistryHandle,
    sessions: Sessions,
    secure: bool,
    recorder: Arc<dyn AccessRecorder>,
) -> Router {
    served(console, api, registry, sessions, (secure, None), recorder)
}

/// [`app_recording`], the session cookie named after the console's `port` ([`cookie_name`]).
fn served(
    console: Console,
    api: Router,
    registry: RegistryHandle,
    sessions: Sessions,
    (secure, port): (bool, Option<u16>),
    recorder: Arc<dyn AccessRecorder>,
) -> Router {
    let context = Arc::new(Context {
        daemon: console.daemon,
        nav: Arc::new(console.nav),
        sessions,
        registry,
        api,
        secure,
        cookie: cookie_name(port),
        recorder,
    });
    router(console.pages).layer(Extension(context))
}

/// The daemon's pages with the routes every console has and its headers.
fn router(pages: Router) -> Router {
    pages
        .route("/", get(home))
        .route("/session/{ticket}", get(redeem))
        .route("/logout", post(logout))
        .route("/console.css", get(stylesheet))
        .fallback(not_found)
        .layer(middleware::from_fn(headers))
}

/// A console being served.
#[derive(Debug)]
pub struct ConsoleServer {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    addr: Option<SocketAddr>,
}

impl ConsoleServer {
    /// The address served.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.addr
    }

    /// Stops accepting and lets the requests in progress finish.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for ConsoleServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The policy of every page: only this console's stylesheet, images and forms, no script but its
/// own.
const CONSOLE_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The policy of a whole document a page serves as it is (a printable letter) whose only
/// resource is its one inline stylesheet `css`: that stylesheet allowed by its SHA-256 (an
/// injected `<style>` or `style=` is not), everything else refused — no script, image, form,
/// frame or fetch. Set it as the response's `Content-Security-Policy`; [`headers`] keeps it.
pub fn inline_style_csp(css: &str) -> HeaderValue {
    use base64::Engine as _;
    use sha2::Digest as _;
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(css.as_bytes()));
    let policy = format!(
        "default-src 'none'; style-src 'sha256-{hash}'; img-src 'none'; script-src 'none'; form-action 'none'; \
         frame-ancestors 'none'; base-uri 'none'"
    );
    HeaderValue::from_str(&policy).unwrap_or(HeaderValue::from_static(CONSOLE_CSP))
}

/// Every answer: not cached, not framed, no referrer (URLs name cases), only this console's
/// stylesheet and forms, no script but its own ([`CONSOLE_CSP`]) — unless the page set a
/// policy of its own ([`inline_style_csp`]), which is kept.
async fn headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.entry(header::CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(CONSOLE_CSP));
    let set = [
        (header::CACHE_CONTROL, "no-store"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (HeaderName::from_static("cross-origin-opener-policy"), "same-origin"),
    ];
    for (name, value) in set {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// `/`: who is signed in and the pages their roles open.
async fn home(session: Session) -> Page {
    let agent = session.agent();
    let mut body = format!(
        r#"<p class="lead">Bonjour {}. Voici les pages que vos rôles ouvrent dans ce service. Chaque page qui montre une personne est inscrite au journal des accès à votre nom.</p><ul class="cards">"#,
        text(&agent.name)
    );
    let nav = session.nav();
    for page in &nav {
        body.push_str(&format!(r#"<li><h2>{}</h2><p>{}</p></li>"#, link(page.href, page.label), text(page.about)));
    }
    body.push_str("</ul>");
    if nav.is_empty() {
        body.push_str(r#"<p class="notice">Vos rôles n'ouvrent aucune page de ce service.</p>"#);
    }
    session.page("Accueil", &body)
}

/// `/session/{ticket}`: the one-time URL; the session's cookie set, then the home page.
async fn redeem(Extension(context): Extension<Arc<Context>>, Path(ticket): Path<String>) -> Response {
    let Some(opened) = context.sessions.redeem(&ticket) else {
        return PageError::new(
            StatusCode::UNAUTHORIZED,
            "Lien expiré ou déjà utilisé",
            "Ce lien de connexion a déjà servi ou a expiré (il vaut deux minutes, une fois). Ouvrez-en un autre : \
             `passerelle console open`.",
        )
        .into_response();
    };
    tracing::info!(account = %opened.found.holder.account, "console session opened");
    let secure = if context.secure { "; Secure" } else { "" };
    let cookie = format!("{}={}; Path=/; HttpOnly; SameSite=Strict{secure}", context.cookie, opened.cookie);
    let mut response = Redirect::to("/").into_response();
    match HeaderValue::from_str(&cookie) {
        Ok(value) => {
            response.headers_mut().insert(header::SET_COOKIE, value);
            response
        }
        Err(e) => PageError::internal("cannot set the session's cookie", &e).into_response(),
    }
}

#[derive(serde::Deserialize)]
struct Nothing {}

/// `POST /logout`: the session ended and its cookie cleared.
async fn logout(session: Session, CsrfForm(_): CsrfForm<Nothing>) -> Response {
    session.close();
    tracing::info!(agent = %session.agent().id, "console session closed");
    let secure = if session.secure() { "; Secure" } else { "" };
    let clear = format!("{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}", session.cookie_name());
    let page = PageError::new(
        StatusCode::OK,
        "Session terminée",
        "Vous êtes déconnecté. Pour revenir : `passerelle console open`.",
    )
    .page();
    let mut response = page.into_response();
    if let Ok(value) = HeaderValue::from_str(&clear) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLESHEET).into_response()
}

async fn not_found() -> PageError {
    PageError::not_found("Cette page n'existe pas dans la console de ce service.")
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use tower::ServiceExt;

    use super::*;

    async fn policy_of(pages: Router, path: &str) -> String {
        let request = Request::builder().uri(path).body(Body::empty()).unwrap();
        let response = router(pages).oneshot(request).await.unwrap();
        response.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned()
    }

    #[tokio::test]
    async fn a_page_keeps_the_console_policy_unless_it_sets_its_own() {
        let css = "body{margin:0}";
        let pages = Router::new().route("/plain", get(|| async { "x" })).route(
            "/letter",
            get(move || async move { ([(header::CONTENT_SECURITY_POLICY, inline_style_csp(css))], "x") }),
        );
        assert_eq!(policy_of(pages.clone(), "/plain").await, CONSOLE_CSP);
        let own = policy_of(pages, "/letter").await;
        // printf 'body{margin:0}' | openssl dgst -sha256 -binary | base64
        assert!(own.contains("style-src 'sha256-IAdwN3biDCQ3brrgp1m8kBEsPQYyqfREKOEfeoREopc=';"), "{own}");
        assert!(own.starts_with("default-src 'none';") && !own.contains("unsafe") && !own.contains("'self'"), "{own}");
    }
}
