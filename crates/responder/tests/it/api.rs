//! The responder's local API over a real Unix socket in a temporary folder, called by this
//! process: its uid is the caller, mapped by a registry written for each test as a
//! `responder-admin`, an `operator`, or not at all.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::common;

use common::*;
use passerelle_access_log::{AccessKind, Accesses};
use passerelle_bus::BusSettings;
use passerelle_local_api::{Access, AccessOutcome, ApiServer, Client, KeptAccesses, RegistryHandle};
use passerelle_responder::api::{
    routes, EncodingName, FailureKind, LoadAnswer, LoadOutcome, LoadQuery, ReportName, ResponderStatus,
};
use passerelle_responder::index::IndexReader;
use passerelle_responder::{PostgresSettings, ResponderSettings, ResponderStats, SourceSettings, Subject};

fn me() -> String {
    passerelle_local_api::own_account().unwrap().expect("the test's uid has an account name")
}

struct Served {
    dir: tempfile::TempDir,
    settings: ResponderSettings,
    kept: Arc<KeptAccesses>,
    /// The daemon's access log, as the routes write it.
    accesses: Accesses,
    server: ApiServer,
    client: Client,
}

impl Served {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn refused(&self) -> Vec<Access> {
        self.kept.taken()
    }
}

/// The responder's routes served for `account` holding `roles` (this process's account, or
/// another one to make it unknown).
fn serve_with(account: &str, roles: &[&str], settings: impl FnOnce(&Path) -> ResponderSettings) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let roles = roles.iter().map(|r| format!("\"{r}\"")).collect::<Vec<_>>().join(", ");
    let registry = dir.path().join("agents.toml");
    std::fs::write(
        &registry,
        format!("[[agent]]\naccount = \"{account}\"\nid = \"agent-0007\"\nname = \"Agent Vert\"\nroles = [{roles}]\n"),
    )
    .unwrap();
    let settings = settings(&dir.path().join("data"));
    let kept = Arc::new(KeptAccesses::default());
    let socket = dir.path().join("run").join("responder-cnaf.sock");
    let stats = Arc::new(ResponderStats::default());
    let accesses = Accesses::open_in(&settings.data_dir, settings.trails.time_zone).unwrap();
    let server = ApiServer::start(
        &socket,
        routes(settings.clone(), Some(stats), accesses.clone()),
        RegistryHandle::load(&registry).unwrap(),
        kept.clone(),
    )
    .unwrap();
    let client = Client::new(&socket).for_daemon("responder run");
    Served { dir, settings, kept, accesses, server, client }
}

fn serve(roles: &[&str]) -> Served {
    serve_with(&me(), roles, |data| extract_settings(data, BusSettings::default()))
}

fn query(report: ReportName) -> LoadQuery {
    LoadQuery { encoding: EncodingName::Utf8, max_loss: 10, force: false, report }
}

fn found(settings: &ResponderSettings, n: u32) -> bool {
    let reader = IndexReader::new(settings.index_path(), BODY);
    let subject = Subject { nirs: vec![nir(n)], sex: None, birth_year: None };
    let answer = reader.lookup(&[subject], &[]).unwrap();
    answer.persons[0].is_some()
}

fn loaded(answer: &LoadAnswer) -> &passerelle_responder::api::Loaded {
    match &answer.outcome {
        LoadOutcome::Loaded(loaded) => loaded,
        other => panic!("not loaded: {other:?}"),
    }
}

#[tokio::test]
async fn a_responder_admin_loads_an_extract_and_gets_the_summary() {
    let s = serve(&["responder-admin"]);
    let extract = s.path("extract.csv");
    write_extract(&extract, &[Line::new(&nir(1)).rsa("oui"), Line::new(&nir(2)).housing("non")]);
    let answer: LoadAnswer = s.client.upload(&query(ReportName::Human).path(), &extract).await.unwrap();
    assert_eq!(answer.body, BODY);
    let summary = loaded(&answer);
    assert_eq!((summary.lines, summary.valid, summary.rejected), (2, 2, 0));
    assert_eq!(summary.index.persons, 2);
    assert!(summary.index.bytes > 0);
    assert_eq!(summary.ignored_columns, Vec::<String>::new());
    assert!(answer.report.contains("2 line"), "the human summary sentence: {}", answer.report);
    assert!(found(&s.settings, 1) && found(&s.settings, 2) && !found(&s.settings, 3));

    // The status names the extract just loaded; a responder-admin may read it too.
    let status: ResponderStatus = s.client.get_json("/v1/status").await.unwrap();
    let extract = status.extract.expect("an extract is loaded");
    assert_eq!((extract.id.as_str(), extract.persons), (summary.index.extract_id.as_str(), 2));
    assert!(s.refused().is_empty(), "nothing refused: {:?}", s.refused());
    s.server.stop().await;
}

