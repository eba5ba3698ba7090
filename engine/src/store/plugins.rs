//! Uploaded serializer plugins: immutable versions (number + sha256), their
//! components, and which version of each name is active.

use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use super::codec::{decode, encode};
use super::tables::{PLUGIN_BLOBS, PLUGINS};
use super::{Store, StoreError};
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

impl Store {
    /// Stores a new version of plugin `name` (not active yet).
    pub fn add_plugin_version(&self, name: &str, sha256: String, bytes: &[u8]) -> Result<PluginVersion, StoreError> {
        let txn = self.db.begin_write()?;
        let record = {
            let mut plugins = txn.open_table(PLUGINS)?;
            let last =
                plugins.range((name, 0)..=(name, u32::MAX))?.next_back().transpose()?.map(|(key, _)| key.value().1);
            let record = PluginVersion {
                name: name.to_owned(),
                version: last.unwrap_or(0) + 1,
                sha256,
                size: bytes.len(),
                uploaded_at: Time::now(),
                active: false,
            };
            plugins.insert((name, record.version), encode(&record).as_slice())?;
            txn.open_table(PLUGIN_BLOBS)?.insert(record.sha256.as_bytes(), bytes)?;
            record
        };
        txn.commit()?;
        Ok(record)
    }

    /// Every uploaded version, by name then version.
    pub fn plugin_versions(&self) -> Result<Vec<PluginVersion>, StoreError> {
        self.scan(PLUGINS, "plugin version")
    }

    /// Makes `version` (0: the bundled plugin) the active one of `name`, in
    /// one transaction; the versions of `name`, or `None` if `version` does
    /// not exist.
    pub fn activate_plugin_version(&self, name: &str, version: u32) -> Result<Option<Vec<PluginVersion>>, StoreError> {
        let txn = self.db.begin_write()?;
        let versions = {
            let mut plugins = txn.open_table(PLUGINS)?;
            let mut versions = Vec::new();
            for entry in plugins.range((name, 0)..=(name, u32::MAX))? {
                versions.push(decode::<PluginVersion>("plugin version", entry?.1.value())?);
            }
            if version != 0 && !versions.iter().any(|v| v.version == version) {
                return Ok(None);
            }
            for record in &mut versions {
                record.active = record.version == version;
                plugins.insert((name, record.version), encode(record).as_slice())?;
            }
            versions
        };
        txn.commit()?;
        Ok(Some(versions))
    }
}
