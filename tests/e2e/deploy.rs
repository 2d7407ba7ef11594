//! The deploy kit stays true to the code: every example configuration loads and validates with
//! the real settings types (a production one: one broker user per party), the committed RabbitMQ definitions are exactly what `topology export`
//! writes, every metric the dashboard and the alerts use is one the daemons export, the systemd
//! units carry their hardening, stop restarting on a settings error and point at the installed
//! README (whose folder table lists every folder the units and settings use), every
//! `rabbitmq.conf` key is one RabbitMQ knows (checked against the installed broker's schemas when
//! there is one), and every file the compose stack mounts exists.

use crate::support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use passerelle_bus::Role;
use passerelle_observatory::ObservatorySettings;
use passerelle_requester::RequesterSettings;
use passerelle_responder::ResponderSettings;
use support::passerelle;

fn deploy(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy").join(path)
}

fn load<T: serde::de::DeserializeOwned>(path: &Path) -> T {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // An explicit, empty environment: the files alone must load.
    passerelle_settings::load_from_str(&text, path, Vec::new()).unwrap_or_else(|e| panic!("{e}"))
}

/// The profile an example runs under: the compose stack's files are the development profile's
/// (plain AMQP inside the compose network), every other one production's, whose broker is
/// reached over TLS ([`passerelle_bus::BusSettings::check_transport`]).
fn check_profile(file: &str, profile: passerelle_hooks::Profile, broker: &passerelle_bus::BusSettings) {
    if file.starts_with("compose/") {
        assert_eq!(profile, passerelle_hooks::Profile::Development, "{file}: the development stack, by name");
        assert!(broker.check_transport().is_err(), "{file}: plain AMQP to the `rabbitmq` container");
    } else {
        assert!(profile.is_production(), "{file}: production");
        broker.check_transport().unwrap_or_else(|e| panic!("{file}: {e}"));
    }
}