#[tokio::test]
async fn a_bad_line_is_reported_with_its_number_and_the_good_lines_load() {
    let s = serve(&["responder-admin"]);
    let extract = s.path("extract.csv");
    let text = format!(
        "nir,rsa\n{n1},oui\n{n2},peut-être\n{n3},non\n",
        n1 = nir(1).as_str(),
        n2 = nir(2).as_str(),
        n3 = nir(3).as_str()
    );
    std::fs::write(&extract, text).unwrap();
    let answer: LoadAnswer = s.client.upload(&query(ReportName::Json).path(), &extract).await.unwrap();
    let summary = loaded(&answer);
    assert_eq!((summary.lines, summary.valid, summary.rejected), (3, 2, 1));
    let report = json_lines(answer.report.as_bytes());
    assert_eq!(report.len(), 2, "one problem, then the summary: {report:?}");
    assert_eq!((report[0]["line"].as_u64(), report[0]["field"].as_str()), (Some(3), Some("rsa")));
    assert_eq!(report[0]["format"], "passerelle.report/1");
    assert_eq!(report[1]["summary"], serde_json::json!({ "lines": 3, "valid": 2, "rejected": 1 }));
    assert!(!answer.report.contains(nir(2).as_str()), "no NIR in the report");
    assert!(found(&s.settings, 1) && !found(&s.settings, 2) && found(&s.settings, 3));
    s.server.stop().await;
}

#[tokio::test]
async fn the_loss_guard_keeps_the_index_and_force_replaces_it() {
    let s = serve(&["responder-admin"]);
    let extract = s.path("extract.csv");
    write_extract(&extract, &(1..=10).map(|n| Line::new(&nir(n))).collect::<Vec<_>>());
    let _: LoadAnswer = s.client.upload(&query(ReportName::Human).path(), &extract).await.unwrap();
    write_extract(&extract, &(1..=5).map(|n| Line::new(&nir(n))).collect::<Vec<_>>());
    let answer: LoadAnswer = s.client.upload(&query(ReportName::Human).path(), &extract).await.unwrap();
    match &answer.outcome {
        LoadOutcome::Kept { failure: FailureKind::Extract, error } => {
            assert!(error.contains("10 persons with one of 5"), "{error}")
        }
        other => panic!("the guard should keep the index: {other:?}"),
    }
    assert!(found(&s.settings, 9), "the current index is kept");
    let forced = LoadQuery { force: true, ..query(ReportName::Human) };
    let answer: LoadAnswer = s.client.upload(&forced.path(), &extract).await.unwrap();
    assert_eq!(loaded(&answer).index.persons, 5);
    assert!(!found(&s.settings, 9), "--force replaced it");
    s.server.stop().await;
}

#[tokio::test]
async fn an_operator_may_not_load_but_reads_the_status_without_a_personal_datum() {
    let s = serve(&["operator"]);
    let extract = s.path("extract.csv");
    write_extract(&extract, &[Line::new(&nir(1)).rsa("oui")]);
    let e = s.client.upload::<LoadAnswer>(&query(ReportName::Human).path(), &extract).await.unwrap_err();
    assert!(e.is_forbidden() && e.code() == Some("not_permitted"), "{e:?}");
    assert!(e.to_string().contains("responder-admin"), "the role needed is named: {e}");
    let refused = s.refused();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!((refused[0].method.as_str(), refused[0].path.as_str()), ("POST", "/v1/extract"));
    assert_eq!(refused[0].agent_id.as_deref(), Some("agent-0007"));
    assert!(matches!(refused[0].outcome, AccessOutcome::Refused { .. }));
    assert!(!s.settings.index_path().exists(), "nothing was loaded");

    let status: ResponderStatus = s.client.get_json("/v1/status").await.unwrap();
    assert_eq!((status.body.as_str(), status.source.as_str(), status.extract), (BODY, "extract", None));
    assert_eq!(status.answered.map(|a| a.persons), Some(0));

    // With an extract loaded (by the daemon's own function), the status has its counts only.
    common::load(&s.settings, &extract);
    let status: ResponderStatus = s.client.get_json("/v1/status").await.unwrap();
    assert_eq!(status.extract.as_ref().map(|e| e.persons), Some(1));
    let text = serde_json::to_string(&status).unwrap();
    assert!(!text.contains(nir(1).as_str()), "no NIR in the status: {text}");
    s.server.stop().await;
}

