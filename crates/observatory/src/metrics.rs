//! The observatory's metrics (`passerelle_observatory_…`), for `/metrics`:
//!
//! - read from the stores by the daemon's snapshot task ([`register`], every
//!   [`passerelle_metrics::SNAPSHOT_INTERVAL`]; a scrape never takes the store's lock): cases by
//!   state, solicitation chunks pending per body, the oldest case in flight and the next purge
//!   due, the outbox depth, persons accepted and refused, purges, refusals, reminders,
//!   dead-letters and every audited action; the rights desk's requests opened, answered and
//!   purged and the late answers it recorded, and the rights requests this observatory answered;
//! - measured on the bus ([`instrument`]): each body's response latency, from the publication
//!   of a solicitation chunk to the arrival of its response.
//!
//! Nothing here carries personal data: states, body codes, counts and durations.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use passerelle_bus::{Bus, BusError, Consumer, Delivery, Handler, Message, Outgoing, Queue, Rejected, Verdict};
use passerelle_metrics::{exponential_buckets, Family, FamilyKind, Histogram, MetricsRegistry, SnapshotFamily, Value};
use passerelle_observatory_store::CaseState;

use crate::status::StatusReader;

/// The metrics prefix of the observatory (`passerelle_observatory_…`).
pub const COMPONENT: &str = "observatory";

/// Solicitation chunks whose publication time is remembered at once, for the latency: far more
/// than are ever pending (a chunk is forgotten when answered), bounded so a silent body cannot
/// make the daemon grow.
const MAX_TRACKED_CHUNKS: usize = 200_000;

/// Latency buckets: 10 ms × 4ⁿ, up to about two days (bodies that answer in batches overnight).
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.01, 4.0, 13))
}

fn seconds_between(later: SystemTime, earlier: SystemTime) -> f64 {
    later.duration_since(earlier).map_or(0.0, |d| d.as_secs_f64())
}

/// Registers the store-backed metrics of a running (or built) observatory: read now, then by
/// the snapshot task of the daemon's metrics endpoint.
pub fn register(registry: &MetricsRegistry, status: &StatusReader) {
    let status = status.clone();
    registry.register_refreshed(COMPONENT, move || match read(&status) {
        Ok(families) => families,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the case store for the metrics");
            Vec::new()
        }
    });
}

