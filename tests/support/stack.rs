//! A whole Passerelle deployment for the fault tests, every part a separate process of the real
//! binary over the real RabbitMQ, in a vhost of its own: the `carsat-sud-est` observatory
//! (`observatory run`), the `cnam`, `cnav` and `msa` responders (`responder run`, each having
//! indexed its synthetic extract with `responder load`) and the CAF's requester daemon
//! (`requester run`) — or, with [`StackOptions::requester`] at [`StackRequester::Cpam`], a CPAM's
//! requester daemon and the `cnav`, `cnaf` and `msa` responders; cases are submitted with `requester submit --detach`, read back with
//! `requester status --json` and `requester fetch`, the audit trail with `audit show --json`.
//!
//! The settings files are a `passerelle_party::Deployment`'s, serialised from the settings
//! types, under `profile = "development"` (every daemon logs in as the vhost's one user, a
//! shared identity production refuses); [`Stack::edit_settings`] changes one (its development hooks, its broker identity)
//! before a start. Each daemon is a `passerelle_party::process::SpawnedParty`: it can be killed
//! (`kill -9`), stopped (SIGTERM) and started again on the same settings, store and `/health`
//! port; its log (stderr, every incarnation appended) can be read.
//! Dropping the [`Stack`] kills every process it started and deletes the vhost with everything
//! in it, so nothing outlives the test, whether it passes or panics.
//!
//! Everything here is synchronous (plain `#[test]`s): waits poll a condition with a deadline
//! ([`eventually`]), never sleep for synchronisation.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use passerelle_bus::BusSettings;
use passerelle_hooks::Profile;
pub use passerelle_party::process::http_get;
use passerelle_party::process::{FreePorts, SpawnedParty};
use passerelle_party::{Deployment, PartySettings};

/// The observatory of every stack (the synthetic population lives in its territory).
pub const OBSERVATORY: &str = "carsat-sud-est";
/// The requesting body of the default stack (a CAF) and its office.
pub const REQUESTER_BODY: &str = "cnaf";
pub const REQUESTER_OFFICE: &str = "caf-13";
/// The solicited bodies: the default routing of [`WANT`] for a CAF.
pub const RESPONDERS: [&str; 3] = ["cnam", "cnav", "msa"];
/// The categories asked: health (3°), retirement (4°), other risk factors (7°), as in the demo.
pub const WANT: &str = "3,4,7";

/// Who requests in a stack: the CAF (the default: [`REQUESTER_BODY`], [`RESPONDERS`],
/// [`WANT`]) or a CPAM (the health branch: `cnam`, office `cpam-13`, asking what its branch does
/// not know, so `cnav`, `cnaf` and `msa` answer — never its own branch), as `passerelle demo
/// --requester` has them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StackRequester {
    #[default]
    Caf,
    Cpam,
}

impl StackRequester {
    /// The requester's branch (`requester.body`).
    pub fn body(self) -> &'static str {
        match self {
            StackRequester::Caf => REQUESTER_BODY,
            StackRequester::Cpam => "cnam",
        }
    }

    /// Its office (`requester.office`; the office of the test's agent at the requester).
    pub fn office(self) -> &'static str {
        match self {
            StackRequester::Caf => REQUESTER_OFFICE,
            StackRequester::Cpam => "cpam-13",
        }
    }

    /// The bodies the default routing solicits for [`StackRequester::want`]: one responder each.
    pub fn responders(self) -> [&'static str; 3] {
        match self {
            StackRequester::Caf => RESPONDERS,
            StackRequester::Cpam => ["cnav", "cnaf", "msa"],
        }
    }

    /// The categories it asks: the CAF's [`WANT`]; the CPAM's family situation (2°), retirement
    /// (4°), family benefits (5°), social action (6°) and other risk factors (7°).
    pub fn want(self) -> &'static str {
        match self {
            StackRequester::Caf => WANT,
            StackRequester::Cpam => "2,4,5,6,7",
        }
    }
}
/// The name of the observatory and requester daemons for [`Stack::kill`] and friends (a
/// responder is named by its body).
pub const OBSERVATORY_DAEMON: &str = "observatory";
pub const REQUESTER_DAEMON: &str = "requester";

/// How long a daemon has to report healthy (a loaded 2-core machine, a debug build, the
/// observatory declaring the topology and rebuilding its store at start).
pub const START_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a daemon has to exit after SIGTERM before it is killed.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// The default wait for a case's result (a 10,000-person case with faults, debug build).
pub const CASE_TIMEOUT: Duration = Duration::from_secs(300);
/// How often waits look again.
pub const POLL: Duration = Duration::from_millis(100);

/// The role the test's account holds in the requester's registry (`agents.toml` of the stack's
/// folder): a prevention agent of the requester's office ([`StackRequester::office`]).
pub const REQUESTER_AGENT_ROLE: &str = "prevention-agent";

/// The account this test process runs as: the owner of a file it just created.
pub fn this_account() -> String {
    use std::os::unix::fs::MetadataExt;
    let probe = tempfile::NamedTempFile::new().unwrap();
    let uid = probe.as_file().metadata().unwrap().uid();
    passerelle_local_api::account_name(uid).unwrap().expect("the test's uid has an account name")
}

/// An agent registry naming the test's account, with `roles` in the office [`REQUESTER_OFFICE`].
pub fn agent_registry(roles: &[&str]) -> String {
    agent_registry_in(REQUESTER_OFFICE, roles)
}

/// An agent registry naming the test's account, with `roles` in `office`.
pub fn agent_registry_in(office: &str, roles: &[&str]) -> String {
    let roles = roles.iter().map(|r| format!("\"{r}\"")).collect::<Vec<_>>().join(", ");
    format!(
        "[[agent]]\naccount = \"{}\"\nid = \"agent-0042\"\nname = \"Agent Bleu\"\nroles = [{roles}]\noffice = \"{office}\"\n",
        this_account()
    )
}

