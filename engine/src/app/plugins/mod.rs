//! The plugin service: every way a component's bytes arrive — bundled in
//! the binary, uploaded serializer versions and hook transformers kept in
//! the store — goes through here, and so does every change of what is
//! active. The runtime only compiles and runs what it is handed and never
//! knows where the bytes came from (Spin's `ComponentLoader` plays the same
//! part).
//!
//! Compiling is CPU work: it runs on the blocking pool, never on an async
//! worker. Transformers are compiled once per component (`transformers.rs`).

mod transformers;

use std::sync::Arc;

use crate::bundled::{self, BUNDLED, BundledPlugin};
use crate::catalog::SharedCatalog;
use crate::model::{LimitOverrides, PluginVersion};
use crate::runtime::{Digest, LimitError, LoadError, Runtime, SerializerPlugin, World};
use crate::store::{Store, StoreError};

pub use transformers::Transformers;

/// Why a plugin operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum PluginsError {
    /// No such plugin, version or component (`what` says which).
    #[error("{what} not found")]
    NotFound { what: String },
    /// An upload that is not a component of the expected world, or does
    /// not compile: nothing was stored.
    #[error(transparent)]
    Rejected(LoadError),
    /// A stored component that no longer loads (a build with other limits
    /// or another WIT).
    #[error("{label} does not load: {source}")]
    Broken { label: String, source: LoadError },
    #[error(transparent)]
    TooHigh(#[from] LimitError),
    /// Catalogue events still name the plugin.
    #[error("Plugin {name} is used by catalogue events {}; rebind them first (PUT /v1/catalog/events/{{event}})", events.join(", "))]
    InUse { name: String, events: Vec<String> },
    #[error(
        "Plugin {name} is bundled in the binary: version 0 cannot be deleted (activate it to stop using uploaded versions)"
    )]
    Bundled { name: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The blocking pool gave up the compilation (the engine is stopping).
    #[error("the component could not be checked: {0}")]
    Unfinished(String),
}

/// The bundled serializer called `name`.
pub fn bundled_serializer(name: &str) -> Option<&'static BundledPlugin> {
    bundled::find(name).filter(|p| p.world == World::Serializer)
}

pub struct PluginService {
    store: Arc<dyn Store>,
    runtime: Arc<Runtime>,
    transformers: Transformers,
}

impl PluginService {
    pub fn new(store: Arc<dyn Store>, runtime: Arc<Runtime>) -> PluginService {
        let transformers = Transformers::new(store.clone(), runtime.clone());
        PluginService { store, runtime, transformers }
    }

    /// The hook transformers, compiled once per component.
    pub fn transformers(&self) -> &Transformers {
        &self.transformers
    }

    /// At start: the stored limits, the bundled serializers, and the
    /// uploaded versions made active, which override the bundled ones.
    pub async fn load_active(&self) -> Result<(), PluginsError> {
        for stored in self.store.plugin_limits().await? {
            self.apply_stored_limits(&stored.name, &stored.limits);
        }
        for plugin in BUNDLED.iter().filter(|p| p.world == World::Serializer) {
            let loaded = self.compile(plugin.name.to_owned(), plugin.wasm.to_vec()).await?;
            self.runtime.activate(plugin.name, 0, &loaded);
        }
        for version in self.store.plugin_versions().await?.into_iter().filter(|v| v.active) {
            let loaded = self.version(&version.name, version.version).await?;
            self.runtime.activate(&version.name, version.version, &loaded);
        }
        Ok(())
    }

    /// Checks an upload (it compiles and implements `serializer`) and
    /// stores it as the next version of `name`, not active yet. The name's
    /// tripped breakers close: the upload may be the fix.
    pub async fn upload(&self, name: &str, bytes: Vec<u8>) -> Result<PluginVersion, PluginsError> {
        let label = name.to_owned();
        let checked = bytes.clone();
        let runtime = self.runtime.clone();
        blocking(move || runtime.load_serializer(&label, &checked)).await?.map_err(PluginsError::Rejected)?;
        let version = self.store.add_plugin_version(name, Digest::of(&bytes).hex(), bytes).await?;
        self.runtime.reset_breakers(name);
        tracing::info!(plugin = %name, version = version.version, sha256 = %version.sha256, "plugin version uploaded");
        Ok(version)
    }

    /// Version `version` of `name` (0: the bundled one), compiled (from
    /// the runtime's artifact cache when it was before).
    pub async fn version(&self, name: &str, version: u32) -> Result<Arc<SerializerPlugin>, PluginsError> {
        let not_found = || PluginsError::NotFound { what: format!("Version {version} of plugin {name}") };
        let bytes = if version == 0 {
            bundled_serializer(name).map(|p| p.wasm.to_vec())
        } else {
            let versions = self.store.plugin_versions_of(name).await?;
            match versions.iter().find(|v| v.version == version) {
                Some(record) => self.store.plugin_blob(&record.sha256).await?,
                None => None,
            }
        };
        self.compile(format!("{name}@{version}"), bytes.ok_or_else(not_found)?).await
    }