#[test]
fn every_example_configuration_loads_with_the_real_settings_types() {
    for file in ["observatory.toml", "compose/observatory.toml"] {
        let s: ObservatorySettings = load(&deploy(file));
        let config = s.resolve().unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(config.code, "carsat-sud-est", "{file}");
        check_profile(file, s.profile, &s.broker);
        assert!(s.development.is_empty(), "{file}: no development hook");
        s.broker.check_identity(&Role::Observatory(s.code.clone())).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(s.metrics_addr.is_some(), "{file} serves metrics");
    }
    let registry = passerelle_agents::Registry::load(&deploy("agents.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert!(registry.agent("prev-a1").is_some_and(|a| a.office.as_deref() == Some("caf-13")));
    let observatory: ObservatorySettings = load(&deploy("observatory.toml"));
    assert!(!observatory.broker.identity.insecure_any_user, "production: one broker user per party");
    assert!(observatory.broker.urls.iter().all(|u| u.starts_with("amqps://")), "production: TLS only");
    assert!(observatory.broker.tls.is_some());

    for file in [
        "responder-cnam.toml",
        "responder-postgres.toml",
        "compose/responder-cnam.toml",
        "compose/responder-cnav.toml",
        "compose/responder-msa.toml",
    ] {
        let s: ResponderSettings = load(&deploy(file));
        let held = s.validate().unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(!held.is_empty(), "{file}");
        check_profile(file, s.profile, &s.broker);
        assert!(s.development.is_empty(), "{file}: no development hook");
        s.broker.check_identity(&Role::Body(s.body.clone())).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(s.metrics_addr.is_some(), "{file} serves metrics");
    }
    let postgres: ResponderSettings = load(&deploy("responder-postgres.toml"));
    let passerelle_responder::SourceSettings::Postgres(source) = &postgres.source else {
        panic!("a PostgreSQL source")
    };
    let conninfo = passerelle_postgres::Conninfo::parse(secrecy::ExposeSecret::expose_secret(&source.url)).unwrap();
    assert!(
        matches!(conninfo.tls(), passerelle_postgres::Tls::VerifyFull { roots: passerelle_postgres::Roots::File(_) }),
        "production: the database over TLS, verified against the body's CA"
    );

    for file in ["requester.toml", "compose/requester.toml"] {
        let s: RequesterSettings = load(&deploy(file));
        s.validate().unwrap_or_else(|e| panic!("{file}: {e}"));
        check_profile(file, s.profile, &s.broker);
        assert!(s.development.is_empty(), "{file}: no development hook");
        s.broker.check_identity(&s.role()).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(s.metrics_addr.is_some(), "{file} serves metrics");
    }

    let s: passerelle_social_service::SocialServiceSettings = load(&deploy("social-service.toml"));
    s.validate().unwrap_or_else(|e| panic!("social-service.toml: {e}"));
    assert!(s.profile.is_production() && s.development.is_empty(), "social-service.toml: production");
    assert!(s.metrics_addr.is_some() && s.trails.witness.is_none(), "social-service.toml: metrics, no witness yet");
    assert_eq!(
        s.archive_dir(),
        Path::new("/var/lib/passerelle/social-service-archive"),
        "social-service.toml: the archive in a folder of its own, which the unit may write"
    );
}

#[test]
fn the_committed_definitions_are_what_topology_export_writes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("definitions.json");
    let output = passerelle()
        .args(["topology", "export", "--config"])
        .arg(deploy("observatory.toml"))
        .arg("--out")
        .arg(&out)
        .env_remove("PASSERELLE_BROKER__PREFIX")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let regenerated = std::fs::read_to_string(&out).unwrap();
    let committed = std::fs::read_to_string(deploy("rabbitmq/definitions.json")).unwrap();
    assert!(
        regenerated == committed,
        "deploy/rabbitmq/definitions.json is stale: run\n  passerelle topology export --config deploy/observatory.toml --out deploy/rabbitmq/definitions.json"
    );
    let d: serde_json::Value = serde_json::from_str(&committed).unwrap();
    let users: BTreeSet<&str> = d["users"].as_array().unwrap().iter().map(|u| u["name"].as_str().unwrap()).collect();
    assert_eq!(
        users,
        [
            "body-cnaf",
            "body-cnam",
            "body-cnav",
            "body-msa",
            "observatory-sud-est",
            "requester-caf-13",
            "requester-caf-84",
            "social-service-ss-13"
        ]
        .into()
    );
    let dead_letters = |name: &str| -> String {
        let q = d["queues"].as_array().unwrap().iter().find(|q| q["name"] == name).unwrap();
        q["arguments"]["x-dead-letter-exchange"].as_str().unwrap().to_owned()
    };
    assert_eq!(
        dead_letters("passerelle.social-service.carsat-sud-est.ss-13.transfers"),
        "passerelle.transfers-dead-letter",
        "a refused transfer never reaches the observatory's dead-letters"
    );
}

/// The `# TYPE` families of a registry holding every role's metrics (one observatory case in
/// flight, so the metrics that exist only then are there too).
fn exported_families() -> BTreeSet<String> {
    use passerelle_bus::{BusSettings, InProcessBus};
    let dir = tempfile::tempdir().unwrap();
    let registry = passerelle_metrics::MetricsRegistry::default();
    let bus = InProcessBus::new(&BusSettings::default());
    passerelle_metrics::bus::register_bus(&registry, bus.stats());
    let settings = ObservatorySettings::new("carsat-sud-est", dir.path());
    let observatory_bus = passerelle_observatory::metrics::instrument(Arc::new(bus.connect_as("o")), &registry);
    let clock = Arc::new(passerelle_protocol::rules::SystemClock);
    let observatory =
        passerelle_observatory::Observatory::build(settings.clone(), observatory_bus, clock.clone()).unwrap();
    passerelle_observatory::metrics::register(&registry, &observatory.status_reader());
    let store = passerelle_observatory_store::CaseStore::open(&settings.case_db_path()).unwrap();
    let now = std::time::SystemTime::now();
    store
        .write(|tx| {
            tx.insert_case(
                &passerelle_observatory_store::NewCase {
                    case_id: "c".into(),
                    state: passerelle_observatory_store::CaseState::Collecting,
                    requester: "cnaf".into(),
                    requester_office: "caf-13".into(),
                    requester_user: "u".into(),
                    purpose: "p".into(),
                    service: 0,
                    legal_basis: "l".into(),
                    wanted: vec![],
                    arrived_at: now,
                    respond_by: now,
                    remind_at: now,
                    expires_at: now,
                    chunk_size: 1,
                    request_chunk_count: 1,
                },
                now,
            )
        })
        .unwrap();
    let responder_stats = Arc::new(passerelle_responder::ResponderStats::default());
    passerelle_responder::metrics::register(&registry, responder_stats, "cnam");
    let requester_settings = RequesterSettings::for_dir("cnaf", "caf-13", &dir.path().join("requester"));
    let requester = passerelle_requester::Requester::offline(requester_settings, clock).unwrap();
    passerelle_requester::metrics::register(&registry, &requester);
    let checkpointer = passerelle_trails::Checkpointer::new(
        "cnam",
        None,
        passerelle_witness::SigningKey::from_bytes(&[7; 32]),
        vec![],
        Arc::new(passerelle_bus::InProcessBus::new(&passerelle_bus::BusSettings::default()).connect_as("cnam")),
        Arc::new(passerelle_protocol::rules::SystemClock),
        passerelle_protocol::calendar::LegalCalendar::default(),
    );
    passerelle_party::trails::register_metrics(&registry, Arc::new(checkpointer));
    // The case was written after the observatory's first snapshot: take the next one.
    registry.refresh();
    let text = registry.encode();
    text.lines().filter_map(|l| l.strip_prefix("# TYPE ")).map(|l| l.split(' ').next().unwrap().to_owned()).collect()
}

/// Every `passerelle_…` name in a text.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("passerelle_") {
        let tail = &rest[i..];
        let end =
            tail.find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')).unwrap_or(tail.len());
        names.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}

