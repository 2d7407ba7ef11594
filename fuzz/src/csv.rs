//! The selection and extract readers (crates/selection) under hostile bytes, fed as a whole file
//! in each encoding. Shared, through `#[path]`, by the fuzz targets `selection_csv` and
//! `extract_csv` and by the replay test `crates/selection/tests/fuzz_corpus.rs`.
//!
//! Beyond "no panic", for each encoding:
//! - an unusable file gives a non-empty reason, and its JSON report is valid JSON Lines;
//! - otherwise every record gives a verdict, on a line after the header and within the file, in
//!   increasing line order, until the end or until the file turns out unusable further on (never
//!   an I/O error: reading from memory does not fail), which gives a reason and a one-line JSON
//!   report on a line within the file; a rejection has at least one problem and at most
//!   `MAX_PROBLEMS_SHOWN` + 1 (the last one counting the rest); the summary counts exactly the
//!   verdicts; valid NIRs are unique;
//! - the report of each rejection, in both formats, is written, and the JSON one parses with the
//!   record's line;
//! - no reason holds a run of 13 digits or more (a NIR is 13 digits and a 2-digit key);
//! - the verdicts do not depend on how the input is split into reads: a 3-byte read buffer gives
//!   the same verdicts as a large one.

use std::collections::HashSet;
use std::io::BufReader;

use passerelle_protocol::commune::CommuneTable;
use passerelle_protocol::territory::Territories;
use passerelle_selection::{
    Checked, CheckedReader, Encoding, ExtractRules, RecordRules, ReportFormat, ReportWriter, SelectionRules,
    UnusableFile, MAX_PROBLEMS_SHOWN,
};

/// The reference year of the age rule.
pub const REFERENCE_YEAR: u32 = 2025;

/// The encodings a file may be read in.
pub const ENCODINGS: [Encoding; 2] = [Encoding::Utf8, Encoding::Windows1252];

/// The shortest run of digits that could be a NIR without its key.
const NIR_DIGITS: usize = 13;

/// What a file read gives, compared between read-buffer sizes.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Unusable(String),
    /// Per record: its line, and `None` when valid or the reasons when rejected; then why the
    /// read stopped before the end, if it did.
    Read(Vec<(u64, Option<Vec<String>>)>, Option<String>),
}

/// Reads `data` as a selection file, in each encoding.
pub fn selection(data: &[u8]) {
    let territories = Territories::default();
    for encoding in ENCODINGS {
        let rules = || SelectionRules::new(REFERENCE_YEAR, CommuneTable::official(), &territories);
        let large = read(data, encoding, rules(), 64 * 1024, |p| (p.line, p.nir.as_u64()));
        let small = read(data, encoding, rules(), 3, |p| (p.line, p.nir.as_u64()));
        assert_eq!(large, small, "the verdicts depend on the read buffer's size");
    }
}

/// Reads `data` as a body's extract, in each encoding.
pub fn extract(data: &[u8]) {
    for encoding in ENCODINGS {
        let large = read(data, encoding, ExtractRules, 64 * 1024, |r| (r.line, r.nir.as_u64()));
        let small = read(data, encoding, ExtractRules, 3, |r| (r.line, r.nir.as_u64()));
        assert_eq!(large, small, "the verdicts depend on the read buffer's size");
    }
}

