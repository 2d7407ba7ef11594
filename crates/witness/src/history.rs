//! The witness's store: one chained history per (party, trail, year) of the checkpoints it
//! accepted. [`WitnessHistory::accept`] verifies the signature and refuses, with a reason the
//! sender can act on, a checkpoint that does not extend the history; each accepted checkpoint is
//! linked to the previous one by a hash ([`link`]), so the witness can prove its order
//! ([`WitnessHistory::verify_chain`]).

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use ed25519_dalek::VerifyingKey;
use passerelle_protocol::rules::Clock;
use passerelle_sqlite::{params, Database, Migration, Row};
use sha2::{Digest, Sha256};

use crate::{parse_public_key, public_key_hex, Checkpoint, CheckpointKind, LegalCalendar, SignedCheckpoint};

/// The schema of the witness's store (numbered steps, [`passerelle_sqlite::migrate`]).
const MIGRATIONS: &[Migration] = &[Migration::sql(
    "the witnessed checkpoints",
    "CREATE TABLE witnessed (
        party TEXT NOT NULL,
        trail TEXT NOT NULL,
        year INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        count INTEGER NOT NULL,
        head TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        kind TEXT NOT NULL,
        signature TEXT NOT NULL,
        public_key TEXT NOT NULL,
        received_ms INTEGER NOT NULL,
        link TEXT NOT NULL,
        PRIMARY KEY (party, trail, year, seq)
    ) WITHOUT ROWID;",
)];

/// The link before a history's first checkpoint.
const GENESIS_LINK: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Why the witness refuses a checkpoint: the sender keeps it and reports the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{0}")]
    Malformed(#[from] crate::Malformed),
    #[error(
        "the checkpoint of {party}/{trail} does not verify with the public key the witness holds for {party}: \
         it was altered on the way, or the daemon signs with another key than the one in the witness's settings \
         (give the witness the public key the daemon prints at start)"
    )]
    BadSignature { party: String, trail: String },
    #[error(
        "the witness already holds a checkpoint of {party}/{trail}/{year} at {held} entries and this one covers \
         {offered}: a year's chain never shrinks, so the trail was truncated or restored from an older copy; \
         run the trail's `verify` against the witness to find where"
    )]
    FewerEntries { party: String, trail: String, year: i32, held: u64, offered: u64 },
    #[error(
        "the witness holds a checkpoint of {party}/{trail}/{year} at {count} entries with head {held}, and this \
         one gives head {offered} at the same count: the trail was rewritten; run the trail's `verify` against \
         the witness to find where"
    )]
    OtherHead { party: String, trail: String, year: i32, count: u64, held: String, offered: String },
    #[error("the year {year} of {party}/{trail} is closed at the witness: no checkpoint of that year is taken after its year-closed one")]
    YearAlreadyClosed { party: String, trail: String, year: i32 },
    #[error(
        "the year {year} of {party}/{trail} cannot be closed before {closable_from} (the calendar year and the \
         {} following are kept): its chain must stay until then",
        crate::RETAINED_YEARS_AFTER
    )]
    TooEarlyToClose { party: String, trail: String, year: i32, closable_from: String },
}

/// Where the witness's own chain does not hold (its store was edited).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the witness's history of {party}/{trail}/{year} is broken at its checkpoint number {seq}: {reason}")]
pub struct ChainBreak {
    pub party: String,
    pub trail: String,
    pub year: i32,
    pub seq: u64,
    pub reason: String,
}

/// Why an operation on the witness's history failed.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("checkpoint refused: {0}")]
    Refused(#[from] Refusal),
    #[error("{0}")]
    Broken(#[from] ChainBreak),
    #[error("the witness's store: {0}")]
    Store(#[from] passerelle_sqlite::Error),
}

/// A checkpoint as the witness holds it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WitnessedCheckpoint {
    /// Its place in its history, from 1.
    pub seq: u64,
    pub signed: SignedCheckpoint,
    /// The public key it was verified with (hex), so the history can be checked on its own.
    pub public_key: String,
    /// When the witness accepted it (its own clock), milliseconds since the Unix epoch.
    pub received_ms: i64,
    /// The hash linking it to the previous one: SHA-256 of the previous link, the public key,
    /// the time received, the signature and the checkpoint's signed bytes.
    pub link: String,
}

/// What [`WitnessHistory::accept`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The checkpoint's place in its history.
    pub seq: u64,
    /// The history's link after it.
    pub link: String,
    /// The same signed checkpoint was already held (a redelivery): nothing was added.
    pub repeated: bool,
}

