//! The archive's routes over a real Unix socket in a temporary folder: this process's account
//! is mapped by each step's registry to a director's delegate, a médecin-conseil, an archive
//! reader or a social worker. A file enters the archive through `service.archive().admit(…)`,
//! as the retention pass will put it there. Every attempt to read is asserted in the access log.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use passerelle_access_log::AccessKind;
use passerelle_agents::{Agent, Registry, Role};
use passerelle_local_api::{ApiServer, Client, ClientError, KeptAccesses, RegistryHandle};
use passerelle_protocol::nir;
use passerelle_protocol::rules::{Clock, ManualClock};
use passerelle_social_archive::ArchivedFile;
use passerelle_social_file::v1;
use passerelle_social_service::api::routes;
use passerelle_social_service::service::archive_views::*;
use passerelle_social_service::{SocialService, SocialServiceSettings};
use serde_json::{json, Value};
use tempfile::TempDir;

const OFFICE: &str = "ss-13";
const FILE: &str = "0190a3b4-0000-7000-8000-0000000000a1";
const DAY: Duration = Duration::from_secs(24 * 3600);

fn me() -> String {
    passerelle_local_api::own_account().unwrap().expect("the test's uid has an account name")
}

fn registry(id: &str, roles: &[Role]) -> Registry {
    let office = roles.contains(&Role::SocialWorker).then(|| OFFICE.to_owned());
    Registry::from_agents([Agent {
        account: me(),
        id: id.into(),
        name: "Agent Test".into(),
        roles: roles.iter().copied().collect::<BTreeSet<_>>(),
        office,
    }])
}

fn nir() -> String {
    nir::with_key("2840575123470").unwrap().as_str().to_owned()
}

struct Daemon {
    _dir: TempDir,
    service: SocialService,
    registry: RegistryHandle,
    client: Client,
    now: SystemTime,
    _server: ApiServer,
}

impl Daemon {
    /// A daemon on 31 December 2026, 23:30 UTC (1 January 2027 in Paris), one file archived.
    async fn start() -> Daemon {
        let dir = TempDir::new().unwrap();
        let now: SystemTime = chrono::DateTime::parse_from_rfc3339("2026-12-31T23:30:00Z").unwrap().into();
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::starting_at(now));
        let requester_socket = dir.path().join("run").join("requester.sock");
        let settings =
            SocialServiceSettings::for_dir("carsat-sud-est", OFFICE, dir.path(), &requester_socket, "cpam-13");
        let service = SocialService::build(settings, clock).unwrap();
        let registry = RegistryHandle::fixed(registry("ar-1", &[Role::ArchiveReader]));
        let socket = dir.path().join("run").join("social-service.sock");
        let server =
            ApiServer::start(&socket, routes(service.clone()), registry.clone(), Arc::new(KeptAccesses::default()))
                .unwrap();
        let d = Daemon { _dir: dir, service, registry, client: Client::new(&socket), now, _server: server };
        d.admit();
        d
    }

    /// A synthetic file, closed 18 months ago, with an action that made an offer.
    fn admit(&self) {
        let identity = v1::SocialIdentity {
            nir: Some(nir()),
            family_name: Some("Archivista".into()),
            given_names: Some("Alix".into()),
            ..Default::default()
        };
        let action = v1::Action {
            action_id: "0190a3b4-0000-7000-8000-0000000000b1".into(),
            file_id: FILE.into(),
            purpose: v1::ActionPurpose::RelationshipAndOffers as i32,
            start: Some(v1::Date { year: 2024, month: 3, day: 1 }),
            end: Some(v1::Date { year: 2025, month: 6, day: 30 }),
            contacts: vec![v1::Contact {
                channel: v1::ContactChannel::Visit as i32,
                date: Some(v1::Date { year: 2024, month: 3, day: 2 }),
                agent_id: "sw-1".into(),
            }],
            offer_ids: vec!["0190a3b4-0000-7000-8000-0000000000c1".into()],
        };
        let file = ArchivedFile {
            id: FILE.into(),
            office: OFFICE.into(),
            opened_at: self.now - 1000 * DAY,
            retention_start: v1::Date { year: 2025, month: 6, day: 30 },
            file: v1::SocialFile { identity: Some(identity), ..Default::default() },
            actions: vec![action],
            person: [9; 32],
        };
        assert!(self.service.archive().admit(&file, self.now, self.now + 1095 * DAY).unwrap());
    }

    fn be(&self, id: &str, roles: &[Role]) {
        self.registry.replace(registry(id, roles));
    }

    async fn propose(&self, body: Value) -> Result<GrantView, ClientError> {
        self.client.post_json("/v1/archive/grants", &body).await
    }

    async fn sign(&self, grant: &str, body: Value) -> Result<GrantView, ClientError> {
        self.client.post_json(&format!("/v1/archive/grants/{grant}/sign"), &body).await
    }

    async fn read(&self, query: &str) -> Result<ArchivedFileView, ClientError> {
        self.client.get_json(&format!("/v1/archive/files/{FILE}{query}")).await
    }

    /// Every entry of the access log: (agent, kind, object, about a person).
    fn log(&self) -> Vec<(String, String, String, bool)> {
        let log = self.service.accesses().log();
        log.years()
            .unwrap()
            .into_iter()
            .flat_map(|y| log.entries(y, 0, 1000).unwrap())
            .map(|e| (e.agent, e.kind.to_string(), e.object, e.concerns_person))
            .collect()
    }

    /// The entries of `kind` whose object starts with `archive` (not the grants').
    fn archive_entries(&self, kind: AccessKind) -> Vec<(String, String, bool)> {
        self.log()
            .into_iter()
            .filter(|(_, k, o, _)| *k == kind.as_str() && (o == "archive" || o.starts_with("archive:")))
            .map(|(agent, _, object, person)| (agent, object, person))
            .collect()
    }
}

