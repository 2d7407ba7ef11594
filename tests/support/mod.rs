//! Helpers shared by the top-level tests of the operator-facing commands (`demo`, `ctl`, the
//! deploy kit, metrics): the binary, the synthetic selection's NIRs, and a byte scan for NIRs in
//! files (ASCII and UTF-16, both byte orders), and a TCP proxy in front of the test broker. The test broker's helpers come from
//! `passerelle-test-support`, re-exported here for the modules that name them through `support`.
#![allow(dead_code)]

pub mod accounts;
pub mod proxy;
pub mod stack;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

pub use passerelle_test_support::broker::vhost_of as vhost;
pub use passerelle_test_support::{amqp_url, broker_reachable_or_skip};

/// The length of a NIR.
const NIR_LEN: usize = 15;

pub fn passerelle() -> Command {
    Command::new(env!("CARGO_BIN_EXE_passerelle"))
}

/// A command's stderr as text.
pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts exit 3 and one `invalid settings` line containing every `part`; returns it.
pub fn refused(o: &std::process::Output, parts: &[&str]) -> String {
    let text = stderr(o);
    assert_eq!(o.status.code(), Some(3), "{text}");
    let line =
        text.lines().find(|l| l.starts_with("passerelle: invalid settings: ")).unwrap_or_else(|| panic!("{text}"));
    for part in parts {
        assert!(line.contains(part), "`{part}` is not in: {line}");
    }
    line.to_owned()
}

/// The NIR and former NIRs of every record of a (synthetic) selection file.
/// Every entry of the access log in `data_dir` (`access.db`), oldest year first: read beside
/// the daemon that writes it, or after it stopped.
pub fn access_entries(data_dir: &Path) -> Vec<passerelle_access_log::StoredEntry> {
    let path = data_dir.join(passerelle_access_log::ACCESS_LOG_FILE);
    let log = passerelle_access_log::AccessLog::open(&path, passerelle_access_log::LegalCalendar::default()).unwrap();
    let mut entries = Vec::new();
    for year in log.years().unwrap() {
        entries.extend(log.entries(year, 1, 1_000_000).unwrap());
    }
    entries
}

/// The account this test runs as (its uid's name): what the daemons' local APIs see.
pub fn my_account() -> String {
    passerelle_local_api::own_account().unwrap().expect("the test's uid has an account name")
}

/// Writes `dir/agents.toml`: the test's account as an agent with `roles` (and the office
/// `caf-13`, for a scoped role). Returns its path.
pub fn write_registry(dir: &Path, roles: &[&str]) -> PathBuf {
    let path = dir.join("agents.toml");
    let roles = roles.iter().map(|r| format!("\"{r}\"")).collect::<Vec<_>>().join(", ");
    let text = format!(
        "[[agent]]\naccount = \"{}\"\nid = \"agent-test\"\nname = \"Agent Test\"\nroles = [{roles}]\noffice = \"caf-13\"\n",
        my_account()
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// The registry of a test stack: the test's account holds every role a CLI call of the tests
/// needs at the observatory (audit trail, operators' status).
pub fn write_agent_registry(dir: &Path) -> PathBuf {
    write_registry(dir, &["observatory-agent", "auditor", "operator"])
}

/// A daemon's local API over the store its settings file names, served in this process on the
/// in-process bus without running the service: the store changes only by what the calls do.
/// For the commands that read or write a store a test prepared (`ctl status`, `audit show`,
/// `stats`, the requester's and the responder's commands). Stops when dropped.
#[derive(Debug)]
pub struct ServedObservatory {
    runtime: Option<tokio::runtime::Runtime>,
    party: Option<passerelle_party::Party>,
}

/// [`serve_party`] for an observatory.
pub fn serve_observatory(config: &Path) -> ServedObservatory {
    serve_party(passerelle_party::PartyKind::Observatory, config)
}

/// The local API of the party of `kind` whose settings `config` holds (see [`ServedObservatory`]).
pub fn serve_party(kind: passerelle_party::PartyKind, config: &Path) -> ServedObservatory {
    use passerelle_party::{Party, PartySettings};
    // On the in-process bus: no broker identity to check.
    let settings = PartySettings::load_local(kind, config).unwrap_or_else(|e| panic!("{e:#}"));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let party = runtime.block_on(async {
        let bus = passerelle_bus::InProcessBus::new(settings.broker());
        let connection: std::sync::Arc<dyn passerelle_bus::Bus> = std::sync::Arc::new(bus.connect_as(settings.code()));
        Party::build_on_with_api(settings, connection).await.unwrap_or_else(|e| panic!("{e:#}"))
    });
    ServedObservatory { runtime: Some(runtime), party: Some(party) }
}

impl Drop for ServedObservatory {
    fn drop(&mut self) {
        if let (Some(runtime), Some(party)) = (self.runtime.take(), self.party.take()) {
            runtime.block_on(party.close());
        }
    }
}

pub fn nirs_of_selection(path: &Path) -> Vec<(String, Vec<String>)> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let headers = reader.headers().unwrap().clone();
    let nir = headers.iter().position(|h| h == "nir").unwrap();
    let former = headers.iter().position(|h| h == "former_nirs").unwrap();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            let formers = r[former].split('|').map(|n| n.replace(' ', "")).filter(|n| !n.is_empty()).collect();
            (r[nir].replace(' ', ""), formers)
        })
        .collect()
}

