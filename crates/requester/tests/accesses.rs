//! The requester daemon's access log (DESIGN §7.1), written by its local API and by the daemon
//! itself: each call that touches personal data is an entry with the agent's id and the kind
//! of access, per call or per case; a person looked up appears only as a keyed hash, never as
//! a NIR in `access.db`; a refused lookup is a `refused` entry; machine actions (a chunk or a
//! refusal stored, a case purged) are `daemon:requester`'s; and the person hash goes once the
//! requester's 24-month cap has passed, the entry and its chain staying intact.

#[path = "support/mod.rs"]
#[allow(unused_imports)]
mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::SystemTime;

use passerelle_access_log::{AccessEntry, AccessKind, Accesses, StoredEntry};
use passerelle_agents::{Agent, Registry, Role};
use passerelle_bus::{Bus, BusSettings, Consumer, InProcessBus};
use passerelle_local_api::{Access, AccessRecorder, ApiServer, Client, RegistryHandle};
use passerelle_protocol::nir::Nir;
use passerelle_protocol::rules::{days, ManualClock};
use passerelle_protocol::v1::{self, Category, FamilySituation};
use passerelle_requester::api::{
    routes, CaseStatus, ContactsAnswer, PersonAnswer, PersonQuery, PurgeAnswer, SubmitAnswer,
};
use passerelle_requester::{CaseState, Requester, RequesterSettings, Uuid};
use support::*;
use tempfile::TempDir;

const SUD_EST: &str = "carsat-sud-est";
const IDF: &str = "cnav-idf";
const OFFICE: &str = "caf-13";
const AGENT: &str = "agent:agent-0042";
const SUBMIT: &str = "/v1/cases?want=family_situation&service=prevention-workshop&purpose=Atelier&name=selection.csv";

fn as_agent(roles: &[Role], office: Option<&str>) -> Registry {
    let me = passerelle_local_api::own_account().unwrap().expect("the test's uid has an account name");
    Registry::from_agents([Agent {
        account: me,
        id: "agent-0042".into(),
        name: "Agent Bleu".into(),
        roles: roles.iter().copied().collect::<BTreeSet<_>>(),
        office: office.map(str::to_owned),
    }])
}

/// What the party's trail does with a refused call (`passerelle_party::api::AccessLogTrail`):
/// a `refused` entry, in the requester's own access log handle.
#[derive(Debug)]
struct RefusalsInLog(Accesses);

impl AccessRecorder for RefusalsInLog {
    fn record(&self, access: &Access) {
        let actor = format!("agent:{}", access.agent_id.as_deref().unwrap_or("unknown"));
        self.0
            .record(&AccessEntry::new(SystemTime::now(), actor, AccessKind::Refused, "api:v1.cases._.person"))
            .unwrap();
    }
}

struct Daemon {
    dir: TempDir,
    clock: ManualClock,
    requester: Requester,
    registry: RegistryHandle,
    server: ApiServer,
    client: Client,
    consumers: Vec<Consumer>,
}

impl Daemon {
    /// A requester of caf-13 on an injected clock: carsat-sud-est answers, cnav-idf refuses
    /// its case whole.
    async fn start() -> Daemon {
        let dir = TempDir::new().unwrap();
        let clock = ManualClock::starting_at(SystemTime::now());
        let bus_settings = BusSettings { observatories: vec![SUD_EST.into(), IDF.into()], ..BusSettings::default() };
        let bus = InProcessBus::new(&bus_settings);
        let mut settings = RequesterSettings::for_dir("cnaf", OFFICE, dir.path());
        settings.broker = bus_settings;
        settings.chunk_size = 2;
        let requester_bus: Arc<dyn Bus> = Arc::new(bus.connect_as("body-cnaf"));
        let requester = Requester::build(settings, requester_bus, Arc::new(clock.clone())).unwrap();
        let answers: Answers = Arc::new(|_: &v1::RequestedPerson| {
            vec![found("cnav", |v| v.family_situation = Some(FamilySituation::Widowed as i32)), not_found("cnam")]
        });
        let bodies = vec![outcome("cnav", &[Category::FamilySituation], vec![])];
        let answer = Behaviour::Answer { answers, bodies, chunk: 1 };
        let refuse = Behaviour::RefuseCase(vec![v1::Problem { field: "respond_by".into(), reason: "too late".into() }]);
        let (_, c1) = FakeObservatory::start(SUD_EST, Arc::new(bus.connect_as("obs-sud-est")), answer).await;
        let (_, c2) = FakeObservatory::start(IDF, Arc::new(bus.connect_as("obs-idf")), refuse).await;
        let listening = requester.listen().await.unwrap();
        let registry = RegistryHandle::fixed(as_agent(&[Role::PreventionAgent], Some(OFFICE)));
        let socket = dir.path().join("run").join("requester.sock");
        let trail = Arc::new(RefusalsInLog(requester.accesses().clone()));
        let server = ApiServer::start(&socket, routes(requester.clone()), registry.clone(), trail).unwrap();
        let client = Client::new(&socket).for_daemon("requester run");
        Daemon { dir, clock, requester, registry, server, client, consumers: vec![c1, c2, listening] }
    }

