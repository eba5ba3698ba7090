//! Per-plugin-version call metrics, kept in memory since the engine
//! started (they are not persisted): calls, errors and a histogram of call
//! durations over fixed buckets, cheap enough to update on every call.
//! The same call is reported to the version's [`CallObserver`] (the
//! engine's exporter, `/metrics`), so the API's view and the scraped one
//! count the same calls without the runtime knowing the exporter.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Told of every call of one plugin version, beside the runtime's own
/// counters: how the engine publishes them (e.g. as Prometheus series)
/// without the runtime depending on it.
pub trait CallObserver: Send + Sync + fmt::Debug {
    /// A call ran for `duration`; `failed`: it returned an error.
    fn record(&self, duration: Duration, failed: bool);
}

/// The observer of a version, given its plugin name and version number;
/// made once, when the version is first activated.
pub type ObserveCalls = fn(&str, u32) -> Box<dyn CallObserver>;

/// Upper bounds of the duration buckets, in microseconds; a last bucket
/// takes everything slower.
pub const BUCKETS_US: [u64; 10] = [50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 50_000, 100_000];

#[derive(Debug)]
pub(crate) struct Metrics {
    calls: AtomicU64,
    errors: AtomicU64,
    refused: AtomicU64,
    buckets: [AtomicU64; BUCKETS_US.len() + 1],
    observer: Option<Box<dyn CallObserver>>,
}

/// A bucket of the histogram: calls that took at most `le_us` (`None`: the
/// rest), not counting faster buckets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub le_us: Option<u64>,
    pub count: u64,
}

/// A snapshot of one plugin version's metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetricsView {
    /// Calls that ran (whatever their outcome).
    pub calls: u64,
    /// Calls that ran and failed.
    pub errors: u64,
    /// Calls refused by the open circuit breaker, not run.
    pub refused: u64,
    pub durations: Vec<Bucket>,
}

impl Metrics {
    /// The metrics of version `version` of plugin `name`, also reported
    /// to the observer `observe` makes for it.
    pub(crate) fn new(name: &str, version: u32, observe: Option<ObserveCalls>) -> Metrics {
        Metrics {
            calls: AtomicU64::default(),
            errors: AtomicU64::default(),
            refused: AtomicU64::default(),
            buckets: Default::default(),
            observer: observe.map(|observe| observe(name, version)),
        }
    }

    pub(crate) fn record(&self, duration: Duration, failed: bool) {
        if let Some(observer) = &self.observer {
            observer.record(duration, failed);
        }
        self.calls.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        let us = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX);
        let bucket = BUCKETS_US.iter().position(|&le| us <= le).unwrap_or(BUCKETS_US.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_refused(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn view(&self) -> MetricsView {
        let bounds = BUCKETS_US.iter().copied().map(Some).chain([None]);
        MetricsView {
            calls: self.calls.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            durations: bounds
                .zip(&self.buckets)
                .map(|(le_us, count)| Bucket { le_us, count: count.load(Ordering::Relaxed) })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_land_in_the_first_bucket_that_holds_them() {
        let metrics = Metrics::new("test", 1, None);
        metrics.record(Duration::from_micros(50), false);
        metrics.record(Duration::from_micros(51), true);
        metrics.record(Duration::from_secs(1), true);
        let view = metrics.view();
        assert_eq!((view.calls, view.errors), (3, 2));
        let counts: Vec<u64> = view.durations.iter().map(|b| b.count).collect();
        assert_eq!(counts, [1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(view.durations.last().unwrap().le_us, None);
    }
}
