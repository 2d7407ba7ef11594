//! Fields a received message carries that its schema does not declare ("unknown fields").
//!
//! prost drops unknown fields silently while decoding, so this walks the protobuf wire format
//! itself, guided by the descriptor set `build.rs` writes from `proto/`: each field number is
//! looked up in its message's fields, and the known fields of a message type are walked in
//! turn, at any depth. It returns the paths of the unknown ones (`Response.answers.values#17`:
//! field 17 inside the `values` of an `answers` of a `Response`), numbers and names only, never
//! a value.
//!
//! The walk runs on every delivery: it reads the bytes once, keeps the path on the stack and
//! allocates only for an unknown field found. Comparing the decoded message's re-encoded length
//! with the received one instead would not be sound: a sender may legally write a repeated
//! scalar unpacked (one byte shorter than its packed re-encoding per single-element field), an
//! explicit default or an overlong varint (longer), and such differences can cancel an unknown
//! field's bytes out. So the walk is the check, and it is cheap (see the `wire` test timings).

use std::collections::HashMap;
use std::sync::OnceLock;

use prost::Message as _;
use prost_types::field_descriptor_proto::Type;
use prost_types::{DescriptorProto, FileDescriptorSet};

/// The deepest nesting walked (prost's own recursion limit).
const MAX_DEPTH: usize = 100;

/// The encoded descriptor set of `proto/passerelle/v1/*.proto`.
const DESCRIPTORS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/passerelle.v1.fds"));

struct Field {
    number: u32,
    name: String,
    /// The index of the field's message type in [`Schema::messages`], for a message field.
    message: Option<usize>,
}

struct MessageSchema {
    /// The short name (`Response`).
    name: String,
    /// By number.
    fields: Vec<Field>,
}

struct Schema {
    messages: Vec<MessageSchema>,
    /// Full name without the leading dot (`passerelle.v1.Response`) → index.
    by_name: HashMap<String, usize>,
}

fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let set = FileDescriptorSet::decode(DESCRIPTORS).expect("the descriptor set build.rs wrote");
        let mut flat: Vec<(String, &DescriptorProto)> = Vec::new();
        fn collect<'a>(scope: &str, messages: &'a [DescriptorProto], flat: &mut Vec<(String, &'a DescriptorProto)>) {
            for m in messages {
                let full = format!("{scope}.{}", m.name());
                collect(&full, &m.nested_type, flat);
                flat.push((full, m));
            }
        }
        for file in &set.file {
            collect(file.package(), &file.message_type, &mut flat);
        }
        let by_name: HashMap<String, usize> = flat.iter().enumerate().map(|(i, (n, _))| (n.clone(), i)).collect();
        let messages = flat
            .iter()
            .map(|(_, m)| {
                let mut fields: Vec<Field> = m
                    .field
                    .iter()
                    .map(|f| Field {
                        number: f.number() as u32,
                        name: f.name().to_owned(),
                        message: (f.r#type() == Type::Message)
                            .then(|| by_name.get(f.type_name().trim_start_matches('.')).copied())
                            .flatten(),
                    })
                    .collect();
                fields.sort_by_key(|f| f.number);
                MessageSchema { name: m.name().to_owned(), fields }
            })
            .collect();
        Schema { messages, by_name }
    })
}

/// The unknown fields of `bytes`, an encoded message of type `message` (its full name,
/// `passerelle.v1.Response`): their paths, empty when there are none (or the type is not one of
/// `proto/`). Bytes that are not a well-formed message stop the walk where they go wrong.
pub fn unknown_fields(message: &str, bytes: &[u8]) -> Vec<String> {
    let schema = schema();
    let mut found = Vec::new();
    if let Some(&index) = schema.by_name.get(message) {
        let root = Path { parent: None, name: &schema.messages[index].name };
        walk(schema, index, bytes, &root, 0, &mut found);
    }
    found
}

/// Where the walk is: a list on the stack, from the field walked back to the root message.
struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    name: &'a str,
}

impl Path<'_> {
    fn render(&self, number: u32) -> String {
        let mut names = Vec::new();
        let mut at = Some(self);
        while let Some(p) = at {
            names.push(p.name);
            at = p.parent;
        }
        names.reverse();
        format!("{}#{number}", names.join("."))
    }
}

