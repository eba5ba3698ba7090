//! The event catalogue: which events exist, how each is derived from its
//! action string (seed 000) and which serializer plugin shapes its payload.
//!
//! The catalogue is data: a built-in TOML file (`default.toml`, every event
//! of the hooks API), optionally extended or replaced by an operator's file,
//! plus events superadmins add at run time (persisted in the store).

mod derive;
mod file;
mod shared;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use derive::{EventDef, EventKind, SpecError};
pub use file::CatalogFileError;
pub use shared::{CatalogEdit, SharedCatalog};

/// The built-in catalogue.
pub const DEFAULT_CATALOG: &str = include_str!("default.toml");

/// How an operator's catalogue file combines with the built-in one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum CatalogMode {
    /// Add its events to the built-in ones; an event of the same name
    /// replaces the built-in definition.
    #[default]
    Extend,
    /// Use its events only.
    Replace,
}

/// An immutable snapshot of the catalogue. Adding an event builds a new
/// snapshot; readers keep the one they started with.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    events: BTreeMap<String, Arc<EventDef>>,
}

impl Catalog {
    /// The built-in catalogue, combined with an operator's file if any.
    pub fn load(operator_file: Option<(&Path, CatalogMode)>) -> Result<Catalog, CatalogFileError> {
        let mut catalog = Catalog::default();
        if !matches!(operator_file, Some((_, CatalogMode::Replace))) {
            catalog.extend(file::parse("built-in catalogue", DEFAULT_CATALOG)?);
        }
        if let Some((path, _)) = operator_file {
            let text = std::fs::read_to_string(path).map_err(|e| CatalogFileError::read(path, &e))?;
            catalog.extend(file::parse(&path.display().to_string(), &text)?);
        }
        Ok(catalog)
    }

    /// This catalogue with `events` added (or replaced, by name).
    pub fn extend(&mut self, events: impl IntoIterator<Item = EventDef>) {
        for event in events {
            self.events.insert(event.name.clone(), Arc::new(event));
        }
    }

    /// The event called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<EventDef>> {
        self.events.get(name)
    }

    /// The event whose action is `action`.
    pub fn by_action(&self, action: &str) -> Option<&Arc<EventDef>> {
        self.events.values().find(|event| event.action == action)
    }

    /// Every event, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<EventDef>> {
        self.events.values()
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}
