//! The CSV scanner: splits a byte stream into records and fields (RFC 4180 quoting), remembers
//! the physical line on which each record starts, and never holds more than one record.
//!
//! It works on bytes, before any decoding: the separators, quotes and line ends of UTF-8 and
//! Windows-1252 are the same ASCII bytes, so splitting first and decoding each field afterwards
//! locates an undecodable byte in its field and record.
//!
//! **Bounded whatever the input.** A record keeps at most [`MAX_RECORD_BYTES`], its separators
//! counted (each field costs its bytes and one more), so neither a line of commas nor a field
//! that never ends grows memory; and the scanner reads at most [`MAX_RECORD_SPAN`] bytes for one
//! record (blank lines before it included) before it gives up on the file
//! ([`SyntaxDefect::Endless`]), so an endless input such as `/dev/zero` ends.

use std::io::{self, BufRead};

/// The longest record the scanner keeps, in bytes, each field separator counted as the byte it is
/// (a field's end costs 8 bytes of memory, so 64 Ki separators cost 512 KiB, not gigabytes). A
/// selection or extract record is a few hundred bytes; a record longer than this is almost
/// surely a quote left open, which would otherwise swallow the rest of the file into memory. The
/// scanner keeps reading to the record's end (so line numbers stay right) but drops the bytes
/// beyond this limit and rejects the record.
pub const MAX_RECORD_BYTES: usize = 64 * 1024;

/// The most bytes the scanner reads for one record, blank lines before it included, before it
/// gives up on the file: a record that has not ended after 64 MiB is a quote left open in a
/// large file, binary data without line ends, or an endless input (`/dev/zero`), and the whole
/// file is unusable. A thousand times the longest record kept, so a long but finite runaway
/// line is still one rejected record.
pub const MAX_RECORD_SPAN: u64 = 64 * 1024 * 1024;

/// The field separator, detected from the header line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Separator {
    /// `,`: the RFC 4180 default.
    Comma,
    /// `;`: what French spreadsheets write, since `,` is their decimal mark.
    Semicolon,
}

impl Separator {
    /// The separator byte.
    pub fn as_byte(self) -> u8 {
        match self {
            Separator::Comma => b',',
            Separator::Semicolon => b';',
        }
    }

    /// Detects the separator from the header line: the one of `,` and `;` that occurs more often
    /// outside quotes. Column names contain neither, so the header line is unambiguous.
    pub fn detect(header_line: &[u8]) -> Separator {
        let (mut commas, mut semicolons, mut quoted) = (0usize, 0usize, false);
        for &b in header_line {
            match b {
                b'"' => quoted = !quoted,
                b',' if !quoted => commas += 1,
                b';' if !quoted => semicolons += 1,
                _ => {}
            }
        }
        if semicolons > commas {
            Separator::Semicolon
        } else {
            Separator::Comma
        }
    }
}

impl std::fmt::Display for Separator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Separator::Comma => "`,`",
            Separator::Semicolon => "`;`",
        })
    }
}

/// A syntax problem the scanner found in a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SyntaxDefect {
    /// Text follows the closing quote of a quoted field (0-based field index).
    TextAfterQuote { field: usize },
    /// A quoted field is still open at the end of the file.
    UnclosedQuote,
    /// The record is longer than [`MAX_RECORD_BYTES`].
    TooLong,
    /// The record (or the blank lines before it) had not ended after [`MAX_RECORD_SPAN`] bytes:
    /// the scanner stopped in the middle, and the file is unusable.
    Endless,
}

/// One record, as raw bytes split into fields. Reused from record to record.
#[derive(Debug, Default)]
pub(crate) struct RawRecord {
    /// The physical line (1-based) on which the record starts.
    pub line: u64,
    /// The fields' bytes, end to end, quotes removed.
    pub bytes: Vec<u8>,
    /// The end offset in `bytes` of each field.
    pub ends: Vec<usize>,
    /// The first syntax problem found, if any.
    pub defect: Option<SyntaxDefect>,
}

impl RawRecord {
    fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
        self.defect = None;
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// The bytes of field `i`.
    pub fn field(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }

    /// Whether the record holds no data: nothing but separators, quotes, blanks and NUL bytes.
    pub fn is_void(&self) -> bool {
        self.bytes.iter().all(|&b| b == 0 || b.is_ascii_whitespace())
    }

