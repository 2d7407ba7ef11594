//! Metrics read from where their values already live, so nothing has to be kept in step by
//! hand. Two ways, by what reading costs:
//!
//! - a [`SnapshotCollector`] calls a closure on every scrape: for values read without a lock
//!   anyone waits on (a service's atomic counters);
//! - [`RefreshedFamilies`] are read by the daemon's snapshot task every [`SNAPSHOT_INTERVAL`] and
//!   a scrape encodes the last snapshot: for a store's counts, whose reads take the lock its
//!   writers hold, so a scrape never waits for a transaction and never holds one up.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

/// A sample value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    Int(u64),
    Float(f64),
}

/// Whether a family only grows (a counter: its samples are named `…_total`) or goes up and down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FamilyKind {
    Counter,
    Gauge,
}

/// One metric family: a name (without the registry's prefix, and without `_total` for a
/// counter), its help text and its samples, each with its labels.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotFamily {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: FamilyKind,
    pub samples: Vec<(Vec<(&'static str, String)>, Value)>,
}

impl SnapshotFamily {
    /// A counter with one unlabelled sample.
    pub fn counter(name: &'static str, help: &'static str, value: u64) -> Self {
        SnapshotFamily { name, help, kind: FamilyKind::Counter, samples: vec![(Vec::new(), Value::Int(value))] }
    }

    /// A gauge with one unlabelled sample.
    pub fn gauge(name: &'static str, help: &'static str, value: u64) -> Self {
        SnapshotFamily { name, help, kind: FamilyKind::Gauge, samples: vec![(Vec::new(), Value::Int(value))] }
    }

    /// A family with one sample per value of one label.
    pub fn by_label(
        name: &'static str,
        help: &'static str,
        kind: FamilyKind,
        label: &'static str,
        samples: impl IntoIterator<Item = (String, Value)>,
    ) -> Self {
        SnapshotFamily { name, help, kind, samples: samples.into_iter().map(|(v, x)| (vec![(label, v)], x)).collect() }
    }
}

/// Encodes the families returned by a closure, on every scrape. A closure that cannot read its
/// source returns what it can (it logs the failure), so a scrape never fails as a whole.
pub struct SnapshotCollector<F>(F);

impl<F> SnapshotCollector<F>
where
    F: Fn() -> Vec<SnapshotFamily> + Send + Sync + 'static,
{
    pub fn new(read: F) -> Box<Self> {
        Box::new(SnapshotCollector(read))
    }
}

impl<F> std::fmt::Debug for SnapshotCollector<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SnapshotCollector")
    }
}

fn encode_value(
    kind: FamilyKind,
    value: Value,
    encoder: prometheus_client::encoding::MetricEncoder<'_>,
) -> std::fmt::Result {
    match (kind, value) {
        (FamilyKind::Counter, Value::Int(v)) => ConstCounter::new(v).encode(encoder),
        (FamilyKind::Counter, Value::Float(v)) => ConstCounter::new(v).encode(encoder),
        (FamilyKind::Gauge, Value::Int(v)) => ConstGauge::new(i64::try_from(v).unwrap_or(i64::MAX)).encode(encoder),
        (FamilyKind::Gauge, Value::Float(v)) => ConstGauge::new(v).encode(encoder),
    }
}

impl<F> Collector for SnapshotCollector<F>
where
    F: Fn() -> Vec<SnapshotFamily> + Send + Sync + 'static,
{
    fn encode(&self, encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        encode_families((self.0)(), encoder)
    }
}

fn encode_families(
    families: impl IntoIterator<Item = SnapshotFamily>,
    mut encoder: DescriptorEncoder,
) -> Result<(), std::fmt::Error> {
    for family in families {
        let metric_type = match family.kind {
            FamilyKind::Counter => MetricType::Counter,
            FamilyKind::Gauge => MetricType::Gauge,
        };
        let mut metric = encoder.encode_descriptor(family.name, family.help, None, metric_type)?;
        if let [(labels, value)] = family.samples.as_slice() {
            if labels.is_empty() {
                encode_value(family.kind, *value, metric)?;
                continue;
            }
        }
        for (labels, value) in family.samples {
            encode_value(family.kind, value, metric.encode_family(&labels)?)?;
        }
    }
    Ok(())
}

/// How often the daemon's snapshot task reads the store-backed families. A read holds the
/// store's lock while it counts (the store's writers wait meanwhile), so scrapes do not read:
/// every 5 s keeps what Prometheus sees (every 15 s by default) at most a third of its interval
/// old, for one read of each store per 5 s however many scrapers there are.
pub const SNAPSHOT_INTERVAL: Duration = Duration::from_secs(5);

/// Reads a source's families (a closure that cannot read its source logs why and returns what
/// it can).
type Read = Box<dyn Fn() -> Vec<SnapshotFamily> + Send + Sync>;

/// Families read by [`RefreshedFamilies::refresh`] (the daemon's snapshot task), encoded from
/// the last read at each scrape.
pub(crate) struct RefreshedFamilies {
    read: Read,
    /// The last read. The lock is held only to swap or clone the `Arc`, never while reading.
    latest: RwLock<Arc<Vec<SnapshotFamily>>>,
}

impl std::fmt::Debug for RefreshedFamilies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshedFamilies").field("families", &self.latest().len()).finish_non_exhaustive()
    }
}

impl RefreshedFamilies {
    /// Reads the source once now, so the families are there from the start.
    pub(crate) fn new(read: impl Fn() -> Vec<SnapshotFamily> + Send + Sync + 'static) -> Arc<Self> {
        let latest = RwLock::new(Arc::new(read()));
        Arc::new(RefreshedFamilies { read: Box::new(read), latest })
    }

    /// Reads the source again (blocking: it may wait for the store's lock).
    pub(crate) fn refresh(&self) {
        let fresh = Arc::new((self.read)());
        *self.latest.write().unwrap_or_else(|p| p.into_inner()) = fresh;
    }

    fn latest(&self) -> Arc<Vec<SnapshotFamily>> {
        Arc::clone(&self.latest.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// The collector encoding the last read.
    pub(crate) fn collector(self: &Arc<Self>) -> Box<RefreshedCollector> {
        Box::new(RefreshedCollector(Arc::clone(self)))
    }
}

/// Encodes the last read of [`RefreshedFamilies`].
#[derive(Debug)]
pub(crate) struct RefreshedCollector(Arc<RefreshedFamilies>);

impl Collector for RefreshedCollector {
    fn encode(&self, encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        encode_families(self.0.latest().iter().cloned(), encoder)
    }
}
