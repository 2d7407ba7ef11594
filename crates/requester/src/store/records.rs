//! What the requester store holds, as the rest of the adapter sees it: submissions, cases and
//! their states, persons, refusal reasons, and what storing a chunk did.

use std::path::PathBuf;
use std::time::SystemTime;

use passerelle_protocol::v1::{self, Category};
use uuid::Uuid;

use super::StoreError;

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    /// Stored, not yet (fully) sent.
    Prepared,
    /// Every request chunk is confirmed by the broker; waiting for the result.
    Sent,
    /// Every result chunk is stored.
    Answered,
    /// The observatory refused the whole case, or every person of it.
    Refused,
    /// Its persons, results and refusals are gone (retention).
    Purged,
}

impl CaseState {
    pub fn as_str(self) -> &'static str {
        match self {
            CaseState::Prepared => "prepared",
            CaseState::Sent => "sent",
            CaseState::Answered => "answered",
            CaseState::Refused => "refused",
            CaseState::Purged => "purged",
        }
    }

    pub(super) fn parse(s: &str) -> Result<CaseState, StoreError> {
        Ok(match s {
            "prepared" => CaseState::Prepared,
            "sent" => CaseState::Sent,
            "answered" => CaseState::Answered,
            "refused" => CaseState::Refused,
            "purged" => CaseState::Purged,
            other => return Err(StoreError::Corrupt(format!("case state `{other}`"))),
        })
    }

    /// Answered or refused: nothing more is expected.
    pub fn is_settled(self) -> bool {
        matches!(self, CaseState::Answered | CaseState::Refused | CaseState::Purged)
    }
}

impl std::fmt::Display for CaseState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A submission: one selection file submitted once, split into cases.
#[derive(Debug, Clone)]
pub struct SubmissionRecord {
    pub id: Uuid,
    pub submitted_at: SystemTime,
    /// When everything of it is purged (submission + retention).
    pub purge_after: SystemTime,
    pub respond_by: SystemTime,
    /// The service offered (art. 3), in words (`--purpose`, or the code's label): the request's
    /// `purpose`.
    pub service: String,
    /// The service offered as a code of the closed list (`OfferedService` number): the
    /// request's `service`.
    pub offered_service: i32,
    pub wanted: Vec<Category>,
    /// The selection's column names, in file order.
    pub columns: Vec<String>,
    /// The selection's separator byte, for the CSV result.
    pub separator: u8,
    /// The selection's encoding name (`utf-8`, `windows-1252`), for the CSV result.
    pub encoding: String,
    /// Where the result goes (`--out`), if the user said.
    pub out_path: Option<PathBuf>,
    /// Data records of the selection, and how many were rejected.
    pub lines: u64,
    pub rejected: u64,
    /// When the consolidated result was last written.
    pub written_at: Option<SystemTime>,
    pub purged_at: Option<SystemTime>,
}

/// A case: the persons of one submission for one observatory.
#[derive(Debug, Clone)]
pub struct CaseRecord {
    pub id: Uuid,
    pub submission_id: Uuid,
    pub observatory: String,
    pub persons: u64,
    pub request_chunks: u32,
    pub state: CaseState,
    pub submitted_at: SystemTime,
    pub sent_at: Option<SystemTime>,
    pub settled_at: Option<SystemTime>,
    pub receipt_sent_at: Option<SystemTime>,
    /// The result's chunk count, once a chunk arrived; and how many are stored.
    pub result_chunks: Option<u32>,
    pub result_chunks_received: u32,
    pub completeness: v1::Completeness,
    /// Per solicited body, the case-level outcome (asked, answered, declined).
    pub bodies: Vec<v1::BodyOutcome>,
    /// Why the whole case was refused, if it was.
    pub case_problems: Vec<ProblemRecord>,
    pub refused_persons: u64,
}

/// A refusal reason: the field concerned (empty for the whole) and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProblemRecord {
    pub field: String,
    pub reason: String,
}

impl From<&v1::Problem> for ProblemRecord {
    fn from(p: &v1::Problem) -> Self {
        ProblemRecord { field: p.field.clone(), reason: p.reason.clone() }
    }
}

/// A person as stored: what the request needs, what the result file needs.
#[derive(Debug, Clone, Default)]
pub struct NewPerson {
    pub line: u64,
    pub nir: String,
    pub former_nirs: Vec<String>,
    pub sex: i32,
    pub birth_year: u32,
    pub commune_code: String,
    pub known: v1::CategoryValues,
    /// The selection's cells, one per column, canonical text.
    pub cells: Vec<String>,
}

/// A stored person, for writing the result.
#[derive(Debug, Clone)]
pub struct PersonRow {
    pub id: i64,
    pub case_id: Uuid,
    pub line: u64,
    pub nir: String,
    pub known: v1::CategoryValues,
    pub answers: Option<v1::ResultPerson>,
    pub refusal: Option<Vec<ProblemRecord>>,
    /// Empty unless asked for ([`Store::person`]).
    pub cells: Vec<String>,
}

/// What storing a result chunk or a refusal did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// Stored; `settled` when the case needs nothing more.
    New { settled: bool, unmatched: u64 },
    /// Already stored (a redelivery): nothing changed.
    Duplicate,
    /// No such case here.
    UnknownCase,
    /// The case was purged: a late copy, dropped.
    PurgedCase,
}