#[test]
fn the_dashboard_and_the_alerts_use_only_metrics_the_daemons_export() {
    let families = exported_families();
    for family in [
        "passerelle_observatory_cases",
        "passerelle_observatory_solicitation_chunks_pending",
        "passerelle_observatory_response_latency_seconds",
        "passerelle_observatory_reminders",
        "passerelle_observatory_purges",
        "passerelle_observatory_refusals",
        "passerelle_observatory_dead_letters",
        "passerelle_observatory_persons_accepted",
        "passerelle_bus_dead_letters",
        "passerelle_bus_reconnects",
        "passerelle_bus_blocked_seconds",
    ] {
        assert!(families.contains(family), "{family} is exported: {families:#?}");
    }
    let dashboard = std::fs::read_to_string(deploy("grafana/passerelle.json")).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&dashboard).expect("the dashboard is JSON");
    assert_eq!(parsed["uid"], "passerelle");
    let alerts = std::fs::read_to_string(deploy("prometheus/alerts.yml")).unwrap();
    for (file, text) in [("grafana/passerelle.json", &dashboard), ("prometheus/alerts.yml", &alerts)] {
        let used = metric_names(text);
        assert!(used.len() > 8, "{file} uses the metrics");
        for name in used {
            let family = ["_total", "_bucket", "_count", "_sum"]
                .iter()
                .find_map(|s| name.strip_suffix(s).filter(|f| families.contains(*f)))
                .unwrap_or(&name);
            assert!(families.contains(family), "{file} uses {name}, which no daemon exports");
        }
    }
    for file in ["prometheus/prometheus.yml", "compose/prometheus.yml"] {
        let scrape = std::fs::read_to_string(deploy(file)).unwrap();
        for job in ["passerelle-observatory", "passerelle-responder", "passerelle-requester"] {
            assert!(scrape.contains(&format!("job_name: {job}")), "{file} scrapes {job}");
        }
    }
}

