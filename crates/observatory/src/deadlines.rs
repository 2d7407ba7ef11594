//! The timer: every time rule, read from the injected clock.
//!
//! On each tick, for every case still holding payloads:
//! - past the retention cap (arrival + 30 days at most): statistics, then purge — whatever the
//!   state;
//! - receipt recorded but not yet purged (a crash after the receipt): purge;
//! - still receiving at the deadline: the request is incomplete, the case is refused;
//! - collecting at the deadline: the result goes back partial, silent bodies `NO_ANSWER`;
//! - collecting halfway to the deadline: the outstanding solicitation chunks are sent again,
//!   marked as a reminder (once).
//!
//! Then retention of everything else: statistics rows older than 5 years (or less, configured),
//! audit years older than the policy, inbox ids older than the cap; then the rights desk's
//! deadlines and purges ([`crate::rights`]). Last, if a purge committed
//! since the previous rebuild and the rebuild interval (a minute by default) has passed, the case
//! store is rebuilt (`VACUUM`) and its WAL truncated: one rebuild for the purges of the interval.
//! A stopping daemon runs a pending rebuild before it exits.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use passerelle_access_log::AccessKind;
use passerelle_bus::Message;
use passerelle_observatory_store::audit::Action;
use passerelle_observatory_store::{CaseState, StoreError};
use passerelle_protocol::rules;
use tokio::sync::watch;

use crate::engine::Engine;
use crate::solicit;
use crate::validate::problem;

impl Engine {
    /// One pass of every time rule.
    pub(crate) fn tick(&self) -> Result<(), StoreError> {
        let now = self.clock.now();
        let cases = self.store.read(|tx| tx.cases_in(&CaseState::HOLDING_PAYLOADS))?;
        let (mut expired, mut receipted) = (Vec::new(), Vec::new());
        for case in cases {
            if self.stopping.load(Ordering::SeqCst) {
                // Whatever is left is done on the next start (the rebuild too: it is always run then).
                return Ok(());
            }
            if now >= case.expires_at {
                expired.push(case);
            } else if case.receipt_at.is_some() {
                receipted.push(case);
            } else if case.state == CaseState::Receiving && now >= case.respond_by {
                self.store.write(|tx| {
                    let Some(c) = tx.case(&case.case_id)?.filter(|c| c.state == CaseState::Receiving) else {
                        return Ok(());
                    };
                    let reason = format!(
                        "only {} of the {} request chunks arrived before the deadline",
                        c.request_chunks_received, c.request_chunk_count
                    );
                    self.refuse_case(tx, &c, vec![problem("chunk_count", reason)], 0, now)
                })?;
            } else if case.state.is_collecting() && now >= case.respond_by {
                self.store.write(|tx| {
                    if tx.case(&case.case_id)?.is_some_and(|c| c.state.is_collecting()) {
                        tracing::info!(case_id = %case.case_id, "deadline reached: returning what was received");
                        self.build_result(tx, &case.case_id, now)?;
                    }
                    Ok::<_, StoreError>(())
                })?;
            } else if case.state.is_collecting() && now >= case.remind_at && case.reminded_at.is_none() {
                self.send_reminders(&case.case_id)?;
            }
        }
        self.purge_cases(&expired, "retention cap")?;
        self.purge_cases(&receipted, "receipt")?;
        self.apply_retention()?;
        self.tick_rights();
        if self.rebuild_due() {
            self.reclaim();
        }
        self.outbox_ready.notify_one();
        Ok(())
    }

    /// Sends the outstanding solicitation chunks of a case again, marked as a reminder.
    fn send_reminders(&self, case_id: &str) -> Result<(), StoreError> {
        let now = self.clock.now();
        self.store.write(|tx| {
            let Some(case) = tx.case(case_id)?.filter(|c| c.state.is_collecting() && c.reminded_at.is_none()) else {
                return Ok(());
            };
            for s in tx.solicitations(case_id)? {
                let pending: Vec<u32> = tx
                    .solicitation_chunks(&s.solicitation_id)?
                    .into_iter()
                    .filter(|c| c.answered_at.is_none())
                    .map(|c| c.index)
                    .collect();
                for &index in &pending {
                    let persons = tx.persons(case_id, case.chunk_refs(index))?;
                    let chunk = solicit::solicitation_chunk(&self.config.code, &case, &s, index, &persons, true);
                    self.enqueue(tx, case_id, case.expires_at, Message::Solicitation(chunk), s.body.as_str(), now)?;
                    tx.mark_chunk_reminded(&s.solicitation_id, index, now)?;
                }
                if !pending.is_empty() {
                    self.record_machine(AccessKind::Transfer, [case_id])?;
                    tracing::info!(case_id, body = %s.body, chunks = pending.len(), "reminder sent");
                    self.audit(
                        tx,
                        Action::Reminder,
                        Some(case_id),
                        &self.own_actor(),
                        serde_json::json!({ "body": s.body, "solicitation_id": s.solicitation_id, "chunks": pending }),
                    )?;
                }
            }
            tx.mark_reminded(case_id, now)
        })
    }

