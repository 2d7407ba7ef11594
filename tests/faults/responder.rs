//! Scenario 2: a responder killed mid-case.
//!
//! - Killed (`kill -9`) after it answered part of the case and restarted: its unacked
//!   solicitation chunks come back to it, the case completes, every person once.
//! - Killed before the case and kept down past the deadline: the observatory's timer returns a
//!   partial result on time, that body `no_answer` for every person and the others complete;
//!   once it is back, it answers the stale solicitations (late, recorded, not dead-lettered) and
//!   the next case completes.
//!
//! The deadline is a real one (`requester submit --respond-by`), noticed by the observatory's
//! timer every [`StackOptions::tick_ms`]: the observatory's validation only refuses a deadline
//! already passed or beyond the cap, so no fake clock is needed.

use std::time::{Duration, Instant};

use crate::support::stack::{eventually, FaultRng, Stack, StackOptions, CASE_TIMEOUT};
use crate::{
    assert_audit_verifies, assert_no_dead_letters, assert_no_nir_logged, assert_result_adds_up, LONG_DEADLINE,
};

/// The body killed.
const VICTIM: &str = "cnav";
/// Its metric of answered chunks.
const ANSWERED: &str = "passerelle_responder_chunks_answered_total{body=\"cnav\"}";

#[test]
#[ignore = "fault injection: kills a responder process mid-case (run with the fault targets)"]
fn responder_killed_mid_case_and_restarted_completes_the_case() {
    let test = "responder_kill_9";
    let mut rng = FaultRng::from_env(test);
    let mut stack = Stack::start(StackOptions { persons: 5_000, chunk_size: 250, ..StackOptions::default() });
    let case = stack.submit_selection(LONG_DEADLINE);
    // Mid-case: once it has answered a few of its 20 chunks (1 to 5, random: the metric is polled,
    // so a few more may be answered by the kill), never all.
    let after = 1 + rng.next_u64() % 5;
    eventually(&format!("{VICTIM} answered {after} chunks"), CASE_TIMEOUT, || {
        stack.metric(VICTIM, ANSWERED).unwrap_or(0.0) >= after as f64
    });
    let answered = stack.metric(VICTIM, ANSWERED).unwrap_or(0.0);
    stack.kill(VICTIM);
    let state = stack.case_state(&case);
    eprintln!("{test}: kill -9 {VICTIM} after {answered} chunks answered (case {state} at the requester)");
    assert_ne!(state, "answered", "{test}: the case cannot be complete without {VICTIM}");
    let restart = stack.start_daemon(VICTIM);
    let back = Instant::now();
    stack.wait_settled(&case, CASE_TIMEOUT);
    eprintln!(
        "{test}: FIGURES {VICTIM} restarted healthy in {:.0} ms; case answered {:.1} s after the restart",
        restart.as_secs_f64() * 1000.0,
        back.elapsed().as_secs_f64()
    );
    assert_result_adds_up(&stack, &case, &[], test);
    assert_no_dead_letters(&stack, test);
    assert_audit_verifies(&stack, test);
    assert_no_nir_logged(&stack, test);
    for daemon in stack.daemon_names() {
        stack.stop(&daemon);
    }
}

/// The deadline of the case the victim misses: long enough for the other bodies to answer on a
/// loaded machine, short enough for the suite.
const SHORT_DEADLINE: Duration = Duration::from_secs(20);

#[test]
#[ignore = "fault injection: keeps a responder down past a case's deadline (run with the fault targets)"]
fn responder_down_past_the_deadline_gives_a_partial_result_then_the_next_case_completes() {
    let test = "responder_down_past_deadline";
    let mut stack =
        Stack::start(StackOptions { persons: 2_000, chunk_size: 250, tick_ms: 100, ..StackOptions::default() });
    stack.kill(VICTIM);
    let submitted = Instant::now();
    let case = stack.submit_selection(&format!("{}s", SHORT_DEADLINE.as_secs()));
    let deadline = submitted + SHORT_DEADLINE;
    stack.wait_settled(&case, SHORT_DEADLINE + CASE_TIMEOUT);
    let settled = Instant::now();
    assert!(!stack.is_running(VICTIM), "{test}: {VICTIM} stayed down");
    eprintln!(
        "{test}: FIGURES partial result at the requester {:+.2} s from the deadline ({VICTIM} down, tick {} ms)",
        settled.saturating_duration_since(deadline).as_secs_f64()
            - deadline.saturating_duration_since(settled).as_secs_f64(),
        stack.options().tick_ms
    );
    assert_result_adds_up(&stack, &case, &[VICTIM], test);
    let reminders = stack.audit(Some(&case)).iter().filter(|e| e["action"] == "reminder").count();
    eprintln!("{test}: reminders sent for the case: {reminders}");

    // Back: it answers the stale solicitations (and their reminders) of the returned case, then
    // the next case completes.
    let restart = stack.start_daemon(VICTIM);
    let next = stack.submit_selection(LONG_DEADLINE);
    let back = Instant::now();
    stack.wait_settled(&next, CASE_TIMEOUT);
    eprintln!(
        "{test}: FIGURES {VICTIM} restarted healthy in {:.0} ms; next case answered {:.1} s after its submit",
        restart.as_secs_f64() * 1000.0,
        back.elapsed().as_secs_f64()
    );
    assert_result_adds_up(&stack, &next, &[], test);
    // The stale solicitations (and their reminders) were answered: recorded late, not dead-lettered.
    let late = || stack.audit(Some(&case)).iter().filter(|e| e["action"] == "late_response").count();
    eventually(&format!("{VICTIM}'s answers to the returned case recorded as late"), CASE_TIMEOUT, || late() > 0);
    eprintln!("{test}: late responses recorded in the audit trail for the first case: {}", late());
    assert_no_dead_letters(&stack, test);
    assert_audit_verifies(&stack, test);
    assert_no_nir_logged(&stack, test);
    for daemon in stack.daemon_names() {
        stack.stop(&daemon);
    }
}
