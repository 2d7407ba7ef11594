//! The console's core without a browser, over a real local API router (served on a socket by
//! `ApiServer`, called in-process by the console as the session's agent): the one-time URL
//! works once, no page without a session, no form without its CSRF token, logout ends the
//! session, the API's role check and refusal record are the console's, a registry change ends a
//! session, and every answer carries the headers that keep personal data out of caches and
//! frames.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, Method, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use passerelle_agents::Role;
use passerelle_console::html::text;
use passerelle_console::{app_recording, Console, CsrfForm, NavLink, OpenedTicket, Session, Sessions, OPEN_ROUTE};
use passerelle_local_api::{ApiServer, Caller, KeptAccesses, RegistryHandle};
use tower::ServiceExt;

/// The API's probe: operators only, answering who called.
async fn probe(caller: Caller) -> Result<Json<serde_json::Value>, passerelle_local_api::ApiError> {
    caller.require(&[Role::Operator])?;
    Ok(Json(serde_json::json!({ "agent": caller.agent().id })))
}

/// A page calling the probe.
async fn probe_page(session: Session) -> Result<passerelle_console::Page, passerelle_console::PageError> {
    let answer: serde_json::Value = session.get("/v1/probe").await?;
    Ok(session.page("Sonde", &format!("<p>{}</p>", text(&answer["agent"].to_string()))))
}

/// A page of its own role check, no API call.
async fn auditors_page(session: Session) -> Result<passerelle_console::Page, passerelle_console::PageError> {
    session.require(&[Role::Auditor])?;
    Ok(session.page("Auditeurs", "<p>ok</p>"))
}

#[derive(serde::Deserialize)]
struct Note {
    note: String,
}

/// A form page echoing its field once its token is checked.
async fn note(session: Session, CsrfForm(form): CsrfForm<Note>) -> passerelle_console::Page {
    session.page("Note", &format!("<p>{}</p>", text(&form.note)))
}

fn own_account() -> (String, u32) {
    let uid = nix::unistd::getuid().as_raw();
    (passerelle_local_api::own_account().unwrap().expect("this account has a name"), uid)
}

struct Fixture {
    app: Router,
    api: Router,
    registry: RegistryHandle,
    registry_file: std::path::PathBuf,
    refusals: Arc<KeptAccesses>,
    _server: ApiServer,
    _dir: tempfile::TempDir,
}

fn write_registry(path: &std::path::Path, roles: &str) {
    let (account, _) = own_account();
    std::fs::write(
        path,
        format!("[[agent]]\naccount = \"{account}\"\nid = \"agent-0007\"\nname = \"Agent Sept\"\nroles = [{roles}]\n"),
    )
    .unwrap();
}

async fn fixture(roles: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let registry_file = dir.path().join("agents.toml");
    write_registry(&registry_file, roles);
    let registry = RegistryHandle::load(&registry_file).unwrap();
    let refusals = Arc::new(KeptAccesses::default());
    let sessions = Sessions::new(Duration::from_secs(600));
    let base = url::Url::parse("http://127.0.0.1:9/").unwrap();
    let routes =
        Router::new().route("/v1/probe", get(probe)).merge(passerelle_console::open::routes(sessions.clone(), base));
    let server = ApiServer::start(&dir.path().join("api.sock"), routes, registry.clone(), refusals.clone()).unwrap();
    let console = Console {
        daemon: "Observatoire test".into(),
        nav: vec![NavLink { href: "/probe", label: "Sonde", about: "La sonde.", roles: &[Role::Operator] }],
        pages: Router::new()
            .route("/probe", get(probe_page))
            .route("/note", axum::routing::post(note))
            .route("/auditors", get(auditors_page)),
    };
    let app = app_recording(console, server.router(), registry.clone(), sessions, false, refusals.clone());
    Fixture { app, api: server.router(), registry, registry_file, refusals, _server: server, _dir: dir }
}

impl Fixture {
    async fn send(&self, request: Request) -> Response {
        self.app.clone().oneshot(request).await.unwrap()
    }

    /// What `console open` does: the API's route, called with this process's peer credentials.
    async fn ticket(&self) -> OpenedTicket {
        let (_, uid) = own_account();
        let mut request = Request::post(OPEN_ROUTE).body(Body::empty()).unwrap();
        request.extensions_mut().insert(axum::extract::ConnectInfo(passerelle_local_api::PeerCred { uid: Some(uid) }));
        let response = self.api.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        serde_json::from_slice(&body(response).await).unwrap()
    }

