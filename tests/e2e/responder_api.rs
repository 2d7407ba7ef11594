//! `passerelle responder load` through a running responder daemon (`responder run`, real broker,
//! its local API on a Unix socket): the first extract is loaded without a daemon (the daemon
//! needs one to start); then an `operator` is refused (exit 6, the role named), and once the
//! registry makes the test's account a `responder-admin` (SIGHUP) the extract is streamed to the
//! daemon, which indexes the good lines, reports the bad one by its number, and logs the agent
//! and the counts, never a NIR. Its access log holds each load (`create`, by `os-user:<account>`
//! without the daemon, by the agent through it) and each refusal, and no NIR.

use crate::support;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use passerelle_access_log::{AccessKind, Accesses};
use passerelle_bus::amqp::AmqpBus;
use passerelle_bus::{BusSettings, Role};
use passerelle_party::process::SpawnedParty;
use passerelle_party::{PartyKind, PartySettings};
use passerelle_protocol::nir;
use passerelle_test_support::{eventually_blocking, Vhost};
use support::proxy::free_port;

/// How long the daemon has to start, stop, or take a registry in.
const WAIT: Duration = Duration::from_secs(90);

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A synthetic NIR (a man born in 1950 in Paris, made-up commune and order numbers).
fn synthetic_nir(i: u32) -> String {
    nir::with_key(&format!("1500175{:03}{:03}", i / 999 + 1, i % 999 + 1)).unwrap().as_str().to_owned()
}

fn load(config: &Path, extract: &Path, extra: &[&str]) -> Output {
    support::passerelle()
        .args(["responder", "load"])
        .args(extra)
        .arg("--config")
        .arg(config)
        .arg(extract)
        .output()
        .unwrap()
}

fn hang_up(daemon: &SpawnedParty) {
    let pid = rustix::process::Pid::from_raw(daemon.pid().expect("running") as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::HUP).unwrap();
}

