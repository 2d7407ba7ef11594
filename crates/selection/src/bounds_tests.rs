//! Unit tests of the bounds on hostile input (issue 20): an encoding wrong for the file is one
//! whole-file error; separators count toward the record limit; the problems of one record or
//! header are summarised past [`MAX_PROBLEMS_SHOWN`]; endless inputs (`/dev/zero`, blank lines
//! or empty rows forever) end with an error. Endless inputs are readers that never end, so a
//! test that hung would be the failure; every one returns after a bounded number of bytes.

use std::io::{self, BufRead, BufReader, Cursor, Read};

use passerelle_protocol::commune::CommuneTable;
use passerelle_protocol::territory::Territories;

use super::tests::{check_with, nir, HEADER};
use super::*;
use crate::records::RecordScanner;

/// A reader that repeats `pattern` forever.
struct Forever {
    pattern: &'static [u8],
    at: usize,
}

impl Read for Forever {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        for b in buf.iter_mut() {
            *b = self.pattern[self.at];
            self.at = (self.at + 1) % self.pattern.len();
        }
        Ok(buf.len())
    }
}

/// `HEADER`, then `pattern` forever.
fn header_then_forever(pattern: &'static [u8]) -> impl BufRead {
    BufReader::with_capacity(
        64 * 1024,
        Cursor::new(format!("{HEADER}\n").into_bytes()).chain(Forever { pattern, at: 0 }),
    )
}

/// Reads a selection to its end or its first whole-file error; returns the verdicts' count and
/// that error.
fn read_all(input: impl BufRead) -> (u64, Result<Summary, UnusableFile>) {
    read_all_within(input, MAX_RECORD_SPAN)
}

/// [`read_all`], giving up on a record after `span` bytes: blank lines are read a byte at a time,
/// and the real 64 MiB take seconds in the debug profile.
fn read_all_within(input: impl BufRead, span: u64) -> (u64, Result<Summary, UnusableFile>) {
    let territories = Territories::default();
    let rules = SelectionRules::new(2025, CommuneTable::official(), &territories);
    let mut reader = match SelectionReader::with_span(input, Encoding::Utf8, rules, span) {
        Ok(reader) => reader,
        Err(e) => return (0, Err(e)),
    };
    let mut verdicts = 0;
    for verdict in &mut reader {
        match verdict {
            Ok(_) => verdicts += 1,
            Err(e) => {
                assert!(reader.next().is_none(), "nothing is read after a whole-file error");
                return (verdicts, Err(e));
            }
        }
    }
    (verdicts, Ok(reader.summary()))
}

