//! Fuzz target: the bytes as a body's extract, read in each encoding (see `fuzz/src/csv.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    passerelle_fuzz::csv::extract(data);
});
