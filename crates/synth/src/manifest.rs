//! `manifest.json`: what was generated (the options) and how much (the counts), so tests, the
//! demo and the benchmark know what to expect without re-reading the files.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{SynthError, MANIFEST_FILE};

/// The parameters and counts of one generated population. Maps are ordered, so the file is
/// byte-identical for the same options and seed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub seed: u64,
    /// Persons in the population, all in the selection.
    pub persons: u64,
    /// The observatory code, or `all`.
    pub territory: String,
    /// The year ages are counted in.
    pub reference_year: i32,
    /// The date the extracts are as of (`YYYY-MM-DD`, 1 January of the reference year).
    pub as_of: String,
    /// The requesting body (branch code), whose categories the selection carries.
    pub requester: String,
    /// Data rows (header excluded) per file name.
    pub files: BTreeMap<String, u64>,
    /// Per body code: how it knows the population.
    pub bodies: BTreeMap<String, BodyCounts>,
    /// Persons per observatory their residence commune routes to.
    pub observatories: BTreeMap<String, u64>,
    /// Persons with a former NIR in the selection.
    pub persons_with_former_nir: u64,
    /// Persons with a provisional current NIR (sex digit 7 or 8).
    pub provisional_nirs: u64,
    /// Persons no body knows (another scheme).
    pub known_to_nobody: u64,
}

/// How one body knows the population (one extract row per known person).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BodyCounts {
    /// The extract file's name.
    pub file: String,
    /// Persons the body knows (its extract's rows).
    pub persons_known: u64,
    /// Of which, known by a former NIR only (the extract's `nir` is the selection's former NIR).
    pub known_by_former_nir_only: u64,
    /// Of which, with a birth year that differs from the selection's.
    pub birth_year_mismatches: u64,
    /// Of which, without a birth year.
    pub without_birth_year: u64,
    /// Of which, without a sex.
    pub without_sex: u64,
}

impl Manifest {
    /// Reads `dir/manifest.json`.
    pub fn read(dir: &Path) -> Result<Manifest, SynthError> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| SynthError::Read { path: path.clone(), source })?;
        serde_json::from_str(&text).map_err(|source| SynthError::BadManifest { path, source })
    }

    /// Writes `dir/manifest.json` (pretty-printed, with a final newline).
    pub fn write(&self, dir: &Path) -> Result<(), SynthError> {
        let path = dir.join(MANIFEST_FILE);
        let mut text = serde_json::to_string_pretty(self).expect("a manifest serialises");
        text.push('\n');
        std::fs::write(&path, text).map_err(|source| SynthError::Write { path, source })
    }
}