/// The witness's chained histories of checkpoints, in its own SQLite store.
#[derive(Debug)]
pub struct WitnessHistory {
    db: Database,
    clock: Arc<dyn Clock>,
    calendar: LegalCalendar,
}

impl WitnessHistory {
    /// Opens (or creates, 0600) the witness's store at `path`; `clock` and `calendar` decide
    /// when a year may be closed.
    pub fn open(path: &Path, clock: Arc<dyn Clock>, calendar: LegalCalendar) -> Result<WitnessHistory, HistoryError> {
        Ok(WitnessHistory { db: Database::open(path, "witness", MIGRATIONS)?, clock, calendar })
    }

    /// Verifies `signed` with `key` (the sender's public key from the witness's settings) and
    /// appends it to its history, or refuses it ([`Refusal`]) when it does not extend it.
    pub fn accept(&self, signed: &SignedCheckpoint, key: &VerifyingKey) -> Result<Accepted, HistoryError> {
        let c = &signed.checkpoint;
        c.validate().map_err(Refusal::from)?;
        if !signed.verify(key) {
            return Err(Refusal::BadSignature { party: c.party.clone(), trail: c.trail.clone() }.into());
        }
        let now = self.clock.now();
        self.db.write(|tx| {
            let same = tx.query_optional(
                "SELECT * FROM witnessed WHERE party = ?1 AND trail = ?2 AND year = ?3 AND signature = ?4",
                params![c.party, c.trail, c.year, signed.signature],
                witnessed_from_row,
            )?;
            if let Some(same) = same.filter(|same| same.signed == *signed) {
                return Ok(Accepted { seq: same.seq, link: same.link, repeated: true });
            }
            let last = tx.query_optional(
                "SELECT * FROM witnessed WHERE party = ?1 AND trail = ?2 AND year = ?3 ORDER BY seq DESC LIMIT 1",
                params![c.party, c.trail, c.year],
                witnessed_from_row,
            )?;
            if let Some(last) = &last {
                extends(&last.signed.checkpoint, c)?;
            }
            if c.kind == CheckpointKind::YearClosed {
                let closable_from = self.calendar.closable_from(c.year);
                if now < closable_from {
                    return Err(Refusal::TooEarlyToClose {
                        party: c.party.clone(),
                        trail: c.trail.clone(),
                        year: c.year,
                        closable_from: rfc3339(closable_from),
                    }
                    .into());
                }
            }
            let (seq, previous) = last.map_or((1, GENESIS_LINK.to_string()), |l| (l.seq + 1, l.link));
            let public_key = public_key_hex(key);
            let received_ms = passerelle_sqlite::time::to_ms(now);
            let link = link(&previous, &public_key, received_ms, signed);
            tx.execute(
                "INSERT INTO witnessed (party, trail, year, seq, count, head, at_ms, kind, signature, public_key, \
                 received_ms, link) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    c.party,
                    c.trail,
                    c.year,
                    seq as i64,
                    c.count as i64,
                    c.head,
                    c.at_ms,
                    c.kind.as_str(),
                    signed.signature,
                    public_key,
                    received_ms,
                    link
                ],
            )?;
            tracing::info!(party = %c.party, trail = %c.trail, year = c.year, count = c.count, seq,
                kind = c.kind.as_str(), "witnessed a checkpoint");
            Ok(Accepted { seq, link, repeated: false })
        })
    }

    /// The public key the witness pinned for `party`: the one it verified `party`'s first
    /// accepted checkpoint with (hex). A checkpoint signed with another key is refused.
    pub fn pinned_key(&self, party: &str) -> Result<Option<String>, HistoryError> {
        Ok(self.db.read(|tx| {
            tx.query_optional(
                "SELECT public_key FROM witnessed WHERE party = ?1 ORDER BY received_ms, year, seq LIMIT 1",
                params![party],
                |r| r.get::<_, String>(0),
            )
        })?)
    }

    /// The years the witness holds checkpoints of for `party`'s `trail`, oldest first, each with
    /// whether a `year-closed` checkpoint closed it.
    pub fn years(&self, party: &str, trail: &str) -> Result<Vec<(i32, bool)>, HistoryError> {
        Ok(self.db.read(|tx| {
            tx.query_all(
                "SELECT year, MAX(kind = 'year-closed') FROM witnessed WHERE party = ?1 AND trail = ?2 \
                 GROUP BY year ORDER BY year",
                params![party, trail],
                |r| Ok((r.get::<_, i32>(0)?, r.get::<_, bool>(1)?)),
            )
        })?)
    }

    /// Every checkpoint held for `party`'s `trail` in `year`, in the order accepted.
    pub fn checkpoints(&self, party: &str, trail: &str, year: i32) -> Result<Vec<WitnessedCheckpoint>, HistoryError> {
        Ok(self.db.read(|tx| {
            tx.query_all(
                "SELECT * FROM witnessed WHERE party = ?1 AND trail = ?2 AND year = ?3 ORDER BY seq",
                params![party, trail, year],
                witnessed_from_row,
            )
        })?)
    }

    /// Checks the history of `party`'s `trail` in `year` from its first checkpoint: each link,
    /// each signature with the key it was accepted with, and that each checkpoint extends the
    /// previous. Returns the last link (the genesis link for an empty history), which the
    /// witness can publish to commit to its order.
    pub fn verify_chain(&self, party: &str, trail: &str, year: i32) -> Result<String, HistoryError> {
        let mut previous_link = GENESIS_LINK.to_string();
        let mut previous: Option<Checkpoint> = None;
        for (expected_seq, held) in (1u64..).zip(self.checkpoints(party, trail, year)?) {
            let broken =
                |reason: String| ChainBreak { party: party.into(), trail: trail.into(), year, seq: held.seq, reason };
            if held.seq != expected_seq {
                return Err(broken(format!("checkpoint number {expected_seq} is missing")).into());
            }
            let verified = parse_public_key(&held.public_key).is_ok_and(|key| held.signed.verify(&key));
            if !verified {
                return Err(broken("its signature does not verify with the key it was accepted with".into()).into());
            }
            if let Some(refused) = previous.as_ref().and_then(|p| extends(p, &held.signed.checkpoint).err()) {
                return Err(broken(format!("it does not extend the previous one ({refused})")).into());
            }
            let expected = link(&previous_link, &held.public_key, held.received_ms, &held.signed);
            if held.link != expected {
                return Err(broken("its link does not follow from the previous checkpoint".into()).into());
            }
            previous_link = held.link;
            previous = Some(held.signed.checkpoint);
        }
        Ok(previous_link)
    }
}

