//! Unit tests of the readers: every rejection kind, every header problem, encodings, separators,
//! line numbers, and the report. Synthetic NIRs only, made with the key formula. The bounds on
//! hostile input (whole-file errors, memory, endless input) are in `bounds_tests.rs`.

use passerelle_protocol::catalogue;
use passerelle_protocol::commune::CommuneTable;
use passerelle_protocol::territory::Territories;
use passerelle_protocol::v1::{Category, Sex};
use passerelle_protocol::value::Value;

use super::*;

/// A synthetic, valid NIR: a man born in March 1950 in Paris, commune and order numbers from `n`
/// (unique for `n` below 998,001), key = 97 − (N mod 97).
pub(crate) fn nir(n: u32) -> String {
    let body = format!("1500375{:03}{:03}", 1 + (n / 999) % 999, 1 + n % 999);
    let key = 97 - body.parse::<u64>().unwrap() % 97;
    format!("{body}{key:02}")
}

/// The same NIR with a wrong key.
fn bad_key(n: u32) -> String {
    let good = nir(n);
    let key: u8 = good[13..].parse().unwrap();
    format!("{}{:02}", &good[..13], if key == 97 { 1 } else { key + 1 })
}

const REFERENCE_YEAR: u32 = 2025;
pub(crate) const HEADER: &str = "nir,family_name,given_names,sex,birth_year,commune_code";

pub(crate) fn check_with(
    text: &[u8],
    encoding: Encoding,
) -> Result<(Vec<Person>, Vec<Rejection>, Summary), UnusableFile> {
    let territories = Territories::default();
    let rules = SelectionRules::new(REFERENCE_YEAR, CommuneTable::official(), &territories);
    let mut reader = SelectionReader::new(text, encoding, rules)?;
    let (mut valid, mut rejected) = (Vec::new(), Vec::new());
    for verdict in &mut reader {
        match verdict.unwrap() {
            Checked::Valid(p) => valid.push(p),
            Checked::Rejected(r) => rejected.push(r),
        }
    }
    Ok((valid, rejected, reader.summary()))
}

fn check(text: &str) -> (Vec<Person>, Vec<Rejection>, Summary) {
    check_with(text.as_bytes(), Encoding::Utf8).expect("a usable file")
}

/// The problems of a file of one record under [`HEADER`], as (field, reason) pairs.
fn problems_of(record: &str) -> Vec<(Option<&'static str>, String)> {
    let (valid, rejected, _) = check(&format!("{HEADER}\n{record}\n"));
    assert!(valid.is_empty(), "expected a rejection of {record:?}");
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].line, 2);
    rejected[0].problems.iter().map(|p| (p.field, p.reason.to_string())).collect()
}

/// Asserts that a one-record file is rejected for exactly one problem, in `field`, whose reason
/// contains `needle`; returns the reason.
fn rejected_for(record: &str, field: Option<&str>, needle: &str) -> String {
    let problems = problems_of(record);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].0, field, "{problems:?}");
    assert!(problems[0].1.contains(needle), "{:?} does not contain {needle:?}", problems[0].1);
    problems[0].1.clone()
}

#[test]
fn the_schema_follows_the_catalogue_s_required_flags() {
    for c in IdentityColumn::ALL {
        assert_eq!(SELECTION_SCHEMA.required.contains(&c), c.required_in_selection(), "{}", c.code());
        assert!(
            SELECTION_SCHEMA.required.contains(&c) || SELECTION_SCHEMA.optional.contains(&c),
            "{} is a selection column",
            c.code()
        );
    }
    assert!(catalogue::IDENTITY_FIELDS
        .iter()
        .all(|f| !f.required_in_selection || SELECTION_SCHEMA.required.iter().any(|c| c.code() == f.code)));
}

