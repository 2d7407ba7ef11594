//! The streaming checker shared by selection files and extracts: it reads the header, then one
//! record at a time (never the whole file), decodes and checks it, and yields either a typed row
//! or a [`Rejection`] listing every problem of the record.
//!
//! What differs between file kinds (which columns, which rules) is a [`RecordRules`]; the NIR
//! column, the encoding, the quoting, the field count and duplicate NIRs are handled here, the
//! same way for every kind.

use std::collections::HashSet;
use std::io::{BufRead, Chain, Cursor, Read};

use passerelle_protocol::nir::Nir;

use crate::encoding::{Encoding, UTF8_BOM};
use crate::header::{Column, Header, HeaderProblem, IdentityColumn, Schema, UnusableFile};
use crate::problem::{Checked, Problem, Reason, Rejection, Summary, MAX_PROBLEMS_SHOWN};
use crate::records::{RawRecord, RecordScanner, Separator, SyntaxDefect, MAX_RECORD_BYTES, MAX_RECORD_SPAN};

/// The most records in a row that hold no data — nothing but separators, blanks and NUL bytes —
/// before the file is refused ([`UnusableFile::NoData`]). Each is rejected as it comes, but an
/// endless stream of them (`yes ,`, NUL bytes with line ends, a zero-filled tail) would be
/// reported forever. A list of persons has none in the middle; a spreadsheet that exports its
/// formatted but empty rows adds a few at the end.
pub const MAX_RECORDS_WITHOUT_DATA: u64 = 1_000;

/// What one kind of file checks in a record, beyond what every kind checks.
pub trait RecordRules {
    /// The typed row of a valid record.
    type Row;

    /// The columns this kind of file accepts.
    fn schema(&self) -> &'static Schema;

    /// Checks a record whose fields are all there and decoded. `nir` is the record's NIR when it
    /// parsed (its problems are already in `problems` otherwise). Pushes every problem found, and
    /// returns the row only when the record is valid so far.
    fn check(&mut self, record: &Record<'_>, nir: Option<Nir>, problems: &mut Vec<Problem>) -> Option<Self::Row>;
}

/// One decoded record, as the rules see it.
#[derive(Debug)]
pub struct Record<'s> {
    /// The physical line on which the record starts.
    pub line: u64,
    header: &'s Header,
    text: &'s str,
    /// Each field's byte range in `text`, `None` when the field could not be decoded.
    bounds: &'s [Option<(usize, usize)>],
}

/// A field of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell<'s> {
    /// The file has no such column.
    Absent,
    /// The field could not be decoded; that problem is already reported.
    Unreadable,
    /// The field's text, trimmed; possibly empty.
    Text(&'s str),
}

impl<'s> Record<'s> {
    fn cell_at(&self, position: usize) -> Cell<'s> {
        match self.bounds[position] {
            Some((start, end)) => Cell::Text(self.text[start..end].trim()),
            None => Cell::Unreadable,
        }
    }

    /// An identity field.
    pub fn identity(&self, column: IdentityColumn) -> Cell<'s> {
        self.header.position(column).map_or(Cell::Absent, |p| self.cell_at(p))
    }

    /// The category columns of the file with their cells, in file order.
    pub fn categories(&self) -> impl Iterator<Item = (passerelle_protocol::v1::Category, Cell<'s>)> + '_ {
        self.header.categories.iter().map(|&(category, position)| (category, self.cell_at(position)))
    }
}

type Input<R> = Chain<Cursor<Vec<u8>>, R>;

/// A checked, streaming reader of one file. See [`crate::SelectionReader`] and
/// [`crate::ExtractReader`].
#[derive(Debug)]
pub struct CheckedReader<R, K> {
    scanner: RecordScanner<Input<R>>,
    encoding: Encoding,
    separator: Separator,
    header: Header,
    rules: K,
    /// The NIRs of the valid records so far, as numbers: 1,000,000 NIRs take about 16 MB here,
    /// where the NIR strings would take several times that.
    seen: HashSet<u64>,
    summary: Summary,
    /// The records without data in a row so far, and the line of the first.
    void_run: (u64, u64),
    /// Set once the file turned out unusable: nothing more is read.
    stopped: bool,
    /// Scratch buffers, reused from record to record.
    text: String,
    bounds: Vec<Option<(usize, usize)>>,
}

impl<R: BufRead, K: RecordRules> CheckedReader<R, K> {
    /// Reads and checks the header row. A header problem, or bytes the encoding cannot explain in
    /// the header, make the file unusable: nothing else is read.
    pub fn new(input: R, encoding: Encoding, rules: K) -> Result<Self, UnusableFile> {
        Self::with_span(input, encoding, rules, MAX_RECORD_SPAN)
    }

