//! `passerelle conformance responder` over the real broker, each run in a vhost of its own
//! (deleted with everything in it): against the Rust responder (`responder run`, the extract the
//! command wrote) and the Python reference responder (`examples/python/responder.py`) every rule
//! passes; against a Rust responder whose extract lost its former NIRs and that holds a category
//! the command was told it does not, and against the Python one broken four ways
//! (`tests/conformance/broken_responder.py`), exactly the rules broken fail, by name, with exit 1.
//!
//! The Python interpreter is the venv `scripts/test` makes (`target/python-venv`, or
//! `PARTNER_PYTHON`), the protobuf modules its generated ones (`target/python-gen`, or
//! `PARTNER_PROTO_GEN`), the reference client `examples/python` (or `PARTNER_EXAMPLES`). Without
//! them the Python tests are skipped, said on stderr; under `CI=true` they fail.

use crate::support;

use std::any::Any;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Instant;

use passerelle_bus::amqp::AmqpBus;
use passerelle_bus::{BusSettings, Role};
use passerelle_party::process::SpawnedParty;
use passerelle_party::{PartyKind, PartySettings};
use passerelle_test_support::Vhost;
use support::proxy::free_port;

/// The observatory code the command plays (its default).
const OBSERVATORY: &str = "conformance";
const BODY: &str = "cnaf";

pub(crate) fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A vhost of the test's own, with the topology the partner's responder checks at start declared
/// (as `conformance` itself declares it).
fn vhost_with_topology(prefix: &str) -> Vhost {
    let vhost = Vhost::new();
    let broker = BusSettings {
        urls: vec![vhost.url()],
        prefix: prefix.to_owned(),
        observatories: vec![OBSERVATORY.to_owned()],
        bodies: vec![BODY.to_owned()],
        ..BusSettings::default()
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let observatory = AmqpBus::connect(&broker, Role::Observatory(OBSERVATORY.to_owned())).await.unwrap();
        observatory.close().await;
    });
    vhost
}

/// `passerelle conformance responder --body cnaf` with `extra` flags.
fn conformance(extra: &[String]) -> Output {
    support::passerelle().args(["conformance", "responder", "--body", BODY]).args(extra).output().unwrap()
}

/// The Rust responder of `body` on `url`/`prefix`, its extract loaded, started.
fn rust_responder(dir: &Path, url: &str, prefix: &str, extract: &Path, _holds: Option<&str>) -> Box<dyn Any> {
    let data_dir = dir.join("responder");
    let config = dir.join("responder.toml");
    std::fs::write(
        &config,
        format!(
            "profile = \"development\"\nbody = {BODY:?}\ndata_dir = {data_dir:?}\nmetrics_addr = \"127.0.0.1:{port}\"\n\n\
             [broker]\nurls = [{url:?}]\nprefix = {prefix:?}\nobservatories = [{OBSERVATORY:?}]\nbodies = [{BODY:?}]\n\n\
             [source]\nkind = \"extract\"\n",
            port = free_port(),
        ),
    )
    .unwrap();
    let load = support::passerelle()
        .args(["responder", "load", "--without-daemon", "--config"])
        .arg(&config)
        .arg(extract)
        .output()
        .unwrap();
    assert_eq!(load.status.code(), Some(0), "{}", text(&load));
    let settings = PartySettings::load(PartyKind::Responder, &config).unwrap();
    let mut daemon =
        SpawnedParty::new("responder", env!("CARGO_BIN_EXE_passerelle"), &settings, &config, dir.join("responder.log"))
            .unwrap();
    daemon.spawn().unwrap();
    Box::new(daemon)
}

pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The venv's interpreter, the generated modules and the reference client's folder, or `None`
/// (skip) outside CI.
pub(crate) fn python() -> Option<(PathBuf, PathBuf, PathBuf)> {
    let from_env = |var: &str, default: &str| std::env::var_os(var).map_or_else(|| root().join(default), PathBuf::from);
    let interpreter = from_env("PARTNER_PYTHON", "target/python-venv/bin/python");
    let generated = from_env("PARTNER_PROTO_GEN", "target/python-gen");
    let examples = from_env("PARTNER_EXAMPLES", "examples/python");
    let ready = interpreter.exists()
        && generated.join("passerelle/v1/exchange_pb2.py").exists()
        && examples.join("responder.py").exists();
    if !ready {
        let why = format!(
            "no Python venv at {}, no generated protobuf modules in {} or no reference client in {}: run scripts/test",
            interpreter.display(),
            generated.display(),
            examples.display()
        );
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true and {why}");
        eprintln!("SKIPPED: {why}");
        return None;
    }
    Some((interpreter, generated, examples))
}

/// A child process killed when dropped (the test passes or panics).
pub(crate) struct Killed(pub(crate) Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A Python responder (`script`, the reference or a variant of it) on `url`/`prefix`, started.
fn python_responder(script: PathBuf) -> impl FnOnce(&Path, &str, &str, &Path, Option<&str>) -> Box<dyn Any> {
    move |dir, url, prefix, extract, holds| {
        let (interpreter, generated, examples) = python().expect("checked before");
        let mut command = Command::new(interpreter);
        command
            .arg(script)
            .args(["--amqp-url", url, "--prefix", prefix, "--body", BODY, "--extract"])
            .arg(extract)
            .env("PARTNER_PROTO_GEN", generated)
            .env("PARTNER_EXAMPLES", examples)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("python-responder.log")).unwrap());
        if let Some(holds) = holds {
            command.args(["--holds", holds]);
        }
        Box::new(Killed(command.spawn().unwrap()))
    }
}

