//! What a check finds: the problems of a rejected record, each with its field and a reason, and
//! the summary of a whole file.
//!
//! **Invariant:** a reason never contains a NIR, a name, an address, an e-mail or a phone number.
//! Reasons about those fields say what is wrong without repeating the value; only non-identifying
//! values (a category value, a sex code, a birth year) are quoted back, shortened.

use chrono::NaiveDate;
use passerelle_protocol::commune::CommuneError;
use passerelle_protocol::nir::NirError;
use passerelle_protocol::territory::TerritoryError;
use passerelle_protocol::value::ValueError;

use crate::encoding::DecodeError;
use crate::records::MAX_RECORD_BYTES;

/// The minimum age of the persons of a selection, in the reference year (decree, art. 1:
/// "personnes âgées de cinquante-cinq ans et plus").
pub const MIN_AGE: i64 = 55;

/// The oldest age a birth year may imply. Nobody documented has lived past 122; a birth year
/// further back is a typing error (a century digit, say), not a person.
pub const MAX_AGE: i64 = 125;

/// The longest non-identifying value quoted back in a reason.
const SHOWN_VALUE_CHARS: usize = 12;

/// A value with a run of this many digits (spaces, dots and dashes between them do not break the
/// run) may be a NIR (13 to 15 digits) or a phone number (10) put in the wrong column: it is
/// never quoted back. No category value or code of the value syntax has such a run.
const IDENTIFYING_DIGITS: usize = 10;

/// The most problems listed for one record (or one header row); the rest are counted in a last
/// problem, "… and N more". A record has at most one problem per column, but a header row of
/// sixty thousand empty names would otherwise give sixty thousand lines of report.
pub const MAX_PROBLEMS_SHOWN: usize = 10;

/// `s` when `n` is not 1.
pub(crate) fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// One problem of a record.
#[derive(Debug)]
pub struct Problem {
    /// The column at fault (`nir`, `birth_year`, a category code…), or `None` for a problem of the
    /// whole record (its number of fields, an unclosed quote).
    pub field: Option<&'static str>,
    pub reason: Reason,
}

impl Problem {
    pub fn new(field: &'static str, reason: Reason) -> Self {
        Problem { field: Some(field), reason }
    }

    /// A problem of the whole record.
    pub fn record(reason: Reason) -> Self {
        Problem { field: None, reason }
    }
}

