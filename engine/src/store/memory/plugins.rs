//! Plugin versions, their limits, and the components (plugin versions and
//! hook transformers) stored once per sha256 and counted by their uses, as
//! `redb/blobs.rs` keeps them.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::super::contract::{Plugins, Store};
use super::super::{ComponentTotals, StoreError};
use super::Memory;
use crate::model::{LimitOverrides, PluginLimits, PluginVersion};

/// The components: sha256 → (bytes, uses).
#[derive(Default)]
pub(super) struct Blobs(BTreeMap<String, (Vec<u8>, u64)>);

impl Blobs {
    /// One more use of `sha256`; its bytes are kept only when it is new.
    pub(super) fn retain(&mut self, sha256: &str, bytes: Option<Vec<u8>>) {
        match self.0.get_mut(sha256) {
            Some((_, uses)) => *uses += 1,
            None => {
                // Every caller gives the bytes of a component it adds.
                self.0.insert(sha256.to_owned(), (bytes.unwrap_or_default(), 1));
            }
        }
    }

    /// One use fewer of `sha256`: deleted with its last.
    pub(super) fn release(&mut self, sha256: &str) {
        let Some((_, uses)) = self.0.get_mut(sha256) else { return };
        *uses -= 1;
        if *uses == 0 {
            self.0.remove(sha256);
        }
    }
}

/// The versions of `name` in `plugins`, by version.
fn versions_of<'a>(
    plugins: &'a BTreeMap<(String, u32), PluginVersion>,
    name: &'a str,
) -> impl Iterator<Item = &'a PluginVersion> {
    plugins.values().filter(move |version| version.name == name)
}

#[async_trait]
impl Plugins for Memory {
    async fn add_plugin_version(
        &self,
        name: &str,
        sha256: String,
        bytes: Vec<u8>,
    ) -> Result<PluginVersion, StoreError> {
        self.room()?;
        let mut state = self.lock();
        let last = versions_of(&state.plugins, name).map(|version| version.version).max();
        let record = PluginVersion::upload(name, last, sha256, bytes.len());
        state.blobs.retain(&record.sha256, Some(bytes));
        state.plugins.insert((name.to_owned(), record.version), record.clone());
        Ok(record)
    }

    async fn plugin_versions(&self) -> Result<Vec<PluginVersion>, StoreError> {
        Ok(self.lock().plugins.values().cloned().collect())
    }

    async fn plugin_versions_of(&self, name: &str) -> Result<Vec<PluginVersion>, StoreError> {
        Ok(versions_of(&self.lock().plugins, name).cloned().collect())
    }

    async fn activate_plugin_version(
        &self,
        name: &str,
        version: u32,
    ) -> Result<Option<Vec<PluginVersion>>, StoreError> {
        let mut state = self.lock();
        // Version 0 is the bundled plugin: every upload inactive.
        if version != 0 && !state.plugins.contains_key(&(name.to_owned(), version)) {
            return Ok(None);
        }
        let mut versions = Vec::new();
        for record in state.plugins.values_mut().filter(|record| record.name == name) {
            record.active = record.version == version;
            versions.push(record.clone());
        }
        Ok(Some(versions))
    }

    async fn delete_plugin(&self, name: &str) -> Result<Vec<PluginVersion>, StoreError> {
        let mut state = self.lock();
        let deleted: Vec<PluginVersion> = versions_of(&state.plugins, name).cloned().collect();
        for version in &deleted {
            state.plugins.remove(&(name.to_owned(), version.version));
            state.blobs.release(&version.sha256);
        }
        state.limits.remove(name);
        Ok(deleted)
    }

    async fn plugin_blob(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock().blobs.0.get(sha256).map(|(bytes, _)| bytes.clone()))
    }

    async fn component_totals(&self) -> Result<ComponentTotals, StoreError> {
        let state = self.lock();
        let bytes = state.blobs.0.values().map(|(bytes, _)| bytes.len() as u64).sum();
        Ok(ComponentTotals { count: state.blobs.0.len() as u64, bytes })
    }

    async fn plugin_limits(&self) -> Result<Vec<PluginLimits>, StoreError> {
        Ok(self.lock().limits.values().cloned().collect())
    }

    async fn set_plugin_limits(&self, name: &str, limits: LimitOverrides) -> Result<(), StoreError> {
        let mut state = self.lock();
        if limits == LimitOverrides::default() {
            state.limits.remove(name);
        } else {
            state.limits.insert(name.to_owned(), PluginLimits { name: name.to_owned(), limits });
        }
        Ok(())
    }
}
