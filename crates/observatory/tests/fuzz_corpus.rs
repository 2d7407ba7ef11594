//! Replays the committed fuzz corpus of the observatory's request validation
//! (`fuzz/corpus/observatory_request/`) through the very harness the fuzz target runs
//! (`fuzz/src/observatory.rs`): no panic, every refusal names a field and a reason, nothing
//! accepted breaks a rule, no reason repeats a NIR. How to fuzz: docs/RELIABILITY.md, "Fuzzing".

#[path = "../../../fuzz/src/observatory.rs"]
mod harness;

#[path = "../../../fuzz/src/corpus.rs"]
mod corpus;

use passerelle_bus::{Kind, Message};
use passerelle_observatory::validate::check_person;
use passerelle_observatory::ObservatorySettings;

#[test]
fn every_corpus_request_is_judged_without_panic() {
    for (path, bytes) in corpus::inputs(env!("CARGO_MANIFEST_DIR"), "observatory_request") {
        let outcome = std::panic::catch_unwind(|| harness::request(&bytes));
        assert!(outcome.is_ok(), "{} broke the harness", path.display());
    }
}

#[test]
fn the_seed_with_every_person_rule_refuses_each_bad_person() {
    let bytes = corpus::input(env!("CARGO_MANIFEST_DIR"), "observatory_request", "seed-every-person-rule");
    let Message::Request(req) = Message::decode(Kind::Request, &bytes).unwrap() else { unreachable!() };
    let config = ObservatorySettings::new(harness::OBSERVATORY, "/nonexistent").resolve().unwrap();
    let verdicts: Vec<bool> =
        req.persons.iter().map(|p| check_person(p, &config, harness::ARRIVAL_YEAR).is_ok()).collect();
    assert_eq!(verdicts, [true, false, false, false, false, false]);
}