    /// Submits three persons (two in Marseille, one in Paris) and waits for both cases to
    /// settle; returns (the answered case, the refused case).
    async fn submitted(&self) -> (Uuid, Uuid) {
        let text = selection(&[person(0, MARSEILLE), person(1, PARIS), person(2, MARSEILLE)]);
        let file = write(self.dir.path(), "selection.csv", text.as_bytes());
        let answer: SubmitAnswer = self.client.upload(SUBMIT, &file).await.unwrap();
        let SubmitAnswer::Submitted { cases, .. } = answer else { panic!("{answer:?}") };
        let case_of = |obs: &str| cases.iter().find(|c| c.observatory == obs).unwrap().case;
        let (answered, refused) = (case_of(SUD_EST), case_of(IDF));
        passerelle_test_support::eventually_async("both cases settled", || async {
            let a = self.requester.store().case(answered).unwrap().unwrap().state;
            let r = self.requester.store().case(refused).unwrap().unwrap().state;
            (a == CaseState::Answered && r == CaseState::Refused).then_some(())
        })
        .await;
        (answered, refused)
    }

    fn entries(&self) -> Vec<StoredEntry> {
        let log = self.requester.accesses().log();
        log.years().unwrap().into_iter().flat_map(|y| log.entries(y, 1, 10_000).unwrap()).collect()
    }

    /// The entries after the first `from`, as (actor, kind, object).
    fn since(&self, from: usize) -> Vec<(String, &'static str, String)> {
        self.entries()[from..].iter().map(|e| (e.agent.clone(), e.kind.as_str(), e.object.clone())).collect()
    }

    async fn lookup(&self, case: Uuid, nir: &str) -> Result<PersonAnswer, passerelle_local_api::ClientError> {
        self.client.post_json(&format!("/v1/cases/{case}/person"), &PersonQuery { nir: nir.to_owned() }).await
    }

    async fn stop(self) {
        self.server.stop().await;
        for c in self.consumers {
            c.stop().await;
        }
    }
}

fn entry(actor: &str, kind: AccessKind, object: impl ToString) -> (String, &'static str, String) {
    (actor.to_owned(), kind.as_str(), object.to_string())
}

