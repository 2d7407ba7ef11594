//! Replays the committed fuzz corpora of the selection and extract readers
//! (`fuzz/corpus/selection_csv/`, `fuzz/corpus/extract_csv/`) through the very harness the fuzz
//! targets run (`fuzz/src/csv.rs`), each file in UTF-8 and in Windows-1252: no panic, a verdict
//! per record on a plausible line, exact summaries, parseable JSON reports, no NIR in a reason,
//! and verdicts independent of the read buffer's size. How to fuzz: docs/RELIABILITY.md,
//! "Fuzzing".

#[path = "../../../fuzz/src/csv.rs"]
mod harness;

#[path = "../../../fuzz/src/corpus.rs"]
mod corpus;

use passerelle_protocol::commune::CommuneTable;
use passerelle_protocol::territory::Territories;
use passerelle_selection::{Encoding, SelectionReader, SelectionRules};
use std::io::Cursor;

#[test]
fn every_selection_corpus_file_is_read_cleanly_in_each_encoding() {
    for (path, bytes) in corpus::inputs(env!("CARGO_MANIFEST_DIR"), "selection_csv") {
        let outcome = std::panic::catch_unwind(|| harness::selection(&bytes));
        assert!(outcome.is_ok(), "{} broke the harness", path.display());
    }
}

#[test]
fn every_extract_corpus_file_is_read_cleanly_in_each_encoding() {
    for (path, bytes) in corpus::inputs(env!("CARGO_MANIFEST_DIR"), "extract_csv") {
        let outcome = std::panic::catch_unwind(|| harness::extract(&bytes));
        assert!(outcome.is_ok(), "{} broke the harness", path.display());
    }
}

#[test]
fn the_seed_with_every_rejection_rejects_all_but_one_record() {
    let bytes = corpus::input(env!("CARGO_MANIFEST_DIR"), "selection_csv", "seed-every-rejection");
    let territories = Territories::default();
    let rules = SelectionRules::new(harness::REFERENCE_YEAR, CommuneTable::official(), &territories);
    let mut reader = SelectionReader::new(Cursor::new(bytes), Encoding::Utf8, rules).unwrap();
    let valid: Vec<u64> = (&mut reader).filter_map(|v| v.unwrap().valid()).map(|p| p.line).collect();
    assert_eq!(valid, [6], "only the first copy of the duplicated record is valid");
    assert_eq!(reader.summary().rejected, 9);
}
