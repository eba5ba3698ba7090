//! The engine's Prometheus metrics, served by `GET /metrics`: every series'
//! name, type, labels and help text in one table ([`SERIES`]), the
//! recorder, and one function per outcome, called on one line where the
//! outcome is decided (ingest, delivery, HTTP layer).
//!
//! The recorder is the `metrics` facade's, global to the process:
//! [`install`] sets it up the first time and hands back the same handle
//! after, so a process that starts several engines (tests) shares one.
//! The lower layers know no exporter: the queue, component and store-health
//! gauges are read from the store's plain views when scraped, so they
//! cannot drift from it; the plugin series are updated by the same call
//! that updates the runtime's own per-version counts, through
//! [`PluginSeries`], the runtime's [`CallObserver`]. Nothing in the store or
//! the runtime imports this module (`engine/tests/layers.rs`).

use std::sync::OnceLock;
use std::time::Duration;

use ::metrics::{Counter, Histogram, counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::model::EventOutcome;
use crate::quota::Limit;
use crate::runtime::{BUCKETS_US, CallObserver};

pub const EVENTS_INGESTED: &str = "wasmhook_events_ingested_total";
pub const DELIVERIES: &str = "wasmhook_deliveries_total";
pub const DELIVERY_RETRIES: &str = "wasmhook_delivery_retries_total";
pub const DELIVERY_DURATION: &str = "wasmhook_delivery_duration_seconds";
pub const QUEUE_DEPTH: &str = "wasmhook_queue_depth";
pub const QUEUE_OLDEST_AGE: &str = "wasmhook_queue_oldest_age_seconds";
pub const PLUGIN_CALLS: &str = "wasmhook_plugin_calls_total";
pub const PLUGIN_ERRORS: &str = "wasmhook_plugin_errors_total";
pub const PLUGIN_DURATION: &str = "wasmhook_plugin_duration_seconds";
pub const HTTP_REQUESTS: &str = "wasmhook_http_requests_total";
pub const HTTP_DURATION: &str = "wasmhook_http_request_duration_seconds";
pub const LIMIT_REFUSALS: &str = "wasmhook_limit_refusals_total";
pub const UPLOADS_IN_FLIGHT: &str = "wasmhook_uploads_in_flight";
pub const COMPONENTS_STORED: &str = "wasmhook_components_stored";
pub const COMPONENT_BYTES_STORED: &str = "wasmhook_component_bytes_stored";
pub const STORE_AVAILABLE: &str = "wasmhook_store_available";
pub const STORE_FAILED_COMMITS: &str = "wasmhook_store_failed_commits_total";
pub const STORE_FREE_BYTES: &str = "wasmhook_store_free_bytes";
pub const STORE_SPACE_LOW: &str = "wasmhook_store_space_low";
pub const HTTP_CONNECTIONS_OPEN: &str = "wasmhook_http_connections_open";
pub const HTTP_CONNECTIONS_MAX: &str = "wasmhook_http_connections_max";
pub const HTTP_CONNECTIONS_AT_CAP: &str = "wasmhook_http_connections_at_cap_total";
pub const HTTP_TIMEOUTS: &str = "wasmhook_http_timeouts_total";

/// What kind of series, and a histogram's bucket bounds (seconds).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram(&'static [f64]),
}

/// One series as operators see it (and the README lists it).
#[derive(Debug, Clone, Copy)]
pub struct Series {
    pub name: &'static str,
    pub kind: Kind,
    pub labels: &'static [&'static str],
    pub help: &'static str,
}

/// Delivery attempts take from milliseconds to the hook's timeout.
const DELIVERY_BUCKETS: [f64; 13] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// The runtime's own buckets (`runtime::BUCKETS_US`), in seconds: both
/// views of a plugin's durations agree.
const PLUGIN_BUCKETS: [f64; BUCKETS_US.len()] = {
    let mut seconds = [0.0; BUCKETS_US.len()];
    let mut i = 0;
    while i < seconds.len() {
        seconds[i] = BUCKETS_US[i] as f64 / 1e6;
        i += 1;
    }
    seconds
};