    /// Whether one more byte or field end fits in [`MAX_RECORD_BYTES`]; marks the record too
    /// long when not.
    fn room(&mut self) -> bool {
        if self.bytes.len() + self.ends.len() < MAX_RECORD_BYTES {
            true
        } else {
            // Over any other defect: the record is cut, so its fields are not the file's.
            self.defect = Some(SyntaxDefect::TooLong);
            false
        }
    }

    fn push(&mut self, b: u8) {
        if self.room() {
            self.bytes.push(b);
        }
    }

    fn end_field(&mut self) {
        if self.room() {
            self.ends.push(self.bytes.len());
        }
    }

    /// Ends the last field of a record at a line feed, dropping the `\r` of a CRLF line end.
    fn end_line(&mut self, unquoted: bool) {
        if unquoted && self.bytes.len() > self.ends.last().copied().unwrap_or(0) && self.bytes.last() == Some(&b'\r') {
            self.bytes.pop();
        }
        self.end_field();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between records: blank lines are skipped here.
    StartRecord,
    StartField,
    Unquoted,
    Quoted,
    /// A `"` inside a quoted field: either the closing quote or the first of a doubled `""`.
    QuoteInQuoted,
}

/// Splits a byte stream into [`RawRecord`]s.
#[derive(Debug)]
pub(crate) struct RecordScanner<R> {
    input: R,
    separator: u8,
    /// The physical line of the next byte to read.
    line: u64,
    /// The most bytes read for one record: [`MAX_RECORD_SPAN`], smaller in tests.
    span_limit: u64,
    record: RawRecord,
}

impl<R: BufRead> RecordScanner<R> {
    #[cfg(test)]
    pub fn new(input: R, separator: Separator) -> Self {
        Self::with_span(input, separator, MAX_RECORD_SPAN)
    }

    pub fn with_span(input: R, separator: Separator, span_limit: u64) -> Self {
        RecordScanner { input, separator: separator.as_byte(), line: 1, span_limit, record: RawRecord::default() }
    }