#[test]
fn a_valid_person_with_every_column() {
    let text = format!(
        "\u{FEFF}phone;email;usage_name;given_names;family_name;nir;former_nirs;sex;birth_year;commune_code;postal_address;rsa;household_annual_resources;family_situation;hospital_stays_12m;long_term_condition\r\n\
         0600000000;a@example.org;Martin;\"Jean; Paul\";Durand;{};{}|{};F;1960;13055;\"1 rue X\n13001 Marseille\";oui;12345,60;veuve;2025-01-05/3/partial;\r\n",
        nir(1),
        nir(2),
        nir(3)
    );
    let (valid, rejected, summary) = check(&text);
    assert!(rejected.is_empty(), "{rejected:?}");
    assert_eq!(summary, Summary { lines: 1, valid: 1, rejected: 0 });
    let p = &valid[0];
    assert_eq!(p.line, 2);
    assert_eq!(p.nir.as_str(), nir(1));
    assert_eq!(p.former_nirs.iter().map(|n| n.as_str().to_owned()).collect::<Vec<_>>(), vec![nir(2), nir(3)]);
    assert_eq!((p.family_name.as_str(), p.given_names.as_str()), ("Durand", "Jean; Paul"));
    assert_eq!(p.usage_name.as_deref(), Some("Martin"));
    assert_eq!((p.sex, p.birth_year), (Sex::Female, 1960));
    assert_eq!((p.commune_code.as_str(), p.observatory.as_str()), ("13055", "carsat-sud-est"));
    assert_eq!(p.postal_address.as_deref(), Some("1 rue X\n13001 Marseille"));
    assert_eq!(p.email.as_deref(), Some("a@example.org"));
    assert_eq!(p.phone.as_deref(), Some("0600000000"));
    assert_eq!(p.known.get(Category::Rsa), Some(Value::Bool(true)));
    assert_eq!(p.known.get(Category::HouseholdAnnualResources), Some(Value::Amount(1_234_560)));
    assert!(p.known.get(Category::FamilySituation).is_some());
    assert!(p.known.get(Category::HospitalStays12m).is_some());
    assert_eq!(p.known.get(Category::LongTermCondition), None, "an empty cell is unknown");
    assert_eq!(p.known.present().count(), 4);
    // Debug never shows identifying data.
    let debug = format!("{p:?}");
    assert!(!debug.contains(&nir(1)) && !debug.contains("Durand") && !debug.contains("13055"), "{debug}");
}

#[test]
fn optional_columns_may_be_absent_and_cells_empty() {
    let (valid, rejected, _) = check(&format!("{HEADER},usage_name,email\n{},Durand,Jean,M,1950,75056,,\n", nir(1)));
    assert!(rejected.is_empty(), "{rejected:?}");
    assert_eq!(
        (valid[0].usage_name.as_deref(), valid[0].email.as_deref(), valid[0].phone.as_deref()),
        (None, None, None)
    );
    assert!(valid[0].former_nirs.is_empty());
    assert_eq!(valid[0].observatory, "cnav-idf");
}

#[test]
fn nir_format_and_key() {
    let n = nir(7);
    rejected_for(&format!("{},Durand,Jean,M,1950,75056", &n[..14]), Some("nir"), "15 characters");
    rejected_for(&format!("{},Durand,Jean,M,1950,75056", bad_key(7)), Some("nir"), "key");
    rejected_for(&format!("5{},Durand,Jean,M,1950,75056", &n[1..]), Some("nir"), "sex digit");
    rejected_for(",Durand,Jean,M,1950,75056", Some("nir"), "required value is missing");
    // Spaces inside a NIR are accepted and removed.
    let spaced = format!("{} {} {}", &n[..1], &n[1..7], &n[7..]);
    let (valid, _, _) = check(&format!("{HEADER}\n{spaced},Durand,Jean,M,1950,75056\n"));
    assert_eq!(valid[0].nir.as_str(), n);
}

#[test]
fn former_nirs_are_checked_one_by_one() {
    let text = format!("{HEADER},former_nirs\n{},Durand,Jean,M,1950,75056,{}|{}\n", nir(1), nir(2), bad_key(3));
    let (_, rejected, _) = check(&text);
    let problems = &rejected[0].problems;
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].field, Some("former_nirs"));
    assert!(problems[0].reason.to_string().starts_with("former NIR no. 2: "), "{}", problems[0].reason);
}

