//! `verify` ([`verify`]): a trail's own chain checked read-only, then checked against **every**
//! checkpoint its witness holds, fetched over the broker — which entries a witnessed checkpoint
//! covers, which are not covered yet, and the first checkpoint the trail no longer matches
//! (rewritten or truncated after it, even if a fresh checkpoint was signed with the daemon's
//! key). Writes nothing to the trail it checks.

use std::collections::BTreeSet;
use std::time::Duration;

use passerelle_protocol::v1;
use passerelle_witness::{check_trail, parse_public_key, Mismatch};
use serde::{Deserialize, Serialize};

use crate::convert::from_wire;
use crate::{CheckpointError, Checkpointer, Trail};

/// What `verify` says of one trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrailReport {
    pub party: String,
    /// `audit` or `access-log`.
    pub trail: String,
    /// The witness named in the settings.
    pub witness: Option<String>,
    /// Whether the witness answered; when it did not, why (the trail's own check still ran).
    pub witness_answered: bool,
    pub witness_problem: Option<String>,
    /// The trail could not be read at all (its tables dropped, its file replaced by another):
    /// the years the witness holds are then all reported missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
    pub years: Vec<YearReport>,
    /// No finding in any year: the chain holds and matches every witnessed checkpoint.
    pub intact: bool,
}

/// One calendar year's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct YearReport {
    pub year: i32,
    /// Entries the trail holds for the year.
    pub entries: u64,
    /// Checkpoints the witness holds for the year, and how many the trail matches.
    pub witnessed_checkpoints: usize,
    pub matched_checkpoints: usize,
    /// Entries 1 to `covered` are vouched for by a witnessed checkpoint the trail matches.
    pub covered: u64,
    /// Entries after `covered` no witnessed checkpoint covers yet.
    pub not_yet_covered: u64,
    /// The witness holds this year's `year-closed` checkpoint (and the trail dropped the year).
    pub closed: bool,
    /// What is wrong, each naming the entry: the chain's own check, then the witness's.
    pub findings: Vec<String>,
}

/// Checks `trail` (read-only) and, when a witness is named, against every checkpoint it holds.
pub async fn verify(
    checkpointer: &Checkpointer,
    trail: &dyn Trail,
    timeout: Duration,
) -> Result<TrailReport, CheckpointError> {
    let name = trail.name();
    let read = |source| CheckpointError::Trail { trail: name.to_owned(), source };
    let (chains, heads, unreadable) = match (trail.check_chain(), trail.heads()) {
        (Ok(chains), Ok(heads)) => (chains, heads, None),
        (Err(e), _) | (_, Err(e)) => (
            Vec::new(),
            Vec::new(),
            Some(format!(
                "the trail cannot be read ({e}): its tables were dropped or its file replaced behind the daemon"
            )),
        ),
    };
    let mut report = TrailReport {
        party: checkpointer.party().to_owned(),
        trail: name.to_owned(),
        witness: checkpointer.witness().map(str::to_owned),
        witness_answered: false,
        witness_problem: None,
        intact: unreadable.is_none(),
        unreadable,
        years: Vec::new(),
    };
    let held = match checkpointer.witness() {
        None => {
            report.witness_problem =
                Some("no witness is named (`[trails] witness`): the chain was checked on its own".into());
            None
        }
        Some(_) => match checkpointer.fetch(name, 0, timeout).await {
            Ok(answer) if answer.problem.is_empty() => Some(answer),
            Ok(answer) => {
                report.witness_problem = Some(format!("the witness could not read its history: {}", answer.problem));
                None
            }
            Err(e) => {
                report.witness_problem = Some(e.to_string());
                None
            }
        },
    };
    report.witness_answered = held.is_some();
    let mut years: BTreeSet<i32> = chains.iter().map(|c| c.year).chain(heads.iter().map(|h| h.year)).collect();
    if let Some(held) = &held {
        years.extend(held.years_held.iter().copied());
    }
    for year in years {
        let entries = heads.iter().find(|h| h.year == year).map_or(0, |h| h.count);
        let mut year_report = YearReport {
            year,
            entries,
            witnessed_checkpoints: 0,
            matched_checkpoints: 0,
            covered: 0,
            not_yet_covered: entries,
            closed: false,
            findings: chains.iter().filter(|c| c.year == year).filter_map(|c| c.problem.clone()).collect(),
        };
        if let Some(held) = &held {
            year_report.closed = held.years_closed.contains(&year);
            if held.years_held.contains(&year) {
                match checkpointer.fetch(name, year, timeout).await {
                    Ok(_) if report.unreadable.is_some() => year_report
                        .findings
                        .push(format!("the witness holds checkpoints of {year}, which the trail no longer gives")),
                    Ok(answer) => against_witness(checkpointer, trail, &answer, &mut year_report).map_err(read)?,
                    Err(e) => year_report
                        .findings
                        .push(format!("the witness's checkpoints of {year} could not be fetched: {e}")),
                }
            }
        }
        report.intact &= year_report.findings.is_empty();
        report.years.push(year_report);
    }
    Ok(report)
}

