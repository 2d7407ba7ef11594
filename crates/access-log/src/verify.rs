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
use crate::store::{to_hash, years_in, ChainHead, Position};
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
        self.database().read(|tx| {
            let chains = years_in(tx)?.into_iter().map(|year| verify_year(tx, year)).collect::<Result<_>>()?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{fixture, raw, read, synthetic_nir, Fixture};

    const CASE: &str = "0190b6a2-7c1e-7f00-8000-000000000001";

    /// A log with five entries in 2026 (the first and third about a person) and one in 2027.
    fn five_entries() -> Fixture {
        let f = fixture();
        let person = f.key.person(&synthetic_nir(7));
        f.log
            .append_many(&[
                read("2026-03-01T10:00:00Z", "agent:a", CASE).about(person.clone()),
                read("2026-03-02T10:00:00Z", "agent:b", CASE),
                read("2026-03-03T10:00:00Z", "agent:c", CASE).about(person),
                read("2026-03-04T10:00:00Z", "agent:d", CASE),
                read("2026-03-05T10:00:00Z", "agent:e", CASE),
                read("2027-03-01T10:00:00Z", "agent:f", CASE),
            ])
            .unwrap();
        assert!(f.log.verify().unwrap().is_intact());
        f
    }

    fn edit(f: &Fixture, sql: &str) {
        raw(f).execute_batch(sql).unwrap();
    }

    /// The breaks found; the 2027 chain, untouched, stays intact in every case.
    fn found(f: &Fixture) -> Vec<Tampering> {
        let verified = f.log.verify().unwrap();
        assert_eq!(verified.chains.iter().find(|c| c.year == 2027).unwrap().tampering, None);
        verified.tamperings().into_iter().cloned().collect()
    }

    fn at(seq: i64) -> Position {
        Position { year: 2026, seq }
    }

    #[test]
    fn an_edited_field_is_named() {
        for sql in [
            "UPDATE access_entry SET agent = 'agent:z' WHERE year = 2026 AND seq = 3",
            "UPDATE access_entry SET kind = 'update' WHERE year = 2026 AND seq = 3",
            "UPDATE access_entry SET at_ms = at_ms + 1 WHERE year = 2026 AND seq = 3",
            "UPDATE access_entry SET object = 'case-2' WHERE year = 2026 AND seq = 3",
            "UPDATE access_entry SET person_commitment = NULL WHERE year = 2026 AND seq = 3",
        ] {
            let f = five_entries();
            edit(&f, sql);
            assert_eq!(found(&f), [Tampering::Altered(at(3))], "{sql}");
        }
    }

    #[test]
    fn an_edited_person_hash_is_named() {
        let f = five_entries();
        let other = f.key.person(&synthetic_nir(8));
        raw(&f)
            .execute(
                "UPDATE access_person SET person_hash = ?1 WHERE year = 2026 AND seq = 3",
                [other.as_bytes().as_slice()],
            )
            .unwrap();
        assert_eq!(found(&f), [Tampering::PersonAltered(at(3))]);
    }

    #[test]
    fn a_deleted_entry_is_named() {
        for seq in [1, 3] {
            let f = five_entries();
            edit(&f, &format!("DELETE FROM access_entry WHERE year = 2026 AND seq = {seq}"));
            let breaks = found(&f);
            assert_eq!(breaks, [Tampering::Deleted(at(seq))]);
            assert!(breaks[0].to_string().contains(&format!("entry 2026#{seq} is missing")), "{}", breaks[0]);
        }
    }

    #[test]
    fn an_entry_deleted_and_the_later_ones_renumbered_is_named() {
        let f = five_entries();
        edit(
            &f,
            "DELETE FROM access_entry WHERE year = 2026 AND seq = 2;
             UPDATE access_entry SET seq = seq - 1 WHERE year = 2026 AND seq > 2;",
        );
        assert_eq!(found(&f), [Tampering::Altered(at(2))]);
    }

    #[test]
    fn two_swapped_entries_are_named() {
        let f = five_entries();
        edit(
            &f,
            "UPDATE access_entry SET seq = -1 WHERE year = 2026 AND seq = 2;
             UPDATE access_entry SET seq = 2 WHERE year = 2026 AND seq = 4;
             UPDATE access_entry SET seq = 4 WHERE year = 2026 AND seq = -1;",
        );
        let breaks = found(&f);
        assert_eq!(breaks, [Tampering::Altered(at(2))]);
        assert!(breaks[0].to_string().contains("moved from another rank"), "{}", breaks[0]);
    }

    #[test]
    fn an_entry_replaced_by_a_rehashed_one_is_seen_at_the_next() {
        let f = five_entries();
        // A forged entry 2 whose hash is right for its own fields: entry 3 no longer follows it.
        let prev: Vec<u8> =
            raw(&f).query_row("SELECT hash FROM access_entry WHERE year = 2026 AND seq = 1", [], |r| r.get(0)).unwrap();
        let prev: Hash = prev.try_into().unwrap();
        let forged = Linked {
            year: 2026,
            seq: 2,
            at_ms: 1,
            agent: "agent:z",
            kind: "read",
            object: CASE,
            commitment: None,
            prev_hash: &prev,
        };
        raw(&f)
            .execute(
                "UPDATE access_entry SET at_ms = 1, agent = 'agent:z', hash = ?1 WHERE year = 2026 AND seq = 2",
                [forged.hash().as_slice()],
            )
            .unwrap();
        assert_eq!(found(&f), [Tampering::Unlinked(at(3))]);
    }

    #[test]
    fn a_truncated_tail_is_named_while_the_head_row_stays() {
        let f = five_entries();
        edit(&f, "DELETE FROM access_entry WHERE year = 2026 AND seq >= 4");
        let breaks = found(&f);
        assert_eq!(breaks, [Tampering::Truncated(at(4))]);
        assert!(breaks[0].to_string().contains("from 2026#4 on were cut off"), "{}", breaks[0]);
    }

    #[test]
    fn a_head_row_edited_or_deleted_is_seen() {
        let f = five_entries();
        edit(&f, "UPDATE access_head SET hash = zeroblob(32) WHERE year = 2026");
        assert_eq!(found(&f), [Tampering::HeadMismatch { year: 2026, head_count: 5, chain_count: 5 }]);
        edit(&f, "DELETE FROM access_head WHERE year = 2026");
        assert_eq!(found(&f), [Tampering::HeadMissing { year: 2026 }]);
    }

    /// What a chain in the writer's own file cannot tell, stated as a test so that the
    /// documentation stays true: the tail cut together with its head row set back. The witnessed
    /// checkpoints of [`crate::AccessLog::head`] are what catch it.
    #[test]
    fn a_tail_truncated_with_its_head_row_is_not_seen_by_the_chain_alone() {
        let f = five_entries();
        let head_at_3 = f.log.entries(2026, 3, 1).unwrap();
        assert_eq!(head_at_3.len(), 1);
        edit(
            &f,
            "DELETE FROM access_entry WHERE year = 2026 AND seq >= 4;
             UPDATE access_head SET count = 3,
                 hash = (SELECT hash FROM access_entry WHERE year = 2026 AND seq = 3) WHERE year = 2026;",
        );
        assert!(found(&f).is_empty());
        assert_eq!(f.log.head(2026).unwrap().unwrap().count, 3, "only a checkpoint of count 5 held elsewhere tells");
    }
}
