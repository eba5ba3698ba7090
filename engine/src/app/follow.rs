//! Following what other engines write to a shared store (N engines on one
//! database): the store announces each change (`store::Change`), and this
//! task brings the in-memory catalogue and plugins in line. Hooks and
//! tokens are the store's own caches; it follows them itself. A store with
//! one writer announces nothing, and the task only waits.

use std::sync::Arc;

use tokio::sync::broadcast::error::RecvError;

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

/// Applies every change announced by `store` until it closes.
pub async fn follow(store: Arc<dyn Store>, catalog: Arc<SharedCatalog>, plugins: Arc<PluginService>) {
    let mut changes = store.changes();
    loop {
        let applied = match changes.recv().await {
            Ok(Change::Catalog) => reload_catalog(&*store, &catalog).await,
            Ok(Change::Plugin(name)) => plugins.follow(&name).await.map_err(FollowError::from),
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