    /// Makes `version` of `name` the active one, from the next event; the
    /// versions of `name` after the change.
    pub async fn activate(&self, name: &str, version: u32) -> Result<Vec<PluginVersion>, PluginsError> {
        let plugin = self.version(name, version).await?;
        let versions = self.store.activate_plugin_version(name, version).await?;
        let versions =
            versions.ok_or_else(|| PluginsError::NotFound { what: format!("Version {version} of plugin {name}") })?;
        self.runtime.activate(name, version, &plugin);
        tracing::info!(plugin = %name, version, "plugin version activated");
        Ok(versions)
    }

    /// Whether `name` is a serializer: bundled, loaded or uploaded.
    pub async fn exists(&self, name: &str) -> Result<bool, PluginsError> {
        Ok(self.runtime.serializer(name).is_some() || !self.store.plugin_versions_of(name).await?.is_empty())
    }

    /// Sets `name`'s own limits, for all its versions, from its next call;
    /// refused above the operator's maxima.
    pub async fn set_limits(&self, name: &str, overrides: LimitOverrides) -> Result<(), PluginsError> {
        if !self.exists(name).await? {
            return Err(PluginsError::NotFound { what: format!("Plugin {name}") });
        }
        self.runtime.limits().with(&overrides, self.runtime.max_limits())?;
        self.store.set_plugin_limits(name, overrides).await?;
        let limits = self.runtime.set_limits(name, &overrides)?;
        tracing::info!(plugin = %name, ?limits, "plugin limits set");
        Ok(())
    }

    /// Deletes every uploaded version of `name`, unless a catalogue event
    /// names it. The check and the deletion are one turn of the
    /// catalogue's writers, so no event can be bound to it meanwhile.
    pub async fn delete(&self, name: &str, catalog: &SharedCatalog) -> Result<usize, PluginsError> {
        let bundled = bundled_serializer(name).is_some();
        if !bundled && self.store.plugin_versions_of(name).await?.is_empty() {
            return Err(PluginsError::NotFound { what: format!("Plugin {name}") });
        }
        let edit = catalog.edit().await;
        let events: Vec<String> =
            edit.current().iter().filter(|e| e.serializer.as_deref() == Some(name)).map(|e| e.name.clone()).collect();
        if !events.is_empty() {
            return Err(PluginsError::InUse { name: name.to_owned(), events });
        }
        if bundled {
            return Err(PluginsError::Bundled { name: name.to_owned() });
        }
        let deleted = self.store.delete_plugin(name).await?;
        self.runtime.remove(name);
        drop(edit);
        tracing::info!(plugin = %name, versions = deleted.len(), "plugin deleted");
        Ok(deleted.len())
    }

    /// Brings `name` in line with the store after another engine changed
    /// it: its limits, and its active version (the bundled one when no
    /// uploaded version is active); forgotten when it has neither.
    pub async fn follow(&self, name: &str) -> Result<(), PluginsError> {
        let versions = self.store.plugin_versions_of(name).await?;
        let limits = self.store.plugin_limits().await?.into_iter().find(|l| l.name == name);
        let active = versions.iter().find(|v| v.active).map(|v| v.version);
        let Some(active) = active.or_else(|| bundled_serializer(name).map(|_| 0)) else {
            self.runtime.remove(name);
            return Ok(());
        };
        self.apply_stored_limits(name, &limits.map(|l| l.limits).unwrap_or_default());
        if self.runtime.serializer(name).and_then(|p| p.version()) != Some(active) {
            let plugin = self.version(name, active).await?;
            self.runtime.activate(name, active, &plugin);
            tracing::info!(plugin = %name, version = active, "plugin version activated by another engine");
        }
        Ok(())
    }

    /// Closes the tripped breakers of `name`'s versions.
    pub fn close_breakers(&self, name: &str) {
        self.runtime.reset_breakers(name);
    }

    /// Gives `name` the limits stored for it. Limits above the operator's
    /// maxima (lowered since they were set) are ignored: the defaults apply.
    fn apply_stored_limits(&self, name: &str, limits: &LimitOverrides) {
        if let Err(error) = self.runtime.set_limits(name, limits) {
            tracing::warn!(plugin = %name, %error, "plugin limits ignored");
            // The defaults are within the maxima.
            let _ = self.runtime.set_limits(name, &LimitOverrides::default());
        }
    }

    /// Every plugin name the store or the binary knows.
    pub async fn names(&self) -> Result<Vec<String>, PluginsError> {
        let mut names: Vec<String> = self.store.plugin_versions().await?.into_iter().map(|v| v.name).collect();
        names.extend(BUNDLED.iter().filter(|p| p.world == World::Serializer).map(|p| p.name.to_owned()));
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// Compiles a stored or bundled serializer labelled `label`.
    async fn compile(&self, label: String, bytes: Vec<u8>) -> Result<Arc<SerializerPlugin>, PluginsError> {
        let runtime = self.runtime.clone();
        let loaded = blocking(move || runtime.load_serializer(&label, &bytes).map_err(|e| (label, e))).await?;
        loaded.map_err(|(label, source)| PluginsError::Broken { label, source })
    }
}

/// Runs a compilation on the blocking pool.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, PluginsError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| PluginsError::Unfinished(e.to_string()))
}