#[test]
fn the_systemd_units_run_as_dedicated_users_with_hardening() {
    for (unit, user, config) in [
        ("passerelle-observatory.service", "passerelle-observatory", "/etc/passerelle/observatory.toml"),
        ("passerelle-responder@.service", "passerelle-responder", "/etc/passerelle/responder-%i.toml"),
        ("passerelle-requester.service", "passerelle-requester", "/etc/passerelle/requester.toml"),
        ("passerelle-social-service.service", "passerelle-social-service", "/etc/passerelle/social-service.toml"),
    ] {
        let text = std::fs::read_to_string(deploy(&format!("systemd/{unit}"))).unwrap();
        let keys: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.starts_with('#')).collect();
        for required in [
            format!("User={user}"),
            "NoNewPrivileges=yes".to_owned(),
            "ProtectSystem=strict".to_owned(),
            "ProtectHome=yes".to_owned(),
            "PrivateTmp=yes".to_owned(),
            "PrivateDevices=yes".to_owned(),
            "CapabilityBoundingSet=".to_owned(),
            "LimitCORE=0".to_owned(),
            "UMask=0077".to_owned(),
        ] {
            assert!(keys.contains(&required.as_str()), "{unit} lacks {required}");
        }
        assert!(keys.iter().any(|k| k.starts_with("ReadWritePaths=/var/lib/passerelle/")), "{unit}: its data dir");
        // A settings error (exit 3) or unusable input (exit 2) is not fixed by restarting.
        assert!(keys.contains(&"Restart=on-failure"), "{unit} restarts after a failure");
        assert!(keys.contains(&"RestartPreventExitStatus=2 3"), "{unit} restarts after a settings error");
        let documentation = keys.iter().find_map(|k| k.strip_prefix("Documentation=")).expect("Documentation=");
        assert_eq!(documentation, INSTALLED_README, "{unit}: Documentation= names the installed README");
        let exec = keys.iter().find(|k| k.starts_with("ExecStart=")).unwrap();
        assert!(exec.contains(&format!("--config {config}")), "{unit}: {exec}");
        // The command line is one this binary accepts (its subcommand exists, its flags parse).
        let args: Vec<&str> = exec.trim_start_matches("ExecStart=").split_whitespace().skip(1).collect();
        let config_at = args.iter().position(|a| *a == "--config").unwrap();
        let output = passerelle().args(&args[..config_at]).arg("--help").output().unwrap();
        assert!(
            output.status.success(),
            "{unit}: `{exec}` is not a passerelle command: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let sysusers = std::fs::read_to_string(deploy("systemd/passerelle.sysusers.conf")).unwrap();
        assert!(sysusers.contains(user), "{user} is created by sysusers");
    }
}

/// Where the README tells to install itself, for the units' `Documentation=`.
const INSTALLED_README: &str = "file:///usr/share/doc/passerelle/README.md";

/// The README's "Folders to create" table: the folder column of each row.
fn readme_folders(readme: &str) -> Vec<String> {
    let section = readme.split("## Folders to create").nth(1).expect("the README has a \"Folders to create\" section");
    let section = section.split("\n## ").next().unwrap();
    section
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| role"))
        .filter_map(|l| l.split('|').nth(2))
        .map(|cell| cell.trim().trim_matches('`').to_owned())
        .collect()
}

/// Whether a path is the table's `row`, where `<body>`, `<role>`, `<broker user>` stand for one
/// name (letters, digits, `-`).
fn matches_row(row: &str, path: &str) -> bool {
    let mut rest = path;
    for (i, part) in row.split('<').enumerate() {
        let literal = if i == 0 {
            part
        } else {
            let Some((_, literal)) = part.split_once('>') else { return false };
            let name_len = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-')).unwrap_or(rest.len());
            if name_len == 0 {
                return false;
            }
            rest = &rest[name_len..];
            literal
        };
        let Some(after) = rest.strip_prefix(literal) else { return false };
        rest = after;
    }
    rest.is_empty()
}

#[test]
fn the_readme_lists_every_folder_the_units_and_settings_use_and_the_units_point_at_it() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let folders = readme_folders(&readme);
    let listed = |path: &str| folders.iter().any(|f| matches_row(f, path));
    let mut used: Vec<(String, String)> = Vec::new();
    for unit in [
        "passerelle-observatory.service",
        "passerelle-responder@.service",
        "passerelle-requester.service",
        "passerelle-social-service.service",
    ] {
        let text = std::fs::read_to_string(deploy(&format!("systemd/{unit}"))).unwrap();
        for line in text.lines().map(str::trim).filter(|l| !l.starts_with('#')) {
            for key in ["ReadWritePaths=", "ReadOnlyPaths=", "EnvironmentFile=-"] {
                if let Some(paths) = line.strip_prefix(key) {
                    used.extend(paths.split_whitespace().map(|p| (unit.to_owned(), p.replace("%i", "cnam"))));
                }
            }
            if let Some(dirs) = line.strip_prefix("StateDirectory=") {
                for dir in dirs.split_whitespace() {
                    used.push((unit.to_owned(), format!("/var/lib/{}", dir.replace("%i", "cnam"))));
                }
            }
        }
    }
    for file in
        ["observatory.toml", "requester.toml", "responder-cnam.toml", "responder-postgres.toml", "social-service.toml"]
    {
        let text = std::fs::read_to_string(deploy(file)).unwrap();
        for line in text.lines().map(str::trim).filter(|l| !l.starts_with('#')) {
            let Some((key, value)) = line.split_once('=') else { continue };
            let value = value.trim().trim_matches('"');
            match key.trim() {
                "data_dir" | "out_dir" | "archive_dir" => used.push((file.to_owned(), value.to_owned())),
                "ca_file" | "cert_file" | "key_file" => {
                    used.push((file.to_owned(), Path::new(value).parent().unwrap().display().to_string()));
                    if key.trim() == "key_file" {
                        used.push((file.to_owned(), value.to_owned()));
                    }
                }
                _ => {}
            }
        }
    }
    assert!(used.len() >= 15, "the units and settings were read: {used:?}");
    let missing: Vec<&(String, String)> = used.iter().filter(|(_, path)| !listed(path)).collect();
    assert!(missing.is_empty(), "folders the README's table does not list: {missing:?} (it lists {folders:?})");
    assert!(folders.iter().any(|f| format!("file://{f}") == INSTALLED_README), "the README says where it is installed");
    // The exit codes the units do not restart on are the README's input and settings errors.
    assert!(readme.contains("| 2 | usage error or unusable input"), "exit code 2 in the README");
    assert!(readme.contains("| 3 | invalid settings"), "exit code 3 in the README");
    let sentences = readme.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(sentences.contains("**restarts that broker**"), "the README warns that scripts/test restarts the broker");
}

