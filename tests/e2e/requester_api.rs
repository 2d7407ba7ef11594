//! `requester submit`, `status`, `fetch` and `purge` as clients of a running requester daemon
//! (`requester run`) over RabbitMQ, with a real observatory and responders: the daemon's
//! registry maps the test's account to a prevention agent of the office, so it submits,
//! follows and fetches — the result file written by the CLI, 0600 under umask 000 — and is
//! refused the purge (exit 6), which is the requester administrator's.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

use crate::support::stack::{self, Stack, StackOptions, CASE_TIMEOUT, REQUESTER_DAEMON, WANT};

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

/// `passerelle ARGS…` under umask 000 (`exec`: the same process).
fn under_umask_000(args: &[&str]) -> Output {
    std::process::Command::new("sh")
        .args(["-c", "umask 000; exec \"$0\" \"$@\"", env!("CARGO_BIN_EXE_passerelle")])
        .args(args)
        .env_remove("PASSERELLE_LOG_FORMAT")
        .output()
        .unwrap()
}

#[test]
fn an_agent_submits_follows_and_fetches_through_the_requester_daemon_and_may_not_purge() {
    if !crate::support::broker_reachable_or_skip(&crate::support::amqp_url()) {
        return;
    }
    let mut stack = Stack::start(StackOptions { persons: 20, chunk_size: 20, ..StackOptions::default() });
    let config = stack.config(REQUESTER_DAEMON);
    let config_s = config.to_str().unwrap().to_owned();

    // submit --detach, then status until answered (both through the daemon's API).
    let case = stack.submit_selection("10m");
    let settled = stack.wait_settled(&case, CASE_TIMEOUT);
    assert_eq!(settled["format"], "passerelle.requester-case/1");
    assert_eq!(settled["case"]["state"], "answered", "{settled}");

    // fetch: the daemon streams, this account writes, 0600 whatever the umask.
    let out = stack.dir().join("agent").join("result");
    let o = under_umask_000(&["requester", "fetch", &case, "--config", &config_s, "--out", out.to_str().unwrap()]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", text(&o));
    for file in ["result.csv", "result.jsonl", "result.summary.json"] {
        assert_eq!(mode(&stack.dir().join("agent").join(file)), 0o600, "{file}");
    }
    let rows = crate::support::read_jsonl(&stack.dir().join("agent").join("result.jsonl"));
    assert!(!rows.is_empty(), "the contact list has rows");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(stack.dir().join("agent").join("result.summary.json")).unwrap()).unwrap();
    assert!(
        summary["files"].as_array().unwrap().iter().all(|f| f.as_str().unwrap().starts_with(out.to_str().unwrap())),
        "the summary names the files written here: {summary}"
    );

    // person: one row of the list, as the JSON Lines file gives it; the NIR from stdin too.
    let nir = rows[0]["selection"]["nir"].as_str().expect("the selection's nir column").to_owned();
    let o = under_umask_000(&["requester", "person", "--config", &config_s, "--case", &case, "--nir", &nir, "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let person: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(person["format"], "passerelle.requester-person/1");
    for key in ["rank", "score", "line", "selection", "categories", "status"] {
        assert_eq!(person[key], rows[0][key], "{key}");
    }
    let mut piped = std::process::Command::new(env!("CARGO_BIN_EXE_passerelle"))
        .args(["requester", "person", "--config", &config_s, "--case", &case, "--nir", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut piped.stdin.take().unwrap(), format!("{nir}\n").as_bytes()).unwrap();
    let o = piped.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains(&format!("case {case}")), "{}", text(&o));
    let o = under_umask_000(&["requester", "person", "--config", &config_s, "--case", &case, "--nir", "1840575123"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(!text(&o).contains("1840575123"), "a malformed NIR is not repeated: {}", text(&o));

    // A submit that waits: the consolidated result written here, where --out says.
    let waited = stack.dir().join("agent").join("waited.csv");
    let o = under_umask_000(&[
        "requester",
        "submit",
        "--config",
        &config_s,
        "--selection",
        stack.selection().to_str().unwrap(),
        "--want",
        WANT,
        "--service",
        "prevention-workshop",
        "--purpose",
        "Atelier prévention des chutes",
        "--respond-by",
        "10m",
        "--out",
        waited.to_str().unwrap(),
    ]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", text(&o));
    assert_eq!(mode(&waited), 0o600);
    assert!(!stack.dir().join("agent").join("waited.jsonl").exists(), "--out .csv writes CSV only");
    assert!(std::fs::read_to_string(&waited).unwrap().lines().count() > 1, "the ranked list has rows");

    // purge is the requester administrator's: refused, exit 6, said.
    let o = under_umask_000(&["requester", "purge", "--config", &config_s]);
    assert_eq!(o.status.code(), Some(6), "{}", text(&o));
    assert!(text(&o).contains("needs the role requester-admin"), "{}", text(&o));
    assert!(stack::REQUESTER_AGENT_ROLE == "prevention-agent");
}
