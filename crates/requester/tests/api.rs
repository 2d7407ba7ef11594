//! The requester daemon's local API over a real Unix socket in a temporary folder, called by
//! this process: its account is mapped by the test's registry to a prevention agent, a
//! requester administrator or an operator. Allowed where DESIGN §7.1 says, refused (403, and
//! recorded) elsewhere; a result file downloaded 0600 under umask 000. Its own test binary: the
//! umask is the process's.

#[path = "support/mod.rs"]
#[allow(unused_imports)]
mod support;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use passerelle_agents::{Agent, Registry, Role};
use passerelle_bus::{Bus, BusSettings, Consumer, InProcessBus};
use passerelle_local_api::{Access, AccessOutcome, ApiServer, Client, KeptAccesses, RegistryHandle};
use passerelle_protocol::rules::SystemClock;
use passerelle_protocol::v1::{self, Category, FamilySituation};
use passerelle_requester::api::{routes, CaseStatus, OverviewAnswer, PurgeAnswer, ResultAnswer, SubmitAnswer};
use passerelle_requester::{CaseState, Requester, RequesterSettings};
use support::*;
use tempfile::TempDir;

const SUD_EST: &str = "carsat-sud-est";
const IDF: &str = "cnav-idf";
const OFFICE: &str = "caf-13";

fn me() -> String {
    passerelle_local_api::own_account().unwrap().expect("the test's uid has an account name")
}

/// This process's account as an agent with `roles` (for `office`).
fn as_agent(roles: &[Role], office: Option<&str>) -> Registry {
    Registry::from_agents([Agent {
        account: me(),
        id: "agent-0042".into(),
        name: "Agent Bleu".into(),
        roles: roles.iter().copied().collect::<BTreeSet<_>>(),
        office: office.map(str::to_owned),
    }])
}

struct Daemon {
    dir: TempDir,
    requester: Requester,
    registry: RegistryHandle,
    kept: Arc<KeptAccesses>,
    server: ApiServer,
    client: Client,
    consumers: Vec<Consumer>,
}

impl Daemon {
    /// A requester of office caf-13 listening for its results (as `requester run` does), two
    /// test-double observatories, and its API served with `registry`.
    async fn start(registry: Registry) -> Daemon {
        let dir = TempDir::new().unwrap();
        let bus_settings = BusSettings { observatories: vec![SUD_EST.into(), IDF.into()], ..BusSettings::default() };
        let bus = InProcessBus::new(&bus_settings);
        let mut settings = RequesterSettings::for_dir("cnaf", OFFICE, dir.path());
        settings.broker = bus_settings;
        settings.chunk_size = 2;
        let requester_bus: Arc<dyn Bus> = Arc::new(bus.connect_as("body-cnaf"));
        let requester = Requester::build(settings, requester_bus, Arc::new(SystemClock)).unwrap();
        let answer = || Behaviour::Answer { answers: answers(), bodies: bodies(), chunk: 2 };
        let (_, c1) = FakeObservatory::start(SUD_EST, Arc::new(bus.connect_as("obs-sud-est")), answer()).await;
        let (_, c2) = FakeObservatory::start(IDF, Arc::new(bus.connect_as("obs-idf")), answer()).await;
        let listening = requester.listen().await.unwrap();
        let registry = RegistryHandle::fixed(registry);
        let kept = Arc::new(KeptAccesses::default());
        let socket = dir.path().join("run").join("requester.sock");
        let server = ApiServer::start(&socket, routes(requester.clone()), registry.clone(), kept.clone()).unwrap();
        let client = Client::new(&socket).for_daemon("requester run");
        Daemon { dir, requester, registry, kept, server, client, consumers: vec![c1, c2, listening] }
    }

    fn refused(&self) -> Vec<Access> {
        self.kept.taken()
    }

    async fn stop(self) {
        self.server.stop().await;
        for c in self.consumers {
            c.stop().await;
        }
    }
}

fn answers() -> Answers {
    Arc::new(|_: &v1::RequestedPerson| {
        vec![found("cnav", |v| v.family_situation = Some(FamilySituation::Widowed as i32)), not_found("cnam")]
    })
}

fn bodies() -> Vec<v1::BodyOutcome> {
    vec![outcome("cnav", &[Category::FamilySituation], vec![]), outcome("cnam", &[Category::FamilySituation], vec![])]
}

