//! `passerelle demo` as a newcomer runs it: the real binary runs the whole flow on the
//! in-process bus and over RabbitMQ (twice, leaving nothing of its prefix behind), its summary
//! adds up — checked again here from the files themselves — and afterwards no NIR of the
//! synthetic population can be read in the observatory's files. With `--requester cpam` a CPAM
//! requests and `cnav`, `cnaf` and `msa` answer, never its own branch `cnam`; then the social
//! service walks its contact list, and only the persons who accepted enter its store.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use support::{amqp_url, broker_reachable_or_skip, nirs_of_selection, passerelle, read_jsonl, scan_for};

/// Small enough for a debug build, large enough for several chunks per body (the demo's chunks
/// are 500 persons).
const PERSONS: &str = "600";

/// A deadline no healthy run comes near, so every body answers before it even on a slow
/// machine (a stuck body would make the result partial, which the tests would report).
const RESPOND_BY: &str = "120s";

/// The bodies that answer a CAF (the default requester), and a CPAM: the three other branches.
const CAF_ANSWERERS: [&str; 3] = ["cnam", "cnav", "msa"];
const CPAM_ANSWERERS: [&str; 3] = ["cnaf", "cnav", "msa"];

/// Runs the demo with `--json` and returns its summary.
fn demo(args: &[&str]) -> serde_json::Value {
    let output = passerelle()
        .args(["demo", "--json", "--persons", PERSONS, "--respond-by", RESPOND_BY])
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "demo failed ({}): {stderr}", output.status);
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "one JSON object on stdout: {stdout}");
    serde_json::from_str(&stdout).unwrap()
}

/// The demo's stages for a CAF; a CPAM's add `social` (the social service's walk) before `stop`.
const CAF_STAGES: [&str; 9] =
    ["population", "extracts", "broker", "start", "submit", "answers", "result", "purge", "stop"];
const CPAM_STAGES: [&str; 10] =
    ["population", "extracts", "broker", "start", "submit", "answers", "result", "purge", "social", "stop"];

