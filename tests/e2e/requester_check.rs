//! `passerelle requester check`, run as a real process: a file mixing valid records and every
//! kind of bad record is reported exactly, with the lines on which the records start, and gives
//! the same verdicts with `,` or `;`, in UTF-8 or in Windows-1252. Synthetic data only.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use passerelle_test_support::nir_with_key;

/// A synthetic, valid NIR made with the key formula, key = 97 − (N mod 97): sex from `n`, born
/// in 1950, month 01–12, département 13, commune and order numbers from `n`.
fn nir(n: u32) -> String {
    nir_with_key(&format!("{}50{:02}13{:03}{:03}", 1 + n % 2, 1 + n % 12, 1 + n / 999 % 999, 1 + n % 999))
}

/// The same number with a wrong key.
fn with_wrong_key(n: u32) -> String {
    let good = nir(n);
    let key: u8 = good[13..].parse().unwrap();
    format!("{}{:02}", &good[..13], key % 97 + 1)
}

const HEADER: [&str; 10] = [
    "nir",
    "family_name",
    "given_names",
    "sex",
    "birth_year",
    "commune_code",
    "former_nirs",
    "postal_address",
    "rsa",
    "household_annual_resources",
];

/// One record of the test file and the fields its rejection must name (`None` in the list for a
/// whole-record problem); an empty list for a valid record.
struct Case {
    fields: Vec<String>,
    expect: Vec<Option<&'static str>>,
}

fn case(fields: &[&str], expect: &[Option<&'static str>]) -> Case {
    Case { fields: fields.iter().map(|s| s.to_string()).collect(), expect: expect.to_vec() }
}

/// The test file: every kind of bad record between valid ones. Names carry accents, a quoted
/// address spans two lines, and a given name holds both separators.
fn cases() -> Vec<Case> {
    let (a, b, c, d, e) = (nir(1), nir(2), nir(3), nir(4), nir(5));
    let nir_field = Some("nir");
    vec![
        case(&[&a, "Lefèvre", "Hélène", "F", "1950", "13055", "", "", "oui", "12000,50"], &[]),
        case(&[&a[..14], "Dupont", "Jean", "M", "1950", "13055", "", "", "", ""], &[nir_field]),
        case(&[&with_wrong_key(6), "Dupont", "Jean", "M", "1950", "13055", "", "", "", ""], &[nir_field]),
        case(&[&b, "Müller", "Zoé", "F", "1948", "75056", "", "3 rue de l'Église\n75004 Paris", "", ""], &[]),
        case(
            &[&c, "Dupont", "Jean", "M", "1950", "13055", &format!("{}|{}", nir(7), with_wrong_key(8)), "", "", ""],
            &[Some("former_nirs")],
        ),
        case(&[&d, "Dupont", "Jean", "M", "1975", "13055", "", "", "", ""], &[Some("birth_year")]),
        case(&[&nir(9), "Dupont", "Jean", "M", "1950", "99999", "", "", "", ""], &[Some("commune_code")]),
        case(&[&nir(10), "Dupont", "Jean", "M", "1950", "7505", "", "", "", ""], &[Some("commune_code")]),
        case(&[&nir(11), "Dupont", "Jean", "M", "1950", "97611", "", "", "", ""], &[Some("commune_code")]),
        case(&[&nir(12), "Dupont", "Jean", "M", "1950", "13055", "", "", "peut-être", ""], &[Some("rsa")]),
        case(&[&nir(13), "", "Jean", "M", "1950", "13055", "", "", "", ""], &[Some("family_name")]),
        case(&[&a, "Lefèvre", "Hélène", "F", "1950", "13055", "", "", "", ""], &[nir_field]),
        case(&[&nir(14), "Dupont", "Jean", "M", "1950"], &[None]),
        case(&[&nir(16), "Dupont", "Je\0an", "M", "1950", "13055", "", "", "", ""], &[Some("given_names")]),
        case(&[&e, "Noël", "Jean, Paul; fils", "M", "1939", "2A004", "", "", "non", ""], &[]),
        case(
            &[&with_wrong_key(17), "Dupont", "Jean", "X", "2001", "13055", "", "", "", ""],
            &[nir_field, Some("sex"), Some("birth_year")],
        ),
        case(
            &[&nir(18), "Dupont", "Jean", "M", "1950", "13055", "", "", "", "1 234"],
            &[Some("household_annual_resources")],
        ),
        case(&[&nir(19), "Dupont", "Jean", "M", "19x5", "13055", "", "", "", ""], &[Some("birth_year")]),
        // Too young, so not the first valid occurrence of its NIR…
        case(&[&nir(20), "Dupont", "Jean", "M", "1990", "69381", "", "", "", ""], &[Some("birth_year")]),
        // …which is this one.
        case(&[&nir(20), "Dupont", "Jean", "M", "1960", "69381", "", "", "", ""], &[]),
        case(&[&nir(21), "Dupont", "Jean", "M", "1960", "13055", "", "", "", ""], &[]),
    ]
}

#[derive(Clone, Copy, Debug)]
enum Variant {
    /// UTF-8, `,`, LF line ends.
    Utf8Comma,
    /// UTF-8 with a byte-order mark, `;`, CRLF line ends.
    Utf8BomSemicolonCrlf,
    /// Windows-1252, `;`, CRLF line ends.
    Windows1252Semicolon,
}

/// Writes the cases as a CSV file in a variant; returns the line on which each record starts.
fn write_file(path: &Path, cases: &[Case], variant: Variant) -> Vec<u64> {
    let (sep, eol, bom) = match variant {
        Variant::Utf8Comma => (',', "\n", false),
        Variant::Utf8BomSemicolonCrlf => (';', "\r\n", true),
        Variant::Windows1252Semicolon => (';', "\r\n", false),
    };
    let quote = |f: &str| {
        if f.contains([',', ';', '"', '\n']) {
            format!("\"{}\"", f.replace('"', "\"\""))
        } else {
            f.to_owned()
        }
    };
    let mut text = HEADER.join(&sep.to_string()) + eol;
    let mut lines = Vec::new();
    let mut line = 2;
    for case in cases {
        lines.push(line);
        let record = case.fields.iter().map(|f| quote(f)).collect::<Vec<_>>().join(&sep.to_string());
        line += 1 + record.matches('\n').count() as u64;
        text += &record;
        text += eol;
    }
    let mut bytes: Vec<u8> = match variant {
        Variant::Windows1252Semicolon => to_windows_1252(&text),
        _ => text.into_bytes(),
    };
    if bom {
        bytes.splice(0..0, [0xEF, 0xBB, 0xBF]);
    }
    std::fs::write(path, bytes).unwrap();
    lines
}

/// Encodes text in Windows-1252. The test's text is ASCII and Latin-1 letters, which are their
/// own byte in Windows-1252.
fn to_windows_1252(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c as u32 {
            code @ (0..=0x7F | 0xA0..=0xFF) => code as u8,
            _ => panic!("{c:?} is not a Latin-1 letter"),
        })
        .collect()
}

