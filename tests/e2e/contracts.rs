//! The scriptable contracts of the CLI, through the real binary: the same failure gives the
//! same exit code in every command (an unreadable settings file: 3; a missing store, or no daemon
//! at the socket of a command that calls one: 4, and no reading command creates a store),
//! every `--json` output carries its `format` (docs/JSON.md), and logs written to a pipe carry
//! no ANSI colour. (`requester purge` saying what it purged: `requester_cli`, with its daemon.)

use std::path::{Path, PathBuf};

use crate::support::{passerelle, stderr};

/// A production observatory's settings file, its `data_dir` in `dir/data`, the test's account an
/// auditor and an operator of its agent registry.
pub(crate) fn observatory_file(dir: &Path) -> PathBuf {
    let path = dir.join("observatory.toml");
    let registry = crate::support::write_registry(dir, &["auditor", "operator", "statistics-agent"]);
    let text = format!(
        "code = \"carsat-sud-est\"\ndata_dir = \"{}\"\n[broker]\nurls = [\"amqp://127.0.0.1:1/%2f\"]\n\
         [agents]\nregistry = \"{}\"\n",
        dir.join("data").display(),
        registry.display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_missing_store_is_exit_4_in_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let observatory = observatory_file(dir.path());
    let requester = dir.path().join("requester.toml");
    std::fs::write(
        &requester,
        format!(
            "body = \"cnaf\"\noffice = \"caf-13\"\ndata_dir = \"{0}/r\"\nout_dir = \"{0}/o\"\n[broker]\nurls = [\"amqp://127.0.0.1:1/%2f\"]\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let config = |path: &Path| path.to_str().unwrap().to_owned();
    for args in [
        vec!["stats", "--config", &config(&observatory)],
        vec!["ctl", "status", "--no-management", "--config", &config(&observatory)],
        vec!["audit", "verify", "--config", &config(&observatory)],
        vec!["audit", "show", "--config", &config(&observatory)],
        vec!["rights", "list", "--config", &config(&observatory)],
        vec!["rights", "show", "--config", &config(&observatory), "0190f0a0-0000-7000-8000-000000000000"],
    ] {
        let o = passerelle().args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(4), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("passerelle: failed: no daemon answers at "), "{args:?}: {}", stderr(&o));
    }
    // The requester's commands are its daemon's clients: no daemon is the same failure.
    for args in [
        vec!["requester", "status", "--config", &config(&requester)],
        vec!["requester", "purge", "--config", &config(&requester)],
        vec!["requester", "fetch", "--config", &config(&requester), "0190f0a0-0000-7000-8000-000000000000"],
    ] {
        let o = passerelle().args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(4), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("is `passerelle requester run` running?"), "{args:?}: {}", stderr(&o));
    }
    assert!(!dir.path().join("r").exists(), "a reading command creates no store");
}

#[test]
fn logs_in_a_pipe_carry_no_colour() {
    let o =
        passerelle().args(["demo", "--persons", "20"]).env("RUST_LOG", "info").env_remove("NO_COLOR").output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains(" INFO "), "the demo logged at info: {}", stderr(&o));
    assert!(!o.stderr.contains(&0x1b) && !o.stdout.contains(&0x1b), "an ANSI escape in a pipe: {}", stderr(&o));
}

#[test]
fn an_unreadable_settings_file_is_exit_3_in_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere.toml");
    let missing = missing.to_str().unwrap();
    for args in [
        vec!["ctl", "status", "--no-management", "--config", missing],
        vec!["stats", "--config", missing],
        vec!["audit", "verify", "--config", missing],
        vec!["rights", "list", "--config", missing],
        vec!["requester", "status", "--config", missing],
        vec!["requester", "purge", "--config", missing],
        vec!["responder", "load", "--config", missing, missing],
        vec!["topology", "export", "--config", missing],
        vec!["observatory", "run", "--config", missing],
    ] {
        let o = passerelle().args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(3), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("cannot read the settings file"), "{args:?}: {}", stderr(&o));
    }
}

/// Creates the case store in `data` with one audit entry (a start), as a daemon leaves it.
pub(crate) fn started_trail(data: &Path) {
    use passerelle_observatory_store::audit::{Action, AuditEntry};
    let store = passerelle_observatory_store::CaseStore::open(&data.join("observatory.db")).unwrap();
    let started = AuditEntry::new(
        std::time::SystemTime::now(),
        Action::Started,
        None,
        "observatory:carsat-sud-est",
        serde_json::json!({}),
    );
    store.write(|tx| tx.audit_append(&started)).unwrap();
}

#[test]
fn every_json_output_carries_its_format() {
    let dir = tempfile::tempdir().unwrap();
    let config = observatory_file(dir.path());
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    started_trail(&data);
    drop(passerelle_observatory_store::StatisticsStore::open(&data.join("statistics/statistics.db")).unwrap());
    let _api = crate::support::serve_observatory(&config);
    let run = |args: &[&str]| {
        let o = passerelle().args(args).arg("--config").arg(&config).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    run(&["audit", "verify"]);
    for (args, format) in [
        (&["ctl", "status", "--no-management", "--json"][..], "passerelle.ctl-status/1"),
        (&["stats", "--json"], "passerelle.stats/1"),
        (&["stats", "--json", "--pseudonym", &"0".repeat(64)], "passerelle.stats-pseudonym/2"),
        (&["audit", "show", "--json"], "passerelle.audit-entry/1"),
    ] {
        let stdout = run(args);
        let objects: Vec<serde_json::Value> = if stdout.trim_start().starts_with("{\n") {
            vec![serde_json::from_str(&stdout).unwrap()]
        } else {
            stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
        };
        assert!(!objects.is_empty(), "{args:?}: {stdout}");
        for object in objects {
            assert_eq!(object["format"], format, "{args:?}: {object}");
        }
    }
}
