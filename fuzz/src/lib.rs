//! The harnesses of Passerelle's fuzz targets: one module per input surface. Each module is also
//! compiled into an ordinary test of its crate (through `#[path]`) that replays the committed
//! corpus, so CI checks the same properties without building the fuzzers.
#![forbid(unsafe_code)]

pub mod bus;
pub mod corpus;
pub mod csv;
pub mod observatory;
