//! Agents and roles through a running observatory daemon (`observatory run`, real broker, its
//! local API on a Unix socket): `audit show` works for an auditor and is refused (exit 6, the
//! reason said) for an operator, who gets `ctl status` instead; a registry changed on disk takes
//! effect on SIGHUP; the change is an entry of the audit trail, the reads and the refusals are
//! entries of the access log. The caller is this test's own account, mapped by the registry the
//! test writes.

use crate::support;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use passerelle_bus::BusSettings;
use passerelle_observatory::ObservatorySettings;
use passerelle_party::process::SpawnedParty;
use passerelle_party::PartySettings;
use passerelle_test_support::{eventually_blocking, Vhost};
use support::proxy::free_port;

/// How long the daemon has to start, stop, or take a registry in.
const WAIT: Duration = Duration::from_secs(90);

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn audit_show(config: &Path) -> Output {
    support::passerelle().args(["audit", "show", "--json", "--config"]).arg(config).output().unwrap()
}

fn hang_up(daemon: &SpawnedParty) {
    let pid = rustix::process::Pid::from_raw(daemon.pid().expect("running") as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::HUP).unwrap();
}

#[test]
fn an_auditor_reads_the_trail_an_operator_is_refused_and_a_reload_is_recorded() {
    let url = support::amqp_url();
    if !support::broker_reachable_or_skip(&url) {
        return;
    }
    let vhost = Vhost::new();
    let dir = tempfile::tempdir().unwrap();
    let registry = support::write_registry(dir.path(), &["auditor"]);
    let mut settings = ObservatorySettings::new("carsat-sud-est", dir.path().join("data"));
    settings.metrics_addr = Some(format!("127.0.0.1:{}", free_port()));
    settings.agents.registry = Some(registry.clone());
    // The development profile: the test logs in as the broker's one test user.
    settings.profile = passerelle_hooks::Profile::Development;
    let mut settings = PartySettings::Observatory(settings);
    *settings.broker_mut() = BusSettings {
        urls: vec![vhost.url()],
        prefix: passerelle_test_support::unique_name("agents"),
        ..BusSettings::default()
    };
    let socket = settings.api_socket();
    let config = dir.path().join("observatory.toml");
    settings.write(&config).unwrap();
    let mut daemon =
        SpawnedParty::new("observatory", env!("CARGO_BIN_EXE_passerelle"), &settings, &config, dir.path().join("log"))
            .unwrap();
    daemon.spawn().unwrap();
    daemon.wait_healthy(Instant::now() + WAIT).unwrap_or_else(|e| panic!("{e:#}"));

    // An auditor reads the trail; the read is recorded in the access log with its agent id,
    // and nothing is added to the trail by reading it.
    let data_dir = dir.path().join("data");
    let o = audit_show(&config);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let first = o.stdout.clone();
    let o = audit_show(&config);
    assert_eq!(o.stdout, first, "a read appends nothing to the trail");
    let entries: Vec<serde_json::Value> =
        String::from_utf8_lossy(&o.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(entries.iter().all(|e| e["format"] == "passerelle.audit-entry/1"), "{entries:?}");
    let reads = |object: &str| {
        support::access_entries(&data_dir)
            .into_iter()
            .filter(|e| e.kind.as_str() == "read" && e.agent == "agent:agent-test" && e.object == object)
            .count()
    };
    assert_eq!(reads("audit"), 2, "each read is in the access log with the agent's id");
    let o = support::passerelle().args(["audit", "verify", "--socket"]).arg(&socket).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("audit trail intact: "), "{}", text(&o));
    assert_eq!(audit_show(&config).stdout, first, "`audit verify` writes nothing to the trail it checks");
    assert_eq!(reads("audit"), 4, "verify, then show: one access-log read each");

    // The director makes the agent an operator; SIGHUP applies it.
    support::write_registry(dir.path(), &["operator"]);
    hang_up(&daemon);
    let refused = eventually_blocking("the new registry in force", WAIT, || {
        let o = audit_show(&config);
        (o.status.code() == Some(6)).then_some(o)
    });
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("passerelle: refused: agent-test (Agent Test, account")
            && said.contains("needs one of the roles auditor, observatory-agent for this (it holds: operator)"),
        "{said}"
    );
    let o = support::passerelle()
        .args(["ctl", "status", "--no-management", "--json", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "an operator reads the status: {}", text(&o));
    let status: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (status["format"].as_str(), status["observatory"].as_str()),
        (Some("passerelle.ctl-status/1"), Some("carsat-sud-est"))
    );

    // An account the registry does not know is refused too.
    std::fs::write(&registry, "").unwrap();
    hang_up(&daemon);
    let refused = eventually_blocking("the empty registry in force", WAIT, || {
        let o =
            support::passerelle().args(["ctl", "status", "--no-management", "--config"]).arg(&config).output().unwrap();
        (o.status.code() == Some(6)).then_some(o)
    });
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not an authorised agent"), "{}", text(&refused));

    // Back to auditor: the trail holds the changes (before/after), the access log the refusals.
    support::write_registry(dir.path(), &["auditor"]);
    hang_up(&daemon);
    let entries = eventually_blocking("the auditor back", WAIT, || {
        let o = audit_show(&config);
        o.status.success().then(|| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect::<Vec<serde_json::Value>>()
        })
    });
    let changes: Vec<serde_json::Value> = entries
        .iter()
        .filter(|e| e["action"] == "registry_changed")
        .map(|e| serde_json::from_str(e["detail"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(changes.len(), 3, "three reloads, one account each: {changes:#?}");
    assert_eq!(changes[0]["change"], "changed");
    assert_eq!(changes[0]["before"]["roles"], serde_json::json!(["auditor"]));
    assert_eq!(changes[0]["after"]["roles"], serde_json::json!(["operator"]));
    assert_eq!(changes[1]["change"], "removed");
    assert_eq!(changes[2]["change"], "added");
    assert!(!entries.iter().any(|e| e["action"] == "access_refused"), "refusals are not the trail's: {entries:#?}");
    let refusals: Vec<_> =
        support::access_entries(&data_dir).into_iter().filter(|e| e.kind.as_str() == "refused").collect();
    assert!(refusals.iter().any(|e| e.agent == "agent:agent-test"), "the operator's refusal: {refusals:#?}");
    assert!(refusals.iter().any(|e| e.agent.starts_with("os-user:")), "the unknown account's refusal: {refusals:#?}");
    daemon.stop(WAIT).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(!socket.exists(), "the socket is removed at stop");
}
