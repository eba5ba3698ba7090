//! Compiled plugins: a component pre-linked against the host (an
//! `InstancePre`), checked to implement its world. Cheap to clone (an
//! `Arc`); a call instantiates it into a fresh store.

use std::fmt;
use std::sync::Arc;

use sha2::{Digest as _, Sha256};

use super::Limits;
use super::bindings::{serializer::SerializerPre, transformer::HookTransformerPre};
use super::state::State;
use super::versions::VersionStats;

/// The two kinds of plugins, one per world of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum World {
    /// Operator level: event in, payload out.
    Serializer,
    /// Integrator level: request in, changed request (or none) out.
    HookTransformer,
}

impl World {
    /// The world's name in the WIT contract.
    pub fn wit_name(self) -> &'static str {
        match self {
            World::Serializer => "serializer",
            World::HookTransformer => "hook-transformer",
        }
    }
}

/// The sha256 of a component's bytes: the identity of a plugin version.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest([u8; 32]);

impl Digest {
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(Sha256::digest(bytes).into())
    }

    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

/// What identifies a loaded plugin version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginInfo {
    /// The name it was loaded under (used in logs).
    pub name: Arc<str>,
    /// The sha256 of its component.
    pub digest: Digest,
    /// The size of its component, in bytes.
    pub size: usize,
    /// The world it implements.
    pub world: World,
}

/// A compiled `serializer` plugin, pre-linked and checked against its world.
/// Share it with an `Arc`; each call instantiates it into a fresh store.
pub struct SerializerPlugin {
    pub(crate) info: PluginInfo,
    pub(crate) pre: SerializerPre<State>,
    /// What each call may use: the engine's defaults, or the plugin's own
    /// once activated (see `Runtime::activate`).
    pub(crate) limits: Limits,
    /// The version's metrics and breaker, for an activated version; `None`
    /// for a plugin just loaded (an upload being checked, a dry run).
    pub(crate) stats: Option<Arc<VersionStats>>,
}

/// A compiled `hook-transformer` plugin.
pub struct TransformerPlugin {
    pub(crate) info: PluginInfo,
    pub(crate) pre: HookTransformerPre<State>,
}

impl SerializerPlugin {
    pub fn info(&self) -> &PluginInfo {
        &self.info
    }

    /// The limits its calls run under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The version number it was activated as (0: bundled).
    pub fn version(&self) -> Option<u32> {
        self.stats.as_ref().map(|stats| stats.version)
    }

    /// The same component under `limits`, with `stats` (or none).
    pub(crate) fn rewrap(&self, limits: Limits, stats: Option<Arc<VersionStats>>) -> SerializerPlugin {
        SerializerPlugin { info: self.info.clone(), pre: self.pre.clone(), limits, stats }
    }
}

impl TransformerPlugin {
    pub fn info(&self) -> &PluginInfo {
        &self.info
    }
}

impl fmt::Debug for SerializerPlugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.info.fmt(f)
    }
}

impl fmt::Debug for TransformerPlugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.info.fmt(f)
    }
}
