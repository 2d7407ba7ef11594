//! The rejection report of a checked file, for people or for programs.
//!
//! - [`ReportFormat::Human`]: one line per problem, `line 12, birth_year: aged 54 in 2025 …`, then
//!   a summary sentence. The CLI writes it on stderr.
//! - [`ReportFormat::Json`]: one JSON object per line and per problem,
//!   `{"format": "passerelle.report/1", "line": 12, "field": "birth_year", "reason": "…"}`
//!   (`field` is `null` for a problem of the whole record), then last
//!   `{"format": "passerelle.report/1", "summary": {"lines": R, "valid": V, "rejected": X}}`
//!   (docs/JSON.md). The CLI writes it on stdout. An unusable header gives one object per header
//!   problem, on line 1, and no summary; a file found unusable further on (the wrong encoding, a
//!   record that never ends) gives one object on the line where it was found, and no summary.
//!
//! Reasons never contain a NIR or a name (see [`crate::problem`]), so a report can be mailed to
//! whoever prepared the file.

use std::io::{self, Write};

use crate::header::UnusableFile;
use crate::problem::{Rejection, Summary};

/// How a report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReportFormat {
    /// Sentences, for a person at a terminal.
    #[default]
    Human,
    /// JSON Lines, for a program.
    Json,
}

/// Writes a report as the records are checked (nothing is kept).
#[derive(Debug)]
pub struct ReportWriter<W: Write> {
    format: ReportFormat,
    out: W,
    /// What a record is called in the summary sentence: `record`, `row`.
    noun: &'static str,
}

/// The `format` of every object of a JSON report (docs/JSON.md).
pub const REPORT_FORMAT: &str = "passerelle.report/1";

#[derive(serde::Serialize)]
struct JsonProblem<'a> {
    format: &'static str,
    line: u64,
    field: Option<&'a str>,
    reason: &'a str,
}

#[derive(serde::Serialize)]
struct JsonSummary {
    format: &'static str,
    summary: Summary,
}

impl<W: Write> ReportWriter<W> {
    /// A writer to `out`. Wrap `out` in a `BufWriter` for large files.
    pub fn new(format: ReportFormat, out: W) -> Self {
        ReportWriter { format, out, noun: "record" }
    }

    /// Calls records `noun` in the summary sentence (default `record`).
    pub fn with_noun(mut self, noun: &'static str) -> Self {
        self.noun = noun;
        self
    }

    /// Reports every problem of a rejected record.
    pub fn rejection(&mut self, rejection: &Rejection) -> io::Result<()> {
        for problem in &rejection.problems {
            self.problem(rejection.line, problem.field, &problem.reason.to_string())?;
        }
        Ok(())
    }

    /// Reports why a file is unusable. Header problems are reported one by one, on line 1; other
    /// causes once, on their line; in human form, they are left to the caller's error message.
    pub fn unusable(&mut self, error: &UnusableFile) -> io::Result<()> {
        match (self.format, error) {
            (_, UnusableFile::Header(problems)) => {
                for p in problems {
                    self.problem(1, p.field(), &p.to_string())?;
                }
            }
            (ReportFormat::Json, UnusableFile::Io(_)) | (ReportFormat::Human, _) => {}
            (ReportFormat::Json, other) => self.problem(other.line(), None, &other.to_string())?,
        }
        self.out.flush()
    }

    /// Writes the summary, last, and flushes.
    pub fn summary(&mut self, summary: &Summary) -> io::Result<()> {
        match self.format {
            ReportFormat::Json => {
                serde_json::to_writer(&mut self.out, &JsonSummary { format: REPORT_FORMAT, summary: *summary })?;
                self.out.write_all(b"\n")?;
            }
            ReportFormat::Human => {
                let plural = |n: u64| if n == 1 { "" } else { "s" };
                writeln!(
                    self.out,
                    "{lines} {noun}{s} checked: {valid} valid, {rejected} rejected",
                    lines = summary.lines,
                    noun = self.noun,
                    s = plural(summary.lines),
                    valid = summary.valid,
                    rejected = summary.rejected,
                )?;
            }
        }
        self.out.flush()
    }

    /// Gives the output back (tests read it).
    pub fn into_inner(self) -> W {
        self.out
    }

    /// Reports one problem already in words (a report relayed from a daemon that checked the
    /// file).
    pub fn problem(&mut self, line: u64, field: Option<&str>, reason: &str) -> io::Result<()> {
        match self.format {
            ReportFormat::Json => {
                serde_json::to_writer(&mut self.out, &JsonProblem { format: REPORT_FORMAT, line, field, reason })?;
                self.out.write_all(b"\n")
            }
            ReportFormat::Human => match field {
                Some(field) => writeln!(self.out, "line {line}, {field}: {reason}"),
                None => writeln!(self.out, "line {line}: {reason}"),
            },
        }
    }
}
