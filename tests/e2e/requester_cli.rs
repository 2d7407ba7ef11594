//! `passerelle requester submit | status | fetch | purge`, run as real processes against a
//! requester daemon (`requester run`, [`RequesterDaemon`]) over RabbitMQ under a fresh name
//! prefix, its registry mapping the test's account to a prevention agent of its office and its
//! administrator: the exit codes (0, 1, 2, 3, 4), `--detach`, `--strict`, that `status` lists
//! the cases and `purge` says what went. The topology is declared by the test as an
//! observatory would, and deleted at the end. Synthetic data only.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use passerelle_bus::{AmqpBus, BusSettings, Role};
use passerelle_test_support::{amqp_url, broker_reachable_or_skip, nir_with_key};

/// A synthetic, valid NIR (key = 97 − (N mod 97)): a man born in March 1950 in Paris.
fn nir(n: u32) -> String {
    nir_with_key(&format!("1500375{:03}{:03}", 1 + (n / 999) % 999, 1 + n % 999))
}

fn passerelle(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_passerelle"))
        .args(args)
        .env_remove("PASSERELLE_LOG_FORMAT")
        .output()
        .expect("the binary runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// How long the requester daemon has to answer on its socket (a loaded machine, a debug build).
const DAEMON_START: Duration = Duration::from_secs(90);

/// A requester's settings in `dir` whose registry (`dir/agents.toml`) makes the test's account
/// a prevention agent of caf-13 and the requester's administrator; under the development
/// profile, as the test plays its observatory with the same broker login (a shared identity,
/// which production refuses).
pub(crate) fn write_config(dir: &Path, prefix: &str) -> PathBuf {
    write_config_for(dir, prefix, &["carsat-sud-est", "cnav-idf"])
}

pub(crate) fn write_config_for(dir: &Path, prefix: &str, observatories: &[&str]) -> PathBuf {
    let registry = dir.join("agents.toml");
    std::fs::write(&registry, crate::support::stack::agent_registry(&["prevention-agent", "requester-admin"])).unwrap();
    let observatories = observatories.iter().map(|o| format!("\"{o}\"")).collect::<Vec<_>>().join(", ");
    let config = dir.join("requester.toml");
    std::fs::write(
        &config,
        format!(
            "profile = \"development\"\nbody = \"cnaf\"\noffice = \"caf-13\"\ndata_dir = \"{data}\"\nout_dir = \"{out}\"\n\n[broker]\nurls = [\"{url}\"]\nprefix = \"{prefix}\"\nobservatories = [{observatories}]\n\n[api]\nsocket = \"{socket}\"\n\n[agents]\nregistry = \"{registry}\"\n",
            data = dir.join("data").display(),
            out = dir.join("out").display(),
            url = amqp_url(),
            socket = dir.join("run").join("requester.sock").display(),
            registry = registry.display(),
        ),
    )
    .unwrap();
    config
}

/// `requester run` on a settings file of [`write_config`], answering on its socket; killed
/// when dropped.
pub(crate) struct RequesterDaemon {
    child: Child,
}

impl RequesterDaemon {
    pub(crate) fn start(dir: &Path, config: &Path) -> RequesterDaemon {
        let log = std::fs::File::create(dir.join("requester.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_passerelle"))
            .args(["requester", "run", "--config"])
            .arg(config)
            .env_remove("PASSERELLE_LOG_FORMAT")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut daemon = RequesterDaemon { child };
        let socket = dir.join("run").join("requester.sock");
        passerelle_test_support::eventually_blocking(
            "the requester daemon answers on its socket",
            DAEMON_START,
            || {
                assert!(
                    daemon.child.try_wait().unwrap().is_none(),
                    "the requester daemon stopped: {}",
                    std::fs::read_to_string(dir.join("requester.log")).unwrap_or_default()
                );
                std::os::unix::net::UnixStream::connect(&socket).is_ok()
            },
        );
        daemon
    }
}

impl Drop for RequesterDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn selection(dir: &Path, bad_line: bool) -> PathBuf {
    let mut text = String::from("nir,family_name,given_names,sex,birth_year,commune_code,phone\n");
    text.push_str(&format!("{},Zorglub,Ambrosine,F,1950,13055,+33 6 00 00 00 01\n", nir(1)));
    text.push_str(&format!("{},Zorglab,Anatole,M,1948,75056,\n", nir(2)));
    if bad_line {
        text.push_str(&format!("{},Young,Jeanne,F,1995,13055,\n", nir(3)));
    }
    let path = dir.join(if bad_line { "with-bad-line.csv" } else { "selection.csv" });
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_detach_status_fetch_purge_and_their_exit_codes() {
    let url = amqp_url();
    if !broker_reachable_or_skip(&url) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("test-requester-cli-{}", &passerelle_requester::Uuid::new_v4().simple().to_string()[..12]);
    let config = write_config(dir.path(), &prefix);
    let settings = BusSettings {
        urls: vec![url],
        prefix,
        observatories: vec!["carsat-sud-est".into(), "cnav-idf".into()],
        ..BusSettings::default()
    };
    // The observatory's connection declares the topology, as `observatory run` does.
    let observatory = AmqpBus::connect(&settings, Role::Observatory("carsat-sud-est".into())).await.unwrap();
    let config_s = config.to_str().unwrap();

    // No daemon yet: exit 4, saying what to run; no store created.
    let o = passerelle(&["requester", "status", "--config", config_s]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(text(&o).contains("is `passerelle requester run` running?"), "{}", text(&o));
    assert!(!dir.path().join("data").exists(), "a client creates no store");
    let daemon = RequesterDaemon::start(dir.path(), &config);

    // Usage errors exit 2, bad settings exit 3.
    let good = selection(dir.path(), false);
    let good_s = good.to_str().unwrap();
    let o = passerelle(&[
        "requester",
        "submit",
        "--config",
        config_s,
        "--selection",
        good_s,
        "--want",
        "religion",
        "--service",
        "prevention-workshop",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("unknown category `religion`"), "{}", text(&o));
    let o = passerelle(&[
        "requester",
        "submit",
        "--config",
        config_s,
        "--selection",
        good_s,
        "--want",
        "rsa",
        "--service",
        "prevention-workshop",
        "--respond-by",
        "60d",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    // The service is a code of the closed list, named in the error; submit takes no --year.
    let submit_with = |extra: &[&str]| {
        let mut args = vec!["requester", "submit", "--config", config_s, "--selection", good_s, "--want", "rsa"];
        args.extend_from_slice(extra);
        passerelle(&args)
    };
    let o = submit_with(&["--service", "Atelier mémoire"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("prevention-workshop, home-adaptation, home-help"), "{}", text(&o));
    let o = submit_with(&[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--service <CODE>"), "{}", text(&o));
    let o = submit_with(&["--service", "home-help", "--year", "2025"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("unexpected argument '--year'"), "{}", text(&o));
    let bad_config = dir.path().join("bad.toml");
    std::fs::write(&bad_config, "body = \"cnaf\"\noffice = \"caf-13\"\n").unwrap();
    let o = passerelle(&["requester", "status", "--config", bad_config.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));

    // --strict with a bad line: reported, nothing sent, exit 1.
    let with_bad = selection(dir.path(), true);
    let o = passerelle(&[
        "requester",
        "submit",
        "--config",
        config_s,
        "--selection",
        with_bad.to_str().unwrap(),
        "--want",
        "3,family_situation",
        "--service",
        "prevention-workshop",
        "--purpose",
        "Atelier mémoire",
        "--strict",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("line 4, birth_year: aged 3"), "{}", text(&o));
    assert!(text(&o).contains("nothing was sent"), "{}", text(&o));

    // --detach: two cases sent, one per territory, exit 0.
    let o = passerelle(&[
        "requester",
        "submit",
        "--config",
        config_s,
        "--selection",
        good_s,
        "--want",
        "3,family_situation",
        "--service",
        "prevention-workshop",
        "--purpose",
        "Atelier mémoire",
        "--detach",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("sent to carsat-sud-est: 1 person(s)") && out.contains("sent to cnav-idf: 1 person(s)"),
        "{out}"
    );
    assert!(!out.contains("Zorglub") && !out.contains(&nir(1)), "no name or NIR on the terminal: {out}");

    // status lists both cases as sent; fetch refuses a case without result (exit 2).
    let o = passerelle(&["requester", "status", "--config", config_s, "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let cases: Vec<serde_json::Value> =
        String::from_utf8_lossy(&o.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(cases.len(), 2);
    assert!(cases.iter().all(|c| c["case"]["state"] == "sent"), "{cases:?}");
    assert!(cases.iter().all(|c| c["format"] == "passerelle.requester-case/1"), "docs/JSON.md: {cases:?}");
    let case_id = cases[0]["case"]["case_id"].as_str().unwrap().to_owned();
    let o = passerelle(&["requester", "fetch", "--config", config_s, &case_id]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("has no result yet (it is sent)"), "{}", text(&o));

    // purge: nothing is due yet; it says so, with the cut-off, in words and in JSON.
    let o = passerelle(&["requester", "purge", "--config", config_s]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(
        said.starts_with("purged 0 submission(s) whose retention ended by 20")
            && said.contains(&format!(
                "(retention_days = {}): 0 case(s), 0 person(s), 0 result file(s)",
                passerelle_requester::settings::MAX_RETENTION_DAYS
            )),
        "{said}"
    );
    let o = passerelle(&[
        "requester",
        "purge",
        "--json",
        "--socket",
        dir.path().join("run/requester.sock").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["format"], "passerelle.requester-purge/1");
    assert!(v["cut_off"].as_str().is_some_and(|t| t.ends_with('Z')), "{v}");
    assert_eq!(v["total"], serde_json::json!({"submissions": 0, "cases": 0, "persons": 0, "result_files": 0}));

    drop(daemon);
    observatory.close().await;
    passerelle_bus::amqp::delete_topology(&settings).await.unwrap();
}

/// The number of messages waiting on `queue` (a passive declare).
async fn depth(url: &str, queue: &str) -> u32 {
    let conn = lapin::Connection::connect(url, lapin::ConnectionProperties::default()).await.unwrap();
    let channel = conn.create_channel().await.unwrap();
    let passive = lapin::options::QueueDeclareOptions { passive: true, ..Default::default() };
    let declared = channel.queue_declare(queue.into(), passive, lapin::types::FieldTable::default()).await.unwrap();
    let _ = conn.close(200, "done".into()).await;
    declared.message_count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_windows_1252_selection_without_the_flag_sends_nothing() {
    let url = amqp_url();
    if !broker_reachable_or_skip(&url) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("test-requester-1252-{}", &passerelle_requester::Uuid::new_v4().simple().to_string()[..12]);
    let config = write_config(dir.path(), &prefix);
    let settings = BusSettings {
        urls: vec![url.clone()],
        prefix: prefix.clone(),
        observatories: vec!["carsat-sud-est".into(), "cnav-idf".into()],
        ..BusSettings::default()
    };
    let observatory = AmqpBus::connect(&settings, Role::Observatory("carsat-sud-est".into())).await.unwrap();
    let queues = ["carsat-sud-est", "cnav-idf"].map(|o| format!("{prefix}.observatory.{o}.requests"));
    let daemon = RequesterDaemon::start(dir.path(), &config);

    // A French spreadsheet export: the ASCII-named persons come first, as today's reader sent them.
    let mut csv = String::from("nir;family_name;given_names;sex;birth_year;commune_code\r\n");
    csv.push_str(&format!("{};Martin;Jean;M;1950;13055\r\n", nir(1)));
    csv.push_str(&format!("{};Dupont;Anne;F;1950;75056\r\n", nir(2)));
    csv.push_str(&format!("{};Lefèvre;Hélène;F;1950;13055\r\n", nir(3)));
    csv.push_str(&format!("{};Noël;Zoé;F;1950;75056\r\n", nir(4)));
    let selection = dir.path().join("export.csv");
    std::fs::write(&selection, csv.chars().map(|c| c as u32 as u8).collect::<Vec<u8>>()).unwrap();
    let submit = |encoding: &str| {
        passerelle(&[
            "requester",
            "submit",
            "--config",
            config.to_str().unwrap(),
            "--selection",
            selection.to_str().unwrap(),
            "--want",
            "rsa",
            "--service",
            "prevention-workshop",
            "--detach",
            "--encoding",
            encoding,
        ])
    };

    let o = submit("utf-8");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let out = text(&o);
    // Said once (the other lines are the connection's log lines).
    let said: Vec<&str> = out.lines().filter(|l| !l.contains("INFO") && !l.contains("WARN")).collect();
    assert_eq!(said.len(), 1, "said once: {out}");
    assert!(out.contains("nothing was sent: the file is not UTF-8: line 4, family_name"), "{out}");
    assert!(out.contains("run again with --encoding windows-1252"), "{out}");
    // Nothing stored, nothing on the observatories' request queues.
    let o = passerelle(&["requester", "status", "--config", config.to_str().unwrap(), "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(o.stdout.is_empty(), "no case in the requester's store: {}", text(&o));
    for queue in &queues {
        assert_eq!(depth(&url, queue).await, 0, "{queue}");
    }

    // With the flag, the same file goes: the queues this test watches do receive requests.
    let o = submit("windows-1252");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    for queue in &queues {
        assert!(depth(&url, queue).await > 0, "{queue}");
    }

    drop(daemon);
    observatory.close().await;
    passerelle_bus::amqp::delete_topology(&settings).await.unwrap();
}
