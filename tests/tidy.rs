//! Tidy checks over the source tree (rust-analyzer's idea): every Rust file says what it is for
//! in a `//!` doc, every crate root forbids unsafe code, and no source file outgrows one concern.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if name != "target" && name != ".git" && name != "fuzz" {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn sources() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "crates", "tests"] {
        rust_files(&root.join(dir), &mut files);
    }
    files
}

#[test]
fn every_rust_file_opens_with_a_module_doc() {
    let missing: Vec<String> = sources()
        .into_iter()
        .filter(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            !first.starts_with("//!")
        })
        .map(|p| p.display().to_string())
        .collect();
    assert!(missing.is_empty(), "files without a leading //! doc: {missing:#?}");
}

#[test]
fn every_crate_root_forbids_unsafe_code() {
    let missing: Vec<String> = sources()
        .into_iter()
        .filter(|p| p.ends_with("src/lib.rs") || p.ends_with("src/main.rs"))
        .filter(|p| !std::fs::read_to_string(p).unwrap().contains("#![forbid(unsafe_code)]"))
        .map(|p| p.display().to_string())
        .collect();
    assert!(missing.is_empty(), "crate roots without #![forbid(unsafe_code)]: {missing:#?}");
}

/// The most lines of code a source file holds: past it, a file is doing more than one thing.
const MAX_SOURCE_LINES: usize = 600;

/// Whether `path` is test code: integration tests (`tests/`, `*/tests/`), benchmarks, and
/// unit-test files beside the code (`tests.rs`, `*_tests.rs`).
fn is_test_code(path: &Path) -> bool {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let relative = path.strip_prefix(root).unwrap_or(path);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    relative.components().any(|c| c.as_os_str() == "tests" || c.as_os_str() == "benches")
        || name == "tests.rs"
        || name.ends_with("_tests.rs")
}

#[test]
fn no_source_file_exceeds_the_line_budget() {
    // Generated code (prost's) lives under `target/`, which `sources` does not walk.
    let long: Vec<String> = sources()
        .into_iter()
        .filter(|p| !is_test_code(p))
        .filter_map(|p| {
            let lines = std::fs::read_to_string(&p).unwrap().lines().count();
            (lines > MAX_SOURCE_LINES).then(|| format!("{} ({lines} lines)", p.display()))
        })
        .collect();
    assert!(long.is_empty(), "source files over {MAX_SOURCE_LINES} lines (split them by concern): {long:#?}");
}

#[test]
fn the_tidy_checks_see_what_they_look_for() {
    assert!(is_test_code(&Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/bus/tests/broker.rs")));
    assert!(is_test_code(Path::new("crates/bus/src/memory_tests.rs")));
    assert!(!is_test_code(&Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/bus/src/lib.rs")));
}
