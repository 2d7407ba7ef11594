//! Checking the yearly chains, read-only: verifying never appends, to this log or any other (a
//! caller records that it verified the access log in the *other* trail, the audit trail).
//!
//! For each year, entries are read in rank order and each is checked against its own hash
//! (its fields and its position), its link to the previous entry's hash, its rank (no gap), and
//! its person's salted commitment while the person's hash is kept; then the chain's end is
//! checked against the head row the writer keeps. The first break of each year is named.
//!
//! What the chain detects, with the entry named: a field edited, an entry deleted in the middle
//! or at the start, two entries swapped (or one moved), the tail cut while the head row stays,
//! a person hash or salt edited, entries added behind the head row.
//!
//! What a chain in the writer's own file **cannot** detect: the tail cut *together with* the
//! head row set back to the new last entry; a year rewritten from an edited entry on and
//! re-chained with the head row updated (the hashes are not keyed: anyone who can write the
//! file can recompute them); a whole year deleted with its head row; a person hash deleted
//! before its cap (the commitment remains, so the entry is still seen to concern someone).
//! Those need a record the writer cannot rewrite: the head signed into checkpoints that a
//! witness outside the writer keeps, against which `verify` is then also checked.

use std::fmt;

use passerelle_sqlite::Tx;

use crate::chain::{self, Hash, Linked};
use crate::store::{to_hash, ChainHead, Position};
use crate::{AccessLog, Result};

/// The first break found in a year's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tampering {
    /// The entry does not match its own hash: a field was edited, or the entry was moved from
    /// another rank (two entries swapped).
    Altered(Position),
    /// The entry at this rank is missing while later ones are there: deleted.
    Deleted(Position),
    /// The entry matches its hash but not the previous entry's: the entry before it was
    /// replaced by another whole, re-hashed entry.
    Unlinked(Position),
    /// The entry's person hash or salt does not match the commitment its chain holds.
    PersonAltered(Position),
    /// The chain ends before the rank the head row records: the entries from this one on were
    /// cut off.
    Truncated(Position),
    /// The head row does not match the chain's last entry (entries added behind it, or its hash
    /// edited).
    HeadMismatch { year: i32, head_count: i64, chain_count: i64 },
    /// The year has entries but no head row.
    HeadMissing { year: i32 },
}

impl Tampering {
    /// The year of the chain it breaks.
    pub fn year(&self) -> i32 {
        match self {
            Tampering::Altered(p)
            | Tampering::Deleted(p)
            | Tampering::Unlinked(p)
            | Tampering::PersonAltered(p)
            | Tampering::Truncated(p) => p.year,
            Tampering::HeadMismatch { year, .. } | Tampering::HeadMissing { year } => *year,
        }
    }
}

impl fmt::Display for Tampering {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tampering::Altered(p) => {
                write!(f, "entry {p} does not match its hash: it was edited, or moved from another rank")
            }
            Tampering::Deleted(p) => write!(f, "entry {p} is missing while later entries are there: it was deleted"),
            Tampering::Unlinked(p) => {
                write!(f, "entry {p} does not follow the entry before it: that entry was replaced")
            }
            Tampering::PersonAltered(p) => {
                write!(f, "entry {p}: the person's hash or salt does not match the commitment the chain holds")
            }
            Tampering::Truncated(p) => write!(
                f,
                "the chain of {} ends before entry {p}, which the head row records: the entries from {p} on were cut off",
                p.year
            ),
            Tampering::HeadMismatch { year, head_count, chain_count } => write!(
                f,
                "the head row of {year} records {head_count} entries but the chain ends at entry {year}#{chain_count} \
                 with another hash: entries were added or edited behind the writer"
            ),
            Tampering::HeadMissing { year } => write!(f, "the chain of {year} has entries but no head row"),
        }
    }
}

/// One year's chain as verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    pub year: i32,
    /// The entries read.
    pub entries: i64,
    /// The head of the chain as its entries hold it (`None`: no entry).
    pub head: Option<ChainHead>,
    /// Entries whose person hash was dropped (the commitment alone stays).
    pub person_hashes_dropped: i64,
    /// The first break found, if any.
    pub tampering: Option<Tampering>,
}

/// What [`AccessLog::verify`] found, year by year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub chains: Vec<ChainReport>,
}

impl Verification {
    /// Whether no chain shows a break (which says nothing of what a chain cannot detect; see
    /// the module documentation).
    pub fn is_intact(&self) -> bool {
        self.chains.iter().all(|c| c.tampering.is_none())
    }

    /// The breaks found, the first of each broken year.
    pub fn tamperings(&self) -> Vec<&Tampering> {
        self.chains.iter().filter_map(|c| c.tampering.as_ref()).collect()
    }
}

