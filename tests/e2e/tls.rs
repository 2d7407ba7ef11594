//! The deploy kit's TLS set-up on a RabbitMQ node of the test's own: `rabbitmq-single-node.conf`
//! with only its paths and ports changed, the kit's `enabled_plugins`, the definitions
//! `topology export` writes, and certificates the test makes with `openssl` (a CA, the broker's
//! with `127.0.0.1` and `localhost` as SANs, one per party with its broker user as CN). Then:
//! a certificate login works (the observatory daemon runs, and logs its certificate's subject);
//! a password login on the AMQP TLS port is refused, even with a party's certificate; a client
//! without certificate hears that the broker asked for one; a party holding another party's
//! certificate refuses to start (exit 3, naming the CN and the body); a party whose user is
//! removed can no longer log in (revocation).
//!
//! The node has its own name (`passerelle-tls-<id>@localhost`), ports, data and log folders and
//! Erlang cookie (its `HOME` is the test's folder), and is stopped by a drop guard whatever
//! happens: the shared broker is never touched. Without `rabbitmq-server` or `openssl` the test
//! is skipped, and fails under `CI=true`.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use passerelle_bus::{AmqpBus, BusError, BusSettings, IdentitySettings, Role, TlsSettings};
use passerelle_observatory::ObservatorySettings;
use passerelle_party::process::SpawnedParty;
use passerelle_party::{PartyKind, PartySettings};
use support::proxy::free_port;

const OBSERVATORY: &str = "carsat-sud-est";
/// The broker users (the certificates' CNs).
const OBSERVATORY_USER: &str = "observatory-test";
const CNAM_USER: &str = "body-cnam";
const VHOST: &str = "passerelle-tls";
/// How long the node has to start, and a daemon to become healthy or exit.
const WAIT: Duration = Duration::from_secs(120);

fn kit(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy").join(path)
}

/// The folder of RabbitMQ's own scripts (not the distribution's wrappers, which switch to the
/// `rabbitmq` user), or why the test cannot run.
fn rabbitmq_scripts() -> Result<PathBuf, String> {
    let packaged = Path::new("/usr/lib/rabbitmq/bin");
    if packaged.join("rabbitmq-server").exists() {
        return Ok(packaged.to_owned());
    }
    let which = Command::new("sh").args(["-c", "command -v rabbitmq-server"]).output().map_err(|e| e.to_string())?;
    let found = String::from_utf8_lossy(&which.stdout).trim().to_owned();
    let path = std::fs::canonicalize(&found).map_err(|_| "rabbitmq-server is not installed".to_owned())?;
    Ok(path.parent().unwrap().to_owned())
}

fn skip_or_fail(why: &str) {
    assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true and the TLS test cannot run: {why}");
    eprintln!("SKIPPED: the TLS test cannot run here: {why}");
}

