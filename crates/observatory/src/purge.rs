//! Purging cases: their statistics rows first, then their payloads (in slices for a big case),
//! then the rebuild that makes the purge real on disk. The timer ([`crate::deadlines`]) calls
//! it on a receipt and at the retention cap.

use std::sync::atomic::Ordering;
use std::time::Instant;

use passerelle_access_log::AccessKind;
use passerelle_observatory_store::audit::Action;
use passerelle_observatory_store::{
    CaseEvent, CaseRecord, CaseState, ChunkStatistics, PurgeCounts, StatisticsRow, StoreError, StoredAnswer,
    StoredPerson, StoredSolicitation, Tx,
};

use crate::aggregate;
use crate::engine::Engine;

impl Engine {
    /// Writes the cases' statistics rows, then purges their payloads and asks for the rebuild
    /// that makes the purge real on disk. Idempotent: a case already purged is left alone.
    ///
    /// Small cases (a tick's receipts of single-person cases, say) go together, up to
    /// [`PURGE_SLICE_PERSONS`] persons at a time: their statistics read in one read
    /// transaction, written in one statistics transaction, and their payloads purged in one
    /// case-store transaction. A tick's purge then takes the store a few times rather than a few
    /// hundred, and the live cases of that second wait behind it once at most, for a few
    /// milliseconds. A big case's statistics go chunk by chunk, its payloads in slices.
    pub(crate) fn purge_cases(&self, cases: &[CaseRecord], reason: &str) -> Result<(), StoreError> {
        let (big, small): (Vec<&CaseRecord>, Vec<&CaseRecord>) =
            cases.iter().partition(|c| c.persons_accepted > PURGE_SLICE_PERSONS);
        for case in big {
            if self.stopping.load(Ordering::SeqCst) {
                // Whatever is left goes on the next start (the case keeps its payloads).
                return Ok(());
            }
            self.purge_big_case(case, reason)?;
        }
        let mut batch: Vec<&CaseRecord> = Vec::new();
        let mut persons = 0;
        for case in small {
            if persons + case.persons_accepted > PURGE_SLICE_PERSONS && !batch.is_empty() {
                self.purge_small_cases(&std::mem::take(&mut batch), reason)?;
                persons = 0;
            }
            persons += case.persons_accepted;
            batch.push(case);
        }
        if !batch.is_empty() {
            self.purge_small_cases(&batch, reason)?;
        }
        Ok(())
    }

    /// Small cases together: one read, one statistics transaction, one purge transaction.
    fn purge_small_cases(&self, cases: &[&CaseRecord], reason: &str) -> Result<(), StoreError> {
        if self.stopping.load(Ordering::SeqCst) {
            return Ok(());
        }
        let read = self.store.read(|tx| {
            let mut read = Vec::new();
            for case in cases {
                let solicitations = tx.solicitations(&case.case_id)?;
                for index in 0..case.person_chunk_count() {
                    read.push((*case, index, solicitations.clone(), self.chunk_of_statistics(tx, case, index)?));
                }
            }
            Ok::<_, StoreError>(read)
        })?;
        in_background(|| {
            let chunks: Vec<ChunkStatistics> = read
                .iter()
                .map(|(case, index, solicitations, chunk)| ChunkStatistics {
                    case_id: case.case_id.clone(),
                    chunk: *index,
                    rows: self.statistics_rows(case, solicitations, chunk),
                })
                .collect();
            self.statistics.record(&chunks)
        })?;
        let purging: Vec<(&CaseRecord, PurgeCounts)> = cases.iter().map(|c| (*c, PurgeCounts::default())).collect();
        self.purge_final(&purging, reason)
    }