    /// Statistics older than their cap, old inbox ids, the access log's person hashes older than
    /// the observatory's cap. (The audit trail's years go whole once their retention has run,
    /// through a year-closed checkpoint its witness accepts: `passerelle-trails`.)
    fn apply_retention(&self) -> Result<(), StoreError> {
        let now = self.clock.now();
        let statistics_cutoff = now.checked_sub(self.config.statistics_retention);
        let deleted_statistics = match statistics_cutoff {
            Some(cutoff) => self.statistics.purge_before(cutoff)?,
            None => 0,
        };
        self.store.write(|tx| {
            if deleted_statistics > 0 {
                self.audit(
                    tx,
                    Action::StatisticsPurge,
                    None,
                    &self.own_actor(),
                    serde_json::json!({ "rows": deleted_statistics }),
                )?;
            }
            if let Some(cutoff) = now.checked_sub(self.config.retention) {
                tx.inbox_forget_before(cutoff)?;
            }
            Ok::<_, StoreError>(())
        })?;
        // A person's hash in the access log goes with the observatory's own cap for the
        // person's data (30 days, art. 5); the entry stays its years.
        if let Some(cutoff) = now.checked_sub(rules::OBSERVATORY_RETENTION_CAP) {
            self.accesses.log().drop_person_hashes_before(cutoff).map_err(|e| StoreError::AccessLog(e.to_string()))?;
        }
        Ok(())
    }
}

/// Runs [`Engine::tick`] every `config.tick` until `stop` is raised.
pub(crate) async fn run(engine: Arc<Engine>, mut stop: watch::Receiver<bool>) {
    let period = engine.config.tick;
    loop {
        let e = Arc::clone(&engine);
        match tokio::task::spawn_blocking(move || e.tick()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "STORAGE ERROR in the timer; retrying on the next tick"),
            Err(e) => tracing::error!(error = %e, "the timer's tick failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = stop.wait_for(|s| *s) => break,
        }
    }
    // Nothing of a committed purge stays readable after a clean stop.
    if engine.reclaim_pending.load(Ordering::SeqCst) {
        let e = Arc::clone(&engine);
        if let Err(e) = tokio::task::spawn_blocking(move || e.reclaim()).await {
            tracing::error!(error = %e, "the rebuild at stop failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use passerelle_protocol::rules::SystemClock;

    use crate::engine::Engine;
    use crate::settings::ObservatorySettings;

    #[test]
    fn purges_within_the_rebuild_interval_share_one_rebuild() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = ObservatorySettings::new("carsat-sud-est", dir.path());
        settings.broker.observatories = vec!["carsat-sud-est".into()];
        settings.rebuild_interval_s = 3600;
        let engine = Engine::open(&settings, Arc::new(SystemClock)).unwrap();
        assert!(engine.rebuild_due(), "a start rebuilds once: a purge may have committed just before a crash");
        engine.reclaim();
        assert!(!engine.rebuild_due(), "nothing purged since");
        engine.request_reclaim();
        assert!(!engine.rebuild_due(), "a purge waits for the interval");
        *engine.last_rebuild.lock().unwrap() = Instant::now().checked_sub(Duration::from_secs(3600));
        assert!(engine.rebuild_due(), "the interval has passed");
        engine.reclaim();
        assert!(!engine.rebuild_due());

        settings.rebuild_interval_s = 0;
        let engine = Engine::open(&settings, Arc::new(SystemClock)).unwrap();
        engine.reclaim();
        engine.request_reclaim();
        assert!(engine.rebuild_due(), "interval 0: after every purge");
    }
}
