//! The reference partner client in Python (`examples/python`, issue 28 point 2) against a real
//! stack: the Rust observatory and the `cnam` and `cnav` responders, the Python responder
//! playing `msa` (from the synthetic MSA extract) and the Python requester playing the CAF
//! (`cnaf`, office `caf-13`), which submits the synthetic selection, waits for the result and
//! sends the receipt. The Python responder's answers land in the result, exactly as its extract
//! holds them; the receipt purges the case at the observatory.
//!
//! The interpreter is the venv `scripts/test` makes (`target/python-venv`, or `PARTNER_PYTHON`),
//! the protobuf modules its generated ones (`target/python-gen`, or `PARTNER_PROTO_GEN`). Without
//! them the test is skipped, said on stderr; under `CI=true` it fails. The client's unit tests
//! (`test_partner.py`) run here too.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::stack::{
    eventually, Stack, StackOptions, OBSERVATORY, OBSERVATORY_DAEMON, REQUESTER_BODY, REQUESTER_OFFICE,
};

/// Enough persons for the MSA (a small scheme) to know some and not others.
const PERSONS: u64 = 80;
/// The body the Python responder plays; the Rust ones play the others the CAF solicits.
const PYTHON_BODY: &str = "msa";
const RUST_BODIES: [&str; 2] = ["cnam", "cnav"];
/// The decree domains the CAF asks for (health, retirement, other risk factors).
const WANT_DOMAINS: [&str; 3] = ["3°", "4°", "7°"];
/// How long the whole exchange may take (a debug build on a loaded machine).
const TIMEOUT: Duration = Duration::from_secs(60);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The venv's interpreter and the generated modules, or `None` (skip) outside CI.
fn python() -> Option<(PathBuf, PathBuf)> {
    let interpreter = std::env::var_os("PARTNER_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/python-venv/bin/python"));
    let generated =
        std::env::var_os("PARTNER_PROTO_GEN").map(PathBuf::from).unwrap_or_else(|| root().join("target/python-gen"));
    let ready = interpreter.exists() && generated.join("passerelle/v1/exchange_pb2.py").exists();
    if !ready {
        let why = format!(
            "no Python venv at {} or no generated protobuf modules in {}: run scripts/test (it makes both)",
            interpreter.display(),
            generated.display()
        );
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true and {why}");
        eprintln!("SKIPPED: {why}");
        return None;
    }
    Some((interpreter, generated))
}

/// A child process killed when dropped (the test passes or panics).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn example(interpreter: &Path, generated: &Path, script: &str) -> Command {
    let mut command = Command::new(interpreter);
    command.arg(root().join("examples/python").join(script)).env("PARTNER_PROTO_GEN", generated);
    command
}