#[test]
fn age_and_birth_year() {
    let n = nir(1);
    let reason = rejected_for(&format!("{n},Durand,Jean,M,1971,75056"), Some("birth_year"), "aged 54 on 2025-12-31");
    assert!(reason.contains("55"), "{reason}");
    rejected_for(&format!("{n},Durand,Jean,M,19x0,75056"), Some("birth_year"), "`19x0` is not a 4-digit year");
    rejected_for(&format!("{n},Durand,Jean,M,50,75056"), Some("birth_year"), "not a 4-digit year");
    rejected_for(&format!("{n},Durand,Jean,M,2031,75056"), Some("birth_year"), "not plausible");
    rejected_for(&format!("{n},Durand,Jean,M,1850,75056"), Some("birth_year"), "not plausible");
    rejected_for(&format!("{n},Durand,Jean,M,,75056"), Some("birth_year"), "missing");
    // Exactly 55 in the reference year is in.
    let (valid, _, _) = check(&format!("{HEADER}\n{n},Durand,Jean,M,1970,75056\n"));
    assert_eq!(valid.len(), 1);
}

#[test]
fn sex_codes() {
    for (code, sex) in [("M", Sex::Male), ("f", Sex::Female), ("1", Sex::Male), ("2", Sex::Female)] {
        let (valid, _, _) = check(&format!("{HEADER}\n{},Durand,Jean,{code},1950,75056\n", nir(1)));
        assert_eq!(valid[0].sex, sex, "{code}");
    }
    rejected_for(&format!("{},Durand,Jean,X,1950,75056", nir(1)), Some("sex"), "`X` is not a sex");
    // A long value (maybe a name in the wrong column) is not repeated.
    let reason = rejected_for(&format!("{},Durand,Jean,Jean-Baptiste,1950,75056", nir(1)), Some("sex"), "not a sex");
    assert!(!reason.contains("Jean"), "{reason}");
}

#[test]
fn commune_and_territory() {
    let n = nir(1);
    rejected_for(&format!("{n},Durand,Jean,M,1950,99999"), Some("commune_code"), "not in the official commune list");
    rejected_for(&format!("{n},Durand,Jean,M,1950,7505"), Some("commune_code"), "malformed commune code");
    rejected_for(&format!("{n},Durand,Jean,M,1950,97611"), Some("commune_code"), "Mayotte");
    rejected_for(&format!("{n},Durand,Jean,M,1950,97502"), Some("commune_code"), "overseas collectivity");
    rejected_for(&format!("{n},Durand,Jean,M,1950,"), Some("commune_code"), "missing");
    // Corsica and an arrondissement are routed.
    let (valid, _, _) =
        check(&format!("{HEADER}\n{n},Durand,Jean,M,1950,2A004\n{},Durand,Jean,M,1950,69381\n", nir(2)));
    assert_eq!(
        valid.iter().map(|p| p.observatory.as_str()).collect::<Vec<_>>(),
        ["carsat-sud-est", "carsat-rhone-alpes"]
    );
}

#[test]
fn category_values_of_the_wrong_type() {
    let text = format!(
        "{HEADER},rsa,quarters_contributed,household_annual_resources\n{},Durand,Jean,M,1950,75056,peut-être,12.5,1 234\n",
        nir(1)
    );
    let (_, rejected, _) = check(&text);
    let problems: Vec<_> = rejected[0].problems.iter().map(|p| (p.field.unwrap(), p.reason.to_string())).collect();
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert_eq!(problems[0].0, "rsa");
    assert!(problems[0].1.contains("a boolean"), "{}", problems[0].1);
    assert_eq!(problems[1].0, "quarters_contributed");
    assert!(problems[1].1.contains("a whole number"));
    assert_eq!(problems[2].0, "household_annual_resources");
    assert!(problems[2].1.contains("amount in euros"));
}

#[test]
fn missing_names() {
    let problems = problems_of(&format!("{},,  ,M,1950,75056", nir(1)));
    assert_eq!(
        problems,
        vec![
            (Some("family_name"), "required value is missing".to_owned()),
            (Some("given_names"), "required value is missing".to_owned())
        ]
    );
}

#[test]
fn every_problem_of_a_record_is_reported() {
    let problems = problems_of(&format!("{},,Jean,X,1990,99999", bad_key(1)));
    let fields: Vec<_> = problems.iter().map(|p| p.0.unwrap()).collect();
    assert_eq!(fields, ["nir", "family_name", "sex", "birth_year", "commune_code"], "{problems:?}");
}

