//! Catalogue events added at run time, persisted so they survive restarts.

use super::codec::encode;
use super::tables::CATALOG;
use super::{Store, StoreError};
use crate::catalog::EventSpec;

impl Store {
    /// Every event added at run time.
    pub fn catalog_additions(&self) -> Result<Vec<EventSpec>, StoreError> {
        self.scan(CATALOG, "catalogue event")
    }

    /// Persists a run-time catalogue event.
    pub fn add_catalog_event(&self, spec: &EventSpec) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        txn.open_table(CATALOG)?.insert(spec.name.as_str(), encode(spec).as_slice())?;
        txn.commit()?;
        Ok(())
    }
}
