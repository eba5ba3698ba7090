//! Catalogue events added or changed at run time, persisted so they survive
//! restarts (a stored event replaces one of the same name from the files).

use super::codec::encode;
use super::tables::CATALOG;
use super::{RedbStore, StoreError};
use crate::model::EventSpec;

impl RedbStore {
    /// Every event added or changed at run time.
    pub fn catalog_additions(&self) -> Result<Vec<EventSpec>, StoreError> {
        self.scan(CATALOG, "catalogue event")
    }

    /// Persists a catalogue event added or changed at run time.
    pub fn save_catalog_event(&self, spec: &EventSpec) -> Result<(), StoreError> {
        self.room()?;
        let txn = self.db.begin_write()?;
        txn.open_table(CATALOG)?.insert(spec.name.as_str(), encode(spec).as_slice())?;
        txn.commit()?;
        Ok(())
    }
}
