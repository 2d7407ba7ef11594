//! The trails anchored at their witnesses, over RabbitMQ, with the real daemons: each daemon's
//! access log is checkpointed to its witness (the observatory for the requester and the
//! responders, `cnam` for the observatory) and `access-log verify` checks it against every
//! checkpoint the witness holds; a witness down for a while gets the checkpoints from its queue
//! when it is back, and `verify` says meanwhile what is covered; an access log truncated together
//! with its head row behind the daemon's back passes its own check but not the witness's.

use std::process::Output;
use std::time::{Duration, Instant};

use crate::support::stack::{Stack, StackOptions, CASE_TIMEOUT, OBSERVATORY_DAEMON, REQUESTER_DAEMON};

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// `access-log <command> --daemon <kind> --config <daemon's settings>` and its output.
fn access_log(stack: &Stack, daemon: &str, kind: &str, args: &[&str]) -> Output {
    crate::support::passerelle()
        .arg("access-log")
        .args(args)
        .args(["--daemon", kind, "--config"])
        .arg(stack.config(daemon))
        .output()
        .unwrap()
}

/// `access-log verify --json`: the report and the exit code.
fn verify(stack: &Stack, daemon: &str, kind: &str) -> (serde_json::Value, Option<i32>) {
    let out = access_log(stack, daemon, kind, &["verify", "--json"]);
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    (report, out.status.code())
}

fn this_year(report: &serde_json::Value) -> serde_json::Value {
    report["years"].as_array().and_then(|y| y.last().cloned()).unwrap_or_else(|| panic!("no year: {report}"))
}

