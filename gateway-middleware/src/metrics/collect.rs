//! The metrics of [`Metrics::gauge_fn`](super::Metrics::gauge_fn) and
//! [`Metrics::counter_fn`](super::Metrics::counter_fn): closures read on
//! every scrape, through a `prometheus-client` [`Collector`].

use std::fmt;
use std::sync::Mutex;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

type GaugeFn = Box<dyn Fn() -> i64 + Send + Sync>;
type CounterFn = Box<dyn Fn() -> u64 + Send + Sync>;

/// What a closure reads.
pub(super) enum FnKind {
    Gauge(GaugeFn),
    Counter(CounterFn),
}

/// One metric read from a closure.
struct FnMetric {
    name: String,
    help: String,
    read: FnKind,
}

/// The closures, in the order they were added; registered once in the
/// registry, filled afterwards.
#[derive(Default)]
pub(super) struct FnCollector {
    metrics: Mutex<Vec<FnMetric>>,
}

impl FnCollector {
    pub(super) fn push(&self, name: String, help: String, read: FnKind) {
        let mut metrics = self.metrics.lock().unwrap_or_else(|e| e.into_inner());
        metrics.push(FnMetric { name, help, read });
    }
}

impl fmt::Debug for FnCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let metrics = self.metrics.lock().unwrap_or_else(|e| e.into_inner());
        let names: Vec<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
        f.debug_struct("FnCollector")
            .field("names", &names)
            .finish()
    }
}

impl Collector for FnCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), fmt::Error> {
        let metrics = self.metrics.lock().unwrap_or_else(|e| e.into_inner());
        for metric in metrics.iter() {
            match &metric.read {
                FnKind::Gauge(read) => {
                    let gauge = ConstGauge::new(read());
                    let out = encoder.encode_descriptor(
                        &metric.name,
                        &metric.help,
                        None,
                        gauge.metric_type(),
                    )?;
                    gauge.encode(out)?;
                }
                FnKind::Counter(read) => {
                    let counter = ConstCounter::new(read());
                    let out = encoder.encode_descriptor(
                        &metric.name,
                        &metric.help,
                        None,
                        counter.metric_type(),
                    )?;
                    counter.encode(out)?;
                }
            }
        }
        Ok(())
    }
}
