//! Field checks shared by selection files and extracts: former NIRs, sex, birth year, the
//! category values, required and optional text.

use passerelle_protocol::nir::Nir;
use passerelle_protocol::v1::{CategoryValues, Sex};
use passerelle_protocol::{catalogue, value};

use crate::header::IdentityColumn;
use crate::problem::{could_identify, Problem, Reason, MAX_AGE};
use crate::reader::{Cell, Record};

/// The separator of the NIRs in the `former_nirs` column.
pub const FORMER_NIRS_SEPARATOR: char = '|';

/// A required text value: a problem when empty; `None` when empty or unreadable.
pub(crate) fn required<'s>(
    record: &Record<'s>,
    column: IdentityColumn,
    problems: &mut Vec<Problem>,
) -> Option<&'s str> {
    match record.identity(column) {
        Cell::Text("") => {
            problems.push(Problem::new(column.code(), Reason::Missing));
            None
        }
        Cell::Text(t) => Some(t),
        Cell::Absent | Cell::Unreadable => None,
    }
}

/// An optional text value: `None` when the column is absent or the cell empty.
pub(crate) fn optional<'s>(record: &Record<'s>, column: IdentityColumn) -> Option<&'s str> {
    match record.identity(column) {
        Cell::Text(t) if !t.is_empty() => Some(t),
        _ => None,
    }
}

/// The `|`-separated former NIRs; empty items (a trailing `|`) are ignored.
pub(crate) fn former_nirs(record: &Record<'_>, problems: &mut Vec<Problem>) -> Vec<Nir> {
    let Some(text) = optional(record, IdentityColumn::FormerNirs) else {
        return Vec::new();
    };
    let mut nirs = Vec::new();
    for (i, item) in text.split(FORMER_NIRS_SEPARATOR).map(str::trim).filter(|s| !s.is_empty()).enumerate() {
        match Nir::parse(item) {
            Ok(nir) => nirs.push(nir),
            Err(error) => problems
                .push(Problem::new(IdentityColumn::FormerNirs.code(), Reason::FormerNir { position: i + 1, error })),
        }
    }
    nirs
}

/// A sex code (`M`/`F`/`1`/`2`, see [`value::parse_sex`]).
pub(crate) fn sex(text: &str, problems: &mut Vec<Problem>) -> Option<Sex> {
    let sex = value::parse_sex(text);
    if sex.is_none() {
        problems.push(Problem::new(IdentityColumn::Sex.code(), Reason::Sex(text.to_owned())));
    }
    sex
}

/// A birth year: four digits, and — when a reference year is given — neither after it nor more
/// than [`MAX_AGE`] years before it.
pub(crate) fn birth_year(text: &str, reference_year: Option<u32>, problems: &mut Vec<Problem>) -> Option<u32> {
    let field = IdentityColumn::BirthYear.code();
    if text.len() != 4 || !text.bytes().all(|b| b.is_ascii_digit()) || text.starts_with('0') {
        problems.push(Problem::new(field, Reason::BirthYearFormat(text.to_owned())));
        return None;
    }
    let year: u32 = text.parse().expect("four digits");
    if let Some(reference_year) = reference_year {
        let age = i64::from(reference_year) - i64::from(year);
        if !(0..=MAX_AGE).contains(&age) {
            problems.push(Problem::new(field, Reason::BirthYearImplausible { year, reference_year }));
            return None;
        }
    }
    Some(year)
}

/// The category columns' values; an empty cell is *unknown* and leaves the category unset.
pub(crate) fn categories(record: &Record<'_>, problems: &mut Vec<Problem>) -> CategoryValues {
    let mut values = CategoryValues::default();
    for (category, cell) in record.categories() {
        let Cell::Text(text) = cell else { continue };
        let info = catalogue::info(category).expect("header categories come from the catalogue");
        match value::parse(info.value_type, text) {
            Ok(Some(v)) => {
                // The value was parsed with the category's own type, so `set` cannot refuse it.
                let set = values.set(category, v);
                debug_assert!(set.is_ok(), "{set:?}");
            }
            Ok(None) => {}
            Err(_) if could_identify(text) => {
                problems.push(Problem::new(info.code, Reason::IdentifyingValue { expected: info.value_type.syntax() }))
            }
            Err(e) => problems.push(Problem::new(info.code, Reason::Value(e))),
        }
    }
    values
}