/// `rabbitmq.conf` keys (`a.b.c = value`, comments skipped).
fn rabbitmq_conf_keys() -> Vec<String> {
    std::fs::read_to_string(deploy("rabbitmq/rabbitmq.conf"))
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split('=').next().unwrap().trim().to_owned())
        .collect()
}

fn schema_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            schema_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "schema") {
            out.push(path);
        }
    }
}

/// Whether a cuttlefish mapping (`a.$name.c`) matches a key (`a.b.c`).
fn mapping_matches(mapping: &str, key: &str) -> bool {
    let (m, k): (Vec<&str>, Vec<&str>) = (mapping.split('.').collect(), key.split('.').collect());
    m.len() == k.len() && m.iter().zip(&k).all(|(m, k)| m.starts_with('$') || m == k)
}

#[test]
fn every_rabbitmq_conf_key_is_known_to_rabbitmq() {
    let keys = rabbitmq_conf_keys();
    for key in
        ["listeners.tcp", "listeners.ssl.default", "ssl_options.verify", "auth_mechanisms.1", "definitions.local.path"]
    {
        assert!(keys.iter().any(|k| k == key), "rabbitmq.conf sets {key}");
    }
    let mut files = Vec::new();
    schema_files(Path::new("/usr/lib/rabbitmq"), &mut files);
    if files.is_empty() {
        eprintln!("no RabbitMQ schema under /usr/lib/rabbitmq: keys checked against the list above only");
        return;
    }
    let mut mappings = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for part in text.split("{mapping, \"").skip(1) {
            mappings.push(part.split('"').next().unwrap().to_owned());
        }
    }
    for key in &keys {
        assert!(mappings.iter().any(|m| mapping_matches(m, key)), "rabbitmq.conf: `{key}` is not a RabbitMQ setting");
    }
    let plugins = std::fs::read_to_string(deploy("rabbitmq/enabled_plugins")).unwrap();
    for plugin in ["rabbitmq_auth_mechanism_ssl", "rabbitmq_management", "rabbitmq_prometheus"] {
        assert!(plugins.contains(plugin), "{plugin}");
    }
}

#[test]
fn every_file_the_compose_stack_mounts_exists() {
    let compose_dir = deploy("compose");
    let text = std::fs::read_to_string(compose_dir.join("compose.yaml")).unwrap();
    let mut mounted = 0;
    for line in text.lines().map(str::trim) {
        let Some(spec) = line.strip_prefix("- ") else { continue };
        let spec = spec.trim_matches('"');
        if !(spec.starts_with("./") || spec.starts_with("../")) {
            continue;
        }
        let source = spec.split(':').next().unwrap();
        assert!(compose_dir.join(source).exists(), "compose.yaml mounts {source}, which does not exist");
        mounted += 1;
    }
    assert!(mounted >= 10, "{mounted} mounts checked");
    assert!(text.contains("dockerfile: deploy/Dockerfile") && deploy("Dockerfile").exists());
    for service in [
        "rabbitmq:",
        "observatory:",
        "responder-cnam:",
        "responder-cnav:",
        "responder-msa:",
        "requester:",
        "prometheus:",
        "grafana:",
    ] {
        assert!(text.contains(&format!("\n  {service}")), "compose.yaml runs {service}");
    }
}