    /// A big case: its statistics chunk by chunk, then its payloads in slices, each its own
    /// transaction, so that its purge never holds the store for long (requests and responses of
    /// other cases run in between); the last slice goes with the rest of the case, in the final
    /// transaction.
    fn purge_big_case(&self, case: &CaseRecord, reason: &str) -> Result<(), StoreError> {
        let case_id = case.case_id.as_str();
        let started = std::time::Instant::now();
        let solicitations = self.store.read(|tx| tx.solicitations(case_id))?;
        // A case that ended without a result has no outcome to count.
        let counted = if case.result_at.is_some() { 0..case.person_chunk_count() } else { 0..0 };
        for index in counted {
            if self.stopping.load(Ordering::SeqCst) {
                return Ok(());
            }
            let chunk = self.store.read(|tx| self.chunk_of_statistics(tx, case, index))?;
            in_background(|| {
                let rows = self.statistics_rows(case, &solicitations, &chunk);
                self.statistics.record(&[ChunkStatistics { case_id: case.case_id.clone(), chunk: index, rows }])
            })?;
        }
        tracing::info!(
            case_id,
            persons = case.persons_accepted,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "case statistics written"
        );
        let mut counts = PurgeCounts::default();
        let mut start = 0;
        while case.persons_accepted - start > PURGE_SLICE_PERSONS {
            if self.stopping.load(Ordering::SeqCst) {
                tracing::info!(case_id, "stopping: the purge resumes on the next start");
                return Ok(());
            }
            let refs = start..(start + PURGE_SLICE_PERSONS).min(case.persons_accepted);
            start = refs.end;
            let slice = self.store.write_redoable(|tx| match tx.case(case_id)? {
                Some(current) if CaseState::HOLDING_PAYLOADS.contains(&current.state) => {
                    tx.purge_person_slice(case_id, refs).map(Some)
                }
                _ => Ok::<_, StoreError>(None),
            })?;
            match slice {
                Some(slice) => counts += slice,
                None => return Ok(()),
            }
        }
        self.purge_final(&[(case, counts)], reason)
    }

    /// What the statistics of one chunk of a case are made of: its persons and their answers,
    /// read in the caller's transaction (nothing for a case refused or purged at its cap before
    /// any result: it has no outcome to count).
    fn chunk_of_statistics(
        &self,
        tx: &Tx<'_>,
        case: &CaseRecord,
        index: u32,
    ) -> Result<(Vec<StoredPerson>, Vec<StoredAnswer>), StoreError> {
        if case.result_at.is_none() {
            return Ok((Vec::new(), Vec::new()));
        }
        let refs = case.chunk_refs(index);
        Ok((tx.persons(&case.case_id, refs.clone())?, tx.answers(&case.case_id, refs)?))
    }

    /// The statistics rows of a chunk read by [`Engine::chunk_of_statistics`], computed outside
    /// the store (the pseudonyms are keyed hashes).
    fn statistics_rows(
        &self,
        case: &CaseRecord,
        solicitations: &[StoredSolicitation],
        (persons, answers): &(Vec<StoredPerson>, Vec<StoredAnswer>),
    ) -> Vec<StatisticsRow> {
        aggregate::statistics_rows(&self.pseudonymiser, case, solicitations, persons, answers, self.clock.now())
    }

