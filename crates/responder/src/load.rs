//! `passerelle responder load`: reads a CSV extract with the shared checking reader
//! (`passerelle-selection`), reports every rejected line exactly as `requester check` does, and
//! indexes the good lines into a new [index](crate::index) that replaces the current one
//! atomically once the whole file has been read.
//!
//! Only the categories the body holds are indexed; a column for another category is ignored (and
//! named in the summary), a held category without a column is unknown for everyone (also named).
//! A file with no valid line at all does not replace the current index: it is far more likely a
//! wrong file than a body that suddenly knows nobody. Nor does one whose index would hold
//! markedly fewer persons than the current one (more than [`LoadOptions::max_loss_percent`] of
//! them, 10 % by default): half the lines rejected for a format change would otherwise leave
//! half the body's population answered *not found*. `--force` replaces it anyway.
//!
//! A load by a person ([`load_extract_from`] for the local API, [`load_extract_recorded`] for
//! `--without-daemon`) is written to the daemon's access log ([`LoadRecord`]): kind `create`,
//! object the new extract's id, recorded **before** the new index is installed, so an index
//! answered from always has its entry (a failed install leaves an entry for an extract never
//! answered from, never the reverse). A failure to write it keeps the current index.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use passerelle_access_log::{AccessEntry, AccessKind, AccessLogError, Accesses};

use passerelle_protocol::v1::Category;
use passerelle_selection::{
    Checked, Column, Encoding, ExtractReader, ExtractRules, ReportWriter, Summary, UnusableFile,
};

use crate::index::{IndexBuilder, IndexError, IndexReader, IndexStats};
use crate::settings::{ResponderSettings, SettingsError, SourceSettings};

/// The read buffer of an extract: a million-line file in a few thousand system calls.
const READ_BUFFER_BYTES: usize = 1024 * 1024;

/// The default of [`LoadOptions::max_loss_percent`]: an extract is the body's whole population,
/// which changes by a few percent between two extracts (deaths, moves between schemes); losing
/// more than a tenth of it at once is a broken file far more often than a real change.
pub const DEFAULT_MAX_LOSS_PERCENT: u8 = 10;

/// How to load an extract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadOptions {
    pub encoding: Encoding,
    /// The largest share of the current index's persons, in percent, that the new index may have
    /// fewer of; past it the current index is kept ([`LoadError::TooMuchLoss`]).
    pub max_loss_percent: u8,
    /// Replace the current index whatever the new one loses.
    pub force: bool,
}

impl LoadOptions {
    /// The defaults: the guard on, at [`DEFAULT_MAX_LOSS_PERCENT`].
    pub fn new(encoding: Encoding) -> Self {
        LoadOptions { encoding, max_loss_percent: DEFAULT_MAX_LOSS_PERCENT, force: false }
    }
}

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
    #[error(
        "the current index is kept: the new extract would replace an index of {previous} persons with one of \
         {new}, {lost} fewer ({share:.1} %), more than the {max} % allowed; {rejected} line(s) were rejected. \
         Check the extract, or run again with --force to replace the index anyway (or --max-loss PERCENT)",
        lost = previous - new,
        share = loss_percent(*previous, *new)
    )]
    TooMuchLoss { previous: u64, new: u64, max: u8, rejected: u64 },
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error("cannot record the load in the access log: the current index is kept")]
    AccessLog(#[source] AccessLogError),
}

/// Who loads, for the access log (module docs): the daemon's log and the actor, `agent:<id>`
/// through the local API, `os-user:<account>` for `--without-daemon`.
#[derive(Debug, Clone)]
pub struct LoadRecord {
    pub accesses: Accesses,
    pub actor: String,
}

impl LoadRecord {
    /// Records the `create` of `extract_id`, durably.
    fn record(&self, extract_id: &str) -> Result<(), LoadError> {
        let entry = AccessEntry::new(SystemTime::now(), self.actor.clone(), AccessKind::Create, extract_id);
        self.accesses.record(&entry).map(drop).map_err(LoadError::AccessLog)
    }
}

/// The share of `previous` persons that `new` lacks, in percent (0 when it has as many or more).
fn loss_percent(previous: u64, new: u64) -> f64 {
    if previous == 0 {
        return 0.0;
    }
    previous.saturating_sub(new) as f64 * 100.0 / previous as f64
}

