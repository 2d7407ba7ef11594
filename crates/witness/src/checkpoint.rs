//! A checkpoint of a trail's head, its canonical bytes (documented in the crate doc) and its
//! Ed25519 signature.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

/// The first line of the signed text: a new layout gets a new version, never a changed meaning.
pub const CANONICAL_VERSION: &str = "passerelle-checkpoint-v1";

/// The longest party or trail name: a name, not a payload.
const MAX_NAME_LEN: usize = 128;

/// The length of a head: a SHA-256 in lowercase hexadecimal.
const HEAD_LEN: usize = 64;

/// Why a checkpoint happened; the witness treats `YearClosed` apart (DESIGN §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckpointKind {
    /// The periodic one (at least hourly).
    Regular,
    /// Made right after a purge removed entries' personal parts.
    Purge,
    /// Made when the daemon stops.
    Stop,
    /// The year's chain is dropped: its retention (the calendar year and the four following)
    /// has run. The witness then refuses any further checkpoint for that year.
    YearClosed,
}

impl CheckpointKind {
    /// Its word in the signed text.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckpointKind::Regular => "regular",
            CheckpointKind::Purge => "purge",
            CheckpointKind::Stop => "stop",
            CheckpointKind::YearClosed => "year-closed",
        }
    }

    /// The kind a word of the signed text names.
    pub fn parse(word: &str) -> Result<CheckpointKind, Malformed> {
        Ok(match word {
            "regular" => CheckpointKind::Regular,
            "purge" => CheckpointKind::Purge,
            "stop" => CheckpointKind::Stop,
            "year-closed" => CheckpointKind::YearClosed,
            other => {
                return Err(Malformed(format!(
                    "unknown checkpoint kind {other:?}: expected regular, purge, stop or year-closed"
                )))
            }
        })
    }
}

/// What a writer states about one year's chain of one trail at one time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The party that writes the trail (e.g. `observatory`, a body's code): the witness keeps
    /// one history per party, trail and year.
    pub party: String,
    /// Which trail: `<daemon>:<trail>` (`observatory:audit`, `requester:access-log`…).
    pub trail: String,
    /// The calendar year (in the body's legal time zone) whose chain this is: chains are kept
    /// and dropped per year.
    pub year: i32,
    /// How many entries of the year's chain `head` covers.
    pub count: u64,
    /// The hash of the chain's entry number `count` (64 lowercase hexadecimal digits).
    pub head: String,
    /// When the writer made it, milliseconds since the Unix epoch (what is signed).
    pub at_ms: i64,
    pub kind: CheckpointKind,
}

/// A checkpoint whose fields cannot be signed as they are (the text names the field).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed checkpoint: {0}")]
pub struct Malformed(pub String);

impl Checkpoint {
    /// A checkpoint made at `at` (kept to the millisecond, as signed).
    pub fn new(
        party: &str,
        trail: &str,
        year: i32,
        count: u64,
        head: &str,
        at: SystemTime,
        kind: CheckpointKind,
    ) -> Result<Checkpoint, Malformed> {
        let at_ms = at
            .duration_since(UNIX_EPOCH)
            .map_err(|_| Malformed("the checkpoint's time is before 1970".into()))?
            .as_millis() as i64;
        let checkpoint =
            Checkpoint { party: party.into(), trail: trail.into(), year, count, head: head.into(), at_ms, kind };
        checkpoint.validate()?;
        Ok(checkpoint)
    }

    /// When the writer made it.
    pub fn at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.at_ms.max(0) as u64)
    }

    /// Refuses fields the canonical text cannot carry unambiguously, naming the field.
    pub fn validate(&self) -> Result<(), Malformed> {
        for (field, value) in [("party", &self.party), ("trail", &self.trail)] {
            let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':');
            if value.is_empty() || value.len() > MAX_NAME_LEN || !value.chars().all(allowed) {
                return Err(Malformed(format!(
                    "the {field} must be 1 to {MAX_NAME_LEN} characters from A-Z a-z 0-9 . _ - : (got {} characters)",
                    value.chars().count()
                )));
            }
        }
        if !(1970..=9999).contains(&self.year) {
            return Err(Malformed(format!("the year {} is outside 1970-9999", self.year)));
        }
        if self.head.len() != HEAD_LEN || !self.head.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(Malformed(format!(
                "the head must be {HEAD_LEN} lowercase hexadecimal digits (a SHA-256); got {} characters",
                self.head.len()
            )));
        }
        if self.at_ms < 0 {
            return Err(Malformed("the checkpoint's time is before 1970".into()));
        }
        Ok(())
    }

    /// The bytes that are signed (crate doc, "The signed bytes"). The fields must be valid.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        format!(
            "{CANONICAL_VERSION}\nparty:{}\ntrail:{}\nyear:{}\ncount:{}\nhead:{}\nat:{}\nkind:{}\nend\n",
            self.party,
            self.trail,
            self.year,
            self.count,
            self.head,
            self.at_ms,
            self.kind.as_str()
        )
        .into_bytes()
    }

    /// Signs it with the writer's key.
    pub fn sign(self, key: &SigningKey) -> Result<SignedCheckpoint, Malformed> {
        self.validate()?;
        let signature = key.sign(&self.canonical_bytes());
        Ok(SignedCheckpoint { checkpoint: self, signature: hex::encode(signature.to_bytes()) })
    }
}

