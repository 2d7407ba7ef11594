//! A case file's transfer between two bodies' social services (norm 43, A.3) as real processes
//! on real RabbitMQ: two `social-service run` daemons, A (carsat-sud-est/ss-13) and B
//! (cramif/ss-75), each with its own broker user, on a vhost of the test's own whose topology
//! and permissions are the definitions `topology export` writes, imported — the production
//! identities and least privilege. A opens its files through a fake requester served by the test
//! (synthetic persons); B confirms attachment from a membership extract that lists some of them.
//! The commands are the operators' and agents' own (`social-service transfer`, `transfers …`,
//! `show`, `ctl status`); the forged and malformed messages are published with A's broker user
//! through the bus. Every wait polls a command or the broker with a deadline.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::routing::post;
use axum::{Json, Router};
use passerelle_agents::{Agent, Registry, Role as AgentRole};
use passerelle_bus::{AmqpBus, Bus, BusSettings, Message, Outgoing, Queue, Role};
use passerelle_hooks::DevelopmentSettings;
use passerelle_local_api::{ApiError, ApiServer, Caller, KeptAccesses, RegistryHandle};
use passerelle_party::process::SpawnedParty;
use passerelle_party::PartySettings;
use passerelle_protocol::v1;
use passerelle_social_service::requester_client::*;
use passerelle_social_service::settings::MembershipSource;
use passerelle_social_service::SocialServiceSettings;
use passerelle_test_support::{amqp_url, broker, broker_reachable_or_skip, rabbitmqctl, unique, User, Vhost};
use serde_json::Value;

use crate::social_daemon::me;

/// The sending social service, the receiving one, and a third one of the deployment (the party a
/// forged transfer claims to come from).
const A: (&str, &str) = ("carsat-sud-est", "ss-13");
const B: (&str, &str) = ("cramif", "ss-75");
const C: (&str, &str) = ("msa-provence-azur", "ss-84");
/// A health-insurance social service A's settings know of, but which has no queue on the broker.
const NO_QUEUE: (&str, &str) = ("cgss-reunion", "ss-974");

const CASE: &str = "0190a3b4-0000-7000-8000-0000000000d1";
/// How long a daemon may take to start, a transfer to settle.
const WAIT: Duration = Duration::from_secs(90);

fn party((body, office): (&str, &str)) -> String {
    format!("{body}.{office}")
}

fn address((body, office): (&str, &str)) -> String {
    format!("{body}/{office}")
}

/// The synthetic person of the worklist's line `line`.
fn person(line: u64) -> (String, String) {
    const NAMES: [&str; 9] =
        ["Aubrelle", "Bastidon", "Chevrande", "Durassol", "Estavin", "Fabrelle", "Garnoux", "Hugonnet", "Imbarde"];
    (passerelle_test_support::nir_with_key(&format!("18405751234{line:02}")), NAMES[line as usize - 1].to_owned())
}

/// Lines 1 to 9 of the worklist; B's extract lists all but [`NOT_ATTACHED`].
const NOT_ATTACHED: u64 = 3;

/// The broker: a vhost of the test's own holding the definitions `topology export` writes for a
/// deployment of the three social services, each with its own broker user; the test broker's
/// own user may read it (the dead-letters).
struct Broker {
    vhost: Vhost,
    settings: BusSettings,
    users: BTreeMap<String, User>,
}

impl Broker {
    fn imported() -> Broker {
        let vhost = Vhost::reserved();
        let tag = unique();
        let mut settings = BusSettings {
            urls: vec![broker::url(&vhost.name, "x", "x")],
            observatories: vec!["carsat-sud-est".into()],
            ..Default::default()
        };
        settings.identity.insecure_any_user = false;
        for (body, office) in [A, B, C] {
            settings.social_services.entry(body.to_owned()).or_default().push(office.to_owned());
            settings.identity.users.insert(format!("test-{tag}-{office}"), vec![party((body, office))]);
        }
        let definitions = passerelle_bus::definitions::definitions(&settings).unwrap();
        let file = std::env::temp_dir().join(format!("passerelle-definitions-{tag}.json"));
        std::fs::write(&file, serde_json::to_vec_pretty(&definitions).unwrap()).unwrap();
        rabbitmqctl(&["import_definitions", file.to_str().unwrap()]);
        std::fs::remove_file(&file).unwrap();
        let own = broker::credentials(&amqp_url()).0;
        rabbitmqctl(&["set_permissions", "-p", &vhost.name, &own, ".*", ".*", ".*"]);
        let users = [A, B, C].map(|p| (party(p), User::imported(&format!("test-{tag}-{}", p.1)))).into_iter().collect();
        Broker { vhost, settings, users }
    }

