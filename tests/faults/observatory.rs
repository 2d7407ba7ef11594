//! Scenario 1: the observatory killed (`kill -9`) at random moments of a 10,000-person case,
//! restarted each time. All its state is in its SQLite store (transactional outbox and inbox),
//! every delivery is acked only after its commit, so the final result must hold every person
//! exactly once with every value the bodies gave, and no valid message may be dead-lettered.
//!
//! The moments: after each restart the test lets the observatory run for a random time (at most
//! [`MAX_RUN_BEFORE_KILL`], seed printed) before killing it again. So that at least
//! [`HELD_KILLS`] kills land while the case is open whatever the machine's speed, the `msa`
//! responder starts only after them (until then the case cannot complete: the observatory takes
//! in the request, solicits, collects `cnam`'s and `cnav`'s answers, and waits); then
//! [`FREE_KILLS`] more kills are tried at random moments of the rest (the `msa` answers, the
//! aggregation, the result chunks, the receipt), each only while the case is still unanswered.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::support::stack::{FaultRng, Stack, StackOptions, CASE_TIMEOUT, OBSERVATORY_DAEMON, REQUESTER_DAEMON};
use crate::{
    assert_audit_verifies, assert_no_dead_letters, assert_no_nir_logged, assert_result_adds_up, LONG_DEADLINE,
};

/// Persons of the case.
const PERSONS: u64 = 10_000;
/// Persons per chunk: 40 request chunks, 40 solicitation chunks per body, 40 result chunks —
/// many more moments to be killed in than the default 1,000.
const CHUNK_SIZE: usize = 250;
/// Kills while `msa` is held back (the case cannot complete before they are all done).
const HELD_KILLS: usize = 5;
/// Kills tried once `msa` runs, each only while the case is unanswered.
const FREE_KILLS: usize = 3;
/// The longest the observatory runs between a restart and the next kill.
const MAX_RUN_BEFORE_KILL: Duration = Duration::from_millis(1_500);
/// How often the observatory's metrics are read while it runs (to see it make progress).
const WATCH: Duration = Duration::from_millis(20);

/// What the observatory's `/metrics` says about its work: a change means progress.
fn progress(stack: &Stack) -> Option<BTreeMap<String, f64>> {
    let e = stack.metrics(OBSERVATORY_DAEMON)?;
    Some(
        e.samples
            .into_iter()
            .filter(|(k, _)| {
                k.starts_with("passerelle_observatory_cases{")
                    || k.starts_with("passerelle_observatory_solicitation_chunks_pending")
                    || k.starts_with("passerelle_observatory_outbox_messages")
                    || k.starts_with("passerelle_observatory_persons_accepted")
                    || k.starts_with("passerelle_observatory_audit_entries")
            })
            .collect(),
    )
}

/// The case states the observatory reports (`state` → cases), for the log of each kill.
fn stage(snapshot: &BTreeMap<String, f64>) -> String {
    let states: Vec<String> = snapshot
        .iter()
        .filter(|(k, v)| k.starts_with("passerelle_observatory_cases{") && **v > 0.0)
        .map(|(k, v)| format!("{}={v}", k.split('"').nth(1).unwrap_or(k)))
        .collect();
    let outbox = snapshot.get("passerelle_observatory_outbox_messages").copied().unwrap_or(0.0);
    let pending: f64 = snapshot
        .iter()
        .filter(|(k, _)| k.starts_with("passerelle_observatory_solicitation_chunks_pending"))
        .map(|(_, v)| v)
        .sum();
    format!("cases [{}], outbox {outbox}, solicitation chunks pending {pending}", states.join(", "))
}

