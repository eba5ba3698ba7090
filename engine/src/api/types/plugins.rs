//! Plugin versions and limits on the wire.

use serde::{Deserialize, Serialize};

use crate::time::Time;
use crate::{model, runtime};

/// One uploaded version of a plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PluginVersion {
    pub name: String,
    /// 1 for the first upload of a name; version 0 is the bundled plugin.
    pub version: u32,
    pub sha256: String,
    pub size: usize,
    pub uploaded_at: Time,
    pub active: bool,
}

impl From<model::PluginVersion> for PluginVersion {
    fn from(version: model::PluginVersion) -> Self {
        let model::PluginVersion { name, version, sha256, size, uploaded_at, active } = version;
        PluginVersion { name, version, sha256, size, uploaded_at, active }
    }
}

/// Limits a superadmin sets for one plugin (all its versions); a field left
/// out keeps the engine-wide default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitOverrides {
    pub deadline_ms: Option<u64>,
    pub max_memory: Option<u64>,
    pub max_input: Option<usize>,
    pub max_output: Option<usize>,
}

impl From<model::LimitOverrides> for LimitOverrides {
    fn from(limits: model::LimitOverrides) -> Self {
        let model::LimitOverrides { deadline_ms, max_memory, max_input, max_output } = limits;
        LimitOverrides { deadline_ms, max_memory, max_input, max_output }
    }
}

impl From<LimitOverrides> for model::LimitOverrides {
    fn from(limits: LimitOverrides) -> Self {
        let LimitOverrides { deadline_ms, max_memory, max_input, max_output } = limits;
        model::LimitOverrides { deadline_ms, max_memory, max_input, max_output }
    }
}

/// What one plugin call may use, as the API shows it: durations in
/// milliseconds, no log caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Limits {
    pub deadline_ms: u64,
    pub max_memory: u64,
    pub max_input: usize,
    pub max_output: usize,
}

impl From<&runtime::Limits> for Limits {
    fn from(limits: &runtime::Limits) -> Self {
        Limits {
            deadline_ms: limits.deadline.as_millis() as u64,
            max_memory: limits.max_memory,
            max_input: limits.max_input,
            max_output: limits.max_output,
        }
    }
}

/// A plugin name with its versions (`GET /v1/plugins`, activation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PluginView {
    pub name: String,
    /// Version 0 exists: the plugin bundled in the binary.
    pub bundled: bool,
    pub active_version: Option<u32>,
    pub versions: Vec<PluginVersion>,
}

/// One plugin with its versions, limits and per-version metrics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PluginDetail {
    pub name: String,
    pub bundled: bool,
    pub active_version: Option<u32>,
    /// The limits set for this plugin (a field not set: the default).
    pub limit_overrides: LimitOverrides,
    /// What its calls run under.
    pub limits: Limits,
    /// The most `limit_overrides` may ask for.
    pub max_limits: Limits,
    /// Events parked after a failure of this plugin, waiting for a re-run.
    pub parked: u64,
    pub versions: Vec<VersionDetail>,
}

/// A version with its counters: kept in memory since the engine started,
/// zero for a version not activated since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VersionDetail {
    pub version: u32,
    pub sha256: String,
    pub size: usize,
    /// `None` for the bundled version.
    pub uploaded_at: Option<Time>,
    pub active: bool,
    #[serde(flatten)]
    pub health: VersionHealth,
}

/// A version's calls and circuit breaker.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VersionHealth {
    /// Calls that ran (whatever their outcome).
    pub calls: u64,
    /// Calls that ran and failed.
    pub errors: u64,
    /// Calls refused by the open circuit breaker, not run.
    pub refused: u64,
    pub durations: Vec<Bucket>,
    pub breaker: Breaker,
}

impl From<runtime::VersionHealth> for VersionHealth {
    fn from(health: runtime::VersionHealth) -> Self {
        let runtime::VersionHealth { metrics, breaker } = health;
        let durations = metrics.durations.into_iter().map(|b| Bucket { le_us: b.le_us, count: b.count }).collect();
        let runtime::BreakerView { open, consecutive_failures, retry_in_ms } = breaker;
        VersionHealth {
            calls: metrics.calls,
            errors: metrics.errors,
            refused: metrics.refused,
            durations,
            breaker: Breaker { open, consecutive_failures, retry_in_ms },
        }
    }
}

/// A bucket of the duration histogram: calls that took at most `le_us`
/// microseconds (`None`: the rest), not counting faster buckets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Bucket {
    pub le_us: Option<u64>,
    pub count: u64,
}

/// A version's circuit breaker.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Breaker {
    pub open: bool,
    pub consecutive_failures: u32,
    /// Milliseconds until calls are let through again.
    pub retry_in_ms: Option<u64>,
}

/// A re-run of a plugin's parked events, queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RetryQueued {
    pub plugin: String,
    /// Parked events queued to be ingested again.
    pub queued: u64,
}
