//! The decree flow with a CPAM as the requester (issue 23, the health branch's side), every
//! party a daemon of the real binary over RabbitMQ: the requester is `cnam` (office `cpam-13`),
//! so the observatory solicits `cnav`, `cnaf` and `msa` — the other branches — and never `cnam`
//! ("chacun des *autres* organismes"). One small case end to end: every person of the CPAM's
//! selection once in the result, with every value the three extracts hold, nothing from cnam.

use crate::support;

use std::collections::BTreeSet;

use support::stack::{Stack, StackOptions, StackRequester, CASE_TIMEOUT, OBSERVATORY_DAEMON, REQUESTER_DAEMON};

/// Enough persons for each answering body (the MSA's is a small scheme) to know some of them.
const PERSONS: u64 = 120;

#[test]
fn a_cpam_requests_over_rabbitmq_and_cnav_cnaf_and_msa_answer_never_cnam() {
    let options =
        StackOptions { persons: PERSONS, chunk_size: 50, requester: StackRequester::Cpam, ..StackOptions::default() };
    let mut stack = Stack::start(options);
    assert_eq!(stack.daemon_names(), [OBSERVATORY_DAEMON, "cnav", "cnaf", "msa", REQUESTER_DAEMON]);
    let requester = match stack.settings(REQUESTER_DAEMON) {
        passerelle_party::PartySettings::Requester(r) => r.clone(),
        other => panic!("not a requester: {other:?}"),
    };
    assert_eq!((requester.body.as_str(), requester.office.as_str()), ("cnam", "cpam-13"));

    let case = stack.submit_selection("10m");
    let settled = stack.wait_settled(&case, CASE_TIMEOUT);
    assert_eq!(settled["case"]["state"], "answered", "{settled}");
    assert_eq!(settled["case"]["completeness"], "complete", "{settled}");

    // The result: every person once, the three bodies' values as their extracts hold them.
    let rows = stack.fetch(&case);
    let check = stack.expected().check(&rows, &[]);
    assert!(check.adds_up(), "{check:#?}");
    assert_eq!(check.rows, PERSONS);
    assert!(check.values_checked > 0, "values were compared: {check:?}");
    for body in StackRequester::Cpam.responders() {
        assert!(check.count(body, "found") > 0, "{body} knows somebody: {:?}", check.statuses);
    }
    for row in &rows {
        assert!(row["status"].get("cnam").is_none(), "cnam has a status for line {}", row["line"]);
        for category in row["categories"].as_object().into_iter().flat_map(|c| c.values()) {
            let named = category["sources"].as_array().into_iter().flatten();
            let dissenting = category["dissent"].as_array().into_iter().flatten().map(|d| &d["body"]);
            assert!(named.chain(dissenting).all(|b| b != "cnam"), "a value from cnam on line {}", row["line"]);
        }
    }

    // The observatory's own account: it solicited the three other branches, never the
    // requester's.
    let solicited: BTreeSet<String> = stack
        .audit(Some(&case))
        .iter()
        .filter(|e| e["action"] == "solicitation_sent")
        .filter_map(|e| detail(e)["body"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(solicited, ["cnaf", "cnav", "msa"].map(str::to_owned).into());
    stack.wait_purged(&case, CASE_TIMEOUT);
}

/// An audit entry's `detail`, whether the JSON holds it as an object or as its text.
fn detail(entry: &serde_json::Value) -> serde_json::Value {
    match &entry["detail"] {
        serde_json::Value::String(text) => serde_json::from_str(text).unwrap_or_default(),
        other => other.clone(),
    }
}