/// What to deploy.
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// Synthetic persons (`passerelle synth --persons`): every one is in the selection.
    pub persons: u64,
    /// The population's seed.
    pub seed: u64,
    /// Persons per chunk, for the observatory and the requester (smaller: more messages, a
    /// longer case, more moments to inject a fault in).
    pub chunk_size: usize,
    /// The observatory's timer period (`tick_ms`): how soon a deadline is noticed.
    pub tick_ms: u64,
    /// Responder `consumers` (chunks answered at once).
    pub consumers: usize,
    /// `RUST_LOG` of the daemons.
    pub log_filter: String,
    /// Every daemon's `[trails] checkpoint_interval_s`.
    pub checkpoint_interval_s: u64,
    /// Who requests (the synthetic selection is theirs); the responders follow.
    pub requester: StackRequester,
}

impl Default for StackOptions {
    fn default() -> Self {
        StackOptions {
            persons: 1_000,
            seed: 2_017_334,
            chunk_size: 1_000,
            tick_ms: 200,
            consumers: 2,
            log_filter: "info,lapin=warn".to_owned(),
            checkpoint_interval_s: 3600,
            requester: StackRequester::default(),
        }
    }
}

/// One daemon: what its settings file holds, and its process.
#[derive(Debug)]
struct Daemon {
    settings: PartySettings,
    process: SpawnedParty,
}

impl Daemon {
    fn name(&self) -> &str {
        self.process.name()
    }

    /// Starts a process and waits until it is healthy (panics with its log's tail otherwise).
    fn start(&mut self) {
        self.spawn();
        self.wait_healthy();
    }

    fn spawn(&mut self) {
        self.process.spawn().unwrap_or_else(|e| panic!("{e:#}"));
    }

    fn wait_healthy(&mut self) {
        self.process.wait_healthy(Instant::now() + START_TIMEOUT).unwrap_or_else(|e| panic!("{e:#}"));
    }
}

/// A message of the dead-letter queue.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    /// `x-passerelle-reason` (or the broker's `x-death` reason for a delivery-limit drop).
    pub reason: String,
    /// The AMQP `type` property (request, solicitation, response, result, receipt, refusal).
    pub kind: String,
    /// The queue it was taken from (`x-passerelle-original-queue`), when known.
    pub queue: String,
    /// Every header, as text.
    pub headers: BTreeMap<String, String>,
    pub body_len: usize,
}

/// A deployment (see the module doc). Dropped: every process killed, the vhost deleted.
#[derive(Debug)]
pub struct Stack {
    vhost: String,
    url: String,
    options: StackOptions,
    dir: tempfile::TempDir,
    daemons: Vec<Daemon>,
    /// Submissions so far (names the result files).
    submitted: u32,
}

impl Stack {
    /// Makes the population, creates the vhost, writes the settings, indexes the extracts and
    /// starts every daemon (observatory first: it declares the topology), each healthy.
    pub fn start(options: StackOptions) -> Stack {
        let stack = Stack::prepare(options);
        let mut stack = stack;
        for name in stack.daemon_names() {
            stack.start_daemon(&name);
        }
        stack
    }

    /// As [`Stack::start`], without starting any daemon: the caller starts them
    /// ([`Stack::start_daemon`]; the observatory first).
    pub fn prepare(options: StackOptions) -> Stack {
        let base = super::amqp_url();
        // The fault targets never skip: they are run on purpose, with a broker.
        assert!(super::broker_reachable_or_skip(&base), "no broker at {base}: the fault tests need RabbitMQ");
        let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        let vhost = format!("faults-{id}");
        rabbitmqctl(&["add_vhost", &vhost]);
        let (user, _) = credentials(&base);
        rabbitmqctl(&["set_permissions", "-p", &vhost, &user, ".*", ".*", ".*"]);
        let url = with_vhost(&base, &vhost);
        let dir = tempfile::Builder::new().prefix("passerelle-faults-").tempdir().unwrap();
        let mut stack = Stack { vhost, url, options: options.clone(), dir, daemons: Vec::new(), submitted: 0 };

        let population = stack.population_dir();
        let requester = options.requester;
        let synth = passerelle_command()
            .args(["synth", "--persons", &options.persons.to_string(), "--seed", &options.seed.to_string()])
            .args(["--requester", requester.body()])
            .arg("--out")
            .arg(&population)
            .output()
            .unwrap();
        assert!(synth.status.success(), "passerelle synth failed: {}", text(&synth));

        let root = stack.dir.path().to_owned();
        let logs = root.join("logs");
        std::fs::create_dir_all(&logs).unwrap();
        let broker = BusSettings {
            urls: vec![stack.url.clone()],
            observatories: vec![OBSERVATORY.to_owned()],
            ..BusSettings::default()
        };
        let bodies: Vec<String> = requester.responders().iter().map(|b| (*b).to_owned()).collect();
        let mut deployment =
            Deployment::new(&root, &broker, OBSERVATORY, &bodies, (requester.body(), requester.office()));
        // Every daemon logs in as the vhost's one user: the development profile's shared
        // identity, asked for by name.
        deployment.set_profile(Profile::Development);
        deployment.set_chunk_size(options.chunk_size);
        deployment.observatory.tick_ms = options.tick_ms;
        deployment.observatory.trails.checkpoint_interval_s = options.checkpoint_interval_s;
        deployment.requester.trails.checkpoint_interval_s = options.checkpoint_interval_s;
        for responder in &mut deployment.responders {
            responder.trails.checkpoint_interval_s = options.checkpoint_interval_s;
        }
        let mut ports = FreePorts::default();
        deployment.observatory.metrics_addr = Some(ports.pick().unwrap().to_string());
        for responder in &mut deployment.responders {
            responder.consumers = options.consumers;
            responder.metrics_addr = Some(ports.pick().unwrap().to_string());
        }
        deployment.requester.metrics_addr = Some(ports.pick().unwrap().to_string());
        // The test's own account is the agent every CLI call of the stack is made as: at the
        // observatory and the responders with the roles `write_agent_registry` gives, at the
        // requester a prevention agent of its office.
        let registry = super::write_agent_registry(&root);
        deployment.observatory.agents.registry = Some(registry.clone());
        for responder in &mut deployment.responders {
            responder.agents.registry = Some(registry.clone());
        }
        let registry = root.join("requester-agents.toml");
        std::fs::write(&registry, agent_registry_in(requester.office(), &[REQUESTER_AGENT_ROLE, "auditor"])).unwrap();
        deployment.requester.agents.registry = Some(registry);
        deployment.create_dirs().unwrap();
        for (settings, config) in deployment.write_settings(&root).unwrap() {
            let (name, log) = match &settings {
                PartySettings::Observatory(_) => (OBSERVATORY_DAEMON.to_owned(), "observatory.log".to_owned()),
                PartySettings::Responder(r) => (r.body.clone(), format!("responder-{}.log", r.body)),
                PartySettings::Requester(_) => (REQUESTER_DAEMON.to_owned(), "requester.log".to_owned()),
                PartySettings::SocialService(_) => ("social-service".to_owned(), "social-service.log".to_owned()),
            };
            if let PartySettings::Responder(r) = &settings {
                let load = passerelle_command()
                    .args(["responder", "load", "--without-daemon", "--config"])
                    .arg(&config)
                    .arg(stack.extract(&r.body))
                    .output()
                    .unwrap();
                assert!(load.status.success(), "responder load ({}) failed: {}", r.body, text(&load));
            }
            let process = SpawnedParty::new(name, env!("CARGO_BIN_EXE_passerelle"), &settings, config, logs.join(log))
                .unwrap_or_else(|e| panic!("{e:#}"))
                .env_remove("PASSERELLE_LOG_FORMAT")
                .env("RUST_LOG", &options.log_filter);
            stack.daemons.push(Daemon { settings, process });
        }
        stack
    }

