//! The header row: which columns a file kind accepts, how header names map to them, and the
//! header problems that make a file unusable (nothing is checked then).
//!
//! Columns are matched by name, in any order; names are trimmed and compared without regard to
//! ASCII case, so `NIR` and ` nir ` both name the `nir` column. The names are the catalogue's:
//! the identity fields of art. 2, 1° and the category codes of art. 2, 2° to 7°.

use std::fmt;
use std::io;

use passerelle_protocol::catalogue;
use passerelle_protocol::v1::Category;

use crate::encoding::DecodeError;
use crate::problem::{plural, MAX_PROBLEMS_SHOWN};

/// An identity column (art. 2, 1°). The order is the catalogue's `IDENTITY_FIELDS` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IdentityColumn {
    Nir,
    FormerNirs,
    FamilyName,
    UsageName,
    GivenNames,
    Sex,
    BirthYear,
    CommuneCode,
    PostalAddress,
    Email,
    Phone,
}

impl IdentityColumn {
    /// Every identity column, in catalogue order.
    pub const ALL: [IdentityColumn; 11] = [
        IdentityColumn::Nir,
        IdentityColumn::FormerNirs,
        IdentityColumn::FamilyName,
        IdentityColumn::UsageName,
        IdentityColumn::GivenNames,
        IdentityColumn::Sex,
        IdentityColumn::BirthYear,
        IdentityColumn::CommuneCode,
        IdentityColumn::PostalAddress,
        IdentityColumn::Email,
        IdentityColumn::Phone,
    ];

    /// The column name, from the catalogue (e.g. `family_name`).
    pub fn code(self) -> &'static str {
        catalogue::IDENTITY_FIELDS[self as usize].code
    }

    /// Whether a selection file must have this column, and a value in it (catalogue).
    pub fn required_in_selection(self) -> bool {
        catalogue::IDENTITY_FIELDS[self as usize].required_in_selection
    }

    fn by_code(code: &str) -> Option<IdentityColumn> {
        IdentityColumn::ALL.into_iter().find(|c| c.code() == code)
    }
}

/// A column of a selection file or extract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    /// Identification data (art. 2, 1°).
    Identity(IdentityColumn),
    /// A risk-factor category (art. 2, 2° to 7°), named by its catalogue code.
    Category(Category),
}

impl Column {
    /// The column name, e.g. `nir` or `long_term_condition`.
    pub fn code(self) -> &'static str {
        match self {
            Column::Identity(c) => c.code(),
            Column::Category(c) => c.code(),
        }
    }

    fn by_code(code: &str) -> Option<Column> {
        IdentityColumn::by_code(code)
            .map(Column::Identity)
            .or_else(|| catalogue::by_code(code).map(|i| Column::Category(i.category)))
    }
}

/// Which columns a kind of file accepts. Category columns are always accepted.
#[derive(Debug)]
pub struct Schema {
    /// What the file is, with its article, for messages: `a selection file`, `an extract`.
    pub file: &'static str,
    /// Columns that must be present (their values are checked by the file's rules).
    pub required: &'static [IdentityColumn],
    /// Identity columns that may be present.
    pub optional: &'static [IdentityColumn],
}

impl Schema {
    fn accepts(&self, c: IdentityColumn) -> bool {
        self.required.contains(&c) || self.optional.contains(&c)
    }

    /// The accepted identity column names, for messages.
    fn identity_names(&self) -> String {
        let mut names: Vec<IdentityColumn> = self.required.iter().chain(self.optional).copied().collect();
        names.sort();
        names.iter().map(|c| c.code()).collect::<Vec<_>>().join(", ")
    }
}

/// The longest header name quoted back in a message.
const SHOWN_NAME_CHARS: usize = 40;

/// A header cell with this many digits is data, not a column name: a NIR has 13 to 15, a French
/// phone number 10, and no column name has more than 2. Such a first line is a file without its
/// header row, whose cells must not be quoted back (they are a person's NIR, name, address).
const DATA_DIGITS: usize = 10;

