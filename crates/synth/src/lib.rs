//! A synthetic population for the demo, the tests and the benchmarks: a requester's selection
//! file and one extract per solicited body, all made up, never a real person's data.
//!
//! [`generate`] writes into one folder:
//! - `selection.csv`: every person of the population as the requester (by default a CAF, body
//!   `cnaf`) selected them: NIR, names, sex, birth year, residence commune, contact details, and
//!   the risk factors the requester knows in its own domain. Every record passes
//!   `passerelle requester check`.
//! - `extract-<body>.csv` for `cnam`, `cnav`, `cnaf` and `msa`: `nir, former_nirs, birth_year,
//!   sex` plus one column per category the body holds by default (the catalogue's
//!   `default_holders`), for the persons that body knows.
//! - `manifest.json`: the parameters and the counts ([`Manifest`]), for tests and the demo.
//!
//! [`social::files`] streams synthetic case files of the social service (CNIL norm 43) with
//! their actions and offers, from the same model of persons.
//!
//! The figures of the `model` module are illustrative orders of magnitude, not statistics. The names come
//! from short lists of common French given names and surnames combined at random; e-mail
//! addresses are at `example.org` (RFC 2606), phone numbers in `01 99 00 xx xx` (ARCEP's range
//! reserved for fiction), street names made up ("rue de l'Exemple").
//!
//! Generation streams: one person at a time, written at once to every file; memory does not grow
//! with the population. NIRs are unique by construction (see the `nir_slots` module), without a set of
//! the NIRs already drawn. The same options and seed give byte-identical files (one ChaCha8
//! stream, integer arithmetic only).
#![forbid(unsafe_code)]

mod facts;
mod identity;
mod manifest;
mod model;
mod nir_slots;
mod residence;
pub mod social;
mod write;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub use manifest::{BodyCounts, Manifest};
pub use write::{extract_columns, extract_file_name, selection_columns};

/// The file name of the requester's selection.
pub const SELECTION_FILE: &str = "selection.csv";
/// The file name of the manifest.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The observatory whose territory is used by default: CARSAT Sud-Est has mainland, coastal,
/// mountain and Corsican départements, so one territory exercises `2A`/`2B` and the Marseille
/// arrondissements.
pub const DEFAULT_TERRITORY: &str = "carsat-sud-est";
/// The requester of the demo: a CAF (branch `cnaf`).
pub const DEFAULT_REQUESTER: &str = passerelle_protocol::catalogue::body::CNAF;
/// The seed used when none is given (the decree's number, 2017-334).
pub const DEFAULT_SEED: u64 = 2_017_334;
/// The largest population: NIRs are unique by construction in a space of about 85 million
/// numbers per birth-place class, and a person may use two (a current and a former NIR).
pub const MAX_PERSONS: u64 = 20_000_000;
/// The earliest reference year: the decree dates from 2017.
pub const MIN_REFERENCE_YEAR: i32 = 2017;
/// The latest reference year accepted, far enough for any test clock.
pub const MAX_REFERENCE_YEAR: i32 = 2200;
/// How many persons between two progress reports.
pub const PROGRESS_STEP: u64 = 10_000;

/// Which territory the residence communes are drawn from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TerritoryChoice {
    /// One observatory's territory, by its code (e.g. `carsat-sud-est`).
    Observatory(String),
    /// Every competent territory, weighted by population.
    All,
}

impl FromStr for TerritoryChoice {
    type Err = std::convert::Infallible;

    /// `all` (any case) or an observatory code; the code is checked by [`generate`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        Ok(if s.eq_ignore_ascii_case("all") {
            TerritoryChoice::All
        } else {
            TerritoryChoice::Observatory(s.to_owned())
        })
    }
}

