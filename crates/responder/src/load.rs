//! `passerelle responder load`: reads a CSV extract with the shared checking reader
//! (`passerelle-selection`), reports every rejected line exactly as `requester check` does, and
//! indexes the good lines into a new [index](crate::index) that replaces the current one
//! atomically once the whole file has been read.
//!
//! Only the categories the body holds are indexed; a column for another category is ignored (and
//! named in the summary), a held category without a column is unknown for everyone (also named).
//! A file with no valid line at all does not replace the current index: it is far more likely a
//! wrong file than a body that suddenly knows nobody.

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use passerelle_protocol::v1::Category;
use passerelle_selection::{
    Checked, Column, Encoding, ExtractReader, ExtractRules, ReportWriter, Summary, UnusableFile,
};

use crate::index::{IndexBuilder, IndexError, IndexStats};
use crate::settings::{ResponderSettings, SettingsError, SourceSettings};

/// The read buffer of an extract: a million-line file in a few thousand system calls.
const READ_BUFFER_BYTES: usize = 1024 * 1024;

/// What a load did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LoadSummary {
    /// Lines read, valid and rejected (the same counts as the report's summary).
    pub lines: Summary,
    /// What the new index holds.
    pub index: IndexStats,
    /// Category columns of the file that the body does not hold: not indexed.
    pub ignored_columns: Vec<&'static str>,
    /// Held categories the file has no column for: unknown for every person.
    pub missing_columns: Vec<&'static str>,
    /// Wall-clock time of the whole load.
    pub elapsed: Duration,
}

/// Why a load failed; the current index is untouched in every case.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("this responder's source is PostgreSQL (`source.kind = \"postgres\"`): there is no extract to load")]
    NotAnExtractSource,
    #[error("cannot open the extract {path}")]
    Open { path: std::path::PathBuf, source: std::io::Error },
    #[error("unusable extract: {0}")]
    Unusable(#[from] UnusableFile),
    #[error("cannot read the extract to its end")]
    Read(#[source] std::io::Error),
    #[error("cannot write the report")]
    Report(#[source] std::io::Error),
    #[error("no valid line in the extract: the current index is kept")]
    NothingValid,
    #[error(transparent)]
    Index(#[from] IndexError),
}

/// Loads `path` into the responder's index, reporting rejected lines (and, for an unusable
/// header, the header's problems) to `report`, then the summary.
pub fn load_extract<W: Write>(
    settings: &ResponderSettings,
    path: &Path,
    encoding: Encoding,
    report: &mut ReportWriter<W>,
) -> Result<LoadSummary, LoadError> {
    let started = Instant::now();
    let held = settings.validate()?;
    if !matches!(settings.source, SourceSettings::Extract(_)) {
        return Err(LoadError::NotAnExtractSource);
    }
    let file = File::open(path).map_err(|source| LoadError::Open { path: path.to_owned(), source })?;
    let input = BufReader::with_capacity(READ_BUFFER_BYTES, file);
    let mut reader = match ExtractReader::new(input, encoding, ExtractRules) {
        Ok(reader) => reader,
        Err(unusable) => {
            report.unusable(&unusable).map_err(LoadError::Report)?;
            return Err(LoadError::Unusable(unusable));
        }
    };
    let in_file: Vec<Category> = reader
        .columns()
        .iter()
        .filter_map(|c| match c {
            Column::Category(category) => Some(*category),
            Column::Identity(_) => None,
        })
        .collect();
    let ignored_columns = in_file.iter().filter(|c| !held.contains(c)).map(|c| c.code()).collect();
    let missing_columns = held.iter().filter(|c| !in_file.contains(c)).map(|c| c.code()).collect();

    let mut builder = IndexBuilder::create(&settings.data_dir, &settings.body, &held)?;
    for verdict in &mut reader {
        match verdict.map_err(LoadError::Read)? {
            Checked::Valid(mut row) => {
                row.values.retain(|c| held.contains(&c));
                builder.add(&row.nir, &row.former_nirs, row.sex, row.birth_year, &row.values)?;
            }
            Checked::Rejected(rejection) => report.rejection(&rejection).map_err(LoadError::Report)?,
        }
    }
    let lines = reader.summary();
    report.summary(&lines).map_err(LoadError::Report)?;
    if lines.valid == 0 {
        return Err(LoadError::NothingValid);
    }
    let index = builder.commit()?;
    tracing::info!(
        body = %settings.body,
        extract = %index.extract_id,
        persons = index.persons,
        rejected = lines.rejected,
        "extract loaded: new chunks are answered from it"
    );
    Ok(LoadSummary { lines, index, ignored_columns, missing_columns, elapsed: started.elapsed() })
}