fn passerelle(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_passerelle")).args(args).output().expect("the passerelle binary runs")
}

/// Parses `--json` output: the problems' fields per line, and the summary.
fn parse_json(stdout: &[u8]) -> (BTreeMap<u64, Vec<Option<String>>>, serde_json::Value, Vec<String>) {
    let text = std::str::from_utf8(stdout).expect("JSON output is UTF-8");
    let mut objects: Vec<serde_json::Value> =
        text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}"))).collect();
    let summary = objects.pop().expect("a summary line");
    assert!(summary.get("summary").is_some(), "the last object is the summary: {summary}");
    assert_eq!(summary["format"], "passerelle.report/1", "docs/JSON.md");
    let mut by_line: BTreeMap<u64, Vec<Option<String>>> = BTreeMap::new();
    let mut reasons = Vec::new();
    for o in objects {
        assert_eq!(o.as_object().unwrap().len(), 4, "format, line, field, reason: {o}");
        assert_eq!(o["format"], "passerelle.report/1", "docs/JSON.md");
        let line = o["line"].as_u64().expect("a line number");
        let field = o["field"].as_str().map(str::to_owned);
        assert!(o["field"].is_string() || o["field"].is_null());
        let reason = o["reason"].as_str().expect("a reason").to_owned();
        assert!(!reason.is_empty());
        reasons.push(reason);
        by_line.entry(line).or_default().push(field);
    }
    (by_line, summary["summary"].clone(), reasons)
}

fn expected(cases: &[Case], lines: &[u64]) -> BTreeMap<u64, Vec<Option<String>>> {
    cases
        .iter()
        .zip(lines)
        .filter(|(c, _)| !c.expect.is_empty())
        .map(|(c, &line)| (line, c.expect.iter().map(|f| f.map(str::to_owned)).collect()))
        .collect()
}