    /// Adds a daemon of these settings (written to `<name>.toml` in the stack's folder, its log
    /// `logs/<name>.log`), not started: a second observatory, say. Its `metrics_addr` must be
    /// its own.
    pub fn add_daemon(&mut self, name: &str, settings: PartySettings) {
        let config = self.dir.path().join(format!("{name}.toml"));
        settings.write(&config).unwrap_or_else(|e| panic!("cannot write {}: {e:#}", config.display()));
        let log = self.dir.path().join("logs").join(format!("{name}.log"));
        let process = SpawnedParty::new(name, env!("CARGO_BIN_EXE_passerelle"), &settings, config, log)
            .unwrap_or_else(|e| panic!("{e:#}"))
            .env_remove("PASSERELLE_LOG_FORMAT")
            .env("RUST_LOG", &self.options.log_filter);
        self.daemons.push(Daemon { settings, process });
    }

    /// Changes a daemon's settings and writes its settings file again, serialised (before it
    /// starts, or before a restart).
    pub fn edit_settings(&mut self, daemon: &str, edit: impl FnOnce(&mut PartySettings)) {
        let d = self.daemon_mut(daemon);
        edit(&mut d.settings);
        let config = d.process.config();
        d.settings.write(config).unwrap_or_else(|e| panic!("cannot write {}: {e:#}", config.display()));
    }

    /// Has a daemon serve its web console (`[api] console_addr` on a free loopback port), its
    /// local API on `socket` and its agents mapped by `registry` (before it starts): the tests
    /// of the console put both where every agent's account can reach them.
    pub fn serve_console(&mut self, daemon: &str, socket: &Path, registry: &Path) {
        self.edit_settings(daemon, |settings| {
            let (api, agents) = match settings {
                PartySettings::Observatory(s) => (&mut s.api, &mut s.agents),
                PartySettings::Responder(s) => (&mut s.api, &mut s.agents),
                PartySettings::Requester(s) => (&mut s.api, &mut s.agents),
                PartySettings::SocialService(s) => (&mut s.api, &mut s.agents),
            };
            api.socket = Some(socket.to_owned());
            api.console_addr = Some("127.0.0.1:0".to_owned());
            agents.registry = Some(registry.to_owned());
        });
    }

    /// A daemon's settings, as its file has them.
    pub fn settings(&self, daemon: &str) -> &PartySettings {
        &self.daemon(daemon).settings
    }

    // ---- where things are ----

    /// The vhost (created for this stack, deleted on drop).
    pub fn vhost(&self) -> &str {
        &self.vhost
    }

