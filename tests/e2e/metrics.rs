//! `/metrics` and `/health` scraped over HTTP and parsed, after a whole flow on the in-process
//! bus with every role's metrics in one registry: the observatory (cases by state, pending
//! chunks per body, purges, per-body response latency), a responder, the requester and the bus
//! (dead-letters, reconnects, blocked time). Then the daemons as processes on a real RabbitMQ:
//! their endpoints, a scrape while the requester's store is held by a writer, and `/health`
//! following the broker connection (lost through a TCP proxy the test cuts, then restored).

use crate::support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use passerelle_bus::{Bus, BusSettings, InProcessBus, Queue};
use passerelle_metrics::{fetch, Health, MetricsRegistry, MetricsServer};
use passerelle_observatory::{Observatory, ObservatorySettings};
use passerelle_protocol::catalogue;
use passerelle_protocol::rules::SystemClock;
use passerelle_requester::{Requester, RequesterSettings, SubmitRequest};
use passerelle_responder::{load_extract, ExtractSettings, Responder, ResponderSettings, SourceSettings};
use passerelle_selection::{Encoding, ReportFormat, ReportWriter};
use support::proxy::{free_port, BrokerProxy};
use support::Exposition;

const OBSERVATORY: &str = "carsat-sud-est";
const PERSONS: u64 = 120;
const CHUNK: usize = 50;
const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_of_a_whole_flow_are_scraped_and_parsed() {
    let dir = tempfile::tempdir().unwrap();
    // As of today (Paris): every person counts as 55 on the day of submission.
    let today = passerelle_protocol::calendar::LegalCalendar::default().date_of(std::time::SystemTime::now());
    let population = dir.path().join("population");
    let synth = passerelle_synth::SynthOptions {
        as_of: Some(today),
        ..passerelle_synth::SynthOptions::new(PERSONS, chrono::Datelike::year(&today))
    };
    passerelle_synth::generate(&synth, &population).unwrap();

    let settings = BusSettings::default();
    let bus = InProcessBus::new(&settings);
    let registry = MetricsRegistry::default();
    let health = Health::default();
    passerelle_metrics::bus::register_bus(&registry, bus.stats());

    // The observatory, its bus instrumented for the response latency.
    let mut obs = ObservatorySettings::new(OBSERVATORY, dir.path().join("observatory"));
    obs.tick_ms = 50;
    obs.chunk_size = CHUNK;
    std::fs::create_dir_all(&obs.data_dir).unwrap();
    let obs_bus = passerelle_observatory::metrics::instrument(Arc::new(bus.connect_as("observatory")), &registry);
    let observatory = Observatory::build(obs, obs_bus, Arc::new(SystemClock)).unwrap();
    let status = observatory.status_reader();
    passerelle_observatory::metrics::register(&registry, &status);
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let shutdown = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let obs_task = tokio::spawn(observatory.run_until_stopped(shutdown(stop_rx.clone())));

    // The three solicited bodies; the cnam responder's metrics are registered (one responder
    // per registry, as one per process in production).
    let mut responders = Vec::new();
    for body in ["cnam", "cnav", "msa"] {
        let rs = ResponderSettings {
            body: body.into(),
            holds: None,
            data_dir: dir.path().join(format!("responder-{body}")),
            consumers: 1,
            broker: settings.clone(),
            source: SourceSettings::Extract(ExtractSettings::default()),
            metrics_addr: None,
            api: Default::default(),
            agents: Default::default(),
            trails: Default::default(),
            profile: Default::default(),
            development: Default::default(),
        };
        std::fs::create_dir_all(&rs.data_dir).unwrap();
        let extract = population.join(passerelle_synth::extract_file_name(body));
        load_extract(&rs, &extract, Encoding::Utf8, &mut ReportWriter::new(ReportFormat::Human, std::io::sink()))
            .unwrap();
        let responder = Responder::build(&rs, Arc::new(bus.connect_as(body)) as Arc<dyn Bus>).await.unwrap();
        if body == "cnam" {
            passerelle_responder::metrics::register(&registry, responder.stats(), body);
        }
        responders.push(tokio::spawn(responder.run_until_stopped(shutdown(stop_rx.clone()))));
    }

    // The requester submits and waits, as `requester submit` does.
    let mut rq = RequesterSettings::for_dir("cnaf", "caf-13", &dir.path().join("requester"));
    rq.chunk_size = CHUNK;
    let requester = Requester::build(rq, Arc::new(bus.connect_as("cnaf")), Arc::new(SystemClock)).unwrap();
    passerelle_requester::metrics::register(&registry, &requester);
    let listening = requester.listen().await.unwrap();
    let request = SubmitRequest {
        selection: population.join(passerelle_synth::SELECTION_FILE),
        encoding: Encoding::Utf8,
        wanted: catalogue::parse_list("3,4,7").unwrap(),
        service: passerelle_protocol::v1::OfferedService::PreventionWorkshop,
        purpose: "Atelier mémoire".into(),
        respond_by: Duration::from_secs(120),
        out: Some(dir.path().join("result")),
        strict: false,
    };
    let submitted = requester.submit(&request, &mut |_| {}, &ProgressBar::hidden()).await.unwrap();
    let cases = requester.wait_for_results(&submitted.case_ids(), &ProgressBar::hidden(), None).await.unwrap();
    assert!(cases.iter().all(|c| c.state.is_settled()));
    let case_id = submitted.case_ids()[0].to_string();
    let deadline = Instant::now() + WAIT;
    while status.case(&case_id).unwrap().unwrap().state != passerelle_observatory_store::CaseState::Purged {
        assert!(Instant::now() < deadline, "the observatory did not purge the case");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A forged message the bus refuses: its dead-letter is counted.
    bus.inject_raw(&Queue::ObservatoryRequests(OBSERVATORY.into()), "passerelle.v1.Forged", vec![1, 2, 3], "x")
        .unwrap();
    let deadline = Instant::now() + WAIT;
    while bus.dead_letters().is_empty() {
        assert!(Instant::now() < deadline, "the forged message was not dead-lettered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let server = MetricsServer::start("127.0.0.1:0", registry, health.clone()).await.unwrap();
    assert_eq!(fetch(server.local_addr, "/health").await.unwrap().0, 503, "not healthy until the daemon says so");
    health.set(true);
    let (code, health_body) = fetch(server.local_addr, "/health").await.unwrap();
    assert_eq!(code, 200);
    let report: serde_json::Value = serde_json::from_str(&health_body).unwrap();
    assert_eq!((report["healthy"].as_bool(), report["broker_connected"].as_bool()), (Some(true), Some(true)));
    let scraped = passerelle_metrics::get(server.local_addr, "/metrics").await.unwrap();
    assert_eq!(scraped.status, 200);
    assert_eq!(scraped.content_type.as_deref(), Some(passerelle_metrics::http::METRICS_CONTENT_TYPE));
    let m = Exposition::parse(&scraped.body);

    // The observatory.
    assert_eq!(m.types["passerelle_observatory_cases"], "gauge");
    assert_eq!(m.get(r#"passerelle_observatory_cases{state="purged"}"#), 1.0);
    assert_eq!(m.get(r#"passerelle_observatory_cases{state="collecting"}"#), 0.0);
    for body in ["cnam", "cnav", "cnaf", "msa"] {
        let pending = format!(r#"passerelle_observatory_solicitation_chunks_pending{{body="{body}"}}"#);
        assert_eq!(m.get(&pending), 0.0, "{body}");
    }
    assert_eq!(m.get("passerelle_observatory_persons_accepted_total"), PERSONS as f64);
    assert_eq!(m.get("passerelle_observatory_purged_cases_total"), 1.0);
    assert_eq!(m.get("passerelle_observatory_purges_total"), 1.0);
    assert_eq!(m.get("passerelle_observatory_reminders_total"), 0.0);
    // The forged message the bus refused is in the audit trail too (`Handler::rejected`).
    assert_eq!(m.get("passerelle_observatory_dead_letters_total"), 1.0);
    assert_eq!(m.get("passerelle_observatory_cases_in_flight"), 0.0);
    assert_eq!(m.types["passerelle_observatory_response_latency_seconds"], "histogram");
    let chunks = PERSONS.div_ceil(CHUNK as u64) as f64;
    for body in ["cnam", "cnav", "msa"] {
        let count = format!(r#"passerelle_observatory_response_latency_seconds_count{{body="{body}"}}"#);
        assert_eq!(m.get(&count), chunks, "one latency per answered chunk of {body}");
        let inf = format!(r#"passerelle_observatory_response_latency_seconds_bucket{{le="+Inf",body="{body}"}}"#);
        assert_eq!(m.get(&inf), chunks);
    }
    // The responder, the requester.
    assert_eq!(m.get(r#"passerelle_responder_persons_answered_total{body="cnam"}"#), PERSONS as f64);
    assert_eq!(m.get(r#"passerelle_responder_chunks_answered_total{body="cnam"}"#), chunks);
    assert_eq!(m.get(r#"passerelle_requester_cases{state="answered"}"#), 1.0);
    assert_eq!(m.get("passerelle_requester_persons_submitted_total"), PERSONS as f64);
    assert_eq!(m.get("passerelle_requester_receipts_pending"), 0.0);
    // The bus.
    assert_eq!(m.get("passerelle_bus_reconnects_total"), 0.0);
    assert_eq!(m.get("passerelle_bus_blocked_seconds_total"), 0.0);
    let dead = format!(
        r#"passerelle_bus_dead_letters_total{{queue="passerelle.observatory.{OBSERVATORY}.requests",type="unknown"}}"#
    );
    assert_eq!(m.get(&dead), 1.0);

    server.stop();
    listening.stop().await;
    let _ = stop.send(true);
    obs_task.await.unwrap().unwrap();
    for r in responders {
        r.await.unwrap().unwrap();
    }
}

/// A port nothing listens on (bound then released).
/// A daemon run as a process (`passerelle <role> run --config FILE`) on the test broker, its
/// topology declared first (as the observatory does) and deleted when it is stopped — or, when
/// the test fails first, when it is dropped.
struct Daemon {
    role: &'static str,
    process: std::process::Child,
    addr: std::net::SocketAddr,
    broker: BusSettings,
    runtime: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
    topology_deleted: bool,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        if !self.topology_deleted {
            let _ = self.runtime.block_on(passerelle_bus::amqp::delete_topology(&self.broker));
        }
    }
}

impl Daemon {
    /// Starts the daemon of `party` with `settings` (a TOML body whose `metrics_addr` and
    /// `[broker]` this adds; `{dir}` is its directory) and waits until `/health` answers 200.
    /// It runs under the production profile, alone on the broker: the test broker's user is its
    /// own broker identity. It reaches the broker through `through` when given. `None`: no
    /// broker, the test is skipped.
    fn start(role: &'static str, party: &str, settings: &str, through: Option<&BrokerProxy>) -> Option<Daemon> {
        let url = support::amqp_url();
        if !support::broker_reachable_or_skip(&url) {
            return None;
        }
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let prefix = format!("metrics-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let broker = BusSettings { urls: vec![url.clone()], prefix: prefix.clone(), ..BusSettings::default() };
        let declared = runtime
            .block_on(passerelle_bus::AmqpBus::connect(&broker, passerelle_bus::Role::Observatory(OBSERVATORY.into())))
            .unwrap();
        runtime.block_on(declared.close());
        let daemon_url = through.map_or_else(|| url.clone(), |proxy| proxy.url.clone());
        let user = passerelle_test_support::broker::login(&url);

        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = dir.path().join("settings.toml");
        let settings = settings.replace("{dir}", &dir.path().display().to_string());
        std::fs::write(
            &config,
            format!(
                "{settings}metrics_addr = \"127.0.0.1:{port}\"\n[broker]\nurls = [\"{daemon_url}\"]\nprefix = \"{prefix}\"\n\
                 [broker.identity]\ninsecure_any_user = false\n[broker.identity.users]\n{user:?} = [{party:?}]\n"
            ),
        )
        .unwrap();
        let process = support::passerelle()
            .args([role, "run", "--config"])
            .arg(&config)
            .stderr(std::fs::File::create(dir.path().join("stderr.log")).unwrap())
            .spawn()
            .unwrap();
        let addr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut daemon = Daemon { role, process, addr, broker, runtime, dir, topology_deleted: false };
        daemon.wait_for_health(200, "become healthy");
        Some(daemon)
    }

    /// What it wrote on stderr so far.
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// Waits (bounded) until its log has `line`.
    fn wait_for_log(&self, line: &str) {
        let deadline = Instant::now() + WAIT;
        while !self.log().contains(line) {
            assert!(Instant::now() < deadline, "{} never logged `{line}`:\n{}", self.role, self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `/health`'s status and JSON body (`None` while nothing answers).
    fn health(&self) -> Option<(u16, serde_json::Value)> {
        let (status, body) = self.runtime.block_on(fetch(self.addr, "/health")).ok()?;
        Some((status, serde_json::from_str(&body).unwrap_or_else(|e| panic!("/health is not JSON ({e}): {body}"))))
    }

    /// Waits (bounded) until `/health` answers `status`, and returns its body.
    fn wait_for_health(&mut self, status: u16, what: &str) -> serde_json::Value {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.health() {
                Some((s, body)) if s == status => return body,
                last if Instant::now() < deadline => {
                    if let Some(status) = self.process.try_wait().unwrap() {
                        panic!("{} exited ({status}); last /health: {last:?}; its log:\n{}", self.role, self.log());
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                last => {
                    let _ = self.process.kill();
                    panic!("{} did not {what} in {WAIT:?}: last /health {last:?}; its log:\n{}", self.role, self.log())
                }
            }
        }
    }

    /// Scrapes `/metrics` until `ready` holds (the store-backed families are a snapshot the
    /// daemon refreshes every few seconds), bounded.
    fn scrape_until(&self, ready: impl Fn(&Exposition) -> bool) -> Exposition {
        let deadline = Instant::now() + WAIT;
        loop {
            let scraped = self.runtime.block_on(passerelle_metrics::get(self.addr, "/metrics")).unwrap();
            assert_eq!(scraped.status, 200);
            assert_eq!(scraped.content_type.as_deref(), Some(passerelle_metrics::http::METRICS_CONTENT_TYPE));
            let m = Exposition::parse(&scraped.body);
            if ready(&m) {
                return m;
            }
            assert!(
                Instant::now() < deadline,
                "{}: /metrics never showed what was expected: {}",
                self.role,
                scraped.body
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGTERM, as the service manager stops it; checks it exits cleanly.
    fn stop(mut self) {
        let stopped =
            std::process::Command::new("kill").args(["-TERM", &self.process.id().to_string()]).status().unwrap();
        assert!(stopped.success());
        let deadline = Instant::now() + WAIT;
        let status = loop {
            if let Some(status) = self.process.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "{} did not stop on SIGTERM", self.role);
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "{}: {status}", self.role);
        self.runtime.block_on(passerelle_bus::amqp::delete_topology(&self.broker)).unwrap();
        self.topology_deleted = true;
    }
}

#[test]
fn the_requester_daemon_serves_metrics_and_health_on_its_metrics_addr() {
    let settings = "body = \"cnaf\"\noffice = \"caf-13\"\ndata_dir = \"{dir}/data\"\nout_dir = \"{dir}/out\"\n";
    let Some(daemon) = Daemon::start("requester", "cnaf", settings, None) else { return };
    let health = daemon.health().unwrap().1;
    assert_eq!(health["phase"], "serving", "{health}");
    assert_eq!(health["broker_connected"], true, "{health}");
    assert_eq!(health["profile"], "production", "{health}");
    assert_eq!(health["announcements"], serde_json::json!([]), "production announces nothing: {health}");
    let m = daemon.scrape_until(|_| true);
    assert_eq!(m.get(r#"passerelle_requester_cases{state="sent"}"#), 0.0);
    assert_eq!(m.get("passerelle_bus_connections_total"), 1.0, "connected once");
    assert_eq!(m.get("passerelle_bus_reconnects_total"), 0.0);
    daemon.stop();
}

#[test]
fn the_observatory_daemon_serves_metrics_and_health_on_its_metrics_addr() {
    let settings = format!("code = \"{OBSERVATORY}\"\ndata_dir = \"{{dir}}\"\n");
    let Some(daemon) = Daemon::start("observatory", OBSERVATORY, &settings, None) else { return };
    // The start is audited once the daemon runs, after the first snapshot of its store.
    let started = r#"passerelle_observatory_audit_entries_total{action="started"}"#;
    let m = daemon.scrape_until(|m| m.samples.get(started) == Some(&1.0));
    assert_eq!(m.get(r#"passerelle_observatory_cases{state="collecting"}"#), 0.0);
    assert_eq!(m.get(r#"passerelle_observatory_solicitation_chunks_pending{body="msa"}"#), 0.0);
    assert_eq!(m.types["passerelle_observatory_response_latency_seconds"], "histogram");
    assert_eq!(m.get("passerelle_bus_reconnects_total"), 0.0);
    daemon.stop();
}

#[test]
fn health_follows_the_broker_connection() {
    if support::amqp_url().starts_with("amqps") {
        eprintln!("SKIPPED: the proxy of this test carries plain AMQP only");
        return;
    }
    let proxy = BrokerProxy::start(&support::amqp_url());
    let settings = format!("code = \"{OBSERVATORY}\"\ndata_dir = \"{{dir}}\"\n");
    let Some(mut daemon) = Daemon::start("observatory", OBSERVATORY, &settings, Some(&proxy)) else { return };
    // `/health` says serving just before the consumers start; a loss while they start is fatal.
    daemon.wait_for_log("observatory running");

    proxy.cut();
    let lost = daemon.wait_for_health(503, "turn unhealthy when its broker connection was lost");
    assert_eq!((lost["broker_connected"].as_bool(), lost["phase"].as_str()), (Some(false), Some("serving")), "{lost}");
    assert!(lost["reasons"][0].as_str().unwrap().contains("broker connection is lost"), "{lost}");

    proxy.restore();
    let back = daemon.wait_for_health(200, "become healthy again once reconnected");
    assert_eq!(back["broker_connected"], true, "{back}");
    let m = daemon.scrape_until(|m| m.samples.get("passerelle_bus_reconnects_total").is_some_and(|n| *n >= 1.0));
    assert!(m.get("passerelle_bus_connections_total") >= 2.0);
    daemon.stop();
}
