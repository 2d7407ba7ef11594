//! What the social-service daemon's command tests share: the test's account in a registry of
//! its own, and a daemon (`social-service run`) started on a temporary folder — its store, its
//! archive beside it, its socket, its metrics port — and healthy.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use passerelle_party::process::SpawnedParty;
use passerelle_party::{PartyKind, PartySettings};

/// The test process's OS account: what the registry maps to an agent.
pub fn me() -> String {
    passerelle_local_api::own_account().unwrap().expect("the test's uid has an account name")
}

/// Writes `root/agents.toml`: the test's account as agent `id` with `roles`, of `office` if any.
pub fn write_registry(root: &Path, id: &str, roles: &[&str], office: Option<&str>) {
    let roles: Vec<String> = roles.iter().map(|r| format!("\"{r}\"")).collect();
    let office = office.map(|o| format!("office = \"{o}\"\n")).unwrap_or_default();
    let text = format!(
        "[[agent]]\naccount = \"{}\"\nid = \"{id}\"\nname = \"Agent Test\"\nroles = [{}]\n{office}",
        me(),
        roles.join(", ")
    );
    std::fs::write(root.join("agents.toml"), text).unwrap();
}

/// Writes `root/social-service.toml` (office `ss-13` of `carsat-sud-est`, reading the worklist
/// of `cpam-13` at `requester_socket`; `root/data`, `root/archive`, `root/run/social-service.sock`,
/// `root/agents.toml`), starts the daemon and waits until it is healthy. Its settings file and
/// the daemon (stopped when dropped).
pub fn start(root: &Path, requester_socket: &Path) -> (PathBuf, SpawnedParty) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = root.join("social-service.toml");
    std::fs::write(
        &config,
        format!(
            "body = \"carsat-sud-est\"\noffice = \"ss-13\"\ndata_dir = {:?}\narchive_dir = {:?}\n\
             metrics_addr = \"127.0.0.1:{port}\"\n[requester]\nsocket = {requester_socket:?}\noffice = \"cpam-13\"\n\
             [api]\nsocket = {:?}\n[agents]\nregistry = {:?}\n",
            root.join("data"),
            root.join("archive"),
            root.join("run").join("social-service.sock"),
            root.join("agents.toml"),
        ),
    )
    .unwrap();
    let settings = PartySettings::load(PartyKind::SocialService, &config).unwrap();
    let mut daemon =
        SpawnedParty::new("social-service", env!("CARGO_BIN_EXE_passerelle"), &settings, &config, root.join("d.log"))
            .unwrap();
    daemon.spawn().unwrap();
    daemon.wait_healthy(Instant::now() + Duration::from_secs(90)).unwrap();
    (config, daemon)
}

/// Runs `passerelle social-service <group> ARGS --config CONFIG` to its end.
pub fn command(config: &Path, group: &str, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_passerelle"))
        .args(["social-service", group])
        .args(args)
        .arg("--config")
        .arg(config)
        .env_remove("PASSERELLE_LOG_FORMAT")
        .output()
        .unwrap()
}

/// A finished command's exit code, stdout and stderr.
pub fn said(o: &Output) -> (i32, String, String) {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (o.status.code().unwrap_or(-1), text(&o.stdout), text(&o.stderr))
}
