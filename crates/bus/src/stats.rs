//! Running counters of a bus, for the daemons' metrics (`passerelle_bus_…`): connections made
//! (the first and every reconnection), time publishers spent waiting on a connection the broker
//! blocked (memory or disk alarm), and the messages dead-lettered, per queue and message type.
//! Counts and names only, never a message's content.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::Kind;

/// The counters of one bus (shared by its publisher and consumers).
#[derive(Debug, Default)]
pub struct BusStats {
    connections: AtomicU64,
    blocked_micros: AtomicU64,
    /// `(queue, message type)` → messages dead-lettered.
    dead_letters: Mutex<BTreeMap<(String, String), u64>>,
    /// `(queue, message type)` → messages received with fields unknown at their own minor.
    unknown_fields: Mutex<BTreeMap<(String, String), u64>>,
}

/// The message type label of a dead-letter whose AMQP `type` was not one of ours.
pub const UNKNOWN_KIND: &str = "unknown";

impl BusStats {
    /// Connections opened so far (1 after the first connection).
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// Connections opened after a loss.
    pub fn reconnects(&self) -> u64 {
        self.connections().saturating_sub(1)
    }

    /// Total time publishers waited because the broker had blocked the connection.
    pub fn blocked(&self) -> Duration {
        Duration::from_micros(self.blocked_micros.load(Ordering::Relaxed))
    }

    /// Dead-letters so far: `(queue, message type, count)`, sorted.
    pub fn dead_letters(&self) -> Vec<(String, String, u64)> {
        let map = self.dead_letters.lock().unwrap_or_else(|p| p.into_inner());
        map.iter().map(|((q, k), n)| (q.clone(), k.clone(), *n)).collect()
    }

    /// Dead-letters so far, all queues together.
    pub fn dead_letter_total(&self) -> u64 {
        self.dead_letters().iter().map(|(_, _, n)| n).sum()
    }

    /// Messages received with fields unknown at the sender's own schema minor (a violation):
    /// `(queue, message type, count)`, sorted.
    pub fn unknown_fields(&self) -> Vec<(String, String, u64)> {
        let map = self.unknown_fields.lock().unwrap_or_else(|p| p.into_inner());
        map.iter().map(|((q, k), n)| (q.clone(), k.clone(), *n)).collect()
    }

    /// Counts a delivery with unknown fields and logs it (the queue, type, message id and the
    /// fields' paths: numbers and names, never a value).
    pub(crate) fn saw_unknown_fields(&self, queue: &str, delivery: &crate::Delivery) {
        if delivery.unknown_fields.is_empty() {
            return;
        }
        let kind = delivery.message.kind();
        tracing::warn!(queue, kind = %kind, message_id = %passerelle_protocol::untrusted::Shown::id(&delivery.message_id),
            minor = delivery.message.schema_minor(), fields = ?delivery.unknown_fields,
            "a message with fields unknown at its own schema minor (a protocol violation): processed without them");
        let mut map = self.unknown_fields.lock().unwrap_or_else(|p| p.into_inner());
        *map.entry((queue.to_owned(), kind.type_name().to_owned())).or_default() += 1;
    }

    pub(crate) fn connected(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add_blocked(&self, waited: Duration) {
        self.blocked_micros.fetch_add(waited.as_micros() as u64, Ordering::Relaxed);
    }

    pub(crate) fn dead_lettered(&self, queue: &str, kind: Option<Kind>) {
        let kind = kind.map_or(UNKNOWN_KIND, Kind::type_name).to_owned();
        let mut map = self.dead_letters.lock().unwrap_or_else(|p| p.into_inner());
        *map.entry((queue.to_owned(), kind)).or_default() += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up() {
        let s = BusStats::default();
        assert_eq!(s.reconnects(), 0);
        s.connected();
        s.connected();
        s.add_blocked(Duration::from_millis(1500));
        s.dead_lettered("p.body.cnaf.results", Some(Kind::Result));
        s.dead_lettered("p.body.cnaf.results", Some(Kind::Result));
        s.dead_lettered("p.body.cnaf.results", None);
        assert_eq!((s.connections(), s.reconnects()), (2, 1));
        assert_eq!(s.blocked(), Duration::from_millis(1500));
        assert_eq!(s.dead_letter_total(), 3);
        assert_eq!(s.dead_letters()[0], ("p.body.cnaf.results".into(), "passerelle.v1.Result".into(), 2));
    }
}
