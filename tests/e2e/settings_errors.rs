//! Settings mistakes an operator makes, run through the real binary: each exits 3 with one line
//! naming the key and where it was set (the file's line and column, or the variable), the
//! expected type in words and the key a misspelt one most likely meant; a legal limit out of
//! range is refused with its range and its source, never lowered. Nothing here reaches the
//! broker: every mistake is found before connecting. Also the same failure's same exit code
//! across commands (a missing store: 4), `requester purge`'s account, and plain logs in a pipe.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::passerelle;

/// A valid production observatory file, but for `extra` (inserted before `[broker]`).
fn observatory_file(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("observatory.toml");
    let text = format!(
        "code = \"carsat-sud-est\"\ndata_dir = \"{}\"\n{extra}\n[broker]\nurls = [\"amqp://127.0.0.1:1/%2f\"]\n",
        dir.join("data").display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// `passerelle ctl status --no-management --config FILE` (reads the settings, then the store;
/// never the broker), with `env` added.
fn ctl_status(config: &Path, env: &[(&str, &str)]) -> Output {
    let mut command = passerelle();
    command.args(["ctl", "status", "--no-management", "--config"]).arg(config);
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts exit 3 and one `invalid settings` line containing every `part`; returns it.
fn refused(o: &Output, parts: &[&str]) -> String {
    let text = stderr(o);
    assert_eq!(o.status.code(), Some(3), "{text}");
    let line =
        text.lines().find(|l| l.starts_with("passerelle: invalid settings: ")).unwrap_or_else(|| panic!("{text}"));
    for part in parts {
        assert!(line.contains(part), "`{part}` is not in: {line}");
    }
    line.to_owned()
}

#[test]
fn a_misspelt_key_names_the_file_line_and_the_key_it_meant() {
    let dir = tempfile::tempdir().unwrap();
    let config = observatory_file(dir.path(), "retension_days = 20");
    let line = refused(
        &ctl_status(&config, &[]),
        &[", line 3, column 1: `retension_days`: not a setting (did you mean `retention_days`?)"],
    );
    assert!(line.contains(&config.display().to_string()), "{line}");
}

#[test]
fn a_misspelt_variable_is_named_not_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = observatory_file(dir.path(), "");
    let line = refused(
        &ctl_status(&config, &[("PASSERELLE_BROKER__PREFX", "staging")]),
        &["the environment variable PASSERELLE_BROKER__PREFX: `broker.prefx`: not a setting (did you mean PASSERELLE_BROKER__PREFIX?)"],
    );
    assert!(!line.contains("observatory.toml"), "the file is not blamed: {line}");
}

#[test]
fn a_number_in_quotes_is_said_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let config = observatory_file(dir.path(), "retention_days = \"30\"");
    refused(
        &ctl_status(&config, &[]),
        &["line 3, column 1: `retention_days`: must be a whole number of days (0 or more), not the text \"30\" (write it without quotes: retention_days = 30)"],
    );
}

#[test]
fn every_legal_limit_out_of_range_is_refused_with_its_range_and_source() {
    let dir = tempfile::tempdir().unwrap();
    for (setting, expected) in [
        (
            "retention_days = 45",
            "line 3, column 1: `retention_days`: 45 is out of range: from 1 to 30 days (Décret n° 2017-334, art. 5",
        ),
        ("respond_by_default_days = 30", "`respond_by_default_days`: 30 is out of range: from 1 to 21 days"),
        ("respond_by_default_days = 0", "`respond_by_default_days`: 0 is out of range: from 1 to 21 days"),
        (
            "audit_retention_years = 10",
            "`audit_retention_years`: 10 is out of range: from 0 to 4 years besides the current one (the CNIL norm",
        ),
        (
            "statistics_retention_days = 2000",
            "`statistics_retention_days`: 2000 is out of range: from 1 to 1826 days (Décret n° 2017-334, art. 5",
        ),
    ] {
        let config = observatory_file(dir.path(), setting);
        let o = ctl_status(&config, &[]);
        refused(&o, &[expected]);
        assert!(!stderr(&o).contains("WARN"), "refused, not warned about: {}", stderr(&o));
    }
    // From a variable, the variable is named.
    let config = observatory_file(dir.path(), "");
    refused(
        &ctl_status(&config, &[("PASSERELLE_RETENTION_DAYS", "31")]),
        &["the environment variable PASSERELLE_RETENTION_DAYS: `retention_days`: 31 is out of range"],
    );
}

#[test]
fn the_requester_retention_above_24_months_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("requester.toml");
    std::fs::write(
        &config,
        "body = \"cnaf\"\noffice = \"caf-13\"\ndata_dir = \"/nonexistent\"\nout_dir = \"/nonexistent\"\n\
         retention_days = 900\n[broker]\nurls = [\"amqp://127.0.0.1:1/%2f\"]\n",
    )
    .unwrap();
    let o = passerelle().args(["requester", "status", "--config"]).arg(&config).output().unwrap();
    refused(
        &o,
        &["line 5, column 1: `retention_days`: 900 is out of range: from 1 to 730 days (Décret n° 2017-334, art. 5"],
    );
}

