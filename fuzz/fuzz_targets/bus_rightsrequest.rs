//! Fuzz target: `passerelle_bus::Message::decode(Kind::RightsRequest, bytes)` and its checks
//! (see `fuzz/src/bus.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    passerelle_fuzz::bus::decode(passerelle_bus::Kind::RightsRequest, data);
});
