//! The social service's case file (CNIL norm 43): the domain rules of
//! `proto/passerelle/v1/social_file.proto`, with no IO.
//!
//! - [`catalogue`]: every field of the file by its path (`family.household_members`), its norm
//!   item and its type — the one list the update, the validation, the README and the daemons read;
//! - [`validate()`]: each value checked (GIR 1–6, IPP 0–100, plausible dates, NIR key, bounded
//!   texts of a fixed shape, the one free text in I.7), each problem naming its field path;
//!   [`activity`] does the same for the actions and offers of norm A.1/A.2;
//! - [`update`]: a field path and a typed JSON value applied to a file, an unknown field refused
//!   by name, a value of another type refused with the type expected; the history entry keeps
//!   who changed which field when, never a value;
//! - [`enums`]: the closed lists, their English codes and their French labels
//!   ([`EnumKind::label_fr`]), what a person reads on paper;
//! - [`file_json()`]: the file as JSON keyed by catalogue path, the reverse of [`Update::parse`];
//! - [`mapping`]: the decree's values (Décret n° 2017-334, art. 2) carried into a new file when a
//!   person accepts the offer, and those with no home in the norm left behind.
#![forbid(unsafe_code)]

pub mod activity;
pub mod catalogue;
pub mod enums;
mod export;
mod json;
mod labels;
pub mod mapping;
mod records;
mod text;
pub mod update;
mod validate;

pub use activity::{validate_action, validate_offer};
pub use catalogue::{did_you_mean, field, fields_markdown, FieldInfo, FieldPath, FieldType, RecordKind, FIELDS};
pub use enums::{EnumKind, ENUM_KINDS};
pub use export::file_json;
pub use mapping::{mapping_markdown, mapping_table, open_from_decree, DecreeIdentity, MappingRow};
pub use text::{TextKind, MAX_ASSESSMENT_CHARS};
pub use update::{is_present, ChangeEntry, FieldValue, Update, UpdateError};
pub use validate::{validate, FieldProblem};

/// The generated types of the case file, re-exported from the wire contract.
pub use passerelle_protocol::v1;
