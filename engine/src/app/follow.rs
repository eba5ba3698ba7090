//! Following what other engines write to a shared store (N engines on one
//! database): the store announces each change (`store::Change`), and this
//! task brings the in-memory catalogue and plugins in line. Hooks and
//! tokens are the store's own caches; it follows them itself. A store with
//! one writer announces nothing, and the task only waits.

use std::sync::Arc;

use tokio::sync::broadcast::{self, error::RecvError};

use crate::app::plugins::{PluginService, PluginsError};
use crate::catalog::{EventDef, SharedCatalog};
use crate::store::{Change, Store, StoreError};

/// Why a change could not be followed (it is logged; the next change or
/// refresh tries again).
#[derive(Debug, thiserror::Error)]
enum FollowError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Plugins(#[from] PluginsError),
}

/// Applies every change of `changes` (`store.changes()`, taken before
/// the engine serves) until the store closes.
pub async fn follow(
    mut changes: broadcast::Receiver<Change>,
    store: Arc<dyn Store>,
    catalog: Arc<SharedCatalog>,
    plugins: Arc<PluginService>,
) {
    loop {
        let applied = match changes.recv().await {
            Ok(Change::Catalog) => reload_catalog(&*store, &catalog).await,
            Ok(Change::Plugin(name)) => {
                // An operator changed it through another engine (a version
                // uploaded or activated, its limits): its tripped breakers
                // close here as they did there. Not on a refresh, which
                // reads every plugin whatever changed.
                plugins.close_breakers(&name);
                plugins.follow(&name).await.map_err(FollowError::from)
            }
            Ok(Change::Everything) => refresh(&*store, &catalog, &plugins).await,
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "changes of other engines were missed: reloading the catalogue and the plugins");
                refresh(&*store, &catalog, &plugins).await
            }
            Err(RecvError::Closed) => return,
        };
        if let Err(error) = applied {
            tracing::error!(%error, "cannot follow a change of another engine");
        }
    }
}

/// Publishes the stored catalogue additions (added or changed elsewhere).
async fn reload_catalog(store: &dyn Store, catalog: &SharedCatalog) -> Result<(), FollowError> {
    let additions = store.catalog_additions().await?;
    let edit = catalog.edit().await;
    for spec in additions {
        let name = spec.name.clone();
        match EventDef::derive(spec) {
            Ok(event) if edit.current().get(&name).is_some_and(|known| **known == event) => {}
            Ok(event) => edit.publish(event),
            Err(error) => tracing::error!(event = %name, %error, "stored catalogue event is invalid"),
        }
    }
    Ok(())
}

/// Reloads the catalogue and every plugin.
async fn refresh(store: &dyn Store, catalog: &SharedCatalog, plugins: &PluginService) -> Result<(), FollowError> {
    reload_catalog(store, catalog).await?;
    for name in plugins.names().await? {
        plugins.follow(&name).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::catalog::Catalog;
    use crate::model::EventSpec;
    use crate::runtime::{Digest, Runtime, RuntimeConfig};
    use crate::store::memory::Memory;

    /// Waits (at most 5 s) until `done`.
    async fn eventually(what: &str, done: impl Fn() -> bool) {
        for _ in 0..500 {
            if done() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("not followed within 5 s: {what}");
    }

    #[tokio::test]
    async fn an_engine_follows_the_catalogue_and_plugin_changes_another_engine_announces() {
        let memory = Arc::new(Memory::new());
        let store: Arc<dyn Store> = memory.clone();
        let runtime = Arc::new(Runtime::new(RuntimeConfig::default()).unwrap());
        let plugins = Arc::new(PluginService::new(store.clone(), runtime.clone()));
        let catalog = Arc::new(SharedCatalog::new(Catalog::load(None).unwrap()));
        let following = tokio::spawn(follow(store.changes(), store.clone(), catalog.clone(), plugins));

        // Another engine uploads a plugin, activates it, binds a new event to it.
        let wasm = wasmhook_testkit::hostile_wasm();
        store.add_plugin_version("hostile", Digest::of(&wasm).hex(), wasm).await.unwrap();
        store.activate_plugin_version("hostile", 1).await.unwrap();
        memory.announce(Change::Plugin("hostile".into()));
        let mut spec = EventSpec::for_test("hostile.echo", "hostile.Thing.echo");
        spec.serializer = Some("hostile".into());
        store.save_catalog_event(spec).await.unwrap();
        memory.announce(Change::Catalog);
        let active = || runtime.serializer("hostile").and_then(|plugin| plugin.version());
        eventually("the activation", || active() == Some(1)).await;
        eventually("the new event", || catalog.get().get("hostile.echo").is_some()).await;

        // And deletes the plugin.
        store.delete_plugin("hostile").await.unwrap();
        memory.announce(Change::Plugin("hostile".into()));
        eventually("the deletion", || runtime.serializer("hostile").is_none()).await;
        following.abort();
    }

    #[tokio::test]
    async fn a_plugin_whose_stored_limits_exceed_the_maxima_is_followed_under_the_defaults() {
        let memory = Arc::new(Memory::new());
        let store: Arc<dyn Store> = memory.clone();
        let runtime = Arc::new(Runtime::new(RuntimeConfig::default()).unwrap());
        let plugins = Arc::new(PluginService::new(store.clone(), runtime.clone()));
        let catalog = Arc::new(SharedCatalog::new(Catalog::load(None).unwrap()));
        let following = tokio::spawn(follow(store.changes(), store.clone(), catalog, plugins));

        // Another engine, whose maxima are higher, set them.
        let wasm = wasmhook_testkit::hostile_wasm();
        store.add_plugin_version("hostile", Digest::of(&wasm).hex(), wasm).await.unwrap();
        store.activate_plugin_version("hostile", 1).await.unwrap();
        let too_long = runtime.max_limits().deadline.as_millis() as u64 + 1;
        let limits = crate::model::LimitOverrides { deadline_ms: Some(too_long), ..Default::default() };
        store.set_plugin_limits("hostile", limits).await.unwrap();
        memory.announce(Change::Plugin("hostile".into()));
        let active = || runtime.serializer("hostile").and_then(|plugin| plugin.version());
        eventually("the activation", || active() == Some(1)).await;
        assert_eq!(runtime.limits_of("hostile"), *runtime.limits());
        following.abort();
    }
}
