//! What `passerelle stats` lets a statistics agent do, through the real binary and the
//! observatory daemon's local API: read the aggregates and follow a person by pseudonym, never
//! give a NIR (refused without being repeated, before any file or daemon is reached); the
//! pseudonym key stays the daemon's, outside the statistics folder.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::SystemTime;

use passerelle_observatory_store::statistics::{ChunkStatistics, StatisticsRow};
use passerelle_observatory_store::{Pseudonymiser, StatisticsStore};

use crate::support::{passerelle, stderr};

/// A synthetic NIR (born May 1950, Marseille), never a real person's.
fn synthetic_nir() -> String {
    passerelle_protocol::nir::with_key("2500513055001").unwrap().as_str().to_owned()
}

/// A production observatory's settings file, its `data_dir` in `dir/data`.
fn observatory_file(dir: &Path) -> PathBuf {
    let path = dir.join("observatory.toml");
    let text = format!(
        "code = \"carsat-sud-est\"\ndata_dir = \"{}\"\n[broker]\nurls = [\"amqp://127.0.0.1:1/%2f\"]\n[agents]\nregistry = \"{}\"\n",
        dir.join("data").display(),
        crate::support::write_registry(dir, &["statistics-agent"]).display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// The statistics store of `data_dir` with the synthetic person in two cases, written as the
/// daemon writes it (the test plays the daemon's part: it alone holds the key); the pseudonym.
fn statistics_of_two_cases(data_dir: &Path) -> String {
    let key = data_dir.join("statistics.key");
    let pseudonym = Pseudonymiser::load_or_create(&key).unwrap().pseudonym(&synthetic_nir());
    let store = StatisticsStore::open(&data_dir.join("statistics/statistics.db")).unwrap();
    for case_id in ["case-one", "case-two"] {
        let row = StatisticsRow {
            pseudonym: pseudonym.clone(),
            case_id: case_id.into(),
            recorded_at: SystemTime::now(),
            territory: "13".into(),
            requester: "cnaf".into(),
            requester_office: "caf-13".into(),
            service: "prevention-workshop".into(),
            requested: vec!["css".into()],
            sex: "F".into(),
            birth_year: 1950,
            values: Vec::new(),
            answers: vec![("cnam".into(), "found".into())],
        };
        store.record(&[ChunkStatistics { case_id: case_id.into(), chunk: 0, rows: vec![row] }]).unwrap();
    }
    pseudonym
}

fn stats(config: &Path, args: &[&str]) -> Output {
    passerelle().arg("stats").arg("--config").arg(config).args(args).output().unwrap()
}

#[test]
fn a_nir_is_refused_without_being_repeated_and_reaches_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = observatory_file(dir.path());
    let nir = synthetic_nir();
    let spaced = format!(
        "{} {} {} {} {} {} {}",
        &nir[..1],
        &nir[1..3],
        &nir[3..5],
        &nir[5..7],
        &nir[7..10],
        &nir[10..13],
        &nir[13..]
    );
    for given in [nir.as_str(), &nir[..13], spaced.as_str()] {
        let o = stats(&config, &["--pseudonym", given]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains("--pseudonym: this is a NIR, not a pseudonym"), "{err}");
        assert!(err.contains("only the observatory daemon"), "the message says why: {err}");
        assert!(!err.contains(&nir[..13]) && !err.contains(&nir[5..10]), "the NIR is not repeated: {err}");
        assert!(o.stdout.is_empty());
    }
    assert!(!dir.path().join("data").exists(), "refused before any file is opened");
    let o = stats(&config, &["--pseudonym", "not-a-pseudonym"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("a pseudonym is 64 hexadecimal digits"), "{}", stderr(&o));
    let help = String::from_utf8(passerelle().args(["stats", "--help"]).output().unwrap().stdout).unwrap();
    assert!(help.contains("A NIR is refused"), "{help}");
}

#[test]
fn a_statistics_agent_follows_a_person_by_pseudonym_through_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let config = observatory_file(dir.path());
    let data_dir = dir.path().join("data");
    let pseudonym = statistics_of_two_cases(&data_dir);
    // The daemon reads its statistics store for the agent; the command never reads the key.
    let _observatory = crate::support::serve_observatory(&config);
    for given in [pseudonym.clone(), pseudonym.to_uppercase()] {
        let o = stats(&config, &["--json", "--pseudonym", &given]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let object: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let cases: Vec<&str> =
            object["appearances"].as_array().unwrap().iter().map(|a| a["case_id"].as_str().unwrap()).collect();
        assert_eq!(cases, ["case-one", "case-two"], "{object}");
    }
    let o = stats(&config, &["--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["distinct_pseudonyms"], 1, "{report}");
    assert!(!String::from_utf8_lossy(&o.stdout).contains(&synthetic_nir()));
    // Each read is an entry of the access log, by the agent, of `statistics`.
    let reads: Vec<_> = crate::support::access_entries(&data_dir)
        .into_iter()
        .filter(|e| e.kind.as_str() == "read" && e.agent == "agent:agent-test" && e.object == "statistics")
        .collect();
    assert_eq!(reads.len(), 3, "{reads:#?}");
}
