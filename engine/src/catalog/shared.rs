//! The catalogue in force, shared by the API and ingestion. Readers take a
//! snapshot and keep it as long as they need; a change publishes a new one.
//!
//! Writers take turns. The rule that no event names a plugin that is gone
//! is checked and written within one turn (adding or rebinding an event,
//! deleting a plugin), and a turn may await the store's write: readers are
//! never blocked by it.

use std::sync::{Arc, RwLock};

use super::{Catalog, EventDef};

pub struct SharedCatalog {
    current: RwLock<Arc<Catalog>>,
    turn: tokio::sync::Mutex<()>,
}

impl SharedCatalog {
    pub fn new(catalog: Catalog) -> SharedCatalog {
        SharedCatalog { current: RwLock::new(Arc::new(catalog)), turn: tokio::sync::Mutex::new(()) }
    }

    /// The catalogue as it is now.
    pub fn get(&self) -> Arc<Catalog> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits for the writers' turn; no other writer changes the catalogue
    /// until the returned turn is dropped.
    pub async fn edit(&self) -> CatalogEdit<'_> {
        CatalogEdit { shared: self, _turn: self.turn.lock().await }
    }
}

/// A writer's turn (see [`SharedCatalog::edit`]).
pub struct CatalogEdit<'a> {
    shared: &'a SharedCatalog,
    _turn: tokio::sync::MutexGuard<'a, ()>,
}

impl CatalogEdit<'_> {
    /// The catalogue as it is now: no other writer changes it during the turn.
    pub fn current(&self) -> Arc<Catalog> {
        self.shared.get()
    }

    /// Publishes a snapshot holding `event` (added, or replacing the one of
    /// its name).
    pub fn publish(&self, event: EventDef) {
        let mut current = self.shared.current.write().unwrap_or_else(|e| e.into_inner());
        let mut next = (**current).clone();
        next.extend([event]);
        *current = Arc::new(next);
    }
}
