//! The social service's metrics (`passerelle_social_service_…`), read from its store by the
//! daemon's snapshot task (a scrape never takes the store's lock): files open and files closed,
//! the files the last retention pass flagged, and when it ran; the transfers between bodies
//! (norm 43, A.3) by outcome (`sent`, `accepted` and `refused` by the receiver, `received`,
//! `imported`, `declined` here) and those in flight each way.
//! Counts only — nothing of a file reaches a metric.

use passerelle_metrics::{FamilyKind, MetricsRegistry, SnapshotFamily, Value};

use crate::store::transfers::TransferCounts;
use crate::SocialService;

/// The metrics prefix (`passerelle_social_service_…`).
pub const COMPONENT: &str = "social_service";

/// Registers the store-backed metrics: read now, then by the snapshot task.
pub fn register(registry: &MetricsRegistry, service: &SocialService) {
    let service = service.clone();
    registry.register_refreshed(COMPONENT, move || match (
        service.store().counts(),
        service.store().last_pass(),
        service.store().transfer_counts(std::time::UNIX_EPOCH),
    ) {
        (Ok((open, closed)), Ok(pass), Ok(transfers)) => vec![
            SnapshotFamily::by_label(
                "transfers",
                "Case-file transfers between bodies by outcome (sent, accepted or refused by the receiver; received, imported or declined here)",
                FamilyKind::Counter,
                "outcome",
                transfer_outcomes(&transfers),
            ),
            SnapshotFamily::by_label(
                "transfers_in_flight",
                "Case-file transfers not yet decided, by direction",
                FamilyKind::Gauge,
                "direction",
                in_flight(&transfers),
            ),
            SnapshotFamily::by_label(
                "files",
                "Case files by state",
                FamilyKind::Gauge,
                "state",
                [("open".to_owned(), Value::Int(open)), ("closed".to_owned(), Value::Int(closed))],
            ),
            SnapshotFamily::by_label(
                "files_flagged",
                "Case files the last retention pass flagged to the office, by reason",
                FamilyKind::Gauge,
                "reason",
                [
                    ("idle_action".to_owned(), Value::Int(pass.flagged_idle)),
                    ("objection_pending".to_owned(), Value::Int(pass.waiting_objection)),
                ],
            ),
            SnapshotFamily::gauge(
                "retention_last_pass_seconds",
                "When the last retention pass ran (seconds since the epoch; 0: none yet)",
                pass.at.and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_secs()),
            ),
        ],
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            tracing::error!(error = %e, "cannot read the social service's store for the metrics");
            Vec::new()
        }
    });
}

fn count(t: &TransferCounts, direction: &str, states: &[&str]) -> u64 {
    t.by_state.iter().filter(|(d, s, _, _)| d == direction && states.contains(&s.as_str())).map(|(_, _, _, n)| n).sum()
}

fn transfer_outcomes(t: &TransferCounts) -> Vec<(String, Value)> {
    [
        ("sent", count(t, "out", &["sent", "accepted", "refused"])),
        ("accepted", count(t, "out", &["accepted"])),
        ("refused", count(t, "out", &["refused"])),
        ("received", count(t, "in", &["receiving", "awaiting_attachment", "accepted", "refused"])),
        ("imported", count(t, "in", &["accepted"])),
        ("declined", count(t, "in", &["refused"])),
    ]
    .into_iter()
    .map(|(k, n)| (k.to_owned(), Value::Int(n)))
    .collect()
}

fn in_flight(t: &TransferCounts) -> Vec<(String, Value)> {
    vec![
        ("out".to_owned(), Value::Int(count(t, "out", &["sending", "sent"]))),
        ("in".to_owned(), Value::Int(count(t, "in", &["receiving", "awaiting_attachment"]))),
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_families_are_counts_by_state() {
        let registry = passerelle_metrics::MetricsRegistry::default();
        let dir = tempfile::tempdir().unwrap();
        let settings =
            crate::SocialServiceSettings::for_dir("carsat-sud-est", "ss-13", dir.path(), dir.path(), "cpam-13");
        let service =
            crate::SocialService::build(settings, std::sync::Arc::new(passerelle_protocol::rules::SystemClock))
                .unwrap();
        super::register(&registry, &service);
        let text = registry.encode();
        assert!(text.contains("passerelle_social_service_files{state=\"open\"} 0"), "{text}");
        assert!(text.contains("passerelle_social_service_files_flagged{reason=\"idle_action\"} 0"), "{text}");
        assert!(text.contains("passerelle_social_service_retention_last_pass_seconds 0"), "{text}");
        assert!(text.contains("passerelle_social_service_transfers_total{outcome=\"imported\"} 0"), "{text}");
        assert!(text.contains("passerelle_social_service_transfers_in_flight{direction=\"out\"} 0"), "{text}");
    }
}
