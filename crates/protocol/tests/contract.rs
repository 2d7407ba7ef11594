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
    for name in
        ["categories.proto", "exchange.proto", "witness.proto", "social_file.proto", "transfer.proto", "rights.proto"]
    {
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

/// The markers a `string` field of `social_file.proto` may carry: each names a shape that
/// crates/social-file checks; only `[free-text]` can hold prose.
const TEXT_MARKERS: [&str; 9] =
    ["[name]", "[label]", "[place]", "[address]", "[phone]", "[email]", "[identifier]", "[code]", "[free-text]"];

/// The field lines of a proto file, each with the comment lines just above it.
fn fields_with_comments(text: &str) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    let mut comment = String::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with("//") {
            comment.push_str(line);
            comment.push('\n');
            continue;
        }
        let first = line.split_whitespace().next().unwrap_or("");
        let is_field = line.contains(" = ") && line.contains(';') && !matches!(first, "option" | "syntax");
        // Enum values are upper-case names; message fields start with a type.
        let is_enum_value = first.chars().all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit());
        if is_field && !is_enum_value {
            fields.push((line.to_owned(), std::mem::take(&mut comment)));
        }
        comment.clear();
    }
    fields
}

#[test]
fn the_social_file_cites_the_norm_on_every_field_and_has_one_free_text_the_i_7_assessment() {
    let text = proto_text("social_file.proto");
    let fields = fields_with_comments(&text);
    assert!(fields.len() > 50, "the field scan found the fields: {}", fields.len());
    for (line, comment) in &fields {
        assert!(line.contains("norm 43, ") || comment.contains("norm 43, "), "no norm reference: {line}");
        let code = line.split("//").next().unwrap();
        let markers: Vec<&str> = TEXT_MARKERS.iter().copied().filter(|m| line.contains(m)).collect();
        if code.contains("string ") {
            assert_eq!(markers.len(), 1, "a string field needs exactly one shape marker: {line}");
        } else {
            assert!(markers.is_empty(), "a marker on a field that is no string: {line}");
        }
    }
    let free: Vec<&String> = fields.iter().map(|(l, _)| l).filter(|l| l.contains("[free-text]")).collect();
    assert_eq!(free.len(), 1, "exactly one free-text field: {free:?}");
    assert!(free[0].contains("norm 43, I.7") && free[0].contains("string assessment"), "{}", free[0]);
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
        .arg(proto_dir().join("passerelle/v1/social_file.proto"))
        .arg(proto_dir().join("passerelle/v1/transfer.proto"))
        .arg(proto_dir().join("passerelle/v1/rights.proto"))
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