/// The summary's own claims, and that its numbers agree with each other; `answerers` are the
/// bodies solicited (sorted).
fn assert_adds_up(s: &serde_json::Value, answerers: &[&str]) {
    let p = &s["persons"];
    let persons: u64 = PERSONS.parse().unwrap();
    assert_eq!(p["selected"], persons, "{s}");
    assert_eq!(p["valid"], persons, "every synthetic person is valid: {s}");
    assert_eq!(p["rejected"], 0);
    assert_eq!(p["in_result"], persons);
    assert_eq!(
        (p["missing"].as_u64(), p["duplicates"].as_u64(), p["unexpected"].as_u64()),
        (Some(0), Some(0), Some(0))
    );
    assert_eq!(p["adds_up"], true);
    assert_eq!(s["complete"], true, "every body answered: {s}");
    let bodies = s["bodies"].as_object().unwrap();
    assert_eq!(bodies.keys().collect::<Vec<_>>(), answerers, "the requester's own branch is never solicited");
    for (body, b) in bodies {
        let statuses = ["found", "not_found", "no_answer"].map(|k| b[k].as_u64().unwrap());
        assert_eq!(statuses.iter().sum::<u64>(), persons, "{body}: every person has one status");
        assert_eq!(b["no_answer"], 0, "{body}");
        assert!(statuses[0] > 0, "{body} knows somebody");
        assert_eq!(b["persons_solicited"], persons, "{body}");
        assert_eq!(b["solicitation_chunks"], 2, "{body}: 600 persons in chunks of 500");
        assert!(b["responder_persons"].as_u64().unwrap() >= persons, "{body} answered every person");
        assert_eq!(b["answered"], true);
    }
    let cases = s["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 1);
    assert_eq!(cases[0]["state"], "answered");
    assert_eq!(cases[0]["completeness"], "complete");
    assert_eq!(cases[0]["observatory_state"], "purged");
    let purge = &s["purge"];
    assert_eq!(purge["purged"], true);
    assert_eq!(purge["reason"], "receipt");
    assert_eq!(purge["persons"], persons);
    assert_eq!(purge["answers"], 3 * persons, "one answer per person and body");
    assert_eq!(s["bus"]["dead_letters"], 0);
    let stages: Vec<&str> = s["stages"].as_array().unwrap().iter().map(|t| t["stage"].as_str().unwrap()).collect();
    if answerers == CPAM_ANSWERERS {
        assert_eq!(stages, CPAM_STAGES);
    } else {
        assert_eq!(stages, CAF_STAGES);
        assert!(s.get("social_service").is_none(), "no social service after a CAF's flow: {s}");
    }
}

/// After a CPAM's flow, the social service walked the whole contact list: one offer per listed
/// person, outcomes that add up, 3 in 10 accepting, and its store holding exactly one case file
/// per acceptance — read from the store and by scanning its folder for the selection's NIRs
/// (those of the persons who declined or did not reply are nowhere in it).
fn assert_social_service_adds_up(s: &serde_json::Value, dir: &Path) {
    let w = &s["social_service"];
    let persons: u64 = PERSONS.parse().unwrap();
    let count = |k: &str| w[k].as_u64().unwrap_or_else(|| panic!("{k} in {w}"));
    assert_eq!(count("offers"), s["persons"]["in_result"].as_u64().unwrap(), "one offer per listed person: {w}");
    assert_eq!(count("offers"), persons);
    assert_eq!(count("accepted") + count("declined") + count("no_reply"), count("offers"), "{w}");
    assert_eq!(count("accepted"), persons * 3 / 10, "3 in 10 accept: {w}");
    assert!(count("declined") > 0 && count("no_reply") > 0, "{w}");
    assert_eq!(count("files_opened"), count("accepted"), "{w}");
    assert_eq!(w["adds_up"], true, "{w}");
    assert_eq!((w["body"].as_str(), w["office"].as_str()), (Some("carsat-sud-est"), Some("ssa-13")));
    assert_eq!(w["requester_office"], "cpam-13");
    let left: Vec<&str> = w["left_behind"].as_array().unwrap().iter().map(|l| l["code"].as_str().unwrap()).collect();
    assert!(!left.is_empty(), "some decree values have no home in the norm: {w}");

    let store = passerelle_social_service::store::Store::open(&dir.join("social-service/data")).unwrap();
    let (open, closed) = store.counts().unwrap();
    assert_eq!(open + closed, count("accepted"), "the store holds exactly one file per acceptance");
    let filed: BTreeSet<String> = store
        .list("ssa-13", None, None, persons as usize)
        .unwrap()
        .into_iter()
        .map(|row| row.file.identity.and_then(|i| i.nir).expect("a file holds its person's NIR"))
        .collect();
    drop(store);
    let nirs: Vec<String> =
        nirs_of_selection(&dir.join("population/selection.csv")).into_iter().map(|(nir, _)| nir).collect();
    let (files, hits) = scan_for(&dir.join("social-service"), &nirs);
    assert!(files >= 2, "the social service's store is there to scan: {files} files");
    let found: BTreeSet<String> = hits.iter().map(|(_, nir)| nir.clone()).collect();
    assert_eq!(found.len() as u64, count("accepted"), "{found:?}");
    assert_eq!(found, filed, "the only selection NIRs in its folder are those of the files opened");
}

/// Every valid person of the selection in the result exactly once, read from the files.
fn assert_result_files_add_up(dir: &Path) {
    let selection: BTreeSet<String> =
        nirs_of_selection(&dir.join("population/selection.csv")).into_iter().map(|(nir, _)| nir).collect();
    let mut listed: BTreeMap<String, u32> = BTreeMap::new();
    for person in read_jsonl(&dir.join("requester/out/demo-result.jsonl")) {
        let nir = person["selection"]["nir"].as_str().unwrap().replace(' ', "");
        *listed.entry(nir).or_default() += 1;
    }
    assert!(listed.values().all(|&n| n == 1), "a person is listed twice");
    assert_eq!(listed.keys().cloned().collect::<BTreeSet<_>>(), selection, "the result holds exactly the selection");
}

#[test]
fn the_demo_completes_in_process_and_its_summary_adds_up() {
    let dir = tempfile::tempdir().unwrap();
    let summary = demo(&["--data-dir", dir.path().to_str().unwrap()]);
    assert_adds_up(&summary, &CAF_ANSWERERS);
    assert_eq!(summary["bus"]["kind"], "in-process");
    assert_eq!(summary["data_dir_deleted"], false);
    assert_result_files_add_up(dir.path());
    for sub in ["population", "requester", "observatory", "responder-cnam", "responder-cnav", "responder-msa"] {
        assert!(dir.path().join(sub).is_dir(), "{sub}");
    }
}

#[test]
fn with_a_cpam_requesting_cnav_cnaf_and_msa_answer_and_never_cnam() {
    let dir = tempfile::tempdir().unwrap();
    let summary = demo(&["--requester", "cpam", "--data-dir", dir.path().to_str().unwrap()]);
    assert_adds_up(&summary, &CPAM_ANSWERERS);
    assert_eq!(summary["requester"]["body"], "cnam", "{summary}");
    assert_eq!(summary["requester"]["office"], "cpam-13", "{summary}");
    assert_eq!(summary["bus"]["kind"], "in-process");
    let wanted: Vec<&str> = summary["wanted"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert!(wanted.contains(&"housing_aid") && wanted.contains(&"quarters_contributed"), "{wanted:?}");
    assert!(!wanted.contains(&"long_term_condition"), "a CPAM does not ask its own health domain: {wanted:?}");
    assert_result_files_add_up(dir.path());
    assert_social_service_adds_up(&summary, dir.path());

    // The ranked result itself: every person's statuses from the three answering bodies, values
    // from each of them, nothing from cnam.
    let rows = read_jsonl(&dir.path().join("requester/out/demo-result.jsonl"));
    assert_eq!(rows.len(), PERSONS.parse::<usize>().unwrap());
    let mut sources = BTreeSet::new();
    for row in &rows {
        let statuses: Vec<&String> = row["status"].as_object().unwrap().keys().collect();
        assert_eq!(statuses, CPAM_ANSWERERS, "selection line {}", row["line"]);
        for category in row["categories"].as_object().into_iter().flat_map(|c| c.values()) {
            let named = category["sources"].as_array().into_iter().flatten();
            let dissenting = category["dissent"].as_array().into_iter().flatten().map(|d| &d["body"]);
            sources.extend(named.chain(dissenting).map(|b| b.as_str().unwrap().to_owned()));
        }
    }
    // `selection` names the requester's own value (a CPAM knows an invalidity pension itself).
    sources.remove("selection");
    assert_eq!(sources, CPAM_ANSWERERS.map(str::to_owned).into(), "values from each answering body, none from cnam");
    for sub in ["requester", "observatory", "responder-cnav", "responder-cnaf", "responder-msa", "social-service"] {
        assert!(dir.path().join(sub).is_dir(), "{sub}");
    }
    assert!(!dir.path().join("responder-cnam").exists(), "no responder runs for the requester's own branch");
}

#[test]
fn after_the_demo_no_nir_is_readable_in_the_observatory_files() {
    let dir = tempfile::tempdir().unwrap();
    let summary = demo(&["--data-dir", dir.path().to_str().unwrap()]);
    assert_eq!(summary["purge"]["purged"], true);
    let mut needles = Vec::new();
    for (nir, former) in nirs_of_selection(&dir.path().join("population/selection.csv")) {
        needles.push(nir);
        needles.extend(former);
    }
    assert!(needles.len() >= 600);
    let (files, hits) = scan_for(&dir.path().join("observatory"), &needles);
    assert!(files >= 2, "the observatory's stores are there to scan: {files} files");
    assert!(hits.is_empty(), "NIRs readable in the observatory's files: {hits:?}");
    // The scan finds what is there: the requester keeps its selection (24 months).
    let (_, requester_hits) = scan_for(&dir.path().join("requester"), &needles[..50]);
    assert!(!requester_hits.is_empty(), "the scan must see NIRs where they are kept");
}

#[test]
fn the_demo_runs_twice_over_rabbitmq_and_leaves_nothing_of_its_prefix() {
    let url = amqp_url();
    if !broker_reachable_or_skip(&url) {
        return;
    }
    let mut prefixes = Vec::new();
    for run in 0..2 {
        let dir = tempfile::tempdir().unwrap();
        let summary = demo(&["--amqp", &url, "--data-dir", dir.path().to_str().unwrap()]);
        assert_adds_up(&summary, &CAF_ANSWERERS);
        assert_result_files_add_up(dir.path());
        assert_eq!(summary["bus"]["kind"], "amqp", "run {run}");
        assert_eq!(summary["bus"]["topology_deleted"], true, "run {run}");
        let prefix = summary["bus"]["prefix"].as_str().unwrap().to_owned();
        assert!(prefix.starts_with("demo-"), "{prefix}");
        support::assert_no_topology_left(&url, &prefix);
        prefixes.push(prefix);
    }
    assert_ne!(prefixes[0], prefixes[1], "a fresh prefix per run");
}

#[test]
fn a_cpam_requesting_runs_over_rabbitmq_too() {
    let url = amqp_url();
    if !broker_reachable_or_skip(&url) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let summary = demo(&["--requester", "cpam", "--amqp", &url, "--data-dir", dir.path().to_str().unwrap()]);
    assert_adds_up(&summary, &CPAM_ANSWERERS);
    assert_result_files_add_up(dir.path());
    assert_social_service_adds_up(&summary, dir.path());
    assert_eq!(summary["requester"]["body"], "cnam", "{summary}");
    assert_eq!((&summary["bus"]["kind"], &summary["bus"]["topology_deleted"]), (&"amqp".into(), &true.into()));
    support::assert_no_topology_left(&url, summary["bus"]["prefix"].as_str().unwrap());
}

#[test]
fn a_non_empty_data_dir_is_refused_without_force_and_wiped_with_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("precious.txt"), b"keep me").unwrap();
    let output = passerelle().args(["demo", "--persons", "5", "--data-dir"]).arg(dir.path()).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is not empty") && stderr.contains("--force"), "{stderr}");
    assert!(dir.path().join("precious.txt").exists(), "nothing deleted without --force");

    let output =
        passerelle().args(["demo", "--persons", "5", "--force", "--data-dir"]).arg(dir.path()).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(!dir.path().join("precious.txt").exists(), "--force wiped the folder");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("every valid person is in the result exactly once"), "{stdout}");
    assert!(!stdout.contains("Social service"), "no social service after a CAF's flow: {stdout}");
}

#[test]
fn a_cpam_demo_says_in_words_what_the_social_service_did() {
    let output = passerelle().args(["demo", "--requester", "cpam", "--persons", "20"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).unwrap();
    for words in [
        "Social service (norm 43)",
        "ssa-13 (carsat-sud-est) offered its service to the 20 persons of cpam-13's contact list, in rank order",
        "accepted      6",
        "✓ 6 case files opened, one per acceptance",
        "values that stayed behind most often",
    ] {
        assert!(stdout.contains(words), "`{words}` in {stdout}");
    }
}

#[test]
fn bad_flags_are_usage_errors() {
    for args in [
        &["demo", "--want", "religion"][..],
        &["demo", "--observatory", "carsat-nowhere"],
        &["demo", "--respond-by", "soon"],
        &["demo", "--requester", "carsat"],
    ] {
        let output = passerelle().args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    }
}