impl fmt::Display for TerritoryChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TerritoryChoice::Observatory(code) => f.write_str(code),
            TerritoryChoice::All => f.write_str("all"),
        }
    }
}

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthOptions {
    /// How many persons: every one is in the selection.
    pub persons: u64,
    /// Where they live.
    pub territory: TerritoryChoice,
    /// The seed of the ChaCha8 stream: the same seed gives the same files.
    pub seed: u64,
    /// The year ages are counted in (age = year − birth year, 55 to 100). The extracts are as of
    /// 1 January of that year (hospital stays of the previous 12 months, pensions started by then).
    pub reference_year: i32,
    /// The day of the reference year the population is as of, instead of 1 January: the
    /// extracts' hospital stays are those of the twelve months before it, and every person
    /// counts as 55 on it to their NIR's birth month (as `requester submit` checks on the day
    /// of submission). `passerelle synth` without `--year` gives today.
    pub as_of: Option<chrono::NaiveDate>,
    /// The requesting body (a branch code): its selection carries the categories it holds.
    pub requester: String,
}

impl SynthOptions {
    /// `persons` persons in the default territory, with the default seed and requester.
    pub fn new(persons: u64, reference_year: i32) -> Self {
        SynthOptions {
            persons,
            territory: TerritoryChoice::Observatory(DEFAULT_TERRITORY.to_owned()),
            seed: DEFAULT_SEED,
            reference_year,
            as_of: None,
            requester: DEFAULT_REQUESTER.to_owned(),
        }
    }
}

/// Why a population could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("unknown territory `{given}`: expected `all` or one of {known}")]
    UnknownTerritory { given: String, known: String },
    #[error("the territory `{0}` has no inhabited commune in the commune list")]
    EmptyTerritory(String),
    #[error("{requested} persons asked: at most {MAX_PERSONS} can be generated with unique NIRs")]
    TooManyPersons { requested: u64 },
    #[error("reference year {0} out of range: expected {MIN_REFERENCE_YEAR} to {MAX_REFERENCE_YEAR}")]
    ReferenceYear(i32),
    #[error("unknown requester body `{0}`: expected one of cnam, cnav, cnaf, msa")]
    UnknownRequester(String),
    #[error("the NIR space of one birth-place class is exhausted")]
    NirSpaceExhausted,
    #[error("generated an invalid NIR (a bug in the generator)")]
    InvalidNir,
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a valid manifest", path.display())]
    BadManifest {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

impl SynthError {
    /// Whether the options were at fault (a usage error) rather than the machine (I/O).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            SynthError::UnknownTerritory { .. }
                | SynthError::EmptyTerritory(_)
                | SynthError::TooManyPersons { .. }
                | SynthError::ReferenceYear(_)
                | SynthError::UnknownRequester(_)
        )
    }
}

/// Generates the population into `out` (created if missing; existing files are replaced) and
/// returns its manifest, also written to `out/manifest.json` last.
pub fn generate(options: &SynthOptions, out: &Path) -> Result<Manifest, SynthError> {
    generate_with_progress(options, out, &mut |_| {})
}

/// [`generate`], calling `progress` with the number of persons written so far every
/// [`PROGRESS_STEP`] persons and at the end.
pub fn generate_with_progress(
    options: &SynthOptions,
    out: &Path,
    progress: &mut dyn FnMut(u64),
) -> Result<Manifest, SynthError> {
    if options.persons > MAX_PERSONS {
        return Err(SynthError::TooManyPersons { requested: options.persons });
    }
    if !(MIN_REFERENCE_YEAR..=MAX_REFERENCE_YEAR).contains(&options.reference_year) {
        return Err(SynthError::ReferenceYear(options.reference_year));
    }
    let requester = passerelle_protocol::catalogue::body::ALL
        .iter()
        .copied()
        .find(|b| *b == options.requester)
        .ok_or_else(|| SynthError::UnknownRequester(options.requester.clone()))?;
    let residences = residence::Residences::of(&options.territory)?;
    write::write_population(options, requester, &residences, out, progress)
}
