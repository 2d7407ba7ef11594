//! Between the wire's checkpoint (`v1::SignedCheckpoint`, whose party is the message's sender)
//! and the witness crate's ([`passerelle_witness::SignedCheckpoint`]).

use passerelle_protocol::v1;
use passerelle_witness::{Checkpoint, CheckpointKind, Malformed, SignedCheckpoint};

pub fn kind_to_wire(kind: CheckpointKind) -> v1::CheckpointKind {
    match kind {
        CheckpointKind::Regular => v1::CheckpointKind::Regular,
        CheckpointKind::Purge => v1::CheckpointKind::Purge,
        CheckpointKind::Stop => v1::CheckpointKind::Stop,
        CheckpointKind::YearClosed => v1::CheckpointKind::YearClosed,
    }
}

pub fn kind_from_wire(kind: i32) -> Result<CheckpointKind, Malformed> {
    match v1::CheckpointKind::try_from(kind) {
        Ok(v1::CheckpointKind::Regular) => Ok(CheckpointKind::Regular),
        Ok(v1::CheckpointKind::Purge) => Ok(CheckpointKind::Purge),
        Ok(v1::CheckpointKind::Stop) => Ok(CheckpointKind::Stop),
        Ok(v1::CheckpointKind::YearClosed) => Ok(CheckpointKind::YearClosed),
        _ => Err(Malformed(format!("the checkpoint kind {kind} is not one of regular, purge, stop, year-closed"))),
    }
}

/// The wire form of a signed checkpoint, with the writer's public key (hex).
pub fn to_wire(signed: &SignedCheckpoint, public_key: &str) -> v1::SignedCheckpoint {
    let c = &signed.checkpoint;
    v1::SignedCheckpoint {
        trail: c.trail.clone(),
        year: c.year,
        count: c.count,
        head: c.head.clone(),
        at_ms: c.at_ms,
        kind: kind_to_wire(c.kind) as i32,
        signature: signed.signature.clone(),
        public_key: public_key.to_owned(),
    }
}

/// The signed checkpoint a wire checkpoint from `party` states (its fields checked).
pub fn from_wire(party: &str, wire: &v1::SignedCheckpoint) -> Result<SignedCheckpoint, Malformed> {
    let checkpoint = Checkpoint {
        party: party.to_owned(),
        trail: wire.trail.clone(),
        year: wire.year,
        count: wire.count,
        head: wire.head.clone(),
        at_ms: wire.at_ms,
        kind: kind_from_wire(wire.kind)?,
    };
    checkpoint.validate()?;
    Ok(SignedCheckpoint { checkpoint, signature: wire.signature.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_crosses_the_wire_unchanged() {
        let key = passerelle_witness::SigningKey::from_bytes(&[7; 32]);
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_796_000_000_123);
        let signed =
            Checkpoint::new("cnaf.caf-13", "access-log", 2026, 12, &"ab".repeat(32), at, CheckpointKind::Purge)
                .unwrap()
                .sign(&key)
                .unwrap();
        let public_key = passerelle_witness::public_key_hex(&key.verifying_key());
        let back = from_wire("cnaf.caf-13", &to_wire(&signed, &public_key)).unwrap();
        assert_eq!(back, signed);
        assert!(back.verify(&key.verifying_key()));
        assert!(kind_from_wire(0).is_err(), "unspecified is refused");
    }
}