/// One problem of a header row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderProblem {
    /// A required column is not there.
    Missing { column: &'static str, file: &'static str },
    /// A column name that is neither an accepted identity column nor a category code.
    Unknown { name: String, position: usize, file: &'static str, accepted: String },
    /// An identity column this kind of file must not carry (an extract with names, say).
    NotAllowed { column: &'static str, position: usize, file: &'static str, accepted: String },
    /// The same column twice.
    Duplicate { column: &'static str, first: usize, again: usize },
    /// A column with an empty name.
    Unnamed { position: usize },
    /// A quoting problem in the header row.
    Syntax { message: &'static str },
    /// The first line holds data (a NIR, a phone number) where column names belong: the header
    /// row is missing. Nothing of the line is quoted back.
    DataNotHeader { position: usize },
    /// The problems past the first [`MAX_PROBLEMS_SHOWN`], counted rather than listed.
    More { count: usize },
}

impl HeaderProblem {
    /// The column the problem is about, if any (the `field` of a JSON report).
    pub fn field(&self) -> Option<&str> {
        match self {
            HeaderProblem::Missing { column, .. }
            | HeaderProblem::NotAllowed { column, .. }
            | HeaderProblem::Duplicate { column, .. } => Some(column),
            HeaderProblem::Unknown { name, .. } => Some(name),
            HeaderProblem::Unnamed { .. }
            | HeaderProblem::Syntax { .. }
            | HeaderProblem::DataNotHeader { .. }
            | HeaderProblem::More { .. } => None,
        }
    }
}

impl fmt::Display for HeaderProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderProblem::Missing { column, file } => write!(f, "required column `{column}` is missing ({file} must have it)"),
            HeaderProblem::Unknown { name, position, file, accepted } => write!(
                f,
                "unknown column `{name}` (column {position}): {file} accepts only {accepted} and category codes"
            ),
            HeaderProblem::NotAllowed { column, position, file, accepted } => write!(
                f,
                "column `{column}` (column {position}) does not belong in {file}, which carries only {accepted} and category codes"
            ),
            HeaderProblem::Duplicate { column, first, again } => {
                write!(f, "column `{column}` appears twice (columns {first} and {again})")
            }
            HeaderProblem::Unnamed { position } => write!(f, "column {position} has no name"),
            HeaderProblem::Syntax { message } => f.write_str(message),
            HeaderProblem::More { count } => write!(f, "… and {count} more problem{s} in the header row", s = plural(*count)),
            HeaderProblem::DataNotHeader { position } => write!(
                f,
                "column {position} of the first line holds data, not a column name: the first line must be the \
                 header row, naming the columns (nir, sex, …)"
            ),
        }
    }
}

/// Why a file cannot be used at all. Found in the header, nothing else is read; found later (an
/// encoding that is wrong for the file, a record that never ends, a run of records without
/// data), the reading stops there and the file is refused as a whole: no caller may use the
/// records read before it (`requester submit` sends nothing, `responder load` keeps its index).
#[derive(Debug, thiserror::Error)]
pub enum UnusableFile {
    #[error("the file is empty: its first line must be the header row")]
    Empty,
    #[error("the first line is blank: it must be the header row")]
    BlankFirstLine,
    #[error("the file is UTF-16 text: save it as CSV in UTF-8 (or Windows-1252)")]
    Utf16,
    #[error(
        "the file starts with a UTF-8 byte-order mark, so it is UTF-8, not Windows-1252: drop --encoding windows-1252"
    )]
    Utf8BomButWindows1252,
    #[error("header row, column {position}: {error}")]
    HeaderEncoding { position: usize, error: DecodeError },
    #[error("unusable header: {}", join(.0))]
    Header(Vec<HeaderProblem>),
    /// Bytes that are not UTF-8 in a record read as UTF-8: the file is in another encoding (a
    /// French spreadsheet's Windows-1252, most often). Said once, for the first such byte.
    #[error(
        "the file is not UTF-8: line {line}, {field}: byte 0x{byte:02X} at position {position} is not valid UTF-8; \
         a French spreadsheet export is Windows-1252: run again with --encoding windows-1252",
        position = offset + 1
    )]
    NotUtf8 { line: u64, field: &'static str, offset: usize, byte: u8 },
    /// A record (or a run of blank lines) that had not ended after
    /// [`MAX_RECORD_SPAN`](crate::records::MAX_RECORD_SPAN) bytes.
    #[error(
        "line {line}: a record runs on for more than {mib} MiB without ending: a quote left open, or not a CSV \
         file (binary data, NUL bytes, an endless input)",
        mib = crate::records::MAX_RECORD_SPAN / (1024 * 1024)
    )]
    Endless { line: u64 },
    /// [`MAX_RECORDS_WITHOUT_DATA`](crate::reader::MAX_RECORDS_WITHOUT_DATA) records in a row
    /// with nothing but separators, blanks or NUL bytes.
    #[error(
        "lines {first} to {last}: {count} records in a row hold no data (only separators, blanks or NUL bytes): \
         the file is damaged or not a CSV file; if a spreadsheet exported empty rows, delete them"
    )]
    NoData { first: u64, last: u64, count: u64 },
    #[error("cannot read the file")]
    Io(#[from] io::Error),
}