/// [`load_extract_with`] with the default options (the loss guard on).
pub fn load_extract<W: Write>(
    settings: &ResponderSettings,
    path: &Path,
    encoding: Encoding,
    report: &mut ReportWriter<W>,
) -> Result<LoadSummary, LoadError> {
    load_extract_with(settings, path, &LoadOptions::new(encoding), report)
}

/// Loads `path` into the responder's index, reporting rejected lines (and, for an unusable
/// file, why) to `report`, then the summary. The new index replaces the current one only if the
/// whole file was read, at least one line was valid, and it does not lose more than
/// `options.max_loss_percent` of the current index's persons (unless `options.force`).
pub fn load_extract_with<W: Write>(
    settings: &ResponderSettings,
    path: &Path,
    options: &LoadOptions,
    report: &mut ReportWriter<W>,
) -> Result<LoadSummary, LoadError> {
    let started = Instant::now();
    check_extract_source(settings)?;
    let file = File::open(path).map_err(|source| LoadError::Open { path: path.to_owned(), source })?;
    load_from(settings, file, options, report, started, None)
}

/// [`load_extract_with`], the load recorded in the access log before the new index is installed
/// (`responder load --without-daemon`).
pub fn load_extract_recorded<W: Write>(
    settings: &ResponderSettings,
    path: &Path,
    options: &LoadOptions,
    report: &mut ReportWriter<W>,
    record: &LoadRecord,
) -> Result<LoadSummary, LoadError> {
    check_extract_source(settings)?;
    let file = File::open(path).map_err(|source| LoadError::Open { path: path.to_owned(), source })?;
    load_extract_from(settings, file, options, report, record)
}

/// Ok when the settings are valid and the source is an extract (a PostgreSQL source has no
/// extract to load: [`LoadError::NotAnExtractSource`]).
pub fn check_extract_source(settings: &ResponderSettings) -> Result<(), LoadError> {
    if let SourceSettings::Postgres(_) = settings.source {
        return Err(LoadError::NotAnExtractSource);
    }
    settings.validate()?;
    Ok(())
}

/// [`load_extract_recorded`] for an extract read from `input` (the bytes the local API receives
/// from the agent's CLI) rather than from a file of the daemon's. Blocking: call it from
/// `spawn_blocking`.
pub fn load_extract_from<R: Read, W: Write>(
    settings: &ResponderSettings,
    input: R,
    options: &LoadOptions,
    report: &mut ReportWriter<W>,
    record: &LoadRecord,
) -> Result<LoadSummary, LoadError> {
    let started = Instant::now();
    check_extract_source(settings)?;
    load_from(settings, input, options, report, started, Some(record))
}

fn load_from<R: Read, W: Write>(
    settings: &ResponderSettings,
    input: R,
    options: &LoadOptions,
    report: &mut ReportWriter<W>,
    started: Instant,
    record: Option<&LoadRecord>,
) -> Result<LoadSummary, LoadError> {
    let encoding = options.encoding;
    let held = settings.validate()?;
    let input = BufReader::with_capacity(READ_BUFFER_BYTES, input);
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
        let verdict = match verdict {
            Ok(verdict) => verdict,
            Err(UnusableFile::Io(e)) => return Err(LoadError::Read(e)),
            Err(unusable) => {
                // Found midway: the new index is dropped (its work file deleted), the current one kept.
                report.unusable(&unusable).map_err(LoadError::Report)?;
                return Err(LoadError::Unusable(unusable));
            }
        };
        match verdict {
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
    if !options.force {
        // The current index, if there is a readable one of this body's (another body's, or one
        // of an older layout, is replaced whatever it held).
        let current = IndexReader::new(settings.index_path(), settings.body.as_str()).info().ok();
        if let Some(previous) = current.map(|info| info.persons) {
            let new = builder.persons();
            if loss_percent(previous, new) > f64::from(options.max_loss_percent) {
                return Err(LoadError::TooMuchLoss {
                    previous,
                    new,
                    max: options.max_loss_percent,
                    rejected: lines.rejected,
                });
            }
        }
    }
    if let Some(record) = record {
        record.record(builder.extract_id())?;
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