/// API requests answer in microseconds to (batches, uploads) seconds.
const HTTP_BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

/// Every series the engine exports.
pub const SERIES: [Series; 23] = [
    Series {
        name: EVENTS_INGESTED,
        kind: Kind::Counter,
        labels: &["outcome"],
        help: "Events ingested (follow-ups included), by outcome: accepted (queued for its hooks), skipped (by its serializer), suppressed (webhooks disabled), failed (its serializer failed).",
    },
    Series {
        name: DELIVERIES,
        kind: Kind::Counter,
        labels: &["result", "status_class"],
        help: "Delivery attempts recorded, by result (succeeded, failed, cancelled) and the receiver's status class (2xx to 5xx; none: no answer, or not sent).",
    },
    Series {
        name: DELIVERY_RETRIES,
        kind: Kind::Counter,
        labels: &[],
        help: "Failed delivery attempts that were scheduled to be retried.",
    },
    Series {
        name: DELIVERY_DURATION,
        kind: Kind::Histogram(&DELIVERY_BUCKETS),
        labels: &[],
        help: "Duration of the delivery attempts counted as succeeded or failed, from sending the request to reading the answer (0 when the hook's transformer failed before sending), in seconds.",
    },
    Series {
        name: QUEUE_DEPTH,
        kind: Kind::Gauge,
        labels: &[],
        help: "Deliveries waiting for an attempt (first ones and scheduled retries), read when scraped.",
    },
    Series {
        name: QUEUE_OLDEST_AGE,
        kind: Kind::Gauge,
        labels: &[],
        help: "How long the earliest waiting delivery has been due, in seconds (0 when none is due): the queue's lag.",
    },
    Series {
        name: PLUGIN_CALLS,
        kind: Kind::Counter,
        labels: &["plugin", "version"],
        help: "Serializer calls that ran, by plugin and version (0: bundled); calls refused by an open circuit breaker are not counted.",
    },
    Series {
        name: PLUGIN_ERRORS,
        kind: Kind::Counter,
        labels: &["plugin", "version"],
        help: "Serializer calls that ran and failed (an error returned, a trap, a limit hit), by plugin and version.",
    },
    Series {
        name: PLUGIN_DURATION,
        kind: Kind::Histogram(&PLUGIN_BUCKETS),
        labels: &["plugin"],
        help: "Duration of serializer calls, by plugin, in seconds.",
    },
    Series {
        name: HTTP_REQUESTS,
        kind: Kind::Counter,
        labels: &["route", "method", "status"],
        help: "API requests answered, by route template (unmatched: no route), method and status code.",
    },
    Series {
        name: HTTP_DURATION,
        kind: Kind::Histogram(&HTTP_BUCKETS),
        labels: &["route"],
        help: "Duration of API requests, by route template, in seconds.",
    },
    Series {
        name: LIMIT_REFUSALS,
        kind: Kind::Counter,
        labels: &["limit"],
        help: "Requests refused by a quota or a limit, by the limit's setting: max_hooks_per_academy, max_transformer_bytes_per_academy (403), max_uploads_in_flight_per_academy, max_uploads_in_flight, ingest_events_per_second, api_writes_per_second (429).",
    },
    Series {
        name: UPLOADS_IN_FLIGHT,
        kind: Kind::Gauge,
        labels: &[],
        help: "Component uploads being received or checked now, read when scraped.",
    },
    Series {
        name: COMPONENTS_STORED,
        kind: Kind::Gauge,
        labels: &[],
        help: "Components (plugin versions, hook transformers) in the store, each stored once per sha256, read when scraped.",
    },
    Series {
        name: COMPONENT_BYTES_STORED,
        kind: Kind::Gauge,
        labels: &[],
        help: "Bytes of the components in the store, read when scraped.",
    },
    Series {
        name: STORE_AVAILABLE,
        kind: Kind::Gauge,
        labels: &[],
        help: "1 while the store takes writes; 0 from a storage failure (disk full, I/O error) until the database is re-opened.",
    },
    Series {
        name: STORE_FAILED_COMMITS,
        kind: Kind::Counter,
        labels: &[],
        help: "Write transactions the storage failed or refused (disk full, I/O error, or refused since one until the re-open).",
    },
    Series {
        name: STORE_FREE_BYTES,
        kind: Kind::Gauge,
        labels: &[],
        help: "Free bytes on the volume of the data directory (for an unprivileged process), measured a few times a second.",
    },
    Series {
        name: STORE_SPACE_LOW,
        kind: Kind::Gauge,
        labels: &[],
        help: "1 while free space is below the floor (storage.min_free_percent, storage.min_free_bytes): writes that grow the store are refused.",
    },
    Series { name: HTTP_CONNECTIONS_OPEN, kind: Kind::Gauge, labels: &[], help: "API connections open now." },
    Series {
        name: HTTP_CONNECTIONS_MAX,
        kind: Kind::Gauge,
        labels: &[],
        help: "The most API connections open at once: http.max_connections, lowered to fit the open-files limit.",
    },
    Series {
        name: HTTP_CONNECTIONS_AT_CAP,
        kind: Kind::Counter,
        labels: &[],
        help: "Times every API connection slot was taken when the engine went to accept the next connection: new connections then waited in the listen backlog until one closed.",
    },
    Series {
        name: HTTP_TIMEOUTS,
        kind: Kind::Counter,
        labels: &["kind"],
        help: "API connections cut because the client stalled, by kind: header (a request head, or a new connection's first, not complete within http.header_timeout), idle (kept alive without a request for http.keepalive_timeout), body (a request body not complete within http.body_timeout: answered 408).",
    },
];

