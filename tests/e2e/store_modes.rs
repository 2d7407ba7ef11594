//! Each daemon owns its files, with the real binary: under a umask of 000 (the worst an
//! operator's shell can have), every store, its `-wal` and `-shm`, the case keys, the data_dir
//! lock, the extract indexes and the result files are created 0600 and the folders the parties
//! create 0700; and an observatory whose store group or others can read refuses to start,
//! naming the file and the `chmod` that fixes it (exit 4). The test checks mode bits, not
//! access: CI runs as root, whom modes do not stop.

use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use passerelle_bus::BusSettings;
use passerelle_observatory::ObservatorySettings;
use passerelle_party::process::SpawnedParty;
use passerelle_party::PartySettings;
use passerelle_test_support::Vhost;
use support::proxy::free_port;

/// How long a daemon has to start, stop or exit.
const WAIT: Duration = Duration::from_secs(90);

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

/// A script in `dir` that runs the binary under umask 000 (`exec`: same process id, so the
/// daemon gets the signals sent to it).
fn under_umask_000(dir: &Path) -> PathBuf {
    let script = dir.join("umask-000.sh");
    std::fs::write(&script, format!("#!/bin/sh\numask 000\nexec '{}' \"$@\"\n", env!("CARGO_BIN_EXE_passerelle")))
        .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).unwrap();
    script
}

/// Every folder and file under `root`, with its mode.
fn modes_under(root: &Path) -> Vec<(PathBuf, bool, u32)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path();
        let is_dir = path.is_dir();
        found.push((path.clone(), is_dir, mode(&path)));
        if is_dir {
            found.extend(modes_under(&path));
        }
    }
    found
}

#[test]
fn a_demo_under_umask_000_writes_stores_and_results_0600_in_folders_0700() {
    let dir = tempfile::tempdir().unwrap();
    let kept = dir.path().join("demo");
    let output = std::process::Command::new(under_umask_000(dir.path()))
        .args(["demo", "--persons", "5", "--data-dir"])
        .arg(&kept)
        .output()
        .unwrap();
    assert!(output.status.success(), "demo failed: {}", String::from_utf8_lossy(&output.stderr));
    // The parties' folders; `population/` holds the synthetic inputs, written by `synth`.
    let parties = ["observatory", "responder-cnam", "responder-cnav", "responder-msa", "requester"];
    let mut seen = Vec::new();
    for party in parties {
        let folder = kept.join(party);
        assert_eq!(mode(&folder), 0o700, "{}", folder.display());
        for (path, is_dir, mode) in modes_under(&folder) {
            assert_eq!(mode, if is_dir { 0o700 } else { 0o600 }, "{}", path.display());
            seen.push(path.strip_prefix(&kept).unwrap().to_string_lossy().into_owned());
        }
    }
    for expected in [
        "observatory/observatory.db",
        "observatory/observatory.keys",
        "observatory/statistics/statistics.db",
        "observatory/statistics.key",
        "responder-cnam/extract-index.sqlite",
        "requester/data/requester.db",
        "requester/out/demo-result.jsonl",
        "requester/out/demo-result.csv",
    ] {
        assert!(seen.iter().any(|s| s == expected), "{expected} was checked: {seen:#?}");
    }
}

#[test]
fn an_observatory_makes_its_files_0600_and_refuses_a_store_others_can_read() {
    let url = support::amqp_url();
    if !support::broker_reachable_or_skip(&url) {
        return;
    }
    let vhost = Vhost::new();
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let mut settings = ObservatorySettings::new("carsat-sud-est", data_dir.clone());
    settings.metrics_addr = Some(format!("127.0.0.1:{}", free_port()));
    let mut settings = PartySettings::Observatory(settings);
    *settings.broker_mut() = BusSettings {
        urls: vec![vhost.url()],
        prefix: passerelle_test_support::unique_name("modes"),
        ..BusSettings::default()
    };
    // Alone on the broker, the test user is its own broker identity (the production profile).
    let identity = &mut settings.broker_mut().identity;
    identity.insecure_any_user = false;
    identity.users.insert(passerelle_test_support::broker::login(&vhost.url()), vec!["carsat-sud-est".to_owned()]);
    let config = dir.path().join("settings.toml");
    settings.write(&config).unwrap();
    let mut daemon =
        SpawnedParty::new("observatory", under_umask_000(dir.path()), &settings, &config, dir.path().join("log"))
            .unwrap();

    daemon.spawn().unwrap();
    daemon.wait_healthy(Instant::now() + WAIT).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(mode(&data_dir), 0o700);
    assert_eq!(mode(&data_dir.join("statistics")), 0o700, "the statistics folder");
    for file in [
        "observatory.db",
        "observatory.db-wal",
        "observatory.db-shm",
        "statistics/statistics.db",
        "statistics.key",
        "observatory.lock",
    ] {
        assert_eq!(mode(&data_dir.join(file)), 0o600, "{file}");
    }
    daemon.stop(WAIT).unwrap_or_else(|e| panic!("{e:#}"));

    let store = data_dir.join("observatory.db");
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o644)).unwrap();
    daemon.spawn().unwrap();
    let status = daemon.wait_exit(Instant::now() + WAIT).unwrap_or_else(|e| panic!("{e:#}"));
    let log = daemon.log();
    assert_eq!(status.code(), Some(4), "a store others can read is a storage failure: {log}");
    let expected = format!(
        "{} has mode 0644: a store must be readable and writable by its owner only; run `chmod 600 {}`",
        store.display(),
        store.display()
    );
    let last = log.lines().last().unwrap_or_default();
    assert_eq!(last, format!("passerelle: failed: the observatory carsat-sud-est cannot start: storage: {expected}"));
    assert_eq!(mode(&store), 0o644, "the daemon does not change an operator's file");
}