#[test]
fn every_bad_record_is_reported_with_its_line_in_every_variant() {
    let cases = cases();
    let dir = tempfile::tempdir().unwrap();
    let mut verdicts = Vec::new();
    for variant in [Variant::Utf8Comma, Variant::Utf8BomSemicolonCrlf, Variant::Windows1252Semicolon] {
        let path = dir.path().join(format!("{variant:?}.csv"));
        let lines = write_file(&path, &cases, variant);
        // The quoted address spans two lines, so the records after it start one line further.
        assert_eq!(&lines[..6], [2, 3, 4, 5, 7, 8]);
        let encoding = match variant {
            Variant::Windows1252Semicolon => "windows-1252",
            _ => "utf-8",
        };
        let out = passerelle(&[
            "requester",
            "check",
            path.to_str().unwrap(),
            "--year",
            "2025",
            "--encoding",
            encoding,
            "--json",
        ]);
        assert_eq!(out.status.code(), Some(1), "{variant:?}: {}", String::from_utf8_lossy(&out.stderr));
        let (by_line, summary, reasons) = parse_json(&out.stdout);
        assert_eq!(by_line, expected(&cases, &lines), "{variant:?}");
        let rejected = cases.iter().filter(|c| !c.expect.is_empty()).count();
        assert_eq!(
            summary,
            serde_json::json!({"lines": cases.len(), "valid": cases.len() - rejected, "rejected": rejected}),
            "{variant:?}"
        );
        // No reason repeats a NIR or a name.
        for reason in &reasons {
            for case in &cases {
                for secret in [&case.fields[0], &case.fields[1]] {
                    assert!(secret.len() < 4 || !reason.contains(secret.as_str()), "{reason:?} leaks {secret:?}");
                }
            }
        }
        verdicts.push((by_line, summary));
    }
    assert!(verdicts.windows(2).all(|w| w[0] == w[1]), "the same verdicts in every variant");
}

#[test]
fn the_human_report_goes_to_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("selection.csv");
    let cases = cases();
    write_file(&path, &cases, Variant::Utf8Comma);
    let out = passerelle(&["requester", "check", path.to_str().unwrap(), "--year", "2025"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "nothing on stdout without --json");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("line 3, nir: the NIR must have 15 characters, found 14"), "{stderr}");
    assert!(stderr.contains("line 4, nir: the NIR's key is"), "{stderr}");
    assert!(stderr.contains("line 8, birth_year: aged 50 on 2025-12-31"), "{stderr}");
    assert!(stderr.contains("line 15: 5 fields where the header has 10"), "{stderr}");
    assert!(stderr.contains("duplicate NIR"), "{stderr}");
    let rejected = cases.iter().filter(|c| !c.expect.is_empty()).count();
    let last = stderr.lines().last().unwrap();
    assert_eq!(last, format!("{} records checked: {} valid, {rejected} rejected", cases.len(), cases.len() - rejected));
}

