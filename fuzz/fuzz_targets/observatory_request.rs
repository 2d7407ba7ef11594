//! Fuzz target: a request decoded by the bus, then the observatory's case-level and person-level
//! validation (see `fuzz/src/observatory.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    passerelle_fuzz::observatory::request(data);
});
