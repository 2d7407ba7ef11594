//! An API answer a page cannot read is a 500 whose cause goes to the daemon's log — the cause,
//! never the answer's values: a decoding error quotes the value it stumbled on (a name, a NIR),
//! and the daemon's log is no place for personal data. In a test binary of its own: `tracing`
//! caches per-callsite interest process-wide, so a capturing subscriber must not share the
//! binary with tests that run without one.

use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use passerelle_console::{app, Console, OpenedTicket, Page, PageError, Session, Sessions, OPEN_ROUTE};
use passerelle_local_api::{ApiServer, Caller, KeptAccesses, RegistryHandle};
use passerelle_test_support::LogBuffer;
use tower::ServiceExt;

const NAME: &str = "DUPONT Jeanne 2850578123456";

/// An answer of another shape than the page expects (a person's name where a count is).
async fn person(_caller: Caller) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "count": NAME }))
}

#[derive(serde::Deserialize)]
struct Counted {
    #[allow(dead_code)]
    count: u64,
}

async fn page(session: Session) -> Result<Page, PageError> {
    let _: Counted = session.get("/v1/person").await?;
    Ok(session.page("Compte", "<p>ok</p>"))
}

#[tokio::test]
async fn an_answer_not_read_is_logged_without_its_values() {
    let captured = LogBuffer::default();
    let writer = captured.clone();
    let subscriber =
        tracing_subscriber::fmt().with_max_level(tracing::Level::TRACE).with_writer(move || writer.clone()).finish();
    // This test's runtime is single-threaded: the subscriber sees every task of the test.
    let _guard = tracing::subscriber::set_default(subscriber);

    let dir = tempfile::tempdir().unwrap();
    let uid = nix::unistd::getuid().as_raw();
    let account = passerelle_local_api::own_account().unwrap().expect("this account has a name");
    let registry_file = dir.path().join("agents.toml");
    std::fs::write(
        &registry_file,
        format!(
            "[[agent]]\naccount = \"{account}\"\nid = \"agent-0007\"\nname = \"Agent Sept\"\nroles = [\"operator\"]\n"
        ),
    )
    .unwrap();
    let registry = RegistryHandle::load(&registry_file).unwrap();
    let sessions = Sessions::new(Duration::from_secs(600));
    let base = url::Url::parse("http://127.0.0.1:9/").unwrap();
    let routes =
        Router::new().route("/v1/person", get(person)).merge(passerelle_console::open::routes(sessions.clone(), base));
    let refusals = std::sync::Arc::new(KeptAccesses::default());
    let server = ApiServer::start(&dir.path().join("api.sock"), routes, registry.clone(), refusals).unwrap();
    let console = Console { daemon: "Test".into(), nav: Vec::new(), pages: Router::new().route("/count", get(page)) };
    let app = app(console, server.router(), registry, sessions, false);

    let mut request = Request::post(OPEN_ROUTE).body(Body::empty()).unwrap();
    request.extensions_mut().insert(axum::extract::ConnectInfo(passerelle_local_api::PeerCred { uid: Some(uid) }));
    let response = server.router().oneshot(request).await.unwrap();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let ticket: OpenedTicket = serde_json::from_slice(&bytes).unwrap();
    let path = url::Url::parse(&ticket.url).unwrap().path().to_owned();
    let response = app.clone().oneshot(Request::get(&path).body(Body::empty()).unwrap()).await.unwrap();
    let cookie = response.headers()[header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_owned();

    let request = Request::get("/count").header(header::COOKIE, &cookie).body(Body::empty()).unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let html = String::from_utf8_lossy(&bytes);
    let logs = captured.text();
    assert!(logs.contains("cannot read the service's answer"), "the cause is logged: {logs}");
    for part in ["DUPONT", "Jeanne", "2850578123456"] {
        assert!(!logs.contains(part), "the log quotes the answer's value {part}: {logs}");
        assert!(!html.contains(part), "the page quotes the answer's value {part}: {html}");
    }
    server.stop().await;
}