    /// The final purge of cases whose statistics are written (and, for a big case, whose
    /// earlier slices are gone: `counts` holds what they deleted), in one transaction: what
    /// is left of their payloads, their state `purged` and one audit entry each.
    /// [Redoable](passerelle_observatory_store::CaseStore::write_redoable): a purge that a power loss
    /// undoes is done again by the next tick (the receipt or the cap is recorded).
    fn purge_final(&self, cases: &[(&CaseRecord, PurgeCounts)], reason: &str) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        let mut statistics_rows = Vec::with_capacity(cases.len());
        for (case, _) in cases {
            let rows = if case.result_at.is_some() { self.statistics.persons_of_case(&case.case_id)? } else { 0 };
            statistics_rows.push(rows);
        }
        let now = self.clock.now();
        let purged = self.store.write_redoable(|tx| {
            let mut purged = Vec::new();
            for ((case, counts), statistics_rows) in cases.iter().zip(&statistics_rows) {
                let case_id = case.case_id.as_str();
                let Some(current) = tx.case(case_id)? else { continue };
                if !CaseState::HOLDING_PAYLOADS.contains(&current.state) {
                    continue;
                }
                let mut counts = *counts;
                counts += tx.purge_case_payloads(case_id, now)?;
                tx.transition(case_id, current.state, CaseEvent::Purge, now)?;
                self.audit(
                    tx,
                    Action::Purge,
                    Some(case_id),
                    &self.own_actor(),
                    serde_json::json!({ "reason": reason, "state_before": current.state.as_str(),
                        "persons": counts.persons, "answers": counts.answers, "unsent_messages": counts.outbox,
                        "statistics_rows": statistics_rows }),
                )?;
                purged.push(case_id);
            }
            // Keys made since for these cases (a refusal since published) go with them.
            tx.forget_spent_keys()?;
            // One access-log transaction for the cases purged together, before this commit.
            self.record_machine(AccessKind::Delete, purged.iter().copied())?;
            Ok::<_, StoreError>(purged)
        })?;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        for case_id in &purged {
            tracing::info!(case_id, reason, elapsed_ms, "case payloads purged");
        }
        if !purged.is_empty() {
            passerelle_hooks::fault_point("observatory.after_purge_before_rebuild");
            self.request_reclaim();
        }
        Ok(())
    }

    /// Asks the timer to make a purge real on disk: on its next tick, or once the rebuild
    /// interval since the previous rebuild has passed (the purges in between share one rebuild).
    pub(crate) fn request_reclaim(&self) {
        self.reclaim_pending.store(true, Ordering::SeqCst);
    }

    /// Whether a purge waits for the rebuild and the rebuild interval has passed.
    pub(crate) fn rebuild_due(&self) -> bool {
        let last = *self.last_rebuild.lock().unwrap_or_else(|p| p.into_inner());
        self.reclaim_pending.load(Ordering::SeqCst) && last.is_none_or(|t| t.elapsed() >= self.config.rebuild_interval)
    }

    /// A rebuild that did not complete is due again on the next tick, whatever the interval.
    fn retry_reclaim(&self) {
        *self.last_rebuild.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.reclaim_pending.store(true, Ordering::SeqCst);
    }

    /// Rebuilds the case store from its live rows and truncates the WAL, so that nothing of a
    /// purged case stays readable on disk; retried on the next tick when a reader blocks it.
    pub(crate) fn reclaim(&self) {
        self.reclaim_pending.store(false, Ordering::SeqCst);
        let started = Instant::now();
        *self.last_rebuild.lock().unwrap_or_else(|p| p.into_inner()) = Some(started);
        match self.store.reclaim() {
            Ok(r) if r.wal_truncated => {
                tracing::info!(
                    pages_freed = r.pages_freed,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "case store rebuilt after a purge"
                );
            }
            Ok(_) => {
                tracing::warn!("the WAL truncation after a purge was blocked by a reader; retrying on the next tick");
                self.retry_reclaim();
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot rebuild the case store after a purge; retrying on the next tick");
                self.retry_reclaim();
            }
        }
    }
}

/// Runs `f` on a thread of its own at a lower scheduling priority (nice 10 on Linux), and waits
/// for it: for the statistics of a purge, CPU work that holds no lock of the case store and can
/// wait, so that the live cases' deliveries get the processor first (a big case's statistics
/// took a core for seconds while they waited). Only work that holds no lock a live delivery
/// needs may run here: a preempted holder would stall the deliveries behind it.
fn in_background<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("passerelle-statistics".into())
            .spawn_scoped(scope, || {
                lower_priority();
                f()
            })
            .expect("a thread for the statistics");
        worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Lowers the calling thread's scheduling priority (its nice value to 10: Linux schedules
/// threads on their own); a failure leaves it as it was (the work only runs sooner).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    let _ = rustix::process::setpriority_process(Some(rustix::thread::gettid()), BACKGROUND_NICE);
}

/// The nice value of background work (0 is the default, 19 the lowest priority).
#[cfg(target_os = "linux")]
const BACKGROUND_NICE: i32 = 10;

/// Persons whose payloads one purge transaction deletes: small enough that a request or a
/// response of another case waits a few milliseconds at most behind a slice, large enough that
/// a million-person case takes a few hundred commits.
const PURGE_SLICE_PERSONS: u64 = 5_000;

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn own_nice() -> i32 {
        rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap()
    }

    #[test]
    fn background_work_runs_at_a_lower_priority_and_the_caller_keeps_its_own() {
        let before = own_nice();
        let inside = in_background(own_nice);
        assert!(inside >= BACKGROUND_NICE, "the worker's nice value: {inside}");
        assert_eq!(own_nice(), before, "the calling thread is left as it was");
        let panicked = std::panic::catch_unwind(|| in_background(|| panic!("a failing chunk")));
        assert!(panicked.is_err(), "a panic on the worker reaches the caller");
    }
}
