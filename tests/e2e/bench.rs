//! `passerelle bench` still works: a small run against the real broker (CI runs it once, in the
//! test profile). Figures are checked for presence and consistency, never for speed — speed
//! belongs in BENCHMARKS.md.

use crate::support;

use std::collections::BTreeSet;
use std::process::Stdio;

use serde_json::Value;

/// Persons of the smoke run: one chunk per message type, a few seconds in debug.
const PERSONS: u64 = 200;

/// Single-person requests of the smoke run (the default is 1,000).
const LATENCY_REQUESTS: u64 = 20;

/// The keys `passerelle bench --help` documents for `--json` (a key's line starts with two
/// spaces, its continuation lines with more).
fn documented_keys() -> BTreeSet<String> {
    let help = support::passerelle().args(["bench", "--help"]).output().expect("the passerelle binary runs");
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    let section = help
        .split_once("The --json object")
        .unwrap_or_else(|| panic!("the help documents the --json object:\n{help}"))
        .1;
    let section = section.split_once("\nExit status").map_or(section, |(keys, _)| keys);
    section
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// Every key path of the object, its leaves, with each AMQP type as `<type>` and each body as
/// `<body>`, as the help writes them.
fn key_paths(value: &Value, path: &str, out: &mut BTreeSet<String>) {
    match value.as_object() {
        Some(object) => {
            for (key, child) in object {
                let key = if path == "by_kind" {
                    "<type>"
                } else if path.ends_with(".responders") {
                    "<body>"
                } else {
                    key.as_str()
                };
                let child_path = if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") };
                key_paths(child, &child_path, out);
            }
        }
        None => {
            out.insert(path.to_owned());
        }
    }
}

fn number(report: &Value, field: &str) -> f64 {
    report[field].as_f64().unwrap_or_else(|| panic!("`{field}` is missing or not a number in {report}"))
}

#[test]
fn a_small_bench_run_reports_every_figure_and_leaves_nothing_behind() {
    let url = support::amqp_url();
    if !support::broker_reachable_or_skip(&url) {
        return;
    }
    let output = support::passerelle()
        .args(["bench", "--persons", &PERSONS.to_string(), "--json", "--amqp", &url])
        .args(["--latency-requests", &LATENCY_REQUESTS.to_string(), "--keep"])
        .stdin(Stdio::null())
        .output()
        .expect("the passerelle binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "bench failed ({}):\n{stderr}", output.status);
    // The kept work folder (synthetic data only) holds each single-person request's timing.
    let kept = stderr
        .lines()
        .find_map(|l| l.strip_prefix("bench: work folder kept: "))
        .unwrap_or_else(|| panic!("--keep names the work folder:\n{stderr}"));
    let kept = std::path::PathBuf::from(kept.trim());
    let latencies = std::fs::read_to_string(kept.join("latency.csv")).expect("latency.csv in the work folder");
    std::fs::remove_dir_all(&kept).expect("the kept work folder can be removed");
    let mut lines = latencies.lines();
    assert_eq!(lines.next(), Some("started_ms,latency_ms"));
    let rows: Vec<(f64, f64)> = lines
        .map(|l| {
            let (started, latency) = l.split_once(',').unwrap_or_else(|| panic!("not a CSV row: {l}"));
            (started.parse().unwrap(), latency.parse().unwrap())
        })
        .collect();
    assert_eq!(rows.len() as u64, LATENCY_REQUESTS, "one row per single-person request");
    assert!(
        rows.windows(2).all(|w| w[0].0 + w[0].1 <= w[1].0 + 0.001),
        "each request starts after the previous one ended"
    );
    assert!(rows.iter().all(|&(_, latency)| latency > 0.0));
    let last = stdout.lines().last().expect("bench printed something");
    let report: Value =
        serde_json::from_str(last).unwrap_or_else(|e| panic!("the last line is not JSON ({e}): {last}"));

    // The --json keys are a stable interface: exactly the documented ones.
    let documented = documented_keys();
    assert!(documented.len() > 30, "the help documents every key: {documented:?}");
    let mut present = BTreeSet::new();
    key_paths(&report, "", &mut present);
    assert_eq!(
        present.difference(&documented).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "keys in the object that `bench --help` does not document"
    );
    assert_eq!(
        documented.difference(&present).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "documented keys missing from the object"
    );

    for field in [
        "persons",
        "bodies",
        "messages",
        "bytes",
        "seconds",
        "persons_per_s",
        "raw_seconds",
        "ratio",
        "observatory_peak_rss_bytes",
        "latency_p50_ms",
        "latency_p99_ms",
        "latency_max_ms",
        "raw_rtt_p99_ms",
    ] {
        assert!(number(&report, field).is_finite(), "`{field}` is not finite");
    }
    assert_eq!(number(&report, "persons"), PERSONS as f64, "every synthetic person is valid and timed");
    assert_eq!(number(&report, "bodies"), 3.0, "cnam, cnav and msa answer");
    assert_eq!(number(&report, "latency_requests"), LATENCY_REQUESTS as f64);

    // The messages add up: per chunk of the default size, a request, a solicitation and a
    // response per body, a result; and one receipt.
    let chunks = PERSONS.div_ceil(number(&report, "chunk_size") as u64) as f64;
    let kinds = &report["by_kind"];
    let count = |kind: &str| kinds[format!("passerelle.v1.{kind}")]["messages"].as_f64().unwrap_or(0.0);
    assert_eq!(count("Request"), chunks);
    assert_eq!(count("Solicitation"), 3.0 * chunks);
    assert_eq!(count("Response"), 3.0 * chunks);
    assert_eq!(count("Result"), chunks);
    assert_eq!(count("Receipt"), 1.0);
    assert_eq!(number(&report, "messages"), 8.0 * chunks + 1.0);
    assert!(number(&report, "bytes") > number(&report, "messages"), "each message has a body");

    assert!(number(&report, "seconds") > 0.0);
    assert!(number(&report, "raw_seconds") > 0.0);
    let ratio = number(&report, "raw_seconds") / number(&report, "seconds");
    assert!((number(&report, "ratio") - ratio).abs() <= 1e-9 * ratio.max(1.0), "ratio = raw_seconds / seconds");
    assert!(number(&report, "observatory_peak_rss_bytes") > 0.0);
    assert!(number(&report, "latency_p50_ms") > 0.0);
    assert!(number(&report, "latency_p50_ms") <= number(&report, "latency_p99_ms"));
    assert!(number(&report, "latency_p99_ms") <= number(&report, "latency_max_ms"));
    let slowest = rows.iter().map(|&(_, latency)| latency).fold(0.0, f64::max);
    assert!((slowest - number(&report, "latency_max_ms")).abs() < 0.01, "latency.csv's slowest is the report's max");
    assert!(number(&report, "raw_rtt_p99_ms") > 0.0);
    let stages = &report["stages"];
    assert!(stages["requests_sent"].as_f64().unwrap() <= number(&report, "seconds"));
    assert!(stages["observatory_returned"].as_f64().is_some(), "the observatory's store has the case: {stages}");

    // The CPU each process used: every process named, the parts adding up to the total, and
    // the floor and bound derived from it.
    let cores = number(&report, "cores");
    assert!(cores >= 1.0);
    for (field, scale) in [("flow_cpu_seconds", 1.0), ("latency_cpu_ms", 1000.0)] {
        let cpu = &report[field];
        let responders = cpu["responders"].as_object().unwrap_or_else(|| panic!("`{field}` names the responders"));
        let bodies: Vec<&str> = responders.keys().map(String::as_str).collect();
        assert_eq!(bodies, ["cnam", "cnav", "msa"], "`{field}`");
        let parts = number(cpu, "observatory")
            + responders.values().map(|v| v.as_f64().unwrap()).sum::<f64>()
            + number(cpu, "requester")
            + cpu["broker"].as_f64().unwrap_or(0.0);
        assert!(parts > 0.0, "`{field}`: the processes used no CPU at all: {cpu}");
        assert!((number(cpu, "total") - parts).abs() < 1e-6 * scale, "`{field}`: the total is the sum: {cpu}");
    }
    // The broker's CPU in the raw run is read wherever its share of the flow's is.
    for (raw, flow) in [("raw_broker_cpu_seconds", "flow_cpu_seconds"), ("raw_rtt_broker_cpu_ms", "latency_cpu_ms")] {
        let raw_broker = &report[raw];
        assert_eq!(raw_broker.is_null(), report[flow]["broker"].is_null(), "`{raw}`: {raw_broker}");
        assert!(raw_broker.as_f64().is_none_or(|s| s >= 0.0), "`{raw}`: {raw_broker}");
    }
    let floor = number(&report, "flow_cpu_floor_seconds");
    assert!((floor - number(&report["flow_cpu_seconds"], "total") / cores).abs() < 1e-9);
    let bound = number(&report, "raw_seconds") / floor;
    assert!((number(&report, "ratio_cpu_bound") - bound).abs() <= 1e-9 * bound.max(1.0));

    // Nothing of the run stays on the broker: its prefix's topology was deleted.
    let prefix = report["prefix"].as_str().expect("the run names its prefix");
    assert!(prefix.starts_with("bench-"));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let settings = passerelle_bus::BusSettings {
        urls: vec![url.clone()],
        prefix: prefix.to_owned(),
        ..passerelle_bus::BusSettings::default()
    };
    let connected =
        runtime.block_on(passerelle_bus::AmqpBus::connect(&settings, passerelle_bus::Role::Body("cnaf".to_owned())));
    assert!(connected.is_err(), "the bench's queues still exist after the run");
}
