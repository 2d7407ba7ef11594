//! The social-service daemon's local API over real Unix sockets in a temporary folder, with a
//! fake requester daemon (the two worklist routes, canned synthetic persons) served the same
//! way. This process's account is mapped by each test's registry to a social worker, a rights
//! officer, a statistics agent or a worker of another office. No broker: this daemon has none.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::routing::{get, post};
use axum::{Json, Router};
use passerelle_agents::{Agent, Registry, Role};
use passerelle_local_api::{ApiError, ApiServer, Caller, Client, ClientError, KeptAccesses, RegistryHandle};
use passerelle_protocol::nir;
use passerelle_protocol::rules::{Clock, ManualClock};
use passerelle_social_file::v1::Sex;
use passerelle_social_service::api::routes;
use passerelle_social_service::requester_client::*;
use passerelle_social_service::service::views::*;
use passerelle_social_service::store::NewFile;
use passerelle_social_service::{SocialService, SocialServiceSettings};
use serde_json::{json, Value};
use tempfile::TempDir;
use uuid::Uuid;

const OFFICE: &str = "ss-13";
const REQUESTER_OFFICE: &str = "cpam-13";
const CASE: &str = "0190a3b4-0000-7000-8000-000000000001";

fn me() -> String {
    passerelle_local_api::own_account().unwrap().expect("the test's uid has an account name")
}

fn registry(id: &str, roles: &[Role], office: Option<&str>) -> Registry {
    Registry::from_agents([Agent {
        account: me(),
        id: id.into(),
        name: "Agent Test".into(),
        roles: roles.iter().copied().collect::<BTreeSet<_>>(),
        office: office.map(str::to_owned),
    }])
}

/// A synthetic person of the fake contact list: (line, family name, NIR).
fn persons() -> Vec<(u64, &'static str, String)> {
    vec![
        (1, "Acceptanta", nir::with_key("1840575123456").unwrap().as_str().to_owned()),
        (2, "Declinova", nir::with_key("2840575123457").unwrap().as_str().to_owned()),
        (3, "Collectiva", nir::with_key("1840575123458").unwrap().as_str().to_owned()),
    ]
}