/// An entry as read for verification.
struct Row {
    seq: i64,
    at_ms: i64,
    agent: String,
    kind: String,
    object: String,
    commitment: Option<Vec<u8>>,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
    person: Option<(Vec<u8>, Vec<u8>)>,
}

impl AccessLog {
    /// Checks every year's chain, in one read transaction: writes nothing.
    pub fn verify(&self) -> Result<Verification> {
        let years = self.years()?;
        self.database().read(|tx| {
            let chains = years.into_iter().map(|year| verify_year(tx, year)).collect::<Result<_>>()?;
            Ok(Verification { chains })
        })
    }
}

fn verify_year(tx: &Tx<'_>, year: i32) -> Result<ChainReport> {
    let rows = tx.query_all(
        "SELECT e.seq, e.at_ms, e.agent, e.kind, e.object, e.person_commitment, e.prev_hash, e.hash,
                p.person_hash, p.salt
         FROM access_entry e LEFT JOIN access_person p ON p.year = e.year AND p.seq = e.seq
         WHERE e.year = ?1 ORDER BY e.seq",
        [year],
        |r| {
            let person = match (r.get::<_, Option<Vec<u8>>>(8)?, r.get::<_, Option<Vec<u8>>>(9)?) {
                (Some(hash), Some(salt)) => Some((hash, salt)),
                _ => None,
            };
            Ok(Row {
                seq: r.get(0)?,
                at_ms: r.get(1)?,
                agent: r.get(2)?,
                kind: r.get(3)?,
                object: r.get(4)?,
                commitment: r.get(5)?,
                prev_hash: r.get(6)?,
                hash: r.get(7)?,
                person,
            })
        },
    )?;
    let mut report =
        ChainReport { year, entries: rows.len() as i64, head: None, person_hashes_dropped: 0, tampering: None };
    let mut prev: Hash = chain::genesis(year);
    let mut expected = 1;
    for row in &rows {
        let at = Position { year, seq: expected };
        if row.seq != expected {
            report.tampering = Some(Tampering::Deleted(at));
            return Ok(report);
        }
        if let Some(broken) = check_row(row, year, &prev) {
            report.tampering = Some(broken);
            return Ok(report);
        }
        if row.commitment.is_some() && row.person.is_none() {
            report.person_hashes_dropped += 1;
        }
        prev = to_hash(row.hash.clone(), "an entry hash")?;
        report.head = Some(ChainHead { year, count: row.seq, hash: prev });
        expected += 1;
    }
    let chain_count = expected - 1;
    let head_row = tx.query_optional("SELECT count, hash FROM access_head WHERE year = ?1", [year], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
    })?;
    report.tampering = match head_row {
        None if chain_count > 0 => Some(Tampering::HeadMissing { year }),
        None => None,
        Some((head_count, _)) if head_count > chain_count => {
            Some(Tampering::Truncated(Position { year, seq: chain_count + 1 }))
        }
        Some((head_count, hash)) if head_count < chain_count || hash.as_slice() != prev.as_slice() => {
            Some(Tampering::HeadMismatch { year, head_count, chain_count })
        }
        Some(_) => None,
    };
    Ok(report)
}

/// The first break in one entry, given the previous entry's hash.
fn check_row(row: &Row, year: i32, prev: &Hash) -> Option<Tampering> {
    let at = Position { year, seq: row.seq };
    let (Ok(prev_hash), Ok(hash)) = (<Hash>::try_from(row.prev_hash.as_slice()), <Hash>::try_from(row.hash.as_slice()))
    else {
        return Some(Tampering::Altered(at));
    };
    let commitment = match row.commitment.as_deref().map(<Hash>::try_from) {
        None => None,
        Some(Ok(c)) => Some(c),
        Some(Err(_)) => return Some(Tampering::Altered(at)),
    };
    let linked = Linked {
        year,
        seq: row.seq,
        at_ms: row.at_ms,
        agent: &row.agent,
        kind: &row.kind,
        object: &row.object,
        commitment: commitment.as_ref(),
        prev_hash: &prev_hash,
    };
    if linked.hash() != hash {
        return Some(Tampering::Altered(at));
    }
    if prev_hash != *prev {
        return Some(Tampering::Unlinked(at));
    }
    if let Some((person, salt)) = &row.person {
        let matches = match (commitment, <[u8; 32]>::try_from(person.as_slice()), <Hash>::try_from(salt.as_slice())) {
            (Some(c), Ok(person), Ok(salt)) => chain::commitment(&salt, &crate::PersonRef::from_bytes(person)) == c,
            _ => false,
        };
        if !matches {
            return Some(Tampering::PersonAltered(at));
        }
    }
    None
}
