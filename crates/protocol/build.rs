//! Generates the Rust types of `proto/passerelle/v1/*.proto` with protox (a pure-Rust protobuf
//! compiler), so building needs no system `protoc`, and writes the files' descriptor set
//! (`passerelle.v1.fds`) for the unknown-field walker (`src/wire.rs`).

use prost::Message as _;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let files = [
        root.join("passerelle/v1/categories.proto"),
        root.join("passerelle/v1/exchange.proto"),
        root.join("passerelle/v1/witness.proto"),
        root.join("passerelle/v1/social_file.proto"),
        root.join("passerelle/v1/transfer.proto"),
        root.join("passerelle/v1/rights.proto"),
    ];
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    let descriptors = protox::compile(&files, [&root])?;
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("passerelle.v1.fds"), descriptors.encode_to_vec())?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
