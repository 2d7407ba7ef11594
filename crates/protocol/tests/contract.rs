//! Guards on the wire contract in `proto/passerelle/v1/`: it compiles with stock `protoc`, and
//! no field could carry "toute autre donnée" (decree art. 2: only the listed categories).

use std::path::{Path, PathBuf};
use std::process::Command;

use passerelle_protocol::catalogue::CATEGORIES;

fn proto_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto")
}

fn proto_text(name: &str) -> String {
    std::fs::read_to_string(proto_dir().join("passerelle/v1").join(name)).unwrap()
}

#[test]
fn no_free_form_field_can_carry_other_data() {
    for name in ["categories.proto", "exchange.proto", "witness.proto"] {
        let text = proto_text(name);
        let code: String = text.lines().map(|l| l.split("//").next().unwrap()).collect::<Vec<_>>().join("\n");
        assert!(!code.contains("map<"), "{name} declares a map");
        assert!(!code.contains(" bytes "), "{name} declares a bytes field");
        assert!(!code.contains("google.protobuf.Any") && !code.contains("Struct"), "{name} uses Any/Struct");
    }
}

#[test]
fn category_values_has_one_typed_field_per_catalogue_entry_with_its_decree_reference() {
    let text = proto_text("categories.proto");
    let body = text.split("message CategoryValues {").nth(1).unwrap().split('}').next().unwrap();
    let fields: Vec<&str> = body.lines().filter(|l| l.contains(';') && l.contains('=')).collect();
    assert_eq!(fields.len(), CATEGORIES.len());
    for info in &CATEGORIES {
        let line = fields
            .iter()
            .find(|l| l.split_whitespace().any(|w| w == info.code))
            .unwrap_or_else(|| panic!("no field for {}", info.code));
        assert!(!line.contains("string "), "{} is a string: free text could travel in it", info.code);
        assert!(line.contains(&format!("= {};", info.category as i32)), "{} field number", info.code);
        assert!(line.contains(info.decree_ref), "{} must cite {}", info.code, info.decree_ref);
    }
}

/// The contract must compile with the standard compiler partner bodies use (Debian's
/// `protobuf-compiler`). Where `protoc` is not installed the check cannot run; it says so.
#[test]
fn compiles_with_stock_protoc() {
    let out = tempfile_dir();
    let status = Command::new("protoc")
        .arg("-I")
        .arg(proto_dir())
        .arg(format!("--descriptor_set_out={}", out.join("v1.pb").display()))
        .arg(proto_dir().join("passerelle/v1/categories.proto"))
        .arg(proto_dir().join("passerelle/v1/exchange.proto"))
        .arg(proto_dir().join("passerelle/v1/witness.proto"))
        .status();
    match status {
        Ok(s) => assert!(s.success(), "protoc refused the contract"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("protoc is not installed (apt install protobuf-compiler): stock-protoc check not run")
        }
        Err(e) => panic!("cannot run protoc: {e}"),
    }
}

fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("passerelle-protoc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