/// Why a record, or one of its fields, is rejected.
#[derive(Debug, thiserror::Error)]
pub enum Reason {
    /// The record does not have one field per header column.
    #[error("{found} field{s} where the header has {expected}", s = if *found == 1 { "" } else { "s" })]
    FieldCount { found: usize, expected: usize },
    /// A quoted field still open at the end of the file.
    #[error("a quoted field opened in this record is never closed: the rest of the file was read as part of it")]
    UnclosedQuote,
    /// A record longer than the scanner keeps.
    #[error("record longer than {limit} bytes (a quote left open?)", limit = MAX_RECORD_BYTES)]
    TooLong,
    /// Text after the closing quote of a quoted field, as in `"Dupont"x`.
    #[error("text after the closing quote of a quoted field")]
    TextAfterQuote,
    /// Bytes that are not valid in the file's encoding, or a NUL byte.
    #[error("{0}")]
    Encoding(DecodeError),
    /// A required value is empty.
    #[error("required value is missing")]
    Missing,
    /// The NIR is malformed or its key is wrong.
    #[error("{0}")]
    Nir(NirError),
    /// One of the former NIRs (1-based position in the `|`-separated list) is malformed.
    #[error("former NIR no. {position}: {error}")]
    FormerNir { position: usize, error: NirError },
    /// The sex is not one of the accepted codes.
    #[error("{shown} is not a sex: expected M, F, 1 or 2", shown = quote(.0))]
    Sex(String),
    /// The birth year is not four digits.
    #[error("{shown} is not a 4-digit year", shown = quote(.0))]
    BirthYearFormat(String),
    /// The birth year is in the future, or too far back to be a living person's.
    #[error("birth year {year} is not plausible in {reference_year}")]
    BirthYearImplausible { year: u32, reference_year: u32 },
    /// The person is younger than 55 on the reference date, taken as born on the last day of
    /// their NIR's birth month (December when the NIR gives none).
    #[error(
        "aged {age} on {reference_date} (born {birth_year}, month {birth_month:02} from the NIR, December when it gives \
         none): counted {MIN_AGE} only from {aged_55_from}, and the decree (art. 1) covers persons aged {MIN_AGE} and over"
    )]
    UnderAge { age: i64, birth_year: u32, birth_month: u32, aged_55_from: NaiveDate, reference_date: NaiveDate },
    /// A known risk factor of a category the requester's branch does not hold.
    #[error(
        "`{category}` is not a category the {branch} branch holds: a requester sends as known only the risk \
         factors of its own branch (decree art. 3, \"dans son domaine de compétence\")"
    )]
    NotInBranch { category: &'static str, branch: String },
    /// Hospital stays admitted before the twelve months the category covers.
    #[error(
        "{stale} stay{s} admitted before {cut_off} (or undated): `hospital_stays_12m` holds the stays of the twelve \
         months before the request only (art. 2, 3° c)",
        s = plural(*stale)
    )]
    StaleHospitalStays { stale: usize, cut_off: NaiveDate },
    /// The residence commune code is malformed or not in the commune list.
    #[error("{0}")]
    Commune(CommuneError),
    /// No observatory is competent for the residence commune.
    #[error("{0}")]
    Territory(TerritoryError),
    /// A category value that does not follow its type's syntax.
    #[error("{0}")]
    Value(ValueError),
    /// A category value that does not follow its type's syntax and that looks identifying (see
    /// [`could_identify`]): the reason gives the expected syntax without repeating the value.
    #[error("the value is not {expected} (not repeated: it looks like a NIR, a phone number or an e-mail address)")]
    IdentifyingValue { expected: &'static str },
    /// A NIR already seen on an earlier valid record.
    #[error("duplicate NIR: an earlier valid record has the same NIR")]
    DuplicateNir,
    /// The problems past the first [`MAX_PROBLEMS_SHOWN`] of a record, counted rather than listed.
    #[error("… and {count} more problem{s} in this record", s = plural(*count))]
    More { count: usize },
}

/// Quotes a short, non-identifying value; a long one is not repeated (it may be a name that
/// slipped into the wrong column), nor one that [could identify](could_identify) a person.
fn quote(text: &str) -> String {
    if text.chars().count() <= SHOWN_VALUE_CHARS && !could_identify(text) {
        format!("`{text}`")
    } else {
        "the value".to_owned()
    }
}

/// Whether a cell that should hold a non-identifying value (a category value, a sex, a birth
/// year) may hold identifying data instead: an `@` (an e-mail address) or a run of
/// [`IDENTIFYING_DIGITS`] digits (a NIR, a phone number), as when columns are shifted. Such a
/// value is never quoted back in a reason (a case of the fuzz harness's "no NIR in a reason" rule).
pub(crate) fn could_identify(text: &str) -> bool {
    let mut run = 0;
    for c in text.chars() {
        match c {
            '@' => return true,
            '0'..='9' => {
                run += 1;
                if run >= IDENTIFYING_DIGITS {
                    return true;
                }
            }
            ' ' | '.' | '-' => {}
            _ => run = 0,
        }
    }
    false
}

/// A rejected record: where it starts and every problem found in it.
#[derive(Debug)]
pub struct Rejection {
    /// The physical line on which the record starts (the header is line 1).
    pub line: u64,
    /// At least one problem.
    pub problems: Vec<Problem>,
}

/// The verdict on one record.
#[derive(Debug)]
pub enum Checked<T> {
    /// The record is valid; here it is, typed.
    Valid(T),
    /// The record is rejected, with its reasons.
    Rejected(Rejection),
}

impl<T> Checked<T> {
    /// The valid row, if any.
    pub fn valid(self) -> Option<T> {
        match self {
            Checked::Valid(row) => Some(row),
            Checked::Rejected(_) => None,
        }
    }
}

/// The counts of a checked file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    /// Data records read (the header and blank lines are not records).
    pub lines: u64,
    /// Records accepted.
    pub valid: u64,
    /// Records rejected.
    pub rejected: u64,
}