    /// [`CheckedReader::new`] giving up on a record after `span` bytes instead of
    /// [`MAX_RECORD_SPAN`] (tests of endless inputs).
    pub(crate) fn with_span(mut input: R, encoding: Encoding, rules: K, span: u64) -> Result<Self, UnusableFile> {
        let mut first_line = Vec::new();
        (&mut input).take(MAX_RECORD_BYTES as u64).read_until(b'\n', &mut first_line)?;
        if first_line.is_empty() {
            return Err(UnusableFile::Empty);
        }
        if first_line.starts_with(b"\xFF\xFE") || first_line.starts_with(b"\xFE\xFF") {
            return Err(UnusableFile::Utf16);
        }
        if first_line.starts_with(UTF8_BOM) {
            if encoding != Encoding::Utf8 {
                return Err(UnusableFile::Utf8BomButWindows1252);
            }
            first_line.drain(..UTF8_BOM.len());
        }
        if first_line.iter().all(u8::is_ascii_whitespace) {
            return Err(UnusableFile::BlankFirstLine);
        }
        let separator = Separator::detect(&first_line);
        let mut scanner = RecordScanner::with_span(Cursor::new(first_line).chain(input), separator, span);
        let raw = scanner.next_record()?.ok_or(UnusableFile::Empty)?;
        if let Some(defect) = raw.defect {
            let message = match defect {
                SyntaxDefect::TextAfterQuote { .. } => "header row: text after the closing quote of a quoted name",
                SyntaxDefect::UnclosedQuote => "header row: a quoted name is never closed",
                SyntaxDefect::TooLong => "header row: longer than any header could be",
                SyntaxDefect::Endless => return Err(UnusableFile::Endless { line: raw.line }),
            };
            return Err(UnusableFile::Header(vec![HeaderProblem::Syntax { message }]));
        }
        let mut names = Vec::with_capacity(raw.len());
        for i in 0..raw.len() {
            let mut name = String::new();
            encoding
                .decode_field(raw.field(i), &mut name)
                .map_err(|error| UnusableFile::HeaderEncoding { position: i + 1, error })?;
            names.push(name);
        }
        let header = Header::resolve(&names, rules.schema()).map_err(UnusableFile::Header)?;
        Ok(CheckedReader {
            scanner,
            encoding,
            separator,
            header,
            rules,
            seen: HashSet::new(),
            summary: Summary::default(),
            void_run: (0, 0),
            stopped: false,
            text: String::new(),
            bounds: Vec::new(),
        })
    }

    /// The columns of the file, in file order (writers of result files follow it).
    pub fn columns(&self) -> &[Column] {
        &self.header.columns
    }

    /// The categories the file has a column for, in file order.
    pub fn categories(&self) -> impl Iterator<Item = passerelle_protocol::v1::Category> + '_ {
        self.header.categories.iter().map(|&(category, _)| category)
    }

    /// The separator detected from the header line.
    pub fn separator(&self) -> Separator {
        self.separator
    }

    /// The encoding the file is read in.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// The counts so far; final once the iterator is exhausted.
    pub fn summary(&self) -> Summary {
        self.summary
    }

    /// Reads and checks the next record. After an error, reads nothing more.
    fn next_checked(&mut self) -> Result<Option<Checked<K::Row>>, UnusableFile> {
        if self.stopped {
            return Ok(None);
        }
        let checked = self.read_and_check();
        self.stopped = checked.is_err();
        checked
    }

    fn read_and_check(&mut self) -> Result<Option<Checked<K::Row>>, UnusableFile> {
        let Some(raw) = self.scanner.next_record()? else {
            return Ok(None);
        };
        let line = raw.line;
        if raw.defect == Some(SyntaxDefect::Endless) {
            return Err(UnusableFile::Endless { line });
        }
        if raw.is_void() {
            let (count, first) = &mut self.void_run;
            if *count == 0 {
                *first = line;
            }
            *count += 1;
            if *count >= MAX_RECORDS_WITHOUT_DATA {
                return Err(UnusableFile::NoData { first: *first, last: line, count: *count });
            }
        } else {
            self.void_run = (0, 0);
        }
        if self.encoding == Encoding::Utf8 && raw.defect != Some(SyntaxDefect::TooLong) {
            not_utf8(raw, &self.header)?;
        }
        self.summary.lines += 1;
        let mut problems = Vec::new();
        let row = check_raw(
            raw,
            &self.header,
            self.encoding,
            &mut self.text,
            &mut self.bounds,
            &mut self.rules,
            &self.seen,
            &mut problems,
        );
        if problems.len() > MAX_PROBLEMS_SHOWN {
            let count = problems.len() - MAX_PROBLEMS_SHOWN;
            problems.truncate(MAX_PROBLEMS_SHOWN);
            problems.push(Problem::record(Reason::More { count }));
        }
        Ok(Some(match row {
            Some((row, nir_key)) if problems.is_empty() => {
                self.seen.insert(nir_key);
                self.summary.valid += 1;
                Checked::Valid(row)
            }
            _ => {
                debug_assert!(!problems.is_empty(), "a record without a row has a problem");
                self.summary.rejected += 1;
                Checked::Rejected(Rejection { line, problems })
            }
        }))
    }
}

