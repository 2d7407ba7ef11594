//! `passerelle synth` as a user runs it: the real binary writes a population into a folder, the
//! files and the manifest agree, and `passerelle requester check` accepts the whole selection.

use std::path::Path;

use passerelle_synth::{extract_columns, extract_file_name, Manifest, SELECTION_FILE};

use crate::support::passerelle;

const PERSONS: u64 = 2000;

fn synth(out: &Path, extra: &[&str]) -> std::process::Output {
    passerelle()
        .args(["synth", "--persons", &PERSONS.to_string(), "--year", "2025", "--out"])
        .arg(out)
        .args(extra)
        .output()
        .expect("the passerelle binary runs")
}

/// The header and the number of data rows (synth never writes a line break inside a field).
fn data_rows(path: &Path) -> (String, u64) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().to_owned();
    (header, lines.count() as u64)
}

#[test]
fn synth_writes_the_selection_the_extracts_and_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let output = synth(dir.path(), &["--seed", "7"]);
    assert!(output.status.success(), "stderr: {}", String::from_utf8_lossy(&output.stderr));
    assert!(output.stderr.is_empty(), "no progress bar when stderr is not a terminal");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("2000 persons"), "{stdout}");

    let manifest = Manifest::read(dir.path()).unwrap();
    assert_eq!((manifest.persons, manifest.seed, manifest.reference_year), (PERSONS, 7, 2025));
    assert_eq!(manifest.territory, "carsat-sud-est");
    assert_eq!(manifest.requester, "cnaf");

    let (header, rows) = data_rows(&dir.path().join(SELECTION_FILE));
    assert!(header.starts_with("nir,former_nirs,family_name,usage_name,given_names,sex,birth_year,commune_code"));
    assert_eq!(rows, PERSONS);
    for body in ["cnam", "cnav", "cnaf", "msa"] {
        let file = extract_file_name(body);
        let (header, rows) = data_rows(&dir.path().join(&file));
        assert_eq!(header, extract_columns(body).join(","));
        assert_eq!(rows, manifest.files[&file]);
        assert_eq!(rows, manifest.bodies[body].persons_known);
        assert!(rows > 0 && rows < PERSONS, "{body} knows part of the population: {rows}");
    }

    // The same command again gives the same bytes.
    let again = tempfile::tempdir().unwrap();
    assert!(synth(again.path(), &["--seed", "7"]).status.success());
    for file in [SELECTION_FILE, "extract-msa.csv", "manifest.json"] {
        assert!(
            std::fs::read(dir.path().join(file)).unwrap() == std::fs::read(again.path().join(file)).unwrap(),
            "{file} differs"
        );
    }
}

#[test]
fn an_unknown_territory_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = synth(dir.path(), &["--territory", "carsat-atlantide"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown territory `carsat-atlantide`") && stderr.contains("cnav-idf"), "{stderr}");
}

#[test]
fn every_synthetic_selection_record_passes_requester_check() {
    let dir = tempfile::tempdir().unwrap();
    assert!(synth(dir.path(), &["--territory", "all"]).status.success());
    let output = passerelle()
        .args(["requester", "check", "--year", "2025", "--json"])
        .arg(dir.path().join(SELECTION_FILE))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "stdout: {stdout}\nstderr: {}", String::from_utf8_lossy(&output.stderr));
    let summary: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(summary["summary"]["lines"], PERSONS);
    assert_eq!(summary["summary"]["valid"], PERSONS);
    assert_eq!(summary["summary"]["rejected"], 0);
}

/// Without `--year`, the population is as of today: every record of a CPAM's selection (its
/// hospital stays included) passes `requester check` today for the health branch, as `submit`
/// checks it on the day of submission.
#[test]
fn a_population_of_today_passes_today_s_check_for_its_requester() {
    let dir = tempfile::tempdir().unwrap();
    let made = passerelle()
        .args(["synth", "--persons", &PERSONS.to_string(), "--requester", "cnam", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let output = passerelle()
        .args(["requester", "check", "--body", "cnam", "--json"])
        .arg(dir.path().join(SELECTION_FILE))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "stdout: {stdout}");
    let summary: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(summary["summary"]["valid"], PERSONS);
}

#[test]
fn social_files_are_one_json_object_a_line_keyed_by_catalogue_path() {
    let dir = tempfile::tempdir().unwrap();
    let output = synth(dir.path(), &["--social-files", "300"]);
    assert!(output.status.success(), "stderr: {}", String::from_utf8_lossy(&output.stderr));
    let text = std::fs::read_to_string(dir.path().join("social-files.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 300);
    for line in &lines {
        let fields = line["file"].as_object().unwrap();
        assert!(fields.keys().all(|k| passerelle_social_file::field(k).is_some()), "{fields:?}");
        assert!(matches!(line["file"]["identity.number_kind"].as_str(), Some("nir" | "temporary")), "{line}");
        assert!(!line["actions"].as_array().unwrap().is_empty());
    }
}