#[test]
fn the_python_partner_answers_alongside_the_rust_responders_and_its_requester_gets_the_result() {
    let Some((interpreter, generated)) = python() else { return };
    let started = Instant::now();
    let mut stack = Stack::prepare(StackOptions { persons: PERSONS, chunk_size: 30, ..StackOptions::default() });
    // The observatory declares the topology; the Rust requester daemon and MSA responder stay
    // down: the Python clients play them.
    for daemon in [OBSERVATORY_DAEMON, RUST_BODIES[0], RUST_BODIES[1]] {
        stack.start_daemon(daemon);
    }
    let log_path = stack.dir().join("python-responder.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let _responder = Killed(
        example(&interpreter, &generated, "responder.py")
            .args(["--amqp-url", stack.url(), "--body", PYTHON_BODY, "--extract"])
            .arg(stack.extract(PYTHON_BODY))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let responder_log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    eventually("the Python responder consumes its solicitations", TIMEOUT, || responder_log().contains("consuming"));

    let out = stack.dir().join("python-result.jsonl");
    let requester = example(&interpreter, &generated, "requester.py")
        .args(["--amqp-url", stack.url(), "--body", REQUESTER_BODY, "--office", REQUESTER_OFFICE])
        .args(["--observatory", OBSERVATORY, "--want", "3,4,7", "--chunk-size", "30", "--timeout", "60"])
        .arg("--selection")
        .arg(stack.selection())
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let summary = String::from_utf8_lossy(&requester.stdout).into_owned();
    assert!(
        requester.status.success(),
        "requester.py failed ({}): {summary}\n{}\n---- responder.py ----\n{}\n{}",
        requester.status,
        String::from_utf8_lossy(&requester.stderr),
        responder_log(),
        stack.log_tails(30)
    );
    assert_eq!(summary.lines().count(), 1, "a one-line summary: {summary}");
    assert!(summary.contains("result complete") && summary.contains("receipt sent"), "{summary}");
    let case = summary.split_whitespace().nth(1).unwrap().trim_end_matches(':').to_owned();

    // The result: each person once; msa's answer (Python) and cnam's and cnav's (Rust) as their
    // extracts hold them — found where the extract knows the person, with exactly the values it
    // holds for the categories asked, not found elsewhere.
    let extracts: Vec<(&str, PathBuf)> =
        [PYTHON_BODY, RUST_BODIES[0], RUST_BODIES[1]].iter().map(|b| (*b, stack.extract(b))).collect();
    let expected = support::stack::Expected::read(&stack.selection(), &extracts);
    let rows = support::read_jsonl(&out);
    let mut seen = BTreeSet::new();
    let mut statuses: BTreeMap<(String, String), u32> = BTreeMap::new();
    for row in rows.iter().filter(|r| r.get("refused").is_none()) {
        let nir = row["nir"].as_str().unwrap();
        assert!(seen.insert(nir.to_owned()), "a person twice in the result");
        let person = expected.persons.get(nir).expect("a person of the selection");
        let answers = row["answers"].as_array().unwrap();
        let bodies: BTreeSet<&str> = answers.iter().map(|a| a["body"].as_str().unwrap()).collect();
        assert_eq!(bodies, [PYTHON_BODY, RUST_BODIES[0], RUST_BODIES[1]].into(), "line {}", person.line);
        for answer in answers {
            let body = answer["body"].as_str().unwrap();
            let status = answer["status"].as_str().unwrap();
            *statuses.entry((body.to_owned(), status.to_owned())).or_default() += 1;
            let known = &person.bodies[body];
            assert_eq!(status, if known.is_some() { "FOUND" } else { "NOT_FOUND" }, "{body}, line {}", person.line);
            let values: BTreeMap<String, String> = answer["values"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect();
            let asked: BTreeMap<String, String> =
                known.iter().flatten().filter(|(code, _)| asked(code)).map(|(k, v)| (k.clone(), v.clone())).collect();
            if body == PYTHON_BODY {
                // The MSA holds every category: the values are exactly the extract's.
                assert_eq!(values, asked, "msa's values, line {}", person.line);
            } else {
                // A Rust body answers what it holds: a part of its extract, never anything else.
                assert!(values.iter().all(|(k, v)| asked.get(k) == Some(v)), "{body}'s values, line {}", person.line);
            }
        }
    }
    assert!(seen.len() as u64 >= PERSONS * 9 / 10, "{} persons in the result of {PERSONS}", seen.len());
    for status in ["FOUND", "NOT_FOUND"] {
        assert!(statuses.contains_key(&(PYTHON_BODY.to_owned(), status.to_owned())), "msa {status}: {statuses:?}");
    }

    // The observatory merged the Python responses without a violation, and the receipt purged
    // the case.
    let audit = stack.audit(Some(&case));
    assert!(audit.iter().any(|e| e["action"] == "response_received"), "{audit:#?}");
    assert!(!audit.iter().any(|e| e["action"] == "violation"), "{audit:#?}");
    eventually(&format!("case {case} purged by the observatory"), TIMEOUT, || {
        stack.audit(Some(&case)).iter().any(|e| e["action"] == "purge")
    });
    assert!(responder_log().contains("answered"), "{}", responder_log());
    eprintln!("python partner: {} persons in {:?}", seen.len(), started.elapsed());
}

/// The client's own unit tests (`examples/python/test_partner.py`: the matching rule, the
/// declines, the value syntax, the properties and headers, the age rule), no broker needed.
#[test]
fn the_python_partners_unit_tests_pass() {
    let Some((interpreter, generated)) = python() else { return };
    let out = Command::new(interpreter)
        .args(["-W", "error", "-m", "unittest", "-q", "test_partner"])
        .current_dir(root().join("examples/python"))
        .env("PARTNER_PROTO_GEN", generated)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Whether a category code is in one of the domains asked ([`WANT_DOMAINS`]).
fn asked(code: &str) -> bool {
    passerelle_protocol::catalogue::by_code(code)
        .is_some_and(|info| WANT_DOMAINS.iter().any(|d| info.decree_ref.starts_with(&format!("art. 2, {d}"))))
}