/// How often histogram samples are folded into their buckets when nobody
/// scrapes (the recorder keeps them until then).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder: installed and its series described on the
/// first call, the same handle after. Call it before the runtime
/// activates plugins: their series are registered then.
pub fn install() -> PrometheusHandle {
    HANDLE.get_or_init(install_once).clone()
}

fn install_once() -> PrometheusHandle {
    let mut builder = PrometheusBuilder::new();
    for series in &SERIES {
        if let Kind::Histogram(buckets) = series.kind {
            builder = builder
                .set_buckets_for_metric(Matcher::Full(series.name.to_owned()), buckets)
                .expect("bucket lists are non-empty constants");
        }
    }
    let recorder = builder.build_recorder();
    let handle = recorder.handle();
    if let Err(error) = ::metrics::set_global_recorder(recorder) {
        // Only an embedding program with its own recorder gets here.
        tracing::warn!(%error, "another metrics recorder is installed: /metrics stays empty");
        return handle;
    }
    for series in &SERIES {
        let help = series.help;
        match series.kind {
            Kind::Counter => ::metrics::describe_counter!(series.name, help),
            Kind::Gauge => ::metrics::describe_gauge!(series.name, help),
            Kind::Histogram(_) => ::metrics::describe_histogram!(series.name, help),
        }
    }
    start_known_series_at_zero();
    let upkeep = handle.clone();
    let spawned = std::thread::Builder::new().name("metrics-upkeep".into()).spawn(move || {
        loop {
            std::thread::sleep(UPKEEP_EVERY);
            upkeep.run_upkeep();
        }
    });
    if let Err(error) = spawned {
        tracing::warn!(%error, "no metrics upkeep thread: histograms are folded at scrape time only");
    }
    handle
}