/// Refuses `offered` unless it extends `held`, the last checkpoint of the same history.
fn extends(held: &Checkpoint, offered: &Checkpoint) -> Result<(), Refusal> {
    let (party, trail, year) = (offered.party.clone(), offered.trail.clone(), offered.year);
    if held.kind == CheckpointKind::YearClosed {
        return Err(Refusal::YearAlreadyClosed { party, trail, year });
    }
    if offered.count < held.count {
        return Err(Refusal::FewerEntries { party, trail, year, held: held.count, offered: offered.count });
    }
    if offered.count == held.count && offered.head != held.head {
        return Err(Refusal::OtherHead {
            party,
            trail,
            year,
            count: held.count,
            held: held.head.clone(),
            offered: offered.head.clone(),
        });
    }
    Ok(())
}

/// The witness's link after `signed`: SHA-256, in lowercase hexadecimal, of the UTF-8 text
/// `passerelle-witness-link-v1\nprevious:<link>\nkey:<public key>\nreceived:<ms>\nsignature:<hex>\n`
/// followed by the checkpoint's canonical bytes.
fn link(previous: &str, public_key: &str, received_ms: i64, signed: &SignedCheckpoint) -> String {
    let mut h = Sha256::new();
    h.update(
        format!(
            "passerelle-witness-link-v1\nprevious:{previous}\nkey:{public_key}\nreceived:{received_ms}\nsignature:{}\n",
            signed.signature
        )
        .as_bytes(),
    );
    h.update(signed.checkpoint.canonical_bytes());
    hex::encode(h.finalize())
}

fn witnessed_from_row(row: &Row<'_>) -> passerelle_sqlite::rusqlite::Result<WitnessedCheckpoint> {
    let kind: String = row.get("kind")?;
    let kind = CheckpointKind::parse(&kind).map_err(|e| {
        passerelle_sqlite::rusqlite::Error::FromSqlConversionFailure(
            0,
            passerelle_sqlite::rusqlite::types::Type::Text,
            Box::new(e),
        )
    })?;
    let checkpoint = Checkpoint {
        party: row.get("party")?,
        trail: row.get("trail")?,
        year: row.get("year")?,
        count: row.get::<_, i64>("count")? as u64,
        head: row.get("head")?,
        at_ms: row.get("at_ms")?,
        kind,
    };
    Ok(WitnessedCheckpoint {
        seq: row.get::<_, i64>("seq")? as u64,
        signed: SignedCheckpoint { checkpoint, signature: row.get("signature")? },
        public_key: row.get("public_key")?,
        received_ms: row.get("received_ms")?,
        link: row.get("link")?,
    })
}

fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests;
