//! One observatory per territory, with real processes over the real RabbitMQ: a second
//! observatory on the same `data_dir` is refused under `--no-wait` (exit 5, naming the holder)
//! and otherwise stands by until the first stops (a warm standby); a second observatory with
//! another `data_dir` stands by on the territory's broker lock while the first completes a case
//! with nothing dead-lettered, and takes over when the first is killed; an observatory whose
//! territory was taken while it was cut from the broker exits with code 5; `ctl status` flags
//! the consumers where none should be.

use crate::support;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use passerelle_party::process::FreePorts;
use passerelle_party::PartySettings;
use support::stack::{
    http_get, passerelle_command, Stack, StackOptions, CASE_TIMEOUT, OBSERVATORY_DAEMON, START_TIMEOUT,
};

/// What `observatory run` exits with when another observatory holds the territory.
const TERRITORY_HELD: i32 = 5;

/// How long a refused observatory has to exit (a debug build starting on a loaded machine).
const EXIT_TIMEOUT: Duration = Duration::from_secs(60);

fn small() -> StackOptions {
    StackOptions { persons: 60, chunk_size: 30, ..StackOptions::default() }
}

/// The first observatory's settings, with another `data_dir` (or the same) and a `/health`
/// port of its own.
fn second_observatory(stack: &Stack, data_dir: Option<&Path>) -> PartySettings {
    let mut settings = stack.settings(OBSERVATORY_DAEMON).clone();
    let PartySettings::Observatory(s) = &mut settings else { panic!("not an observatory's settings") };
    if let Some(dir) = data_dir {
        s.data_dir = dir.to_owned();
    }
    s.metrics_addr = Some(FreePorts::default().pick().unwrap().to_string());
    settings
}

/// Runs a command to its end, within `timeout` (killed and failed otherwise).
fn run_within(mut command: Command, timeout: Duration) -> Output {
    let child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let pid = child.id();
    let started = Instant::now();
    let (done, result) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    match result.recv_timeout(timeout) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("still running after {:.0} s", started.elapsed().as_secs_f64());
        }
    }
}

/// `/health`'s JSON body, once it says `phase` (polled until `timeout`).
fn wait_for_phase(stack: &Stack, daemon: &str, phase: &str, timeout: Duration) -> serde_json::Value {
    let mut last = String::new();
    let deadline = Instant::now() + timeout;
    loop {
        if let Some((_, body)) = http_get(stack.health_addr(daemon), "/health") {
            let report: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            if report["phase"] == phase {
                return report;
            }
            last = body;
        }
        assert!(Instant::now() < deadline, "{daemon}'s /health never said {phase}: {last}\n{}", stack.log(daemon));
        std::thread::sleep(support::stack::POLL);
    }
}

#[test]
fn a_second_observatory_on_the_same_data_dir_is_refused_or_stands_by_until_the_first_stops() {
    let mut stack = Stack::prepare(small());
    stack.start_daemon(OBSERVATORY_DAEMON);
    let pid = stack.pid(OBSERVATORY_DAEMON).unwrap();

    // --no-wait: refused at once, naming the holder.
    let mut settings = second_observatory(&stack, None);
    let PartySettings::Observatory(s) = &mut settings else { unreachable!() };
    s.metrics_addr = None;
    let config = stack.dir().join("observatory-same.toml");
    settings.write(&config).unwrap();
    let mut command = passerelle_command();
    command.args(["observatory", "run", "--no-wait", "--config"]).arg(&config);
    let output = run_within(command, EXIT_TIMEOUT);
    let said = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(TERRITORY_HELD), "{said}");
    let data_dir = stack.observatory_data_dir();
    assert!(said.contains("territory held by another observatory"), "{said}");
    assert!(said.contains(&format!("the data_dir {} is in use by another observatory", data_dir.display())), "{said}");
    assert!(said.contains(&format!("pid {pid}")) && said.contains("observatory carsat-sud-est on host"), "{said}");

    // Without it: a warm standby, which takes over when the first stops.
    stack.add_daemon("standby", second_observatory(&stack, None));
    stack.spawn_daemon("standby");
    let report = wait_for_phase(&stack, "standby", "standing_by", START_TIMEOUT);
    assert_eq!(report["healthy"], false, "{report}");
    assert!(report["reasons"][0].as_str().unwrap().contains(&format!("pid {pid}")), "{report}");
    let log = stack.log("standby");
    assert!(log.contains("standing by: another observatory holds this data_dir's lock"), "{log}");
    stack.stop(OBSERVATORY_DAEMON);
    stack.wait_healthy("standby");
}

#[test]
fn a_second_observatory_of_the_territory_stands_by_while_the_first_completes_a_case() {
    let mut stack = Stack::start(small());
    let pid = stack.pid(OBSERVATORY_DAEMON).unwrap();
    let other_dir = stack.dir().join("observatory-2");
    stack.add_daemon("observatory-2", second_observatory(&stack, Some(&other_dir)));
    stack.spawn_daemon("observatory-2");
    let report = wait_for_phase(&stack, "observatory-2", "standing_by", START_TIMEOUT);
    let reason = report["reasons"][0].as_str().unwrap();
    assert!(
        reason.contains(&format!("pid {pid}")) && reason.contains("observatory carsat-sud-est on host"),
        "{report}"
    );
    let log = stack.log("observatory-2");
    assert!(log.contains("standing by: another observatory holds this territory's lock"), "{log}");
    assert!(!other_dir.join("observatory.db").exists(), "a standby opens no store");

    let case = stack.submit_selection("10m");
    let status = stack.wait_settled(&case, CASE_TIMEOUT);
    assert_eq!(status["case"]["state"], "answered", "{status}");
    assert_eq!(stack.dead_letter_count(), 0, "no response went to the second observatory");
    assert!(stack.is_running("observatory-2"));
    wait_for_phase(&stack, "observatory-2", "standing_by", Duration::ZERO);

    // The first dies: the standby takes the territory.
    stack.kill(OBSERVATORY_DAEMON);
    stack.wait_healthy("observatory-2");
    let log = stack.log("observatory-2");
    assert!(log.contains("territory lock taken"), "{log}");
}

