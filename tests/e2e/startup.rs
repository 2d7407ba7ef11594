//! How a daemon starts, with the real binary: its folders are checked before any broker
//! connection (a `data_dir` that is a file or on a read-only filesystem: one line, exit 4, the
//! broker never asked); a broker that refuses the login or the vhost is one line saying what to
//! check, exit 3, never retried; an unreachable broker is waited for up to
//! `[broker] start_timeout_s` — `/health` says `waiting_for_broker` meanwhile — then one line
//! naming the host and port, exit 4; and a daemon started while the broker is down serves as
//! soon as it comes up (a TCP proxy of the test's own opens on the daemon's broker port: the
//! shared RabbitMQ is never touched); a body started before its observatory declared the
//! topology waits for it the same way.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use passerelle_bus::{BusSettings, IdentitySettings};
use passerelle_observatory::ObservatorySettings;
use passerelle_party::process::{http_get, SpawnedParty};
use passerelle_party::PartySettings;
use passerelle_requester::RequesterSettings;
use passerelle_test_support::Vhost;
use support::proxy::{free_port, BrokerProxy};

const OBSERVATORY: &str = "carsat-sud-est";
/// How long a daemon has to exit or to report what the test waits for.
const WAIT: Duration = Duration::from_secs(90);

/// An observatory daemon of the test's own (its settings file, its log), not started.
struct Daemon {
    process: SpawnedParty,
    dir: tempfile::TempDir,
}

impl Daemon {
    /// The daemon of `settings`, whose broker is `url`: under the production profile, the URL's
    /// user its own broker identity (it is alone on the broker).
    fn of(
        mut settings: PartySettings,
        url: &str,
        prefix: &str,
        start_timeout_s: u64,
        dir: tempfile::TempDir,
    ) -> Daemon {
        let mut identity = IdentitySettings { insecure_any_user: false, ..IdentitySettings::default() };
        identity.users.insert(passerelle_test_support::broker::login(url), vec![settings.code().to_owned()]);
        *settings.broker_mut() = BusSettings {
            urls: vec![url.to_owned()],
            prefix: prefix.to_owned(),
            start_timeout_s,
            identity,
            ..BusSettings::default()
        };
        let config = dir.path().join("settings.toml");
        settings.write(&config).unwrap();
        let exe = env!("CARGO_BIN_EXE_passerelle");
        let process = SpawnedParty::new(settings.code(), exe, &settings, &config, dir.path().join("stderr.log"))
            .unwrap()
            .env_remove("RUST_LOG");
        Daemon { process, dir }
    }

    /// An observatory on `data_dir` (`None`: a folder of its own) whose broker is `url`.
    fn observatory(url: &str, data_dir: Option<&Path>, start_timeout_s: u64) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = data_dir.map_or_else(|| dir.path().join("data"), Path::to_owned);
        let mut settings = ObservatorySettings::new(OBSERVATORY, data_dir);
        settings.metrics_addr = Some(format!("127.0.0.1:{}", free_port()));
        let prefix = passerelle_test_support::unique_name("startup");
        Daemon::of(PartySettings::Observatory(settings), url, &prefix, start_timeout_s, dir)
    }

    /// Starts it and waits until it exits by itself: (exit code, the lines it wrote on stderr).
    fn run_to_exit(&mut self) -> (Option<i32>, Vec<String>) {
        self.process.spawn().unwrap();
        let status = self.process.wait_exit(Instant::now() + WAIT).unwrap_or_else(|e| panic!("{e:#}"));
        (status.code(), self.stderr())
    }

    /// Its stderr, without the start markers and INFO lines (where `/health` is served): the
    /// warnings, errors and the failure line.
    fn stderr(&self) -> Vec<String> {
        self.process
            .log()
            .lines()
            .filter(|l| !l.starts_with("==== start #") && !l.is_empty() && !l.contains(" INFO"))
            .map(str::to_owned)
            .collect()
    }

    fn health(&self) -> Option<(u16, serde_json::Value)> {
        let (status, body) = http_get(self.process.health(), "/health")?;
        Some((status, serde_json::from_str(&body).unwrap_or_else(|e| panic!("/health is not JSON ({e}): {body}"))))
    }
}

/// The test broker's URL with its port replaced by `port` (nothing there: unreachable).
fn url_on_port(port: u16) -> String {
    support::proxy::through_port(&support::amqp_url(), port).1
}