/// Registers the counters whose labels are known in advance, so that they
/// are scraped (as 0) before their first event and `rate()` sees the first
/// increase.
fn start_known_series_at_zero() {
    for outcome in ["accepted", "skipped", "suppressed", "failed"] {
        counter!(EVENTS_INGESTED, "outcome" => outcome).absolute(0);
    }
    let results = [("succeeded", "2xx"), ("failed", "3xx"), ("failed", "4xx"), ("failed", "5xx"), ("failed", "none")];
    for (result, class) in results.into_iter().chain([("cancelled", "none")]) {
        counter!(DELIVERIES, "result" => result, "status_class" => class).absolute(0);
    }
    counter!(DELIVERY_RETRIES).absolute(0);
    for limit in Limit::ALL {
        counter!(LIMIT_REFUSALS, "limit" => limit.name()).absolute(0);
    }
    counter!(STORE_FAILED_COMMITS).absolute(0);
    counter!(HTTP_CONNECTIONS_AT_CAP).absolute(0);
    for kind in [HttpTimeout::Header, HttpTimeout::Idle, HttpTimeout::Body] {
        counter!(HTTP_TIMEOUTS, "kind" => kind.label()).absolute(0);
    }
}

/// An event's ingest outcome was decided.
pub fn event_ingested(outcome: &EventOutcome) {
    let outcome = match outcome {
        EventOutcome::Accepted => "accepted",
        EventOutcome::Skipped { .. } => "skipped",
        EventOutcome::Suppressed => "suppressed",
        EventOutcome::Failed { .. } => "failed",
    };
    counter!(EVENTS_INGESTED, "outcome" => outcome).increment(1);
}

/// A delivery attempt was made (the request sent, or its transformer
/// failed before sending): its result, the receiver's status, how long it
/// took, and whether it is retried.
pub fn delivery_attempted(succeeded: bool, status: Option<u16>, duration: Duration, retried: bool) {
    let result = if succeeded { "succeeded" } else { "failed" };
    counter!(DELIVERIES, "result" => result, "status_class" => status_class(status)).increment(1);
    histogram!(DELIVERY_DURATION).record(duration.as_secs_f64());
    if retried {
        counter!(DELIVERY_RETRIES).increment(1);
    }
}

/// A delivery ended without a request (inactive hook, cancelled by its
/// transformer).
pub fn delivery_cancelled() {
    counter!(DELIVERIES, "result" => "cancelled", "status_class" => "none").increment(1);
}

/// `2xx` … `5xx`; `none` without an answer.
fn status_class(status: Option<u16>) -> &'static str {
    match status.map(|status| status / 100) {
        Some(2) => "2xx",
        Some(3) => "3xx",
        Some(4) => "4xx",
        Some(5) => "5xx",
        _ => "none",
    }
}

/// The queue as last read from the store.
pub fn queue(depth: u64, oldest_wait: Duration) {
    gauge!(QUEUE_DEPTH).set(depth as f64);
    gauge!(QUEUE_OLDEST_AGE).set(oldest_wait.as_secs_f64());
}

/// A request was refused by `limit`.
pub fn limit_refused(limit: Limit) {
    counter!(LIMIT_REFUSALS, "limit" => limit.name()).increment(1);
}

/// The uploads in flight, and the count and bytes of the stored
/// components, as read now.
pub fn storage(uploads_in_flight: u64, components: u64, component_bytes: u64) {
    gauge!(UPLOADS_IN_FLIGHT).set(uploads_in_flight as f64);
    gauge!(COMPONENTS_STORED).set(components as f64);
    gauge!(COMPONENT_BYTES_STORED).set(component_bytes as f64);
}

/// The store's health as read now (`store::HealthView`, passed as plain
/// numbers): whether it takes writes, the write transactions failed since
/// it opened, and the latest measure of free space (if any) and whether it
/// is below the floor.
pub fn store_health(available: bool, failed_commits: u64, free_bytes: Option<u64>, space_low: bool) {
    gauge!(STORE_AVAILABLE).set(if available { 1.0 } else { 0.0 });
    counter!(STORE_FAILED_COMMITS).absolute(failed_commits);
    if let Some(free) = free_bytes {
        gauge!(STORE_FREE_BYTES).set(free as f64);
    }
    gauge!(STORE_SPACE_LOW).set(if space_low { 1.0 } else { 0.0 });
}