#[test]
fn duplicates_after_the_first_valid_occurrence() {
    let (a, b) = (nir(1), nir(2));
    let text = format!(
        "{HEADER}\n\
         {b},Durand,Jean,M,1990,75056\n\
         {a},Durand,Jean,M,1950,75056\n\
         {b},Durand,Jean,M,1950,75056\n\
         {a},Martin,Paul,M,1951,75056\n\
         {a},Martin,Paul,M,1999,75056\n\
         {b},Durand,Jean,M,1950,75056\n"
    );
    let (valid, rejected, summary) = check(&text);
    // Line 2 is invalid (too young), so line 4 is the first valid occurrence of b.
    assert_eq!(valid.iter().map(|p| p.line).collect::<Vec<_>>(), [3, 4]);
    let got: Vec<_> = rejected
        .iter()
        .map(|r| (r.line, r.problems.iter().map(|p| p.reason.to_string()).collect::<Vec<_>>()))
        .collect();
    assert_eq!(got[0].0, 2);
    assert_eq!((got[1].0, got[1].1.len()), (5, 1));
    assert!(got[1].1[0].starts_with("duplicate NIR"));
    assert_eq!(got[2].0, 6);
    assert_eq!(got[2].1.len(), 2, "too young and a duplicate: {:?}", got[2].1);
    assert_eq!(got[3].0, 7);
    assert_eq!(summary, Summary { lines: 6, valid: 2, rejected: 4 });
}

#[test]
fn wrong_number_of_fields() {
    let reason = rejected_for(&format!("{},Durand,Jean,M,1950", nir(1)), None, "5 fields where the header has 6");
    assert!(!reason.contains("Durand"));
    rejected_for(&format!("{},Durand,Jean,M,1950,75056,extra", nir(1)), None, "7 fields");
    rejected_for("lonely", None, "1 field where the header has 6");
}

#[test]
fn quoting_problems() {
    rejected_for(&format!("{},\"Durand\"x,Jean,M,1950,75056", nir(1)), Some("family_name"), "after the closing quote");
    let (_, rejected, summary) =
        check(&format!("{HEADER}\n{},\"Durand,Jean,M,1950,75056\n{},ok,ok,M,1950,75056\n", nir(1), nir(2)));
    assert_eq!(summary.lines, 1, "the open quote swallows the rest");
    assert_eq!(rejected[0].problems[0].field, None);
    assert!(rejected[0].problems[0].reason.to_string().contains("never closed"));
}

#[test]
fn nul_and_undefined_bytes_reject_the_field_not_the_file() {
    let mut text = format!("{HEADER}\n").into_bytes();
    text.extend(format!("{},Durand,Je\0an,M,1950,75056\n", nir(2)).as_bytes());
    text.extend(format!("{},Durand,Jean,M,1950,75056\n", nir(3)).as_bytes());
    let (valid, rejected, _) = check_with(&text, Encoding::Utf8).unwrap();
    assert_eq!(valid.len(), 1);
    assert_eq!(rejected[0].problems.len(), 1);
    assert_eq!(rejected[0].problems[0].field, Some("given_names"));
    assert!(rejected[0].problems[0].reason.to_string().contains("NUL byte"));
    // In Windows-1252, 0x81 is undefined.
    let text = format!("{HEADER}\n{},Dur\u{81}and,Jean,M,1950,75056\n", nir(1));
    let bytes: Vec<u8> = text.chars().map(|c| c as u32 as u8).collect();
    let (_, rejected, _) = check_with(&bytes, Encoding::Windows1252).unwrap();
    assert!(rejected[0].problems[0].reason.to_string().contains("not valid Windows-1252"));
}

#[test]
fn windows_1252_and_semicolons_give_the_same_person() {
    let utf8 = format!("{HEADER}\n{},Hélène,Gaëlle-Françoise,F,1950,75056\n", nir(1));
    let cp1252: Vec<u8> = utf8.replace(',', ";").chars().map(|c| c as u32 as u8).collect();
    assert!(cp1252.contains(&0xE9), "é is one byte in Windows-1252");
    let (a, _, _) = check_with(utf8.as_bytes(), Encoding::Utf8).unwrap();
    let (b, _, _) = check_with(&cp1252, Encoding::Windows1252).unwrap();
    assert_eq!((a[0].family_name.as_str(), a[0].given_names.as_str()), ("Hélène", "Gaëlle-Françoise"));
    assert_eq!((&a[0].family_name, &a[0].given_names), (&b[0].family_name, &b[0].given_names));
}

