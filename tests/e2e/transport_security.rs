//! Outside the development profile, nothing personal crosses the network in clear, checked at
//! every daemon's start with the real binary: a plain `amqp://` URL to a broker on another host
//! is refused (exit 3, naming `broker.urls` and saying to write `amqps://`) by the observatory,
//! the responder, the requester and the social service, while plain AMQP to this host is
//! accepted; a PostgreSQL source without TLS (`source.url`, `transfers.membership.url`), or with a
//! mode that does not verify the server (`sslmode=require`), is refused naming its key, while
//! `sslmode=verify-full` is accepted. The development profile, asked for by name, keeps plain
//! connections. Each daemon's `data_dir` is a file: one past its settings stops there (exit 4),
//! before connecting to anything.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::{passerelle, refused, stderr};

fn run_daemon(kind: &str, config: &Path, env: &[(&str, &str)]) -> Output {
    let mut command = passerelle();
    command.args([kind, "run", "--config"]).arg(config).env_remove("PASSERELLE_LOG_FORMAT");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

fn past_the_settings(o: &Output, what: &str) {
    assert_eq!(o.status.code(), Some(4), "{what}: past the settings, to its data_dir: {}", stderr(o));
}

/// A production daemon of each kind: (kind, its role's settings, its broker user, its party).
fn daemons(dir: &Path) -> [(&'static str, String, &'static str, &'static str); 4] {
    [
        ("observatory", "code = \"carsat-sud-est\"\n".to_owned(), "observatory-sud-est", "carsat-sud-est"),
        ("responder", "body = \"cnam\"\n[source]\nkind = \"extract\"\n".to_owned(), "body-cnam", "cnam"),
        (
            "requester",
            format!("body = \"cnaf\"\noffice = \"caf-13\"\nout_dir = {:?}\n", dir.join("out")),
            "requester-caf-13",
            "cnaf.caf-13",
        ),
        (
            "social-service",
            "body = \"carsat-sud-est\"\noffice = \"ss-13\"\n[requester]\nsocket = \"/run/r.sock\"\noffice = \"cpam-13\"\n"
                .to_owned(),
            "social-service-ss-13",
            "carsat-sud-est.ss-13",
        ),
    ]
}

/// A daemon's file: `top` first (the profile), its data_dir (a file), its role, then `[broker]`
/// with `url` and its own broker identity.
fn write(dir: &Path, kind: &str, top: &str, role: &str, url: &str, user: &str, party: &str) -> PathBuf {
    let config = dir.join(format!("{kind}.toml"));
    let data_dir = dir.join("not-a-folder");
    std::fs::write(&data_dir, "").unwrap();
    let social = match kind {
        "social-service" => "[broker.social_services]\ncarsat-sud-est = [\"ss-13\"]\n",
        "requester" => "[broker.offices]\ncnaf = [\"caf-13\"]\n",
        _ => "",
    };
    let text = format!(
        "{top}data_dir = {data_dir:?}\n{role}[broker]\nurls = [\"{url}\"]\n{social}\
         [broker.identity]\ninsecure_any_user = false\n[broker.identity.users]\n\"{user}\" = [\"{party}\"]\n"
    );
    std::fs::write(&config, text).unwrap();
    config
}

#[test]
fn plain_amqp_to_another_host_is_refused_at_every_daemons_start_naming_broker_urls() {
    let dir = tempfile::tempdir().unwrap();
    for (kind, role, user, party) in daemons(dir.path()) {
        let plain = |host: &str| format!("amqp://{user}:s3cret@{host}/passerelle");
        let config = write(dir.path(), kind, "", &role, &plain("rabbit.example:5672"), user, party);
        let line = refused(
            &run_daemon(kind, &config, &[]),
            &[
                &format!("{kind}.toml, line "),
                "`broker.urls`: the URL is plain `amqp://` to \"rabbit.example\", another host",
                "write `amqps://`",
            ],
        );
        assert!(!line.contains("s3cret"), "the host named, never the URL: {line}");
        // Set by a variable, the variable is blamed.
        let url = format!("[\"{}\"]", plain("10.1.2.3"));
        refused(
            &run_daemon(kind, &config, &[("PASSERELLE_BROKER__URLS", &url)]),
            &["the environment variable PASSERELLE_BROKER__URLS: `broker.urls`", "\"10.1.2.3\""],
        );
        // To this host, plain AMQP never leaves the machine; over TLS, any host.
        for url in [plain("127.0.0.1:1"), plain("localhost:1"), plain("[::1]:1")] {
            let config = write(dir.path(), kind, "", &role, &url, user, party);
            past_the_settings(&run_daemon(kind, &config, &[]), &format!("{kind} on {url}"));
        }
        let tls = format!("amqps://{user}@rabbit.example:5671/passerelle?auth_mechanism=external");
        past_the_settings(&run_daemon(kind, &write(dir.path(), kind, "", &role, &tls, user, party), &[]), kind);
        // The development profile, asked for by name, keeps plain AMQP.
        let config = write(dir.path(), kind, "profile = \"development\"\n", &role, &plain("rabbit:5672"), user, party);
        past_the_settings(&run_daemon(kind, &config, &[]), &format!("{kind} in development"));
    }
}

#[test]
fn a_postgres_source_without_verified_tls_is_refused_at_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let broker = |user: &str| format!("amqp://{user}:pw@127.0.0.1:1/passerelle");
    let responder = |top: &str, url: &str| {
        let role = format!(
            "body = \"cnam\"\nholds = [\"css\"]\n[source]\nkind = \"postgres\"\nurl = \"{url}\"\n\
             identity_query = \"SELECT nir, NULL, NULL, NULL FROM t WHERE nir = ANY($1)\"\n\
             [source.categories]\ncss = \"SELECT nir, css FROM t WHERE nir = ANY($1)\"\n"
        );
        let config = write(dir.path(), "responder", top, &role, &broker("body-cnam"), "body-cnam", "cnam");
        run_daemon("responder", &config, &[])
    };
    let social_service = |top: &str, url: &str| {
        let role = format!(
            "body = \"carsat-sud-est\"\noffice = \"ss-13\"\n[requester]\nsocket = \"/run/r.sock\"\n\
             office = \"cpam-13\"\n[transfers.membership]\nkind = \"postgres\"\nurl = \"{url}\"\n\
             query = \"SELECT 1 FROM attached WHERE nir = $1\"\n"
        );
        let (user, party) = ("social-service-ss-13", "carsat-sud-est.ss-13");
        let config = write(dir.path(), "social-service", top, &role, &broker(user), user, party);
        run_daemon("social-service", &config, &[])
    };
    let ca = dir.path().join("pg-ca.pem").display().to_string();
    let verified = format!("postgres://passerelle@db.example:5432/benefits?sslmode=verify-full&sslrootcert={ca}");
    for (kind, key, start) in [
        ("responder", "`source.url`", &responder as &dyn Fn(&str, &str) -> Output),
        ("social-service", "`transfers.membership.url`", &social_service),
    ] {
        let line = refused(
            &start("", "postgres://passerelle:s3cret@db.example:5432/benefits"),
            &[&format!("{kind}.toml, line "), key, "no `sslmode`: without TLS", "sslmode=verify-full"],
        );
        assert!(!line.contains("s3cret"), "the URL is never quoted: {line}");
        refused(
            &start("", "host=db.example dbname=benefits sslmode=disable"),
            &[key, "`sslmode=disable` is without TLS"],
        );
        // TLS that takes any certificate is refused in every profile.
        for top in ["", "profile = \"development\"\n"] {
            refused(
                &start(top, "postgres://db.example/benefits?sslmode=require"),
                &[key, "`sslmode=require` takes the server's certificate without checking"],
            );
        }
        past_the_settings(&start("", &verified), &format!("{kind}: verify-full"));
        past_the_settings(
            &start("profile = \"development\"\n", "postgres://passerelle@127.0.0.1/benefits"),
            &format!("{kind}: plain in development"),
        );
    }
}
