//! The bus's counters as metrics (`passerelle_bus_…`), read from its [`BusStats`] at scrape
//! time: connections and reconnections, time publishing was blocked by the broker (memory or
//! disk alarm), messages dead-lettered per queue and message type, messages with fields unknown at
//! their own schema minor per queue and message type.

use std::sync::Arc;

use passerelle_bus::BusStats;

use crate::{FamilyKind, MetricsRegistry, SnapshotCollector, SnapshotFamily, Value};

/// Registers the counters of a daemon's bus (one bus per registry).
pub fn register_bus(registry: &MetricsRegistry, stats: Arc<BusStats>) {
    let collector = SnapshotCollector::new(move || {
        let dead_letters = stats.dead_letters();
        let unknown_fields = stats.unknown_fields();
        vec![
            SnapshotFamily::counter(
                "connections",
                "Broker connections opened (the first and each reconnection)",
                stats.connections(),
            ),
            SnapshotFamily::counter("reconnects", "Broker connections reopened after a loss", stats.reconnects()),
            SnapshotFamily {
                name: "blocked_seconds",
                help: "Time publishing waited on a connection the broker blocked (memory or disk alarm)",
                kind: FamilyKind::Counter,
                samples: vec![(Vec::new(), Value::Float(stats.blocked().as_secs_f64()))],
            },
            SnapshotFamily {
                name: "dead_letters",
                help: "Messages dead-lettered with a reason, per queue and message type",
                kind: FamilyKind::Counter,
                samples: dead_letters
                    .into_iter()
                    .map(|(queue, kind, n)| (vec![("queue", queue), ("type", kind)], Value::Int(n)))
                    .collect(),
            },
            SnapshotFamily {
                name: "unknown_fields",
                help: "Messages received with fields unknown at the sender's own schema minor (a violation), per queue and message type",
                kind: FamilyKind::Counter,
                samples: unknown_fields
                    .into_iter()
                    .map(|(queue, kind, n)| (vec![("queue", queue), ("type", kind)], Value::Int(n)))
                    .collect(),
            },
        ]
    });
    registry.register_in("bus", |r| r.register_collector(collector));
}
