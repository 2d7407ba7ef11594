//! A real server on a socket in a temporary folder, called by this process: its uid is the
//! caller, mapped (or not) by a registry written for the test.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use axum::body::Bytes;
use axum::routing::{get, post};
use axum::{Json, Router};
use passerelle_agents::{Agent, ChangeKind, Registry, Role};
use passerelle_local_api::{
    file_response, AccessOutcome, ApiError, ApiServer, Caller, Client, ClientError, KeptAccesses, RegistryHandle,
};

fn me() -> String {
    passerelle_local_api::own_account().unwrap().expect("the test's uid has an account name")
}

fn registry_text(account: &str, roles: &[&str]) -> String {
    let roles = roles.iter().map(|r| format!("\"{r}\"")).collect::<Vec<_>>().join(", ");
    format!("[[agent]]\naccount = \"{account}\"\nid = \"agent-0042\"\nname = \"Agent Bleu\"\nroles = [{roles}]\n")
}

async fn audit(caller: Caller) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(&[Role::Auditor])?;
    Ok(Json(serde_json::json!({ "entries": 3, "actor": caller.agent().id })))
}

async fn counts(caller: Caller) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(&[Role::Operator])?;
    Ok(Json(serde_json::json!({ "cases": 1 })))
}

fn routes(dir: &Path) -> Router {
    let file = dir.join("served.csv");
    Router::new()
        .route("/v1/audit", get(audit))
        .route("/v1/counts", get(counts))
        .route(
            "/v1/file",
            get(move |caller: Caller| {
                let file = file.clone();
                async move {
                    caller.require(&[Role::Auditor])?;
                    file_response(&file).await
                }
            }),
        )
        .route(
            "/v1/upload",
            post(|caller: Caller, body: Bytes| async move {
                caller.require(&[Role::Auditor])?;
                Ok::<_, ApiError>(Json(serde_json::json!({ "bytes": body.len() })))
            }),
        )
}

struct Served {
    _dir: tempfile::TempDir,
    dir: std::path::PathBuf,
    registry_path: std::path::PathBuf,
    registry: RegistryHandle,
    kept: Arc<KeptAccesses>,
    server: ApiServer,
    client: Client,
}

fn serve(registry: &str) -> Served {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_owned();
    let registry_path = dir.join("agents.toml");
    std::fs::write(&registry_path, registry).unwrap();
    let handle = RegistryHandle::load(&registry_path).unwrap();
    let kept = Arc::new(KeptAccesses::default());
    let socket = dir.join("run").join("observatory.sock");
    let server = ApiServer::start(&socket, routes(&dir), handle.clone(), kept.clone()).unwrap();
    let client = Client::new(&socket).for_daemon("observatory run");
    Served { _dir: tmp, dir, registry_path, registry: handle, kept, server, client }
}

#[tokio::test]
async fn an_agent_with_the_role_is_served_and_one_without_is_refused_and_recorded() {
    let s = serve(&registry_text(&me(), &["auditor"]));
    let whoami: Agent = get_agent(&s.client).await;
    assert_eq!((whoami.account.as_str(), whoami.id.as_str()), (me().as_str(), "agent-0042"));
    let answer: serde_json::Value = s.client.get_json("/v1/audit").await.unwrap();
    assert_eq!(answer, serde_json::json!({ "entries": 3, "actor": "agent-0042" }));
    assert!(s.kept.taken().is_empty(), "nothing refused yet");

    let e = s.client.get_json::<serde_json::Value>("/v1/counts").await.unwrap_err();
    assert!(e.is_forbidden() && e.code() == Some("not_permitted"), "{e:?}");
    assert!(e.to_string().contains("needs the role operator for this (it holds: auditor)"), "{e}");
    let kept = s.kept.taken();
    assert_eq!(kept.len(), 1);
    assert_eq!((kept[0].method.as_str(), kept[0].path.as_str()), ("GET", "/v1/counts"));
    assert_eq!(kept[0].account.as_deref(), Some(me().as_str()));
    assert_eq!(kept[0].agent_id.as_deref(), Some("agent-0042"));
    assert!(matches!(kept[0].outcome, AccessOutcome::Refused { .. }));
    s.server.stop().await;
}

