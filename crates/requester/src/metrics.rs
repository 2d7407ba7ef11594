//! The requester's metrics (`passerelle_requester_…`), read from its store by the daemon's
//! snapshot task (every [`passerelle_metrics::SNAPSHOT_INTERVAL`]; a scrape never takes the
//! store's lock): cases by state, persons submitted and refused, records rejected, receipts not sent yet, the
//! oldest case still waiting for its result, the offers' outcomes held (by outcome) and the
//! persons of the contact lists still waiting for one. Counts and states only — the store's names and
//! contact details never reach a metric.

use std::time::SystemTime;

use passerelle_metrics::{FamilyKind, MetricsRegistry, SnapshotFamily, Value};

use crate::store::{CaseState, Store, StoreError};
use crate::Requester;

/// The metrics prefix of the requester (`passerelle_requester_…`).
pub const COMPONENT: &str = "requester";

/// Every case state, so a state with no case still shows as 0.
const STATES: [CaseState; 5] =
    [CaseState::Prepared, CaseState::Sent, CaseState::Answered, CaseState::Refused, CaseState::Purged];

/// Registers the store-backed metrics of a requester: read now, then by the snapshot task of
/// the daemon's metrics endpoint.
pub fn register(registry: &MetricsRegistry, requester: &Requester) {
    let requester = requester.clone();
    registry.register_refreshed(COMPONENT, move || match read(requester.store()) {
        Ok(families) => families,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the requester's store for the metrics");
            Vec::new()
        }
    });
}

fn read(store: &Store) -> Result<Vec<SnapshotFamily>, StoreError> {
    let cases = store.cases()?;
    let submissions = store.submissions()?;
    let outcomes = store.outcome_counts()?;
    let awaiting = store.persons_awaiting_outcome()?;
    let now = SystemTime::now();
    let oldest_waiting = cases
        .iter()
        .filter(|c| c.state == CaseState::Sent)
        .filter_map(|c| c.sent_at)
        .map(|t| now.duration_since(t).map_or(0.0, |d| d.as_secs_f64()))
        .fold(0.0, f64::max);
    Ok(vec![
        SnapshotFamily::by_label(
            "cases",
            "Cases by state",
            FamilyKind::Gauge,
            "state",
            STATES
                .iter()
                .map(|s| (s.as_str().to_owned(), Value::Int(cases.iter().filter(|c| c.state == *s).count() as u64))),
        ),
        SnapshotFamily::counter("submissions", "Selections submitted (kept ones)", submissions.len() as u64),
        SnapshotFamily::counter(
            "records_rejected",
            "Selection records rejected before sending",
            submissions.iter().map(|s| s.rejected).sum(),
        ),
        SnapshotFamily::counter(
            "persons_submitted",
            "Persons sent to observatories",
            cases.iter().map(|c| c.persons).sum(),
        ),
        SnapshotFamily::counter(
            "persons_refused",
            "Persons the observatories refused",
            cases.iter().map(|c| c.refused_persons).sum(),
        ),
        SnapshotFamily::counter(
            "purged_submissions",
            "Submissions purged at the end of their retention",
            submissions.iter().filter(|s| s.purged_at.is_some()).count() as u64,
        ),
        SnapshotFamily::gauge(
            "receipts_pending",
            "Answered cases whose receipt is not sent yet (the observatory still holds their data)",
            cases.iter().filter(|c| c.state == CaseState::Answered && c.receipt_sent_at.is_none()).count() as u64,
        ),
        // Gauges, not counters: the outcomes go with their case at the purge.
        SnapshotFamily::by_label(
            "offer_outcomes",
            "Offer outcomes held, by outcome (recorded for the social service; purged with their case)",
            FamilyKind::Gauge,
            "outcome",
            outcomes.into_iter().map(|(o, n)| (o.as_str().to_owned(), Value::Int(n))),
        ),
        SnapshotFamily::gauge(
            "persons_awaiting_offer_outcome",
            "Persons of the contact lists with no offer outcome recorded yet",
            awaiting,
        ),
        SnapshotFamily {
            name: "oldest_waiting_case_age_seconds",
            help: "Time since the oldest case still waiting for its result was sent (0 when none)",
            kind: FamilyKind::Gauge,
            samples: vec![(Vec::new(), Value::Float(oldest_waiting))],
        },
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_store_shows_every_state_at_zero() {
        let dir = tempfile::tempdir().unwrap();
        let settings = crate::RequesterSettings::for_dir("cnaf", "caf-13", dir.path());
        let clock = std::sync::Arc::new(passerelle_protocol::rules::SystemClock);
        let requester = Requester::offline(settings, clock).unwrap();
        let registry = MetricsRegistry::default();
        register(&registry, &requester);
        let text = registry.encode();
        for state in ["prepared", "sent", "answered", "refused", "purged"] {
            assert!(text.contains(&format!("passerelle_requester_cases{{state=\"{state}\"}} 0")), "{text}");
        }
        assert!(text.contains("passerelle_requester_persons_submitted_total 0"), "{text}");
        for outcome in ["accepted", "declined", "no_reply"] {
            assert!(
                text.contains(&format!("passerelle_requester_offer_outcomes{{outcome=\"{outcome}\"}} 0")),
                "{text}"
            );
        }
        assert!(text.contains("passerelle_requester_persons_awaiting_offer_outcome 0"), "{text}");
    }

    #[test]
    fn the_metrics_address_is_checked_with_the_settings() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = crate::RequesterSettings::for_dir("cnaf", "caf-13", dir.path());
        settings.metrics_addr = Some("localhost".into());
        assert_eq!(settings.validate().unwrap_err().key, "metrics_addr");
        settings.metrics_addr = Some("localhost:0".into());
        settings.validate().unwrap();
    }

    /// A scrape answers from the last snapshot while a writer holds the store.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_scrape_does_not_wait_for_a_writer_transaction() {
        use passerelle_metrics::{get, Health, MetricsServer};
        let dir = tempfile::tempdir().unwrap();
        let settings = crate::RequesterSettings::for_dir("cnaf", "caf-13", dir.path());
        let clock = std::sync::Arc::new(passerelle_protocol::rules::SystemClock);
        let requester = Requester::offline(settings, clock).unwrap();
        let registry = MetricsRegistry::default();
        register(&registry, &requester);
        let server = MetricsServer::start("127.0.0.1:0", registry.clone(), Health::default()).await.unwrap();

        let (in_transaction, commit) = (std::sync::mpsc::channel(), std::sync::mpsc::channel::<()>());
        let writer = std::thread::spawn({
            let requester = requester.clone();
            move || {
                requester.store().write(|_| {
                    in_transaction.0.send(()).unwrap();
                    commit.1.recv().unwrap();
                    Ok::<_, StoreError>(())
                })
            }
        });
        in_transaction.1.recv().unwrap();
        let refresh = tokio::task::spawn_blocking(move || registry.refresh());
        let scraped = tokio::time::timeout(std::time::Duration::from_secs(2), get(server.local_addr, "/metrics"))
            .await
            .expect("the scrape waited for the writer's transaction")
            .unwrap();
        assert_eq!(scraped.status, 200);
        assert!(scraped.body.contains("passerelle_requester_cases{state=\"sent\"} 0"), "{}", scraped.body);
        assert!(!refresh.is_finished(), "the snapshot waits for the writer, not the scrape");
        commit.0.send(()).unwrap();
        writer.join().unwrap().unwrap();
        refresh.await.unwrap();
        server.shutdown().await;
    }
}