/// Refuses the file at the first byte of a record that is not UTF-8, whatever the record's field
/// count: an encoding is the whole file's, so reporting it field by field would only repeat it on
/// every record with an accent (and let the records without one through). The record's last
/// field may be cut short by [`MAX_RECORD_BYTES`], so an overlong record is not looked at.
fn not_utf8(raw: &RawRecord, header: &Header) -> Result<(), UnusableFile> {
    for i in 0..raw.len() {
        if let Err(e) = std::str::from_utf8(raw.field(i)) {
            let offset = e.valid_up_to();
            return Err(UnusableFile::NotUtf8 {
                line: raw.line,
                field: header.columns.get(i).map_or("(beyond the header's columns)", |c| c.code()),
                offset,
                byte: raw.field(i)[offset],
            });
        }
    }
    Ok(())
}

/// Checks one raw record: syntax, field count, decoding, the NIR, then the kind's rules, then
/// duplicates. Returns the row and its NIR key when no problem was found.
#[allow(clippy::too_many_arguments)]
fn check_raw<K: RecordRules>(
    raw: &RawRecord,
    header: &Header,
    encoding: Encoding,
    text: &mut String,
    bounds: &mut Vec<Option<(usize, usize)>>,
    rules: &mut K,
    seen: &HashSet<u64>,
    problems: &mut Vec<Problem>,
) -> Option<(K::Row, u64)> {
    match raw.defect {
        Some(SyntaxDefect::UnclosedQuote) => {
            problems.push(Problem::record(Reason::UnclosedQuote));
            return None;
        }
        // An endless record stops the read before its check; were it checked, it is too long.
        Some(SyntaxDefect::TooLong | SyntaxDefect::Endless) => {
            problems.push(Problem::record(Reason::TooLong));
            return None;
        }
        _ => {}
    }
    if raw.len() != header.len() {
        problems.push(Problem::record(Reason::FieldCount { found: raw.len(), expected: header.len() }));
        return None;
    }
    if let Some(SyntaxDefect::TextAfterQuote { field }) = raw.defect {
        problems.push(Problem::new(header.columns[field].code(), Reason::TextAfterQuote));
    }
    text.clear();
    bounds.clear();
    for i in 0..raw.len() {
        let start = text.len();
        match encoding.decode_field(raw.field(i), text) {
            Ok(()) => bounds.push(Some((start, text.len()))),
            Err(e) => {
                problems.push(Problem::new(header.columns[i].code(), Reason::Encoding(e)));
                bounds.push(None);
            }
        }
    }
    let record = Record { line: raw.line, header, text, bounds };
    let nir = match record.identity(IdentityColumn::Nir) {
        Cell::Text("") => {
            problems.push(Problem::new(IdentityColumn::Nir.code(), Reason::Missing));
            None
        }
        Cell::Text(t) => match Nir::parse(t) {
            Ok(nir) => Some(nir),
            Err(e) => {
                problems.push(Problem::new(IdentityColumn::Nir.code(), Reason::Nir(e)));
                None
            }
        },
        Cell::Absent | Cell::Unreadable => None,
    };
    let nir_key = nir.as_ref().map(Nir::as_u64);
    let row = rules.check(&record, nir, problems);
    let nir_key = nir_key?;
    if seen.contains(&nir_key) {
        problems.push(Problem::new(IdentityColumn::Nir.code(), Reason::DuplicateNir));
    }
    Some((row?, nir_key))
}

impl<R: BufRead, K: RecordRules> Iterator for CheckedReader<R, K> {
    /// A record's verdict, or why the file turned out unusable (then the iterator ends).
    type Item = Result<Checked<K::Row>, UnusableFile>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_checked().transpose()
    }
}
