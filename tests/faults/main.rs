//! The fault-injection suite of issue 9 (scenarios 1 to 3), over the real binary as separate
//! processes and the real RabbitMQ: the observatory killed (`kill -9`) again and again mid-case,
//! a responder killed or kept down past the deadline, the broker restarted and every
//! connection force-closed. Each test deploys a [`Stack`] in a vhost of its own and asserts
//! counts — every person of the selection exactly once in the result, with every value the
//! bodies' extracts hold, and nothing in the dead-letter queue — never timings: the recovery
//! times are measured and printed for `docs/RELIABILITY.md`.
//!
//! These tests kill processes and restart the broker, so they are ignored by the parallel suite
//! and run one at a time (`scripts/test` does):
//!
//! `cargo test --locked --test faults -- --ignored --test-threads=1 --nocapture`

#[path = "../support/mod.rs"]
mod support;

mod broker;
mod observatory;
mod responder;

use std::time::Duration;

use support::stack::{Stack, StackOptions, CASE_TIMEOUT};

/// The deadline of the cases that must complete by the answers: far beyond any run.
pub const LONG_DEADLINE: &str = "1h";

/// Asserts a settled case is complete and its result adds up: every person once, every value
/// the bodies hold, `silent` bodies `no_answer` for everyone; prints the figures. Returns the
/// number of persons in the result.
pub fn assert_result_adds_up(stack: &Stack, case: &str, silent: &[&str], test: &str) -> u64 {
    let status = stack.status(case).expect("the case is known to the requester");
    assert_eq!(status["case"]["state"], "answered", "{test}: {status}");
    let completeness = if silent.is_empty() { "complete" } else { "partial" };
    assert_eq!(status["case"]["completeness"], completeness, "{test}: {status}");
    let rows = stack.fetch(case);
    let check = stack.expected().check(&rows, silent);
    eprintln!(
        "{test}: result of case {case}: {} persons listed, {} missing, {} duplicated, {} unexpected; \
         {} values checked, {} missing, {} wrong; statuses {:?}",
        check.rows,
        check.missing,
        check.duplicates,
        check.unexpected,
        check.values_checked,
        check.values_missing,
        check.values_wrong,
        check.statuses
    );
    assert!(check.adds_up(), "{test}: the result does not add up: {check:#?}");
    assert_eq!(check.rows, stack.options().persons, "{test}: every person of the selection once");
    assert!(check.values_checked > 0, "{test}: the check compared values");
    check.rows
}

/// Asserts that nothing reached the dead-letter queue; names what did, with the reasons.
pub fn assert_no_dead_letters(stack: &Stack, test: &str) {
    let count = stack.dead_letter_count();
    if count > 0 {
        let dead = stack.take_dead_letters();
        let reasons: Vec<String> = dead.iter().map(|d| format!("{} from {}: {}", d.kind, d.queue, d.reason)).collect();
        panic!("{test}: {count} message(s) dead-lettered: {reasons:#?}");
    }
    eprintln!("{test}: dead letters: 0");
}

/// Asserts that no daemon logged a NIR of the selection (current or former), faults and
/// reconnections included: the error paths log the most.
pub fn assert_no_nir_logged(stack: &Stack, test: &str) {
    let nirs: Vec<String> = support::nirs_of_selection(&stack.selection())
        .into_iter()
        .flat_map(|(n, f)| std::iter::once(n).chain(f))
        .collect();
    let (files, hits) = support::scan_for(&stack.dir().join("logs"), &nirs);
    assert!(files >= 5, "{test}: the five daemons' logs were scanned ({files} files)");
    assert!(
        hits.is_empty(),
        "{test}: NIRs in the logs: {} hit(s) in {:?}",
        hits.len(),
        hits.iter().map(|h| &h.0).collect::<Vec<_>>()
    );
}

/// Checks the observatory's audit trail still verifies after the faults.
pub fn assert_audit_verifies(stack: &Stack, test: &str) {
    assert!(stack.audit_verifies(), "{test}: the audit trail does not verify after the faults");
}

/// A calibration of the suite itself: without faults, a case through the whole stack adds up
/// (so the checks of the fault tests compare against the right expectations), the receipt is
/// sent and the observatory purges the case.
#[test]
#[ignore = "fault injection: runs the whole stack as processes (run with the fault targets)"]
fn without_faults_a_case_adds_up_and_is_purged() {
    let test = "without_faults";
    let mut stack = Stack::start(StackOptions { persons: 1_000, ..StackOptions::default() });
    let case = stack.submit_selection(LONG_DEADLINE);
    stack.wait_settled(&case, CASE_TIMEOUT);
    assert_result_adds_up(&stack, &case, &[], test);
    stack.wait_purged(&case, Duration::from_secs(60));
    assert_no_dead_letters(&stack, test);
    assert_audit_verifies(&stack, test);
    assert_no_nir_logged(&stack, test);
    for daemon in stack.daemon_names() {
        stack.stop(&daemon);
        // An operator's alerting reads ERROR lines: a run without faults and a clean stop
        // log none (lapin's I/O thread used to outlive the runtime at every stop).
        let log = stack.log(&daemon);
        let errors: Vec<&str> = log.lines().filter(|line| line.contains("ERROR")).collect();
        assert!(errors.is_empty(), "{test}: {daemon} logged errors without a fault:\n{}", errors.join("\n"));
    }
}