fn read<K: RecordRules>(
    data: &[u8],
    encoding: Encoding,
    rules: K,
    buffer: usize,
    line_and_nir: impl Fn(&K::Row) -> (u64, u64),
) -> Outcome {
    let input = BufReader::with_capacity(buffer, data);
    let mut reader = match CheckedReader::new(input, encoding, rules) {
        Ok(reader) => reader,
        Err(unusable) => {
            let reason = unusable.to_string();
            assert!(!reason.is_empty(), "an unusable file without a reason");
            assert_no_nir(&reason);
            let mut json = ReportWriter::new(ReportFormat::Json, Vec::new());
            json.unusable(&unusable).expect("a report to memory is written");
            assert_json_lines(&json.into_inner(), Some(1));
            let mut human = ReportWriter::new(ReportFormat::Human, Vec::new());
            human.unusable(&unusable).expect("a report to memory is written");
            return Outcome::Unusable(reason);
        }
    };
    let last_line = 1 + data.iter().filter(|&&b| b == b'\n').count() as u64;
    let mut verdicts = Vec::new();
    let mut nirs = HashSet::new();
    let mut previous_line = 1;
    let (mut valid, mut rejected) = (0, 0);
    let mut stopped = None;
    for verdict in &mut reader {
        let verdict = match verdict {
            Ok(verdict) => verdict,
            Err(UnusableFile::Io(e)) => panic!("reading from memory failed: {e}"),
            Err(unusable) => {
                let reason = unusable.to_string();
                assert!(!reason.is_empty(), "an unusable file without a reason");
                assert_no_nir(&reason);
                assert!(unusable.line() > 1 && unusable.line() <= last_line, "stopped on line {}", unusable.line());
                let mut json = ReportWriter::new(ReportFormat::Json, Vec::new());
                json.unusable(&unusable).expect("a report to memory is written");
                assert_json_lines(&json.into_inner(), Some(unusable.line()));
                stopped = Some(reason);
                continue;
            }
        };
        assert!(stopped.is_none(), "a verdict after the read stopped");
        match verdict {
            Checked::Valid(row) => {
                valid += 1;
                let (line, nir) = line_and_nir(&row);
                assert!(nirs.insert(nir), "two valid records with the same NIR");
                verdicts.push((line, None));
            }
            Checked::Rejected(rejection) => {
                rejected += 1;
                assert!(!rejection.problems.is_empty(), "a rejection without a problem");
                assert!(
                    rejection.problems.len() <= MAX_PROBLEMS_SHOWN + 1,
                    "{} problems listed",
                    rejection.problems.len()
                );
                let reasons: Vec<String> = rejection.problems.iter().map(|p| p.reason.to_string()).collect();
                for reason in &reasons {
                    assert!(!reason.is_empty(), "a problem without a reason");
                    assert_no_nir(reason);
                }
                let mut json = ReportWriter::new(ReportFormat::Json, Vec::new());
                json.rejection(&rejection).expect("a report to memory is written");
                assert_json_lines(&json.into_inner(), Some(rejection.line));
                let mut human = ReportWriter::new(ReportFormat::Human, Vec::new());
                human.rejection(&rejection).expect("a report to memory is written");
                verdicts.push((rejection.line, Some(reasons)));
            }
        }
    }
    let summary = reader.summary();
    assert_eq!(summary.valid, valid, "summary of valid records");
    assert_eq!(summary.rejected, rejected, "summary of rejected records");
    assert_eq!(summary.lines, valid + rejected, "summary of records");
    let mut out = Vec::with_capacity(verdicts.len());
    for (line, reasons) in verdicts {
        assert!(line > previous_line, "record on line {line} after one on line {previous_line}");
        assert!(line <= last_line, "record on line {line} of a {last_line}-line file");
        previous_line = line;
        out.push((line, reasons));
    }
    let mut json = ReportWriter::new(ReportFormat::Json, Vec::new());
    json.summary(&summary).expect("a report to memory is written");
    assert_json_lines(&json.into_inner(), None);
    Outcome::Read(out, stopped)
}

/// Every line is a JSON object; with `line`, each has that `line` field.
fn assert_json_lines(bytes: &[u8], line: Option<u64>) {
    let text = std::str::from_utf8(bytes).expect("a JSON report is UTF-8");
    for l in text.lines() {
        let value: serde_json::Value = serde_json::from_str(l).expect("a JSON report line parses");
        assert!(value.is_object(), "a JSON report line that is not an object");
        if let Some(line) = line {
            assert_eq!(value["line"].as_u64(), Some(line), "a JSON report line with the wrong line");
        }
    }
}

/// No run of [`NIR_DIGITS`] digits or more.
fn assert_no_nir(reason: &str) {
    let mut run = 0;
    for c in reason.chars() {
        run = if c.is_ascii_digit() { run + 1 } else { 0 };
        assert!(run < NIR_DIGITS, "a reason holds a run of {NIR_DIGITS} digits (a NIR?): {reason:?}");
    }
}
