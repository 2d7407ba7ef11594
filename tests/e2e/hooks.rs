//! The development hooks across processes: a settable clock and named fault points are honoured
//! by the real daemons under `profile = "development"` — announced in their log and in
//! `/health` — and refused under any other profile (exit 3, the setting named). A fault point
//! stops a daemon abruptly between its commit and its publish, and the case still completes
//! once it is started again: nothing is lost.

use crate::support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use passerelle_bus::BusSettings;
use passerelle_hooks::{DevelopmentSettings, Profile, FAULT_EXIT_CODE};
use passerelle_party::{Deployment, PartySettings};
use support::stack::{http_get, Stack, StackOptions, CASE_TIMEOUT, OBSERVATORY, OBSERVATORY_DAEMON};

/// The observatory's clock offset: far beyond the flow's own seconds, within one calendar year
/// of the system clock's date on most days, and short of every deadline the test gives.
const CLOCK_OFFSET_S: i64 = 6 * 3600;

/// How long a daemon has to reach its fault point once the case is submitted.
const FAULT_TIMEOUT: Duration = Duration::from_secs(120);

const OBSERVATORY_FAULT: &str = "observatory.after_commit_before_publish";
const RESPONDER_FAULT: &str = "responder.after_answer_before_publish";

/// The responder stopped by its fault point.
const FAULTY_BODY: &str = "cnam";

fn development(clock_offset_s: Option<i64>, fault_points: &[&str]) -> DevelopmentSettings {
    DevelopmentSettings { clock_offset_s, fault_points: fault_points.iter().map(|p| (*p).to_owned()).collect() }
}

#[test]
fn hooks_are_refused_outside_the_development_profile_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let bodies = vec!["cnam".to_owned()];
    let deployment = Deployment::new(dir.path(), &BusSettings::default(), OBSERVATORY, &bodies, ("cnaf", "caf-13"));
    for (i, mut party) in deployment.parties().into_iter().enumerate() {
        let (hooks, key) = if i % 2 == 0 {
            (development(Some(60), &[]), "development.clock_offset_s")
        } else {
            (development(None, &[OBSERVATORY_FAULT]), "development.fault_points")
        };
        party.set_development(Profile::Production, hooks);
        let config = dir.path().join(format!("{i}.toml"));
        party.write(&config).unwrap();
        let out = support::passerelle()
            .args([party.kind().command(), "run", "--config"])
            .arg(&config)
            .env_remove("PASSERELLE_LOG_FORMAT")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{}: invalid settings: {stderr}", party.name());
        assert!(stderr.contains(key) && stderr.contains("profile = \"development\""), "{}: {stderr}", party.name());
    }
    // An unknown fault point is refused even in development.
    let mut observatory = PartySettings::Observatory(deployment.observatory.clone());
    observatory.set_development(Profile::Development, development(None, &["observatory.nowhere"]));
    let config = dir.path().join("unknown.toml");
    observatory.write(&config).unwrap();
    let out = support::passerelle().args(["observatory", "run", "--config"]).arg(&config).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("observatory.nowhere"));
}

#[test]
fn the_clock_offset_and_the_fault_points_work_across_processes_and_nothing_is_lost() {
    if !support::broker_reachable_or_skip(&support::amqp_url()) {
        return;
    }
    let mut stack = Stack::prepare(StackOptions { persons: 100, chunk_size: 50, ..StackOptions::default() });
    stack.edit_settings(OBSERVATORY_DAEMON, |s| {
        s.set_development(Profile::Development, development(Some(CLOCK_OFFSET_S), &[OBSERVATORY_FAULT]))
    });
    stack
        .edit_settings(FAULTY_BODY, |s| s.set_development(Profile::Development, development(None, &[RESPONDER_FAULT])));
    for daemon in stack.daemon_names() {
        stack.start_daemon(&daemon);
    }

    // Announced at the start, in the log and in /health.
    let (status, health) = http_get(stack.health_addr(OBSERVATORY_DAEMON), "/health").unwrap();
    assert_eq!(status, 200, "{health}");
    assert!(health.contains(&format!("{CLOCK_OFFSET_S} s off the system clock")), "{health}");
    assert!(health.contains(OBSERVATORY_FAULT), "{health}");
    assert!(stack.log(OBSERVATORY_DAEMON).contains(OBSERVATORY_FAULT), "a warning at start");
    let (_, health) = http_get(stack.health_addr(FAULTY_BODY), "/health").unwrap();
    assert!(health.contains(RESPONDER_FAULT), "{health}");
    let (_, health) = http_get(stack.health_addr("cnav"), "/health").unwrap();
    assert!(health.contains("\"announcements\":[]"), "a production party announces nothing: {health}");

    // The observatory stores the request and its solicitations, then stops before publishing.
    let case = stack.submit_selection("1d");
    let exit = stack.wait_exit(OBSERVATORY_DAEMON, FAULT_TIMEOUT);
    assert_eq!(exit.code(), Some(FAULT_EXIT_CODE), "the observatory stopped at its fault point");
    // Started again without its fault point: the outbox goes out; the faulty responder answers
    // a chunk and stops before publishing it.
    stack.edit_settings(OBSERVATORY_DAEMON, |s| {
        s.set_development(Profile::Development, development(Some(CLOCK_OFFSET_S), &[]))
    });
    stack.start_daemon(OBSERVATORY_DAEMON);
    // Its clock is the offset one: the request it stored before its fault point is dated hours
    // ahead (read through its API, once it runs again).
    let received = stack
        .audit(Some(&case))
        .into_iter()
        .find(|e| e["action"] == "request_received")
        .expect("the observatory committed the request before its fault point");
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
    let ahead_s = (received["at_ms"].as_i64().unwrap() - now_ms) / 1000;
    assert!(
        ahead_s > CLOCK_OFFSET_S - 600 && ahead_s <= CLOCK_OFFSET_S,
        "dated {ahead_s} s ahead, not {CLOCK_OFFSET_S}"
    );

    let exit = stack.wait_exit(FAULTY_BODY, FAULT_TIMEOUT);
    assert_eq!(exit.code(), Some(FAULT_EXIT_CODE), "the responder stopped at its fault point");
    stack.edit_settings(FAULTY_BODY, |s| s.set_development(Profile::Production, DevelopmentSettings::default()));
    stack.start_daemon(FAULTY_BODY);

    // Nothing was lost: the whole result, every body's answer in it.
    let settled = stack.wait_settled(&case, CASE_TIMEOUT);
    assert_eq!(settled["case"]["state"], "answered", "{settled}");
    assert_eq!(settled["case"]["completeness"], "complete", "{settled}");
    let rows = stack.fetch(&case);
    let check = stack.expected().check(&rows, &[]);
    assert!(check.adds_up(), "{check:?}");
    let (_, health) = http_get(stack.health_addr(FAULTY_BODY), "/health").unwrap();
    assert!(health.contains("\"announcements\":[]"), "back in production, nothing announced: {health}");
}