/// An API request was answered.
pub fn http_request(route: &str, method: &str, status: u16, duration: Duration) {
    let (route, method) = (route.to_owned(), method.to_owned());
    counter!(HTTP_REQUESTS, "route" => route.clone(), "method" => method, "status" => status.to_string()).increment(1);
    histogram!(HTTP_DURATION, "route" => route).record(duration.as_secs_f64());
}

/// Why a client's connection was cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpTimeout {
    /// A request head (or a new connection's first) arrived too slowly.
    Header,
    /// A kept-alive connection stayed idle too long.
    Idle,
    /// A request body arrived too slowly.
    Body,
}

impl HttpTimeout {
    /// Its `kind` label.
    pub fn label(self) -> &'static str {
        match self {
            HttpTimeout::Header => "header",
            HttpTimeout::Idle => "idle",
            HttpTimeout::Body => "body",
        }
    }
}

/// An API connection was accepted.
pub fn http_connection_opened() {
    gauge!(HTTP_CONNECTIONS_OPEN).increment(1.0);
}

/// An API connection was closed.
pub fn http_connection_closed() {
    gauge!(HTTP_CONNECTIONS_OPEN).decrement(1.0);
}

/// The connection cap, once sized.
pub fn http_connection_limit(max: usize) {
    gauge!(HTTP_CONNECTIONS_MAX).set(max as f64);
}

/// Every connection slot was taken when the listener went to accept.
pub fn http_connections_at_cap() {
    counter!(HTTP_CONNECTIONS_AT_CAP).increment(1);
}

/// A stalled client's connection (or request) was cut.
pub fn http_timeout(timeout: HttpTimeout) {
    counter!(HTTP_TIMEOUTS, "kind" => timeout.label()).increment(1);
}

/// The series of one serializer version, registered once (at activation)
/// so that a call updates them without looking them up.
#[derive(Debug)]
pub struct PluginSeries {
    calls: Counter,
    errors: Counter,
    duration: Histogram,
}

impl PluginSeries {
    /// The runtime's observer of version `version` of `plugin`
    /// (`RuntimeConfig::observe_calls`).
    pub fn observer(plugin: &str, version: u32) -> Box<dyn CallObserver> {
        Box::new(PluginSeries::new(plugin, version))
    }

    fn new(plugin: &str, version: u32) -> PluginSeries {
        let labels = [("plugin", plugin.to_owned()), ("version", version.to_string())];
        PluginSeries {
            calls: counter!(PLUGIN_CALLS, &labels),
            errors: counter!(PLUGIN_ERRORS, &labels),
            duration: histogram!(PLUGIN_DURATION, "plugin" => plugin.to_owned()),
        }
    }
}

impl CallObserver for PluginSeries {
    fn record(&self, duration: Duration, failed: bool) {
        self.calls.increment(1);
        if failed {
            self.errors.increment(1);
        }
        self.duration.record(duration.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_lists_every_series_with_its_type_and_labels() {
        let readme = include_str!("../../README.md");
        for series in &SERIES {
            let kind = match series.kind {
                Kind::Counter => "counter",
                Kind::Gauge => "gauge",
                Kind::Histogram(_) => "histogram",
            };
            let labels = series.labels.iter().map(|l| format!("`{l}`")).collect::<Vec<_>>().join(", ");
            let row = format!("| `{}` | {kind} | {labels} |", series.name);
            assert!(readme.contains(&row), "README.md has no row starting {row:?}");
        }
    }

    #[test]
    fn status_classes() {
        assert_eq!(status_class(Some(204)), "2xx");
        assert_eq!(status_class(Some(410)), "4xx");
        assert_eq!(status_class(Some(599)), "5xx");
        assert_eq!(status_class(Some(101)), "none");
        assert_eq!(status_class(None), "none");
    }

    #[test]
    fn plugin_buckets_are_the_runtimes_in_seconds() {
        assert_eq!(PLUGIN_BUCKETS[0], 50e-6);
        assert_eq!(PLUGIN_BUCKETS[PLUGIN_BUCKETS.len() - 1], 0.1);
    }
}