#[test]
fn responder_load_goes_through_the_daemon_for_a_responder_admin_only() {
    let url = support::amqp_url();
    if !support::broker_reachable_or_skip(&url) {
        return;
    }
    let vhost = Vhost::new();
    let dir = tempfile::tempdir().unwrap();
    let registry = support::write_registry(dir.path(), &["operator"]);
    let prefix = passerelle_test_support::unique_name("resapi");
    // The observatory declares the body's solicitation queue; this test plays it for that only.
    let broker = BusSettings {
        urls: vec![vhost.url()],
        prefix: prefix.clone(),
        observatories: vec!["carsat-sud-est".to_owned()],
        bodies: vec!["cnaf".to_owned()],
        ..BusSettings::default()
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let observatory = AmqpBus::connect(&broker, Role::Observatory("carsat-sud-est".to_owned())).await.unwrap();
        observatory.close().await;
    });
    let data_dir = dir.path().join("responder-cnaf");
    let config = dir.path().join("responder.toml");
    std::fs::write(
        &config,
        format!(
            "profile = \"development\"\nbody = \"cnaf\"\ndata_dir = {data_dir:?}\nmetrics_addr = \"127.0.0.1:{port}\"\n\n\
             [broker]\nurls = [{url:?}]\nprefix = {prefix:?}\nobservatories = [\"carsat-sud-est\"]\nbodies = [\"cnaf\"]\n\n[source]\nkind = \"extract\"\n\n\
             [agents]\nregistry = {registry:?}\n",
            port = free_port(),
            url = vhost.url(),
        ),
    )
    .unwrap();
    let extract = dir.path().join("extract.csv");
    let nirs: Vec<String> = (1..=4).map(synthetic_nir).collect();
    std::fs::write(&extract, format!("nir,rsa\n{},oui\n{},non\n", nirs[0], nirs[1])).unwrap();

    // The first extract, before the daemon can start: written by this process.
    let o = load(&config, &extract, &["--without-daemon"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let settings = PartySettings::load(PartyKind::Responder, &config).unwrap();
    let mut daemon =
        SpawnedParty::new("responder", env!("CARGO_BIN_EXE_passerelle"), &settings, &config, dir.path().join("log"))
            .unwrap()
            .env("RUST_LOG", "info");
    daemon.spawn().unwrap();
    daemon.wait_healthy(Instant::now() + WAIT).unwrap_or_else(|e| panic!("{e:#}"));

    // With the daemon up, nobody writes its index behind its back.
    let o = load(&config, &extract, &["--without-daemon"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("a responder daemon answers at"), "{}", text(&o));

    // An operator may not load (the socket named without a settings file, as an agent does).
    std::fs::write(
        &extract,
        format!("nir,rsa\n{},oui\n{},peut-être\n{},non\n{},non\n", nirs[0], nirs[1], nirs[2], nirs[3]),
    )
    .unwrap();
    let o = support::passerelle()
        .args(["responder", "load", "--socket"])
        .arg(settings.api_socket())
        .arg(&extract)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(6), "{}", text(&o));
    assert!(text(&o).contains("responder-admin") && text(&o).contains("(it holds: operator)"), "{}", text(&o));

    // The director makes the agent a responder-admin; SIGHUP applies it; the load goes through.
    support::write_registry(dir.path(), &["responder-admin"]);
    hang_up(&daemon);
    let o = eventually_blocking("the new registry in force", WAIT, || {
        let o = load(&config, &extract, &[]);
        (o.status.code() != Some(6)).then_some(o)
    });
    let said = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "one line rejected, the others indexed: {said}");
    assert!(said.contains("line 3, rsa:"), "the bad line by its number: {said}");
    assert!(said.contains("passerelle: indexed 3 person(s) and 0 former NIR(s) for `cnaf`"), "{said}");
    assert!(!said.contains(&nirs[1]), "no NIR in the report: {said}");

    // --json: the same report as before, JSON Lines on stdout.
    let o = load(&config, &extract, &["--json", "--force"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let report: Vec<serde_json::Value> =
        String::from_utf8_lossy(&o.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(report.len(), 2, "{report:?}");
    assert_eq!((report[0]["line"].as_u64(), report[0]["format"].as_str()), (Some(3), Some("passerelle.report/1")));

    daemon.stop(WAIT).unwrap();
    let log = std::fs::read_to_string(dir.path().join("log")).unwrap();
    assert!(log.contains("extract loaded through the local API") && log.contains("agent-test"), "{log}");
    assert!(log.contains("local API call refused"), "the operator's refusal is logged: {log}");
    for n in &nirs {
        assert!(!log.contains(n.as_str()), "no NIR in the daemon's log");
    }

    // The access log, once the daemon has stopped: the first load by this OS account, then the
    // refusals (the operator's, and the calls before the new registry took effect) and the
    // registry's reload, then the two loads by the agent.
    let accesses = Accesses::open_in(&data_dir, Default::default()).unwrap();
    let log = accesses.log();
    let entries: Vec<_> = log.years().unwrap().into_iter().flat_map(|y| log.entries(y, 0, 1_000).unwrap()).collect();
    let seen: Vec<(&str, AccessKind, &str)> =
        entries.iter().map(|e| (e.agent.as_str(), e.kind, e.object.as_str())).collect();
    let first = format!("os-user:{}", support::my_account());
    assert_eq!((seen[0].0, seen[0].1), (first.as_str(), AccessKind::Create), "{seen:?}");
    let (between, created) = seen[1..].split_at(seen.len() - 3);
    let reload = ("daemon:responder", AccessKind::Update, "agents-registry");
    assert_eq!(between.iter().filter(|e| **e == reload).count(), 1, "{seen:?}");
    let refused: Vec<_> = between.iter().filter(|e| **e != reload).collect();
    assert!(!refused.is_empty(), "{seen:?}");
    assert!(refused.iter().all(|e| **e == ("agent:agent-test", AccessKind::Refused, "api:v1.extract")), "{seen:?}");
    assert!(created.iter().all(|e| (e.0, e.1) == ("agent:agent-test", AccessKind::Create)), "{seen:?}");
    assert!(log.verify().unwrap().is_intact());
    let mut bytes = std::fs::read(data_dir.join("access.db")).unwrap();
    bytes.extend(std::fs::read(data_dir.join("access.db-wal")).unwrap_or_default());
    for n in &nirs {
        assert!(!bytes.windows(n.len()).any(|w| w == n.as_bytes()), "no NIR in access.db");
    }
}