#[test]
fn the_broker_is_required_outside_development() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("observatory.toml");
    let data = dir.path().join("data");
    std::fs::write(&config, format!("code = \"carsat-sud-est\"\ndata_dir = \"{}\"\n", data.display())).unwrap();
    refused(&ctl_status(&config, &[]), &["`broker.urls`: not set: outside `profile = \"development\"`"]);
    // A variable is enough.
    let o = ctl_status(&config, &[("PASSERELLE_BROKER__URLS", "[\"amqp://127.0.0.1:1/%2f\"]")]);
    assert_eq!(o.status.code(), Some(4), "past the settings, to the missing store: {}", stderr(&o));
    // The development profile keeps the local defaults.
    std::fs::write(
        &config,
        format!("profile = \"development\"\ncode = \"carsat-sud-est\"\ndata_dir = \"{}\"\n", data.display()),
    )
    .unwrap();
    let o = ctl_status(&config, &[]);
    assert_eq!(o.status.code(), Some(4), "past the settings, to the missing store: {}", stderr(&o));
}

#[test]
fn a_missing_store_is_exit_4_in_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let observatory = observatory_file(dir.path(), "");
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
        vec!["ctl", "status", "--no-management", "--config", &config(&observatory)],
        vec!["stats", "--config", &config(&observatory)],
        vec!["audit", "verify", "--config", &config(&observatory)],
        vec!["audit", "show", "--config", &config(&observatory)],
        vec!["requester", "status", "--config", &config(&requester)],
        vec!["requester", "purge", "--config", &config(&requester)],
    ] {
        let o = passerelle().args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(4), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("passerelle: failed: no store at "), "{args:?}: {}", stderr(&o));
    }
    assert!(!dir.path().join("r").exists(), "a reading command creates no store");
}

#[test]
fn requester_purge_says_what_it_purged_with_the_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("r");
    drop(passerelle_requester::store::Store::open(&data).unwrap());
    let config = dir.path().join("requester.toml");
    std::fs::write(
        &config,
        format!(
            "body = \"cnaf\"\noffice = \"caf-13\"\ndata_dir = \"{}\"\nout_dir = \"{}\"\nretention_days = 365\n\
             [broker]\nurls = [\"amqp://127.0.0.1:1/%2f\"]\n",
            data.display(),
            dir.path().join("o").display()
        ),
    )
    .unwrap();
    let o = passerelle().args(["requester", "purge", "--config"]).arg(&config).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.starts_with("purged 0 submission(s) whose retention ended by 20")
            && text.contains("(retention_days = 365): 0 case(s), 0 person(s), 0 result file(s)"),
        "{text}"
    );
    let o = passerelle().args(["requester", "purge", "--json", "--config"]).arg(&config).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["format"], "passerelle.requester-purge/1");
    assert_eq!(v["retention_days"], 365);
    assert!(v["cut_off"].as_str().is_some_and(|t| t.ends_with('Z')), "{v}");
    assert_eq!(v["total"], serde_json::json!({"submissions": 0, "cases": 0, "persons": 0, "result_files": 0}));
}

#[test]
fn logs_in_a_pipe_carry_no_colour() {
    let o =
        passerelle().args(["demo", "--persons", "20"]).env("RUST_LOG", "info").env_remove("NO_COLOR").output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains(" INFO "), "the demo logged at info: {}", stderr(&o));
    assert!(!o.stderr.contains(&0x1b) && !o.stdout.contains(&0x1b), "an ANSI escape in a pipe: {}", stderr(&o));
}
