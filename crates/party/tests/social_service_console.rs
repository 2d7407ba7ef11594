//! The social service's console pages served in-process over the service's real local API (a
//! store in a temporary folder, a fake requester serving the worklist, no broker): each page of the menu renders for the
//! roles that see it, the forms change the file through the API and come back to it, a grant is
//! proposed and co-signed, the archive opens only for a purpose, the operator's page names no
//! person, and every route refuses without a session (401) and every form without its token
//! (403).

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use passerelle_agents::{Agent, Registry, Role};
use passerelle_console::sessions::Holder;
use passerelle_console::{app, Console, Sessions};
use passerelle_local_api::{ApiError, ApiServer, Caller, KeptAccesses, RegistryHandle};
use passerelle_party::console::social_service;
use passerelle_social_file::v1::{SocialFile, SocialIdentity};
use passerelle_social_service::requester_client::{
    AcceptedPerson, Outcome, OutcomeAnswer, OutcomeRequest, Worklist, WorklistEntry, OUTCOME_FORMAT, WORKLIST_FORMAT,
};
use passerelle_social_service::store::NewFile;
use passerelle_social_service::{SocialService, SocialServiceSettings};
use tower::ServiceExt;

const FILE: &str = "0190a3b4-0000-7000-8000-0000000000f1";
const NAME: &str = "Synthetica";
const CASE: &str = "0190a3b4-0000-7000-8000-000000000001";
const ACCEPTING: &str = "Acceptanta";

/// A requester serving one synthetic person on the worklist, who accepts.
fn fake_requester() -> Router {
    Router::new()
        .route(
            "/v1/worklist",
            get(|caller: Caller| async move {
                caller.require_in_office(Role::SocialService, "cpam-13")?;
                let entry = WorklistEntry {
                    case: CASE.parse().unwrap(),
                    line: 1,
                    rank: 1,
                    persons: 1,
                    score: 9.0,
                    family_name: ACCEPTING.into(),
                    usage_name: None,
                    given_names: "Alix".into(),
                    birth_year: Some(1950),
                    phone: Some("04 91 00 00 00".into()),
                    email: None,
                    postal_address: None,
                    outcome: None,
                    nir: None,
                    opposed: false,
                };
                let list = Worklist {
                    format: WORKLIST_FORMAT.into(),
                    office: "cpam-13".into(),
                    entries: vec![entry],
                    next: None,
                };
                Ok::<_, ApiError>(Json(list))
            }),
        )
        .route(
            "/v1/worklist/outcome",
            post(|caller: Caller, Json(request): Json<OutcomeRequest>| async move {
                caller.require_in_office(Role::SocialService, "cpam-13")?;
                let person = (request.outcome == Outcome::Accepted).then(|| AcceptedPerson {
                    nir: passerelle_protocol::nir::with_key("1840575123456").unwrap().as_str().to_owned(),
                    former_nirs: vec![],
                    family_name: ACCEPTING.into(),
                    usage_name: None,
                    given_names: "Alix".into(),
                    sex: Some("female".into()),
                    birth_year: Some(1950),
                    commune_code: None,
                    postal_address: None,
                    email: None,
                    phone: None,
                    values: Default::default(),
                });
                Ok::<_, ApiError>(Json(OutcomeAnswer {
                    format: OUTCOME_FORMAT.into(),
                    office: "cpam-13".into(),
                    case: request.case,
                    line: request.line,
                    outcome: request.outcome,
                    date: request.date.unwrap_or_default(),
                    agent: caller.relayed_agent()?.unwrap_or("none").to_owned(),
                    person,
                }))
            }),
        )
}

fn registry(roles: &[Role]) -> Registry {
    agent("agent-1", roles, "ss-13")
}

fn agent(id: &str, roles: &[Role], office: &str) -> Registry {
    let account = passerelle_local_api::own_account().unwrap().expect("the test's uid has an account name");
    Registry::from_agents([Agent {
        account,
        id: id.into(),
        name: "Agent Test".into(),
        roles: roles.iter().copied().collect::<BTreeSet<_>>(),
        office: Some(office.into()),
    }])
}

struct Stack {
    _dir: tempfile::TempDir,
    _servers: (ApiServer, ApiServer),
    registry: RegistryHandle,
    app: Router,
    cookie: String,
    csrf: String,
}