#[test]
fn line_numbers_are_physical_lines() {
    let text = format!(
        "{HEADER},postal_address\r\n\
         {},Durand,Jean,M,1950,75056,\"1 rue A\r\n75001 Paris\"\r\n\
         \r\n\
         {},Durand,Jean,M,2000,75056,\"a\nb\nc\"\n\
         {},Durand,Jean,M,2000,75056,\n",
        nir(1),
        nir(2),
        nir(3)
    );
    let (valid, rejected, summary) = check(&text);
    assert_eq!(valid[0].line, 2);
    assert_eq!(valid[0].postal_address.as_deref(), Some("1 rue A\r\n75001 Paris"));
    assert_eq!(rejected.iter().map(|r| r.line).collect::<Vec<_>>(), [5, 8]);
    assert_eq!(summary.lines, 3, "blank lines are not records");
}

#[test]
fn header_problems_make_the_file_unusable() {
    let unusable = |text: &str| check_with(text.as_bytes(), Encoding::Utf8).expect_err("unusable");
    let err = unusable("nir,family_name,given_names,sex,birth_year\n");
    assert_eq!(err.header_problems(), [HeaderProblem::Missing { column: "commune_code", file: "a selection file" }]);
    let err = unusable(&format!("{HEADER},age\n"));
    assert!(matches!(&err.header_problems()[0], HeaderProblem::Unknown { name, position: 7, .. } if name == "age"));
    assert!(err.to_string().contains("unknown column `age`"), "{err}");
    let err = unusable(&format!("{HEADER},Sex\n"));
    assert_eq!(err.header_problems(), [HeaderProblem::Duplicate { column: "sex", first: 4, again: 7 }]);
    let err = unusable("nir;family_name;nir;bogus\n");
    assert_eq!(err.header_problems().len(), 2 + 4, "{err}");
    assert!(matches!(unusable(""), UnusableFile::Empty));
    assert!(matches!(unusable("\n\nnir"), UnusableFile::BlankFirstLine));
    assert!(matches!(unusable(&format!("{HEADER},\"open\n")), UnusableFile::Header(_)));
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend(HEADER.as_bytes());
    assert!(matches!(check_with(&bom, Encoding::Windows1252), Err(UnusableFile::Utf8BomButWindows1252)));
    assert!(matches!(check_with(b"\xFF\xFEn\0i\0r\0", Encoding::Utf8), Err(UnusableFile::Utf16)));
    assert!(matches!(
        check_with(b"nir,f\xE9\n", Encoding::Utf8),
        Err(UnusableFile::HeaderEncoding { position: 2, .. })
    ));
}

#[test]
fn a_header_alone_is_an_empty_valid_file() {
    let (valid, rejected, summary) = check(HEADER);
    assert!(valid.is_empty() && rejected.is_empty());
    assert_eq!(summary, Summary::default());
}

#[test]
fn reasons_never_contain_a_nir_or_a_name() {
    let (a, b) = (nir(1), nir(2));
    let text = format!(
        "{HEADER},former_nirs,rsa\n\
         {},Zorglub,Bérénice,M,1950,75056,,\n\
         {a},Zorglub,Bérénice,M,1950,75056,,\n\
         {a},Zorglub,Bérénice,X,2010,99999,{}|{b}x,non\n\
         {a},Zorglub,Bérénice\n",
        bad_key(1),
        bad_key(2),
    );
    let (_, rejected, _) = check(&text);
    assert_eq!(rejected.len(), 3);
    for problem in rejected.iter().flat_map(|r| &r.problems) {
        let reason = problem.reason.to_string();
        for secret in [a.as_str(), &a[..13], b.as_str(), &bad_key(1), "Zorglub", "Bérénice"] {
            assert!(!reason.contains(secret), "{reason:?} leaks {secret:?}");
        }
    }
}