    /// Reads the next record; `Ok(None)` at the end of the input. Blank lines are not records.
    /// A record marked [`SyntaxDefect::Endless`] was cut in the middle: read no further.
    pub fn next_record(&mut self) -> io::Result<Option<&RawRecord>> {
        let RecordScanner { input, separator, line, span_limit, record } = self;
        let sep = *separator;
        record.clear();
        record.line = *line;
        let mut state = State::StartRecord;
        let mut span = 0u64;
        loop {
            let buf = match input.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            // At most what is left of the span: the cut falls on the same byte whatever the
            // reads' sizes.
            let allowed = usize::try_from(*span_limit - span).unwrap_or(usize::MAX);
            if allowed == 0 && !buf.is_empty() {
                record.defect = Some(SyntaxDefect::Endless);
                return Ok(Some(&self.record));
            }
            let buf = &buf[..buf.len().min(allowed)];
            if buf.is_empty() {
                return Ok(match state {
                    State::StartRecord => None,
                    State::Quoted => {
                        record.defect.get_or_insert(SyntaxDefect::UnclosedQuote);
                        record.end_field();
                        Some(&self.record)
                    }
                    State::Unquoted | State::StartField => {
                        record.end_line(true);
                        Some(&self.record)
                    }
                    State::QuoteInQuoted => {
                        record.end_field();
                        Some(&self.record)
                    }
                });
            }
            let mut used = 0;
            let mut complete = false;
            while used < buf.len() {
                if record.defect == Some(SyntaxDefect::TooLong) {
                    // The record is cut: its bytes are dropped, so go straight to the next byte
                    // that changes the state or the line (at memchr's speed, not a byte at a time:
                    // this is how a runaway line or `/dev/zero` is skipped).
                    let rest = &buf[used..];
                    let next = match state {
                        State::Unquoted => memchr::memchr2(sep, b'\n', rest),
                        State::Quoted => memchr::memchr2(b'"', b'\n', rest),
                        _ => Some(0),
                    };
                    used += next.unwrap_or(rest.len());
                    if used == buf.len() {
                        break;
                    }
                }
                let b = buf[used];
                used += 1;
                if state == State::StartRecord {
                    match b {
                        b'\n' => {
                            *line += 1;
                            continue;
                        }
                        b'\r' => continue,
                        _ => {
                            record.line = *line;
                            state = State::StartField;
                        }
                    }
                }
                match state {
                    State::StartRecord => unreachable!("handled above"),
                    State::StartField | State::Unquoted => {
                        if b == b'"' && state == State::StartField {
                            state = State::Quoted;
                        } else if b == sep {
                            record.end_field();
                            state = State::StartField;
                        } else if b == b'\n' {
                            record.end_line(true);
                            *line += 1;
                            complete = true;
                            break;
                        } else {
                            record.push(b);
                            state = State::Unquoted;
                        }
                    }
                    State::Quoted => {
                        if b == b'"' {
                            state = State::QuoteInQuoted;
                        } else {
                            if b == b'\n' {
                                *line += 1;
                            }
                            record.push(b);
                        }
                    }
                    State::QuoteInQuoted => {
                        if b == b'"' {
                            record.push(b'"');
                            state = State::Quoted;
                        } else if b == sep {
                            record.end_field();
                            state = State::StartField;
                        } else if b == b'\n' {
                            record.end_line(false);
                            *line += 1;
                            complete = true;
                            break;
                        } else if b == b'\r' {
                            // The CR of a CRLF line end after a closing quote.
                        } else {
                            let field = record.ends.len();
                            record.defect.get_or_insert(SyntaxDefect::TextAfterQuote { field });
                            record.push(b);
                            state = State::Unquoted;
                        }
                    }
                }
            }
            input.consume(used);
            span += used as u64;
            if complete {
                return Ok(Some(&self.record));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(text: &[u8], sep: Separator) -> Vec<(u64, Vec<String>, Option<SyntaxDefect>)> {
        // A tiny buffer, so records straddle buffer boundaries.
        let mut scanner = RecordScanner::new(io::BufReader::with_capacity(3, text), sep);
        let mut out = Vec::new();
        while let Some(r) = scanner.next_record().unwrap() {
            let fields = (0..r.len()).map(|i| String::from_utf8(r.field(i).to_vec()).unwrap()).collect();
            out.push((r.line, fields, r.defect));
        }
        out
    }

    fn v(fields: &[&str]) -> Vec<String> {
        fields.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn fields_quotes_and_line_numbers() {
        let text = b"a,b,c\n1,\"x,y\",3\r\n\n\"multi\nline\",\"say \"\"hi\"\"\",\r\nlast,,end";
        let got = scan(text, Separator::Comma);
        assert_eq!(
            got,
            vec![
                (1, v(&["a", "b", "c"]), None),
                (2, v(&["1", "x,y", "3"]), None),
                (4, v(&["multi\nline", "say \"hi\"", ""]), None),
                (6, v(&["last", "", "end"]), None),
            ]
        );
    }

    #[test]
    fn semicolons_leave_commas_alone() {
        let got = scan(b"a;b\n1,5;\"x;y\"\n", Separator::Semicolon);
        assert_eq!(got[1], (2, v(&["1,5", "x;y"]), None));
    }

    #[test]
    fn defects_are_flagged_and_scanning_goes_on() {
        let got = scan(b"\"ab\"c,d\nok,ok\n\"open,never\nclosed", Separator::Comma);
        assert_eq!(got[0], (1, v(&["abc", "d"]), Some(SyntaxDefect::TextAfterQuote { field: 0 })));
        assert_eq!(got[1], (2, v(&["ok", "ok"]), None));
        assert_eq!(got[2].0, 3);
        assert_eq!(got[2].2, Some(SyntaxDefect::UnclosedQuote));
    }

    #[test]
    fn overlong_records_are_cut_but_lines_still_count() {
        let mut text = b"\"".to_vec();
        text.extend(std::iter::repeat_n(b'x', MAX_RECORD_BYTES + 10));
        text.extend(b"\n\n\",1\nnext,2\n");
        let mut scanner = RecordScanner::new(io::BufReader::new(&text[..]), Separator::Comma);
        let first = scanner.next_record().unwrap().unwrap();
        assert_eq!(first.defect, Some(SyntaxDefect::TooLong));
        assert!(first.bytes.len() <= MAX_RECORD_BYTES);
        let next = scanner.next_record().unwrap().unwrap();
        assert_eq!((next.line, next.field(0)), (4, &b"next"[..]));
    }

    #[test]
    fn separator_detection() {
        assert_eq!(Separator::detect(b"nir;family_name;sex\r\n"), Separator::Semicolon);
        assert_eq!(Separator::detect(b"nir,family_name,sex\n"), Separator::Comma);
        assert_eq!(Separator::detect(b"\"a;b\",c\n"), Separator::Comma);
        assert_eq!(Separator::detect(b"nir\n"), Separator::Comma);
    }
}
