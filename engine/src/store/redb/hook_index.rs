//! The store's [`HookIndex`]: rebuilt from the hooks table after every
//! committed change to a hook, so it trails the store only between a
//! commit and the rebuild that follows it.

use std::sync::{Arc, Mutex, RwLock};

use redb::ReadableTable;

use super::handle::Handle;
use super::tables::HOOKS;
use super::{StoreError, sealing};
use crate::model::{Hook, HookIndex};
use crate::secrets::Keyring;

/// Loads the index from the hooks table, their confidential values
/// opened: deliveries sign with them. They stay in memory only.
fn load(db: &Handle, keyring: &Keyring) -> Result<HookIndex, StoreError> {
    let txn = db.begin_read()?;
    let table = txn.open_table(HOOKS)?;
    let hooks = table.iter()?.map(|entry| sealing::open(entry?.1.value(), keyring));
    Ok(HookIndex::new(hooks.collect::<Result<Vec<Hook>, StoreError>>()?))
}

/// The current snapshot, and the lock that orders rebuilds: a rebuild
/// reads the store after taking it, so the last one reflects every commit
/// made before it started.
#[derive(Default)]
pub(super) struct HookCache {
    current: RwLock<Arc<HookIndex>>,
    rebuilding: Mutex<()>,
}

impl HookCache {
    pub(super) fn get(&self) -> Arc<HookIndex> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(super) fn rebuild(&self, db: &Handle, keyring: &Keyring) -> Result<(), StoreError> {
        let _one_at_a_time = self.rebuilding.lock().unwrap_or_else(|e| e.into_inner());
        let index = Arc::new(load(db, keyring)?);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = index;
        Ok(())
    }
}