/// One snapshot of the stores as metric families.
fn read(status: &StatusReader) -> Result<Vec<SnapshotFamily>, passerelle_observatory_store::StoreError> {
    let snapshot = status.status()?;
    let cases = status.cases()?;
    let actions: HashMap<String, u64> = status.engine.store.read(|tx| tx.audit_action_counts())?.into_iter().collect();
    let now = status.engine.clock.now();
    let in_flight: Vec<_> = cases.iter().filter(|c| CaseState::HOLDING_PAYLOADS.contains(&c.state)).collect();
    let oldest = in_flight.iter().map(|c| seconds_between(now, c.arrived_at)).fold(0.0, f64::max);
    let next_purge = in_flight.iter().map(|c| c.expires_at).min().map(|t| seconds_between(t, now));
    let mut pending = snapshot.pending_chunks_by_body.clone();
    for body in &status.engine.config.bodies {
        pending.entry(body.clone()).or_insert(0);
    }
    let action = |a: &str| actions.get(a).copied().unwrap_or(0);
    let mut families = vec![
        SnapshotFamily::by_label(
            "cases",
            "Cases by state",
            FamilyKind::Gauge,
            "state",
            snapshot.cases_by_state.iter().map(|(s, n)| (s.clone(), Value::Int(*n))),
        ),
        SnapshotFamily::by_label(
            "solicitation_chunks_pending",
            "Solicitation chunks not answered yet, per body (cases still collecting)",
            FamilyKind::Gauge,
            "body",
            pending.into_iter().map(|(b, n)| (b, Value::Int(n))),
        ),
        SnapshotFamily::gauge("cases_in_flight", "Cases still holding payloads", in_flight.len() as u64),
        SnapshotFamily {
            name: "oldest_case_in_flight_age_seconds",
            help: "Age of the oldest case still holding payloads (0 when none)",
            kind: FamilyKind::Gauge,
            samples: vec![(Vec::new(), Value::Float(oldest))],
        },
        SnapshotFamily::gauge("outbox_messages", "Messages waiting to be published", snapshot.outbox_depth),
        SnapshotFamily::counter(
            "persons_accepted",
            "Persons accepted in requests (kept cases' metadata)",
            cases.iter().map(|c| c.persons_accepted).sum(),
        ),
        SnapshotFamily::counter("persons_refused", "Persons refused in requests", snapshot.refused_persons),
        SnapshotFamily::counter("purged_cases", "Cases whose payloads were purged", snapshot.purged_cases),
        SnapshotFamily::counter("refused_cases", "Cases refused as a whole", snapshot.refused_cases),
        SnapshotFamily::counter("purges", "Purges recorded in the audit trail", action("purge")),
        SnapshotFamily::counter("reminders", "Reminders sent to bodies (audit trail)", action("reminder")),
        SnapshotFamily::counter("refusals", "Refusals sent to requesters (audit trail)", action("refusal")),
        SnapshotFamily::counter(
            "dead_letters",
            "Messages refused for good on the observatory's queues, by its own checks or the bus's (audit trail)",
            action("dead_letter"),
        ),
        SnapshotFamily::counter("late_responses", "Responses that arrived after the deadline", action("late_response")),
        SnapshotFamily::counter(
            "violations",
            "Protocol violations by bodies: values not asked (dropped), persons left out, unknown fields",
            action("violation"),
        ),
        SnapshotFamily::by_label(
            "audit_entries",
            "Audit trail entries per action (the years kept)",
            FamilyKind::Counter,
            "action",
            passerelle_observatory_store::Action::ALL
                .iter()
                .map(|a| (a.as_str().to_owned(), Value::Int(action(a.as_str())))),
        ),
    ];
    families.extend(rights_families(status, action("rights_answered")));
    if let Some(seconds) = next_purge {
        families.push(SnapshotFamily {
            name: "next_purge_due_seconds",
            help: "Time until the earliest retention cap of a case in flight (negative: overdue)",
            kind: FamilyKind::Gauge,
            samples: vec![(Vec::new(), Value::Float(seconds))],
        });
    }
    Ok(families)
}

/// The rights desk's counters (from its requests, tombstones included: they only grow) and the
/// rights requests this observatory answered as a party asked (audit trail).
fn rights_families(status: &StatusReader, answered_as_party: u64) -> Vec<SnapshotFamily> {
    let mut families = vec![SnapshotFamily::counter(
        "rights_requests_answered_as_party",
        "Rights requests (decree art. 6) this observatory answered as a party asked (audit trail)",
        answered_as_party,
    )];
    let requests = match status.engine.desk.list() {
        Ok(requests) => requests,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the rights desk for the metrics");
            return families;
        }
    };
    let count =
        |f: &dyn Fn(&passerelle_rights::RequestSummary) -> bool| requests.iter().filter(|r| f(r)).count() as u64;
    families.extend([
        SnapshotFamily::counter("rights_requests_opened", "Rights requests opened at this desk", requests.len() as u64),
        SnapshotFamily::counter(
            "rights_requests_answered",
            "Rights requests of this desk answered (every party answered, or the deadline passed)",
            count(&|r| r.state != passerelle_rights::RequestState::Asking),
        ),
        SnapshotFamily::counter(
            "rights_requests_purged",
            "Rights requests of this desk purged (delivered, or past their latest date)",
            count(&|r| r.state == passerelle_rights::RequestState::Purged),
        ),
        SnapshotFamily::counter(
            "rights_late_answers",
            "Answers to this desk's rights requests that arrived after the deadline",
            requests.iter().map(|r| u64::from(r.late_answers)).sum(),
        ),
    ]);
    families
}

