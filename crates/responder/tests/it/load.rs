//! `responder load`: the rejection report lists exactly the bad lines, the good lines are
//! indexed, and a load that cannot finish leaves the current index alone.

use crate::common;

use common::*;
use passerelle_bus::BusSettings;
use passerelle_protocol::v1::{Category, Sex};
use passerelle_responder::index::IndexReader;
use passerelle_responder::{load_extract, load_extract_with, LoadError, LoadOptions, Subject};
use passerelle_selection::{Encoding, ReportFormat, ReportWriter};

fn subject(n: u32) -> Subject {
    Subject { nirs: vec![nir(n)], sex: None, birth_year: None }
}

#[test]
fn bad_lines_are_reported_exactly_and_good_lines_indexed() {
    let dir = tempfile::tempdir().unwrap();
    let settings = extract_settings(&dir.path().join("data"), BusSettings::default());
    let path = dir.path().join("extract.csv");
    let bad_key = {
        let mut t = nir(3).as_str().to_owned();
        let last = if t.ends_with('0') { '1' } else { '0' };
        t.pop();
        t.push(last);
        t
    };
    let text = format!(
        "nir;sex;birth_year;rsa;household_annual_resources;long_term_condition\n\
         {n1};M;1950;oui;1200,50;true\n\
         {n2};F;1948;peut-être;;\n\
         {bad_key};F;1950;non;;\n\
         {n4};X;1950;non;;\n\
         {n5};;;true;12.345;\n\
         {n6};M;1951;non\n\
         {n1};M;1950;non;;\n\
         {n7};F;;non;;\n",
        n1 = nir(1).as_str(),
        n2 = nir(2).as_str(),
        n4 = nir(4).as_str(),
        n5 = nir(5).as_str(),
        n6 = nir(6).as_str(),
        n7 = nir(7).as_str(),
    );
    std::fs::write(&path, text).unwrap();
    let mut report = ReportWriter::new(ReportFormat::Json, Vec::new());
    let summary = load_extract(&settings, &path, Encoding::Utf8, &mut report).unwrap();
    let lines = json_lines(&report.into_inner());
    let rejected: Vec<(u64, Option<String>)> = lines
        .iter()
        .filter(|l| l.get("line").is_some())
        .map(|l| (l["line"].as_u64().unwrap(), l["field"].as_str().map(str::to_owned)))
        .collect();
    let f = |s: &str| Some(s.to_owned());
    assert_eq!(
        rejected,
        vec![
            (3, f("rsa")),
            (4, f("nir")),
            (5, f("sex")),
            (6, f("household_annual_resources")),
            (7, None),
            (8, f("nir")),
        ],
        "{lines:#?}"
    );
    for l in &lines {
        for n in 1..=7 {
            assert!(!l.to_string().contains(nir(n).as_str()), "a report never repeats a NIR: {l}");
        }
    }
    let last = lines.last().unwrap();
    assert_eq!(last["summary"], serde_json::json!({"lines": 8, "valid": 2, "rejected": 6}));
    assert_eq!((summary.lines.valid, summary.lines.rejected, summary.index.persons), (2, 6, 2));
    // `long_term_condition` is health data: the CNAF does not hold it, so it is not indexed.
    assert_eq!(summary.ignored_columns, vec!["long_term_condition"]);
    assert!(summary.missing_columns.contains(&"housing_aid"));

    let reader = IndexReader::new(settings.index_path(), BODY);
    let everything: Vec<Category> = passerelle_protocol::catalogue::CATEGORIES.iter().map(|i| i.category).collect();
    let answer = reader.lookup(&(1..=7).map(subject).collect::<Vec<_>>(), &everything).unwrap();
    let one = answer.persons[0].as_ref().expect("line 2 is indexed");
    assert_eq!((one.rsa, one.household_annual_resources, one.long_term_condition), (Some(true), Some(120_050), None));
    let seven = answer.persons[6].as_ref().expect("line 9 is indexed");
    assert_eq!(seven.rsa, Some(false));
    assert!(answer.persons[1..6].iter().all(Option::is_none), "rejected lines are not indexed");
    // Line 9 gave a sex but no birth year: the sex still has to agree.
    let man = Subject { nirs: vec![nir(7)], sex: Some(Sex::Male), birth_year: Some(1940) };
    assert_eq!(reader.lookup(&[man], &everything).unwrap().persons, vec![None]);
}

