//! The social-service daemon as `social-service run` builds it (`Party::build`): without
//! `[broker]`, no broker to wait for (`/health` serves without one), its local API with the
//! service's routes and the access-log routes, and a refusal recorded in its own access log, one
//! chain that verifies; with `[broker]`, connected as the social service `body.office` (its queues
//! checked), `/health` following the broker, and its office required under
//! `[broker.social_services]`.

use std::path::Path;
use std::time::Duration;

use passerelle_access_log::AccessKind;
use passerelle_local_api::Client;
use passerelle_party::api::trails::AccessLogPage;
use passerelle_party::{Party, PartyKind, PartySettings};
use passerelle_social_service::service::views::FileList;
use passerelle_trails::TrailReport;

fn write_registry(path: &Path, roles: &str) {
    let account = passerelle_local_api::own_account().unwrap().expect("the test's uid has an account name");
    let text = format!(
        "[[agent]]\naccount = \"{account}\"\nid = \"sw-1\"\nname = \"Agent Test\"\nroles = [{roles}]\noffice = \"ss-13\"\n"
    );
    std::fs::write(path, text).unwrap();
}

/// A free local port for the metrics endpoint.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_social_service_runs_without_a_broker_and_serves_its_routes_and_its_access_log() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("agents.toml");
    let socket = dir.path().join("run").join("social-service.sock");
    let config = dir.path().join("social-service.toml");
    let port = free_port();
    std::fs::write(
        &config,
        format!(
            "body = \"carsat-sud-est\"\noffice = \"ss-13\"\ndata_dir = {:?}\nmetrics_addr = \"127.0.0.1:{port}\"\n\
             [requester]\nsocket = {:?}\noffice = \"cpam-13\"\n[agents]\nregistry = {registry:?}\n[api]\nsocket = {socket:?}\n",
            dir.path().join("data"),
            dir.path().join("run").join("requester.sock"),
        ),
    )
    .unwrap();
    write_registry(&registry, "\"social-worker\", \"auditor\"");
    // Production settings with no [broker]: loaded as the daemon loads them.
    let settings = PartySettings::load(PartyKind::SocialService, &config).unwrap_or_else(|e| panic!("{e:#}"));
    let party = tokio::time::timeout(Duration::from_secs(20), Party::build(settings))
        .await
        .expect("built without waiting for a broker")
        .unwrap_or_else(|e| panic!("{e:#}"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(party.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok((200, _)) = passerelle_metrics::fetch(addr, "/health").await {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "/health never said ok");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, metrics) = passerelle_metrics::fetch(addr, "/metrics").await.unwrap();
    assert!(metrics.contains("passerelle_social_service_files{state=\"open\"} 0"), "{metrics}");

    let client = Client::new(&socket);
    let list: FileList = client.get_json("/v1/files").await.unwrap();
    assert!(list.files.is_empty());
    let e = client.get_json::<serde_json::Value>("/v1/worklist").await.unwrap_err();
    assert_eq!(e.code(), Some("requester_unavailable"), "{e}");
    let e = client.post_json::<_, serde_json::Value>("/v1/files/x/rights/access", &serde_json::json!({})).await;
    assert!(e.unwrap_err().is_forbidden(), "not a rights officer");

    let page: AccessLogPage = client.get_json("/v1/access-log/entries").await.unwrap();
    let kinds: Vec<&str> = page.entries.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, [AccessKind::Refused.as_str()], "the refusal, in the social service's own log");
    let report: TrailReport = client.get_json("/v1/access-log/verify").await.unwrap();
    assert!(!report.years.is_empty(), "the refusal's year is verified: {report:?}");
    assert!(report.years.iter().all(|y| y.findings.is_empty()), "{report:?}");

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(20), running).await.unwrap().unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_social_service_with_a_broker_connects_as_its_office_and_says_so_on_health() {
    use passerelle_test_support::{amqp_url, broker_reachable_or_skip, Vhost};
    if !broker_reachable_or_skip(&amqp_url()) {
        return;
    }
    let vhost = Vhost::new();
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("agents.toml");
    let socket = dir.path().join("run").join("social-service.sock");
    let config = dir.path().join("social-service.toml");
    let port = free_port();
    std::fs::write(
        &config,
        format!(
            "profile = \"development\"\nbody = \"carsat-sud-est\"\noffice = \"ss-13\"\ndata_dir = {:?}\n\
             metrics_addr = \"127.0.0.1:{port}\"\n[requester]\nsocket = {:?}\noffice = \"cpam-13\"\n\
             [agents]\nregistry = {registry:?}\n[api]\nsocket = {socket:?}\n\
             [broker]\nurls = [{:?}]\nstart_timeout_s = 20\n[broker.social_services]\ncarsat-sud-est = [\"ss-13\"]\n",
            dir.path().join("data"),
            dir.path().join("run").join("requester.sock"),
            vhost.url(),
        ),
    )
    .unwrap();
    write_registry(&registry, "\"social-worker\"");
    let settings = PartySettings::load(PartyKind::SocialService, &config).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(settings.has_broker());
    // The observatory declares the topology, the social service's queues with it.
    let observatory = passerelle_bus::AmqpBus::connect(
        settings.broker(),
        passerelle_bus::Role::Observatory(settings.broker().observatories[0].clone()),
    )
    .await
    .unwrap();
    observatory.close().await;
    let party = tokio::time::timeout(Duration::from_secs(30), Party::build(settings))
        .await
        .expect("connected within the start timeout")
        .unwrap_or_else(|e| panic!("{e:#}"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(party.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let health = loop {
        if let Ok((200, body)) = passerelle_metrics::fetch(addr, "/health").await {
            break body;
        }
        assert!(tokio::time::Instant::now() < deadline, "/health never said ok");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(health.contains("\"broker_connected\":true"), "its /health follows the broker: {health}");
    let (_, metrics) = passerelle_metrics::fetch(addr, "/metrics").await.unwrap();
    assert!(metrics.contains("passerelle_bus_"), "the bus's metrics are served: {metrics}");
    let list: FileList = Client::new(&socket).get_json("/v1/files").await.unwrap();
    assert!(list.files.is_empty());
    // Connected as the social service: its connection is listed in the vhost.
    let connections = passerelle_test_support::rabbitmqctl(&["list_connections", "-q", "vhost"]);
    assert!(connections.lines().any(|l| l.trim() == vhost.name), "{connections}");

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(20), running).await.unwrap().unwrap().unwrap();
}

#[test]
fn a_social_service_whose_office_is_not_on_the_broker_is_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("social-service.toml");
    std::fs::write(
        &config,
        "profile = \"development\"\nbody = \"carsat-sud-est\"\noffice = \"ss-13\"\ndata_dir = \"/d\"\n\
         [requester]\nsocket = \"/r.sock\"\noffice = \"cpam-13\"\n[broker]\n[broker.social_services]\ncramif = [\"ss-75\"]\n",
    )
    .unwrap();
    let e = PartySettings::load(PartyKind::SocialService, &config).unwrap_err();
    let text = format!("{e:#}");
    assert!(text.contains("`broker.social_services.carsat-sud-est`"), "{text}");
}
