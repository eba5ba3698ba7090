//! Every hook, in memory. Ingestion fans each event out to its event's
//! hooks and each delivery attempt needs its hook: reading and decoding
//! them from the store every time showed in the profile, and would grow
//! with the number of hooks. The index is rebuilt from the store after
//! every committed change to a hook, so it trails the store only between
//! a commit and the rebuild that follows it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use redb::ReadableTable;

use super::handle::Handle;
use super::tables::HOOKS;
use super::{StoreError, sealing};
use crate::model::{Hook, Scope};
use crate::secrets::Keyring;

/// A snapshot of every hook.
#[derive(Debug, Default)]
pub struct HookIndex {
    by_id: BTreeMap<u64, Arc<Hook>>,
    by_event: HashMap<String, Vec<Arc<Hook>>>,
}

impl HookIndex {
    /// An index of `hooks`: what a store builds from its hooks, whatever
    /// keeps them.
    pub fn new(hooks: impl IntoIterator<Item = Hook>) -> HookIndex {
        let mut index = HookIndex::default();
        for hook in hooks {
            let hook = Arc::new(hook);
            index.by_event.entry(hook.settings.event.clone()).or_default().push(hook.clone());
            index.by_id.insert(hook.id, hook);
        }
        index.by_event.values_mut().for_each(|hooks| hooks.sort_by_key(|hook| hook.id));
        index
    }

    /// Every hook, its confidential values opened: deliveries sign with
    /// them. They stay in memory only.
    fn load(db: &Handle, keyring: &Keyring) -> Result<HookIndex, StoreError> {
        let txn = db.begin_read()?;
        let table = txn.open_table(HOOKS)?;
        let hooks = table.iter()?.map(|entry| sealing::open(entry?.1.value(), keyring));
        Ok(HookIndex::new(hooks.collect::<Result<Vec<Hook>, StoreError>>()?))
    }

    /// Hook `id`, whoever owns it.
    pub fn get(&self, id: u64) -> Option<&Arc<Hook>> {
        self.by_id.get(&id)
    }

    /// The hooks subscribed to `event`, active or not, by id.
    pub fn for_event(&self, event: &str) -> &[Arc<Hook>] {
        self.by_event.get(event).map_or(&[], Vec::as_slice)
    }

    /// The hooks visible in `scope`, by id.
    pub fn visible<'a>(&'a self, scope: &'a Scope) -> impl Iterator<Item = &'a Arc<Hook>> {
        self.by_id.values().filter(|hook| scope.sees(hook.academy.as_deref()))
    }
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
        let index = Arc::new(HookIndex::load(db, keyring)?);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = index;
        Ok(())
    }
}