#[test]
fn a_load_that_cannot_finish_keeps_the_current_index() {
    let dir = tempfile::tempdir().unwrap();
    let settings = extract_settings(&dir.path().join("data"), BusSettings::default());
    let good = dir.path().join("good.csv");
    write_extract(&good, &[Line::new(&nir(1)).rsa("true")]);
    load(&settings, &good);
    let reader = IndexReader::new(settings.index_path(), BODY);
    let before = reader.info().unwrap();

    // Unusable header: the header problems are reported, nothing is loaded.
    let unusable = dir.path().join("unusable.csv");
    std::fs::write(&unusable, format!("nir,family_name,rsa\n{},Martin,true\n", nir(2).as_str())).unwrap();
    let mut report = ReportWriter::new(ReportFormat::Json, Vec::new());
    let err = load_extract(&settings, &unusable, Encoding::Utf8, &mut report).unwrap_err();
    assert!(matches!(err, LoadError::Unusable(_)), "{err}");
    let lines = json_lines(&report.into_inner());
    assert_eq!(lines.len(), 1);
    assert_eq!((lines[0]["line"].as_u64(), lines[0]["field"].as_str()), (Some(1), Some("family_name")));

    // No valid line at all: most likely the wrong file.
    let all_bad = dir.path().join("all-bad.csv");
    std::fs::write(&all_bad, "nir,rsa\n123,true\n").unwrap();
    let mut report = ReportWriter::new(ReportFormat::Json, Vec::new());
    let err = load_extract(&settings, &all_bad, Encoding::Utf8, &mut report).unwrap_err();
    assert!(matches!(err, LoadError::NothingValid), "{err}");

    assert_eq!(reader.info().unwrap(), before, "the current index is untouched");
    let leftovers: Vec<_> = std::fs::read_dir(&settings.data_dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 1, "no work file left behind: {leftovers:?}");
}

/// An extract of persons `range`, each with `rsa = true`, and `bad` more lines whose NIR is not
/// one (rejected).
fn extract_of(path: &std::path::Path, range: std::ops::Range<u32>, bad: u32) {
    let mut text = String::from("nir,rsa\n");
    for n in range {
        text.push_str(&format!("{},true\n", nir(n).as_str()));
    }
    for n in 0..bad {
        text.push_str(&format!("12345{n},true\n"));
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn an_extract_that_loses_more_than_the_share_keeps_the_index_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let settings = extract_settings(&dir.path().join("data"), BusSettings::default());
    let reader = IndexReader::new(settings.index_path(), BODY);
    let full = dir.path().join("full.csv");
    extract_of(&full, 0..40, 0);
    load(&settings, &full);
    let before = reader.info().unwrap();
    assert_eq!(before.persons, 40);

    // Half the lines rejected (a format change, say): 20 persons instead of 40 — refused.
    let half_bad = dir.path().join("half-bad.csv");
    extract_of(&half_bad, 0..20, 20);
    let mut report = ReportWriter::new(ReportFormat::Json, Vec::new());
    let err = load_extract(&settings, &half_bad, Encoding::Utf8, &mut report).unwrap_err();
    assert!(matches!(err, LoadError::TooMuchLoss { previous: 40, new: 20, max: 10, rejected: 20 }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("an index of 40 persons with one of 20, 20 fewer (50.0 %), more than the 10 % allowed"),
        "{message}"
    );
    assert!(message.contains("--force"), "{message}");
    assert_eq!(json_lines(&report.into_inner()).len(), 21, "20 rejected lines and the summary are still reported");
    assert_eq!(reader.info().unwrap(), before, "the current index is kept");
    let leftovers = std::fs::read_dir(&settings.data_dir).unwrap().count();
    assert_eq!(leftovers, 1, "no work file left behind");

    // A looser limit, or --force, replaces it.
    let mut report = ReportWriter::new(ReportFormat::Json, Vec::new());
    let options = LoadOptions { max_loss_percent: 50, ..LoadOptions::new(Encoding::Utf8) };
    load_extract_with(&settings, &half_bad, &options, &mut report).expect("50 % lost is within 50 %");
    assert_eq!(reader.info().unwrap().persons, 20);
    load(&settings, &full);
    let options = LoadOptions { force: true, ..LoadOptions::new(Encoding::Utf8) };
    let summary = load_extract_with(&settings, &half_bad, &options, &mut report).expect("forced");
    assert_eq!((summary.index.persons, summary.lines.rejected), (20, 20));
    assert_eq!(reader.info().unwrap().persons, 20);

    // Within the default share (4 of 40 lost, 10 %), and growing, replace it without --force.
    let most = dir.path().join("most.csv");
    extract_of(&most, 0..36, 0);
    load(&settings, &full);
    load(&settings, &most);
    assert_eq!(reader.info().unwrap().persons, 36);
    load(&settings, &full);
    assert_eq!(reader.info().unwrap().persons, 40);
}