/// Checks one year against the witness's checkpoints of it.
fn against_witness(
    checkpointer: &Checkpointer,
    trail: &dyn Trail,
    answer: &v1::WitnessedCheckpoints,
    report: &mut YearReport,
) -> Result<(), crate::TrailError> {
    let year = report.year;
    let mut checkpoints = Vec::new();
    for held in &answer.checkpoints {
        let Some(wire) = &held.checkpoint else { continue };
        let Ok(signed) = from_wire(checkpointer.party(), wire) else {
            report.findings.push(format!("the witness's checkpoint #{} of {year} is malformed", held.seq));
            continue;
        };
        let verifies = parse_public_key(&wire.public_key).is_ok_and(|key| signed.verify(&key));
        if !verifies {
            report
                .findings
                .push(format!("the witness's checkpoint #{} of {year} does not verify with its key", held.seq));
        } else if wire.public_key != checkpointer.public_key() {
            report.findings.push(format!(
                "the witness's checkpoint #{} of {year} was signed with another key than this daemon's: the key file \
                 was replaced since",
                held.seq
            ));
        }
        checkpoints.push(signed.checkpoint);
    }
    report.witnessed_checkpoints = checkpoints.len();
    if report.closed && report.entries == 0 {
        // Dropped through a witnessed year-closed checkpoint: nothing left to match.
        report.matched_checkpoints = checkpoints.len();
        return Ok(());
    }
    let failure = std::cell::RefCell::new(None);
    let check = check_trail(
        report.entries,
        |rank| match trail.hash_at(year, rank) {
            Ok(hash) => hash,
            Err(e) => {
                failure.replace(Some(e));
                None
            }
        },
        &checkpoints,
    );
    if let Some(e) = failure.into_inner() {
        return Err(e);
    }
    report.matched_checkpoints = check.matched;
    report.covered = check.covered;
    report.not_yet_covered = check.not_yet_covered;
    match check.mismatch {
        Some(Mismatch::Rewritten { checkpoint, after, .. }) => report.findings.push(format!(
            "entry {year}#{} differs from the checkpoint the witness took at {} entries: an entry from {year}#{} to \
             {year}#{} was edited, deleted, inserted or moved, and the chain re-hashed",
            checkpoint.count,
            checkpoint.count,
            after + 1,
            checkpoint.count
        )),
        Some(Mismatch::Truncated { checkpoint, length }) if length == 0 && !report.closed => {
            report.findings.push(format!(
            "the trail holds no entry of {year}, while the witness holds a checkpoint of {} entries and no year-closed \
             one: the year was deleted",
            checkpoint.count
        ))
        }
        Some(Mismatch::Truncated { checkpoint, length }) => report.findings.push(format!(
            "the chain of {year} ends at entry {year}#{length}, while the witness holds a checkpoint at {year}#{}: the \
             entries after {year}#{length} were cut off",
            checkpoint.count
        )),
        None => {}
    }
    Ok(())
}
