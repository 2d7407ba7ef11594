//! The bus's protobuf decoders under hostile bytes. Shared, through `#[path]`, by the fuzz
//! targets `bus_<kind>` and by the corpus replay test `crates/bus/tests/fuzz_corpus.rs`, so CI
//! runs exactly what the fuzzer ran.
//!
//! Beyond "no panic", a decoded message must pass its own checks (schema version 1, a possible
//! chunk numbering), survive an encode/decode round trip unchanged, and have every category
//! value it carries readable and printable in the value syntax (what the observatory stores and
//! the requester writes into result files). A refused message must give a non-empty reason that
//! is not a wall of text (it goes into a dead-letter header).

use passerelle_bus::{Kind, Message, SCHEMA_VERSION};
use passerelle_protocol::v1::{self, CategoryValues};
use passerelle_protocol::value;

/// The longest reason a refusal may give: it becomes an AMQP header of the dead-lettered message.
pub const MAX_REASON_CHARS: usize = 1024;

/// Decodes `data` as a message of `kind` and checks what the decoder promises.
pub fn decode(kind: Kind, data: &[u8]) {
    match Message::decode(kind, data) {
        Ok(message) => {
            assert_eq!(message.kind(), kind);
            assert_eq!(message.schema_version(), SCHEMA_VERSION, "decode let another schema version through");
            if let Some((index, count)) = message.chunk() {
                assert!(index < count, "decode let chunk {index} of {count} through");
            }
            message.check().expect("a decoded message passes the checks decode applied");
            let again = Message::decode(kind, &message.encode()).expect("a re-encoded message decodes");
            assert_eq!(again, message, "the encode/decode round trip changed the message");
            for values in category_values(&message) {
                for (_category, v) in values.present() {
                    let _text = value::format(&v);
                }
            }
        }
        Err(error) => {
            let reason = error.to_string();
            assert!(!reason.is_empty(), "a refusal without a reason");
            assert!(reason.chars().count() <= MAX_REASON_CHARS, "a {}-character reason", reason.chars().count());
        }
    }
}

/// Every set of category values a message carries.
fn category_values(message: &Message) -> Vec<&CategoryValues> {
    match message {
        Message::Request(m) => m.persons.iter().filter_map(|p| p.known_risk_factors.as_ref()).collect(),
        Message::Response(m) => m.answers.iter().filter_map(|a| a.values.as_ref()).collect(),
        Message::Result(m) => {
            m.persons.iter().flat_map(|p| p.answers.iter()).filter_map(|a: &v1::BodyAnswer| a.values.as_ref()).collect()
        }
        Message::RightsRequest(m) => m.corrected.iter().collect(),
        Message::RightsAnswer(m) => {
            m.holdings.iter().flat_map(|h| h.values.iter()).filter_map(|v| v.values.as_ref()).collect()
        }
        Message::Solicitation(_)
        | Message::Receipt(_)
        | Message::Refusal(_)
        | Message::Notice(_)
        | Message::Checkpoint(_)
        | Message::CheckpointReceipt(_)
        | Message::CheckpointQuery(_)
        | Message::WitnessedCheckpoints(_)
        | Message::Transfer(_)
        | Message::TransferReceipt(_)
        | Message::TransferAmendment(_) => Vec::new(),
    }
}