async fn get_agent(client: &Client) -> Agent {
    let v: serde_json::Value = client.get_json("/v1/whoami").await.unwrap();
    Agent {
        account: v["account"].as_str().unwrap().to_owned(),
        id: v["id"].as_str().unwrap().to_owned(),
        name: v["name"].as_str().unwrap().to_owned(),
        roles: v["roles"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().parse().unwrap()).collect(),
        office: v["office"].as_str().map(str::to_owned),
    }
}

#[tokio::test]
async fn an_account_the_registry_does_not_know_is_refused_and_recorded() {
    let s = serve(&registry_text("someone-else", &["auditor"]));
    let e = s.client.get_json::<serde_json::Value>("/v1/audit").await.unwrap_err();
    assert_eq!(e.code(), Some("not_an_agent"), "{e:?}");
    let text = e.to_string();
    assert!(text.starts_with(&format!("not an authorised agent: the account \"{}\"", me())), "{text}");
    assert!(text.contains("agents.toml"), "names the registry: {text}");
    let e = s.client.get_json::<serde_json::Value>("/v1/whoami").await.unwrap_err();
    assert!(e.is_forbidden(), "{e:?}");
    let kept = s.kept.taken();
    assert_eq!(kept.len(), 2);
    assert_eq!(kept[0].uid, Some(nix::unistd::getuid().as_raw()));
    assert_eq!(kept[0].outcome, AccessOutcome::NotAnAgent);
    assert_eq!(kept[1].path, "/v1/whoami");
    s.server.stop().await;
}

#[tokio::test]
async fn a_reload_applies_the_new_registry_and_reports_the_change() {
    let s = serve(&registry_text(&me(), &["operator"]));
    assert!(s.client.get_json::<serde_json::Value>("/v1/audit").await.unwrap_err().is_forbidden());
    std::fs::write(&s.registry_path, registry_text(&me(), &["operator", "auditor"])).unwrap();
    let changes = s.registry.reload().unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].kind(), ChangeKind::Changed);
    assert!(changes[0].after.as_ref().unwrap().has(Role::Auditor));
    let _: serde_json::Value = s.client.get_json("/v1/audit").await.unwrap();

    // A bad file keeps the registry before; removing the agent refuses it from the next call.
    std::fs::write(&s.registry_path, "[[agent]]\naccount = 3\n").unwrap();
    assert!(s.registry.reload().is_err());
    let _: serde_json::Value = s.client.get_json("/v1/audit").await.unwrap();
    let changes = s.registry.replace(Registry::empty());
    assert_eq!(changes[0].kind(), ChangeKind::Removed);
    assert_eq!(s.client.get_json::<serde_json::Value>("/v1/audit").await.unwrap_err().code(), Some("not_an_agent"));
    s.server.stop().await;
}

#[tokio::test]
async fn files_stream_both_ways_and_a_download_is_private_and_whole() {
    let s = serve(&registry_text(&me(), &["auditor"]));
    let content: Vec<u8> = (0..300_000u32).flat_map(|i| i.to_le_bytes()).collect();
    std::fs::write(s.dir.join("served.csv"), &content).unwrap();
    let target = s.dir.join("out").join("list.csv");
    let written = s.client.download("/v1/file", &target).await.unwrap();
    assert_eq!(written, content.len() as u64);
    assert_eq!(std::fs::read(&target).unwrap(), content);
    assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(!s.dir.join("out").join("list.csv.partial").exists());

    let answer: serde_json::Value = s.client.upload("/v1/upload", &s.dir.join("served.csv")).await.unwrap();
    assert_eq!(answer["bytes"], content.len());

    // A refused download writes nothing.
    std::fs::write(&s.registry_path, registry_text(&me(), &["operator"])).unwrap();
    s.registry.reload().unwrap();
    let other = s.dir.join("out").join("refused.csv");
    assert!(s.client.download("/v1/file", &other).await.unwrap_err().is_forbidden());
    assert!(!other.exists() && !s.dir.join("out").join("refused.csv.partial").exists());
    s.server.stop().await;
}

#[tokio::test]
async fn no_daemon_at_the_socket_is_said_with_the_command_that_runs_it() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("observatory.sock");
    let e = Client::new(&socket).for_daemon("observatory run").get_json::<serde_json::Value>("/v1/whoami").await;
    let e = e.unwrap_err();
    assert!(matches!(e, ClientError::NoDaemon { .. }));
    assert_eq!(
        e.to_string(),
        format!("no daemon answers at {}: is `passerelle observatory run` running?", socket.display())
    );
}
