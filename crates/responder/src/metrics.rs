//! The responder's metrics (`passerelle_responder_…{body}`), read from its running totals
//! ([`ResponderStats`]) at each scrape: solicitation chunks answered, persons answered and found,
//! solicitations refused (dead-lettered). Counts only, never a NIR.

use std::sync::Arc;

use passerelle_metrics::{FamilyKind, MetricsRegistry, SnapshotCollector, SnapshotFamily, Value};

use crate::ResponderStats;

/// The metrics prefix of the responder (`passerelle_responder_…`).
pub const COMPONENT: &str = "responder";

/// Registers the totals of the responder answering for `body`.
pub fn register(registry: &MetricsRegistry, stats: Arc<ResponderStats>, body: &str) {
    let body = body.to_owned();
    let collector = SnapshotCollector::new(move || {
        let s = stats.snapshot();
        let family = |name, help, value| {
            SnapshotFamily::by_label(name, help, FamilyKind::Counter, "body", [(body.clone(), Value::Int(value))])
        };
        vec![
            family("chunks_answered", "Solicitation chunks answered (responses confirmed by the broker)", s.chunks),
            family("persons_answered", "Persons answered, found or not", s.persons),
            family("persons_found", "Persons answered found", s.found),
            family("solicitations_refused", "Deliveries refused for good (dead-lettered with a reason)", s.refused),
        ]
    });
    registry.register_in(COMPONENT, |r| r.register_collector(collector));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[test]
    fn totals_are_read_at_each_scrape() {
        let stats = Arc::new(ResponderStats::default());
        let registry = MetricsRegistry::default();
        register(&registry, Arc::clone(&stats), "cnam");
        stats.persons.fetch_add(1000, Ordering::Relaxed);
        stats.found.fetch_add(870, Ordering::Relaxed);
        let text = registry.encode();
        assert!(text.contains("passerelle_responder_persons_answered_total{body=\"cnam\"} 1000"), "{text}");
        assert!(text.contains("passerelle_responder_persons_found_total{body=\"cnam\"} 870"), "{text}");
    }
}