fn refusal(e: &ClientError) -> (u16, String, String) {
    match e {
        ClientError::Refused { status, code, message } => (*status, code.clone(), message.clone()),
        other => panic!("not a refusal: {other}"),
    }
}

fn entry(agent: &str, object: &str, person: bool) -> (String, String, bool) {
    (format!("agent:{agent}"), object.to_owned(), person)
}

#[tokio::test]
async fn reads_are_refused_without_a_co_signed_grant_or_a_purpose_and_each_refusal_is_logged() {
    let d = Daemon::start().await;
    let litigation = format!("archive:{FILE}:litigation");

    let e = d.read("?purpose=litigation").await.unwrap_err();
    let (status, code, message) = refusal(&e);
    assert_eq!((status, code.as_str()), (403, "no_grant"));
    assert!(message.contains("agent ar-1 holds no archive grant"), "{message}");

    d.be("both-1", &[Role::DirectorDelegate, Role::MedicalOfficer]);
    let e = d.propose(json!({"reader": "ar-1"})).await.unwrap_err();
    let (status, _, message) = refusal(&e);
    assert_eq!(status, 400);
    assert!(message.contains("say which you sign as"), "an agent holding both says which: {message}");
    let grant = d.propose(json!({"reader": "ar-1", "as": "director-delegate"})).await.unwrap();
    assert_eq!((grant.format.as_str(), grant.state.as_str()), (ARCHIVE_GRANT_FORMAT, "awaiting-medical-officer"));
    assert_eq!(grant.director_delegate.as_ref().map(|s| s.agent.as_str()), Some("both-1"));
    assert_eq!(grant.until, "2028-01-01T23:00:00Z", "12 months by default, to the end of the day in Paris");
    let e = d.sign(&grant.grant, json!({"as": "medical-officer"})).await.unwrap_err();
    let (status, code, message) = refusal(&e);
    assert_eq!((status, code.as_str()), (400, "signature_refused"), "{message}");
    assert!(message.contains("agent both-1 signed grant") && message.contains("another agent's"), "{message}");

    d.be("dir-2", &[Role::DirectorDelegate]);
    let e = d.sign(&grant.grant, json!({})).await.unwrap_err();
    let (status, _, message) = refusal(&e);
    assert_eq!(status, 400);
    assert!(message.contains("has its director-delegate signature already"), "one role only: {message}");

    d.be("ar-1", &[Role::ArchiveReader]);
    let e = d.read("?purpose=litigation").await.unwrap_err();
    let (status, _, message) = refusal(&e);
    assert_eq!(status, 403, "signed twice by one agent, or twice by one role: no grant");
    assert!(message.contains(&format!("grant {} awaits the medical-officer signature", grant.grant)), "{message}");
    let e = d.client.get_json::<ArchiveList>("/v1/archive/files?purpose=fraud").await.unwrap_err();
    assert_eq!(refusal(&e).0, 403, "nor a list");

    let e = d.read("").await.unwrap_err();
    let (status, _, message) = refusal(&e);
    assert_eq!(status, 400);
    assert!(message.contains("names its purpose") && message.contains("steering, risk-management"), "{message}");
    let e = d.read("?purpose=curiosity").await.unwrap_err();
    let (status, _, message) = refusal(&e);
    assert_eq!(status, 400);
    assert!(message.contains("not a purpose of the norm's list") && !message.contains("curiosity"), "{message}");

    assert_eq!(
        d.archive_entries(AccessKind::Refused),
        [
            entry("ar-1", &litigation, false),
            entry("ar-1", &litigation, false),
            entry("ar-1", "archive:fraud", false),
            entry("ar-1", &format!("archive:{FILE}"), false),
            entry("ar-1", &format!("archive:{FILE}"), false),
        ],
        "every refused attempt, before the answer"
    );
    assert!(d.archive_entries(AccessKind::Read).is_empty(), "nothing read");
    assert!(d.service.archive().reads().unwrap().is_empty(), "nor recorded as a read by the archive");
}

