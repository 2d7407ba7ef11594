//! `passerelle social-service retention …` as real processes: the daemon (`social-service run`)
//! with a file whose action has been idle 100 days (written into its store by the test before it
//! starts), the test's account as a social worker of the office who is also an operator, then
//! as a statistics agent (the registry reloaded by SIGHUP). Exit codes 0 and 6, the help, the
//! outputs' formats.

use std::path::Path;
use std::process::Output;
use std::time::{Duration, SystemTime};

use passerelle_social_file::v1;
use passerelle_social_service::store::{NewFile, Store};
use passerelle_test_support::eventually_blocking;
use serde_json::Value;

use crate::social_daemon::{self, said};

const FILE: &str = "0190a3b4-0000-7000-8000-0000000000e1";

fn write_registry(root: &Path, id: &str, roles: &[&str]) {
    social_daemon::write_registry(root, id, roles, Some("ss-13"));
}

fn retention(config: &Path, args: &[&str]) -> Output {
    social_daemon::command(config, "retention", args)
}

/// A file of ss-13 whose open action saw its last activity 100 days ago.
fn idle_file(data_dir: &Path) {
    passerelle_sqlite::private::create_folder(data_dir).unwrap();
    let store = Store::open(data_dir).unwrap();
    let at = SystemTime::now() - Duration::from_secs(100 * 86_400);
    let file = v1::SocialFile::default();
    let new = NewFile {
        id: FILE,
        office: "ss-13",
        at,
        agent: "sw-1",
        file: &file,
        source_case: None,
        source_line: None,
        person: [5; 32],
    };
    assert!(store.insert_file(&new).unwrap());
    let action = v1::Action {
        action_id: "0190a3b4-0000-7000-8000-0000000000e2".into(),
        file_id: FILE.into(),
        purpose: 1,
        start: Some(v1::Date { year: 2024, month: 1, day: 2 }),
        ..Default::default()
    };
    assert!(store.start_action(&action, at).unwrap());
}

#[test]
fn a_worker_sees_the_idle_action_an_operator_runs_the_pass_a_statistics_agent_neither() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_registry(root, "sw-1", &["social-worker", "operator"]);
    idle_file(&root.join("data"));
    let (config, daemon) = social_daemon::start(root, &root.join("run").join("requester.sock"));

    let (code, help, _) = said(&retention(&config, &["flagged", "--help"]));
    assert_eq!(code, 0);
    assert!(help.contains("18 months") && help.contains("idle action") && help.contains("objection pending"), "{help}");

    let (code, out, err) = said(&retention(&config, &["flagged"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(FILE) && out.contains("an action idle since"), "{out}");
    let (code, out, err) = said(&retention(&config, &["flagged", "--json"]));
    assert_eq!(code, 0, "{err}");
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list["format"], "passerelle.social-service-retention-flagged/1");
    assert_eq!(
        (list["flagged"][0]["file"].as_str(), list["flagged"][0]["reason"].as_str()),
        (Some(FILE), Some("idle_action"))
    );

    let (code, out, err) = said(&retention(&config, &["run"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("archived 0") && out.contains("flagged 1 (1 idle"), "{out}");
    assert!(out.contains(&format!("idle action        {FILE}")), "{out}");
    let (code, out, err) = said(&retention(&config, &["run", "--json"]));
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["format"], "passerelle.social-service-retention/1");
    assert_eq!(report["flagged_idle"], serde_json::json!([FILE]));

    // A statistics agent: refused both (exit 6).
    write_registry(root, "stat-1", &["statistics-agent"]);
    let pid = rustix::process::Pid::from_raw(daemon.pid().expect("running") as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::HUP).unwrap();
    let (_, _, err) = eventually_blocking("stat-1's registry in force", Duration::from_secs(60), || {
        let o = said(&retention(&config, &["run"]));
        (o.0 == 6).then_some(o)
    });
    assert!(err.contains("operator") || err.contains("director-delegate"), "{err}");
    let (code, _, err) = said(&retention(&config, &["flagged"]));
    assert_eq!(code, 6, "{err}");
}