#[test]
fn a_windows_1252_file_read_as_utf8_is_one_whole_file_error_naming_the_flag() {
    // Line 2 is ASCII (and valid), line 3 has the wrong field count and an accent, line 4 an accent.
    let utf8 = format!(
        "{HEADER}\n{},Martin,Jean,M,1950,75056\n{},Lefèvre,Jean\n{},Hélène,Zoé,F,1950,75056\n",
        nir(1),
        nir(2),
        nir(3)
    );
    let cp1252: Vec<u8> = utf8.chars().map(|c| c as u32 as u8).collect();
    let (verdicts, outcome) = read_all(&cp1252[..]);
    assert_eq!(verdicts, 1, "the ASCII record before the accent is read");
    let err = outcome.unwrap_err();
    assert!(matches!(err, UnusableFile::NotUtf8 { line: 3, field: "family_name", offset: 3, byte: 0xE8 }), "{err:?}");
    assert_eq!(err.line(), 3);
    let message = err.to_string();
    assert!(message.contains("the file is not UTF-8: line 3, family_name"), "{message}");
    assert!(message.contains("run again with --encoding windows-1252"), "{message}");
    assert!(!message.contains("Lef"), "no name quoted back: {message}");
    // Read with the right encoding, the same bytes give persons.
    let (_, rejected, summary) = check_with(&cp1252, Encoding::Windows1252).unwrap();
    assert_eq!((summary.valid, rejected.len()), (2, 1));
    // A JSON report says it once, on its line.
    let mut report = ReportWriter::new(ReportFormat::Json, Vec::new());
    report.unusable(&err).unwrap();
    let json: Vec<serde_json::Value> =
        String::from_utf8(report.into_inner()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(json.len(), 1);
    assert_eq!(json[0]["line"], 3);
}

#[test]
fn separators_count_toward_the_record_limit() {
    // A 2 MB line of commas is one record cut at the limit, not two million field ends.
    let mut text = b"a,b\n".to_vec();
    text.extend(std::iter::repeat_n(b',', 2 * 1024 * 1024));
    text.extend(b"\nnext,2\n");
    let mut scanner = RecordScanner::new(BufReader::new(&text[..]), Separator::Comma);
    scanner.next_record().unwrap().unwrap();
    let long = scanner.next_record().unwrap().unwrap();
    assert_eq!(long.defect, Some(crate::records::SyntaxDefect::TooLong));
    assert!(long.len() + long.bytes.len() <= MAX_RECORD_BYTES, "{} field ends kept", long.len());
    let next = scanner.next_record().unwrap().unwrap();
    assert_eq!((next.line, next.field(0)), (3, &b"next"[..]));

    // Through the reader: one rejection with one problem, and the next record is read.
    let mut text = format!("{HEADER}\n").into_bytes();
    text.extend(std::iter::repeat_n(b',', 2 * 1024 * 1024));
    text.extend(format!("\n{},Martin,Jean,M,1950,75056\n", nir(1)).as_bytes());
    let (valid, rejected, summary) = check_with(&text, Encoding::Utf8).unwrap();
    assert_eq!((valid.len(), summary.lines), (1, 2));
    assert_eq!(rejected[0].problems.len(), 1);
    assert!(matches!(rejected[0].problems[0].reason, Reason::TooLong));
}

#[test]
fn a_header_of_commas_is_one_problem_and_many_empty_names_are_summarised() {
    let mut text = std::iter::repeat_n(b',', 2 * 1024 * 1024).collect::<Vec<u8>>();
    text.extend(format!("\n{},Martin,Jean,M,1950,75056\n", nir(1)).as_bytes());
    let err = check_with(&text, Encoding::Utf8).unwrap_err();
    assert_eq!(err.header_problems().len(), 1, "{err}");
    assert!(err.to_string().contains("header row: longer than any header could be"), "{err}");

    // Under the limit: 1,000 unnamed columns, and required ones missing.
    let text = ",".repeat(999) + "\n";
    let err = check_with(text.as_bytes(), Encoding::Utf8).unwrap_err();
    let problems = err.header_problems();
    assert_eq!(problems.len(), MAX_PROBLEMS_SHOWN + 1, "{err}");
    assert_eq!(problems[0], HeaderProblem::Unnamed { position: 1 });
    assert_eq!(problems[MAX_PROBLEMS_SHOWN], HeaderProblem::More { count: 1000 + 6 - MAX_PROBLEMS_SHOWN });
    assert_eq!(problems[MAX_PROBLEMS_SHOWN].to_string(), "… and 996 more problems in the header row");
    let mut report = ReportWriter::new(ReportFormat::Json, Vec::new());
    report.unusable(&err).unwrap();
    assert_eq!(String::from_utf8(report.into_inner()).unwrap().lines().count(), MAX_PROBLEMS_SHOWN + 1);
}

#[test]
fn the_problems_of_one_record_are_summarised_past_the_bound() {
    let booleans = ["css", "complementary_cover", "rsa", "housing_aid", "activity_bonus", "home_return_aid"];
    let header = format!("{HEADER},{}", booleans.join(","));
    let record = format!("{},,,X,19x5,99999,{}", nir(1), ["maybe"; 6].join(","));
    let (_, rejected, _) = check_with(format!("{header}\n{record}\n").as_bytes(), Encoding::Utf8).unwrap();
    let problems = &rejected[0].problems;
    assert_eq!(problems.len(), MAX_PROBLEMS_SHOWN + 1, "{problems:?}");
    let last = &problems[MAX_PROBLEMS_SHOWN];
    assert_eq!(last.field, None);
    assert_eq!(last.reason.to_string(), "… and 1 more problem in this record");
}

#[test]
fn dev_zero_ends_with_an_error() {
    // NUL bytes forever: the header row never ends.
    let zeros = BufReader::with_capacity(64 * 1024, io::repeat(0));
    let (_, outcome) = read_all(zeros);
    let err = outcome.unwrap_err();
    assert!(matches!(err, UnusableFile::Endless { line: 1 }), "{err:?}");
    assert!(err.to_string().contains("runs on for more than 64 MiB without ending"), "{err}");
    // After a good header: one record that never ends.
    let header = Cursor::new(format!("{HEADER}\n").into_bytes());
    let (verdicts, outcome) = read_all(BufReader::with_capacity(64 * 1024, header.chain(io::repeat(0))));
    assert_eq!(verdicts, 0);
    assert!(matches!(outcome, Err(UnusableFile::Endless { line: 2 })), "{outcome:?}");
}

#[test]
fn blank_lines_forever_end_with_an_error() {
    let (verdicts, outcome) = read_all_within(header_then_forever(b"\r\n"), 1024 * 1024);
    assert_eq!(verdicts, 0);
    assert!(matches!(outcome, Err(UnusableFile::Endless { line: 2 })), "{outcome:?}");
    // The span counts every byte since the last record: blank lines, then a record.
    let mut text = format!("{HEADER}\n{},Martin,Jean,M,1950,75056\n", nir(1)).into_bytes();
    text.extend(std::iter::repeat_n(b'\n', 600));
    text.extend(std::iter::repeat_n(b'x', 600));
    let (verdicts, outcome) = read_all_within(&text[..], 1000);
    assert_eq!(verdicts, 1);
    assert!(matches!(outcome, Err(UnusableFile::Endless { line: 603 })), "the record's first line: {outcome:?}");
}

#[test]
fn records_without_data_forever_end_with_an_error() {
    for pattern in [&b"\0\n"[..], b",,,,,\n", b" \t\0\n", b"\"\",\n"] {
        let (verdicts, outcome) = read_all(header_then_forever(pattern));
        assert_eq!(verdicts, MAX_RECORDS_WITHOUT_DATA - 1, "{pattern:?}");
        let err = outcome.unwrap_err();
        assert!(
            matches!(err, UnusableFile::NoData { first: 2, last: 1001, count: MAX_RECORDS_WITHOUT_DATA }),
            "{pattern:?}: {err:?}"
        );
        assert!(err.to_string().contains("1000 records in a row hold no data"), "{err}");
    }
    // A few empty rows, then data again: each empty row is rejected, the file is usable.
    let mut text = format!("{HEADER}\n");
    for _ in 0..MAX_RECORDS_WITHOUT_DATA - 1 {
        text.push_str(",,,,,\n");
    }
    text.push_str(&format!("{},Martin,Jean,M,1950,75056\n,,,,,\n", nir(1)));
    let (verdicts, outcome) = read_all(text.as_bytes());
    assert_eq!(verdicts, MAX_RECORDS_WITHOUT_DATA + 1);
    assert_eq!(outcome.unwrap().valid, 1);
}

#[test]
fn a_long_but_finite_runaway_record_is_one_rejection() {
    // 3 MB inside an unclosed quote, then the end: rejected, not a whole-file error.
    let mut text = format!("{HEADER}\n{},\"", nir(1)).into_bytes();
    text.extend(std::iter::repeat_n(b'x', 3 * 1024 * 1024));
    let (verdicts, outcome) = read_all(&text[..]);
    assert_eq!(verdicts, 1);
    assert_eq!(outcome.unwrap().rejected, 1);
}
