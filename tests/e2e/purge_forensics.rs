//! Crashes at the worst moments of forgetting and of writing, with the real daemons as separate
//! processes over the real broker (a vhost of the test's own):
//! - the **observatory** is stopped by a fault point right after a purge's commit, before the
//!   case store's rebuild: every file of its `data_dir` (case store, WAL, shared memory, keys,
//!   statistics) is then scanned for the purged NIRs — in ASCII, UTF-16 and as 64-bit numbers —
//!   and none may be found: "purged" holds at the commit (the case's key is destroyed with it);
//! - the **requester** is stopped by a fault point while writing a result: no file is left
//!   under a final name, and once started again it writes them whole.
//!
//! Synthetic data only.

use crate::support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use passerelle_hooks::{DevelopmentSettings, Profile, FAULT_EXIT_CODE};
use passerelle_party::PartySettings;
use support::stack::{eventually, Stack, StackOptions, CASE_TIMEOUT, OBSERVATORY_DAEMON, REQUESTER_DAEMON};

const PURGE_FAULT: &str = "observatory.after_purge_before_rebuild";
const WRITING_FAULT: &str = "requester.while_writing_results";

/// How long a daemon has to reach its fault point.
const FAULT_TIMEOUT: Duration = Duration::from_secs(180);

fn armed(point: &str) -> DevelopmentSettings {
    DevelopmentSettings { clock_offset_s: None, fault_points: vec![point.to_owned()] }
}

/// The NIRs among `bytes` as 64-bit integers of their 13 digits (without the key), in either
/// byte order: how a store that packs NIRs would hold them.
fn packed_hits(dir: &Path, nirs: &[String]) -> Vec<(String, String)> {
    let mut packed = std::collections::HashMap::new();
    for nir in nirs {
        if let Ok(n) = nir[..13].parse::<u64>() {
            packed.insert(n.to_le_bytes(), nir.clone());
            packed.insert(n.to_be_bytes(), nir.clone());
        }
    }
    let mut hits = Vec::new();
    for file in files_under(dir) {
        let bytes = std::fs::read(&file).unwrap();
        for window in bytes.windows(8) {
            if let Some(nir) = packed.get(<&[u8; 8]>::try_from(window).unwrap()) {
                hits.push((file.display().to_string(), nir.clone()));
            }
        }
    }
    hits
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn out_dir(stack: &Stack) -> PathBuf {
    match stack.settings(REQUESTER_DAEMON) {
        PartySettings::Requester(r) => r.out_dir.clone(),
        other => panic!("not the requester: {}", other.name()),
    }
}

#[test]
fn a_crash_after_a_purge_leaves_no_nir_readable_and_a_crash_while_writing_no_partial_result() {
    if !support::broker_reachable_or_skip(&support::amqp_url()) {
        return;
    }
    let mut stack = Stack::prepare(StackOptions { persons: 300, chunk_size: 100, ..StackOptions::default() });
    stack.edit_settings(OBSERVATORY_DAEMON, |s| s.set_development(Profile::Development, armed(PURGE_FAULT)));
    stack.edit_settings(REQUESTER_DAEMON, |s| s.set_development(Profile::Development, armed(WRITING_FAULT)));
    for daemon in stack.daemon_names() {
        stack.start_daemon(&daemon);
    }
    let case = stack.submit_selection("1d");
    let nirs: Vec<String> = stack.expected().persons.into_keys().collect();
    assert!(nirs.len() > 200, "the selection's persons: {}", nirs.len());

    // The requester stops while writing the result: nothing under a final name.
    let exit = stack.wait_exit(REQUESTER_DAEMON, FAULT_TIMEOUT);
    assert_eq!(exit.code(), Some(FAULT_EXIT_CODE), "the requester stopped while writing");
    let out = out_dir(&stack);
    let names = |dir: &Path| -> Vec<String> {
        std::fs::read_dir(dir)
            .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default()
    };
    let left = names(&out);
    assert!(left.iter().all(|n| n.ends_with(".partial")), "only temporary files after the crash: {left:?}");
    assert!(!left.is_empty(), "the crash came while a file was being written");

    // Started again without its fault point, the requester writes the result whole (and sends
    // the receipt, if the crash came first).
    stack.edit_settings(REQUESTER_DAEMON, |s| s.set_development(Profile::Development, DevelopmentSettings::default()));
    stack.start_daemon(REQUESTER_DAEMON);
    eventually("the result files written whole", CASE_TIMEOUT, || {
        let left = names(&out);
        left.iter().any(|n| n.ends_with(".summary.json")) && !left.iter().any(|n| n.ends_with(".partial"))
    });
    let jsonl = names(&out).into_iter().find(|n| n.ends_with(".jsonl")).expect("a JSON Lines result");
    let rows = support::read_jsonl(&out.join(jsonl));
    let check = stack.expected().check(&rows, &[]);
    assert!(check.adds_up(), "{check:?}");

    // The observatory purged the case on its receipt and stopped before the rebuild.
    let exit = stack.wait_exit(OBSERVATORY_DAEMON, FAULT_TIMEOUT);
    assert_eq!(exit.code(), Some(FAULT_EXIT_CODE), "the observatory stopped after the purge");
    let data_dir = stack.observatory_data_dir();
    let (files, hits) = support::scan_for(&data_dir, &nirs);
    assert!(files >= 4, "the case store, its WAL, its keys and the statistics were scanned: {files}");
    assert!(
        hits.is_empty(),
        "{} purged NIRs readable after the crash, e.g. {:?}",
        hits.len(),
        &hits[..hits.len().min(3)]
    );
    let packed = packed_hits(&data_dir, &nirs);
    assert!(packed.is_empty(), "{} purged NIRs readable as numbers, e.g. {:?}", packed.len(), packed.first());
    // The case's key went with the purge's commit: its record is no longer in the keys file.
    let keys = std::fs::read(data_dir.join("observatory.keys")).expect("the case keys file");
    assert!(!keys.windows(case.len()).any(|w| w == case.as_bytes()), "the purged case's key is still on disk");

    // Started again, the observatory has the case purged.
    stack
        .edit_settings(OBSERVATORY_DAEMON, |s| s.set_development(Profile::Development, DevelopmentSettings::default()));
    stack.start_daemon(OBSERVATORY_DAEMON);
    stack.wait_purged(&case, CASE_TIMEOUT);
}