#[tokio::test]
async fn every_call_and_machine_action_is_recorded_with_its_actor_and_kind() {
    let d = Daemon::start().await;
    let (answered, refused) = d.submitted().await;
    let mut created: Vec<_> = d.since(0);
    created.sort();
    let mut expected = vec![
        entry(AGENT, AccessKind::Create, answered),
        entry(AGENT, AccessKind::Create, refused),
        // Two result chunks of one person each, and the refusal.
        entry("daemon:requester", AccessKind::Create, answered),
        entry("daemon:requester", AccessKind::Create, answered),
        entry("daemon:requester", AccessKind::Create, refused),
    ];
    expected.sort();
    assert_eq!(created, expected);

    let n = d.entries().len();
    let all: Vec<CaseStatus> = d.client.get_json("/v1/cases").await.unwrap();
    assert_eq!(all.len(), 2);
    let submission = all[0].submission;
    let _: Vec<CaseStatus> = d.client.get_json(&format!("/v1/cases?submission={submission}")).await.unwrap();
    let target = d.dir.path().join("agent").join("list.csv");
    let _: passerelle_requester::api::ResultAnswer =
        d.client.post_json(&format!("/v1/cases/{answered}/result"), &()).await.unwrap();
    d.client.download(&format!("/v1/cases/{answered}/result/csv"), &target).await.unwrap();
    d.client.download(&format!("/v1/cases/{answered}/result/summary"), &target.with_extension("json")).await.unwrap();
    let row = d.lookup(answered, &nir(2)).await.unwrap();
    assert_eq!((row.case, row.persons), (answered, 2));
    assert_eq!(row.row["selection"]["family_name"], "Zorglub0002");
    assert_eq!(row.row["categories"]["family_situation"]["value"], "widowed");
    assert!(matches!(row.row["rank"].as_u64(), Some(1 | 2)), "{}", row.row);
    let mut reads = d.since(n);
    let status_reads = reads.drain(1..3).collect::<BTreeSet<_>>();
    assert_eq!(reads[0], entry(AGENT, AccessKind::Read, "cases"));
    assert_eq!(
        status_reads,
        [entry(AGENT, AccessKind::Read, answered), entry(AGENT, AccessKind::Read, refused)].into_iter().collect()
    );
    // The CSV an export; the summary (no person in it) nothing; the person a read of the case.
    assert_eq!(reads[1..], [entry(AGENT, AccessKind::Export, answered), entry(AGENT, AccessKind::Read, answered)]);

    // Nobody's data given, nothing recorded: a person not in the case, a malformed NIR (not
    // repeated), an unsettled or unknown case.
    let n = d.entries().len();
    let e = d.lookup(answered, &nir(1)).await.unwrap_err();
    assert_eq!(e.code(), Some("not_found"), "{e}");
    let e = d.lookup(answered, "1500375001999").await.unwrap_err();
    assert_eq!(e.code(), Some("bad_request"), "{e}");
    assert!(!e.to_string().contains("1500375001999"), "{e}");
    let e = d.lookup(Uuid::now_v7(), &nir(0)).await.unwrap_err();
    assert_eq!(e.code(), Some("not_found"), "{e}");
    assert_eq!(d.entries().len(), n);

    // The administrator's purge: a delete per case, the agent's.
    d.registry.replace(as_agent(&[Role::RequesterAdmin], None));
    d.clock.advance(days(731));
    let purged: PurgeAnswer = d.client.post_json("/v1/purge", &()).await.unwrap();
    assert_eq!(purged.submissions.len(), 1);
    let mut deletes = d.since(n);
    deletes.sort();
    let mut expected = vec![entry(AGENT, AccessKind::Delete, answered), entry(AGENT, AccessKind::Delete, refused)];
    expected.sort();
    assert_eq!(deletes, expected);
    assert!(d.requester.accesses().log().verify().unwrap().is_intact());
    d.stop().await;
}

#[tokio::test]
async fn a_person_is_a_keyed_hash_until_the_cap_and_never_a_nir_in_the_access_log() {
    let d = Daemon::start().await;
    let (answered, _) = d.submitted().await;
    let looked_up = nir(0);
    d.lookup(answered, &looked_up).await.unwrap();
    // A lookup refused (an operator): recorded `refused`, the NIR nowhere.
    d.registry.replace(as_agent(&[Role::Operator], None));
    let e = d.lookup(answered, &nir(2)).await.unwrap_err();
    assert!(e.is_forbidden(), "{e:?}");
    let last = d.entries().last().cloned().unwrap();
    assert_eq!((last.agent.as_str(), last.kind, last.person), (AGENT, AccessKind::Refused, None));

    let person = d.requester.accesses().person(&Nir::parse(&looked_up).unwrap());
    let found = d.requester.accesses().log().find_person(&person).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].agent.as_str(), found[0].kind, found[0].object.clone()),
        (AGENT, AccessKind::Read, answered.to_string())
    );
    let log_files = |d: &Daemon| -> Vec<(String, Vec<u8>)> {
        store_bytes(&d.dir.path().join("data")).into_iter().filter(|(name, _)| name.starts_with("access.db")).collect()
    };
    let files = log_files(&d);
    assert!(!files.is_empty());
    for n in 0..3 {
        let digits = nir(n);
        for (name, bytes) in &files {
            assert!(!contains(bytes, digits.as_bytes()), "{name} holds a NIR in clear");
            assert!(!contains(bytes, &digits.as_bytes()[..13]), "{name} holds a NIR's 13 digits in clear");
        }
    }

    // Just before the cap the hash stays; past it, the daemon's purge drops it (and purges the
    // cases, recorded as its own deletes). The entry stays and the chain verifies.
    d.clock.advance(days(729));
    d.requester.purge().unwrap();
    assert_eq!(d.requester.accesses().log().find_person(&person).unwrap().len(), 1);
    let n = d.entries().len();
    d.clock.advance(days(2));
    let purge = d.requester.purge().unwrap();
    assert_eq!(purge.submissions.len(), 1);
    assert!(d.since(n).iter().all(|(actor, kind, _)| actor == "daemon:requester" && *kind == "delete"));
    assert_eq!(d.since(n).len(), 2);
    assert!(d.requester.accesses().log().find_person(&person).unwrap().is_empty());
    let read = d.entries().into_iter().find(|e| e.kind == AccessKind::Read).expect("the read entry stays");
    assert!(read.concerns_person && read.person.is_none(), "{read:?}");
    assert!(d.requester.accesses().log().verify().unwrap().is_intact());
    d.stop().await;
}

