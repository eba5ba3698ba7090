//! Adding and changing catalogue events at run time. An event may name
//! only a loaded serializer, and a plugin named by an event cannot be
//! deleted (`plugins.rs`): both are checked and written within one turn of
//! the catalogue's writers, so neither can slip between the other's check
//! and write. A change is stored whole, so it survives restarts and takes
//! precedence over the catalogue files.

use std::sync::Arc;

use serde_json::Value;

use crate::catalog::{EventDef, SharedCatalog, SpecError};
use crate::ingest::parked::Retrier;
use crate::model::EventSpec;
use crate::runtime::Runtime;
use crate::store::{Store, StoreError};

/// Why a catalogue change was refused or failed; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error(transparent)]
    Invalid(#[from] SpecError),
    #[error("Event {0} already exists")]
    Exists(String),
    #[error("Event {0} not found")]
    NotFound(String),
    #[error("Unknown serializer plugin {0}: upload and activate it first")]
    UnknownSerializer(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Fields of an event to change; `None` keeps a field, the nullable ones
/// take `Some(None)` to clear it. The name and action are the event's
/// identity (hooks and sources refer to them) and stay.
#[derive(Debug, Clone, Default)]
pub struct EventChanges {
    pub serializer: Option<Option<String>>,
    pub description: Option<String>,
    pub category: Option<Option<String>>,
    pub sample: Option<Option<Value>>,
}

impl EventChanges {
    fn apply(self, spec: &mut EventSpec) {
        if let Some(serializer) = self.serializer {
            spec.serializer = serializer;
        }
        if let Some(description) = self.description {
            spec.description = description;
        }
        if let Some(category) = self.category {
            spec.category = category;
        }
        if let Some(sample) = self.sample {
            spec.sample = sample;
        }
    }
}

pub struct CatalogService {
    store: Arc<dyn Store>,
    runtime: Arc<Runtime>,
    catalog: Arc<SharedCatalog>,
    retrier: Arc<Retrier>,
}

impl CatalogService {
    pub fn new(
        store: Arc<dyn Store>,
        runtime: Arc<Runtime>,
        catalog: Arc<SharedCatalog>,
        retrier: Arc<Retrier>,
    ) -> CatalogService {
        CatalogService { store, runtime, catalog, retrier }
    }

    /// Adds an event, at once and for good.
    pub async fn add(&self, spec: EventSpec) -> Result<EventDef, CatalogError> {
        let event = EventDef::derive(spec.clone())?;
        let edit = self.catalog.edit().await;
        if edit.current().get(&event.name).is_some() {
            return Err(CatalogError::Exists(event.name));
        }
        self.check_serializer(event.serializer.as_deref())?;
        self.store.save_catalog_event(spec).await?;
        edit.publish(event.clone());
        tracing::info!(event = %event.name, serializer = ?event.serializer, "catalogue event added");
        Ok(event)
    }

    /// Changes event `name`; the next event uses it. Events parked after a
    /// failure of its former serializer are run again through the new one.
    pub async fn change(&self, name: &str, changes: EventChanges) -> Result<EventDef, CatalogError> {
        let edit = self.catalog.edit().await;
        let current = edit.current();
        let mut spec = current.get(name).ok_or_else(|| CatalogError::NotFound(name.to_owned()))?.spec();
        let previous = spec.serializer.clone();
        changes.apply(&mut spec);
        let event = EventDef::derive(spec.clone())?;
        self.check_serializer(event.serializer.as_deref())?;
        self.store.save_catalog_event(spec).await?;
        edit.publish(event.clone());
        drop(edit);
        tracing::info!(event = %name, serializer = ?event.serializer, "catalogue event changed");
        if let Some(previous) = previous.filter(|p| event.serializer.as_ref() != Some(p)) {
            self.retrier.request(&previous, Some(name));
        }
        Ok(event)
    }

    /// A serializer an event may name: one that is loaded.
    fn check_serializer(&self, plugin: Option<&str>) -> Result<(), CatalogError> {
        match plugin {
            Some(plugin) if self.runtime.serializer(plugin).is_none() => {
                Err(CatalogError::UnknownSerializer(plugin.to_owned()))
            }
            _ => Ok(()),
        }
    }
}