#[tokio::test]
async fn an_account_the_registry_does_not_know_is_refused_and_recorded() {
    let s = serve_with("someone-else", &["responder-admin"], |d| extract_settings(d, BusSettings::default()));
    let extract = s.path("extract.csv");
    write_extract(&extract, &[Line::new(&nir(1))]);
    let e = s.client.upload::<LoadAnswer>(&query(ReportName::Human).path(), &extract).await.unwrap_err();
    assert!(e.is_forbidden() && e.code() == Some("not_an_agent"), "{e:?}");
    let e = s.client.get_json::<ResponderStatus>("/v1/status").await.unwrap_err();
    assert_eq!(e.code(), Some("not_an_agent"), "{e:?}");
    let refused = s.refused();
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(refused.iter().all(|a| a.outcome == AccessOutcome::NotAnAgent && a.account.as_deref() == Some(&*me())));
    assert!(!s.settings.index_path().exists(), "nothing was loaded");
    s.server.stop().await;
}

#[tokio::test]
async fn a_postgres_responder_has_no_extract_to_load() {
    let s = serve_with(&me(), &["responder-admin"], |d| ResponderSettings {
        source: SourceSettings::Postgres(PostgresSettings {
            url: "postgres://nobody@127.0.0.1:1/none".to_owned().into(),
            pool_size: 1,
            statement_timeout_secs: 1,
            identity_query: "SELECT 1".to_owned(),
            categories: Default::default(),
        }),
        ..extract_settings(d, BusSettings::default())
    });
    let extract = s.path("extract.csv");
    write_extract(&extract, &[Line::new(&nir(1))]);
    let e = s.client.upload::<LoadAnswer>(&query(ReportName::Human).path(), &extract).await.unwrap_err();
    assert_eq!(e.code(), Some("not_an_extract_source"), "{e:?}");
    assert!(e.to_string().contains("source is PostgreSQL"), "{e}");
    s.server.stop().await;
}

#[tokio::test]
async fn options_the_daemon_does_not_understand_are_a_bad_request() {
    let s = serve(&["responder-admin"]);
    let extract = s.path("extract.csv");
    write_extract(&extract, &[Line::new(&nir(1))]);
    let e = s.client.upload::<LoadAnswer>("/v1/extract?encoding=latin-9", &extract).await.unwrap_err();
    assert_eq!(e.code(), Some("bad_request"), "{e:?}");
    assert!(e.to_string().contains("encoding=utf-8|windows-1252"), "{e}");
    assert!(!s.settings.index_path().exists());
    s.server.stop().await;
}

/// A load through the API is a `create` by the agent, of the extract's id, in the daemon's
/// access log; a load the guard refuses writes nothing; the log verifies and holds no NIR.
#[tokio::test]
async fn a_load_is_recorded_as_a_create_by_the_agent_and_the_log_holds_no_nir() {
    let s = serve(&["responder-admin"]);
    let extract = s.path("extract.csv");
    write_extract(&extract, &(1..=10).map(|n| Line::new(&nir(n)).rsa("oui")).collect::<Vec<_>>());
    let answer: LoadAnswer = s.client.upload(&query(ReportName::Human).path(), &extract).await.unwrap();
    let extract_id = loaded(&answer).index.extract_id.clone();
    write_extract(&extract, &[Line::new(&nir(1))]);
    let kept: LoadAnswer = s.client.upload(&query(ReportName::Human).path(), &extract).await.unwrap();
    assert!(matches!(kept.outcome, LoadOutcome::Kept { .. }), "{kept:?}");

    let entries = access_entries(&s.accesses);
    assert_eq!(entries.len(), 1, "one load installed, one entry: {entries:?}");
    let e = &entries[0];
    assert_eq!((e.agent.as_str(), e.kind, e.object.as_str()), ("agent:agent-0007", AccessKind::Create, &*extract_id));
    assert!(!e.concerns_person);
    assert!(s.accesses.log().verify().unwrap().is_intact());
    let bytes = access_log_bytes(&s.settings.data_dir);
    assert!(!bytes.is_empty());
    for n in 1..=10 {
        assert!(!bytes_contain(&bytes, nir(n).as_str()), "no NIR in access.db");
    }
    s.server.stop().await;
}