    /// The guest's AMQP URL in this vhost.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn options(&self) -> &StackOptions {
        &self.options
    }

    /// The stack's folder (deleted on drop).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The synthetic population: `selection.csv`, `extract-<body>.csv`, `manifest.json`.
    pub fn population_dir(&self) -> PathBuf {
        self.dir.path().join("population")
    }

    /// The whole synthetic selection.
    pub fn selection(&self) -> PathBuf {
        self.population_dir().join("selection.csv")
    }

    /// A body's synthetic extract.
    pub fn extract(&self, body: &str) -> PathBuf {
        self.population_dir().join(format!("extract-{body}.csv"))
    }

    /// The observatory's `data_dir` (`observatory.db`, `statistics.key`, `statistics/statistics.db`).
    pub fn observatory_data_dir(&self) -> PathBuf {
        self.dir.path().join("observatory")
    }

    /// `observatory`, the responders' bodies ([`StackRequester::responders`]), `requester`: the
    /// start order.
    pub fn daemon_names(&self) -> Vec<String> {
        self.daemons.iter().map(|d| d.name().to_owned()).collect()
    }

    fn daemon(&self, name: &str) -> &Daemon {
        self.daemons.iter().find(|d| d.name() == name).unwrap_or_else(|| panic!("no daemon {name}"))
    }

    fn daemon_mut(&mut self, name: &str) -> &mut Daemon {
        self.daemons.iter_mut().find(|d| d.name() == name).unwrap_or_else(|| panic!("no daemon {name}"))
    }

    /// A daemon's settings file (to run another command on its store; [`Stack::edit_settings`]
    /// changes it).
    pub fn config(&self, daemon: &str) -> PathBuf {
        self.daemon(daemon).process.config().to_owned()
    }

    /// A daemon's `metrics_addr`.
    pub fn health_addr(&self, daemon: &str) -> SocketAddr {
        self.daemon(daemon).process.health()
    }

    // ---- the daemons ----

    /// Starts a daemon (its settings, store and port unchanged) and waits until it is healthy;
    /// returns how long that took.
    pub fn start_daemon(&mut self, daemon: &str) -> Duration {
        let started = Instant::now();
        self.daemon_mut(daemon).start();
        started.elapsed()
    }

    /// Starts a daemon without waiting for it to be healthy.
    pub fn spawn_daemon(&mut self, daemon: &str) {
        self.daemon_mut(daemon).spawn();
    }

    /// Waits until a spawned daemon is healthy.
    pub fn wait_healthy(&mut self, daemon: &str) {
        self.daemon_mut(daemon).wait_healthy();
    }

    /// `kill -9`: the process dies at once, whatever it was doing.
    pub fn kill(&mut self, daemon: &str) {
        self.daemon_mut(daemon).process.kill().unwrap_or_else(|e| panic!("{e:#}"));
    }

    /// SIGTERM (the graceful stop); panics unless it exits 0 within [`STOP_TIMEOUT`].
    pub fn stop(&mut self, daemon: &str) {
        self.daemon_mut(daemon).process.stop(STOP_TIMEOUT).unwrap_or_else(|e| panic!("{e:#}"));
    }

    /// `kill -9`, then start again; returns the time from the new start to healthy.
    pub fn kill_and_restart(&mut self, daemon: &str) -> Duration {
        self.kill(daemon);
        self.start_daemon(daemon)
    }

    /// Whether the daemon's process is alive (a daemon that exited on its own is reaped).
    pub fn is_running(&mut self, daemon: &str) -> bool {
        self.daemon_mut(daemon).process.is_running()
    }

    /// Waits until the daemon's process exits by itself (a fault point, a failure) and returns
    /// its exit status; panics after `timeout`.
    pub fn wait_exit(&mut self, daemon: &str, timeout: Duration) -> std::process::ExitStatus {
        self.daemon_mut(daemon).process.wait_exit(Instant::now() + timeout).unwrap_or_else(|e| panic!("{e:#}"))
    }

    /// Its process id, while running.
    pub fn pid(&self, daemon: &str) -> Option<u32> {
        self.daemon(daemon).process.pid()
    }

    /// How many times it was started.
    pub fn starts(&self, daemon: &str) -> u32 {
        self.daemon(daemon).process.starts()
    }

    /// Its whole log (every incarnation, each after a `==== start #n of <daemon> ====` line).
    pub fn log(&self, daemon: &str) -> String {
        self.daemon(daemon).process.log()
    }

    /// Its log file.
    pub fn log_path(&self, daemon: &str) -> PathBuf {
        self.daemon(daemon).process.log_path().to_owned()
    }

    /// Its `/metrics`, parsed; `None` while it does not answer.
    pub fn metrics(&self, daemon: &str) -> Option<super::Exposition> {
        let (status, body) = http_get(self.daemon(daemon).process.health(), "/metrics")?;
        (status == 200).then(|| super::Exposition::parse(&body))
    }

    /// A sample of its `/metrics` (0 when the series is absent); `None` while it does not answer.
    pub fn metric(&self, daemon: &str, series: &str) -> Option<f64> {
        self.metrics(daemon).map(|e| e.samples.get(series).copied().unwrap_or(0.0))
    }

    // ---- cases ----

    /// `requester submit --detach` of a selection file asking the requester's categories
    /// ([`StackRequester::want`]: [`WANT`] for the CAF), with the deadline
    /// `respond_by` (`90s`, `10m`, `7d`…); returns the case ids (one per observatory: one here).
    pub fn submit(&mut self, selection: &Path, respond_by: &str) -> Vec<String> {
        self.submitted += 1;
        let out = passerelle_command()
            .args(["requester", "submit", "--detach", "--want", self.options.requester.want()])
            .args(["--respond-by", respond_by])
            .args(["--service", "prevention-workshop", "--purpose", "Atelier prévention des chutes (test de panne)"])
            .arg("--config")
            .arg(self.config(REQUESTER_DAEMON))
            .arg("--selection")
            .arg(selection)
            .output()
            .unwrap();
        let said = text(&out);
        assert!(out.status.success(), "requester submit failed ({}): {said}", out.status);
        let ids: Vec<String> = said
            .lines()
            .filter_map(|l| l.strip_prefix("case "))
            .filter_map(|l| l.split_whitespace().next())
            .map(str::to_owned)
            .collect();
        assert!(!ids.is_empty(), "requester submit named no case: {said}");
        ids
    }

    /// Submits the whole synthetic selection; returns its one case.
    pub fn submit_selection(&mut self, respond_by: &str) -> String {
        let selection = self.selection();
        let ids = self.submit(&selection, respond_by);
        assert_eq!(ids.len(), 1, "one observatory, one case: {ids:?}");
        ids.into_iter().next().unwrap()
    }

    /// `requester status --json`: every case's line (`case` holds the summary: `state`,
    /// `completeness`, `bodies`…; beside it `result_chunks`, `receipt_sent`…).
    pub fn statuses(&self) -> Vec<serde_json::Value> {
        let out = passerelle_command()
            .args(["requester", "status", "--json", "--config"])
            .arg(self.config(REQUESTER_DAEMON))
            .output()
            .unwrap();
        assert!(matches!(out.status.code(), Some(0 | 1)), "requester status failed: {}", text(&out));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// One case's status line.
    pub fn status(&self, case: &str) -> Option<serde_json::Value> {
        self.statuses().into_iter().find(|s| s["case"]["case_id"] == case)
    }

    /// The state the requester recorded: `prepared`, `sent`, `answered`, `refused`, `purged`.
    pub fn case_state(&self, case: &str) -> String {
        self.status(case).and_then(|s| s["case"]["state"].as_str().map(str::to_owned)).unwrap_or_default()
    }

    /// Waits until the requester has the case's whole result (or refusal), then returns its
    /// status line.
    pub fn wait_settled(&self, case: &str, timeout: Duration) -> serde_json::Value {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.status(case);
            if s.as_ref().is_some_and(|s| matches!(s["case"]["state"].as_str(), Some("answered" | "refused"))) {
                return s.unwrap();
            }
            if Instant::now() >= deadline {
                panic!(
                    "timed out after {timeout:?} waiting for: case {case} settled at the requester (last status: \
                     {s:?}); the daemons' logs end with:\n{}",
                    self.log_tails(40)
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// The last `lines` lines of every daemon's log, each under its name: what a failed wait
    /// prints, so that a fault seen once in CI can be read afterwards.
    pub fn log_tails(&self, lines: usize) -> String {
        let mut out = String::new();
        for d in &self.daemons {
            let log = d.process.log();
            let all: Vec<&str> = log.lines().collect();
            out.push_str(&format!("---- {} ----\n", d.name()));
            for line in &all[all.len().saturating_sub(lines)..] {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    /// Waits until the requester has sent the case's receipt and the observatory purged it.
    pub fn wait_purged(&self, case: &str, timeout: Duration) {
        eventually(&format!("case {case}: receipt sent"), timeout, || {
            self.status(case).is_some_and(|s| s["receipt_sent"] == true)
        });
        eventually(&format!("case {case} purged by the observatory"), timeout, || {
            self.audit(Some(case)).iter().any(|e| e["action"] == "purge")
        });
    }

    /// `requester fetch`: the case's result as JSON Lines rows (one per person: `line`,
    /// `selection`, `categories`, `status`…).
    pub fn fetch(&self, case: &str) -> Vec<serde_json::Value> {
        let out_file = self.dir.path().join(format!("result-{case}.jsonl"));
        let out = passerelle_command()
            .args(["requester", "fetch", case, "--config"])
            .arg(self.config(REQUESTER_DAEMON))
            .arg("--out")
            .arg(&out_file)
            .output()
            .unwrap();
        assert!(matches!(out.status.code(), Some(0 | 1)), "requester fetch failed: {}", text(&out));
        super::read_jsonl(&out_file)
    }

    // ---- the observatory's audit trail ----

    /// `audit show --json` (one case's entries, or all).
    pub fn audit(&self, case: Option<&str>) -> Vec<serde_json::Value> {
        let mut command = passerelle_command();
        command.args(["audit", "show", "--json", "--config"]).arg(self.config(OBSERVATORY_DAEMON));
        if let Some(case) = case {
            command.args(["--case", case]);
        }
        let out = command.output().unwrap();
        assert!(out.status.success(), "audit show failed: {}", text(&out));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// `audit verify`: whether every hash and link of the trail holds.
    pub fn audit_verifies(&self) -> bool {
        let out = passerelle_command()
            .args(["audit", "verify", "--config"])
            .arg(self.config(OBSERVATORY_DAEMON))
            .output()
            .unwrap();
        out.status.success()
    }

    // ---- the broker ----

    /// Every queue of the vhost and its message count.
    pub fn queues(&self) -> BTreeMap<String, u64> {
        let out = rabbitmqctl(&["list_queues", "-q", "-p", &self.vhost, "name", "messages", "--formatter", "json"]);
        let list: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap_or_default();
        list.iter()
            .filter_map(|q| Some((q["name"].as_str()?.to_owned(), q["messages"].as_u64().unwrap_or(0))))
            .collect()
    }

    /// Messages waiting in the dead-letter queue (not taken).
    pub fn dead_letter_count(&self) -> u64 {
        self.queues().iter().filter(|(name, _)| name.ends_with(".dead-letters")).map(|(_, n)| n).sum()
    }

    /// Takes every message of the dead-letter queue (they are gone afterwards).
    pub fn take_dead_letters(&self) -> Vec<DeadLetter> {
        let queue = self.queues().into_keys().find(|n| n.ends_with(".dead-letters")).expect("a dead-letter queue");
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let props = lapin::ConnectionProperties::default();
            let conn = lapin::Connection::connect(&self.url, props).await.expect("cannot connect to the test vhost");
            let channel = conn.create_channel().await.unwrap();
            let mut dead = Vec::new();
            while let Some(m) = channel
                .basic_get(queue.as_str().into(), lapin::options::BasicGetOptions { no_ack: true })
                .await
                .unwrap()
            {
                let headers: BTreeMap<String, String> = m
                    .properties
                    .headers()
                    .as_ref()
                    .map(|h| h.inner().iter().map(|(k, v)| (k.to_string(), amqp_text(v))).collect())
                    .unwrap_or_default();
                let reason = headers
                    .get("x-passerelle-reason")
                    .cloned()
                    .or_else(|| headers.get("x-death").cloned())
                    .unwrap_or_default();
                dead.push(DeadLetter {
                    reason,
                    kind: m.properties.kind().as_ref().map(|k| k.to_string()).unwrap_or_default(),
                    // The observatory's reasoned copy names its queue; a body's refusal is the
                    // broker's own dead-letter, whose `x-death` headers name it.
                    queue: headers
                        .get("x-passerelle-original-queue")
                        .or_else(|| headers.get("x-first-death-queue"))
                        .cloned()
                        .unwrap_or_default(),
                    headers,
                    body_len: m.data.len(),
                });
            }
            let _ = conn.close(200, "dead letters taken".into()).await;
            dead
        })
    }

    /// Force-closes every connection of this vhost (needs no broker lock: only ours).
    pub fn close_connections(&self) {
        rabbitmqctl(&["close_all_connections", "-p", &self.vhost, "passerelle fault test"]);
    }

    /// The connections the broker has open in this vhost.
    pub fn connection_count(&self) -> usize {
        let out = rabbitmqctl(&["list_connections", "-q", "vhost", "--formatter", "json"]);
        let list: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap_or_default();
        list.iter().filter(|c| c["vhost"] == self.vhost.as_str()).count()
    }

    // ---- what the population says ----

    /// What a complete result must hold, from the selection and the bodies' extracts.
    pub fn expected(&self) -> Expected {
        Expected::read(&self.selection(), &self.options.requester.responders().map(|b| (b, self.extract(b))))
    }
}

impl Drop for Stack {
    /// Kills every process (a test over: nothing to finish gracefully), then deletes the vhost.
    fn drop(&mut self) {
        for d in &mut self.daemons {
            if d.process.is_running() {
                let _ = d.process.kill();
            }
        }
        let _ = Command::new("rabbitmqctl").args(["delete_vhost", &self.vhost]).output();
        if std::env::var_os("PASSERELLE_TEST_KEEP").is_some() {
            let kept = self.dir.path().to_owned();
            let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
            let _ = dir.keep();
            eprintln!("stack: kept {}", kept.display());
        }
    }
}

// ---- what a complete result holds ----

/// One person of the selection as the bodies know them.
#[derive(Debug, Clone, Default)]
pub struct ExpectedPerson {
    pub line: u64,
    pub nir: String,
    /// Per body: `None` not found; `Some(values)` found, with every non-empty value of its
    /// extract (category code → canonical text).
    pub bodies: BTreeMap<String, Option<BTreeMap<String, String>>>,
}

/// What a complete result must hold, person by person.
#[derive(Debug, Clone, Default)]
pub struct Expected {
    /// By NIR.
    pub persons: HashMap<String, ExpectedPerson>,
}

/// How a result compares with [`Expected`].
#[derive(Debug, Clone, Default)]
pub struct ResultCheck {
    /// Rows of the result.
    pub rows: u64,
    /// Persons of the selection absent from the result.
    pub missing: u64,
    /// Persons listed more than once.
    pub duplicates: u64,
    /// Rows naming nobody of the selection.
    pub unexpected: u64,
    /// Per body: status → persons.
    pub statuses: BTreeMap<String, BTreeMap<String, u64>>,
    /// Values an extract holds that the result lacks (neither kept nor a dissent of that body).
    pub values_missing: u64,
    /// Values the result attributes to a body whose extract does not say so.
    pub values_wrong: u64,
    /// Persons whose `found`/`not_found` disagrees with the extract, per body.
    pub status_wrong: u64,
    /// Values checked.
    pub values_checked: u64,
    /// The first few problems, described without NIRs (selection lines).
    pub problems: Vec<String>,
}

/// Problems quoted in a [`ResultCheck`].
const PROBLEMS_QUOTED: usize = 10;

impl ResultCheck {
    /// Every person once, with every value the bodies hold, and nothing else.
    pub fn adds_up(&self) -> bool {
        self.missing == 0
            && self.duplicates == 0
            && self.unexpected == 0
            && self.values_missing == 0
            && self.values_wrong == 0
            && self.status_wrong == 0
    }

    pub fn count(&self, body: &str, status: &str) -> u64 {
        self.statuses.get(body).and_then(|s| s.get(status)).copied().unwrap_or(0)
    }

    fn problem(&mut self, p: String) {
        if self.problems.len() < PROBLEMS_QUOTED {
            self.problems.push(p);
        }
    }
}

/// The NIR without spaces.
fn nir_text(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// A JSON value of the result as the canonical text an extract writes.
fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Expected {
    /// Reads the selection and each body's extract and applies the responders' matching policy:
    /// a body knows a selection person when one of its records is keyed by, or lists as a former
    /// NIR, the person's NIR or one of their former NIRs (a former NIR two records claim matches
    /// nobody), and the record's sex and birth year, where both sides know them, agree.
    pub fn read(selection: &Path, extracts: &[(&str, PathBuf)]) -> Expected {
        let mut reader = csv::Reader::from_path(selection).unwrap();
        let headers = reader.headers().unwrap().clone();
        let col = |name: &str| headers.iter().position(|h| h.trim() == name).unwrap();
        let (nir, former, sex, birth_year) = (col("nir"), col("former_nirs"), col("sex"), col("birth_year"));
        let mut selected: Vec<(u64, String, Vec<String>, String, String)> = Vec::new();
        for (i, record) in reader.records().enumerate() {
            let r = record.unwrap();
            let line = r.position().map_or(i as u64 + 2, |p| p.line());
            let formers = r[former].split('|').map(nir_text).filter(|n| !n.is_empty()).collect();
            selected.push((
                line,
                nir_text(&r[nir]),
                formers,
                r[sex].trim().to_owned(),
                r[birth_year].trim().to_owned(),
            ));
        }
        let mut persons: HashMap<String, ExpectedPerson> = selected
            .iter()
            .map(|(line, nir, ..)| {
                (nir.clone(), ExpectedPerson { line: *line, nir: nir.clone(), bodies: BTreeMap::new() })
            })
            .collect();
        for (body, path) in extracts {
            let mut reader = csv::Reader::from_path(path).unwrap();
            let headers = reader.headers().unwrap().clone();
            let col = |name: &str| headers.iter().position(|h| h.trim() == name);
            let (nir, former, sex, birth_year) =
                (col("nir").unwrap(), col("former_nirs"), col("sex"), col("birth_year"));
            let identity_columns: BTreeSet<usize> =
                [Some(nir), former, sex, birth_year].into_iter().flatten().collect();
            struct Record {
                sex: String,
                birth_year: String,
                values: BTreeMap<String, String>,
            }
            let mut records = Vec::new();
            let mut by_current: HashMap<String, usize> = HashMap::new();
            let mut by_former: HashMap<String, Vec<usize>> = HashMap::new();
            for record in reader.records() {
                let r = record.unwrap();
                let i = records.len();
                by_current.insert(nir_text(&r[nir]), i);
                if let Some(f) = former {
                    for n in r[f].split('|').map(nir_text).filter(|n| !n.is_empty()) {
                        by_former.entry(n).or_default().push(i);
                    }
                }
                let values = headers
                    .iter()
                    .enumerate()
                    .filter(|(c, _)| !identity_columns.contains(c))
                    .filter(|(c, _)| !r[*c].trim().is_empty())
                    .map(|(c, h)| (h.trim().to_owned(), r[c].trim().to_owned()))
                    .collect();
                records.push(Record {
                    sex: sex.map(|c| r[c].trim().to_owned()).unwrap_or_default(),
                    birth_year: birth_year.map(|c| r[c].trim().to_owned()).unwrap_or_default(),
                    values,
                });
            }
            for (_, nir, formers, sex, birth_year) in &selected {
                let keys = std::iter::once(nir).chain(formers.iter());
                let mut found = None;
                for key in keys {
                    let candidate = by_current.get(key).copied().or_else(|| match by_former.get(key) {
                        Some(v) if v.len() == 1 => Some(v[0]),
                        _ => None,
                    });
                    if let Some(i) = candidate {
                        found = Some(i);
                        break;
                    }
                }
                let known = found.map(|i| &records[i]).filter(|r| {
                    (r.sex.is_empty() || sex.is_empty() || r.sex.eq_ignore_ascii_case(sex))
                        && (r.birth_year.is_empty() || birth_year.is_empty() || &r.birth_year == birth_year)
                });
                persons.get_mut(nir).unwrap().bodies.insert((*body).to_owned(), known.map(|r| r.values.clone()));
            }
        }
        Expected { persons }
    }

    /// Compares a result (JSON Lines rows of `requester fetch`) with what the bodies hold.
    /// `silent` bodies must be `no_answer` for every person (a partial result); the others must
    /// be `found` exactly where their extract knows the person, with every value it holds for a
    /// category asked (`wanted`: None = every column of the extract).
    pub fn check(&self, rows: &[serde_json::Value], silent: &[&str]) -> ResultCheck {
        let mut check = ResultCheck { rows: rows.len() as u64, ..ResultCheck::default() };
        let mut seen: HashMap<&str, u32> = HashMap::new();
        for row in rows {
            let nir = row["selection"]["nir"].as_str().map(nir_text).unwrap_or_default();
            let line = row["line"].as_u64().unwrap_or(0);
            let Some(person) = self.persons.get(&nir) else {
                check.unexpected += 1;
                check.problem(format!("result line for selection line {line}: not a person of the selection"));
                continue;
            };
            let n = seen.entry(person.nir.as_str()).or_default();
            *n += 1;
            if *n == 2 {
                check.duplicates += 1;
                check.problem(format!("selection line {}: listed more than once", person.line));
            }
            if *n > 1 {
                continue;
            }
            for (body, known) in &person.bodies {
                let status = row["status"][body.as_str()].as_str().unwrap_or("absent").to_owned();
                *check.statuses.entry(body.clone()).or_default().entry(status.clone()).or_default() += 1;
                let wanted_status = if silent.contains(&body.as_str()) {
                    "no_answer"
                } else if known.is_some() {
                    "found"
                } else {
                    "not_found"
                };
                if status != wanted_status {
                    check.status_wrong += 1;
                    check.problem(format!("selection line {}: {body} is {status}, not {wanted_status}", person.line));
                    continue;
                }
                let Some(values) = known.as_ref().filter(|_| status == "found") else { continue };
                for (category, value) in values {
                    let Some(category_json) = row["categories"].get(category.as_str()) else {
                        // A category not asked (the extract holds more than `WANT`).
                        continue;
                    };
                    check.values_checked += 1;
                    let kept =
                        category_json["sources"].as_array().is_some_and(|s| s.iter().any(|b| b == body.as_str()))
                            && category_json.get("value").map(value_text).as_deref() == Some(value.as_str());
                    let dissent = category_json["dissent"].as_array().is_some_and(|d| {
                        d.iter().any(|x| x["body"] == body.as_str() && value_text(&x["value"]) == *value)
                    });
                    if !(kept || dissent) {
                        check.values_missing += 1;
                        check.problem(format!(
                            "selection line {}: {body}'s {category} is not in the result as the extract holds it",
                            person.line
                        ));
                    }
                }
            }
            // Nothing attributed to a body that does not hold it for this person.
            if let Some(categories) = row["categories"].as_object() {
                for (category, c) in categories {
                    for source in c["sources"].as_array().into_iter().flatten().filter_map(|s| s.as_str()) {
                        let Some(known) = person.bodies.get(source) else { continue };
                        let holds = known.as_ref().and_then(|v| v.get(category));
                        if holds.is_none() || c.get("value").map(value_text).as_deref() != holds.map(String::as_str) {
                            check.values_wrong += 1;
                            check.problem(format!(
                                "selection line {}: the result's {category} names {source}, whose extract differs",
                                person.line
                            ));
                        }
                    }
                }
            }
        }
        check.missing = self.persons.keys().filter(|n| !seen.contains_key(n.as_str())).count() as u64;
        check
    }
}

// ---- helpers ----

/// Where the browser tests write their screenshots for the documentation. Not `PASSERELLE_…`:
/// the daemons and commands read those as settings, and refuse one they do not know.
pub const DOC_SHOTS: &str = "DOC_SHOTS";

/// `passerelle …`, the real binary, without the caller's log format.
pub fn passerelle_command() -> Command {
    let mut c = super::passerelle();
    c.env_remove("PASSERELLE_LOG_FORMAT");
    c
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// `rabbitmqctl …`; panics when it fails (the fault tests need it).
pub fn rabbitmqctl(args: &[&str]) -> String {
    let out = Command::new("rabbitmqctl")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run rabbitmqctl {args:?}: {e} (the fault tests need it)"));
    assert!(out.status.success(), "rabbitmqctl {args:?} failed: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The lock file (`flock`) held by whatever disturbs the whole broker, so that two such runs
/// (two suites, a suite and a benchmark) never interleave: env `PASSERELLE_TEST_BROKER_LOCK`,
/// else one in the temporary folder (`flock /tmp/passerelle-broker.lock <command>` takes it from
/// a shell).
pub fn broker_lock_path() -> PathBuf {
    std::env::var_os("PASSERELLE_TEST_BROKER_LOCK")
        .map_or_else(|| std::env::temp_dir().join("passerelle-broker.lock"), PathBuf::from)
}

/// `rabbitmqctl stop_app`, then `start_app` (attempted whatever happened) and `await_startup`.
/// Returns how long the broker was down (from `stop_app` returning to the broker being up).
const RESTART_APP_SCRIPT: &str = "rabbitmqctl stop_app >/dev/null || exit 1; date +%s.%N; \
    rabbitmqctl start_app >/dev/null; started=$?; rabbitmqctl await_startup >/dev/null; date +%s.%N; exit $started";

fn restart_app(command: &mut Command) -> Duration {
    let out = command.output().expect("sh runs");
    assert!(out.status.success(), "restarting the broker failed: {}", text(&out));
    let times: Vec<f64> = String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| l.trim().parse().ok()).collect();
    assert_eq!(times.len(), 2, "{}", text(&out));
    Duration::from_secs_f64((times[1] - times[0]).max(0.0))
}

/// Restarts the broker's application (`stop_app` / `start_app`) under the broker lock
/// (`flock`), so that no other broker-disturbing run interleaves. Returns how long the broker
/// was down. To choose the moment of the restart *while holding the lock* (so that the moment
/// is still the right one when the lock is obtained), use [`BrokerLock`].
pub fn restart_broker_app() -> Duration {
    BrokerLock::acquire().restart_app()
}

/// The broker lock, held until dropped: a `flock` process holding [`broker_lock_path`] while its
/// standard input is open (it is released even if the test process dies).
#[derive(Debug)]
pub struct BrokerLock {
    holder: Child,
}

impl BrokerLock {
    /// Waits for the lock (printing how long, when another run held it).
    pub fn acquire() -> BrokerLock {
        let path = broker_lock_path();
        let asked = Instant::now();
        let mut holder = Command::new("flock")
            .arg(&path)
            .args(["sh", "-c", "echo locked; exec cat >/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("flock runs");
        let mut line = String::new();
        let stdout = holder.stdout.take().expect("piped");
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).expect("flock answers");
        assert_eq!(line.trim(), "locked", "cannot take the broker lock {}", path.display());
        if asked.elapsed() > Duration::from_secs(1) {
            eprintln!("broker lock {}: waited {:.1} s for it", path.display(), asked.elapsed().as_secs_f64());
        }
        BrokerLock { holder }
    }

    /// `stop_app` / `start_app` / `await_startup`; returns how long the broker was down.
    pub fn restart_app(&self) -> Duration {
        restart_app(Command::new("sh").args(["-c", RESTART_APP_SCRIPT]))
    }

    /// `rabbitmqctl stop_app` alone: the broker is down until [`BrokerLock::start_app`] (call
    /// it, even on an error path: the broker is shared).
    pub fn stop_app(&self) {
        rabbitmqctl(&["stop_app"]);
    }

    /// `rabbitmqctl start_app` then `await_startup`.
    pub fn start_app(&self) {
        rabbitmqctl(&["start_app"]);
        rabbitmqctl(&["await_startup"]);
    }
}

impl Drop for BrokerLock {
    fn drop(&mut self) {
        drop(self.holder.stdin.take());
        let _ = self.holder.wait();
    }
}

/// The guest's user and password in an AMQP URL.
fn credentials(url: &str) -> (String, String) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let userinfo = rest.rsplit_once('@').map_or("guest:guest", |(u, _)| u);
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    (user.to_owned(), password.to_owned())
}

/// The URL with another vhost.
fn with_vhost(url: &str, vhost: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("amqp", url));
    let authority = rest.split('/').next().unwrap_or(rest);
    let query = rest.split_once('?').map(|(_, q)| format!("?{q}")).unwrap_or_default();
    format!("{scheme}://{authority}/{}{query}", vhost.replace('/', "%2f"))
}

/// An AMQP header value as text.
fn amqp_text(v: &lapin::types::AMQPValue) -> String {
    match v {
        lapin::types::AMQPValue::LongString(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        lapin::types::AMQPValue::ShortString(s) => s.to_string(),
        other => format!("{other:?}"),
    }
}

/// Polls `cond` until it holds; panics after `timeout`.
pub fn eventually(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for: {what}");
        std::thread::sleep(POLL);
    }
}

/// A small deterministic generator (xorshift64*) for the moments of the faults; the seed is
/// printed by the tests and can be replayed with `PASSERELLE_TEST_FAULT_SEED`.
#[derive(Debug, Clone)]
pub struct FaultRng(u64);

impl FaultRng {
    /// From `PASSERELLE_TEST_FAULT_SEED`, else from the clock; prints the seed.
    pub fn from_env(test: &str) -> FaultRng {
        let seed = std::env::var("PASSERELLE_TEST_FAULT_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
        });
        eprintln!("{test}: fault seed {seed} (replay with PASSERELLE_TEST_FAULT_SEED={seed})");
        FaultRng(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[0, max]`.
    pub fn duration(&mut self, max: Duration) -> Duration {
        let ms = max.as_millis() as u64;
        Duration::from_millis(if ms == 0 { 0 } else { self.next_u64() % (ms + 1) })
    }
}