    /// The deployment's settings as `of`'s broker user. A also knows of [`NO_QUEUE`], which
    /// the broker has no queue for.
    fn as_party(&self, of: (&str, &str)) -> BusSettings {
        let mut settings = BusSettings { urls: vec![self.users[&party(of)].url(&self.vhost)], ..self.settings.clone() };
        if of == A {
            settings.social_services.insert(NO_QUEUE.0.into(), vec![NO_QUEUE.1.into()]);
        }
        settings
    }

    /// A bus connected as `of`'s broker user.
    async fn bus(&self, of: (&str, &str)) -> AmqpBus {
        AmqpBus::connect(&self.as_party(of), Role::SocialService(party(of))).await.expect("connected as its own user")
    }

    /// A raw connection as the test broker's own user (it reads the dead-letters).
    async fn raw(&self) -> lapin::Connection {
        lapin::Connection::connect(&self.vhost.url(), lapin::ConnectionProperties::default()).await.unwrap()
    }
}

/// A fake requester daemon for A: its outcome route opens the person of the line asked.
fn fake_requester() -> Router {
    Router::new().route(
        "/v1/worklist/outcome",
        post(|caller: Caller, Json(r): Json<OutcomeRequest>| async move {
            caller.require_in_office(AgentRole::SocialService, "cpam-13")?;
            let agent = caller.relayed_agent()?.unwrap_or("none").to_owned();
            let (nir, family_name) = person(r.line);
            let person = (r.outcome == Outcome::Accepted).then(|| AcceptedPerson {
                nir,
                former_nirs: vec![],
                family_name,
                usage_name: None,
                given_names: "Alix".into(),
                sex: Some("female".into()),
                birth_year: Some(1950),
                commune_code: Some("13055".into()),
                postal_address: None,
                email: None,
                phone: None,
                values: BTreeMap::new(),
            });
            let date = r.date.ok_or_else(|| ApiError::bad_request("an outcome is dated"))?;
            Ok::<_, ApiError>(Json(OutcomeAnswer {
                format: OUTCOME_FORMAT.into(),
                office: "cpam-13".into(),
                case: r.case,
                line: r.line,
                outcome: r.outcome,
                date,
                agent,
                person,
            }))
        }),
    )
}

/// One social service's daemon, its folder and its settings file.
struct Office {
    config: PathBuf,
    settings: SocialServiceSettings,
    daemon: SpawnedParty,
}

impl Office {
    /// Writes the settings of `of` in `root` (its store, archive, socket, registry — the test's
    /// account a social worker, medical officer and operator of the office — and with
    /// `membership` the extract of its attached insured), and starts its daemon, healthy.
    fn start(broker: &Broker, root: &Path, of: (&str, &str), requester_socket: &Path, membership: bool) -> Office {
        std::fs::create_dir_all(root).unwrap();
        std::fs::write(
            root.join("agents.toml"),
            format!(
                "[[agent]]\naccount = \"{}\"\nid = \"agent-{}\"\nname = \"Agent Test\"\n\
                 roles = [\"social-worker\", \"medical-officer\", \"operator\"]\noffice = \"{}\"\n",
                me(),
                of.1,
                of.1
            ),
        )
        .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut settings = SocialServiceSettings::for_dir(of.0, of.1, root, requester_socket, "cpam-13");
        settings.archive_dir = Some(root.join("archive"));
        settings.metrics_addr = Some(format!("127.0.0.1:{port}"));
        settings.api.socket = Some(root.join("run").join("social-service.sock"));
        settings.agents.registry = Some(root.join("agents.toml"));
        settings.broker = Some(broker.as_party(of));
        if membership {
            let members: String =
                (1..=9).filter(|line| *line != NOT_ATTACHED).map(|line| format!("{},x\n", person(line).0)).collect();
            std::fs::write(root.join("members.csv"), format!("nir,other\n{members}")).unwrap();
            settings.transfers.membership = Some(MembershipSource::Extract { path: root.join("members.csv") });
        }
        let config = root.join("social-service.toml");
        let party_settings = PartySettings::SocialService(settings.clone());
        party_settings.write(&config).unwrap();
        let daemon = SpawnedParty::new(
            format!("social-service {}", of.1),
            env!("CARGO_BIN_EXE_passerelle"),
            &party_settings,
            &config,
            root.join("daemon.log"),
        )
        .unwrap()
        .env_remove("PASSERELLE_LOG_FORMAT");
        let mut office = Office { config, settings, daemon };
        office.spawn_healthy();
        office
    }

