//! Replays the committed fuzz corpora of the bus's decoders (`fuzz/corpus/bus_<kind>/`) through
//! the very harness the fuzz targets run (`fuzz/src/bus.rs`), so CI checks every input the fuzzer
//! kept without building the fuzzers: no panic, decoded messages pass their checks and survive a
//! round trip, refusals give a short reason. How to fuzz: docs/RELIABILITY.md, "Fuzzing".

#[path = "../../../fuzz/src/bus.rs"]
mod harness;

#[path = "../../../fuzz/src/corpus.rs"]
mod corpus;

use passerelle_bus::{Kind, Message};

fn target(kind: Kind) -> String {
    format!("bus_{}", kind.type_name().rsplit('.').next().unwrap().to_ascii_lowercase())
}

#[test]
fn every_corpus_input_decodes_or_is_refused_cleanly() {
    for kind in Kind::ALL {
        let files = corpus::inputs(env!("CARGO_MANIFEST_DIR"), &target(kind));
        let mut decoded = 0;
        for (path, bytes) in &files {
            let outcome = std::panic::catch_unwind(|| harness::decode(kind, bytes));
            assert!(outcome.is_ok(), "{kind}: {} broke the harness", path.display());
            decoded += usize::from(Message::decode(kind, bytes).is_ok());
        }
        // The seeds hold valid messages and refused ones: both paths are replayed.
        assert!(decoded > 0, "{kind}: no corpus input decodes");
        assert!(decoded < files.len(), "{kind}: every corpus input decodes");
    }
}

#[test]
fn the_seeds_one_step_from_valid_are_refused_with_their_reason() {
    for kind in Kind::ALL {
        let dir = target(kind);
        let file = |name: &str| corpus::input(env!("CARGO_MANIFEST_DIR"), &dir, name);
        assert!(Message::decode(kind, &file("seed-valid")).is_ok(), "{kind}");
        let err = Message::decode(kind, &file("seed-schema-2")).unwrap_err();
        assert!(err.to_string().contains("schema version 2"), "{kind}: {err}");
        if kind.is_chunked() {
            let err = Message::decode(kind, &file("seed-chunk-beyond")).unwrap_err();
            assert!(err.to_string().contains("chunk index 3 not below chunk count 3"), "{kind}: {err}");
        }
    }
}
