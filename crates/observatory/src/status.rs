//! Read access to the daemon's state, for metrics, `ctl`, the demo and tests: cases by state,
//! solicitation chunks pending per body, purges, refusals, the outbox depth, one case's record.
//! Nothing here returns personal data.

use std::collections::BTreeMap;
use std::sync::Arc;

use passerelle_observatory_store::{CaseRecord, CaseState, StoreError};

use crate::engine::Engine;

/// A snapshot of the observatory.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ObservatoryStatus {
    /// Cases per state (every state listed, zero included).
    pub cases_by_state: BTreeMap<String, u64>,
    /// Unanswered solicitation chunks of cases still collecting, per body.
    pub pending_chunks_by_body: BTreeMap<String, u64>,
    /// Cases whose payloads were purged (on receipt, at the cap, or on refusal).
    pub purged_cases: u64,
    pub refused_cases: u64,
    pub refused_persons: u64,
    /// Messages waiting to be published.
    pub outbox_depth: u64,
}

/// A cloneable handle reading the daemon's stores (valid while the daemon runs and after).
#[derive(Debug, Clone)]
pub struct StatusReader {
    pub(crate) engine: Arc<Engine>,
}

impl StatusReader {
    /// The current snapshot.
    pub fn status(&self) -> Result<ObservatoryStatus, StoreError> {
        self.engine.store.read(|tx| {
            let mut cases_by_state: BTreeMap<String, u64> =
                CaseState::ALL.iter().map(|s| (s.as_str().to_owned(), 0)).collect();
            for (state, n) in tx.state_counts()? {
                cases_by_state.insert(state.as_str().to_owned(), n);
            }
            let (purged_cases, refused_cases, refused_persons) = tx.totals()?;
            Ok(ObservatoryStatus {
                cases_by_state,
                pending_chunks_by_body: tx.pending_chunks_by_body()?.into_iter().collect(),
                purged_cases,
                refused_cases,
                refused_persons,
                outbox_depth: tx.outbox_depth()?,
            })
        })
    }

    /// One case's metadata.
    pub fn case(&self, case_id: &str) -> Result<Option<CaseRecord>, StoreError> {
        self.engine.store.read(|tx| tx.case(case_id))
    }

    /// Every case's metadata, newest first.
    pub fn cases(&self) -> Result<Vec<CaseRecord>, StoreError> {
        self.engine.store.read(|tx| tx.all_cases())
    }

    /// The audit entries (of one case, or all).
    pub fn audit_entries(
        &self,
        case_id: Option<&str>,
    ) -> Result<Vec<passerelle_observatory_store::AuditRecord>, StoreError> {
        self.engine.store.read(|tx| tx.audit_entries(case_id))
    }

    /// Checks the audit trail's chain.
    pub fn audit_verify(&self) -> Result<passerelle_observatory_store::Verification, StoreError> {
        self.engine.store.read(|tx| tx.audit_verify())
    }

    /// What an operator sees of the store ([`crate::operator_status`]), at `now`.
    pub fn operator_status(&self, now: std::time::SystemTime) -> Result<crate::operator_status::ReadParts, StoreError> {
        self.engine.store.read(|tx| crate::operator_status::read(tx, now))
    }

    /// The newest `limit` purges done and the next due (`GET /v1/purges`).
    pub fn purges(
        &self,
        now: std::time::SystemTime,
        limit: usize,
    ) -> Result<crate::operator_status::Purges, StoreError> {
        self.engine.store.read(|tx| crate::operator_status::purges(tx, now, limit))
    }

    /// Pages on the case store's free list.
    pub fn free_pages(&self) -> Result<u64, StoreError> {
        self.engine.store.read(|tx| tx.free_pages())
    }

    /// The case store's file and WAL sizes in bytes.
    pub fn file_sizes(&self) -> Result<(u64, u64), StoreError> {
        self.engine.store.file_sizes()
    }
}

/// Appends to the audit trail what the daemon records besides the exchange itself: the local
/// API's reads, its refusals, the agent registry's changes.
#[derive(Debug, Clone)]
pub struct AuditTrail {
    pub(crate) engine: Arc<Engine>,
}

impl AuditTrail {
    /// Appends one entry (refused if its text holds a NIR: [`passerelle_observatory_store::Tx::audit_append`]).
    pub fn append(
        &self,
        entry: &passerelle_observatory_store::audit::AuditEntry,
    ) -> Result<passerelle_observatory_store::AuditRecord, StoreError> {
        self.engine.store.write(|tx| tx.audit_append(entry))
    }

    /// Each year's head `(year, entries, last hash)`, for a signed checkpoint.
    pub fn heads(&self) -> Result<Vec<(i32, i64, String)>, StoreError> {
        self.engine.store.read(|tx| tx.audit_heads())
    }

    /// The hash of entry `seq` of `year`.
    pub fn hash_at(&self, year: i32, seq: i64) -> Result<Option<String>, StoreError> {
        self.engine.store.read(|tx| tx.audit_hash_at(year, seq))
    }

    /// The chain's own check, read-only.
    pub fn verify(&self) -> Result<passerelle_observatory_store::Verification, StoreError> {
        self.engine.store.read(|tx| tx.audit_verify())
    }

    /// Drops `year`'s chain (its witness took its year-closed checkpoint).
    pub fn delete_year(&self, year: i32) -> Result<usize, StoreError> {
        self.engine.store.write(|tx| tx.audit_delete_year(year))
    }
}