const SUBMIT: &str =
    "/v1/cases?want=family_situation&service=prevention-workshop&purpose=Atelier%20pr%C3%A9vention%20des%20chutes&name=selection.csv";

/// Three persons in two territories, and a bad line 3 (a person aged 45 in 2025).
fn selection_file(dir: &std::path::Path) -> std::path::PathBuf {
    let mut text = selection(&[person(0, MARSEILLE), person(1, PARIS), person(2, MARSEILLE)]);
    let young = line(&person(3, MARSEILLE)).replace(",1950,", ",1980,");
    let mut lines: Vec<&str> = text.lines().collect();
    lines.insert(2, &young);
    text = lines.join("\n") + "\n";
    write(dir, "selection.csv", text.as_bytes())
}

#[tokio::test]
async fn a_prevention_agent_submits_follows_and_fetches_its_offices_cases() {
    let d = Daemon::start(as_agent(&[Role::PreventionAgent], Some(OFFICE))).await;
    let file = selection_file(d.dir.path());
    let answer: SubmitAnswer = d.client.upload(SUBMIT, &file).await.unwrap();
    let SubmitAnswer::Submitted { report, selection, submission, cases } = answer else { panic!("{answer:?}") };
    assert_eq!((selection.lines, selection.valid, selection.rejected), (4, 3, 1));
    assert_eq!(report.len(), 1, "{report:?}");
    assert_eq!((report[0].line, report[0].field.as_deref()), (3, Some("birth_year")));
    let mut observatories: Vec<(&str, u64)> = cases.iter().map(|c| (c.observatory.as_str(), c.persons)).collect();
    observatories.sort();
    assert_eq!(observatories, [(SUD_EST, 2), (IDF, 1)]);
    assert!(
        std::fs::read_dir(d.dir.path().join("data").join("uploads")).unwrap().next().is_none(),
        "the uploaded selection is deleted once read"
    );

    // Followed until every case is answered.
    let path = format!("/v1/cases?submission={submission}");
    let statuses: Vec<CaseStatus> = passerelle_test_support::eventually_async("every case answered", || async {
        let statuses: Vec<CaseStatus> = d.client.get_json(&path).await.unwrap();
        statuses.iter().all(|s| s.case.state == CaseState::Answered).then_some(statuses)
    })
    .await;
    assert_eq!(statuses.len(), 2);
    assert!(statuses.iter().all(|s| s.submission == submission && s.text.contains("answered")), "{statuses:?}");

    // A case's result, written by the daemon, streamed, written here 0600 whatever the umask.
    let case = cases.iter().find(|c| c.observatory == SUD_EST).unwrap().case;
    let written: ResultAnswer = d.client.post_json(&format!("/v1/cases/{case}/result"), &()).await.unwrap();
    assert_eq!((written.persons, written.refused), (2, 0));
    let target = d.dir.path().join("agent").join("result.csv");
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    let bytes = d.client.download(&format!("/v1/cases/{case}/result/csv"), &target).await;
    nix::sys::stat::umask(old);
    let bytes = bytes.unwrap();
    let served = std::fs::read(d.dir.path().join("out").join(format!("{case}.csv"))).unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), served);
    assert_eq!(bytes, served.len() as u64);
    assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o600);
    let text = String::from_utf8(served).unwrap();
    assert!(text.contains("Zorglub0000") && text.contains("Zorglub0002") && !text.contains("Zorglub0001"));

    // The submission's consolidated result, as `submit` fetches it once every case settled.
    let whole: ResultAnswer = d.client.post_json(&format!("/v1/submissions/{submission}/result"), &()).await.unwrap();
    assert_eq!(whole.persons, 3);
    let summary = d.dir.path().join("agent").join("result.summary.json");
    d.client.download(&format!("/v1/submissions/{submission}/result/summary"), &summary).await.unwrap();
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    assert_eq!(json["submission"], submission.to_string());

    // An unknown file, an unknown case: said.
    let e = d.client.download(&format!("/v1/cases/{case}/result/xlsx"), &target).await.unwrap_err();
    assert!(e.to_string().contains("`xlsx` is not a result file"), "{e}");
    let e = d.client.post_json::<_, ResultAnswer>("/v1/cases/nope/result", &()).await.unwrap_err();
    assert!(e.to_string().contains("`nope` is not a case id"), "{e}");
    assert!(d.refused().is_empty(), "nothing refused: {:?}", d.refused());
    d.stop().await;
}

