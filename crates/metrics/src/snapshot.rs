//! Metrics read at scrape time: a [`SnapshotCollector`] calls a closure on every scrape and
//! encodes the families it returns. For values that already live somewhere — a store's counts,
//! a service's atomic counters — so nothing has to be kept in step by hand.

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
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for family in (self.0)() {
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
}