#[test]
fn an_observatory_that_lost_its_territory_while_disconnected_exits_with_code_5() {
    if support::amqp_url().starts_with("amqps") {
        eprintln!("SKIPPED: the proxy of this test carries plain AMQP only");
        return;
    }
    let mut stack = Stack::prepare(small());
    let proxy = crate::support::proxy::BrokerProxy::start(stack.url());
    let through = proxy.url.clone();
    stack.edit_settings(OBSERVATORY_DAEMON, |s| s.broker_mut().urls = vec![through]);
    stack.start_daemon(OBSERVATORY_DAEMON);
    let other_dir = stack.dir().join("observatory-2");
    let mut second = second_observatory(&stack, Some(&other_dir));
    second.broker_mut().urls = vec![stack.url().to_owned()];
    stack.add_daemon("observatory-2", second);
    stack.spawn_daemon("observatory-2");
    wait_for_phase(&stack, "observatory-2", "standing_by", START_TIMEOUT);

    // The first loses the broker; the standby takes the territory meanwhile.
    proxy.cut();
    stack.wait_healthy("observatory-2");
    // Back, the first finds the territory taken: it stops rather than consume beside it.
    proxy.restore();
    let status = stack.wait_exit(OBSERVATORY_DAEMON, EXIT_TIMEOUT);
    let log = stack.log(OBSERVATORY_DAEMON);
    assert_eq!(status.code(), Some(TERRITORY_HELD), "{log}");
    assert!(log.contains("another observatory took this territory's lock while this one was disconnected"), "{log}");
    let pid = stack.pid("observatory-2").unwrap();
    assert!(log.contains(&format!("pid {pid}")), "the log names the new holder: {log}");
    assert!(stack.is_running("observatory-2"));
}

/// `ctl status` over a management API (a stand-in: the test broker need not run the plugin)
/// whose consumers show a second observatory connection and a consumer on the dead-letters.
#[test]
fn ctl_status_flags_consumers_where_none_should_be() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("observatory");
    super::ctl::observatory_store(&data_dir);
    let config = super::ctl::settings_file(dir.path(), &data_dir);
    let _api = crate::support::serve_observatory(&config);
    let (url, server) = super::ctl::fake_management_api(
        r#"[{"name":"pp.observatory.carsat-sud-est.requests","messages_ready":0,"messages_unacknowledged":0,"consumers":2},
            {"name":"pp.observatory.carsat-sud-est.responses","messages_ready":0,"messages_unacknowledged":0,"consumers":8},
            {"name":"pp.body.cnam.solicitations","messages_ready":0,"messages_unacknowledged":0,"consumers":1},
            {"name":"pp.dead-letters","messages_ready":4,"messages_unacknowledged":0,"consumers":1}]"#,
        r#"[{"queue":{"name":"pp.observatory.carsat-sud-est.requests"},"channel_details":{"connection_name":"10.0.0.1:40000 -> 10.0.0.9:5671"}},
            {"queue":{"name":"pp.observatory.carsat-sud-est.requests"},"channel_details":{"connection_name":"10.0.0.2:40000 -> 10.0.0.9:5671"}},
            {"queue":{"name":"pp.observatory.carsat-sud-est.responses"},"channel_details":{"connection_name":"10.0.0.1:40000 -> 10.0.0.9:5671"}},
            {"queue":{"name":"pp.body.cnam.solicitations"},"channel_details":{"connection_name":"10.0.0.3:40000 -> 10.0.0.9:5671"}},
            {"queue":{"name":"pp.dead-letters"},"channel_details":{"connection_name":"10.0.0.4:40000 -> 10.0.0.9:5671"}}]"#,
    );
    let output = super::ctl::ctl_status(&config, &["--json", "--management-url", &url]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    server.join().unwrap();
    let s: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let flagged = s["queues"]["unexpected_consumers"].as_array().unwrap();
    let names: Vec<&str> = flagged.iter().filter_map(|f| f["queue"].as_str()).collect();
    assert_eq!(
        names,
        ["pp.observatory.carsat-sud-est.requests", "pp.observatory.carsat-sud-est.responses", "pp.dead-letters"],
        "{flagged:?}"
    );
    assert_eq!(flagged[0]["connections"].as_array().unwrap().len(), 2, "{flagged:?}");
    assert!(flagged[0]["reason"].as_str().unwrap().contains("one observatory per territory"), "{flagged:?}");
    assert_eq!(flagged[2]["reason"], "nobody of the deployment consumes this queue");

    let (url, server) = super::ctl::fake_management_api(
        r#"[{"name":"pp.dead-letters","messages_ready":4,"messages_unacknowledged":0,"consumers":1}]"#,
        r#"[{"queue":{"name":"pp.dead-letters"},"channel_details":{"connection_name":"10.0.0.4:40000 -> 10.0.0.9:5671"}}]"#,
    );
    let output = super::ctl::ctl_status(&config, &["--management-url", &url]);
    server.join().unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains("Unexpected consumers:\n  ! pp.dead-letters: 1 consumer(s): nobody of the deployment consumes this queue\n      on 10.0.0.4:40000 -> 10.0.0.9:5671"),
        "{text}"
    );
}