/// The latency histograms, one per body.
type LatencyFamily = Family<Vec<(String, String)>, Histogram, fn() -> Histogram>;

/// Per-body response latency, measured on the bus.
#[derive(Debug, Clone)]
pub struct ResponseLatency {
    /// `(solicitation id, chunk index)` → when it was first published.
    sent: Arc<Mutex<HashMap<(String, u32), Instant>>>,
    histogram: LatencyFamily,
}

impl ResponseLatency {
    fn new() -> Self {
        ResponseLatency {
            sent: Arc::default(),
            histogram: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
        }
    }

    fn published(&self, messages: &[Outgoing]) {
        let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        for o in messages {
            if let Message::Solicitation(s) = &o.message {
                if sent.len() >= MAX_TRACKED_CHUNKS {
                    return;
                }
                // A reminder or an outbox re-publish keeps the first time.
                sent.entry((s.solicitation_id.clone(), s.chunk_index)).or_insert_with(Instant::now);
            }
        }
    }

    fn answered(&self, message: &Message) {
        if let Message::Response(r) = message {
            let first =
                self.sent.lock().unwrap_or_else(|p| p.into_inner()).remove(&(r.solicitation_id.clone(), r.chunk_index));
            if let Some(first) = first {
                self.histogram
                    .get_or_create(&vec![("body".to_owned(), r.sender.clone())])
                    .observe(first.elapsed().as_secs_f64());
            }
        }
    }
}

/// Wraps the observatory's bus so each body's response latency is measured (registered as
/// `passerelle_observatory_response_latency_seconds{body}`). Give the result to
/// [`crate::Observatory::build`].
pub fn instrument(bus: Arc<dyn Bus>, registry: &MetricsRegistry) -> Arc<dyn Bus> {
    let latency = ResponseLatency::new();
    let histogram = latency.histogram.clone();
    registry.register_in(COMPONENT, |r| {
        r.register(
            "response_latency_seconds",
            "From the publication of a solicitation chunk to the arrival of its response, per body",
            histogram,
        )
    });
    Arc::new(MeteredBus { inner: bus, latency })
}

/// The observatory's bus with the latency measurement.
struct MeteredBus {
    inner: Arc<dyn Bus>,
    latency: ResponseLatency,
}

#[async_trait::async_trait]
impl Bus for MeteredBus {
    async fn publish(&self, messages: Vec<Outgoing>) -> Result<(), BusError> {
        self.latency.published(&messages);
        self.inner.publish(messages).await
    }

    async fn consume(&self, queue: Queue, handler: Arc<dyn Handler>) -> Result<Consumer, BusError> {
        let handler = Arc::new(MeteredHandler { inner: handler, latency: self.latency.clone() });
        self.inner.consume(queue, handler).await
    }
}

struct MeteredHandler {
    inner: Arc<dyn Handler>,
    latency: ResponseLatency,
}

#[async_trait::async_trait]
impl Handler for MeteredHandler {
    async fn handle(&self, delivery: Delivery) -> Verdict {
        let message = matches!(delivery.message, Message::Response(_)).then(|| delivery.message.clone());
        let verdict = self.inner.handle(delivery).await;
        if let (Verdict::Ack, Some(message)) = (&verdict, message) {
            self.latency.answered(&message);
        }
        verdict
    }