    fn spawn_healthy(&mut self) {
        self.daemon.spawn().unwrap();
        self.daemon.wait_healthy(Instant::now() + WAIT).unwrap_or_else(|e| panic!("{e:#}"));
    }

    /// Rewrites its development hooks (fault points, clock offset), read at its next start.
    fn set_development(&mut self, development: DevelopmentSettings) {
        self.settings.development = development;
        PartySettings::SocialService(self.settings.clone()).write(&self.config).unwrap();
    }

    /// Runs `passerelle social-service ARGS --config CONFIG`.
    async fn cli(&self, args: &[&str]) -> (i32, String, String) {
        run(&["social-service"], args, &self.config).await
    }

    /// Runs a command that must succeed with `--json`, and its answer.
    async fn json(&self, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.push("--json");
        let (code, out, err) = self.cli(&args).await;
        assert_eq!(code, 0, "social-service {args:?}: {err}{}", self.daemon.log_tail());
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {out}"))
    }

    /// Opens the file of the worklist's line `line`; its id.
    async fn open(&self, line: u64) -> String {
        let opened = self.json(&["open", "--case", CASE, "--line", &line.to_string()]).await;
        opened["file"].as_str().expect("the opened file's id").to_owned()
    }

    /// The office's transfers (`transfers list`), by id.
    async fn transfers(&self) -> BTreeMap<String, Value> {
        let list = self.json(&["transfers", "list"]).await;
        list["transfers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["id"].as_str().unwrap().to_owned(), t.clone()))
            .collect()
    }

    /// Waits until transfer `id` is in `state` here; the transfer.
    async fn wait_state(&self, id: &str, state: &str) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let transfers = self.transfers().await;
            if let Some(t) = transfers.get(id).filter(|t| t["state"] == state) {
                return t.clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "transfer {id} never reached `{state}` at {}: {transfers:?}{}",
                self.settings.office,
                self.daemon.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The office's files (`list`), their ids.
    async fn files(&self) -> Vec<String> {
        let list = self.json(&["list"]).await;
        list["files"].as_array().unwrap().iter().map(|f| f["file"].as_str().unwrap().to_owned()).collect()
    }
}

/// A stand-in RabbitMQ management API answering one request with `queues`; its URL, and the
/// request's head once answered.
fn one_answer_management_api(queues: &'static str) -> (String, std::thread::JoinHandle<String>) {
    use std::io::{BufRead, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        let mut stream = stream;
        let answer = format!(
            "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{queues}",
            queues.len()
        );
        stream.write_all(answer.as_bytes()).unwrap();
        head
    });
    (url, server)
}

/// Runs `passerelle GROUP… ARGS --config CONFIG` to its end.
async fn run(group: &[&str], args: &[&str], config: &Path) -> (i32, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_passerelle"))
        .args(group)
        .args(args)
        .arg("--config")
        .arg(config)
        .env_remove("PASSERELLE_LOG_FORMAT")
        .output()
        .await
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

/// A's fake requester, served by the test while it runs.
async fn requester(root: &Path) -> (ApiServer, PathBuf) {
    let socket = root.join("run").join("requester.sock");
    let registry = Registry::from_agents([Agent {
        account: me(),
        id: "svc-social".into(),
        name: "Service social".into(),
        roles: BTreeSet::from([AgentRole::SocialService]),
        office: Some("cpam-13".into()),
    }]);
    let server =
        ApiServer::start(&socket, fake_requester(), RegistryHandle::fixed(registry), Arc::new(KeptAccesses::default()))
            .unwrap();
    (server, socket)
}

/// The sending office A and the receiving office B, started; B checks attachment against its
/// membership extract, or (`membership` false) its social worker decides.
async fn two_offices(broker: &Broker, root: &Path, membership: bool) -> (Office, Office, ApiServer) {
    let (server, socket) = requester(root).await;
    let a = Office::start(broker, &root.join("a"), A, &socket, true);
    let b =
        Office::start(broker, &root.join("b"), B, &root.join("b").join("run").join("no-requester.sock"), membership);
    (a, b, server)
}

/// Sends the file `file` from A to B; the transfer's id.
async fn send(a: &Office, file: &str, extra: &[&str]) -> String {
    let mut args = vec!["transfer", "--file", file, "--to", "cramif/ss-75"];
    args.extend_from_slice(extra);
    let sent = a.json(&args).await;
    assert_eq!(sent["format"], "passerelle.social-service-transfers/1", "{sent}");
    assert!(matches!(sent["state"].as_str(), Some("sending" | "sent")), "{sent}");
    sent["id"].as_str().expect("the transfer's id").to_owned()
}

/// The file of B whose origin is A and which came with `transfer` (by its `file` once accepted).
async fn received_file(b: &Office, transfer: &str) -> Value {
    let t = b.wait_state(transfer, "accepted").await;
    let file = t["file"].as_str().expect("the imported file's id at B").to_owned();
    b.json(&["show", &file]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_travels_with_what_was_released_and_the_sender_keeps_it_closed_and_frozen() {
    if !broker_reachable_or_skip(&amqp_url()) {
        return;
    }
    let broker = Broker::imported();
    let dir = tempfile::tempdir().unwrap();
    let (mut a, mut b, requester) = two_offices(&broker, dir.path(), true).await;

    // File 1: a history (a contact, an offer), a medical opinion and an assessment; the medical
    // officer releases the opinions, the social worker keeps the assessment.
    let released = a.open(1).await;
    for args in [
        vec!["contact", &released, "--channel", "visit", "--date", "2026-11-02"],
        vec!["offer", &released, "--kind", "individual", "--theme", "home_help"],
        vec!["update", &released, "--set", r#"medical.opinions=[{"kind":"unfit_for_work","date":"2026-10-01"}]"#],
        vec!["update", &released, "--set", r#"social_situation.assessment="Isolement marqué.""#],
    ] {
        a.json(&args).await;
    }
    let release = a.json(&["transfers", "release", "--file", &released, "--to", "cramif/ss-75"]).await;
    assert_eq!(release["item"], "medical-opinions", "{release}");
    let first = send(&a, &released, &[]).await;
    // File 2: the same, nothing released.
    let kept = a.open(2).await;
    a.json(&["update", &kept, "--set", r#"medical.opinions=[{"kind":"consolidation","date":"2026-09-01"}]"#]).await;
    let second = send(&a, &kept, &[]).await;

    // B holds exactly what the rules say.
    let at_b = received_file(&b, &first).await;
    let fields = &at_b["fields"];
    assert!(fields.get("medical.opinions").is_some_and(|v| !v.is_null()), "released, it travelled: {at_b}");
    assert!(fields.get("social_situation.assessment").is_none_or(Value::is_null), "not released: {at_b}");
    assert_eq!(at_b["actions"][0]["contacts"][0]["channel"], "visit", "{at_b}");
    assert!(!at_b.to_string().contains("agent-ss-13"), "no agent of the sender travels: {at_b}");
    let withheld = b.wait_state(&first, "accepted").await["withheld"].clone();
    assert_eq!(withheld, serde_json::json!(["social-assessment"]), "the receiver is told what stays at A");
    let at_b = received_file(&b, &second).await;
    assert!(at_b["fields"].get("medical.opinions").is_none_or(Value::is_null), "not released: {at_b}");
    let withheld = b.wait_state(&second, "accepted").await["withheld"].clone();
    assert!(withheld.as_array().unwrap().contains(&Value::from("medical-opinions")), "{withheld}");
    assert_eq!(b.files().await.len(), 2, "two files imported at B, once each");

    // A: accepted, its copy closed at the transfer date and frozen against new actions.
    let accepted = a.wait_state(&first, "accepted").await;
    assert_eq!(accepted["direction"], "out");
    let at_a = a.json(&["show", &released]).await;
    let actions = at_a["actions"].as_array().unwrap();
    assert!(!actions.is_empty() && actions.iter().all(|x| !x["end"].is_null()), "closed: {at_a}");
    let (code, _, err) = a.cli(&["action", &released, "--purpose", "relationship_and_offers"]).await;
    assert_eq!(code, 2, "a frozen file takes no new action: {err}");
    let (code, _, err) = a.cli(&["contact", &released, "--channel", "phone"]).await;
    assert_eq!(code, 2, "nor a new contact: {err}");

    // A person not attached to B (not in its membership extract): refused with that reason, and
    // A's file unfrozen.
    let stranger = a.open(NOT_ATTACHED).await;
    let third = send(&a, &stranger, &[]).await;
    let refused = a.wait_state(&third, "refused").await;
    assert_eq!(refused["refusal"], "person-not-attached", "{refused}");
    let (code, out, err) = a.cli(&["transfers", "show", &third]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("person-not-attached") && out.contains("unfrozen"), "{out}");
    let (code, _, err) = a.cli(&["contact", &stranger, "--channel", "phone"]).await;
    assert_eq!(code, 0, "unfrozen, the file takes a contact again: {err}");
    assert_eq!(b.files().await.len(), 2, "nothing imported for the refused transfer");

    // The operators' view: counts at both ends.
    let (code, out, err) = run(&["ctl", "status"], &["--json", "--no-management"], &a.config).await;
    assert_eq!(code, 0, "{err}");
    let status: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["format"], "passerelle.ctl-status-social-service/1");
    assert_eq!(status["social_service"], "carsat-sud-est.ss-13");
    assert_eq!(status["transfers"]["accepted_out"], 2, "{status}");
    assert_eq!(status["transfers"]["refused_by_reason"]["person-not-attached"], 1, "{status}");
    let (code, out, err) = run(&["ctl", "status"], &[], &b.config).await;
    assert_eq!(code, 0, "{err}");
    println!("{out}");
    assert!(out.contains("Social service cramif.ss-75") && out.contains("2 received"), "{out}");
    assert!(out.contains("social-service.cramif.ss-75.transfers") || out.contains("not available"), "{out}");
    // With the management API, B's two queues, counts only.
    let (url, head) = one_answer_management_api(
        r#"[{"name":"passerelle.social-service.cramif.ss-75.transfers","messages_ready":0,"messages_unacknowledged":0,"consumers":1},
            {"name":"passerelle.social-service.cramif.ss-75.notices","messages_ready":2,"messages_unacknowledged":0,"consumers":0},
            {"name":"passerelle.social-service.carsat-sud-est.ss-13.transfers","messages_ready":5,"messages_unacknowledged":0,"consumers":1}]"#,
    );
    let (code, out, err) = run(&["ctl", "status"], &["--json", "--management-url", &url], &b.config).await;
    assert_eq!(code, 0, "{err}");
    assert!(head.join().unwrap().starts_with(&format!("GET /api/queues/{}?", broker.vhost.name)));
    let status: Value = serde_json::from_str(&out).unwrap();
    let queues: Vec<(&str, u64)> = status["queues"]["queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| (q["name"].as_str().unwrap(), q["ready"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        queues,
        [
            ("passerelle.social-service.cramif.ss-75.notices", 2),
            ("passerelle.social-service.cramif.ss-75.transfers", 0)
        ],
        "its own two queues only: {status}"
    );
    let metrics = passerelle_party::process::http_get(a.daemon.health(), "/metrics").map(|(_, m)| m).unwrap();
    assert!(metrics.contains("passerelle_social_service_transfers_total"), "{metrics}");

    a.daemon.stop(Duration::from_secs(30)).unwrap();
    b.daemon.stop(Duration::from_secs(30)).unwrap();
    requester.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_commit_and_publish_and_one_between_import_and_receipt_settle_the_transfer_once() {
    if !broker_reachable_or_skip(&amqp_url()) {
        return;
    }
    let broker = Broker::imported();
    let dir = tempfile::tempdir().unwrap();
    let (mut a, mut b, requester) = two_offices(&broker, dir.path(), true).await;
    let file = a.open(4).await;

    // A dies (as by kill -9) once the transfer is committed, before the broker has it; B dies
    // once the file is imported, before its receipt is published.
    let fault = |point: &str| DevelopmentSettings { fault_points: vec![point.into()], ..Default::default() };
    a.set_development(fault("social-service.after_commit_before_publish"));
    b.set_development(fault("social-service.after_import_before_receipt"));
    a.daemon.stop(Duration::from_secs(30)).unwrap();
    b.daemon.stop(Duration::from_secs(30)).unwrap();
    a.spawn_healthy();
    b.spawn_healthy();
    let (code, out, err) = a.cli(&["transfer", "--file", &file, "--to", "cramif/ss-75", "--json"]).await;
    let status = a.daemon.wait_exit(Instant::now() + WAIT).expect("A stops at its fault point");
    assert_eq!(status.code(), Some(passerelle_hooks::FAULT_EXIT_CODE), "{}", a.daemon.log_tail());
    // The answer may or may not have left before the process died: the commit stands either way.
    let id =
        if code == 0 { serde_json::from_str::<Value>(&out).unwrap()["id"].as_str().map(str::to_owned) } else { None };
    println!("A's transfer command: exit {code}: {err}");
    assert!(b.files().await.is_empty(), "nothing was published: B has no file yet");

    a.set_development(DevelopmentSettings::default());
    a.spawn_healthy();
    let status = b.daemon.wait_exit(Instant::now() + WAIT).expect("B stops at its fault point");
    assert_eq!(status.code(), Some(passerelle_hooks::FAULT_EXIT_CODE), "{}", b.daemon.log_tail());
    b.set_development(DevelopmentSettings::default());
    b.spawn_healthy();

    let sent = a.transfers().await;
    assert_eq!(sent.len(), 1, "one transfer at A, whatever the crash: {sent:?}");
    let id = id.unwrap_or_else(|| sent.keys().next().unwrap().clone());
    a.wait_state(&id, "accepted").await;
    b.wait_state(&id, "accepted").await;
    assert_eq!(b.files().await.len(), 1, "exactly one file at B after both crashes");
    let received = b.transfers().await;
    assert_eq!(received.len(), 1, "one transfer received: {received:?}");
    let (code, out, _) = run(&["ctl", "status"], &["--json", "--no-management"], &a.config).await;
    assert_eq!(code, 0);
    let status: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["transfers"]["accepted_out"], 1, "A settled once: {status}");
    assert_eq!(status["transfers"]["out_in_flight"], 0, "{status}");

    a.daemon.stop(Duration::from_secs(30)).unwrap();
    b.daemon.stop(Duration::from_secs(30)).unwrap();
    requester.stop().await;
}

/// A hand-made transfer from A to B: its sender claimed as `sender`, and for `malformed` a basis
/// other than norm 43 A.3 and no file.
fn handmade(sender: (&str, &str), malformed: bool) -> (String, Outgoing) {
    let id = uuid::Uuid::now_v7().to_string();
    let address = |(body, office): (&str, &str)| v1::SocialServiceAddress { body: body.into(), office: office.into() };
    let transfer = v1::Transfer {
        schema_version: 1,
        sender: party(sender),
        transfer_id: id.clone(),
        from: Some(address(sender)),
        to: Some(address(B)),
        basis: if malformed { 0 } else { v1::LegalBasis::Norm43A3 as i32 },
        chunk_index: 0,
        chunk_count: 1,
        ..Default::default()
    };
    let expires = SystemTime::now() + Duration::from_secs(3600);
    (id, Outgoing::new(Message::Transfer(transfer), party(B), expires))
}

/// Everything waiting in `queue`, taken (auto-ack) as the connection's user.
async fn take(conn: &lapin::Connection, queue: &str) -> Result<Vec<lapin::message::BasicGetMessage>, lapin::Error> {
    let ch = conn.create_channel().await?;
    let mut out = Vec::new();
    while let Some(m) = ch.basic_get(queue.into(), lapin::options::BasicGetOptions { no_ack: true }).await? {
        out.push(m);
    }
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_before_sending_and_at_the_receiver_and_a_forged_sender_answered_by_nobody() {
    if !broker_reachable_or_skip(&amqp_url()) {
        return;
    }
    let broker = Broker::imported();
    let dir = tempfile::tempdir().unwrap();
    let (mut a, mut b, requester) = two_offices(&broker, dir.path(), true).await;
    let file = a.open(5).await;

    // Not a health-insurance social service: refused before anything is sent.
    for (to, why) in [("caf-13/ss-1", "CAF"), ("cnav-idf/ss-1", "pension")] {
        let (code, _, err) = a.cli(&["transfer", "--file", &file, "--to", to]).await;
        assert_eq!(code, 2, "{to}: {err}");
        assert!(err.contains(why), "{to}: the reason is said: {err}");
    }
    let (code, _, err) = a.cli(&["transfer", "--file", &file, "--to", "cramif"]).await;
    assert_eq!(code, 2, "not BODY/OFFICE: {err}");
    assert!(err.contains("BODY/OFFICE"), "{err}");
    assert!(a.transfers().await.is_empty(), "nothing was sent");

    // A social service with no queue on the broker: unroutable, refused unknown-office.
    let (code, out, err) = a.cli(&["transfer", "--file", &file, "--to", &address(NO_QUEUE), "--json"]).await;
    println!("a transfer to a social service with no queue: exit {code}: {out}{err}");
    if code == 0 {
        let id = serde_json::from_str::<Value>(&out).unwrap()["id"].as_str().unwrap().to_owned();
        let refused = a.wait_state(&id, "refused").await;
        assert_eq!(refused["refusal"], "unknown-office", "{refused}");
    } else {
        assert_eq!(code, 2, "refused before sending: {err}");
        assert!(err.contains("unknown office") || err.contains("unknown-office"), "{err}");
    }
    let (code, _, err) = a.cli(&["contact", &file, "--channel", "phone"]).await;
    assert_eq!(code, 0, "the file is not frozen by a transfer that went nowhere: {err}");

    // The next messages are A's broker user's own, published without A's daemon.
    a.daemon.stop(Duration::from_secs(30)).unwrap();
    let bus_a = broker.bus(A).await;
    // A malformed file: B answers file-malformed, on A's transfers queue.
    let (malformed, transfer) = handmade(A, true);
    bus_a.publish(vec![transfer]).await.unwrap();
    // A forged sender: A's user claims to be C. Dead-lettered; nobody answered.
    let (forged, transfer) = handmade(C, false);
    bus_a.publish(vec![transfer]).await.unwrap();

    let raw_a =
        lapin::Connection::connect(&broker.users[&party(A)].url(&broker.vhost), Default::default()).await.unwrap();
    let a_queue = Queue::SocialServiceTransfers(party(A)).name(&broker.settings.prefix);
    let receipt = passerelle_test_support::eventually_async("B's receipt of the malformed transfer", || async {
        take(&raw_a, &a_queue).await.unwrap().into_iter().next()
    })
    .await;
    let decoded = Message::decode(passerelle_bus::Kind::TransferReceipt, &receipt.delivery.data).unwrap();
    let Message::TransferReceipt(receipt) = decoded else { panic!("not a receipt: {decoded:?}") };
    assert_eq!(receipt.transfer_id, malformed);
    assert!(!receipt.accepted);
    assert_eq!(receipt.refusal, v1::TransferRefusal::FileMalformed as i32, "{receipt:?}");
    assert_eq!(receipt.sender, party(B));

    let raw = broker.raw().await;
    let dead_letters = passerelle_bus::topology::transfers_dead_letter_queue(&broker.settings.prefix);
    let dead = passerelle_test_support::eventually_async("the forged transfer dead-lettered", || async {
        let taken = take(&raw, &dead_letters).await.unwrap();
        taken
            .into_iter()
            .find(|m| m.delivery.properties.correlation_id().as_ref().is_some_and(|c| c.as_str() == forged))
    })
    .await;
    let header = |key: &str| match dead.delivery.properties.headers().as_ref()?.inner().get(key)? {
        lapin::types::AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        _ => None,
    };
    let b_queue = Queue::SocialServiceTransfers(party(B)).name(&broker.settings.prefix);
    assert_eq!(header("x-first-death-queue"), Some(b_queue.clone()), "refused on B's queue");
    assert_eq!(
        dead.delivery.properties.user_id().as_ref().map(|u| u.to_string()),
        Some(broker.users[&party(A)].name.clone())
    );
    assert!(take(&raw_a, &a_queue).await.unwrap().is_empty(), "A was not answered about the forgery");
    let c_queue = Queue::SocialServiceTransfers(party(C)).name(&broker.settings.prefix);
    assert!(take(&raw, &c_queue).await.unwrap().is_empty(), "nor was C, whom it claimed to be");
    let received = b.transfers().await;
    assert!(!received.contains_key(&forged), "B keeps nothing of the forgery: {received:?}");

    // Least privilege: A's user cannot read B's transfers queue.
    let err = take(&raw_a, &b_queue).await.expect_err("A's user reading B's transfers queue");
    assert!(err.to_string().contains("ACCESS_REFUSED"), "{err}");
    let ch = raw_a.create_channel().await.unwrap();
    let consumed = ch
        .basic_consume(
            b_queue.as_str().into(),
            "".into(),
            lapin::options::BasicConsumeOptions::default(),
            lapin::types::FieldTable::default(),
        )
        .await;
    let Err(err) = consumed else { panic!("A's user consumed B's transfers queue") };
    assert!(err.to_string().contains("ACCESS_REFUSED"), "{err}");

    bus_a.close().await;
    b.daemon.stop(Duration::from_secs(30)).unwrap();
    requester.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_receiver_down_for_an_hour_the_transfer_waits_pending_and_is_accepted_once_it_is_back() {
    if !broker_reachable_or_skip(&amqp_url()) {
        return;
    }
    let broker = Broker::imported();
    let dir = tempfile::tempdir().unwrap();
    let (mut a, mut b, requester) = two_offices(&broker, dir.path(), false).await;
    let file = a.open(6).await;
    let followed = a.open(7).await;
    b.daemon.stop(Duration::from_secs(30)).unwrap();

    let id = send(&a, &file, &[]).await;
    let refused = send(&a, &followed, &[]).await;
    let pending = a.wait_state(&id, "sent").await;
    assert!(pending["decided_at"].is_null(), "{pending}");
    let (code, out, _) = a.cli(&["transfers", "list", "--out"]).await;
    assert_eq!(code, 0);
    assert!(out.contains(&id) && out.contains("sent"), "A shows it pending: {out}");

    // An hour later on both clocks, B still down: still pending at A.
    let later = DevelopmentSettings { clock_offset_s: Some(3600), ..Default::default() };
    a.daemon.stop(Duration::from_secs(30)).unwrap();
    a.set_development(later.clone());
    a.spawn_healthy();
    let (code, out, _) = run(&["ctl", "status"], &["--json", "--no-management"], &a.config).await;
    assert_eq!(code, 0);
    let status: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["transfers"]["out_in_flight"], 2, "{status}");
    assert_eq!(a.transfers().await[&id]["state"], "sent");

    // B back: the transfers arrive and wait for its social worker, who checks the person and
    // accepts one, and refuses the other (the office already follows that person).
    b.set_development(later);
    b.spawn_healthy();
    b.wait_state(&id, "awaiting-attachment").await;
    b.wait_state(&refused, "awaiting-attachment").await;
    let (code, out, err) = b.cli(&["transfers", "list", "--in"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&id) && out.contains("awaiting-attachment"), "{out}");
    let (code, out, err) = b.cli(&["transfers", "show", &id]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&person(6).1) && out.contains("transfers accept"), "the person to check: {out}");
    assert_eq!(a.transfers().await[&id]["state"], "sent", "still pending at A until B decides");
    let (code, out, err) = b.cli(&["transfers", "accept", &id]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("imported"), "{out}");
    let (code, _, err) = b.cli(&["transfers", "refuse", &refused, "--reason", "already-followed"]).await;
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = b.cli(&["transfers", "accept", &refused]).await;
    assert_eq!(code, 2, "a decided transfer is not decided again: {err}");
    a.wait_state(&id, "accepted").await;
    assert_eq!(a.wait_state(&refused, "refused").await["refusal"], "already-followed");
    assert_eq!(b.files().await.len(), 1, "one file imported");
    assert_eq!(a.transfers().await.len(), 2);

    a.daemon.stop(Duration::from_secs(30)).unwrap();
    b.daemon.stop(Duration::from_secs(30)).unwrap();
    requester.stop().await;
}

/// What runs without a daemon: the flow in the help, and a destination of the wrong shape
/// refused as a usage error before any call.
#[test]
fn the_help_teaches_the_flow_and_a_destination_of_the_wrong_shape_is_a_usage_error() {
    let help = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_passerelle")).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let text = help(&["social-service", "transfer", "--help"]);
    for step in ["transfers release --file FILE", "transfer --file FILE --to cramif/ss-75", "transfers accept ID"] {
        assert!(text.contains(step), "`transfer --help` shows `{step}`: {text}");
    }
    assert!(text.contains("never a CAF or a pension service"), "{text}");
    assert!(text.contains("Exit status:") && text.contains("2   refused before sending"), "{text}");
    let text = help(&["social-service", "transfers", "refuse", "--help"]);
    assert!(text.contains("person-not-attached") && text.contains("already-followed"), "{text}");
    let text = help(&["ctl", "status", "--help"]);
    assert!(text.contains("a social service's settings"), "{text}");

    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_passerelle"))
        .args(["social-service", "transfer", "--file", "f-1", "--to", "cramif.ss-75", "--socket"])
        .arg(dir.path().join("none.sock"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("BODY/OFFICE (e.g. cramif/ss-75)"), "{err}");
}

/// `ctl status` recognises a social service's settings and asks its daemon: none running here,
/// so the runtime failure names the daemon it looked for.
#[test]
fn ctl_status_on_a_social_service_asks_the_social_service_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("social-service.toml");
    let settings = SocialServiceSettings::for_dir("cramif", "ss-75", dir.path(), &dir.path().join("r.sock"), "cpam-75");
    PartySettings::SocialService(settings).write(&config).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_passerelle"))
        .args(["ctl", "status", "--no-management", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("social-service run"), "the daemon it looked for: {err}");
}