/// Lets the observatory run for a random time, watching its metrics; returns the last snapshot
/// and how long after the start its metrics first changed (its first progress), if they did.
fn run_for(stack: &Stack, rng: &mut FaultRng) -> (BTreeMap<String, f64>, Option<Duration>) {
    let started = Instant::now();
    let run = rng.duration(MAX_RUN_BEFORE_KILL);
    let first = progress(stack).unwrap_or_default();
    let (mut last, mut moved) = (first.clone(), None);
    // Not a synchronisation: the fault's random moment, with the metrics read meanwhile.
    while started.elapsed() < run {
        std::thread::sleep(WATCH);
        if let Some(now) = progress(stack) {
            if moved.is_none() && now != first {
                moved = Some(started.elapsed());
            }
            last = now;
        }
    }
    (last, moved)
}

#[test]
#[ignore = "fault injection: kills the observatory process again and again (run with the fault targets)"]
fn observatory_killed_at_random_moments_loses_nothing() {
    let test = "observatory_kill_9";
    let mut rng = FaultRng::from_env(test);
    let mut stack =
        Stack::prepare(StackOptions { persons: PERSONS, chunk_size: CHUNK_SIZE, ..StackOptions::default() });
    for daemon in [OBSERVATORY_DAEMON, "cnam", "cnav", REQUESTER_DAEMON] {
        stack.start_daemon(daemon);
    }
    let case = stack.submit_selection(LONG_DEADLINE);
    let submitted = Instant::now();

    let mut kills = 0usize;
    let mut restarts = Vec::new();
    let mut first_progress = Vec::new();
    let mut kill = |stack: &mut Stack, rng: &mut FaultRng, kills: &mut usize| {
        let (snapshot, moved) = run_for(stack, rng);
        if let Some(m) = moved {
            first_progress.push(m);
        }
        stack.kill(OBSERVATORY_DAEMON);
        *kills += 1;
        let restart = stack.start_daemon(OBSERVATORY_DAEMON);
        eprintln!(
            "{test}: kill -9 #{kills} at {:.2} s after submit ({}); first progress after the previous start: {}; \
             restarted healthy in {:.0} ms",
            submitted.elapsed().as_secs_f64(),
            stage(&snapshot),
            moved.map_or("none seen".to_owned(), |m| format!("{:.0} ms", m.as_secs_f64() * 1000.0)),
            restart.as_secs_f64() * 1000.0
        );
        restarts.push(restart);
    };
    for _ in 0..HELD_KILLS {
        kill(&mut stack, &mut rng, &mut kills);
        assert_ne!(stack.case_state(&case), "answered", "{test}: msa is held back, the case cannot be answered yet");
    }
    stack.start_daemon("msa");
    for _ in 0..FREE_KILLS {
        if stack.case_state(&case) == "answered" {
            break;
        }
        kill(&mut stack, &mut rng, &mut kills);
    }
    stack.wait_settled(&case, CASE_TIMEOUT);
    eprintln!("{test}: case answered {:.1} s after submit, {kills} kills", submitted.elapsed().as_secs_f64());
    assert!(kills >= HELD_KILLS, "{test}: at least {HELD_KILLS} kills mid-case");

    assert_result_adds_up(&stack, &case, &[], test);
    stack.wait_purged(&case, Duration::from_secs(120));
    assert_no_dead_letters(&stack, test);
    assert_audit_verifies(&stack, test);
    assert_no_nir_logged(&stack, test);
    let audit = stack.audit(Some(&case));
    let dead = audit.iter().filter(|e| e["action"] == "dead_letter").count();
    assert_eq!(dead, 0, "{test}: the audit trail records no dead letter for the case");

    let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
    let max = |v: &[Duration]| v.iter().map(ms).fold(0.0, f64::max);
    let mean = |v: &[Duration]| v.iter().map(ms).sum::<f64>() / v.len().max(1) as f64;
    eprintln!(
        "{test}: FIGURES kills {kills}; restart to healthy mean {:.0} ms, max {:.0} ms; start to first progress \
         (seen {} times) mean {:.0} ms, max {:.0} ms",
        mean(&restarts),
        max(&restarts),
        first_progress.len(),
        mean(&first_progress),
        max(&first_progress)
    );
    for daemon in stack.daemon_names() {
        stack.stop(&daemon);
    }
}