/// A checkpoint and its signature, as it travels to the witness and back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedCheckpoint {
    pub checkpoint: Checkpoint,
    /// The Ed25519 signature of [`Checkpoint::canonical_bytes`], 128 lowercase hexadecimal digits.
    pub signature: String,
}

impl SignedCheckpoint {
    /// Whether `key` signed exactly these fields; `false` for a malformed checkpoint or signature.
    pub fn verify(&self, key: &VerifyingKey) -> bool {
        if self.checkpoint.validate().is_err() {
            return false;
        }
        let Ok(bytes) = hex::decode(&self.signature) else { return false };
        let Ok(bytes) = <[u8; 64]>::try_from(bytes.as_slice()) else { return false };
        key.verify(&self.checkpoint.canonical_bytes(), &Signature::from_bytes(&bytes)).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn checkpoint() -> Checkpoint {
        Checkpoint::new(
            "observatory",
            "audit",
            2026,
            42,
            &"ab".repeat(32),
            UNIX_EPOCH + Duration::from_millis(1_796_000_000_123),
            CheckpointKind::Regular,
        )
        .unwrap()
    }

    #[test]
    fn the_signed_text_is_the_documented_one() {
        let text = String::from_utf8(checkpoint().canonical_bytes()).unwrap();
        let expected = format!(
            "passerelle-checkpoint-v1\nparty:observatory\ntrail:audit\nyear:2026\ncount:42\nhead:{}\nat:1796000000123\nkind:regular\nend\n",
            "ab".repeat(32)
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn a_signed_checkpoint_verifies_with_its_key_only() {
        let signed = checkpoint().sign(&key(1)).unwrap();
        assert!(signed.verify(&key(1).verifying_key()));
        assert!(!signed.verify(&key(2).verifying_key()), "another key's signature is refused");
        let travelled: SignedCheckpoint = serde_json::from_str(&serde_json::to_string(&signed).unwrap()).unwrap();
        assert!(travelled.verify(&key(1).verifying_key()), "a serialised checkpoint still verifies");
    }

    #[test]
    fn any_changed_field_or_signature_fails_verification() {
        let signed = checkpoint().sign(&key(1)).unwrap();
        let public = key(1).verifying_key();
        let tampered: [fn(&mut SignedCheckpoint); 9] = [
            |s| s.checkpoint.count += 1,
            |s| s.checkpoint.head = "cd".repeat(32),
            |s| s.checkpoint.party = "requester".into(),
            |s| s.checkpoint.trail = "access-log".into(),
            |s| s.checkpoint.year += 1,
            |s| s.checkpoint.at_ms += 1,
            |s| s.checkpoint.kind = CheckpointKind::YearClosed,
            |s| s.signature.replace_range(0..2, if &s.signature[0..2] == "00" { "01" } else { "00" }),
            |s| s.signature.truncate(10),
        ];
        for (i, tamper) in tampered.iter().enumerate() {
            let mut copy = signed.clone();
            tamper(&mut copy);
            assert!(!copy.verify(&public), "tampering #{i} went unnoticed");
        }
    }

    #[test]
    fn fields_that_would_shift_the_signed_text_are_refused_by_name() {
        let mut c = checkpoint();
        c.party = "observatory\ntrail:x".into();
        assert!(c.clone().sign(&key(1)).unwrap_err().0.contains("party"));
        let mut c = checkpoint();
        c.head = "AB".repeat(32);
        assert!(c.sign(&key(1)).unwrap_err().0.contains("head"));
        assert!(CheckpointKind::parse("closed").unwrap_err().0.contains("year-closed"));
        for kind in [CheckpointKind::Regular, CheckpointKind::Purge, CheckpointKind::Stop, CheckpointKind::YearClosed] {
            assert_eq!(CheckpointKind::parse(kind.as_str()), Ok(kind));
        }
    }
}