#[tokio::test]
async fn a_strict_submission_with_a_bad_line_sends_nothing_and_reports_the_line() {
    let d = Daemon::start(as_agent(&[Role::PreventionAgent], Some(OFFICE))).await;
    let file = selection_file(d.dir.path());
    let answer: SubmitAnswer = d.client.upload(&format!("{SUBMIT}&strict=true"), &file).await.unwrap();
    let SubmitAnswer::NothingSent { report, reason } = answer else { panic!("{answer:?}") };
    assert_eq!(report.iter().map(|r| r.line).collect::<Vec<_>>(), [3]);
    assert!(reason.contains("--strict"), "{reason}");
    let header_only = write(d.dir.path(), "bad.csv", b"nir,family_name\n");
    let answer: SubmitAnswer = d.client.upload(SUBMIT, &header_only).await.unwrap();
    let SubmitAnswer::Unusable { problems, header, .. } = answer else { panic!("{answer:?}") };
    assert!(header && !problems.is_empty() && problems.iter().all(|p| p.line == 1), "{problems:?}");
    let e = d.client.upload::<SubmitAnswer>("/v1/cases?want=shoe_size&service=x", &file).await.unwrap_err();
    assert_eq!(e.code(), Some("bad_request"), "{e}");
    assert!(e.to_string().starts_with("--want"), "{e}");
    // The service is a code of the closed list; the age is counted on the day of submission.
    let e = d.client.upload::<SubmitAnswer>("/v1/cases?want=rsa&service=Atelier", &file).await.unwrap_err();
    assert_eq!(e.code(), Some("bad_request"), "{e}");
    assert!(e.to_string().contains("prevention-workshop, home-adaptation, home-help"), "{e}");
    let e = d.client.upload::<SubmitAnswer>("/v1/cases?want=rsa&service=other", &file).await.unwrap_err();
    assert!(e.to_string().contains("--purpose"), "{e}");
    let e = d.client.upload::<SubmitAnswer>("/v1/cases?want=rsa&service=home-help&year=2025", &file).await.unwrap_err();
    assert_eq!(e.code(), Some("bad_request"), "{e}");
    assert!(e.to_string().contains("on the day it is made"), "{e}");
    let statuses: Vec<CaseStatus> = d.client.get_json("/v1/cases").await.unwrap();
    assert!(statuses.is_empty(), "nothing stored: {statuses:?}");
    d.stop().await;
}

