//! Checking a trail against the checkpoints its witness holds: every checkpoint says "entry
//! number *count* of this year's chain has hash *head*"; a trail that no longer gives that hash
//! there was rewritten at or before that entry, and one that no longer has that entry was
//! truncated. A fresh checkpoint signed with the writer's key does not help an attacker: the
//! witness still holds the old ones, and each is checked.

use crate::Checkpoint;

/// The first checkpoint the trail does not match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// The trail's entry number `count` has another hash than the checkpoint's: an entry after
    /// `after` (the last matching checkpoint's count, 0 if none) and up to `count` was changed,
    /// removed or inserted.
    Rewritten { checkpoint: Checkpoint, after: u64, found: String },
    /// The trail has fewer than `count` entries: it was truncated after its entry `length`.
    Truncated { checkpoint: Checkpoint, length: u64 },
}

/// What a trail's check against its witnessed checkpoints found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailCheck {
    /// How many checkpoints matched (before the first mismatch, if any).
    pub matched: usize,
    /// The first checkpoint (by count) that the trail does not match.
    pub mismatch: Option<Mismatch>,
    /// Entries 1 to `covered` are vouched for by a matching witnessed checkpoint.
    pub covered: u64,
    /// Entries after `covered` that no witnessed checkpoint covers yet (0 after a mismatch:
    /// nothing past it can be trusted).
    pub not_yet_covered: u64,
}

impl TrailCheck {
    /// Whether every checkpoint matched.
    pub fn intact(&self) -> bool {
        self.mismatch.is_none()
    }
}

/// Checks a year's chain holding `length` entries, whose entry number *n* has hash
/// `head_at(n)` (`None` when it has no such entry), against every one of `checkpoints` (in any
/// order; their signatures were checked by the witness when it accepted them).
pub fn check_trail<'a>(
    length: u64,
    head_at: impl Fn(u64) -> Option<String>,
    checkpoints: impl IntoIterator<Item = &'a Checkpoint>,
) -> TrailCheck {
    let mut checkpoints: Vec<&Checkpoint> = checkpoints.into_iter().collect();
    checkpoints.sort_by_key(|c| c.count);
    let mut covered = 0;
    for (matched, checkpoint) in checkpoints.iter().enumerate() {
        let found = if checkpoint.count > length { None } else { head_at(checkpoint.count) };
        let mismatch = match found {
            None => Some(Mismatch::Truncated { checkpoint: (*checkpoint).clone(), length }),
            Some(found) if found != checkpoint.head => {
                Some(Mismatch::Rewritten { checkpoint: (*checkpoint).clone(), after: covered, found })
            }
            Some(_) => None,
        };
        if let Some(mismatch) = mismatch {
            return TrailCheck { matched, mismatch: Some(mismatch), covered, not_yet_covered: 0 };
        }
        covered = checkpoint.count;
    }
    TrailCheck { matched: checkpoints.len(), mismatch: None, covered, not_yet_covered: length - covered }
}
