//! What the party's console tests share: a daemon's API routes served on a socket of a temporary
//! folder for one agent of `role` (the test's own account), its console's pages over that API,
//! a session opened for the agent, and requests with or without its cookie.

// Each test binary uses a part of it.
#![allow(dead_code)]

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::response::Response;
use axum::Router;
use passerelle_agents::{Agent, Registry, Role};
use passerelle_console::sessions::Holder;
use passerelle_console::{Console, Sessions};
use passerelle_local_api::{ApiServer, LogRecorder, RegistryHandle};
use tower::ServiceExt;

/// A console served in-process, a session open.
pub struct Served {
    pub app: Router,
    pub cookie: String,
    pub csrf: String,
    _api: ApiServer,
}

/// `routes` served in `dir` for the agent `id` (`name`) holding `role`, and `console` over them.
pub fn serve(dir: &Path, (id, name, role): (&str, &str, Role), routes: Router, console: Console) -> Served {
    let uid = std::fs::metadata(dir).unwrap().uid();
    let account = passerelle_local_api::account_name(uid).unwrap().expect("the test's uid has an account name");
    let agent = Agent {
        account: account.clone(),
        id: id.to_owned(),
        name: name.to_owned(),
        roles: [role].into_iter().collect(),
        office: None,
    };
    let registry = RegistryHandle::fixed(Registry::from_agents([agent]));
    let api = ApiServer::start(&dir.join("api.sock"), routes, registry.clone(), Arc::new(LogRecorder)).unwrap();
    let sessions = Sessions::new(Duration::from_secs(600));
    let app = passerelle_console::app(console, api.router(), registry, sessions.clone(), false);
    let opened = sessions.redeem(&sessions.open(Holder { account, uid })).unwrap();
    Served { app, cookie: opened.cookie, csrf: opened.found.csrf, _api: api }
}

/// A request of `app`, with the session's cookie when given, a urlencoded form when given.
pub async fn call(app: &Router, method: &str, path: &str, cookie: Option<&str>, form: Option<&str>) -> Response {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, format!("{}={cookie}", passerelle_console::COOKIE));
    }
    let body = match form {
        Some(form) => {
            request = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            Body::from(form.to_owned())
        }
        None => Body::empty(),
    };
    app.clone().oneshot(request.body(body).unwrap()).await.unwrap()
}

/// `GET path`: the status and the page.
pub async fn get(app: &Router, path: &str, cookie: Option<&str>) -> (StatusCode, String) {
    let response = call(app, "GET", path, cookie, None).await;
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}
