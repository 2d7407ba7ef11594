//! `passerelle topology export`: the CLI writes the same definitions the bus library computes
//! (the broker tests of crates/bus import those into a fresh vhost and check the permissions),
//! reads only the `[broker]` table, and refuses bad settings with exit code 3.

use crate::support::passerelle;

const SETTINGS: &str = r#"
[broker]
urls = ["amqp://observatory@127.0.0.1:5672/prod"]
prefix = "pp"
observatories = ["carsat-sud-est"]

[broker.identity]
insecure_any_user = false
[broker.identity.users]
"obs-sud-est" = ["carsat-sud-est"]
"body-cnaf" = ["cnaf"]

[observatory]
ignored = "by topology export"
"#;

#[test]
fn topology_export_writes_the_library_definitions() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("passerelle.toml");
    std::fs::write(&config, SETTINGS).unwrap();
    let out = dir.path().join("definitions.json");
    let status = passerelle()
        .args(["topology", "export", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&out)
        .env_remove("PASSERELLE_BROKER__PREFIX")
        .status()
        .unwrap();
    assert!(status.success());
    let written: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    #[derive(serde::Deserialize)]
    struct File {
        broker: passerelle_bus::BusSettings,
    }
    let file: File =
        passerelle_settings::load_from_str(SETTINGS, std::path::Path::new("test.toml"), std::iter::empty()).unwrap();
    assert_eq!(written, passerelle_bus::definitions::definitions(&file.broker).unwrap());
    assert_eq!(written["vhosts"][0]["name"], "prod");
    let users: Vec<&str> = written["users"].as_array().unwrap().iter().map(|u| u["name"].as_str().unwrap()).collect();
    assert_eq!(users, ["body-cnaf", "obs-sud-est"]);
    assert!(written["queues"].as_array().unwrap().iter().any(|q| q["name"] == "pp.body.cnaf.solicitations"));
}

#[test]
fn topology_export_refuses_unknown_keys_and_parties_with_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["[broker]\nprefetchh = 1\n", "[broker.identity.users]\nsomeone = [\"not-a-party\"]\n"] {
        let config = dir.path().join("bad.toml");
        std::fs::write(&config, bad).unwrap();
        let out = passerelle().args(["topology", "export", "--config"]).arg(&config).output().unwrap();
        assert_eq!(out.status.code(), Some(3), "{bad}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(out.stdout.is_empty());
    }
}
