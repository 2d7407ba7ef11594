//! The fragility exchange's shared language: the v1 wire types generated from `proto/`, the
//! category catalogue of art. 2, and the identifiers (NIR/NIA, commune, territory, case id, body
//! and observatory codes).
//!
//! Nothing here does IO. Protobuf types stay at the edge; domain code converts with `TryFrom`,
//! which is where validation happens.
#![forbid(unsafe_code)]

pub mod age;
pub mod calendar;
pub mod catalogue;
pub mod commune;
pub mod ids;
pub mod legal;
pub mod nir;
pub mod offered_service;
pub mod rules;
pub mod social_services;
pub mod territory;
pub mod untrusted;
pub mod value;
pub mod wire;

/// The schema's minor version this release speaks (`schema_minor`, field 15 of every message,
/// copied in the header `x-passerelle-schema-minor`). See `docs/PARTNERS.md`, "Versions".
pub const SCHEMA_MINOR: u32 = 1;

/// The generated protobuf types of `proto/passerelle/v1/`.
#[allow(missing_docs, clippy::all, missing_debug_implementations)]
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/passerelle.v1.rs"));
}