#[test]
fn a_data_dir_that_is_a_file_is_one_line_before_any_broker_connection() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("observatory-data");
    std::fs::write(&file, "not a folder").unwrap();
    // The broker port is unreachable and waited for 60 s: a prompt storage error shows that
    // the folder was checked before any connection was tried.
    let mut daemon = Daemon::observatory(&url_on_port(free_port()), Some(&file), 60);
    let started = Instant::now();
    let (code, lines) = daemon.run_to_exit();
    assert_eq!(code, Some(4), "storage unusable is exit 4: {lines:#?}");
    assert_eq!(lines.len(), 1, "one line, no library noise: {lines:#?}");
    assert_eq!(lines[0], format!("passerelle: failed: data_dir = {file:?}: is a file, not a folder"));
    assert!(started.elapsed() < Duration::from_secs(60), "it waited for the broker before checking its folder");
}

/// A read-only tmpfs on a folder of the test's own (root only), unmounted on drop.
struct ReadOnlyMount(PathBuf);

impl Drop for ReadOnlyMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).output();
    }
}

#[test]
fn a_read_only_data_dir_is_one_line_before_any_broker_connection() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("read-only");
    std::fs::create_dir(&data_dir).unwrap();
    let mounted = Command::new("mount").args(["-t", "tmpfs", "-o", "ro,size=1m", "tmpfs"]).arg(&data_dir).output();
    if !mounted.as_ref().is_ok_and(|o| o.status.success()) {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true and mount is refused: {mounted:?}");
        eprintln!("SKIPPED: cannot mount a read-only tmpfs here (root only): {mounted:?}");
        return;
    }
    let _mount = ReadOnlyMount(data_dir.clone());
    let mut daemon = Daemon::observatory(&url_on_port(free_port()), Some(&data_dir), 60);
    let (code, lines) = daemon.run_to_exit();
    assert_eq!(code, Some(4), "{lines:#?}");
    assert_eq!(
        lines,
        [format!(
            "passerelle: failed: data_dir = {data_dir:?}: this process cannot write in it (read-only filesystem)"
        )]
    );
}

#[test]
fn an_unreachable_broker_is_waited_for_then_one_line_naming_host_and_port() {
    let port = free_port();
    let mut daemon = Daemon::observatory(&url_on_port(port), None, 2);
    daemon.process.spawn().unwrap();
    let waiting = passerelle_test_support::eventually_blocking("/health saying waiting_for_broker", WAIT, || {
        daemon.health().filter(|(_, body)| body["phase"] == "waiting_for_broker")
    });
    assert_eq!(waiting.0, 503, "{waiting:?}");
    assert!(waiting.1["reasons"][0].as_str().unwrap().contains(&format!("127.0.0.1:{port}")), "{waiting:?}");
    let status = daemon.process.wait_exit(Instant::now() + WAIT).unwrap();
    let lines = daemon.stderr();
    assert_eq!(status.code(), Some(4), "{lines:#?}");
    let last = lines.last().unwrap();
    assert!(
        last.starts_with(&format!("passerelle: failed: the broker is unreachable at 127.0.0.1:{port} vhost "))
            && last.contains("check the host and port of `urls`"),
        "{last}"
    );
    let (retries, others): (Vec<&String>, Vec<&String>) =
        lines[..lines.len() - 1].iter().partition(|l| l.contains("waiting for the broker at start"));
    assert!(!retries.is_empty(), "it retried before giving up: {lines:#?}");
    assert!(others.is_empty(), "nothing but the retries and the last line: {others:#?}");
}

#[test]
fn refused_credentials_or_vhost_are_one_line_exit_3_and_not_retried() {
    let url = support::amqp_url();
    if !support::broker_reachable_or_skip(&url) {
        return;
    }
    let authority = passerelle_test_support::broker::authority(&url);
    let (user, _) = passerelle_test_support::broker::credentials(&url);
    let cases = [
        (format!("amqp://{user}:not-the-password@{authority}/%2f"), "refused the login of user"),
        (
            format!(
                "amqp://{}@{authority}/{}",
                url_userinfo(&url),
                passerelle_test_support::unique_name("no-such-vhost")
            ),
            "access to the vhost",
        ),
    ];
    for (url, said) in cases {
        // start_timeout_s = 0 waits forever for an unavailable broker: only a refusal ends it.
        let mut daemon = Daemon::observatory(&url, None, 0);
        let (code, lines) = daemon.run_to_exit();
        assert_eq!(code, Some(3), "a refused login is a settings error: {lines:#?}");
        assert_eq!(lines.len(), 1, "one line, no library noise: {lines:#?}");
        let last = &lines[0];
        assert!(
            last.starts_with("passerelle: invalid settings: ") && last.contains(said) && last.contains("check"),
            "{last}"
        );
        assert!(!lines.iter().any(|l| l.contains("waiting for the broker")), "a refusal is not retried: {lines:#?}");
        drop(daemon.dir);
    }
}

