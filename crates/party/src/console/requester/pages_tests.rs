//! The requester pages served in-process against a real requester API (an offline requester:
//! no broker, so a submission is stored but not sent): each role sees its pages and is refused
//! the others, a form without its token is refused before its file is read, a submission goes
//! through the multipart form to the API and back as a page, the purge asks for confirmation.

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use passerelle_agents::{Agent, Registry, Role};
use passerelle_bus::BusSettings;
use passerelle_console::sessions::Holder;
use passerelle_console::{Console, Sessions, COOKIE};
use passerelle_local_api::{ApiServer, KeptAccesses, RegistryHandle};
use passerelle_protocol::rules::SystemClock;
use passerelle_requester::{Requester, RequesterSettings};
use tempfile::TempDir;
use tower::ServiceExt;

const BOUNDARY: &str = "XyZzY0123";

struct Stack {
    _dir: TempDir,
    registry: RegistryHandle,
    server: ApiServer,
    app: Router,
    cookie: String,
    csrf: String,
}

fn agent(account: &str, roles: &[Role], office: Option<&str>) -> Registry {
    Registry::from_agents([Agent {
        account: account.to_owned(),
        id: "agent-0042".into(),
        name: "Agent Bleu".into(),
        roles: roles.iter().copied().collect::<BTreeSet<_>>(),
        office: office.map(str::to_owned),
    }])
}

impl Stack {
    fn start(roles: &[Role]) -> Stack {
        let dir = TempDir::new().unwrap();
        let mut settings = RequesterSettings::for_dir("cnaf", "caf-13", dir.path());
        settings.broker =
            BusSettings { observatories: vec!["carsat-sud-est".into(), "cnav-idf".into()], ..BusSettings::default() };
        let requester = Requester::offline(settings, Arc::new(SystemClock)).unwrap();
        let account = passerelle_local_api::own_account().unwrap().expect("the test's uid has an account name");
        let registry = RegistryHandle::fixed(agent(&account, roles, Some("caf-13")));
        let socket = dir.path().join("run").join("requester.sock");
        let server = ApiServer::start(
            &socket,
            passerelle_requester::api::routes(requester),
            registry.clone(),
            Arc::new(KeptAccesses::default()),
        )
        .unwrap();
        let sessions = Sessions::new(Duration::from_secs(600));
        let console =
            Console {
                daemon: "Organisme cnaf — caf-13 (demandeur)".into(), nav: super::nav(), pages: super::pages()
            };
        let app = passerelle_console::app(console, server.router(), registry.clone(), sessions.clone(), false);
        let uid = std::fs::metadata(dir.path()).unwrap().uid();
        let ticket = sessions.open(Holder { account, uid });
        let opened = sessions.redeem(&ticket).unwrap();
        Stack { _dir: dir, registry, server, app, cookie: opened.cookie, csrf: opened.found.csrf }
    }

    fn as_roles(&self, roles: &[Role], office: Option<&str>) {
        let account = passerelle_local_api::own_account().unwrap().unwrap();
        self.registry.replace(agent(&account, roles, office));
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        content_type: Option<String>,
        body: Vec<u8>,
    ) -> (StatusCode, String) {
        let mut request =
            Request::builder().method(method).uri(path).header(header::COOKIE, format!("{COOKIE}={}", self.cookie));
        if let Some(t) = content_type {
            request = request.header(header::CONTENT_TYPE, t);
        }
        let response = self.app.clone().oneshot(request.body(Body::from(body)).unwrap()).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 24).await.unwrap();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        self.call("GET", path, None, Vec::new()).await
    }

    async fn form(&self, path: &str, body: &str) -> (StatusCode, String) {
        self.call("POST", path, Some("application/x-www-form-urlencoded".into()), body.as_bytes().to_vec()).await
    }

    async fn multipart(&self, parts: &[(&str, Option<&str>, &str)]) -> (StatusCode, String) {
        let mut body = String::new();
        for (name, file, value) in parts {
            body.push_str(&format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\""));
            if let Some(file) = file {
                body.push_str(&format!("; filename=\"{file}\"\r\nContent-Type: text/csv"));
            }
            body.push_str(&format!("\r\n\r\n{value}\r\n"));
        }
        body.push_str(&format!("--{BOUNDARY}--\r\n"));
        let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
        self.call("POST", "/submit", Some(content_type), body.into_bytes()).await
    }
}

const SELECTION: &str = "nir,family_name,given_names,sex,birth_year,commune_code,postal_address,email,phone\n";