    /// Passed through: the observatory audits the refusals of the bus.
    async fn rejected(&self, rejected: Rejected) -> Result<(), String> {
        self.inner.rejected(rejected).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use passerelle_protocol::v1;

    fn solicitation(id: &str, chunk: u32) -> Outgoing {
        let s = v1::Solicitation { solicitation_id: id.into(), chunk_index: chunk, ..Default::default() };
        Outgoing::new(Message::Solicitation(s), "cnam", SystemTime::now() + std::time::Duration::from_secs(60))
    }

    #[test]
    fn the_metrics_address_is_checked_with_the_settings() {
        let mut s = crate::ObservatorySettings::new("carsat-sud-est", "/tmp/x");
        s.metrics_addr = Some("127.0.0.1:9464".into());
        s.resolve().unwrap();
        s.metrics_addr = Some("9464".into());
        assert_eq!(s.resolve().unwrap_err().key, "metrics_addr");
    }

    #[test]
    fn a_response_is_timed_against_its_first_solicitation() {
        let latency = ResponseLatency::new();
        latency.published(&[solicitation("s1", 0), solicitation("s1", 1)]);
        latency.published(&[solicitation("s1", 0)]);
        let response = |chunk| {
            Message::Response(v1::Response {
                sender: "cnam".into(),
                solicitation_id: "s1".into(),
                chunk_index: chunk,
                ..Default::default()
            })
        };
        latency.answered(&response(0));
        latency.answered(&response(0));
        let registry = MetricsRegistry::default();
        let h = latency.histogram.clone();
        registry.register_in(COMPONENT, |r| r.register("response_latency_seconds", "latency", h));
        let text = registry.encode();
        assert!(text.contains("passerelle_observatory_response_latency_seconds_count{body=\"cnam\"} 1"), "{text}");
        assert_eq!(latency.sent.lock().unwrap().len(), 1, "chunk 1 is still awaited");
    }

    /// A scrape answers from the last snapshot while a writer holds the case store, which the
    /// snapshot task waits for; the next snapshot after the commit shows the write.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_scrape_does_not_wait_for_a_writer_transaction() {
        use passerelle_metrics::{get, Health, MetricsServer};
        let dir = tempfile::tempdir().unwrap();
        let settings = crate::ObservatorySettings::new("carsat-sud-est", dir.path());
        let bus = passerelle_bus::InProcessBus::new(&passerelle_bus::BusSettings::default());
        let clock = Arc::new(passerelle_protocol::rules::SystemClock);
        let observatory = crate::Observatory::build(settings, Arc::new(bus.connect_as("o")), clock).unwrap();
        let status = observatory.status_reader();
        let registry = MetricsRegistry::default();
        register(&registry, &status);
        let server = MetricsServer::start("127.0.0.1:0", registry.clone(), Health::default()).await.unwrap();

        let (in_transaction, commit) = (std::sync::mpsc::channel(), std::sync::mpsc::channel::<()>());
        let engine = Arc::clone(&status.engine);
        let writer = std::thread::spawn(move || {
            engine.store.write(|tx| {
                let now = SystemTime::now();
                let entry = passerelle_observatory_store::OutboxEntry {
                    case_id: "c1".into(),
                    kind: "passerelle.v1.Solicitation".into(),
                    routing_key: "cnam".into(),
                    message_id: "m1".into(),
                    expires_at: now,
                    payload: vec![1],
                };
                tx.enqueue(&entry, now)?;
                in_transaction.0.send(()).unwrap();
                commit.1.recv().unwrap();
                Ok::<_, passerelle_observatory_store::StoreError>(())
            })
        });
        in_transaction.1.recv().unwrap();
        let refresh = tokio::task::spawn_blocking(move || registry.refresh());
        let scraped = tokio::time::timeout(std::time::Duration::from_secs(2), get(server.local_addr, "/metrics"))
            .await
            .expect("the scrape waited for the writer's transaction")
            .unwrap();
        assert_eq!(scraped.status, 200);
        assert!(scraped.body.contains("passerelle_observatory_outbox_messages 0"), "{}", scraped.body);
        for rights in ["rights_requests_opened", "rights_late_answers", "rights_requests_answered_as_party"] {
            assert!(scraped.body.contains(&format!("passerelle_observatory_{rights}_total 0")), "{}", scraped.body);
        }
        assert!(!refresh.is_finished(), "the snapshot waits for the writer, not the scrape");
        commit.0.send(()).unwrap();
        writer.join().unwrap().unwrap();
        refresh.await.unwrap();
        let after = get(server.local_addr, "/metrics").await.unwrap();
        assert!(after.body.contains("passerelle_observatory_outbox_messages 1"), "{}", after.body);
        server.shutdown().await;
    }
}
