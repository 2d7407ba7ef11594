//! A solicited body's extract file: what the body holds, per person, for the categories it
//! answers (issue 5: the responder's *extract file* data source).
//!
//! Columns: `nir` (required); `former_nirs`, `birth_year`, `sex` (optional, used to match); and
//! one column per category the body holds, named by its code, in the selection's value syntax.
//! Names, communes and contact data are refused: a body's extract for the exchange carries
//! nothing the solicitation does not need to match on. There is no age rule (the extract covers
//! the body's whole population); a NIR already seen on an earlier valid row is a duplicate.

use std::fmt;

use passerelle_protocol::nir::Nir;
use passerelle_protocol::v1::{CategoryValues, Sex};

use crate::fields;
use crate::header::{IdentityColumn, Schema};
use crate::problem::Problem;
use crate::reader::{Cell, CheckedReader, Record, RecordRules};

/// The columns of an extract.
pub static EXTRACT_SCHEMA: Schema = Schema {
    file: "an extract",
    required: &[IdentityColumn::Nir],
    optional: &[IdentityColumn::FormerNirs, IdentityColumn::BirthYear, IdentityColumn::Sex],
};

/// A streaming, checking reader of an extract: yields each row's verdict, an [`ExtractRow`]
/// when valid.
pub type ExtractReader<R> = CheckedReader<R, ExtractRules>;

/// The rules of an extract. It has no settings: the body's own data is taken as it is, once
/// well-formed.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExtractRules;

/// One valid row of an extract: what the body knows of one person.
pub struct ExtractRow {
    /// The physical line on which the record starts.
    pub line: u64,
    pub nir: Nir,
    /// NIRs formerly attributed to the person, which solicitations may carry instead.
    pub former_nirs: Vec<Nir>,
    /// When the body knows it: a solicitation whose birth year disagrees is *not found*.
    pub birth_year: Option<u32>,
    /// When the body knows it: a solicitation whose sex disagrees is *not found*.
    pub sex: Option<Sex>,
    /// The values the body holds; an empty cell is *unknown* and leaves the category unset.
    pub values: CategoryValues,
}

impl fmt::Debug for ExtractRow {
    /// NIRs are never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExtractRow")
            .field("line", &self.line)
            .field("former_nirs", &self.former_nirs.len())
            .field("birth_year", &self.birth_year)
            .field("sex", &self.sex)
            .field("values", &self.values)
            .finish_non_exhaustive()
    }
}

impl RecordRules for ExtractRules {
    type Row = ExtractRow;

    fn schema(&self) -> &'static Schema {
        &EXTRACT_SCHEMA
    }

    fn check(&mut self, record: &Record<'_>, nir: Option<Nir>, problems: &mut Vec<Problem>) -> Option<ExtractRow> {
        let former_nirs = fields::former_nirs(record, problems);
        let sex = match record.identity(IdentityColumn::Sex) {
            Cell::Text(t) if !t.is_empty() => fields::sex(t, problems),
            _ => None,
        };
        let birth_year = match record.identity(IdentityColumn::BirthYear) {
            Cell::Text(t) if !t.is_empty() => fields::birth_year(t, None, problems),
            _ => None,
        };
        let values = fields::categories(record, problems);
        if !problems.is_empty() {
            return None;
        }
        Some(ExtractRow { line: record.line, nir: nir?, former_nirs, birth_year, sex, values })
    }
}
