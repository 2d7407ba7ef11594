//! Settings mistakes an operator makes, run through the real binary: each exits 3 with one line
//! naming the key and where it was set (the file's line and column, or the variable), the
//! expected type in words and the key a misspelt one most likely meant; a legal limit out of
//! range is refused with its range and its source, never lowered. Nothing here reaches the
//! broker: every mistake is found before connecting.

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
