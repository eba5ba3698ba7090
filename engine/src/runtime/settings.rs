//! The plugin settings the operator chooses: a section of the
//! configuration that the runtime owns. Its keys stay flat in the
//! configuration file (`plugin_max_memory`, `plugin_breaker_failures`, …),
//! as they were before sections existed; `config.rs` flattens the section
//! into the top level.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{BreakerConfig, Limits, RuntimeConfig};

/// The plugin settings (flat keys of the configuration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PluginSettings {
    /// The longest deadline a plugin's own limits may set, in ms.
    #[serde(rename = "plugin_max_deadline_ms")]
    pub max_deadline_ms: u64,
    /// The most linear memory a plugin's own limits may set, in bytes.
    #[serde(rename = "plugin_max_memory")]
    pub max_memory: u64,
    /// The largest input and output a plugin's own limits may set, in bytes.
    #[serde(rename = "plugin_max_io")]
    pub max_io: usize,
    /// Consecutive faults of a serializer version that open its circuit
    /// breaker (0: never).
    #[serde(rename = "plugin_breaker_failures")]
    pub breaker_failures: u32,
    /// How long an open breaker refuses calls, in seconds.
    #[serde(rename = "plugin_breaker_cooldown_secs")]
    pub breaker_cooldown_secs: u64,
    /// Idle instances kept for reuse, each by one plugin version and one
    /// academy (see `runtime/warm.rs`): with more academies posting than
    /// this, most calls instantiate afresh.
    #[serde(rename = "plugin_warm_instances")]
    pub warm_instances: usize,
}

impl Default for PluginSettings {
    fn default() -> Self {
        let maxima = Limits::default_maxima();
        let breaker = BreakerConfig::default();
        PluginSettings {
            max_deadline_ms: u64::try_from(maxima.deadline.as_millis()).unwrap_or(u64::MAX),
            max_memory: maxima.max_memory,
            max_io: maxima.max_input,
            breaker_failures: breaker.failures,
            breaker_cooldown_secs: breaker.cool_down.as_secs(),
            warm_instances: RuntimeConfig::default().warm_instances,
        }
    }
}

impl PluginSettings {
    /// What the types alone do not check.
    pub fn check(&self) -> Result<(), String> {
        if self.max_deadline_ms == 0 {
            return Err("must be at least 1".into());
        }
        Ok(())
    }

    /// The most a plugin's own limits may ask for.
    pub fn max_limits(&self) -> Limits {
        Limits {
            deadline: Duration::from_millis(self.max_deadline_ms),
            max_memory: self.max_memory,
            max_input: self.max_io,
            max_output: self.max_io,
            ..Limits::default_maxima()
        }
    }

    /// When a serializer version's circuit breaker opens.
    pub fn breaker(&self) -> BreakerConfig {
        BreakerConfig { failures: self.breaker_failures, cool_down: Duration::from_secs(self.breaker_cooldown_secs) }
    }
}
