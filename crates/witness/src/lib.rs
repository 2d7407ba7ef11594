//! Tamper evidence against a store's own writer (DESIGN §7.1): the head of a hash-chained trail
//! (the audit trail, the access log) is signed into a [`Checkpoint`] and kept by a **witness**, a
//! party that does not share the writer's store, in a [`WitnessHistory`] that refuses any
//! checkpoint not extending the ones it holds. [`check_trail`] then checks a trail against every
//! checkpoint the witness holds: a trail rewritten or truncated after a checkpoint no longer
//! matches it, even if the attacker signs a fresh checkpoint with the writer's key.
//!
//! This crate holds the types, the signature, the witness's store and the check; carrying
//! checkpoints over the broker is the transport's job (the types are serialisable for it).
//!
//! # The signed bytes (canonical encoding, version 1)
//!
//! What is signed with Ed25519 (RFC 8032, pure Ed25519, no pre-hash) is the UTF-8 text below:
//! nine lines, each ended by one line feed (`0x0A`, also after the last), in this order, with no
//! spaces around the colon and no other bytes:
//!
//! ```text
//! passerelle-checkpoint-v1
//! party:<party>
//! trail:<trail>
//! year:<year>
//! count:<count>
//! head:<head>
//! at:<at>
//! kind:<kind>
//! end
//! ```
//!
//! - `party`, `trail`: the writer's party name and the trail's name (`observatory:audit`, `requester:access-log`…),
//!   1 to 128 characters from `A–Z a–z 0–9 . _ - :` (so a line feed can never shift a field);
//! - `year`: the calendar year the trail's chain covers, in decimal (1970–9999);
//! - `count`: the number of entries of that year's chain the head covers, in decimal without
//!   leading zeros (`0` for an empty chain);
//! - `head`: the hash of the chain's last entry, 64 lowercase hexadecimal digits (SHA-256);
//! - `at`: when the writer made the checkpoint, milliseconds since 1970-01-01T00:00:00Z, in
//!   decimal (a `-` sign is never written: times before 1970 are refused);
//! - `kind`: `regular` (at least hourly), `purge` (after a purge), `stop` (at a daemon's stop) or
//!   `year-closed` (the year's chain is dropped: its retention has run).
//!
//! The signature is the 64 bytes of RFC 8032, carried as 128 lowercase hexadecimal digits; the
//! public key is the 32 bytes of RFC 8032, carried as 64 lowercase hexadecimal digits
//! ([`public_key_hex`]). A partner in another language rebuilds the text from the fields and
//! checks the signature with any RFC 8032 implementation (in Java 15+:
//! `Signature.getInstance("Ed25519")`).
//!
//! Architecture invariant: a checkpoint carries no personal datum (names, counts and hashes of a
//! trail only), so it may cross organisations and be logged.
#![forbid(unsafe_code)]

mod check;
mod checkpoint;
mod history;
mod key;
mod settings;

pub use check::{check_trail, Mismatch, TrailCheck};
pub use checkpoint::{Checkpoint, CheckpointKind, Malformed, SignedCheckpoint, CANONICAL_VERSION};
pub use ed25519_dalek::{SigningKey, VerifyingKey};
pub use history::{Accepted, ChainBreak, HistoryError, Refusal, WitnessHistory, WitnessedCheckpoint};
pub use key::{load_or_create_signing_key, parse_public_key, public_key_hex, KeyError};
pub use passerelle_protocol::calendar::{LegalCalendar, RETAINED_YEARS_AFTER};
pub use settings::{TrailSettings, MAX_CHECKPOINT_INTERVAL_S};