impl Stack {
    async fn start() -> Stack {
        let dir = tempfile::tempdir().unwrap();
        let requester_socket = dir.path().join("run").join("requester.sock");
        let requester = ApiServer::start(
            &requester_socket,
            fake_requester(),
            RegistryHandle::fixed(agent("svc-social", &[Role::SocialService], "cpam-13")),
            Arc::new(KeptAccesses::default()),
        )
        .unwrap();
        let settings =
            SocialServiceSettings::for_dir("carsat-sud-est", "ss-13", dir.path(), &requester_socket, "cpam-13");
        let service = SocialService::build(settings, Arc::new(passerelle_protocol::rules::SystemClock)).unwrap();
        let file = SocialFile {
            identity: Some(SocialIdentity {
                family_name: Some(NAME.into()),
                given_names: Some("Alix".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let new = NewFile {
            id: FILE,
            office: "ss-13",
            at: std::time::SystemTime::now(),
            agent: "agent-1",
            file: &file,
            source_case: None,
            source_line: None,
            person: [7; 32],
        };
        assert!(service.store().insert_file(&new).unwrap());
        let registry = RegistryHandle::fixed(registry(&[Role::SocialWorker]));
        let server = ApiServer::start(
            &dir.path().join("run").join("social-service.sock"),
            passerelle_social_service::api::routes(service),
            registry.clone(),
            Arc::new(KeptAccesses::default()),
        )
        .unwrap();
        let sessions = Sessions::new(Duration::from_secs(600));
        let account = passerelle_local_api::own_account().unwrap().unwrap();
        let uid = std::fs::metadata(dir.path()).unwrap().uid();
        let ticket = sessions.open(Holder { account, uid });
        let opened = sessions.redeem(&ticket).unwrap();
        let console = Console {
            daemon: "Service social test".into(),
            nav: social_service::nav(),
            pages: social_service::pages(),
        };
        let app = app(console, server.router(), registry.clone(), sessions, false);
        Stack {
            _dir: dir,
            _servers: (requester, server),
            registry,
            app,
            cookie: opened.cookie,
            csrf: opened.found.csrf,
        }
    }

    fn be(&self, roles: &[Role]) {
        self.registry.replace(registry(roles));
    }

    async fn send(&self, request: Request<Body>) -> (StatusCode, String, Option<String>) {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let location = response.headers().get(header::LOCATION).map(|l| l.to_str().unwrap().to_owned());
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, String::from_utf8(bytes.to_vec()).unwrap(), location)
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        let request = Request::get(path)
            .header(header::COOKIE, format!("{}={}", passerelle_console::COOKIE, self.cookie))
            .body(Body::empty())
            .unwrap();
        let (status, body, _) = self.send(request).await;
        (status, body)
    }

    /// Posts `form` (urlencoded, the token added) and answers the status and the redirect.
    async fn post(&self, path: &str, form: &[(&str, &str)]) -> (StatusCode, Option<String>, String) {
        let mut pairs: Vec<(&str, &str)> = vec![("csrf", self.csrf.as_str())];
        pairs.extend_from_slice(form);
        let body: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
        let request = Request::post(path)
            .header(header::COOKIE, format!("{}={}", passerelle_console::COOKIE, self.cookie))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        let (status, body, location) = self.send(request).await;
        (status, location, body)
    }

    /// The page renders (200) for the agent's roles.
    async fn renders(&self, path: &str) -> String {
        let (status, body) = self.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert!(body.contains("<main"), "{path} is a page");
        body
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_social_worker_reads_and_changes_a_file_through_the_pages() {
    let s = Stack::start().await;
    let worklist = s.renders("/worklist").await;
    assert!(worklist.contains(ACCEPTING) && worklist.contains(r#"action="/worklist/outcome""#), "{worklist}");
    let (status, location, body) =
        s.post("/worklist/outcome", &[("case", CASE), ("line", "1"), ("outcome", "accepted"), ("date", "")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let opened = location.expect("to the file opened");
    assert!(opened.starts_with("/files/") && opened != format!("/files/{FILE}"), "{opened}");
    let page = s.renders(&opened).await;
    assert!(page.contains(ACCEPTING), "the accepted person's file: {page}");
    let files = s.renders("/files").await;
    assert!(files.contains(NAME) && files.contains(&format!("/files/{FILE}")), "{files}");
    s.renders("/files?view=closed").await;
    s.renders("/files?view=idle").await;
    s.renders("/files?view=due").await;
    s.renders("/transfers").await;
    let page = s.renders(&format!("/files/{FILE}")).await;
    assert!(page.contains(NAME) && page.contains("Nom de famille"), "{page}");

    let (status, location, body) =
        s.post(&format!("/files/{FILE}/contacts"), &[("channel", "visit"), ("date", "")]).await;
    assert_eq!((status, location.as_deref()), (StatusCode::SEE_OTHER, Some(&*format!("/files/{FILE}"))), "{body}");
    let (status, _, body) =
        s.post(&format!("/files/{FILE}/update"), &[("field", "care.gir_level"), ("value", "4")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let (status, _, body) = s
        .post(
            &format!("/files/{FILE}/update"),
            &[("field", "risk.risks"), ("value", "illness"), ("value", "maternity")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let (status, _, body) =
        s.post(&format!("/files/{FILE}/offers"), &[("kind", "individual"), ("theme", "falls_prevention")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let page = s.renders(&format!("/files/{FILE}")).await;
    assert!(page.contains("Niveau GIR") && page.contains("Risque concerné"), "{page}");
    assert!(page.contains(r#"value="maternity" checked"#), "{page}");

    let (status, _, body) =
        s.post(&format!("/files/{FILE}/update"), &[("field", "care.gir_level"), ("value", "9")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the API's refusal as a page: {body}");
    assert!(body.contains("gir_level"), "{body}");

    let (status, _, _) = s.post(&format!("/files/{FILE}/close"), &[("date", "")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let closed = s.renders("/files?view=closed").await;
    assert!(closed.contains(FILE), "{closed}");

    s.be(&[Role::StatisticsAgent]);
    let (status, _) = s.get(&format!("/files/{FILE}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the API decides");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_archive_statistics_and_status_render_for_their_roles() {
    let s = Stack::start().await;
    s.be(&[Role::DirectorDelegate]);
    s.renders("/grants").await;
    let (status, location, body) = s.post("/grants", &[("reader", "agent-9"), ("until", ""), ("as", "")]).await;
    assert_eq!((status, location.as_deref()), (StatusCode::SEE_OTHER, Some("/grants")), "{body}");
    let page = s.renders("/grants").await;
    assert!(page.contains("agent-9") && page.contains("attend la signature du médecin-conseil"), "{page}");
    let grant = page.split("/grants/").nth(1).and_then(|rest| rest.split('/').next()).unwrap().to_owned();

    s.be(&[Role::MedicalOfficer]);
    let page = s.renders("/grants").await;
    assert!(page.contains(&format!("/grants/{grant}/sign")), "awaiting the medical officer: {page}");
    s.renders("/transfers").await;
    // The same agent signed first: the co-signature rule refuses it, said on the page.
    let (status, _, body) = s.post(&format!("/grants/{grant}/sign"), &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    s.be(&[Role::ArchiveReader]);
    let page = s.renders("/archive").await;
    assert_eq!(page.matches("<option").count(), 7, "{page}");
    let (status, body) = s.get("/archive?purpose=litigation").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no valid grant: {body}");
    let (status, _) = s.get("/archive?purpose=curiosity").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "not a purpose of the norm");

    s.be(&[Role::StatisticsAgent]);
    let stats = s.renders("/statistics").await;
    assert!(stats.contains("Aucune statistique pour cette période"), "no month counted yet, said: {stats}");

    s.be(&[Role::Operator]);
    let status_page = s.renders("/status").await;
    assert!(status_page.contains("dossiers ouverts"), "{status_page}");
    for personal in [NAME, "Alix", FILE] {
        assert!(!status_page.contains(personal), "{personal} on the operator's page");
    }
    let (status, _) = s.get("/files").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for path in ["/transfers", "/rights", "/archive"] {
        let (status, page) = s.get(path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {page}");
        assert!(page.contains("réservée aux rôles") && !page.contains(NAME), "{path}: {page}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_refuses_without_a_session_and_every_form_without_its_token() {
    let s = Stack::start().await;
    for (method, path) in social_service::ROUTES {
        let request = Request::builder().method(*method).uri(*path).body(Body::empty()).unwrap();
        let (status, _, _) = s.send(request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
        if *method == "POST" {
            let request = Request::post(*path)
                .header(header::COOKIE, format!("{}={}", passerelle_console::COOKIE, s.cookie))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from("reader=x"))
                .unwrap();
            let (status, _, _) = s.send(request).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path} without its token");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rights_officer_gives_access_rectifies_and_records_an_objection_the_director_decides() {
    let s = Stack::start().await;
    s.be(&[Role::RightsOfficer]);
    s.renders("/rights").await;
    let (status, _, page) = s.post("/rights/access", &[("file", FILE)]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains(NAME) && page.contains("Historique des modifications"), "{page}");
    assert!(page.contains(&format!("/rights/{FILE}/rectify")), "{page}");
    let (status, location, body) =
        s.post(&format!("/rights/{FILE}/rectify"), &[("field", "identity.given_names"), ("value", "Alice")]).await;
    assert_eq!((status, location.as_deref()), (StatusCode::SEE_OTHER, Some("/rights?done=rectify")), "{body}");
    let (_, _, page) = s.post("/rights/access", &[("file", FILE)]).await;
    assert!(page.contains("Alice") && page.contains("rectification"), "{page}");
    let (status, _, body) = s.post(&format!("/rights/{FILE}/object"), &[("reasons", "Je ne souhaite plus.")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let done = s.renders("/rights?done=object").await;
    assert!(done.contains("attend la décision"), "{done}");

    s.be(&[Role::DirectorDelegate]);
    let page = s.renders("/rights").await;
    assert!(!page.contains("/rights/access"), "the director decides, does not open files: {page}");
    let (status, location, body) =
        s.post("/rights/decide", &[("file", FILE), ("decision", "refused"), ("reason", "Suivi en cours.")]).await;
    assert_eq!((status, location.as_deref()), (StatusCode::SEE_OTHER, Some("/rights?done=refused")), "{body}");
}