/// Every JSON object of a JSON Lines file.
pub fn read_jsonl(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// The byte sequences in which a 15-character ASCII text can appear: as is, and as UTF-16 in
/// either byte order at either alignment (each narrowed back to one byte per character; a
/// position that is not a UTF-16 code unit of an ASCII character becomes 0xFF).
fn narrowed(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut views = vec![bytes.to_vec()];
    for align in 0..2 {
        let pairs = bytes[align.min(bytes.len())..].chunks_exact(2);
        let (mut le, mut be) = (Vec::with_capacity(bytes.len() / 2), Vec::with_capacity(bytes.len() / 2));
        for pair in pairs {
            le.push(if pair[1] == 0 && pair[0] != 0 { pair[0] } else { 0xFF });
            be.push(if pair[0] == 0 && pair[1] != 0 { pair[1] } else { 0xFF });
        }
        views.push(le);
        views.push(be);
    }
    views
}

/// Scans every file under `dir` for the NIRs `needles` (ASCII and UTF-16). Returns how many files
/// were scanned and the hits as `(file, NIR)`.
pub fn scan_for(dir: &Path, needles: &[String]) -> (usize, Vec<(String, String)>) {
    let wanted: HashSet<&[u8]> = needles.iter().map(|n| n.as_bytes()).filter(|n| n.len() == NIR_LEN).collect();
    let mut files = Vec::new();
    files_under(dir, &mut files);
    let mut hits = Vec::new();
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        let mut found: HashSet<String> = HashSet::new();
        for view in narrowed(&bytes) {
            for window in view.windows(NIR_LEN) {
                if wanted.contains(window) {
                    found.insert(String::from_utf8_lossy(window).into_owned());
                }
            }
        }
        hits.extend(found.into_iter().map(|n| (file.display().to_string(), n)));
    }
    (files.len(), hits)
}

/// Asserts that no queue or exchange of `prefix` exists on the broker: the bus's own passive
/// check must fail for every body, and `rabbitmqctl` (when this machine has it) lists nothing.
pub fn assert_no_topology_left(url: &str, prefix: &str) {
    let settings = passerelle_bus::BusSettings {
        urls: vec![url.to_owned()],
        prefix: prefix.to_owned(),
        ..passerelle_bus::BusSettings::default()
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for body in ["cnam", "cnav", "cnaf", "msa"] {
        let checked =
            runtime.block_on(passerelle_bus::AmqpBus::connect(&settings, passerelle_bus::Role::Body(body.into())));
        match checked {
            Ok(bus) => {
                runtime.block_on(bus.close());
                panic!("the queues of {body} under {prefix} still exist");
            }
            Err(e) => assert!(e.to_string().contains("topology"), "{e}"),
        }
    }
    for what in ["list_queues", "list_exchanges"] {
        let Ok(output) = Command::new("rabbitmqctl").args([what, "-q", "-p", &vhost(url), "name"]).output() else {
            return;
        };
        if !output.status.success() {
            return;
        }
        let listed = String::from_utf8_lossy(&output.stdout);
        let left: Vec<&str> = listed.lines().filter(|l| l.starts_with(&format!("{prefix}."))).collect();
        assert!(left.is_empty(), "{what} still shows {left:?}");
    }
}

/// A parsed Prometheus / OpenMetrics text exposition.
#[derive(Debug, Default)]
pub struct Exposition {
    /// Family name → its `# TYPE`.
    pub types: std::collections::BTreeMap<String, String>,
    /// `name{k="v",…}` (labels as written) → value.
    pub samples: std::collections::BTreeMap<String, f64>,
}

impl Exposition {
    /// Parses the text, checking its shape: every sample belongs to a family declared by a
    /// `# TYPE` line before it, every value is a number, and the text ends with `# EOF`.
    pub fn parse(text: &str) -> Exposition {
        let mut e = Exposition::default();
        assert_eq!(text.lines().last(), Some("# EOF"), "an OpenMetrics exposition ends with # EOF");
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
                assert!(e.types.insert(name.to_owned(), kind.to_owned()).is_none(), "family {name} declared twice");
                continue;
            }
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("not a sample: {line}"));
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("not a number in {line}"));
            let name = series.split('{').next().unwrap();
            let family = ["_total", "_bucket", "_count", "_sum"]
                .iter()
                .find_map(|s| name.strip_suffix(s).filter(|f| e.types.contains_key(*f)))
                .unwrap_or(name);
            assert!(e.types.contains_key(family), "sample {series} has no # TYPE");
            e.samples.insert(series.to_owned(), value);
        }
        e
    }

    /// The value of a series, e.g. `passerelle_observatory_cases{state="purged"}`.
    pub fn get(&self, series: &str) -> f64 {
        *self.samples.get(series).unwrap_or_else(|| panic!("no series {series} in {:#?}", self.samples.keys()))
    }
}
