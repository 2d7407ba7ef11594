//! The social service's metrics (`passerelle_social_service_…`), read from its store by the
//! daemon's snapshot task (a scrape never takes the store's lock): files open and files closed.
//! Counts only — nothing of a file reaches a metric.

use passerelle_metrics::{FamilyKind, MetricsRegistry, SnapshotFamily, Value};

use crate::SocialService;

/// The metrics prefix (`passerelle_social_service_…`).
pub const COMPONENT: &str = "social_service";

/// Registers the store-backed metrics: read now, then by the snapshot task.
pub fn register(registry: &MetricsRegistry, service: &SocialService) {
    let service = service.clone();
    registry.register_refreshed(COMPONENT, move || match service.store().counts() {
        Ok((open, closed)) => vec![SnapshotFamily::by_label(
            "files",
            "Case files by state",
            FamilyKind::Gauge,
            "state",
            [("open".to_owned(), Value::Int(open)), ("closed".to_owned(), Value::Int(closed))],
        )],
        Err(e) => {
            tracing::error!(error = %e, "cannot read the social service's store for the metrics");
            Vec::new()
        }
    });
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
    }
}
