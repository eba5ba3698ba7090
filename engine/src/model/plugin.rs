//! Uploaded plugins: versions and the limits a superadmin gave a name.

use serde::{Deserialize, Serialize};

use crate::time::Time;

/// One uploaded version of a plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginVersion {
    pub name: String,
    /// 1 for the first upload of a name; version 0 is the bundled plugin.
    pub version: u32,
    pub sha256: String,
    pub size: usize,
    pub uploaded_at: Time,
    pub active: bool,
}

impl PluginVersion {
    /// The upload of `name` after version `last` (`None`: its first), of a
    /// component of `size` bytes: not active yet.
    pub fn upload(name: &str, last: Option<u32>, sha256: String, size: usize) -> PluginVersion {
        let version = last.unwrap_or(0) + 1;
        PluginVersion { name: name.to_owned(), version, sha256, size, uploaded_at: Time::now(), active: false }
    }
}

/// The limits of one plugin name (all its versions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginLimits {
    pub name: String,
    pub limits: LimitOverrides,
}

/// Limits a superadmin sets for one plugin (all its versions); a field left
/// out keeps the engine-wide default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitOverrides {
    pub deadline_ms: Option<u64>,
    pub max_memory: Option<u64>,
    pub max_input: Option<usize>,
    pub max_output: Option<usize>,
}