impl UnusableFile {
    /// The line the problem is on, for reports: the header's (1) unless found in a record.
    pub fn line(&self) -> u64 {
        match self {
            UnusableFile::NotUtf8 { line, .. } | UnusableFile::Endless { line } => *line,
            UnusableFile::NoData { first, .. } => *first,
            _ => 1,
        }
    }

    /// The header problems, one per column at fault (empty for the other kinds).
    pub fn header_problems(&self) -> &[HeaderProblem] {
        match self {
            UnusableFile::Header(problems) => problems,
            _ => &[],
        }
    }
}

fn join(problems: &[HeaderProblem]) -> String {
    problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// The columns of a file, resolved against its schema.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    /// The columns in file order.
    pub columns: Vec<Column>,
    /// For each identity column (by `IdentityColumn as usize`), its position in the file.
    identity: [Option<usize>; IdentityColumn::ALL.len()],
    /// The category columns and their positions, in file order.
    pub categories: Vec<(Category, usize)>,
}

impl Header {
    /// Maps header names to columns; every problem is reported, not just the first.
    pub fn resolve(names: &[String], schema: &Schema) -> Result<Header, Vec<HeaderProblem>> {
        let mut problems = Vec::new();
        let mut columns = Vec::with_capacity(names.len());
        let mut identity = [None; IdentityColumn::ALL.len()];
        let mut categories = Vec::new();
        let mut first_seen: Vec<(Column, usize)> = Vec::new();
        if let Some(i) = names.iter().position(|n| n.bytes().filter(u8::is_ascii_digit).count() >= DATA_DIGITS) {
            return Err(vec![HeaderProblem::DataNotHeader { position: i + 1 }]);
        }
        for (i, raw) in names.iter().enumerate() {
            let position = i + 1;
            let name = raw.trim().to_ascii_lowercase();
            if name.is_empty() {
                problems.push(HeaderProblem::Unnamed { position });
                continue;
            }
            let Some(column) = Column::by_code(&name) else {
                problems.push(HeaderProblem::Unknown {
                    name: shorten(raw.trim()),
                    position,
                    file: schema.file,
                    accepted: schema.identity_names(),
                });
                continue;
            };
            if let Some(&(_, first)) = first_seen.iter().find(|(c, _)| *c == column) {
                problems.push(HeaderProblem::Duplicate { column: column.code(), first, again: position });
                continue;
            }
            first_seen.push((column, position));
            match column {
                Column::Identity(c) if !schema.accepts(c) => {
                    problems.push(HeaderProblem::NotAllowed {
                        column: c.code(),
                        position,
                        file: schema.file,
                        accepted: schema.identity_names(),
                    });
                    continue;
                }
                Column::Identity(c) => identity[c as usize] = Some(i),
                Column::Category(c) => categories.push((c, i)),
            }
            columns.push(column);
        }
        for &required in schema.required {
            if identity[required as usize].is_none() {
                problems.push(HeaderProblem::Missing { column: required.code(), file: schema.file });
            }
        }
        if problems.len() > MAX_PROBLEMS_SHOWN {
            let count = problems.len() - MAX_PROBLEMS_SHOWN;
            problems.truncate(MAX_PROBLEMS_SHOWN);
            problems.push(HeaderProblem::More { count });
        }
        if problems.is_empty() {
            Ok(Header { columns, identity, categories })
        } else {
            Err(problems)
        }
    }