/// The rule names of the report's lines that start with `status` (`PASS` or `FAIL`).
pub(crate) fn rules(report: &str, status: &str) -> Vec<String> {
    report
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{status} ")))
        .map(|l| l.split(' ').next().unwrap_or_default().to_owned())
        .collect()
}

/// Runs the check against the responder started by `start` (given the vhost's URL, the prefix
/// and the extract written by the command); returns the exit code and the report.
fn check_against(
    holds: Option<&str>,
    edit_extract: impl Fn(String) -> String,
    start: impl FnOnce(&Path, &str, &str, &Path, Option<&str>) -> Box<dyn Any>,
) -> Option<(Option<i32>, String)> {
    let url = support::amqp_url();
    if !support::broker_reachable_or_skip(&url) {
        return None;
    }
    let prefix = passerelle_test_support::unique_name("conform");
    let vhost = vhost_with_topology(&prefix);
    let dir = tempfile::tempdir().unwrap();
    let extract = dir.path().join("extract.csv");
    let holds_flag: Vec<String> = holds.map(|h| vec!["--holds".to_owned(), h.to_owned()]).unwrap_or_default();
    let write = [vec!["--write-extract".to_owned(), extract.to_str().unwrap().to_owned()], holds_flag.clone()].concat();
    let o = conformance(&write);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    std::fs::write(&extract, edit_extract(std::fs::read_to_string(&extract).unwrap())).unwrap();
    let partner = start(dir.path(), &vhost.url(), &prefix, &extract, holds);
    let started = Instant::now();
    let user = passerelle_test_support::broker::login(&vhost.url());
    let run = [
        [
            "--amqp-url",
            &vhost.url(),
            "--prefix",
            &prefix,
            "--deadline-s",
            "15",
            "--wait-s",
            "60",
            "--partner-user",
            &user,
        ]
        .map(str::to_owned)
        .to_vec(),
        holds_flag,
    ]
    .concat();
    let o = conformance(&run);
    eprintln!("conformance ran in {:?}:\n{}", started.elapsed(), text(&o));
    drop(partner);
    if let Ok(log) = std::fs::read_to_string(dir.path().join("python-responder.log")) {
        eprintln!("the Python responder's log:\n{log}");
    }
    Some((o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned()))
}

#[test]
fn the_rust_responder_passes_every_rule() {
    let Some((code, report)) = check_against(None, |e| e, rust_responder) else { return };
    assert_eq!(rules(&report, "FAIL"), Vec::<String>::new(), "{report}");
    assert_eq!(rules(&report, "PASS").len(), 29, "{report}");
    assert!(report.contains("conformance: all 29 rules passed"), "{report}");
    assert_eq!(code, Some(0), "{report}");
}

#[test]
fn a_responder_without_former_nirs_holding_more_than_said_fails_those_rules_by_name() {
    // The extract's former_nirs emptied (the responder ignores them); the command is told the
    // body does not hold `rsa`, which the Rust responder holds by default (it does not decline it).
    let no_former_nirs = |extract: String| {
        extract
            .lines()
            .map(|line| {
                let mut cells: Vec<&str> = line.split(',').collect();
                if cells[0] != "nir" {
                    cells[1] = "";
                }
                cells.join(",")
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let holds = "family_situation,housing_aid,disabled_adult_allowance,activity_bonus";
    let Some((code, report)) = check_against(Some(holds), no_former_nirs, rust_responder) else { return };
    assert_eq!(rules(&report, "FAIL"), ["former-nir-matched", "declines-not-held"], "{report}");
    assert!(report.contains("FAIL former-nir-matched — ") && report.contains("(FormerInExtract) answered NOT_FOUND"));
    assert!(report.contains("/ fix: match each of the solicitation's NIRs"), "{report}");
    assert_eq!(code, Some(1), "{report}");
}

#[test]
fn the_python_reference_responder_passes_every_rule() {
    let Some((_, _, examples)) = python() else { return };
    let Some((code, report)) = check_against(None, |e| e, python_responder(examples.join("responder.py"))) else {
        return;
    };
    assert_eq!(rules(&report, "FAIL"), Vec::<String>::new(), "{report}");
    assert_eq!(rules(&report, "PASS").len(), 29, "{report}");
    assert_eq!(code, Some(0), "{report}");
}

#[test]
fn the_python_responder_broken_four_ways_fails_those_four_rules_by_name() {
    if python().is_none() {
        return;
    }
    let broken = root().join("tests/conformance/broken_responder.py");
    let Some((code, report)) = check_against(None, |e| e, python_responder(broken)) else { return };
    assert_eq!(
        rules(&report, "FAIL"),
        ["chunk-headers", "one-answer-per-person", "former-nir-matched", "values-only-asked-and-held"],
        "{report}"
    );
    assert!(report.contains("FAIL chunk-headers — response #"), "{report}");
    assert!(report.contains("of the chunk's 6 persons not answered"), "{report}");
    assert!(report.contains(": values of css"), "{report}");
    assert_eq!(code, Some(1), "{report}");
}