/// Walks one message's bytes; `None` when they are malformed (the walk stops).
fn walk(
    schema: &Schema,
    index: usize,
    mut bytes: &[u8],
    path: &Path<'_>,
    depth: usize,
    found: &mut Vec<String>,
) -> Option<()> {
    let fields = &schema.messages[index].fields;
    while !bytes.is_empty() {
        let tag = varint(&mut bytes)?;
        let number = u32::try_from(tag >> 3).ok()?;
        let field = fields.binary_search_by_key(&number, |f| f.number).ok().map(|i| &fields[i]);
        if field.is_none() {
            found.push(path.render(number));
        }
        match tag & 7 {
            0 => {
                varint(&mut bytes)?;
            }
            1 => bytes = bytes.get(8..)?,
            5 => bytes = bytes.get(4..)?,
            2 => {
                let len = usize::try_from(varint(&mut bytes)?).ok()?;
                let (inner, rest) = (bytes.get(..len)?, bytes.get(len..)?);
                bytes = rest;
                if let Some(Field { message: Some(nested), name, .. }) = field {
                    if depth < MAX_DEPTH {
                        let here = Path { parent: Some(path), name };
                        walk(schema, *nested, inner, &here, depth + 1, found)?;
                    }
                }
            }
            3 => bytes = skip_group(bytes, number)?,
            _ => return None,
        }
    }
    Some(())
}

/// Skips a (deprecated) group up to its end tag.
fn skip_group(mut bytes: &[u8], number: u32) -> Option<&[u8]> {
    loop {
        let tag = varint(&mut bytes)?;
        match tag & 7 {
            0 => {
                varint(&mut bytes)?;
            }
            1 => bytes = bytes.get(8..)?,
            5 => bytes = bytes.get(4..)?,
            2 => {
                let len = usize::try_from(varint(&mut bytes)?).ok()?;
                bytes = bytes.get(len..)?;
            }
            3 => bytes = skip_group(bytes, u32::try_from(tag >> 3).ok()?)?,
            4 if tag >> 3 == u64::from(number) => return Some(bytes),
            _ => return None,
        }
    }
}

fn varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = bytes.split_first()?;
        *bytes = rest;
        value |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1;

    fn response() -> v1::Response {
        v1::Response {
            schema_version: 1,
            sender: "cnaf".into(),
            case_id: "case-1".into(),
            chunk_count: 1,
            answers: vec![v1::PersonAnswer {
                person_ref: 3,
                status: v1::PersonStatus::Found as i32,
                values: Some(v1::CategoryValues { rsa: Some(true), ..Default::default() }),
            }],
            declined: vec![v1::Decline { category: 5, reason: 2, detail: "x".into() }],
            schema_minor: 1,
            ..Default::default()
        }
    }

    /// Appends field `number` as a varint to an encoded message.
    fn with_varint(mut bytes: Vec<u8>, number: u32, value: u8) -> Vec<u8> {
        prost::encoding::encode_varint(u64::from(number) << 3, &mut bytes);
        bytes.push(value);
        bytes
    }

    #[test]
    fn a_message_of_the_schema_has_no_unknown_field() {
        assert!(unknown_fields("passerelle.v1.Response", &response().encode_to_vec()).is_empty());
        let result = v1::Result {
            bodies: vec![v1::BodyOutcome { asked: vec![1, 2], missing: 2, ..Default::default() }],
            ..Default::default()
        };
        assert!(unknown_fields("passerelle.v1.Result", &result.encode_to_vec()).is_empty());
    }

    #[test]
    fn unknown_fields_are_found_at_any_depth() {
        let top = with_varint(response().encode_to_vec(), 14, 1);
        assert_eq!(unknown_fields("passerelle.v1.Response", &top), ["Response#14"]);
        // An answer whose values carry field 28, one past the catalogue's last category.
        let values = with_varint(v1::CategoryValues { rsa: Some(true), ..Default::default() }.encode_to_vec(), 28, 1);
        let mut answer = v1::PersonAnswer { person_ref: 3, status: 1, values: None }.encode_to_vec();
        answer.push((3 << 3) | 2);
        answer.push(values.len() as u8);
        answer.extend_from_slice(&values);
        let mut message = response();
        message.answers.clear();
        let mut bytes = message.encode_to_vec();
        bytes.push((7 << 3) | 2);
        bytes.push(answer.len() as u8);
        bytes.extend_from_slice(&answer);
        let bytes = with_varint(bytes, 9, 0);
        assert_eq!(v1::Response::decode(bytes.as_slice()).unwrap().answers.len(), 1, "prost drops them silently");
        assert_eq!(unknown_fields("passerelle.v1.Response", &bytes), ["Response.answers.values#28", "Response#9"]);
    }

    #[test]
    fn the_walk_is_not_fooled_by_non_canonical_encodings_and_stops_on_garbage() {
        // `asked` (repeated enum) written unpacked, one element: longer once re-encoded packed.
        let mut outcome = vec![(2 << 3), 7];
        outcome = with_varint(outcome, 6, 1);
        assert_eq!(unknown_fields("passerelle.v1.BodyOutcome", &outcome), ["BodyOutcome#6"]);
        assert!(unknown_fields("passerelle.v1.Response", &[0x0a, 0xff]).is_empty(), "malformed: stops");
        assert!(unknown_fields("passerelle.v1.NoSuchThing", &[0x08, 1]).is_empty());
    }
}