#[test]
fn an_all_valid_file_exits_0_and_the_year_moves_the_age_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("selection.csv");
    let text = format!(
        "commune_code;birth_year;sex;given_names;family_name;nir\n13055;1950;F;Anne;Martin;{}\n69381;1971;M;Luc;Petit;{}\n",
        nir(1),
        nir(2)
    );
    std::fs::write(&path, text).unwrap();
    let path = path.to_str().unwrap();
    let out = passerelle(&["requester", "check", path, "--year", "2026", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let (by_line, summary, _) = parse_json(&out.stdout);
    assert!(by_line.is_empty());
    assert_eq!(summary, serde_json::json!({"lines": 2, "valid": 2, "rejected": 0}));
    let out = passerelle(&["requester", "check", path, "--year", "2025", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let (by_line, _, reasons) = parse_json(&out.stdout);
    assert_eq!(by_line.keys().copied().collect::<Vec<_>>(), [3]);
    assert!(reasons[0].contains("aged 54 on 2025-12-31"), "{reasons:?}");
}

#[test]
fn bytes_that_are_not_utf8_make_the_whole_file_unusable_once() {
    // 0x81 is neither UTF-8 (a lone continuation byte) nor defined in Windows-1252.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("selection.csv");
    let mut bytes = format!("{}\n{},Martin,Jean,M,1950,13055\n", HEADER[..6].join(","), nir(1)).into_bytes();
    for n in 2..50 {
        bytes.extend(format!("{},Dup", nir(n)).as_bytes());
        bytes.extend(b"\x81ont,Jean,M,1950,13055\n");
    }
    std::fs::write(&path, &bytes).unwrap();
    let out = passerelle(&["requester", "check", path.to_str().unwrap(), "--year", "2025", "--json"]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let objects: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(objects.len(), 1, "once, and no summary: {stdout}");
    assert_eq!(objects[0]["line"], 3);
    assert!(objects[0]["reason"].as_str().unwrap().contains("--encoding windows-1252"), "{stdout}");
    // In Windows-1252 the byte is undefined: each record is rejected for it, in its field.
    let out =
        passerelle(&["requester", "check", path.to_str().unwrap(), "--year", "2025", "--encoding", "cp1252", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let (by_line, summary, reasons) = parse_json(&out.stdout);
    assert_eq!(by_line.len(), 48);
    assert!(by_line.values().all(|fields| fields == &[Some("family_name".to_owned())]), "{by_line:?}");
    assert!(reasons[0].contains("not valid Windows-1252"), "{reasons:?}");
    assert_eq!(summary["valid"], 1);
}

#[test]
fn an_unusable_header_exits_2_and_checks_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("selection.csv");
    std::fs::write(&path, format!("nir,family_name,given_names,sex,sex,age\n{},A,B,M,M,70\n", nir(1))).unwrap();
    let out = passerelle(&["requester", "check", path.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let objects: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let fields: Vec<&str> = objects.iter().map(|o| o["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["sex", "age", "birth_year", "commune_code"], "{stdout}");
    assert!(objects.iter().all(|o| o["line"] == 1 && o.get("summary").is_none()));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("unusable selection file"), "{stderr}");
    assert!(stderr.contains("unknown column `age`"), "{stderr}");
    assert!(stderr.contains("required column `commune_code` is missing"), "{stderr}");

    let out = passerelle(&["requester", "check", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr).unwrap().contains("column `sex` appears twice (columns 4 and 5)"));
}

#[test]
fn usage_errors_exit_2() {
    let out = passerelle(&["requester", "check", "/nonexistent/selection.csv"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr).unwrap().contains("cannot open /nonexistent/selection.csv"));
    let out = passerelle(&["requester", "check", "x.csv", "--encoding", "latin-9"]);
    assert_eq!(out.status.code(), Some(2));
    let out = passerelle(&["requester", "check", "x.csv", "--year", "twenty"]);
    assert_eq!(out.status.code(), Some(2));
    // A UTF-8 file with a byte-order mark declared as Windows-1252 is refused as a whole.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bom.csv");
    std::fs::write(&path, "\u{FEFF}nir,family_name,given_names,sex,birth_year,commune_code\n").unwrap();
    let out = passerelle(&["requester", "check", path.to_str().unwrap(), "--encoding", "windows-1252"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr).unwrap().contains("byte-order mark"));
}

#[test]
fn help_documents_the_format_and_exit_codes() {
    let out = passerelle(&["requester", "check", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "--year",
        "--body",
        "--encoding",
        "windows-1252",
        "--json",
        "family_name",
        "commune_code",
        "former_nirs",
        "Exit status",
        "last day of the birth month",
    ] {
        assert!(help.contains(needle), "--help lacks {needle:?}:\n{help}");
    }
}

/// Without `--year`, ages are counted today (Paris) to the NIR's birth month: a person born in
/// the month after this one, 55 years ago, is not 55 yet; with `--year` this year they are
/// (31 December); `--body` rejects known risk factors of another branch's categories.
#[test]
fn today_counts_ages_to_the_nir_month_and_body_limits_known_risk_factors() {
    use chrono::{Datelike, Months, NaiveDate};
    let today = passerelle_protocol::calendar::LegalCalendar::default().date_of(std::time::SystemTime::now());
    let next = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap() + Months::new(1);
    let (year, month) = (next.year() - 55, next.month());
    let turning = nir_with_key(&format!("1{:02}{month:02}13055001", year % 100));
    let text = format!(
        "nir,family_name,given_names,sex,birth_year,commune_code,rsa,survivor_pension\n\
         {turning},Martin,Luc,M,{year},13055,,\n{},Petit,Anne,F,1950,13055,oui,\n{},Petit,Zoé,F,1950,13055,,oui\n",
        nir(1),
        nir(2)
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("selection.csv");
    std::fs::write(&path, text).unwrap();
    let path = path.to_str().unwrap();

    let out = passerelle(&["requester", "check", path, "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let (by_line, _, reasons) = parse_json(&out.stdout);
    assert_eq!(by_line.keys().copied().collect::<Vec<_>>(), [2], "{reasons:?}");
    assert_eq!(by_line[&2], [Some("birth_year".to_owned())]);
    assert!(reasons[0].contains(&format!("aged 54 on {today}")), "{reasons:?}");

    // By 31 December of the year they turn 55, they are.
    let out = passerelle(&["requester", "check", path, "--year", &next.year().to_string(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));

    // A CAF sends RSA as known, not a survivor's pension (the pension branch's).
    let out = passerelle(&["requester", "check", path, "--year", &next.year().to_string(), "--body", "cnaf", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let (by_line, _, reasons) = parse_json(&out.stdout);
    assert_eq!(by_line.keys().copied().collect::<Vec<_>>(), [4], "{reasons:?}");
    assert_eq!(by_line[&4], [Some("survivor_pension".to_owned())]);
    assert!(reasons[0].contains("art. 3"), "{reasons:?}");
}