#[tokio::test]
async fn a_reader_under_a_co_signed_grant_reads_for_a_purpose_and_each_read_is_logged_about_the_person() {
    let d = Daemon::start().await;
    d.be("dir-1", &[Role::DirectorDelegate]);
    let grant = d.propose(json!({"reader": "ar-1", "until": "2027-06-30"})).await.unwrap();
    assert_eq!(grant.until, "2027-06-30T22:00:00Z", "the end of its last day in Paris (summer time)");
    d.be("med-1", &[Role::MedicalOfficer]);
    let signed = d.sign(&grant.grant, json!({})).await.unwrap();
    assert_eq!(signed.state, "valid");
    assert_eq!(signed.medical_officer.as_ref().map(|s| s.agent.as_str()), Some("med-1"));
    let list: GrantList = d.client.get_json("/v1/archive/grants").await.unwrap();
    assert_eq!((list.format.as_str(), list.grants.as_slice()), (ARCHIVE_GRANTS_FORMAT, [signed.clone()].as_slice()));

    d.be("ar-1", &[Role::ArchiveReader]);
    let page: ArchiveList = d.client.get_json("/v1/archive/files?purpose=steering").await.unwrap();
    assert_eq!(page.format, ARCHIVE_FILES_FORMAT);
    assert_eq!(page.files.iter().map(|f| f.file.as_str()).collect::<Vec<_>>(), [FILE]);
    let view = d.read("?purpose=litigation").await.unwrap();
    assert_eq!((view.format.as_str(), view.purpose.as_str()), (ARCHIVE_FILE_FORMAT, "litigation"));
    assert_eq!(view.fields["identity.family_name"], json!("Archivista"));
    assert_eq!(view.fields["identity.nir"], json!(nir()));
    assert_eq!(view.retention_start, "2025-06-30");
    assert_eq!(view.actions[0].contacts[0].channel, "visit");
    assert!(view.actions[0].offers.is_empty(), "the offers' ids stayed behind");

    let reads = d.archive_entries(AccessKind::Read);
    assert_eq!(
        reads,
        [entry("ar-1", "archive:steering", false), entry("ar-1", &format!("archive:{FILE}:litigation"), true)]
    );
    let person = d.service.accesses().person(&nir().parse().unwrap());
    let about: Vec<(String, String)> = d
        .service
        .accesses()
        .log()
        .find_person(&person)
        .unwrap()
        .into_iter()
        .map(|e| (e.kind.to_string(), e.object))
        .collect();
    assert_eq!(about, [("read".to_owned(), format!("archive:{FILE}:litigation"))], "the read is about the person");
    let recorded: Vec<(Option<String>, String)> =
        d.service.archive().reads().unwrap().into_iter().map(|r| (r.file, r.purpose)).collect();
    assert_eq!(recorded, [(None, "steering".to_owned()), (Some(FILE.to_owned()), "litigation".to_owned())]);

    d.be("med-1", &[Role::MedicalOfficer]);
    let revoked: GrantView =
        d.client.post_json(&format!("/v1/archive/grants/{}/revoke", grant.grant), &json!({})).await.unwrap();
    assert_eq!((revoked.state.as_str(), revoked.revoked_by.as_deref()), ("revoked", Some("med-1")));
    d.be("ar-1", &[Role::ArchiveReader]);
    let e = d.read("?purpose=litigation").await.unwrap_err();
    let (status, _, message) = refusal(&e);
    assert_eq!(status, 403);
    assert!(message.contains("was revoked"), "{message}");
    assert_eq!(d.archive_entries(AccessKind::Refused), [entry("ar-1", &format!("archive:{FILE}:litigation"), false)]);
}