/// The consumers of the observatory's requests queue in `vhost`.
fn requests_consumers(vhost: &Vhost) -> u64 {
    let listed = passerelle_test_support::rabbitmqctl(&[
        "list_queues",
        "-q",
        "-p",
        &vhost.name,
        "name",
        "consumers",
        "--formatter",
        "json",
    ]);
    let queues: Vec<serde_json::Value> = serde_json::from_str(&listed).unwrap_or_default();
    queues
        .iter()
        .filter(|q| q["name"].as_str().is_some_and(|n| n.ends_with(".requests")))
        .filter_map(|q| q["consumers"].as_u64())
        .sum()
}

/// `user:password` of an AMQP URL, as written.
fn url_userinfo(url: &str) -> String {
    url.split_once("://").unwrap().1.rsplit_once('@').unwrap().0.to_owned()
}

#[test]
fn a_daemon_started_while_the_broker_is_down_serves_once_it_comes_up() {
    let url = support::amqp_url();
    if !support::broker_reachable_or_skip(&url) {
        return;
    }
    if url.starts_with("amqps") {
        eprintln!("SKIPPED: the proxy of this test carries plain AMQP only");
        return;
    }
    let vhost = Vhost::new();
    let port = free_port();
    let through = support::proxy::through_port(&vhost.url(), port).1;
    let mut daemon = Daemon::observatory(&through, None, 0);
    daemon.process.spawn().unwrap();
    let waiting = passerelle_test_support::eventually_blocking("/health saying waiting_for_broker", WAIT, || {
        daemon.health().filter(|(_, body)| body["phase"] == "waiting_for_broker")
    });
    assert_eq!((waiting.0, &waiting.1["broker_connected"]), (503, &serde_json::json!(false)), "{waiting:?}");
    assert!(daemon.process.is_running(), "it exited instead of waiting:\n{}", daemon.process.log());

    let _proxy = BrokerProxy::start_on(&vhost.url(), port);
    daemon.process.wait_healthy(Instant::now() + WAIT).unwrap_or_else(|e| panic!("{e:#}"));
    // Serving means consuming: the observatory's requests queue has its consumer.
    passerelle_test_support::eventually_blocking("a consumer on the observatory's requests queue", WAIT, || {
        requests_consumers(&vhost) >= 1
    });
    daemon.process.stop(Duration::from_secs(30)).unwrap();
    assert_eq!(daemon.process.exit_status().and_then(|s| s.code()), Some(0), "{}", daemon.process.log());
}

#[test]
fn a_body_started_before_its_observatory_waits_for_the_topology() {
    let url = support::amqp_url();
    if !support::broker_reachable_or_skip(&url) {
        return;
    }
    let vhost = Vhost::new();
    let prefix = passerelle_test_support::unique_name("startup");
    let dir = tempfile::tempdir().unwrap();
    let mut requester = RequesterSettings::for_dir("cnaf", "caf-13", dir.path());
    requester.metrics_addr = Some(format!("127.0.0.1:{}", free_port()));
    let mut daemon = Daemon::of(PartySettings::Requester(requester), &vhost.url(), &prefix, 0, dir);
    daemon.process.spawn().unwrap();
    let waiting = passerelle_test_support::eventually_blocking("/health saying waiting_for_broker", WAIT, || {
        daemon.health().filter(|(_, body)| body["phase"] == "waiting_for_broker")
    });
    assert!(waiting.1["reasons"][0].as_str().unwrap().contains("topology"), "{waiting:?}");

    // The observatory declares the topology: the requester then serves.
    let broker = BusSettings { urls: vec![vhost.url()], prefix, ..BusSettings::default() };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let observatory = runtime
        .block_on(passerelle_bus::AmqpBus::connect(&broker, passerelle_bus::Role::Observatory(OBSERVATORY.into())))
        .unwrap();
    daemon.process.wait_healthy(Instant::now() + WAIT).unwrap_or_else(|e| panic!("{e:#}"));
    daemon.process.stop(Duration::from_secs(30)).unwrap();
    assert_eq!(daemon.process.exit_status().and_then(|s| s.code()), Some(0), "{}", daemon.process.log());
    runtime.block_on(observatory.close());
}
