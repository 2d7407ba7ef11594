//! `passerelle conformance requester` over the real broker, in a vhost of its own: the Python
//! reference requester (`examples/python/requester.py`) passes every rule; a variant of it that
//! sends persons under 55, sets no `correlation_id` and no service code
//! (`tests/conformance/broken_requester.py`) fails exactly those rules, by name, with exit 1.
//! (The Rust requester is a daemon fed by `requester submit`; this test plays a partner's.)

use crate::conformance::{python, root, rules, text, Killed};
use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Datelike as _;
use passerelle_bus::amqp::AmqpBus;
use passerelle_bus::{BusSettings, Queue, Role};
use passerelle_test_support::{nir_with_key, Vhost};

const OBSERVATORY: &str = "conformance";
const BODY: &str = "cnaf";

/// A selection of 6 synthetic persons, the last one born 40 years ago (under 55).
fn selection(dir: &Path) -> PathBuf {
    let mut csv = String::from("nir,family_name,given_names,sex,birth_year,commune_code\n");
    let this_year = chrono::Utc::now().year() as u32;
    for i in 0..6u32 {
        let year = if i == 5 { this_year - 40 } else { 1950 + i };
        let first13 = format!("{}{:02}0175956{:03}", 1 + i % 2, year % 100, 900 + i);
        csv.push_str(&format!(
            "{},Nom{i},Prénom,{},{year},75056\n",
            nir_with_key(&first13),
            if i % 2 == 0 { "M" } else { "F" }
        ));
    }
    let path = dir.join("selection.csv");
    std::fs::write(&path, csv).unwrap();
    path
}

/// Runs `conformance requester` against the Python requester `script` (with `extra` flags);
/// returns its exit code and report, or `None` when skipped.
fn check_requester(script: PathBuf, extra: &[&str]) -> Option<(Option<i32>, String)> {
    let (interpreter, generated, examples) = python()?;
    let url = support::amqp_url();
    if !support::broker_reachable_or_skip(&url) {
        return None;
    }
    let vhost = Vhost::new();
    let prefix = passerelle_test_support::unique_name("confreq");
    let dir = tempfile::tempdir().unwrap();
    let user = passerelle_test_support::broker::login(&vhost.url());
    let started = Instant::now();
    let conformance = support::passerelle()
        .args(["conformance", "requester", "--party", BODY, "--amqp-url", &vhost.url(), "--prefix", &prefix])
        .args(["--wait-s", "60", "--deadline-s", "20", "--partner-user", &user])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The partner sends once the command reads the observatory's requests queue.
    let broker = BusSettings {
        urls: vec![vhost.url()],
        prefix: prefix.clone(),
        observatories: vec![OBSERVATORY.to_owned()],
        bodies: vec![BODY.to_owned()],
        ..BusSettings::default()
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let until = tokio::time::Instant::now() + Duration::from_secs(60);
        let bus = loop {
            match AmqpBus::connect(&broker, Role::Observatory(OBSERVATORY.to_owned())).await {
                Ok(bus) => break bus,
                Err(e) if tokio::time::Instant::now() < until => {
                    // A retry's pause, not a synchronisation: the loop ends on success.
                    eprintln!("not yet: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("{e}"),
            }
        };
        let requests = Queue::ObservatoryRequests(OBSERVATORY.to_owned());
        while bus.consumer_count(&requests).await.unwrap_or(0) == 0 {
            assert!(tokio::time::Instant::now() < until, "conformance never read {}", requests.name(&prefix));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bus.close().await;
    });
    let mut command = Command::new(interpreter);
    command
        .arg(script)
        .args(["--amqp-url", &vhost.url(), "--prefix", &prefix, "--body", BODY, "--office", "caf-13"])
        .args(["--observatory", OBSERVATORY, "--want", "3,4", "--timeout", "30", "--selection"])
        .arg(selection(dir.path()))
        .arg("--out")
        .arg(dir.path().join("result.jsonl"))
        .args(extra)
        .env("PARTNER_PROTO_GEN", generated)
        .env("PARTNER_EXAMPLES", examples)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("python-requester.log")).unwrap());
    let partner = Killed(command.spawn().unwrap());
    let o = conformance.wait_with_output().unwrap();
    eprintln!("conformance ran in {:?}:\n{}", started.elapsed(), text(&o));
    drop(partner);
    eprintln!(
        "the Python requester's log:\n{}",
        std::fs::read_to_string(dir.path().join("python-requester.log")).unwrap()
    );
    Some((o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned()))
}

#[test]
fn the_python_reference_requester_passes_every_rule() {
    let Some((_, _, examples)) = python() else { return };
    let Some((code, report)) = check_requester(examples.join("requester.py"), &[]) else { return };
    assert_eq!(rules(&report, "FAIL"), Vec::<String>::new(), "{report}");
    assert_eq!(rules(&report, "PASS").len(), 11, "{report}");
    assert_eq!(code, Some(0), "{report}");
}

#[test]
fn the_python_requester_broken_three_ways_fails_those_rules_by_name() {
    let broken = root().join("tests/conformance/broken_requester.py");
    let Some((code, report)) = check_requester(broken, &["--service", "0"]) else { return };
    assert_eq!(
        rules(&report, "FAIL"),
        ["request-properties", "request-service", "persons-aged-55", "receipt-sent"],
        "{report}"
    );
    assert!(report.contains("correlation_id None is not the case_id"), "{report}");
    assert!(report.contains("person #6: under 55 on"), "{report}");
    assert_eq!(code, Some(1), "{report}");
}