/// Waits until the daemon's access log is wholly covered by witnessed checkpoints.
fn wait_covered(stack: &Stack, daemon: &str, kind: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (report, code) = verify(stack, daemon, kind);
        let year = this_year(&report);
        if code == Some(0)
            && report["witness_answered"] == true
            && year["not_yet_covered"] == 0
            && year["entries"].as_u64() > Some(0)
        {
            return report;
        }
        assert!(
            Instant::now() < deadline,
            "the {daemon}'s access log was never wholly witnessed: {report}\n{}",
            stack.log_tails(20)
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn every_daemons_access_log_is_witnessed_and_a_cut_behind_its_back_is_found() {
    let options = StackOptions { persons: 40, checkpoint_interval_s: 1, ..StackOptions::default() };
    let mut stack = Stack::start(options);

    // A case through every daemon, an agent fetching its contact list and looking one person up.
    let case = stack.submit_selection("10m");
    stack.wait_settled(&case, CASE_TIMEOUT);
    assert!(!stack.fetch(&case).is_empty());
    let nirs: Vec<String> =
        crate::support::nirs_of_selection(&stack.selection()).into_iter().map(|(nir, _)| nir).collect();
    let person = crate::support::passerelle()
        .args(["requester", "person", "--json", "--case", &case, "--nir", &nirs[0], "--config"])
        .arg(stack.config(REQUESTER_DAEMON))
        .output()
        .unwrap();
    assert!(matches!(person.status.code(), Some(0 | 2)), "{}", text(&person));
    let requester = stack.settings(REQUESTER_DAEMON).data_dir().to_owned();
    let entries = crate::support::access_entries(&requester);
    let by = |agent: &str, kind: &str| entries.iter().filter(|e| e.agent == agent && e.kind.as_str() == kind).count();
    assert!(by("agent:agent-0042", "create") >= 1 && by("agent:agent-0042", "export") >= 1, "{entries:?}");
    assert!(by("daemon:requester", "create") >= 1, "the result chunks stored: {entries:?}");
    let about_persons: Vec<_> = entries.iter().filter(|e| e.concerns_person).collect();
    assert!(about_persons.len() <= 1, "one person looked up, at most one entry about a person: {entries:?}");
    let observatory = crate::support::access_entries(stack.settings(OBSERVATORY_DAEMON).data_dir());
    assert!(
        observatory.iter().any(|e| e.agent == "daemon:observatory" && e.kind.as_str() == "transfer"),
        "{observatory:?}"
    );
    let cnav = crate::support::access_entries(stack.settings("cnav").data_dir());
    assert!(cnav.iter().any(|e| e.agent == "daemon:responder" && e.kind.as_str() == "export"), "{cnav:?}");
    // No NIR in clear in any access log (nor its WAL), whatever the daemon.
    for daemon in stack.daemon_names() {
        let dir = stack.settings(&daemon).data_dir().to_owned();
        let logs = tempfile::tempdir().unwrap();
        for file in std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .filter(|f| f.file_name().to_string_lossy().starts_with("access.db"))
        {
            std::fs::copy(file.path(), logs.path().join(file.file_name())).unwrap();
        }
        let (scanned, hits) = crate::support::scan_for(logs.path(), &nirs);
        assert!(scanned >= 1 && hits.is_empty(), "{daemon}: {hits:?}");
    }

    // Each show is a read recorded in the log it shows: there is something to witness.
    for (daemon, kind) in [(REQUESTER_DAEMON, "requester"), (OBSERVATORY_DAEMON, "observatory"), ("cnav", "responder")]
    {
        let shown = access_log(&stack, daemon, kind, &["show", "--json"]);
        assert!(shown.status.success(), "{}", text(&shown));
        let report = wait_covered(&stack, daemon, kind);
        let witness = if daemon == OBSERVATORY_DAEMON { "cnam" } else { "carsat-sud-est" };
        assert_eq!(report["witness"], witness, "{report}");
        assert_eq!(report["intact"], true, "{report}");
    }
    let entries = String::from_utf8(access_log(&stack, REQUESTER_DAEMON, "requester", &["show"]).stdout).unwrap();
    assert!(
        entries.contains("agent:agent-0042") && entries.contains(" read ") && entries.contains("access-log"),
        "{entries}"
    );

    // The witness down: the requester's checkpoints wait in its queue; verify says what is
    // covered and that the witness is silent.
    stack.stop(OBSERVATORY_DAEMON);
    for _ in 0..3 {
        assert!(access_log(&stack, REQUESTER_DAEMON, "requester", &["show"]).status.success());
    }
    let (silent, code) = verify(&stack, REQUESTER_DAEMON, "requester");
    assert_eq!(silent["witness_answered"], false, "{silent}");
    assert!(silent["witness_problem"].as_str().unwrap_or("").contains("did not answer"), "{silent}");
    assert_eq!(code, Some(0), "its own chain holds: {silent}");
    assert_eq!(this_year(&silent)["covered"], 0, "nothing counts as witnessed without the witness: {silent}");
    stack.start_daemon(OBSERVATORY_DAEMON);
    let back = wait_covered(&stack, REQUESTER_DAEMON, "requester");
    let covered = this_year(&back)["covered"].as_u64().unwrap();
    assert!(covered >= 4, "the reads made while the witness was down are covered once it is back: {back}");

    // Truncated together with its head row while the requester is stopped: its own check
    // cannot see it, the witness's checkpoints do.
    stack.stop(REQUESTER_DAEMON);
    let file = stack.settings(REQUESTER_DAEMON).data_dir().join("access.db");
    let db = passerelle_sqlite::testing::raw_connection(&file).unwrap();
    let year: i64 = db.query_row("SELECT MAX(year) FROM access_entry", [], |r| r.get(0)).unwrap();
    let keep = covered as i64 - 2;
    let hash: Vec<u8> =
        db.query_row("SELECT hash FROM access_entry WHERE year = ?1 AND seq = ?2", [year, keep], |r| r.get(0)).unwrap();
    db.execute("DELETE FROM access_person WHERE year = ?1 AND seq > ?2", [year, keep]).unwrap();
    db.execute("DELETE FROM access_entry WHERE year = ?1 AND seq > ?2", [year, keep]).unwrap();
    db.execute("UPDATE access_head SET count = ?1, hash = ?2 WHERE year = ?3", rusqlite::params![keep, hash, year])
        .unwrap();
    drop(db);
    stack.start_daemon(REQUESTER_DAEMON);
    let (report, code) = verify(&stack, REQUESTER_DAEMON, "requester");
    assert_eq!(code, Some(1), "{report}");
    let findings = this_year(&report)["findings"].to_string();
    assert!(findings.contains(&format!("ends at entry {year}#{keep}")) && findings.contains("cut off"), "{report}");
    let human = text(&access_log(&stack, REQUESTER_DAEMON, "requester", &["verify"]));
    assert!(human.contains("DOES NOT VERIFY") && human.contains("cut off"), "{human}");
    // The witness refused the restarted daemon's checkpoint of the shorter chain: counted, logged.
    let deadline = Instant::now() + Duration::from_secs(30);
    while stack.metric(REQUESTER_DAEMON, "passerelle_trails_checkpoints_refused_total").unwrap_or(0.0) < 1.0 {
        assert!(
            Instant::now() < deadline,
            "no refusal counted: {:?}\n{}",
            stack.metrics(REQUESTER_DAEMON),
            stack.log_tails(30)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(stack.log(REQUESTER_DAEMON).contains("the witness REFUSED a checkpoint"), "{}", stack.log_tails(30));
}

#[test]
fn a_year_is_dropped_only_through_a_witnessed_year_closed_checkpoint_five_years_on() {
    let options = StackOptions { persons: 40, checkpoint_interval_s: 1, ..StackOptions::default() };
    let mut stack = Stack::start(options);
    assert!(access_log(&stack, REQUESTER_DAEMON, "requester", &["show"]).status.success());
    let before = wait_covered(&stack, REQUESTER_DAEMON, "requester");
    let year = this_year(&before)["year"].as_i64().unwrap() as i32;

    // Both the requester and its witness five years on (2 January of year + 5, the legal
    // calendar's new year passed in every French zone): the year's retention has run.
    let now = chrono::Utc::now();
    let later = chrono::NaiveDate::from_ymd_opt(year + 5, 1, 2).unwrap().and_hms_opt(12, 0, 0).unwrap().and_utc();
    let offset = (later - now).num_seconds();
    for daemon in [REQUESTER_DAEMON, OBSERVATORY_DAEMON, "cnam"] {
        stack.stop(daemon);
        stack.edit_settings(daemon, |s| {
            s.set_development(
                passerelle_hooks::Profile::Development,
                passerelle_hooks::DevelopmentSettings { clock_offset_s: Some(offset), fault_points: vec![] },
            )
        });
    }
    stack.start_daemon(OBSERVATORY_DAEMON);
    stack.start_daemon("cnam");
    stack.start_daemon(REQUESTER_DAEMON);

    let deadline = Instant::now() + Duration::from_secs(60);
    let report = loop {
        let (report, code) = verify(&stack, REQUESTER_DAEMON, "requester");
        let closed = report["years"].as_array().unwrap().iter().find(|y| y["year"] == year).cloned();
        if let Some(closed) = closed.filter(|y| y["closed"] == true && y["entries"] == 0) {
            assert_eq!(code, Some(0), "a year dropped through its witnessed year-closed checkpoint verifies: {report}");
            assert!(closed["findings"].as_array().unwrap().is_empty(), "{report}");
            break report;
        }
        assert!(
            Instant::now() < deadline,
            "the year {year} was never closed and dropped: {report}\n{}",
            stack.log_tails(20)
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    let shown = access_log(&stack, REQUESTER_DAEMON, "requester", &["show", "--json", "--year", &year.to_string()]);
    assert!(shown.status.success() && shown.stdout.is_empty(), "no entry of {year} is left: {}", text(&shown));
    assert!(report["intact"] == true, "{report}");

    // The observatory's audit trail the same way, at its own witness (cnam): the year goes, and
    // the trail says so in the current year.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !stack.audit(None).iter().all(|e| e["year"].as_i64() > Some(i64::from(year))) {
        assert!(Instant::now() < deadline, "the audit year {year} was never dropped\n{}", stack.log_tails(20));
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(stack.audit(None).iter().any(|e| e["action"] == "audit_retention"), "the drop is in the trail");
    assert!(stack.audit_verifies(), "what remains verifies, against the witness too");
}