    /// A session's cookie and the home page's CSRF token.
    async fn login(&self) -> (String, String) {
        let ticket = self.ticket().await;
        let path = url::Url::parse(&ticket.url).unwrap().path().to_owned();
        let response = self.send(Request::get(&path).body(Body::empty()).unwrap()).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let set = response.headers()[header::SET_COOKIE].to_str().unwrap().to_owned();
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/"), "{set}");
        let cookie = set.split(';').next().unwrap().to_owned();
        let home = self.get("/", Some(&cookie)).await;
        assert_eq!(home.status(), StatusCode::OK);
        let html = String::from_utf8(body(home).await).unwrap();
        let csrf = html.split(r#"name="csrf" value=""#).nth(1).unwrap().split('"').next().unwrap().to_owned();
        (cookie, csrf)
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> Response {
        let mut request = Request::get(path);
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    async fn post_form(&self, path: &str, cookie: &str, form: &str) -> Response {
        let request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::COOKIE, cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form.to_owned()))
            .unwrap();
        self.send(request).await
    }
}

async fn body(response: Response) -> Vec<u8> {
    axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec()
}

async fn html(response: Response) -> String {
    String::from_utf8(body(response).await).unwrap()
}

#[tokio::test]
async fn a_one_time_url_opens_one_session_once() {
    let f = fixture(r#""operator""#).await;
    let ticket = f.ticket().await;
    assert_eq!(ticket.agent, "agent-0007");
    assert!(ticket.url.starts_with("http://127.0.0.1:9/session/"), "{}", ticket.url);
    let path = url::Url::parse(&ticket.url).unwrap().path().to_owned();
    let first = f.get(&path, None).await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let again = f.get(&path, None).await;
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
    assert!(html(again).await.contains("déjà servi ou a expiré"));
}

#[tokio::test]
async fn no_page_without_a_session_and_the_pages_call_the_api_as_the_agent() {
    let f = fixture(r#""operator""#).await;
    for path in ["/", "/probe"] {
        let response = f.get(path, None).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert!(html(response).await.contains("passerelle console open"));
        let forged = f.get(path, Some("passerelle_console=00ff")).await;
        assert_eq!(forged.status(), StatusCode::UNAUTHORIZED, "{path} with a made-up cookie");
    }
    let (cookie, _) = f.login().await;
    let page = f.get("/probe", Some(&cookie)).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = html(page).await;
    assert!(page.contains("agent-0007"), "the API saw the session's agent: {page}");
    assert!(page.contains(r#"<a href="/probe" aria-current="page">Sonde</a>"#), "the menu shows the page: {page}");
}

#[tokio::test]
async fn a_role_missing_is_the_apis_refusal_recorded_and_the_menu_hides_the_page() {
    let f = fixture(r#""auditor""#).await;
    let (cookie, _) = f.login().await;
    let home = html(f.get("/", Some(&cookie)).await).await;
    assert!(!home.contains(r#"href="/probe""#), "an auditor's menu has no operator page: {home}");
    let refused = f.get("/probe", Some(&cookie)).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(html(refused).await.contains("Accès refusé"));
    let taken = f.refusals.taken();
    assert_eq!(taken.len(), 1, "the refusal is recorded by the daemon's trail: {taken:?}");
    assert_eq!(taken[0].agent_id.as_deref(), Some("agent-0007"));
    assert_eq!(taken[0].path, "/v1/probe");
}

#[tokio::test]
async fn a_form_without_the_sessions_token_is_refused() {
    let f = fixture(r#""operator""#).await;
    let (cookie, csrf) = f.login().await;
    for form in ["note=bonjour".to_owned(), "note=bonjour&csrf=".to_owned(), format!("note=bonjour&csrf={csrf}x")] {
        let response = f.post_form("/note", &cookie, &form).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{form}");
        assert!(html(response).await.contains("jeton"));
    }
    let response = f.post_form("/note", &cookie, &format!("note=%3Cb%3Ebonjour&csrf={csrf}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(html(response).await.contains("&lt;b&gt;bonjour"), "the value is escaped");
    // Another session's token is not this one's.
    let (other, _) = f.login().await;
    assert_eq!(f.post_form("/note", &other, &format!("note=x&csrf={csrf}")).await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn logout_ends_the_session() {
    let f = fixture(r#""operator""#).await;
    let (cookie, csrf) = f.login().await;
    assert_eq!(f.post_form("/logout", &cookie, "").await.status(), StatusCode::FORBIDDEN, "logout needs the token too");
    let out = f.post_form("/logout", &cookie, &format!("csrf={csrf}")).await;
    assert_eq!(out.status(), StatusCode::OK);
    assert!(out.headers()[header::SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(f.get("/", Some(&cookie)).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_account_dropped_from_the_registry_loses_its_session() {
    let f = fixture(r#""operator""#).await;
    let (cookie, _) = f.login().await;
    std::fs::write(&f.registry_file, "").unwrap();
    f.registry.reload().unwrap();
    assert_eq!(f.get("/", Some(&cookie)).await.status(), StatusCode::FORBIDDEN);
    write_registry(&f.registry_file, r#""operator""#);
    f.registry.reload().unwrap();
    assert_eq!(f.get("/", Some(&cookie)).await.status(), StatusCode::UNAUTHORIZED, "the session was closed");
}

#[tokio::test]
async fn every_answer_keeps_out_of_caches_frames_and_referrers() {
    let f = fixture(r#""operator""#).await;
    let (cookie, _) = f.login().await;
    for (path, cookie) in [("/", Some(cookie.as_str())), ("/", None), ("/nowhere", None), ("/console.css", None)] {
        let response = f.get(path, cookie).await;
        let headers = response.headers();
        assert_eq!(headers[header::CACHE_CONTROL], "no-store", "{path}");
        assert_eq!(headers[header::REFERRER_POLICY], "no-referrer", "{path}");
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY", "{path}");
        let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
    }
    let css = f.get("/console.css", None).await;
    assert_eq!(css.status(), StatusCode::OK);
    assert!(css.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/css"));
}

#[tokio::test]
async fn a_pages_own_role_check_refuses_and_is_recorded_as_the_apis() {
    let f = fixture(r#""operator""#).await;
    let (cookie, _) = f.login().await;
    let refused = f.get("/auditors", Some(&cookie)).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(html(refused).await.contains("réservée aux rôles : auditor"));
    let taken = f.refusals.taken();
    assert_eq!(taken.len(), 1, "{taken:?}");
    assert_eq!((taken[0].agent_id.as_deref(), taken[0].path.as_str()), (Some("agent-0007"), "/console/auditors"));
    let f = fixture(r#""auditor""#).await;
    let (cookie, _) = f.login().await;
    assert_eq!(f.get("/auditors", Some(&cookie)).await.status(), StatusCode::OK);
    assert!(f.refusals.taken().is_empty());
}