    /// The number of fields every record must have.
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// The position of an identity column, if the file has it.
    pub fn position(&self, column: IdentityColumn) -> Option<usize> {
        self.identity[column as usize]
    }
}

fn shorten(name: &str) -> String {
    let mut shown: String = name.chars().take(SHOWN_NAME_CHARS).collect();
    if name.chars().count() > SHOWN_NAME_CHARS {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    static SCHEMA: Schema = Schema {
        file: "a selection file",
        required: &[IdentityColumn::Nir, IdentityColumn::Sex],
        optional: &[IdentityColumn::Email],
    };

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn identity_columns_follow_the_catalogue() {
        for c in IdentityColumn::ALL {
            assert_eq!(catalogue::identity_field(c.code()).map(|f| f.code), Some(c.code()));
        }
        assert_eq!(IdentityColumn::ALL.len(), catalogue::IDENTITY_FIELDS.len());
    }

    #[test]
    fn columns_match_by_name_in_any_order_and_case() {
        let h = Header::resolve(&names(&[" Sex", "rsa", "NIR "]), &SCHEMA).unwrap();
        assert_eq!(h.position(IdentityColumn::Nir), Some(2));
        assert_eq!(h.position(IdentityColumn::Sex), Some(0));
        assert_eq!(h.position(IdentityColumn::Email), None);
        assert_eq!(h.categories, vec![(Category::Rsa, 1)]);
        assert_eq!(h.len(), 3);
    }

    #[test]
    fn a_first_line_of_data_is_not_quoted_back() {
        // A file whose header row was left out (found by the `selection_csv` fuzz target): its
        // first person's NIR, names and phone would otherwise come back as "unknown columns".
        let line = names(&["150051305512345", "Martin", "martin@example.org", "01 99 00 52 03"]);
        let problems = Header::resolve(&line, &SCHEMA).unwrap_err();
        assert_eq!(problems, [HeaderProblem::DataNotHeader { position: 1 }]);
        assert_eq!(problems[0].field(), None);
        let text = problems[0].to_string();
        assert!(text.contains("header row") && !text.contains("1500513") && !text.contains("Martin"), "{text}");
        let problems = Header::resolve(&names(&["nir", "sex", "0199005203"]), &SCHEMA).unwrap_err();
        assert_eq!(problems, [HeaderProblem::DataNotHeader { position: 3 }]);
        assert!(Header::resolve(&names(&["nir", "sex", "hospital_stays_12m"]), &SCHEMA).is_ok());
    }

    #[test]
    fn every_header_problem_is_reported() {
        let problems = Header::resolve(&names(&["nir", "age", "nir", "", "phone"]), &SCHEMA).unwrap_err();
        assert_eq!(problems.len(), 5, "{problems:?}");
        assert!(matches!(&problems[0], HeaderProblem::Unknown { name, position: 2, .. } if name == "age"));
        assert_eq!(problems[1], HeaderProblem::Duplicate { column: "nir", first: 1, again: 3 });
        assert_eq!(problems[2], HeaderProblem::Unnamed { position: 4 });
        assert!(matches!(problems[3], HeaderProblem::NotAllowed { column: "phone", position: 5, .. }));
        assert_eq!(problems[4], HeaderProblem::Missing { column: "sex", file: "a selection file" });
        assert_eq!(problems[0].field(), Some("age"));
        assert!(problems[0].to_string().contains("unknown column `age` (column 2)"), "{}", problems[0]);
        assert!(problems[3].to_string().contains("does not belong in a selection file"), "{}", problems[3]);
    }
}