#[tokio::test]
async fn a_prevention_agent_submits_through_the_form_and_follows_its_cases() {
    let s = Stack::start(&[Role::PreventionAgent]);
    let (status, form) = s.get("/submit").await;
    assert_eq!(status, StatusCode::OK, "{form}");
    assert!(form.contains(&format!(r#"name="csrf" value="{}""#, s.csrf)), "{form}");

    // Without the token, or with the file before it: refused before anything is read.
    let file = ("selection", Some("sélection.csv"), SELECTION);
    let (status, _) =
        s.multipart(&[file, ("want", None, "family_situation"), ("service", None, "prevention-workshop")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = s.multipart(&[file, ("csrf", None, &s.csrf)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = s.form("/submit", &format!("csrf={}", s.csrf)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a form that is not multipart carries no token the handler reads");
    let (status, page) = s.multipart(&[("csrf", None, &s.csrf), file, ("service", None, "prevention-workshop")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(page.contains("au moins une catégorie"), "{page}");

    // The service: a code of the closed list, chosen in a list of French labels.
    assert!(
        form.contains(r#"<select id="service" name="service" required>"#)
            && form.contains(r#"<option value="home-adaptation">Aide à l&#39;adaptation du logement</option>"#),
        "{form}"
    );
    assert!(!form.contains(r#"name="year""#), "a submission counts ages on its own day: {form}");
    for (service, purpose, said) in [
        ("Atelier", "", "pas un service de la liste"),
        ("", "", "Choisissez le service"),
        ("other", " ", "Autre service"),
    ] {
        let parts = [
            ("csrf", None, s.csrf.as_str()),
            file,
            ("want", None, "css"),
            ("service", None, service),
            ("purpose", None, purpose),
        ];
        let (status, page) = s.multipart(&parts).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{service}: {page}");
        assert!(page.contains(said), "{service}: {page}");
    }

    // A header without a record: the API's answer shown, nothing stored.
    let (status, page) = s
        .multipart(&[
            ("csrf", None, &s.csrf),
            file,
            ("encoding", None, "utf-8"),
            ("want", None, "family_situation"),
            ("want", None, "css"),
            ("service", None, "prevention-workshop"),
            ("purpose", None, "Atelier <prévention>"),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Envoi refusé") && page.contains("Rien n&#39;a été envoyé"), "{page}");
    let (status, page) = s.get("/cases").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Aucun envoi"), "{page}");

    // A good selection: stored, then not sent (no broker here): the API's failure said, and
    // the case followed on its pages.
    let nir = passerelle_test_support::nir_with_key("1500375001001");
    let good = format!(
        "{SELECTION}{nir},Zorglub0000,Ambrosine0000,M,1950,13055,\"1 rue Imaginaire\",c@exemple.invalid,0699000000\n"
    );
    let parts = [
        ("csrf", None, s.csrf.as_str()),
        ("selection", Some("s.csv"), good.as_str()),
        ("want", None, "family_situation"),
        ("service", None, "health-check"),
    ];
    let (status, page) = s.multipart(&parts).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{page}");
    let (status, page) = s.get("/cases").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("préparé (envoi en cours)") && page.contains("carsat-sud-est"), "{page}");
    assert!(!page.contains("Zorglub") && !page.contains(&nir), "{page}");
    let href = page.split(r#"<a href="/cases/"#).nth(1).and_then(|rest| rest.split('"').next()).unwrap();
    let (status, page) = s.get(&format!("/cases/{href}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("pas répondu") && !page.contains("/files/"), "{page}");
    s.as_roles(&[Role::Operator], None);
    let (status, page) = s.get("/status").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(!page.contains("Zorglub") && !page.contains(&nir) && !page.contains("Atelier"), "{page}");
    s.as_roles(&[Role::PreventionAgent], Some("caf-13"));

    // Unknown or malformed cases; a file that is no result file.
    for path in ["/cases/00000000-0000-7000-8000-000000000001", "/cases/nope"] {
        assert_eq!(s.get(path).await.0, StatusCode::NOT_FOUND, "{path}");
    }
    let token = format!("csrf={}", s.csrf);
    assert_eq!(s.form("/cases/nope/files/csv", &token).await.0, StatusCode::NOT_FOUND);
    assert_eq!(s.form("/cases/00000000-0000-7000-8000-000000000001/files/xlsx", &token).await.0, StatusCode::NOT_FOUND);
    // A result file is written by the API (an export): never on a GET, never without the token.
    let file = "/cases/00000000-0000-7000-8000-000000000001/files/csv";
    assert_eq!(s.get(file).await.0, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(s.form(file, "").await.0, StatusCode::FORBIDDEN);

    // Not the operator's pages, nor the purge.
    assert_eq!(s.get("/status").await.0, StatusCode::FORBIDDEN);
    assert_eq!(s.get("/purge").await.0, StatusCode::FORBIDDEN);
    s.server.stop().await;
}

#[tokio::test]
async fn the_operator_sees_counts_and_the_administrator_purges_after_confirming() {
    let s = Stack::start(&[Role::Operator]);
    let (status, page) = s.get("/status").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Dossiers par état") && page.contains("caf-13"), "{page}");
    assert!(!page.contains(r#"href="/purge""#), "{page}");
    for path in ["/cases", "/submit", "/purge"] {
        assert_eq!(s.get(path).await.0, StatusCode::FORBIDDEN, "{path}");
    }

    s.as_roles(&[Role::RequesterAdmin], None);
    let (status, page) = s.get("/purge").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains(r#"action="/purge""#) && page.contains(&s.csrf), "{page}");
    assert_eq!(s.form("/purge", "").await.0, StatusCode::FORBIDDEN);
    let (status, page) = s.form("/purge", &format!("csrf={}", s.csrf)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Purge faite") && page.contains("Rien n&#39;était échu"), "{page}");
    s.server.stop().await;
}