#[test]
fn reader_exposes_the_file_s_shape() {
    let territories = Territories::default();
    let rules = SelectionRules::new(REFERENCE_YEAR, CommuneTable::official(), &territories);
    let text = "NIR;family_name;given_names;sex;birth_year;commune_code;css\n";
    let reader = SelectionReader::new(text.as_bytes(), Encoding::Utf8, rules).unwrap();
    assert_eq!(reader.separator(), Separator::Semicolon);
    assert_eq!(reader.encoding(), Encoding::Utf8);
    assert_eq!(reader.columns()[0], Column::Identity(IdentityColumn::Nir));
    assert_eq!(reader.categories().collect::<Vec<_>>(), [Category::Css]);
}

mod extract {
    use super::*;

    fn load(text: &str) -> Result<(Vec<ExtractRow>, Vec<Rejection>, Summary), UnusableFile> {
        let mut reader = ExtractReader::new(text.as_bytes(), Encoding::Utf8, ExtractRules)?;
        let (mut valid, mut rejected) = (Vec::new(), Vec::new());
        for verdict in &mut reader {
            match verdict.unwrap() {
                Checked::Valid(r) => valid.push(r),
                Checked::Rejected(r) => rejected.push(r),
            }
        }
        Ok((valid, rejected, reader.summary()))
    }

    #[test]
    fn rows_are_typed() {
        let text = format!(
            "css;nir;birth_year;sex;former_nirs;pension_start_date\n\
             oui;{};1990;F;{};2015-07-01\n\
             ;{};;;;\n",
            nir(1),
            nir(9),
            nir(2)
        );
        let (rows, rejected, summary) = load(&text).unwrap();
        assert!(rejected.is_empty(), "{rejected:?}");
        assert_eq!(summary, Summary { lines: 2, valid: 2, rejected: 0 });
        assert_eq!((rows[0].birth_year, rows[0].sex), (Some(1990), Some(Sex::Female)), "no age rule in an extract");
        assert_eq!(rows[0].former_nirs.len(), 1);
        assert_eq!(rows[0].values.get(Category::Css), Some(Value::Bool(true)));
        assert!(rows[0].values.get(Category::PensionStartDate).is_some());
        assert_eq!((rows[1].line, rows[1].birth_year, rows[1].sex), (3, None, None));
        assert!(rows[1].values.is_empty());
        assert!(!format!("{:?}", rows[0]).contains(&nir(1)));
    }

    #[test]
    fn rows_are_rejected_like_selection_records() {
        let text = format!(
            "nir,sex,birth_year,rsa\n\
             {},M,1950,oui\n\
             {},M,1950,non\n\
             {},Z,19,maybe\n\
             ,M,1950,oui\n\
             {},M\n",
            nir(1),
            nir(1),
            bad_key(2),
            nir(3)
        );
        let (rows, rejected, summary) = load(&text).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(summary, Summary { lines: 5, valid: 1, rejected: 4 });
        let fields = |i: usize| rejected[i].problems.iter().map(|p| p.field).collect::<Vec<_>>();
        assert_eq!((rejected[0].line, fields(0)), (3, vec![Some("nir")]));
        assert!(rejected[0].problems[0].reason.to_string().starts_with("duplicate NIR"));
        assert_eq!(fields(1), [Some("nir"), Some("sex"), Some("birth_year"), Some("rsa")]);
        assert_eq!(fields(2), [Some("nir")]);
        assert_eq!(fields(3), [None]);
    }

    #[test]
    fn extracts_carry_no_names_or_contact_data() {
        let err = load("nir,family_name,commune_code,css,shoe_size\n").err().unwrap();
        let problems = err.header_problems();
        assert!(matches!(problems[0], HeaderProblem::NotAllowed { column: "family_name", .. }));
        assert!(matches!(problems[1], HeaderProblem::NotAllowed { column: "commune_code", .. }));
        assert!(matches!(&problems[2], HeaderProblem::Unknown { name, .. } if name == "shoe_size"));
        assert!(problems[0].to_string().contains("does not belong in an extract"), "{}", problems[0]);
        let err = load("css,rsa\n").err().unwrap();
        assert_eq!(err.header_problems(), [HeaderProblem::Missing { column: "nir", file: "an extract" }]);
    }
}

