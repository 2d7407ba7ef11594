//! Settings mistakes an operator makes, run through the real binary: each exits 3 with one line
//! naming the key and where it was set (the file's line and column, or the variable), the
//! expected type in words and the key a misspelt one most likely meant; a legal limit out of
//! range is refused with its range and its source, never lowered. Nothing here reaches the
//! broker: every mistake is found before connecting — a daemon without a broker identity of its
//! own outside the development profile included.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::{passerelle, refused, stderr};

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
            "`audit_retention_years`: 10 is out of range: from 4 to 4 years besides the current one (the CNIL norm",
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

/// `passerelle <kind> run --config FILE`, its data_dir a file: a daemon past its settings stops
/// at its folders (exit 4) before any broker connection.
fn run_daemon(kind: &str, config: &Path) -> Output {
    passerelle().args([kind, "run", "--config"]).arg(config).env_remove("PASSERELLE_LOG_FORMAT").output().unwrap()
}

#[test]
fn a_daemon_without_its_own_broker_identity_is_refused_outside_development_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_folder = dir.path().join("not-a-folder");
    std::fs::write(&not_a_folder, "").unwrap();
    let broker = "[broker]\nurls = [\"amqp://body-cnaf:pw@127.0.0.1:1/passerelle\"]\n";
    let files = [
        ("observatory", "code = \"carsat-sud-est\"\n".to_owned()),
        ("responder", "body = \"cnam\"\n[source]\nkind = \"extract\"\n".to_owned()),
        ("requester", format!("body = \"cnaf\"\noffice = \"caf-13\"\nout_dir = {:?}\n", dir.path().join("out"))),
    ];
    for (kind, role) in &files {
        // No identity settings at all: the development default, refused.
        let config = dir.path().join(format!("{kind}.toml"));
        std::fs::write(&config, format!("data_dir = {not_a_folder:?}\n{role}{broker}")).unwrap();
        refused(
            &run_daemon(kind, &config),
            &[
                &format!("{kind}.toml"),
                "`broker.identity.insecure_any_user`: true (its default when not set)",
                "write `insecure_any_user = false` under [broker.identity]",
                "[broker.identity.users]",
                "README, \"Broker settings\"",
            ],
        );
        // The same file under the development profile, asked for by name, gets past its
        // settings (to its folder, which is a file).
        std::fs::write(&config, format!("profile = \"development\"\ndata_dir = {not_a_folder:?}\n{role}{broker}"))
            .unwrap();
        let o = run_daemon(kind, &config);
        assert_eq!(o.status.code(), Some(4), "{kind}: past the settings, to its data_dir: {}", stderr(&o));
    }

    // The observatory, with each wrong identity map and then a right one.
    let observatory = |identity: &str| {
        let config = dir.path().join("observatory.toml");
        let urls = "urls = [\"amqp://observatory-sud-est:s3cr3t@127.0.0.1:1/passerelle\"]";
        let text = format!(
            "code = \"carsat-sud-est\"\ndata_dir = {not_a_folder:?}\n[broker]\n{urls}\n[broker.identity]\n{identity}"
        );
        std::fs::write(&config, text).unwrap();
        run_daemon("observatory", &config)
    };
    let line = refused(
        &observatory("insecure_any_user = true\n"),
        &["`broker.identity.insecure_any_user`: true", "the shared identity of the development profile"],
    );
    assert!(line.contains("observatory.toml, line 6, column 1"), "blamed on its line: {line}");
    refused(
        &observatory("insecure_any_user = false\n"),
        &["`broker.identity.users`: not set: outside `profile = \"development\"` each party has its own broker user"],
    );
    refused(
        &observatory(
            "insecure_any_user = false\n[broker.identity.users]\n\
             \"observatory-sud-est\" = [\"carsat-sud-est\"]\n\"passerelle\" = [\"cnam\", \"cnav\", \"cnaf\", \"msa\"]\n",
        ),
        &[
            "`broker.identity.users`: broker user \"passerelle\" speaks for 4 parties (cnaf, cnam, cnav, msa)",
            "give each party its own broker user",
        ],
    );
    let line = refused(
        &observatory("insecure_any_user = false\n[broker.identity.users]\n\"body-cnam\" = [\"cnam\"]\n"),
        &[
            "`broker.identity.users`: this observatory logs in to the broker as \"observatory-sud-est\" \
             (`broker.urls`), a user it does not map",
            "add \"observatory-sud-est\" = [\"carsat-sud-est\"] if that is carsat-sud-est's own user",
        ],
    );
    assert!(!line.contains("s3cr3t"), "the login named, never its password: {line}");
    let o = observatory(
        "insecure_any_user = false\n[broker.identity.users]\n\
         \"observatory-sud-est\" = [\"carsat-sud-est\"]\n\"body-cnam\" = [\"cnam\"]\n",
    );
    assert_eq!(o.status.code(), Some(4), "one broker user per party: past the settings: {}", stderr(&o));

    // A command that never speaks on the broker as the party reads the same refused file.
    let config = dir.path().join("observatory.toml");
    std::fs::write(&config, format!("code = \"carsat-sud-est\"\ndata_dir = {:?}\n{broker}", dir.path().join("d")))
        .unwrap();
    let o = ctl_status(&config, &[]);
    assert_eq!(o.status.code(), Some(4), "past the settings, to the missing store: {}", stderr(&o));
}

#[test]
fn a_console_outside_loopback_without_a_tls_proxy_is_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("requester.toml");
    std::fs::write(
        &config,
        "body = \"cnaf\"\noffice = \"caf-13\"\ndata_dir = \"/nonexistent\"\nout_dir = \"/nonexistent\"\n\
         [broker]\nurls = [\"amqp://127.0.0.1:1/%2f\"]\n[api]\nconsole_addr = \"0.0.0.0:8442\"\n",
    )
    .unwrap();
    let o = passerelle().args(["requester", "status", "--config"]).arg(&config).output().unwrap();
    refused(&o, &["api.console_addr", "`0.0.0.0:8442` is not a loopback address", "reverse proxy"]);
}
