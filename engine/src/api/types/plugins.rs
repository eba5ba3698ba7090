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
