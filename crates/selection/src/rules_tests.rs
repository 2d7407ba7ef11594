//! Unit tests of the decree's rules a selection is checked against beyond syntax: the age to the
//! NIR's birth month on the reference date, the requester's branch for known risk factors
//! (art. 3), and the twelve months of `hospital_stays_12m`. Synthetic NIRs only.

use chrono::NaiveDate;
use passerelle_protocol::commune::CommuneTable;
use passerelle_protocol::nir::with_key;
use passerelle_protocol::territory::Territories;

use super::*;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// A man born in `yy`, NIR month field `mm` (as written: `03`, `33`, `20`…), in Paris.
fn nir(yy: u32, mm: &str, order: u32) -> String {
    with_key(&format!("1{:02}{mm}75123{order:03}", yy % 100)).unwrap().as_str().to_owned()
}

/// The problems of one record, as (field, reason) pairs: none for a valid record.
type Problems = Vec<(Option<&'static str>, String)>;

/// The problems of each record of `text` under the rules on `on` (for `branch`), by line.
fn verdicts(text: &str, on: NaiveDate, branch: Option<&str>) -> Vec<(u64, Problems)> {
    let territories = Territories::default();
    let mut rules = SelectionRules::on(on, CommuneTable::official(), &territories);
    if let Some(branch) = branch {
        rules = rules.for_branch(branch);
    }
    let mut reader = SelectionReader::new(text.as_bytes(), Encoding::Utf8, rules).unwrap();
    let mut out = Vec::new();
    for verdict in &mut reader {
        match verdict.unwrap() {
            Checked::Valid(p) => out.push((p.line, Vec::new())),
            Checked::Rejected(r) => {
                out.push((r.line, r.problems.iter().map(|p| (p.field, p.reason.to_string())).collect()))
            }
        }
    }
    out
}

const HEADER: &str = "nir,family_name,given_names,sex,birth_year,commune_code";

fn record(nir: &str, birth_year: u32) -> String {
    format!("{nir},Martin,Jean,M,{birth_year},75056")
}

#[test]
fn a_person_counts_as_55_only_from_the_last_day_of_the_nir_month() {
    let text = [
        HEADER.to_owned(),
        record(&nir(71, "03", 1), 1971), // March 1971
        record(&nir(71, "33", 2), 1971), // pseudo-fictitious: March
        record(&nir(71, "20", 3), 1971), // fictitious: as if December
        record(&nir(71, "99", 4), 1971), // fictitious: as if December
        record(&nir(71, "12", 5), 1971), // December
        record(&nir(70, "12", 6), 1970), // December, a year older
    ]
    .join("\n");
    let valid_lines = |on| -> Vec<u64> {
        verdicts(&text, on, None).into_iter().filter(|(_, p)| p.is_empty()).map(|(l, _)| l).collect()
    };
    assert_eq!(valid_lines(date(2026, 3, 30)), [7], "the day before the end of March: only the 1970-born");
    assert_eq!(valid_lines(date(2026, 3, 31)), [2, 3, 7], "March's persons from its last day");
    assert_eq!(valid_lines(date(2026, 12, 30)), [2, 3, 7]);
    assert_eq!(valid_lines(date(2026, 12, 31)), [2, 3, 4, 5, 6, 7], "December (or no month) from 31 December");
    let rejected = verdicts(&text, date(2026, 12, 8), None);
    let (line, problems) = &rejected[2];
    assert_eq!(*line, 4);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].0, Some("birth_year"));
    assert!(
        problems[0].1.contains("aged 54 on 2026-12-08") && problems[0].1.contains("only from 2026-12-31"),
        "{problems:?}"
    );
}

#[test]
fn check_year_means_the_31st_of_december() {
    let territories = Territories::default();
    let rules = SelectionRules::new(2026, CommuneTable::official(), &territories);
    assert_eq!(rules.reference_date, date(2026, 12, 31));
    assert_eq!(rules.reference_year(), 2026);
}

#[test]
fn known_risk_factors_outside_the_requester_s_branch_are_refused_per_line() {
    let text = format!(
        "{HEADER},survivor_pension,rsa\n{},true,\n{},,true\n{},,\n",
        record(&nir(50, "03", 1), 1950),
        record(&nir(50, "03", 2), 1950),
        record(&nir(50, "03", 3), 1950)
    );
    let cnav = verdicts(&text, date(2026, 12, 8), Some("cnav"));
    assert!(cnav[0].1.is_empty(), "survivor_pension is the pension branch's: {:?}", cnav[0]);
    assert_eq!(cnav[1].0, 3);
    assert_eq!(cnav[1].1.len(), 1, "{:?}", cnav[1]);
    assert_eq!(cnav[1].1[0].0, Some("rsa"));
    assert!(cnav[1].1[0].1.contains("the cnav branch") && cnav[1].1[0].1.contains("art. 3"), "{:?}", cnav[1]);
    assert!(cnav[2].1.is_empty(), "an empty cell is unknown, not sent");
    let cnaf = verdicts(&text, date(2026, 12, 8), Some("cnaf"));
    assert_eq!(cnaf[0].1[0].0, Some("survivor_pension"));
    assert!(cnaf[1].1.is_empty());
    assert!(verdicts(&text, date(2026, 12, 8), None).iter().all(|(_, p)| p.is_empty()), "no branch: not checked");
}

#[test]
fn hospital_stays_older_than_twelve_months_before_the_request_are_refused() {
    let text = format!(
        "{HEADER},hospital_stays_12m\n{},2025-12-08/3/full|2026-06-01/0/ambulatory\n{},2026-06-01/0/ambulatory|2025-12-07/2/partial\n{},none\n",
        record(&nir(50, "03", 1), 1950),
        record(&nir(50, "03", 2), 1950),
        record(&nir(50, "03", 3), 1950)
    );
    let got = verdicts(&text, date(2026, 12, 8), Some("cnam"));
    assert!(got[0].1.is_empty(), "admitted on the first day of the window: {:?}", got[0]);
    assert_eq!(got[1].1.len(), 1, "{:?}", got[1]);
    assert_eq!(got[1].1[0].0, Some("hospital_stays_12m"));
    assert!(got[1].1[0].1.starts_with("1 stay admitted before 2025-12-08"), "{:?}", got[1]);
    assert!(!got[1].1[0].1.contains("2025-12-07"), "the value is not quoted back: {:?}", got[1]);
    assert!(got[2].1.is_empty(), "none is no stay");
}