fn run(command: &mut Command, what: &str) -> String {
    let out = command.output().unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The test's certificates, made with the `openssl` command.
struct Certificates {
    dir: PathBuf,
}

impl Certificates {
    fn make(dir: &Path) -> Certificates {
        std::fs::create_dir_all(dir).unwrap();
        let certs = Certificates { dir: dir.to_owned() };
        run(
            Command::new("openssl")
                .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"])
                .args(["-days", "2", "-subj", "/CN=Passerelle test CA"])
                .arg("-keyout")
                .arg(dir.join("ca.key"))
                .arg("-out")
                .arg(dir.join("ca.pem")),
            "openssl req (CA)",
        );
        certs.leaf("server", "localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth");
        certs.leaf("observatory", OBSERVATORY_USER, "extendedKeyUsage=clientAuth");
        certs.leaf("cnam", CNAM_USER, "extendedKeyUsage=clientAuth");
        certs
    }

    /// `name.pem` and `name.key`, signed by the CA, for `cn`, with `extensions`.
    fn leaf(&self, name: &str, cn: &str, extensions: &str) {
        let dir = &self.dir;
        let ext = dir.join(format!("{name}.ext"));
        std::fs::write(&ext, format!("basicConstraints=CA:FALSE\n{extensions}\n")).unwrap();
        run(
            Command::new("openssl")
                .args(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"])
                .args(["-subj", &format!("/CN={cn}/O=Passerelle test")])
                .arg("-keyout")
                .arg(dir.join(format!("{name}.key")))
                .arg("-out")
                .arg(dir.join(format!("{name}.csr"))),
            "openssl req",
        );
        run(
            Command::new("openssl")
                .args(["x509", "-req", "-days", "2", "-CAcreateserial"])
                .arg("-in")
                .arg(dir.join(format!("{name}.csr")))
                .arg("-CA")
                .arg(dir.join("ca.pem"))
                .arg("-CAkey")
                .arg(dir.join("ca.key"))
                .arg("-extfile")
                .arg(&ext)
                .arg("-out")
                .arg(dir.join(format!("{name}.pem"))),
            "openssl x509",
        );
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// The client TLS settings of the party `name` (`None`: no client certificate).
    fn client(&self, name: Option<&str>) -> TlsSettings {
        TlsSettings {
            ca_file: Some(self.path("ca.pem")),
            cert_file: name.map(|n| self.path(&format!("{n}.pem"))),
            key_file: name.map(|n| self.path(&format!("{n}.key"))),
        }
    }
}

/// A RabbitMQ node of the test's own, stopped when dropped.
struct Node {
    name: String,
    scripts: PathBuf,
    home: PathBuf,
    child: Child,
    /// Its AMQP TLS port.
    port: u16,
    /// Its management API's plain loopback port (the kit's `management.tcp.port`).
    management_port: u16,
    dir: PathBuf,
}

impl Node {
    /// Starts a node on the kit's single-node configuration with the test's paths and ports, and
    /// waits until it runs.
    fn start(scripts: &Path, dir: &Path, certs: &Certificates, definitions: &Path) -> Result<Node, String> {
        let name = format!("passerelle-tls-{}@localhost", passerelle_test_support::unique());
        let home = dir.join("home");
        for sub in ["home", "mnesia", "log"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let port = free_port();
        let management_port = free_port();
        let conf = std::fs::read_to_string(kit("rabbitmq/rabbitmq-single-node.conf"))
            .unwrap()
            .replace("/etc/rabbitmq/tls/ca.pem", &certs.path("ca.pem").display().to_string())
            .replace("/etc/rabbitmq/tls/server.pem", &certs.path("server.pem").display().to_string())
            .replace("/etc/rabbitmq/tls/server.key", &certs.path("server.key").display().to_string())
            .replace("/etc/rabbitmq/definitions.json", &definitions.display().to_string())
            .replace("listeners.ssl.default = 5671", &format!("listeners.ssl.default = {port}"))
            .replace("management.ssl.port = 15671", &format!("management.ssl.port = {}", free_port()))
            .replace("management.tcp.port = 15672", &format!("management.tcp.port = {management_port}"))
            .replace("prometheus.tcp.port = 15692", &format!("prometheus.tcp.port = {}", free_port()))
            // A test machine's disk: the kit's 5 GB floor would block publishers on a small one.
            .replace("disk_free_limit.absolute = 5GB", "disk_free_limit.absolute = 50MB");
        assert!(conf.contains(&format!("listeners.ssl.default = {port}")), "the kit's listener line changed");
        let conf_file = dir.join("rabbitmq.conf");
        std::fs::write(&conf_file, conf).unwrap();
        let plugins = dir.join("enabled_plugins");
        std::fs::copy(kit("rabbitmq/enabled_plugins"), &plugins).unwrap();
        let log = std::fs::File::create(dir.join("server.out")).unwrap();
        // Its working folder is the test's too: a crash dump lands there, not in the source tree.
        let child = Command::new(scripts.join("rabbitmq-server"))
            .current_dir(dir)
            .env("HOME", &home)
            .env("RABBITMQ_NODENAME", &name)
            .env("RABBITMQ_DIST_PORT", free_port().to_string())
            .env("RABBITMQ_CONFIG_FILE", &conf_file)
            .env("RABBITMQ_ADVANCED_CONFIG_FILE", dir.join("advanced.config"))
            .env("RABBITMQ_CONF_ENV_FILE", dir.join("rabbitmq-env.conf"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", &plugins)
            .env("RABBITMQ_MNESIA_BASE", dir.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", dir.join("log"))
            .env("RABBITMQ_PID_FILE", dir.join("rabbitmq.pid"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start rabbitmq-server: {e}"))?;
        let mut node =
            Node { name, scripts: scripts.to_owned(), home, child, port, management_port, dir: dir.to_owned() };
        // `wait` waits for the node's pid file, then for the node to boot (`await_startup`
        // would fail at once while the node is not up yet).
        let pid_file = dir.join("rabbitmq.pid").display().to_string();
        let waited = node.ctl_output(&["wait", "--timeout", &WAIT.as_secs().to_string(), &pid_file]);
        if !waited.status.success() {
            return Err(format!(
                "the node did not start: {}{}\n{}",
                String::from_utf8_lossy(&waited.stdout),
                String::from_utf8_lossy(&waited.stderr),
                node.log_tail()
            ));
        }
        Ok(node)
    }

    fn ctl_output(&mut self, args: &[&str]) -> std::process::Output {
        Command::new(self.scripts.join("rabbitmqctl"))
            .current_dir(&self.dir)
            .env("HOME", &self.home)
            .args(["-n", &self.name])
            .args(args)
            .output()
            .expect("cannot run rabbitmqctl")
    }

    /// `rabbitmqctl -n NODE args…`, which must succeed.
    fn ctl(&mut self, args: &[&str]) -> String {
        let out = self.ctl_output(args);
        assert!(
            out.status.success(),
            "rabbitmqctl {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn log_tail(&self) -> String {
        let out = std::fs::read_to_string(self.dir.join("server.out")).unwrap_or_default();
        let lines: Vec<&str> = out.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// The URL of broker user `user` on this node, logging in by certificate.
    fn url(&self, user: &str) -> String {
        format!("amqps://{user}@127.0.0.1:{}/{VHOST}?auth_mechanism=external", self.port)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.ctl_output(&["stop"]);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The deployment's bus settings on `node` for broker user `user`, with `tls`.
fn broker(node: &Node, user: &str, tls: TlsSettings) -> BusSettings {
    let mut identity = IdentitySettings { insecure_any_user: false, ..Default::default() };
    identity.users.insert(OBSERVATORY_USER.into(), vec![OBSERVATORY.into()]);
    identity.users.insert(CNAM_USER.into(), vec!["cnam".into()]);
    BusSettings {
        urls: vec![node.url(user)],
        observatories: vec![OBSERVATORY.into()],
        tls: Some(tls),
        identity,
        start_timeout_s: 5,
        ..BusSettings::default()
    }
}

/// Connects once as a body, from the test.
fn connect(settings: &BusSettings, body: &str) -> Result<AmqpBus, BusError> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let bus = runtime.block_on(AmqpBus::connect(settings, Role::Body(body.into())))?;
    runtime.block_on(bus.close());
    Ok(bus)
}

#[test]
fn the_kit_offers_certificate_login_only_on_amqp_and_its_single_node_variant_is_the_same_file() {
    let cluster = std::fs::read_to_string(kit("rabbitmq/rabbitmq.conf")).unwrap();
    let single = std::fs::read_to_string(kit("rabbitmq/rabbitmq-single-node.conf")).unwrap();
    let settings = |text: &str| -> Vec<String> {
        text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_owned).collect()
    };
    for text in [&cluster, &single] {
        let mechanisms: Vec<String> =
            settings(text).into_iter().filter(|l| l.starts_with("auth_mechanisms.")).collect();
        assert_eq!(mechanisms, ["auth_mechanisms.1 = EXTERNAL"], "password login must not reach the AMQP listener");
    }
    let cluster_only: Vec<String> = settings(&cluster).into_iter().filter(|l| !settings(&single).contains(l)).collect();
    assert!(cluster_only.iter().all(|l| l.starts_with("cluster_formation.")), "{cluster_only:?}");
    assert!(!cluster_only.is_empty());
    assert!(settings(&single).iter().all(|l| settings(&cluster).contains(l)), "the variant adds nothing");
}

#[test]
fn certificate_login_works_and_nothing_else_logs_in_over_the_kits_tls_listener() {
    let scripts = match rabbitmq_scripts() {
        Ok(s) => s,
        Err(why) => return skip_or_fail(&why),
    };
    if Command::new("openssl").arg("version").output().is_err() {
        return skip_or_fail("the openssl command is not installed");
    }
    let dir = tempfile::tempdir().unwrap();
    let certs = Certificates::make(&dir.path().join("tls"));

    // The observatory's settings, then the definitions the kit's procedure exports from them.
    let mut observatory = ObservatorySettings::new(OBSERVATORY, dir.path().join("observatory"));
    observatory.metrics_addr = Some(format!("127.0.0.1:{}", free_port()));
    observatory.agents.registry = Some(support::write_registry(dir.path(), &["operator"]));
    let mut settings = PartySettings::Observatory(observatory);
    let config = dir.path().join("observatory.toml");
    let definitions = dir.path().join("definitions.json");
    // The node's port is only known once it starts; the export needs the vhost alone.
    *settings.broker_mut() = BusSettings {
        urls: vec![format!("amqps://{OBSERVATORY_USER}@127.0.0.1:1/{VHOST}?auth_mechanism=external")],
        ..broker_placeholder(&certs)
    };
    settings.write(&config).unwrap();
    run(
        support::passerelle().args(["topology", "export", "--config"]).arg(&config).arg("--out").arg(&definitions),
        "passerelle topology export",
    );

    let mut node = match Node::start(&scripts, &dir.path().join("node"), &certs, &definitions) {
        Ok(node) => node,
        Err(why) => return skip_or_fail(&why),
    };

    // Certificate login: the observatory daemon runs, and names its certificate's subject.
    *settings.broker_mut() = broker(&node, OBSERVATORY_USER, certs.client(Some("observatory")));
    settings.write(&config).unwrap();
    let exe = env!("CARGO_BIN_EXE_passerelle");
    let mut daemon = SpawnedParty::new("observatory", exe, &settings, &config, dir.path().join("observatory.log"))
        .unwrap()
        .env("RUST_LOG", "info");
    daemon.spawn().unwrap();
    daemon.wait_healthy(Instant::now() + WAIT).unwrap_or_else(|e| panic!("{e:#}"));
    let log = without_colours(&daemon.log());
    let connected = log.lines().find(|l| l.contains("connected to the broker")).unwrap_or_else(|| panic!("{log}"));
    assert!(
        connected.contains("certificate=CN=observatory-test") && connected.contains("user=observatory-test"),
        "{connected}"
    );

    // A body logs in with its own certificate.
    let cnam = broker(&node, CNAM_USER, certs.client(Some("cnam")));
    connect(&cnam, "cnam").unwrap_or_else(|e| panic!("body-cnam's certificate login: {e}"));

    // A password user, with every permission, cannot log in on the AMQP port — not even over a
    // TLS connection that presents a party's certificate.
    node.ctl(&["add_user", "passerelle-ops", "ops-secret"]);
    node.ctl(&["set_permissions", "-p", VHOST, "passerelle-ops", ".*", ".*", ".*"]);
    let mut password = cnam.clone();
    password.urls = vec![format!("amqps://passerelle-ops:ops-secret@127.0.0.1:{}/{VHOST}", node.port)];
    password.identity.insecure_any_user = true;
    let refused = connect(&password, "cnam").expect_err("a password login on the AMQP TLS listener was accepted");
    assert!(refused.to_string().contains("add ?auth_mechanism=external"), "{refused}");
    eprintln!("password login: {refused}");

    // `ctl status` under certificate login: the operators' account, its password from the
    // environment, reads the queues through the management API.
    node.ctl(&["set_user_tags", "passerelle-ops", "monitoring"]);
    let status = run(
        support::passerelle()
            .args(["ctl", "status", "--json", "--config"])
            .arg(&config)
            .args(["--management-url", &format!("http://127.0.0.1:{}", node.management_port)])
            .env("RABBITMQ_MANAGEMENT_PASSWORD", "ops-secret")
            .env_remove("RABBITMQ_MANAGEMENT_USER"),
        "passerelle ctl status",
    );
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["queues"]["available"], true, "{status}");

    // No client certificate: the broker asked for one, and the party hears so.
    let mut anonymous = cnam.clone();
    anonymous.tls = Some(certs.client(None));
    let e = connect(&anonymous, "cnam").expect_err("a TLS client without certificate connected");
    assert!(e.to_string().contains("asked for a client certificate"), "{e}");
    eprintln!("no certificate: {e}");

    // Another party's certificate: the responder refuses to start, naming the CN and the body.
    let responder_config = dir.path().join("responder.toml");
    std::fs::write(
        &responder_config,
        format!(
            "body = \"cnam\"\ndata_dir = {:?}\nmetrics_addr = \"127.0.0.1:{}\"\n[source]\nkind = \"extract\"\n\
             [broker]\nurls = [\"amqps://{OBSERVATORY_USER}@127.0.0.1:1/{VHOST}?auth_mechanism=external\"]\n",
            dir.path().join("cnam"),
            free_port()
        ),
    )
    .unwrap();
    let mut responder = PartySettings::load(PartyKind::Responder, &responder_config).unwrap();
    *responder.broker_mut() = broker(&node, OBSERVATORY_USER, certs.client(Some("observatory")));
    let responder_config = dir.path().join("responder.toml");
    responder.write(&responder_config).unwrap();
    let mut wrong =
        SpawnedParty::new("responder", exe, &responder, &responder_config, dir.path().join("responder.log")).unwrap();
    wrong.spawn().unwrap();
    let status = wrong.wait_exit(Instant::now() + WAIT).unwrap();
    let said = wrong.log();
    assert_eq!(status.code(), Some(3), "{said}");
    assert!(said.contains("CN=observatory-test") && said.contains("body cnam"), "{said}");

    // Revocation: once its user is removed, the body's certificate logs in no more.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let held = runtime.block_on(AmqpBus::connect(&cnam, Role::Body("cnam".into()))).unwrap();
    node.ctl(&["delete_user", CNAM_USER]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while held.broker_health().is_connected() && Instant::now() < deadline {
        runtime.block_on(async { tokio::time::sleep(Duration::from_millis(100)).await });
    }
    assert!(!held.broker_health().is_connected(), "the removed user's open connection was not closed");
    runtime.block_on(held.close());
    let e = connect(&cnam, "cnam").expect_err("a removed user still logs in");
    assert!(matches!(e, BusError::Refused(_)) && e.to_string().contains("`body-cnam`"), "{e}");
    eprintln!("revoked: {e}");

    daemon.stop(Duration::from_secs(30)).unwrap();
    assert_eq!(daemon.exit_status().and_then(|s| s.code()), Some(0), "{}", daemon.log());
}

/// `text` without its ANSI colour sequences (`ESC [ … m`).
fn without_colours(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Bus settings for the export, before the node's port is known.
fn broker_placeholder(certs: &Certificates) -> BusSettings {
    let mut identity = IdentitySettings { insecure_any_user: false, ..Default::default() };
    identity.users.insert(OBSERVATORY_USER.into(), vec![OBSERVATORY.into()]);
    identity.users.insert(CNAM_USER.into(), vec!["cnam".into()]);
    BusSettings {
        observatories: vec![OBSERVATORY.into()],
        tls: Some(certs.client(Some("observatory"))),
        identity,
        ..BusSettings::default()
    }
}