#[tokio::test]
async fn a_case_contact_list_is_read_page_by_page_each_person_listed_a_read_of_the_case() {
    let d = Daemon::start().await;
    let (answered, refused) = d.submitted().await;
    let n = d.entries().len();
    let path = format!("/v1/cases/{answered}/contacts?limit=1");
    let first: ContactsAnswer = d.client.get_json(&path).await.unwrap();
    assert_eq!((first.case, first.state, first.persons, first.entries.len()), (answered, CaseState::Answered, 2, 1));
    assert_eq!((first.entries[0].rank, first.next), (1, Some(1)));
    let second: ContactsAnswer = d.client.get_json(&format!("{path}&after=1")).await.unwrap();
    assert_eq!((second.entries.len(), second.entries[0].rank, second.next), (1, 2, None));
    let whole: ContactsAnswer = d.client.get_json(&format!("/v1/cases/{answered}/contacts")).await.unwrap();
    let mut names: Vec<&str> = whole.entries.iter().map(|e| e.family_name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["Zorglub0000", "Zorglub0002"]);
    assert_eq!(whole.entries.iter().map(|e| e.rank).collect::<Vec<_>>(), [1, 2]);
    let json = serde_json::to_string(&whole).unwrap();
    for i in 0..3 {
        assert!(!json.contains(&nir(i)), "no NIR in the list: {json}");
    }

    // Each person listed is a read of the case about them (a keyed hash), one per page entry.
    let reads: Vec<StoredEntry> = d.entries()[n..].to_vec();
    assert_eq!(reads.len(), 4, "{reads:?}");
    assert!(reads.iter().all(|e| e.agent == AGENT && e.kind == AccessKind::Read && e.object == answered.to_string()));
    let listed: Vec<_> = [0, 2].iter().map(|i| d.requester.accesses().person(&Nir::parse(&nir(*i)).unwrap())).collect();
    assert!(reads.iter().all(|e| e.person.as_ref().is_some_and(|p| listed.contains(p))), "{reads:?}");

    // A refused case lists nobody, records nothing; an unknown case, a bad query: said.
    let n = d.entries().len();
    let none: ContactsAnswer = d.client.get_json(&format!("/v1/cases/{refused}/contacts")).await.unwrap();
    assert_eq!((none.state, none.persons, none.entries.len()), (CaseState::Refused, 0, 0));
    let e = d.client.get_json::<ContactsAnswer>(&format!("/v1/cases/{}/contacts", Uuid::now_v7())).await.unwrap_err();
    assert_eq!(e.code(), Some("not_found"), "{e}");
    let e = d.client.get_json::<ContactsAnswer>(&format!("{path}&limit=0")).await.unwrap_err();
    assert_eq!(e.code(), Some("bad_request"), "{e}");
    assert_eq!(d.entries().len(), n);

    // Another office's agent, the administrator: refused (and the refusal recorded).
    for registry in [as_agent(&[Role::PreventionAgent], Some("caf-69")), as_agent(&[Role::RequesterAdmin], None)] {
        d.registry.replace(registry);
        let e = d.client.get_json::<ContactsAnswer>(&path).await.unwrap_err();
        assert!(e.is_forbidden(), "{e:?}");
    }
    assert!(d.since(n).iter().all(|(_, kind, _)| *kind == "refused"));
    d.stop().await;
}
