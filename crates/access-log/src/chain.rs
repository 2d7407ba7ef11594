//! The hash chain of one calendar year, and the salted commitment to a person's hash.
//!
//! `hash = SHA-256(DOMAIN ‖ year ‖ seq ‖ at ‖ agent ‖ kind ‖ object ‖ commitment ‖ prev_hash)`,
//! every field of fixed length or length-prefixed (no two entries encode alike), with
//! `prev_hash` the previous entry's hash, or for the first entry of a year that year's
//! [`genesis`] (so a year's chain cannot be passed off as another's). The entry's position
//! (`year`, `seq`) is in its hash: an entry moved elsewhere no longer matches it.
//!
//! `commitment = SHA-256(COMMITMENT_DOMAIN ‖ salt ‖ person hash)` with a random 32-byte salt
//! per entry, kept beside the person's hash and dropped with it. The commitment stays in the
//! chain; without the salt it cannot be tested against a guessed person (the person's hash,
//! which a holder of the key can compute from a NIR, is not enough).

use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::PersonRef;

/// The length of every hash, salt and commitment.
pub const HASH_LEN: usize = 32;

/// A SHA-256 value.
pub type Hash = [u8; HASH_LEN];

const DOMAIN: &[u8] = b"passerelle access log entry v1\0";
const GENESIS_DOMAIN: &[u8] = b"passerelle access log genesis v1\0";
const COMMITMENT_DOMAIN: &[u8] = b"passerelle access log person commitment v1\0";

/// The `prev_hash` of a year's first entry.
pub fn genesis(year: i32) -> Hash {
    Sha256::new().chain_update(GENESIS_DOMAIN).chain_update(year.to_be_bytes()).finalize().into()
}

/// A fresh random salt.
pub fn salt() -> Hash {
    let mut salt = [0u8; HASH_LEN];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    salt
}

/// The commitment the chain covers instead of the person's hash.
pub fn commitment(salt: &Hash, person: &PersonRef) -> Hash {
    Sha256::new().chain_update(COMMITMENT_DOMAIN).chain_update(salt).chain_update(person.as_bytes()).finalize().into()
}

/// The fields an entry's hash covers, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Linked<'a> {
    pub year: i32,
    pub seq: i64,
    pub at_ms: i64,
    pub agent: &'a str,
    pub kind: &'a str,
    pub object: &'a str,
    pub commitment: Option<&'a Hash>,
    pub prev_hash: &'a Hash,
}

impl Linked<'_> {
    /// The entry's hash.
    pub fn hash(&self) -> Hash {
        let mut h = Sha256::new();
        h.update(DOMAIN);
        h.update(self.year.to_be_bytes());
        h.update(self.seq.to_be_bytes());
        h.update(self.at_ms.to_be_bytes());
        for text in [self.agent, self.kind, self.object] {
            h.update((text.len() as u64).to_be_bytes());
            h.update(text.as_bytes());
        }
        match self.commitment {
            Some(c) => {
                h.update([1]);
                h.update(c);
            }
            None => h.update([0]),
        }
        h.update(self.prev_hash);
        h.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_and_the_position_change_the_hash() {
        let prev = genesis(2026);
        let c = commitment(&salt(), &PersonRef::from_bytes([7; 32]));
        let base = Linked {
            year: 2026,
            seq: 1,
            at_ms: 1,
            agent: "agent:a",
            kind: "read",
            object: "case-1",
            commitment: Some(&c),
            prev_hash: &prev,
        };
        let other_prev = genesis(2027);
        let variants = [
            Linked { year: 2027, ..base.clone() },
            Linked { seq: 2, ..base.clone() },
            Linked { at_ms: 2, ..base.clone() },
            Linked { agent: "agent:b", ..base.clone() },
            Linked { kind: "update", ..base.clone() },
            Linked { object: "case-2", ..base.clone() },
            Linked { commitment: None, ..base.clone() },
            Linked { prev_hash: &other_prev, ..base.clone() },
            // The length prefixes: moving a character from one field to the next changes it.
            Linked { agent: "agent:a", kind: "readc", object: "ase-1", ..base.clone() },
        ];
        for variant in variants {
            assert_ne!(variant.hash(), base.hash(), "{variant:?}");
        }
        assert_ne!(genesis(2026), genesis(2027));
    }

    #[test]
    fn a_commitment_needs_the_salt() {
        let person = PersonRef::from_bytes([9; 32]);
        let (a, b) = (salt(), salt());
        assert_ne!(a, b);
        assert_eq!(commitment(&a, &person), commitment(&a, &person));
        assert_ne!(commitment(&a, &person), commitment(&b, &person));
    }
}
