//! A trail as the checkpointer sees it ([`Trail`]): named, made of one hash chain per calendar
//! year, each with a head (how many entries, the last one's hash) and an entry's hash at any
//! rank; it checks its own chain read-only and drops a year whose retention has run. The access
//! log is one ([`AccessLogTrail`]); the observatory's audit trail is another (in `crates/party`).

use std::time::SystemTime;

use passerelle_access_log::Accesses;
use serde::{Deserialize, Serialize};

/// Why reading or changing a trail failed (a store error, said in words; no stored value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TrailError(pub String);

impl TrailError {
    pub fn from_error(e: impl std::fmt::Display) -> TrailError {
        TrailError(e.to_string())
    }
}

/// The head of one year's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct YearHead {
    pub year: i32,
    /// How many entries the year's chain has.
    pub count: u64,
    /// The hash of its last entry (64 lowercase hexadecimal digits).
    pub head: String,
}

/// What a trail's own check found for one year (read-only: nothing is written).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainFinding {
    pub year: i32,
    /// The first broken entry, named, and why; `None` when the year's chain holds.
    pub problem: Option<String>,
}

/// A hash-chained trail, per calendar year.
pub trait Trail: Send + Sync + std::fmt::Debug {
    /// The name checkpoints carry: `<daemon>:<trail>` (`observatory:audit`,
    /// `requester:access-log`…), so that two daemons of one party (a body's responder and its
    /// requester) never share a history at the witness.
    fn name(&self) -> &str;
    /// Each year's head, oldest year first (years without entries are absent).
    fn heads(&self) -> Result<Vec<YearHead>, TrailError>;
    /// The hash of entry number `rank` (from 1) of `year`'s chain, if it has one.
    fn hash_at(&self, year: i32, rank: u64) -> Result<Option<String>, TrailError>;
    /// The chain's own check, per year, writing nothing.
    fn check_chain(&self) -> Result<Vec<ChainFinding>, TrailError>;
    /// Drops `year`'s chain whole (its retention has run and the witness took its year-closed
    /// checkpoint); refused by the trail while the year is retained at `now`.
    fn drop_year(&self, year: i32, now: SystemTime) -> Result<(), TrailError>;
    /// A counter that moves at each purge the trail records or undergoes: a `purge`
    /// checkpoint follows it.
    fn purges(&self) -> u64;
}

/// A daemon's access log as a [`Trail`], named `<daemon>:access-log`.
#[derive(Debug, Clone)]
pub struct AccessLogTrail {
    accesses: Accesses,
    name: String,
}

impl AccessLogTrail {
    /// The access log of the daemon `daemon` (`observatory`, `responder`, `requester`).
    pub fn new(accesses: Accesses, daemon: &str) -> AccessLogTrail {
        AccessLogTrail { accesses, name: format!("{daemon}:access-log") }
    }
}

impl Trail for AccessLogTrail {
    fn name(&self) -> &str {
        &self.name
    }

    fn heads(&self) -> Result<Vec<YearHead>, TrailError> {
        let log = self.accesses.log();
        let mut heads = Vec::new();
        for year in log.years().map_err(TrailError::from_error)? {
            if let Some(head) = log.head(year).map_err(TrailError::from_error)? {
                heads.push(YearHead { year, count: head.count.max(0) as u64, head: hex::encode(head.hash) });
            }
        }
        Ok(heads)
    }

    fn hash_at(&self, year: i32, rank: u64) -> Result<Option<String>, TrailError> {
        let hash = self.accesses.log().hash_at(year, rank as i64).map_err(TrailError::from_error)?;
        Ok(hash.map(hex::encode))
    }

    fn check_chain(&self) -> Result<Vec<ChainFinding>, TrailError> {
        let verification = self.accesses.log().verify().map_err(TrailError::from_error)?;
        Ok(verification
            .chains
            .iter()
            .map(|c| ChainFinding { year: c.year, problem: c.tampering.as_ref().map(ToString::to_string) })
            .collect())
    }

    fn drop_year(&self, year: i32, now: SystemTime) -> Result<(), TrailError> {
        self.accesses.log().drop_year(year, now).map(drop).map_err(TrailError::from_error)
    }

    fn purges(&self) -> u64 {
        self.accesses.log().purges()
    }
}
