//! A case's contact-list order, kept once computed (`worklist_orders`, `worklist_ranks`): the
//! worklist reads a page as a range of `(case, rank)` rows and only those persons' cells and
//! outcomes, so a page costs what it returns however long the case's list — instead of ranking
//! the whole case again for every page.
//!
//! Computed by the service ([`crate::export::case_ranking`], the result files' ranking) the
//! first time a settled case is listed, and written in one transaction in rank order: the rows
//! of a case are appended as one run at its `(case, rank)` keys, never spread over the table.
//! An order is kept with the ranking settings it was computed with, and read only under the
//! same ones (the daemon restarted with other weights computes it again, as the result files
//! would). A result or refusal stored for a case after it settled drops its order. The purge
//! deletes the order with the case's persons ([`forget_orders`]).

use passerelle_protocol::nir::Nir;
use passerelle_sqlite::rusqlite::params;
use passerelle_sqlite::time::from_ms;
use passerelle_sqlite::Tx;
use uuid::Uuid;

use super::outcomes::{parse_date, Outcome};
use super::{OutcomeRecord, Store, StoreError};

/// A person of a case's contact list in rank order, as the order stores them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankedPerson {
    /// The store's id of the person.
    pub person: i64,
    /// Their selection line.
    pub line: u64,
    pub score: f64,
}

/// A person of a worklist page: their place in the list, the selection's cells (names and
/// contacts), the offer's outcome recorded last, and their NIR — for the access log's keyed
/// hash of each person read, never for the page.
#[derive(Debug, Clone, PartialEq)]
pub struct WorklistRow {
    /// 1 = most at risk.
    pub rank: u64,
    pub line: u64,
    pub nir: Nir,
    pub score: f64,
    pub cells: Vec<String>,
    pub outcome: Option<OutcomeRecord>,
}

impl Store {
    /// The length of `case`'s stored contact-list order if it was computed under `ranking` (the
    /// ranking settings, serialised), else `None`: not computed yet, or under other settings.
    pub fn worklist_order(&self, case: Uuid, ranking: &str) -> Result<Option<u64>, StoreError> {
        self.read(|tx| {
            let persons: Option<i64> = tx.query_optional(
                "SELECT persons FROM worklist_orders WHERE case_id = ?1 AND ranking = ?2",
                params![case.to_string(), ranking],
                |r| r.get(0),
            )?;
            Ok(persons.map(|n| n as u64))
        })
    }

    /// Stores `order` (the persons of `case`'s contact list in rank order, computed under
    /// `ranking`) in place of any earlier one, if the case is still answered (else `false`,
    /// nothing written: purged meanwhile). One transaction: a page never sees half an order.
    pub fn store_worklist_order(&self, case: Uuid, ranking: &str, order: &[RankedPerson]) -> Result<bool, StoreError> {
        let id = case.to_string();
        self.write(|tx| {
            if !tx.exists("SELECT 1 FROM cases WHERE id = ?1 AND state = 'answered'", params![id])? {
                return Ok(false);
            }
            if tx.exists("SELECT 1 FROM worklist_orders WHERE case_id = ?1 AND ranking = ?2", params![id, ranking])? {
                // Another page computed it meanwhile: the same order.
                return Ok(true);
            }
            forget_order(tx, case)?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO worklist_ranks (case_id, rank, person_id, line, score) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for (i, p) in order.iter().enumerate() {
                insert.execute(params![id, i as i64 + 1, p.person, p.line as i64, p.score])?;
            }
            tx.execute(
                "INSERT INTO worklist_orders (case_id, ranking, persons) VALUES (?1, ?2, ?3)",
                params![id, ranking, order.len() as i64],
            )?;
            Ok(true)
        })
    }

    /// Up to `limit` persons of `case`'s stored order after rank `after_rank`, in rank order,
    /// with their NIRs, cells and outcomes; when `pending`, only those without an outcome. An index
    /// range of the order, then one row lookup per person returned (and per person passed over
    /// for `pending`).
    pub fn worklist_rows(
        &self,
        case: Uuid,
        after_rank: u64,
        limit: usize,
        pending: bool,
    ) -> Result<Vec<WorklistRow>, StoreError> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT r.rank, r.line, r.score, p.cells, o.outcome, o.date, o.agent, o.recorded_at, p.nir
                 FROM worklist_ranks r
                 JOIN persons p ON p.id = r.person_id
                 LEFT JOIN offer_outcomes o ON o.case_id = r.case_id AND o.line = r.line
                 WHERE r.case_id = ?1 AND r.rank > ?2 AND (?3 = 0 OR o.line IS NULL)
                 ORDER BY r.rank LIMIT ?4",
            )?;
            let mut rows = stmt.query(params![case.to_string(), after_rank as i64, pending, limit as i64])?;
            let mut out = Vec::with_capacity(limit.min(1024));
            while let Some(r) = rows.next()? {
                let line = r.get::<_, i64>(1)? as u64;
                let cells: String = r.get(3)?;
                let cells = serde_json::from_str(&cells).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let outcome = match r.get::<_, Option<String>>(4)? {
                    None => None,
                    Some(outcome) => Some(OutcomeRecord {
                        case,
                        line,
                        outcome: Outcome::parse(&outcome)?,
                        date: parse_date(&r.get::<_, String>(5)?)?,
                        agent: r.get(6)?,
                        recorded_at: from_ms(r.get(7)?),
                    }),
                };
                let nir =
                    Nir::parse(&r.get::<_, String>(8)?).map_err(|_| StoreError::Corrupt("a stored NIR".into()))?;
                out.push(WorklistRow { rank: r.get::<_, i64>(0)? as u64, line, nir, score: r.get(2)?, cells, outcome });
            }
            Ok(out)
        })
    }
}

/// Drops `case`'s stored order (its persons changed, or another order replaces it).
pub(super) fn forget_order(tx: &Tx<'_>, case: Uuid) -> Result<(), StoreError> {
    tx.execute("DELETE FROM worklist_ranks WHERE case_id = ?1", params![case.to_string()])?;
    tx.execute("DELETE FROM worklist_orders WHERE case_id = ?1", params![case.to_string()])?;
    Ok(())
}

/// Deletes the orders of the cases `cases_sql` selects (with `?1` its parameter): the purge's.
pub(super) fn forget_orders(tx: &Tx<'_>, cases_sql: &str, submission: &str) -> Result<(), StoreError> {
    tx.execute(&format!("DELETE FROM worklist_ranks WHERE case_id IN ({cases_sql})"), params![submission])?;
    tx.execute(&format!("DELETE FROM worklist_orders WHERE case_id IN ({cases_sql})"), params![submission])?;
    Ok(())
}
