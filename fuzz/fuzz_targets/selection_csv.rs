//! Fuzz target: the bytes as a selection file, read in each encoding (see `fuzz/src/csv.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    passerelle_fuzz::csv::selection(data);
});