#[tokio::test]
async fn each_call_refuses_the_roles_and_offices_design_excludes_and_records_it() {
    let d = Daemon::start(as_agent(&[Role::Operator], None)).await;
    let file = selection_file(d.dir.path());
    let case = passerelle_requester::Uuid::now_v7();
    let forbidden = |e: passerelle_local_api::ClientError| {
        assert!(e.is_forbidden(), "{e:?}");
        e.to_string()
    };
    // An operator: no personal datum, no purge.
    let e = forbidden(d.client.upload::<SubmitAnswer>(SUBMIT, &file).await.unwrap_err());
    assert!(e.contains("needs the role prevention-agent for this (it holds: operator)"), "{e}");
    forbidden(d.client.get_json::<Vec<CaseStatus>>("/v1/cases").await.unwrap_err());
    forbidden(d.client.post_json::<_, ResultAnswer>(&format!("/v1/cases/{case}/result"), &()).await.unwrap_err());
    let target = d.dir.path().join("agent").join("x.csv");
    forbidden(d.client.download(&format!("/v1/cases/{case}/result/csv"), &target).await.unwrap_err());
    assert!(!target.exists() && !d.dir.path().join("agent").join("x.csv.partial").exists());
    forbidden(d.client.post_json::<_, PurgeAnswer>("/v1/purge", &()).await.unwrap_err());
    let kept = d.refused();
    assert_eq!(
        kept.iter().map(|a| (a.method.as_str(), a.path.as_str())).collect::<Vec<_>>(),
        [
            ("POST", "/v1/cases"),
            ("GET", "/v1/cases"),
            ("POST", &*format!("/v1/cases/{case}/result")),
            ("GET", &*format!("/v1/cases/{case}/result/csv")),
            ("POST", "/v1/purge"),
        ]
    );
    assert!(kept
        .iter()
        .all(|a| a.agent_id.as_deref() == Some("agent-0042") && matches!(a.outcome, AccessOutcome::Refused { .. })));
    assert!(
        std::fs::read_dir(d.dir.path().join("data")).unwrap().all(|e| e.unwrap().file_name() != "uploads"),
        "a refused upload is not even kept"
    );

    // A prevention agent of another office sees nothing of this one; nor may it purge.
    d.registry.replace(as_agent(&[Role::PreventionAgent], Some("caf-69")));
    let e = forbidden(d.client.get_json::<Vec<CaseStatus>>("/v1/cases").await.unwrap_err());
    assert!(e.ends_with("acts as prevention-agent for the office caf-69, not for caf-13"), "{e}");
    forbidden(d.client.upload::<SubmitAnswer>(SUBMIT, &file).await.unwrap_err());
    d.registry.replace(as_agent(&[Role::PreventionAgent], Some(OFFICE)));
    let e = forbidden(d.client.post_json::<_, PurgeAnswer>("/v1/purge", &()).await.unwrap_err());
    assert!(e.contains("needs the role requester-admin"), "{e}");

    // The requester's administrator purges, and sees no contact list.
    d.registry.replace(as_agent(&[Role::RequesterAdmin], None));
    let purged: PurgeAnswer = d.client.post_json("/v1/purge", &()).await.unwrap();
    assert_eq!(purged.retention_days, d.requester.settings().retention_days);
    assert!(purged.submissions.is_empty());
    forbidden(d.client.get_json::<Vec<CaseStatus>>("/v1/cases").await.unwrap_err());

    // An account the registry does not know.
    d.registry.replace(Registry::empty());
    let e = d.client.get_json::<Vec<CaseStatus>>("/v1/cases").await.unwrap_err();
    assert_eq!(e.code(), Some("not_an_agent"), "{e:?}");
    let e = d.client.upload::<SubmitAnswer>(SUBMIT, &file).await.unwrap_err();
    assert_eq!(e.code(), Some("not_an_agent"), "{e:?}");
    assert_eq!(d.refused().last().unwrap().outcome, AccessOutcome::NotAnAgent);
    assert_eq!(d.refused().len(), 11);
    d.stop().await;
}

#[tokio::test]
async fn the_operator_and_the_administrator_read_counts_only_and_an_agent_no_overview() {
    let d = Daemon::start(as_agent(&[Role::PreventionAgent], Some(OFFICE))).await;
    let e = d.client.get_json::<OverviewAnswer>("/v1/overview").await.unwrap_err();
    assert!(e.is_forbidden(), "{e:?}");
    let file = selection_file(d.dir.path());
    let answer: SubmitAnswer = d.client.upload(SUBMIT, &file).await.unwrap();
    let SubmitAnswer::Submitted { .. } = answer else { panic!("{answer:?}") };
    passerelle_test_support::eventually_async("every case answered", || async {
        let statuses: Vec<CaseStatus> = d.client.get_json("/v1/cases").await.unwrap();
        statuses.iter().all(|s| s.case.state == CaseState::Answered).then_some(())
    })
    .await;

    for roles in [Role::Operator, Role::RequesterAdmin] {
        d.registry.replace(as_agent(&[roles], None));
        let overview: OverviewAnswer = d.client.get_json("/v1/overview").await.unwrap();
        assert_eq!(overview.office, OFFICE);
        let count = |state: CaseState| overview.cases.iter().find(|c| c.state == state).unwrap().cases;
        assert_eq!((count(CaseState::Answered), count(CaseState::Sent), count(CaseState::Purged)), (2, 0, 0));
        assert_eq!((overview.submissions, overview.oldest_waiting_seconds, overview.unsent), (1, None, 0));
        assert_eq!(overview.retention_days, d.requester.settings().retention_days);
        assert!(overview.next_purge_due.is_some());
        let json = serde_json::to_string(&overview).unwrap();
        for i in 0..4 {
            assert!(!json.contains(&nir(i)) && !json.contains(&format!("Zorglub{i:04}")), "{json}");
        }
        assert!(!json.contains("Atelier") && !json.contains("family_situation"), "no service, no category: {json}");
    }
    assert_eq!(d.refused().len(), 1, "the agent's refusal recorded");
    d.stop().await;
}
