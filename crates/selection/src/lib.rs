//! Selection files and extracts: streaming CSV readers that check every record against the
//! decree's rules and report each rejected one with its line number and reasons.
//!
//! - [`SelectionReader`]: the requester's selection (`passerelle requester check`, and later
//!   `requester submit`): yields a typed [`Person`] per valid record.
//! - [`ExtractReader`]: a solicited body's extract (`passerelle responder load`): yields a typed
//!   [`ExtractRow`] per valid record.
//! - [`ReportWriter`]: the rejection report, human-readable or JSON Lines.
//!
//! Both readers share one machinery ([`CheckedReader`]): a header row whose columns are matched
//! by name in any order; `,` or `;` detected from the header line; UTF-8 (with or without a
//! byte-order mark) or Windows-1252; RFC 4180 quoting, so quoted fields may hold separators and
//! line breaks; the physical line on which each record starts; every problem of a record, not
//! just the first. A bad record is rejected and the next one read. A problem of the whole file
//! makes it unusable ([`UnusableFile`]) and stops the read: a header problem, bytes that are not
//! UTF-8 in a file read as UTF-8 (said once, naming `--encoding windows-1252`, instead of once
//! per accented field), a record that has not ended after [`MAX_RECORD_SPAN`] bytes, or
//! [`MAX_RECORDS_WITHOUT_DATA`] records in a row without data. The problems of one record (or
//! of the header row) past [`MAX_PROBLEMS_SHOWN`] are counted, not listed.
//!
//! **Memory and time are bounded whatever the input**: one record is held at a time, at most
//! [`MAX_RECORD_BYTES`] with its separators counted, plus one 8-byte number per valid NIR for
//! duplicate detection, so a 1,000,000-record file checks in well under 100 MB; and an endless
//! input (`/dev/zero`, empty rows forever) ends with an [`UnusableFile`] error.
//!
//! ```no_run
//! use passerelle_protocol::{commune::CommuneTable, territory::Territories};
//! use passerelle_selection::{Checked, Encoding, SelectionReader, SelectionRules};
//!
//! let territories = Territories::default();
//! let rules = SelectionRules::new(2025, CommuneTable::official(), &territories);
//! let file = std::io::BufReader::new(std::fs::File::open("selection.csv")?);
//! let mut reader = SelectionReader::new(file, Encoding::Utf8, rules)?;
//! for verdict in &mut reader {
//!     match verdict? {
//!         Checked::Valid(person) => { /* keep it */ }
//!         Checked::Rejected(rejection) => eprintln!("line {} rejected", rejection.line),
//!     }
//! }
//! println!("{:?}", reader.summary());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod encoding;
mod extract;
mod fields;
mod header;
mod problem;
mod reader;
mod records;
mod report;
mod selection;

pub use encoding::{DecodeError, Encoding, UnknownEncoding};
pub use extract::{ExtractReader, ExtractRow, ExtractRules, EXTRACT_SCHEMA};
pub use fields::FORMER_NIRS_SEPARATOR;
pub use header::{Column, HeaderProblem, IdentityColumn, Schema, UnusableFile};
pub use problem::{Checked, Problem, Reason, Rejection, Summary, MAX_AGE, MAX_PROBLEMS_SHOWN, MIN_AGE};
pub use reader::{Cell, CheckedReader, Record, RecordRules, MAX_RECORDS_WITHOUT_DATA};
pub use records::{Separator, MAX_RECORD_BYTES, MAX_RECORD_SPAN};
pub use report::{ReportFormat, ReportWriter, REPORT_FORMAT};
pub use selection::{Person, SelectionReader, SelectionRules, SELECTION_SCHEMA};

#[cfg(test)]
mod bounds_tests;
#[cfg(test)]
mod rules_tests;
#[cfg(test)]
mod tests;
