//! The committed inputs of one fuzz target, for the replay tests of the crates (included there
//! through `#[path]`, like the harnesses): the seeds (`fuzz/seeds/<target>/`, hand-made by
//! `fuzz/make_seeds.py`) and the corpus the fuzzer grew (`fuzz/corpus/<target>/`, minimised).

use std::path::{Path, PathBuf};

/// Every input of `target`, sorted by path. `crate_dir` is the replaying crate's
/// `CARGO_MANIFEST_DIR` (`crates/<short>`). Either folder missing or empty fails: a moved folder
/// must not turn a replay test into a no-op.
pub fn inputs(crate_dir: &str, target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let fuzz = Path::new(crate_dir).join("../../fuzz");
    let mut files = Vec::new();
    for dir in [fuzz.join("seeds").join(target), fuzz.join("corpus").join(target)] {
        let before = files.len();
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            files.push((path, bytes));
        }
        assert!(files.len() > before, "{} is empty", dir.display());
    }
    files.sort();
    files
}

/// The input of `target` whose file name is `name` (a seed, usually).
pub fn input(crate_dir: &str, target: &str, name: &str) -> Vec<u8> {
    let (_, bytes) = inputs(crate_dir, target)
        .into_iter()
        .find(|(p, _)| p.ends_with(name))
        .unwrap_or_else(|| panic!("no input `{name}` for {target}"));
    bytes
}
