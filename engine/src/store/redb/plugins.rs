//! Uploaded serializer plugins: immutable versions (number + sha256), their
//! components, which version of each name is active, and the limits a
//! superadmin gave a name.

use redb::ReadableTable;

use super::blobs::Blobs;
use super::codec::{decode, encode};
use super::tables::{PLUGIN_LIMITS, PLUGINS};
use super::{RedbStore, StoreError};
use crate::model::{LimitOverrides, PluginLimits, PluginVersion};

impl RedbStore {
    /// Stores a new version of plugin `name` (not active yet); its component
    /// is written unless it is stored already.
    pub fn add_plugin_version(&self, name: &str, sha256: String, bytes: &[u8]) -> Result<PluginVersion, StoreError> {
        self.room()?;
        let txn = self.db.begin_write()?;
        let record = {
            let mut plugins = txn.open_table(PLUGINS)?;
            let last =
                plugins.range((name, 0)..=(name, u32::MAX))?.next_back().transpose()?.map(|(key, _)| key.value().1);
            let record = PluginVersion::upload(name, last, sha256, bytes.len());
            plugins.insert((name, record.version), encode(&record).as_slice())?;
            Blobs::open(&txn)?.retain(&record.sha256, Some(bytes))?;
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

    /// The versions of `name`, by version.
    pub fn plugin_versions_of(&self, name: &str) -> Result<Vec<PluginVersion>, StoreError> {
        let txn = self.db.begin_read()?;
        let plugins = txn.open_table(PLUGINS)?;
        let mut versions = Vec::new();
        for entry in plugins.range((name, 0)..=(name, u32::MAX))? {
            versions.push(decode("plugin version", entry?.1.value())?);
        }
        Ok(versions)
    }

    /// Every plugin name's own limits.
    pub fn plugin_limits(&self) -> Result<Vec<PluginLimits>, StoreError> {
        self.scan(PLUGIN_LIMITS, "plugin limits")
    }

    /// Stores the limits of plugin `name`; none at all removes them.
    pub fn set_plugin_limits(&self, name: &str, limits: &LimitOverrides) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(PLUGIN_LIMITS)?;
            if *limits == LimitOverrides::default() {
                table.remove(name)?;
            } else {
                let record = PluginLimits { name: name.to_owned(), limits: *limits };
                table.insert(name, encode(&record).as_slice())?;
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// Deletes every uploaded version of `name` and its limits, in one
    /// transaction; a component no other version or hook transformer uses
    /// goes too. Answers the deleted versions.
    pub fn delete_plugin(&self, name: &str) -> Result<Vec<PluginVersion>, StoreError> {
        let txn = self.db.begin_write()?;
        let deleted = {
            let mut plugins = txn.open_table(PLUGINS)?;
            let mut deleted = Vec::new();
            for entry in plugins.extract_from_if((name, 0)..=(name, u32::MAX), |_, _| true)? {
                deleted.push(decode::<PluginVersion>("plugin version", entry?.1.value())?);
            }
            let mut blobs = Blobs::open(&txn)?;
            for version in &deleted {
                blobs.release(&version.sha256)?;
            }
            txn.open_table(PLUGIN_LIMITS)?.remove(name)?;
            deleted
        };
        txn.commit()?;
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deleting_a_plugin_keeps_components_still_used_elsewhere() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path(), crate::store::tests::keyring()).unwrap();
        store.add_plugin_version("a", "shared".into(), b"one").unwrap();
        store.add_plugin_version("a", "own".into(), b"two").unwrap();
        store.add_plugin_version("b", "shared".into(), b"one").unwrap();
        store.set_plugin_limits("a", &LimitOverrides { deadline_ms: Some(5), ..LimitOverrides::default() }).unwrap();

        let deleted = store.delete_plugin("a").unwrap();
        assert_eq!(deleted.iter().map(|v| v.version).collect::<Vec<_>>(), [1, 2]);
        assert!(store.plugin_versions_of("a").unwrap().is_empty());
        assert_eq!(store.plugin_versions_of("b").unwrap().len(), 1);
        assert_eq!(store.plugin_blob("shared").unwrap().as_deref(), Some(&b"one"[..]));
        assert_eq!(store.plugin_blob("own").unwrap(), None);
        assert!(store.plugin_limits().unwrap().is_empty());
        assert_eq!(store.component_totals().unwrap().count, 1);
        store.delete_plugin("b").unwrap();
        assert_eq!(store.plugin_blob("shared").unwrap(), None, "freed with its last version");
        assert_eq!(store.component_totals().unwrap().count, 0);
    }
}
