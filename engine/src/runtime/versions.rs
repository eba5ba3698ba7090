//! What the runtime keeps per serializer version it activated, by plugin
//! name and version number (0: bundled): its metrics and its circuit
//! breaker. In memory only, since the engine started; a version activated
//! again finds its counts where it left them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::breaker::{Breaker, BreakerView};
use super::metrics::{Metrics, MetricsView, ObserveCalls};

/// One version's counters.
#[derive(Debug)]
pub(crate) struct VersionStats {
    pub(crate) name: String,
    pub(crate) version: u32,
    pub(crate) metrics: Metrics,
    pub(crate) breaker: Breaker,
}

/// A snapshot of a version's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionHealth {
    pub metrics: MetricsView,
    pub breaker: BreakerView,
}

#[derive(Debug)]
pub(crate) struct Registry {
    versions: Mutex<HashMap<(String, u32), Arc<VersionStats>>>,
    /// Makes each new version's call observer (`RuntimeConfig::observe_calls`).
    observe: Option<ObserveCalls>,
}

impl Registry {
    pub(crate) fn new(observe: Option<ObserveCalls>) -> Registry {
        Registry { versions: Mutex::default(), observe }
    }

    /// The counters of `name` version `version`, created on first use.
    pub(crate) fn get(&self, name: &str, version: u32) -> Arc<VersionStats> {
        let mut versions = self.lock();
        let stats = versions.entry((name.to_owned(), version)).or_insert_with(|| {
            Arc::new(VersionStats {
                name: name.to_owned(),
                version,
                metrics: Metrics::new(name, version, self.observe),
                breaker: Breaker::default(),
            })
        });
        stats.clone()
    }

    pub(crate) fn health(&self, name: &str, version: u32) -> Option<VersionHealth> {
        let versions = self.lock();
        let stats = versions.get(&(name.to_owned(), version))?;
        Some(VersionHealth { metrics: stats.metrics.view(), breaker: stats.breaker.view() })
    }

    /// Closes the breakers of every version of `name`.
    pub(crate) fn reset_breakers(&self, name: &str) {
        self.lock().iter().filter(|((n, _), _)| n == name).for_each(|(_, stats)| stats.breaker.reset());
    }

    /// Drops every version of `name` (the plugin was deleted).
    pub(crate) fn forget(&self, name: &str) {
        self.lock().retain(|(n, _), _| n != name);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, u32), Arc<VersionStats>>> {
        self.versions.lock().unwrap_or_else(|e| e.into_inner())
    }
}