mod report {
    use super::*;

    fn sample() -> (Vec<Rejection>, Summary) {
        let text =
            format!("{HEADER}\n{},Durand,Jean,M,1950,75056\n{},Durand,Jean,M,1990,75056\nshort\n", nir(1), nir(2));
        let (_, rejected, summary) = check(&text);
        (rejected, summary)
    }

    #[test]
    fn json_lines_then_the_summary() {
        let (rejected, summary) = sample();
        let mut report = ReportWriter::new(ReportFormat::Json, Vec::new());
        for r in &rejected {
            report.rejection(r).unwrap();
        }
        report.summary(&summary).unwrap();
        let out = String::from_utf8(report.into_inner()).unwrap();
        let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["line"], 3);
        assert_eq!(lines[0]["field"], "birth_year");
        assert!(lines[0]["reason"].as_str().unwrap().contains("aged 35"));
        assert_eq!(lines[1]["line"], 4);
        assert!(lines[1]["field"].is_null());
        assert_eq!(
            lines[2],
            serde_json::json!({"format": "passerelle.report/1", "summary": {"lines": 3, "valid": 1, "rejected": 2}})
        );
        assert_eq!(lines[0]["format"], "passerelle.report/1");
    }

    #[test]
    fn human_sentences() {
        let (rejected, summary) = sample();
        let mut report = ReportWriter::new(ReportFormat::Human, Vec::new());
        for r in &rejected {
            report.rejection(r).unwrap();
        }
        report.summary(&summary).unwrap();
        let out = String::from_utf8(report.into_inner()).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("line 3, birth_year: aged 35 on 2025-12-31"), "{out}");
        assert_eq!(lines[1], "line 4: 1 field where the header has 6");
        assert_eq!(lines[2], "3 records checked: 1 valid, 2 rejected");
    }

    #[test]
    fn header_problems_in_json() {
        let err = check_with(b"nir,age\n", Encoding::Utf8).err().unwrap();
        let mut report = ReportWriter::new(ReportFormat::Json, Vec::new());
        report.unusable(&err).unwrap();
        let out = String::from_utf8(report.into_inner()).unwrap();
        let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines[0]["line"], 1);
        assert_eq!(lines[0]["field"], "age");
        assert_eq!(lines.len(), 1 + 5, "one unknown and five missing columns: {out}");
        assert!(lines.iter().all(|l| l.get("summary").is_none()));
    }
}

#[test]
fn identifying_data_in_a_value_column_is_not_quoted_back() {
    // Shifted columns put a NIR, a phone number or an e-mail address where a category value, a sex
    // or a birth year belongs (a case of the fuzz harness's "no NIR in a reason" rule): the reason must still
    // not repeat it.
    let n = nir(1);
    let header = format!("{HEADER},rsa,household_annual_resources");
    let text = format!("{header}\n{n},Durand,Jean,M,1950,75056,{n},jean.durand@example.org\n");
    let (_, rejected, _) = check(&text);
    let reasons: Vec<String> = rejected[0].problems.iter().map(|p| p.reason.to_string()).collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(reasons[0].starts_with("the value is not a boolean"), "{reasons:?}");
    assert!(reasons[1].starts_with("the value is not an amount"), "{reasons:?}");
    for (cell, field) in [("01 99 00 52 03", "sex"), ("01.99.00.52.03", "birth_year"), ("0199005203", "sex")] {
        let record = match field {
            "sex" => format!("{n},Durand,Jean,{cell},1950,75056"),
            _ => format!("{n},Durand,Jean,M,{cell},75056"),
        };
        let reason = rejected_for(&record, Some(field), "the value is not");
        assert!(!reason.contains("99"), "{reason}");
    }
    // Short, non-identifying values are still quoted, to help whoever fixes the file.
    let text = format!("{header}\n{n},Durand,Jean,M,1950,75056,peut-être,12 000\n");
    let (_, rejected, _) = check(&text);
    assert!(rejected[0].problems[0].reason.to_string().contains("`peut-être`"));
    assert!(rejected[0].problems[1].reason.to_string().contains("`12 000`"));
}
