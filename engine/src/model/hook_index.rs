//! Every hook, in memory, by id and by event. Ingestion fans each event
//! out to its event's hooks and each delivery attempt needs its hook:
//! reading and decoding them from the store every time showed in the
//! profile, and would grow with the number of hooks. A store builds the
//! index from its hooks and rebuilds it after every change to them.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::{Hook, Scope};

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