/// The decree values the fake requester sends for an accepted person.
fn values() -> BTreeMap<String, String> {
    [("family_situation", "widowed"), ("housing_aid", "true"), ("quarters_contributed", "150"), ("css", "false")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn accepted_person(line: u64) -> AcceptedPerson {
    let (_, name, nir) = persons().into_iter().find(|p| p.0 == line).unwrap();
    AcceptedPerson {
        nir,
        former_nirs: vec![],
        family_name: name.to_owned(),
        usage_name: None,
        given_names: "Alix".into(),
        sex: Some("female".into()),
        birth_year: Some(1950),
        commune_code: Some("13055".into()),
        postal_address: Some("3 rue des Essais\n13001 Marseille".into()),
        email: None,
        phone: Some("04 91 00 00 00".into()),
        values: values(),
    }
}

/// What the fake requester saw: the relayed agent of each call.
type Seen = Arc<Mutex<Vec<String>>>;

fn fake_requester(seen: Seen) -> Router {
    let worklist_seen = seen.clone();
    Router::new()
        .route(
            "/v1/worklist",
            get(move |caller: Caller| {
                let seen = worklist_seen.clone();
                async move {
                    caller.require_in_office(Role::SocialService, REQUESTER_OFFICE)?;
                    seen.lock().unwrap().push(caller.relayed_agent()?.unwrap_or("none").to_owned());
                    let entries: Vec<WorklistEntry> = persons()
                        .into_iter()
                        .map(|(line, name, nir)| WorklistEntry {
                            case: CASE.parse().unwrap(),
                            line,
                            rank: line,
                            persons: 3,
                            score: 10.0 - line as f64,
                            family_name: name.into(),
                            usage_name: None,
                            given_names: "Alix".into(),
                            birth_year: Some(1950),
                            phone: None,
                            email: None,
                            postal_address: None,
                            outcome: None,
                            nir: Some(nir),
                            opposed: false,
                        })
                        .collect();
                    Ok::<_, ApiError>(Json(Worklist {
                        format: WORKLIST_FORMAT.into(),
                        office: REQUESTER_OFFICE.into(),
                        entries,
                        next: None,
                    }))
                }
            }),
        )
        .route(
            "/v1/worklist/outcome",
            post(move |caller: Caller, Json(request): Json<OutcomeRequest>| {
                let seen = seen.clone();
                async move {
                    caller.require_in_office(Role::SocialService, REQUESTER_OFFICE)?;
                    let agent = caller.relayed_agent()?.unwrap_or("none").to_owned();
                    seen.lock().unwrap().push(agent.clone());
                    let person = (request.outcome == Outcome::Accepted).then(|| accepted_person(request.line));
                    let date = request.date.ok_or_else(|| ApiError::bad_request("an outcome is dated"))?;
                    Ok::<_, ApiError>(Json(OutcomeAnswer {
                        format: OUTCOME_FORMAT.into(),
                        office: REQUESTER_OFFICE.into(),
                        case: request.case,
                        line: request.line,
                        outcome: request.outcome,
                        date,
                        agent,
                        person,
                    }))
                }
            }),
        )
}

struct Daemon {
    _dir: TempDir,
    data_dir: PathBuf,
    service: SocialService,
    registry: RegistryHandle,
    client: Client,
    seen: Seen,
    _servers: (ApiServer, ApiServer),
}

/// The tests' clock: 31 December 2026, 23:30 UTC — already 1 January 2027 in Paris, the
/// default legal time zone.
fn new_year_s_eve() -> Arc<dyn Clock> {
    let at = chrono::DateTime::parse_from_rfc3339("2026-12-31T23:30:00Z").unwrap();
    Arc::new(ManualClock::starting_at(at.into()))
}

impl Daemon {
    async fn start() -> Daemon {
        Daemon::attached_to(REQUESTER_OFFICE).await
    }

    /// A daemon whose `[requester] office` is `requester_office` (the fake requester answers
    /// for [`REQUESTER_OFFICE`]).
    async fn attached_to(requester_office: &str) -> Daemon {
        let dir = TempDir::new().unwrap();
        let seen: Seen = Arc::default();
        let requester_socket = dir.path().join("run").join("requester.sock");
        let requester_registry =
            RegistryHandle::fixed(registry("svc-social", &[Role::SocialService], Some(REQUESTER_OFFICE)));
        let requester = ApiServer::start(
            &requester_socket,
            fake_requester(seen.clone()),
            requester_registry,
            Arc::new(KeptAccesses::default()),
        )
        .unwrap();
        let settings =
            SocialServiceSettings::for_dir("carsat-sud-est", OFFICE, dir.path(), &requester_socket, requester_office);
        let data_dir = settings.data_dir.clone();
        let service = SocialService::build(settings, new_year_s_eve()).unwrap();
        let registry = RegistryHandle::fixed(registry("sw-1", &[Role::SocialWorker], Some(OFFICE)));
        let socket = dir.path().join("run").join("social-service.sock");
        let server =
            ApiServer::start(&socket, routes(service.clone()), registry.clone(), Arc::new(KeptAccesses::default()))
                .unwrap();
        let client = Client::new(&socket);
        Daemon { _dir: dir, data_dir, service, registry, client, seen, _servers: (requester, server) }
    }

    fn be(&self, id: &str, roles: &[Role], office: Option<&str>) {
        self.registry.replace(registry(id, roles, office));
    }

    async fn outcome(&self, line: u64, outcome: &str) -> OutcomeView {
        let body = json!({"case": CASE, "line": line, "outcome": outcome, "date": "2026-12-01"});
        self.client.post_json("/v1/worklist/outcome", &body).await.unwrap()
    }

    async fn open(&self, line: u64) -> String {
        self.outcome(line, "accepted").await.file.expect("a file opened")
    }

    async fn show(&self, file: &str) -> Result<FileView, ClientError> {
        self.client.get_json(&format!("/v1/files/{file}")).await
    }
}

fn status(e: &ClientError) -> u16 {
    match e {
        ClientError::Refused { status, .. } => *status,
        other => panic!("not a refusal: {other}"),
    }
}

/// Every byte of the store: the database and its WAL.
fn store_bytes(data_dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for name in ["social-service.db", "social-service.db-wal"] {
        if let Ok(b) = std::fs::read(data_dir.join(name)) {
            bytes.extend(b);
        }
    }
    assert!(!bytes.is_empty());
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn an_accepted_person_has_a_file_with_exactly_the_mapped_values_and_a_second_acceptance_finds_it() {
    let d = Daemon::start().await;
    let opened = d.outcome(1, "accepted").await;
    assert_eq!(opened.format, OFFER_OUTCOME_FORMAT);
    let file = opened.file.clone().unwrap();
    assert!(!opened.existing);
    assert_eq!(opened.left_behind, ["birth_year", "commune_code", "quarters_contributed"]);

    let person = accepted_person(1);
    let identity = passerelle_social_file::DecreeIdentity {
        nir: person.nir.parse().unwrap(),
        former_nirs: vec![],
        family_name: person.family_name.clone(),
        usage_name: None,
        given_names: person.given_names.clone(),
        sex: Sex::Female,
        birth_year: person.birth_year,
        commune_code: person.commune_code.clone(),
        postal_address: person.postal_address.clone(),
        email: None,
        phone: person.phone.clone(),
    };
    let mut values = passerelle_protocol::v1::CategoryValues::default();
    for (code, text) in &person.values {
        let info = passerelle_protocol::catalogue::by_code(code).unwrap();
        values
            .set(info.category, passerelle_protocol::value::parse_category(info.category, text).unwrap().unwrap())
            .unwrap();
    }
    let (expected, _) = passerelle_social_file::open_from_decree(&identity, &values);
    let shown = d.show(&file).await.unwrap();
    assert_eq!(shown.fields, passerelle_social_file::file_json(&expected), "exactly the mapped values");
    assert_eq!(shown.fields["family.situation"], json!("widowed"));
    assert_eq!(shown.fields["health_cover.cover"], json!("none"));
    assert_eq!(shown.source.as_ref().map(|s| s.line), Some(1));

    let again = d.outcome(1, "accepted").await;
    assert_eq!((again.file.as_deref(), again.existing), (Some(file.as_str()), true));
    assert_eq!(d.seen.lock().unwrap().as_slice(), ["sw-1", "sw-1"], "the worker's id relayed to the requester");

    let log = d.service.accesses().log();
    let nir = person.nir.parse().unwrap();
    let kinds: Vec<String> =
        log.find_person(&d.service.accesses().person(&nir)).unwrap().iter().map(|e| e.kind.to_string()).collect();
    assert_eq!(kinds, ["create", "read", "read"], "created, shown, found again — each about the person");
}

#[tokio::test]
async fn a_declined_person_never_enters_the_store() {
    let d = Daemon::start().await;
    let page: Worklist = d.client.get_json("/v1/worklist?limit=10").await.unwrap();
    assert_eq!(page.entries.len(), 3);
    assert_eq!(page.entries[1].family_name, "Declinova");
    let declined = d.outcome(2, "declined").await;
    assert_eq!((declined.file, declined.left_behind.len()), (None, 0));
    let no_reply = d.outcome(2, "no_reply").await;
    assert_eq!(no_reply.outcome, Outcome::NoReply);
    d.open(1).await;
    let list: FileList = d.client.get_json("/v1/files").await.unwrap();
    assert_eq!(list.files.len(), 1);

    let (_, name, nir) = &persons()[1];
    let bytes = store_bytes(&d.data_dir);
    assert!(!contains(&bytes, name), "the declined person's name is nowhere in the store or its WAL");
    assert!(!contains(&bytes, nir), "nor the NIR");
    assert!(contains(&bytes, "Acceptanta"), "the scan sees an accepted person (the file is encoded, not ciphered)");

    let log = d.service.accesses().log();
    let entries: Vec<(String, String, String)> = log
        .years()
        .unwrap()
        .into_iter()
        .flat_map(|y| log.entries(y, 0, 100).unwrap())
        .map(|e| (e.agent, e.kind.to_string(), e.object))
        .collect();
    let worklist_read = ("agent:sw-1".to_owned(), "read".to_owned(), CASE.to_owned());
    assert_eq!(entries[0], worklist_read, "the worklist read is recorded per case, by the worker");
    let declined = ("agent:sw-1".to_owned(), "update".to_owned(), CASE.to_owned());
    assert_eq!(entries[1], declined, "the outcome recorded at the requester: an update of the case, no person");
}

#[tokio::test]
async fn an_unknown_field_is_refused_by_name_and_the_history_keeps_no_value() {
    let d = Daemon::start().await;
    let file = d.open(1).await;
    let bad = json!({"updates": [{"field": "identity.religion", "value": "none"}]});
    let e = d.client.post_json::<_, Changed>(&format!("/v1/files/{file}/update"), &bad).await.unwrap_err();
    assert_eq!((status(&e), e.code()), (400, Some("unknown_field")));
    assert!(e.to_string().contains("`identity.religion`"), "{e}");
    let wrong = json!({"updates": [{"field": "care.gir_level", "value": "four"}]});
    let e = d.client.post_json::<_, Changed>(&format!("/v1/files/{file}/update"), &wrong).await.unwrap_err();
    assert_eq!(e.code(), Some("invalid_value"));

    let good = json!({"updates": [
        {"field": "care.gir_level", "value": 4},
        {"field": "social_situation.assessment", "value": "Isolement marqué depuis l'hiver."}
    ]});
    let changed: Changed = d.client.post_json(&format!("/v1/files/{file}/update"), &good).await.unwrap();
    assert_eq!(changed.items, ["care.gir_level", "social_situation.assessment"]);
    let shown = d.show(&file).await.unwrap();
    assert_eq!(shown.fields["care.gir_level"], json!(4));

    d.be("ro-1", &[Role::RightsOfficer], None);
    let rectify = json!({"updates": [{"field": "care.gir_level", "value": 3}]});
    let r: Changed = d.client.post_json(&format!("/v1/files/{file}/rights/rectify"), &rectify).await.unwrap();
    assert_eq!(r.what, "rectification");
    let access: AccessAnswer =
        d.client.post_json(&format!("/v1/files/{file}/rights/access"), &json!({})).await.unwrap();
    let history: Vec<(&str, &str, &str)> =
        access.history.iter().map(|h| (h.field.as_str(), h.kind.as_str(), h.agent.as_str())).collect();
    assert_eq!(
        history,
        [
            ("care.gir_level", "update", "sw-1"),
            ("social_situation.assessment", "update", "sw-1"),
            ("care.gir_level", "rectification", "ro-1")
        ]
    );
    let history_json = serde_json::to_string(&access.history).unwrap();
    assert!(!history_json.contains("Isolement"), "{history_json}");
    assert!(!history_json.contains("\"value\""), "{history_json}");
    assert_eq!(access.fields["care.gir_level"], json!(3), "the rectified value replaced the old one");
}

#[tokio::test]
async fn a_collective_offer_has_sessions_and_participants_of_the_office() {
    let d = Daemon::start().await;
    let (a, b) = (d.open(1).await, d.open(3).await);
    let offer = json!({
        "kind": "collective", "theme": "falls_prevention", "participants": [a, b],
        "sessions": [{"date": "2026-12-10", "attendees": [a]}, {"date": "2026-12-17", "attendees": [a, b]}]
    });
    let made: Changed = d.client.post_json("/v1/offers", &offer).await.unwrap();
    assert_eq!(made.what, "offer");
    let shown = d.show(&b).await.unwrap();
    assert_eq!(shown.offers.len(), 1);
    let o = &shown.offers[0];
    assert_eq!((o.kind.as_str(), o.theme.as_str()), ("collective", "falls_prevention"));
    assert_eq!(o.participants, [a.clone(), b.clone()]);
    let dates: Vec<_> = o.sessions.iter().map(|s| s.date.clone().unwrap()).collect();
    assert_eq!(dates, ["2026-12-10", "2026-12-17"]);
    assert_eq!(o.sessions[1].attendees, [a.clone(), b.clone()]);

    let no_session = json!({"kind": "collective", "theme": "falls_prevention", "participants": [a]});
    let e = d.client.post_json::<_, Changed>("/v1/offers", &no_session).await.unwrap_err();
    assert!(status(&e) == 400 && e.to_string().contains("sessions"), "{e}");
    let two = json!({"kind": "individual", "theme": "home_help", "participants": [a, b]});
    let e = d.client.post_json::<_, Changed>("/v1/offers", &two).await.unwrap_err();
    assert!(e.to_string().contains("exactly one file"), "{e}");
    let stranger = json!({"kind": "individual", "theme": "home_help", "participants": [Uuid::now_v7().to_string()]});
    let e = d.client.post_json::<_, Changed>("/v1/offers", &stranger).await.unwrap_err();
    assert_eq!(status(&e), 404);
}

#[tokio::test]
async fn actions_contacts_and_close() {
    let d = Daemon::start().await;
    let file = d.open(1).await;
    let c: Changed = d
        .client
        .post_json(&format!("/v1/files/{file}/contacts"), &json!({"channel": "visit", "date": "2026-12-02"}))
        .await
        .unwrap();
    assert_eq!(c.what, "contact");
    let e = d
        .client
        .post_json::<_, Changed>(&format!("/v1/files/{file}/contacts"), &json!({"channel": "pigeon"}))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("teleservice"), "the channels listed: {e}");
    let e = d.client.post_json::<_, Changed>(&format!("/v1/files/{file}/actions"), &json!({})).await.unwrap_err();
    assert!(e.to_string().contains("open action already"), "{e}");
    let _: Changed =
        d.client.post_json(&format!("/v1/files/{file}/close"), &json!({"date": "2026-12-20"})).await.unwrap();
    let shown = d.show(&file).await.unwrap();
    assert_eq!(shown.state, passerelle_social_service::store::FileState::Closed);
    let action = &shown.actions[0];
    assert_eq!((action.start.as_deref(), action.end.as_deref()), (Some("2026-12-02"), Some("2026-12-20")));
    assert_eq!(action.contacts[0].channel, "visit");
    assert_eq!(action.contacts[0].agent, "sw-1");
    let closed: FileList = d.client.get_json("/v1/files?state=closed").await.unwrap();
    let open: FileList = d.client.get_json("/v1/files?state=open").await.unwrap();
    assert_eq!((closed.files.len(), open.files.len()), (1, 0));
    assert_eq!(d.service.store().counts().unwrap(), (0, 1));
}

#[tokio::test]
async fn office_b_sees_nothing_of_office_a_and_a_statistics_agent_sees_no_file() {
    let d = Daemon::start().await;
    let file = d.open(1).await;
    // A file of another office in the same store: never listed or shown here.
    let other = Uuid::now_v7().to_string();
    let empty = passerelle_social_file::v1::SocialFile::default();
    let new = NewFile {
        id: &other,
        office: "ss-84",
        at: std::time::SystemTime::now(),
        agent: "sw-9",
        file: &empty,
        source_case: None,
        source_line: None,
        person: [7; 32],
    };
    assert!(d.service.store().insert_file(&new).unwrap());
    let list: FileList = d.client.get_json("/v1/files").await.unwrap();
    let listed: Vec<&str> = list.files.iter().map(|f| f.file.as_str()).collect();
    assert_eq!(listed, [file.as_str()]);
    assert_eq!(status(&d.show(&other).await.unwrap_err()), 404);

    d.be("sw-84", &[Role::SocialWorker], Some("ss-84"));
    assert_eq!(status(&d.show(&file).await.unwrap_err()), 403);
    assert_eq!(status(&d.client.get_json::<FileList>("/v1/files").await.unwrap_err()), 403);
    assert_eq!(status(&d.client.get_json::<Worklist>("/v1/worklist").await.unwrap_err()), 403);

    d.be("stat-1", &[Role::StatisticsAgent], Some(OFFICE));
    assert_eq!(status(&d.show(&file).await.unwrap_err()), 403);
    assert_eq!(status(&d.client.get_json::<FileList>("/v1/files").await.unwrap_err()), 403);
    let e = d.client.post_json::<_, AccessAnswer>(&format!("/v1/files/{file}/rights/access"), &json!({})).await;
    assert_eq!(status(&e.unwrap_err()), 403);

    d.be("ro-1", &[Role::RightsOfficer], None);
    assert_eq!(status(&d.show(&file).await.unwrap_err()), 403, "a rights officer does not browse files");
}

#[tokio::test]
async fn a_rights_access_gives_everything_held_and_objections_are_recorded_pending() {
    let d = Daemon::start().await;
    let file = d.open(1).await;
    let _: Changed =
        d.client.post_json(&format!("/v1/files/{file}/contacts"), &json!({"channel": "phone"})).await.unwrap();
    d.be("ro-1", &[Role::RightsOfficer], None);
    let reason = json!({"reasons": "Je ne souhaite plus être suivie par le service."});
    let o: RightView = d.client.post_json(&format!("/v1/files/{file}/rights/object"), &reason).await.unwrap();
    assert_eq!(o.decision.as_deref(), Some("pending"));
    let nir_reason = json!({"reasons": format!("mon numéro {}", persons()[0].2)});
    let e = d.client.post_json::<_, RightView>(&format!("/v1/files/{file}/rights/object"), &nir_reason).await;
    assert!(!e.unwrap_err().to_string().contains(&persons()[0].2), "the refusal does not repeat the NIR");
    let _: RightView =
        d.client.post_json(&format!("/v1/files/{file}/rights/refuse-archive"), &json!({})).await.unwrap();

    let access: AccessAnswer =
        d.client.post_json(&format!("/v1/files/{file}/rights/access"), &json!({})).await.unwrap();
    assert_eq!(access.format, RIGHTS_ACCESS_FORMAT);
    assert_eq!(access.fields["identity.nir"], json!(persons()[0].2));
    assert_eq!(access.fields["identity.family_name"], json!("Acceptanta"));
    assert_eq!(access.actions.len(), 1);
    assert_eq!(access.actions[0].contacts[0].channel, "phone");
    let kinds: Vec<Value> = access.rights.iter().map(|r| serde_json::to_value(r.kind).unwrap()).collect();
    assert_eq!(kinds, [json!("object"), json!("refuse_archive"), json!("access")]);
    assert!(access.rights[0].reasons.as_deref().unwrap().contains("plus être suivie"));
    let page = passerelle_social_service::printable::access_page(&access);
    assert!(page.contains("Acceptanta") && page.contains("Opposition (art. 38)"));
}

#[tokio::test]
async fn a_rectified_nir_finds_the_file_by_the_new_number_and_never_two_files_share_one() {
    let d = Daemon::start().await;
    let (first, third) = (d.open(1).await, d.open(3).await);
    d.be("ro-1", &[Role::RightsOfficer], None);
    let to_third = json!({"updates": [{"field": "identity.nir", "value": persons()[2].2}]});
    let e =
        d.client.post_json::<_, Changed>(&format!("/v1/files/{first}/rights/rectify"), &to_third).await.unwrap_err();
    assert!(e.to_string().contains("another case file holds this NIR"), "{e}");
    assert!(!e.to_string().contains(&persons()[2].2), "the refusal does not repeat the NIR");
    let fresh = nir::with_key("1840575123459").unwrap().as_str().to_owned();
    let rectify = json!({"updates": [{"field": "identity.nir", "value": fresh}]});
    let _: Changed = d.client.post_json(&format!("/v1/files/{first}/rights/rectify"), &rectify).await.unwrap();
    d.be("sw-1", &[Role::SocialWorker], Some(OFFICE));
    let again = d.outcome(1, "accepted").await;
    assert!(!again.existing, "the old number no longer finds the rectified file");
    assert_ne!(again.file.as_deref(), Some(first.as_str()));
    assert_ne!(again.file.as_deref(), Some(third.as_str()));
}

#[tokio::test]
async fn a_worker_s_update_and_a_rectification_at_the_same_time_both_survive() {
    let d = Daemon::start().await;
    let file = d.open(1).await;
    let update = |field: &str, value: Value| vec![FieldUpdate { field: field.into(), value }];
    for round in 0..40u32 {
        let gir = json!(1 + round % 6);
        let assessment = json!(format!("Bilan numéro {round}."));
        let start = std::sync::Barrier::new(2);
        std::thread::scope(|s| {
            s.spawn(|| {
                start.wait();
                d.service.update("sw-1", &file, &update("care.gir_level", gir.clone())).unwrap();
            });
            s.spawn(|| {
                start.wait();
                let u = update("social_situation.assessment", assessment.clone());
                d.service.rights_rectify("ro-1", &file, &u).unwrap();
            });
        });
        let row = d.service.store().file(&file).unwrap().unwrap();
        let fields = passerelle_social_file::file_json(&row.file);
        assert_eq!(fields["care.gir_level"], gir, "round {round}: the update survives the rectification");
        assert_eq!(fields["social_situation.assessment"], assessment, "round {round}: and the rectification it");
    }
    assert_eq!(d.service.store().history(&file).unwrap().len(), 80, "a history row per change");
}

#[tokio::test]
async fn dates_are_days_of_the_legal_time_zone_and_none_is_in_the_future() {
    let d = Daemon::start().await;
    let undated = json!({"case": CASE, "line": 1, "outcome": "accepted"});
    let opened: OutcomeView = d.client.post_json("/v1/worklist/outcome", &undated).await.unwrap();
    assert_eq!(opened.date, "2027-01-01", "the daemon dates the outcome today in Paris, not in UTC");
    let file = opened.file.unwrap();
    let _: Changed =
        d.client.post_json(&format!("/v1/files/{file}/contacts"), &json!({"channel": "phone"})).await.unwrap();
    let shown = d.show(&file).await.unwrap();
    assert_eq!(shown.actions[0].start.as_deref(), Some("2027-01-01"));
    assert_eq!(shown.actions[0].contacts[0].date.as_deref(), Some("2027-01-01"));

    let seen = d.seen.lock().unwrap().len();
    let tomorrow = json!({"case": CASE, "line": 2, "outcome": "declined", "date": "2027-01-02"});
    let e = d.client.post_json::<_, OutcomeView>("/v1/worklist/outcome", &tomorrow).await.unwrap_err();
    assert!(status(&e) == 400 && e.to_string().contains("outcome's date is after today (2027-01-01"), "{e}");
    assert_eq!(d.seen.lock().unwrap().len(), seen, "a refused date never reaches the requester");
    let future = json!({"channel": "visit", "date": "2027-01-02"});
    let e = d.client.post_json::<_, Changed>(&format!("/v1/files/{file}/contacts"), &future).await.unwrap_err();
    assert!(e.to_string().contains("contact's date is after today"), "{e}");
    let session = json!({"kind": "individual", "theme": "home_help", "participants": [file],
        "sessions": [{"date": "2027-02-01", "attendees": []}]});
    let e = d.client.post_json::<_, Changed>("/v1/offers", &session).await.unwrap_err();
    assert!(e.to_string().contains("session's date is after today"), "{e}");
    let e = d.client.post_json::<_, Changed>(&format!("/v1/files/{file}/close"), &json!({"date": "2027-06-30"})).await;
    assert!(e.unwrap_err().to_string().contains("closing date is after today"));
    let shown = d.show(&file).await.unwrap();
    assert_eq!((shown.actions[0].contacts.len(), shown.actions[0].end.as_deref()), (1, None), "nothing written");
}

#[tokio::test]
async fn a_person_whose_file_another_office_holds_gets_no_file_here_and_that_office_is_not_named() {
    let d = Daemon::start().await;
    let file = d.open(1).await;
    // The same store, the file now held by another office of the service.
    let db = passerelle_sqlite::rusqlite::Connection::open(d.data_dir.join("social-service.db")).unwrap();
    assert_eq!(db.execute("UPDATE files SET office = 'ss-84' WHERE id = ?1", [&file]).unwrap(), 1);
    drop(db);
    let body = json!({"case": CASE, "line": 1, "outcome": "accepted", "date": "2026-12-01"});
    let e = d.client.post_json::<_, OutcomeView>("/v1/worklist/outcome", &body).await.unwrap_err();
    let message = e.to_string();
    assert!(message.contains("the person's file is held by another office of this service"), "{message}");
    assert!(!message.contains("ss-84") && !message.contains(&file), "neither the office nor the file named: {message}");
    let list: FileList = d.client.get_json("/v1/files").await.unwrap();
    assert!(list.files.is_empty(), "no second file opened here");
    assert_eq!(d.service.store().counts().unwrap(), (1, 0));
}

#[tokio::test]
async fn a_rights_access_names_no_other_person_s_file_in_the_offers() {
    let d = Daemon::start().await;
    let (a, b) = (d.open(1).await, d.open(3).await);
    let offer = json!({
        "kind": "collective", "theme": "falls_prevention", "participants": [a, b],
        "sessions": [{"date": "2026-12-10", "attendees": [b]}, {"date": "2026-12-17", "attendees": [a, b]}]
    });
    let _: Changed = d.client.post_json("/v1/offers", &offer).await.unwrap();
    d.be("ro-1", &[Role::RightsOfficer], None);
    let access: AccessAnswer = d.client.post_json(&format!("/v1/files/{a}/rights/access"), &json!({})).await.unwrap();
    let o = &access.offers[0];
    assert_eq!(o.participants, std::slice::from_ref(&a));
    let attendees: Vec<&[String]> = o.sessions.iter().map(|s| s.attendees.as_slice()).collect();
    assert_eq!(attendees, [&[][..], std::slice::from_ref(&a)], "the sessions kept, with the person alone");
    let answer = serde_json::to_string(&access).unwrap();
    assert!(!answer.contains(&b), "the other participant's file is nowhere in the answer");
    assert!(!passerelle_social_service::printable::access_page(&access).contains(&b), "nor on the page");
}

#[tokio::test]
async fn an_answer_of_another_requester_office_is_refused() {
    let d = Daemon::attached_to("cpam-84").await;
    let e = d.client.get_json::<Worklist>("/v1/worklist").await.unwrap_err();
    let message = e.to_string();
    assert!(message.contains("worklist page of office `cpam-13`, not of `cpam-84`"), "{message}");
    assert_eq!(d.seen.lock().unwrap().len(), 1, "the requester was asked");
    assert!(d.service.accesses().log().years().unwrap().is_empty(), "no read of the page recorded");
    let e = d
        .client
        .post_json::<_, OutcomeView>("/v1/worklist/outcome", &json!({"case": CASE, "line": 1, "outcome": "accepted"}))
        .await;
    let message = e.unwrap_err().to_string();
    assert!(message.contains("recorded outcome of office `cpam-13`, not of `cpam-84`"), "{message}");
    assert_eq!(d.service.store().counts().unwrap(), (0, 0), "no file opened from another office's answer");
}

#[tokio::test]
async fn only_a_director_delegate_decides_an_objection_and_an_upheld_one_erases_the_file() {
    use passerelle_social_service::service::opposition::{DecisionView, Held, DECISION_FORMAT};
    let d = Daemon::start().await;
    let file = d.open(1).await;
    let kept = d.open(3).await;
    d.be("ro-1", &[Role::RightsOfficer], None);
    let reason = json!({"reasons": "Ne souhaite plus être suivie."});
    let _: RightView = d.client.post_json(&format!("/v1/files/{file}/rights/object"), &reason).await.unwrap();
    let decide = format!("/v1/files/{file}/rights/decide");
    for (id, roles, office) in [
        ("ro-1", &[Role::RightsOfficer][..], None),
        ("sw-1", &[Role::SocialWorker][..], Some(OFFICE)),
        ("mo-1", &[Role::MedicalOfficer][..], None),
    ] {
        d.be(id, roles, office);
        let e = d.client.post_json::<_, DecisionView>(&decide, &json!({"decision": "upheld"})).await.unwrap_err();
        assert_eq!(status(&e), 403, "{id}");
    }
    d.be("dd-1", &[Role::DirectorDelegate], None);
    let e = d.client.post_json::<_, DecisionView>(&decide, &json!({"decision": "refused"})).await.unwrap_err();
    assert_eq!(status(&e), 400, "a refusal gives its reason");
    let e = d.client.post_json::<_, DecisionView>(&decide, &json!({"decision": "maybe"})).await.unwrap_err();
    assert_eq!(status(&e), 400);
    assert!(d.service.store().file(&file).unwrap().is_some(), "nothing done on a refused request");
    let view: DecisionView = d.client.post_json(&decide, &json!({"decision": "upheld"})).await.unwrap();
    assert_eq!((view.format.as_str(), view.held, view.erased), (DECISION_FORMAT, Held::Live, true));
    assert!(d.service.store().file(&file).unwrap().is_none());
    assert!(d.service.store().file(&kept).unwrap().is_some());
    let bytes = store_bytes(&d.data_dir);
    assert!(!contains(&bytes, &persons()[0].2) && !contains(&bytes, "Acceptanta"), "erased on disk");
    assert!(contains(&bytes, "Collectiva"), "the other file stays");
    // The person accepts a new offer: no file, and the worker is told why.
    d.be("sw-1", &[Role::SocialWorker], Some(OFFICE));
    let body = json!({"case": CASE, "line": 1, "outcome": "accepted", "date": "2026-12-01"});
    let e = d.client.post_json::<_, OutcomeView>("/v1/worklist/outcome", &body).await.unwrap_err();
    assert_eq!(status(&e), 400);
    assert!(e.to_string().contains("objection under art. 38 was upheld"), "{e}");
    assert!(!contains(&store_bytes(&d.data_dir), "Acceptanta"));
}

#[tokio::test]
async fn after_an_upheld_objection_the_worklist_marks_the_person_and_their_outcome_never_reaches_the_requester() {
    let d = Daemon::start().await;
    let file = d.open(1).await;
    d.be("ro-1", &[Role::RightsOfficer], None);
    let reason = json!({"reasons": "Ne souhaite plus être suivie."});
    let _: RightView = d.client.post_json(&format!("/v1/files/{file}/rights/object"), &reason).await.unwrap();
    d.be("dd-1", &[Role::DirectorDelegate], None);
    let _: Value =
        d.client.post_json(&format!("/v1/files/{file}/rights/decide"), &json!({"decision": "upheld"})).await.unwrap();

    // The person's next worklist entry is marked; the others are not; no NIR goes on.
    d.be("sw-1", &[Role::SocialWorker], Some(OFFICE));
    let raw: Value = d.client.get_json("/v1/worklist").await.unwrap();
    let marks: Vec<(u64, bool)> = raw["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["line"].as_u64().unwrap(), e["opposed"].as_bool().unwrap()))
        .collect();
    assert_eq!(marks, [(1, true), (2, false), (3, false)]);
    let text = raw.to_string();
    for (_, _, nir) in persons() {
        assert!(!text.contains(&nir[..13]), "a NIR in the social service's worklist");
    }
    assert!(raw["entries"].as_array().unwrap().iter().all(|e| e.get("nir").is_none()));
    let bytes = store_bytes(&d.data_dir);
    assert!(persons().iter().all(|(_, _, nir)| !contains(&bytes, &nir[..13])), "no NIR stored by the read");

    // An outcome for that line, whatever it is, is refused here: the requester is not called.
    let calls = d.seen.lock().unwrap().len();
    for outcome in ["accepted", "declined", "no_reply"] {
        let body = json!({"case": CASE, "line": 1, "outcome": outcome, "date": "2026-12-01"});
        let e = d.client.post_json::<_, OutcomeView>("/v1/worklist/outcome", &body).await.unwrap_err();
        assert_eq!(status(&e), 400, "{outcome}");
        assert!(e.to_string().contains("objection under art. 38 was upheld"), "{e}");
    }
    assert_eq!(d.seen.lock().unwrap().len(), calls, "the requester recorded no call for the opposed line");
    // Another person's line still goes to the requester; the mark survives a restart (stored).
    assert_eq!(d.outcome(2, "declined").await.outcome, Outcome::Declined);
    assert_eq!(d.seen.lock().unwrap().len(), calls + 1);
    assert!(d.service.store().opposed_line(CASE, 1).unwrap());
    assert!(!d.service.store().opposed_line(CASE, 2).unwrap());
}

#[tokio::test]
async fn an_operator_reads_the_overview_s_counts_and_nothing_of_a_person() {
    let d = Daemon::start().await;
    let file = d.open(1).await;
    let e = d.client.get_json::<Value>("/v1/overview").await.unwrap_err();
    assert_eq!(status(&e), 403, "a social worker has its own pages");
    d.be("op-1", &[Role::Operator], None);
    let overview: passerelle_social_service::service::overview::Overview =
        d.client.get_json("/v1/overview").await.unwrap();
    assert_eq!((overview.files_open, overview.files_closed), (1, 0));
    assert_eq!(overview.pass_every_seconds, 3600);
    assert_eq!(overview.last_pass_at, None, "no pass yet");
    let text = serde_json::to_string(&overview).unwrap();
    for personal in [file.as_str(), "Acceptanta", "Alix", &persons()[0].2, "sw-1"] {
        assert!(!text.contains(personal), "the overview names no person, file or agent: {text}");
    }
    assert_eq!(status(&d.show(&file).await.unwrap_err()), 403, "an operator reads no file");
}