#[tokio::test]
async fn only_the_norm_s_roles_reach_the_archive_and_a_grant_lasts_twelve_months_at_most() {
    let d = Daemon::start().await;
    d.be("sw-1", &[Role::SocialWorker]);
    let e = d.read("?purpose=litigation").await.unwrap_err();
    assert_eq!(refusal(&e).0, 403, "a social worker does not read the archive");
    let e = d.propose(json!({"reader": "sw-1"})).await.unwrap_err();
    assert_eq!(refusal(&e).0, 403, "nor grants");
    d.be("ar-1", &[Role::ArchiveReader]);
    let e = d.propose(json!({"reader": "ar-1"})).await.unwrap_err();
    assert_eq!(refusal(&e).0, 403, "a reader does not grant");
    let e = d.client.get_json::<GrantList>("/v1/archive/grants").await.unwrap_err();
    assert_eq!(refusal(&e).0, 403);

    d.be("dir-1", &[Role::DirectorDelegate]);
    let e = d.propose(json!({"reader": "ar-1", "as": "medical-officer"})).await.unwrap_err();
    assert_eq!(refusal(&e).0, 403, "`as` a role the agent does not hold");
    let e = d.propose(json!({"reader": "ar-1", "until": "2028-01-02"})).await.unwrap_err();
    let (status, _, message) = refusal(&e);
    assert_eq!(status, 400);
    assert!(message.contains("12 months at most") && message.contains("2028-01-01"), "{message}");
    let e = d.propose(json!({"reader": "ar-1", "until": "2026-12-31"})).await.unwrap_err();
    assert!(refusal(&e).2.contains("before today"), "yesterday in Paris");
    let e = d.propose(json!({"reader": "Jeanne Martin"})).await.unwrap_err();
    assert_eq!(refusal(&e).0, 400, "a reader is an agent id");
    let last_day = d.propose(json!({"reader": "ar-1", "until": "2028-01-01"})).await.unwrap();
    assert_eq!(last_day.state, "awaiting-medical-officer");
    let grants = d.log().into_iter().filter(|(_, _, o, _)| o.starts_with("archive-grant:")).count();
    assert_eq!(grants, 1, "the grant's proposal is in the access log");
}

#[tokio::test]
async fn a_read_with_a_malformed_query_is_refused_and_logged_too() {
    let d = Daemon::start().await;
    let e = d.read("?purpose=litigation&limit=many").await.unwrap_err();
    assert_eq!(refusal(&e).0, 400);
    let e = d.client.get_json::<ArchiveList>("/v1/archive/files?purpose=steering&limit=-1").await.unwrap_err();
    assert_eq!(refusal(&e).0, 400);
    assert_eq!(
        d.archive_entries(AccessKind::Refused),
        [entry("ar-1", &format!("archive:{FILE}"), false), entry("ar-1", "archive", false)],
        "every attempt to read is in the access log, one the API could not parse too"
    );
}

#[tokio::test]
async fn an_agent_without_a_signing_role_is_refused_before_its_body_is_read() {
    let d = Daemon::start().await;
    d.be("sw-1", &[Role::SocialWorker]);
    let e = d.propose(json!({"until": "2027-06-30"})).await.unwrap_err();
    assert_eq!(refusal(&e).0, 403, "a social worker is refused as such, whatever its body");
    let e = d.sign("0190a3b4-0000-7000-8000-0000000000ff", json!({"as": "nobody"})).await.unwrap_err();
    assert_eq!(refusal(&e).0, 403);
}
