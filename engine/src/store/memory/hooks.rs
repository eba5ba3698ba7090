//! Hooks, their stats and samples, and what each academy holds against its
//! quotas (derived from its hooks, checked by `records::check` as redb's
//! ledger does).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use super::super::contract::{Hooks, Store};
use super::super::{Quotas, StoreError, Usage};
use super::{Memory, State, next};
use crate::model::{AttachedTransformer, Hook, HookChanges, HookIndex, HookSelector, HookStats, NewHook, Scope};
use crate::store::records::check;
use crate::time::Time;

/// What `academy`'s hooks among `hooks` hold: each component counted once,
/// however many of its hooks use it.
fn usage<'a>(hooks: impl Iterator<Item = &'a Hook>, academy: &str) -> Usage {
    let mut components = BTreeMap::new();
    let mut usage = Usage::default();
    for hook in hooks.filter(|hook| hook.academy.as_deref() == Some(academy)) {
        usage.hooks += 1;
        if let Some(transformer) = &hook.transformer {
            components.insert(transformer.sha256.as_str(), transformer.size as u64);
        }
    }
    usage.transformer_bytes = components.values().sum();
    usage
}

impl State {
    /// Refuses hook `id` becoming `after` (`None`: deleted) when its
    /// academy's usage grows past `quotas`; writes nothing.
    fn check_quotas(&self, id: u64, after: Option<&Hook>, quotas: Quotas) -> Result<(), StoreError> {
        let before = self.hooks.get(&id);
        let Some(academy) = after.or(before).and_then(|hook| hook.academy.as_deref()) else { return Ok(()) };
        let start = usage(self.hooks.values(), academy);
        let end = usage(self.hooks.values().filter(|hook| hook.id != id).chain(after), academy);
        check(&quotas, academy, start, end)
    }

    /// Hook `after` replaces the one of its id (if any), its transformer's
    /// component counted as a use (the new use first: a component replaced
    /// by itself is never freed).
    fn put_hook(&mut self, after: Hook, bytes: Option<Vec<u8>>) {
        if let Some(transformer) = &after.transformer {
            self.blobs.retain(&transformer.sha256, bytes);
        }
        if let Some(before) = self.hooks.insert(after.id, after) {
            self.release_transformer(&before);
        }
        self.reindex();
    }

    fn release_transformer(&mut self, hook: &Hook) {
        if let Some(transformer) = &hook.transformer {
            self.blobs.release(&transformer.sha256);
        }
    }

    /// Hook `id` if it is visible in `scope`.
    fn visible_hook(&self, scope: &Scope, id: u64) -> Option<&Hook> {
        self.hooks.get(&id).filter(|hook| scope.sees(hook.academy.as_deref()))
    }
}

#[async_trait]
impl Hooks for Memory {
    fn hook_index(&self) -> Arc<HookIndex> {
        self.lock().index.clone()
    }

    async fn create_hook(&self, new: NewHook, quotas: Quotas) -> Result<Hook, StoreError> {
        self.room()?;
        let mut state = self.lock();
        let mut hook = new.into_hook(0, Time::now());
        state.check_quotas(0, Some(&hook), quotas)?;
        hook.id = next(&mut state.counters.hook);
        state.put_hook(hook.clone(), None);
        Ok(hook)
    }

    async fn update_hook(&self, scope: &Scope, id: u64, changes: HookChanges) -> Result<Option<Hook>, StoreError> {
        self.room()?;
        let mut state = self.lock();
        let Some(mut hook) = state.visible_hook(scope, id).cloned() else { return Ok(None) };
        changes.apply(&mut hook);
        state.put_hook(hook.clone(), None);
        Ok(Some(hook))
    }

    async fn set_transformer(
        &self,
        scope: &Scope,
        id: u64,
        transformer: Option<(AttachedTransformer, Vec<u8>)>,
        quotas: Quotas,
    ) -> Result<Option<Hook>, StoreError> {
        if transformer.is_some() {
            self.room()?;
        }
        let mut state = self.lock();
        let Some(before) = state.visible_hook(scope, id) else { return Ok(None) };
        let (attached, bytes) = transformer.map_or((None, None), |(attached, bytes)| (Some(attached), Some(bytes)));
        let after = Hook { transformer: attached, updated_at: Time::now(), ..before.clone() };
        state.check_quotas(id, Some(&after), quotas)?;
        state.put_hook(after.clone(), bytes);
        Ok(Some(after))
    }

    async fn delete_hooks(&self, scope: &Scope, selector: &HookSelector) -> Result<usize, StoreError> {
        let mut state = self.lock();
        let doomed: Vec<u64> = state
            .hooks
            .values()
            .filter(|hook| scope.sees(hook.academy.as_deref()) && selector.takes(hook))
            .map(|hook| hook.id)
            .collect();
        for id in &doomed {
            if let Some(hook) = state.hooks.remove(id) {
                state.release_transformer(&hook);
            }
            state.stats.remove(id);
            state.samples.remove(id);
        }
        state.reindex();
        Ok(doomed.len())
    }

    async fn hook_stats(&self, id: u64) -> Result<HookStats, StoreError> {
        Ok(self.lock().stats.get(&id).cloned().unwrap_or_default())
    }

    async fn reset_hook_stats(&self, scope: &Scope, id: u64) -> Result<bool, StoreError> {
        let mut state = self.lock();
        if state.visible_hook(scope, id).is_none() {
            return Ok(false);
        }
        state.stats.remove(&id);
        Ok(true)
    }

    async fn hook_sample(&self, id: u64) -> Result<Option<String>, StoreError> {
        Ok(self.lock().samples.get(&id).map(|sample| sample.body().to_owned()))
    }

    async fn academy_usage(&self, academy: &str) -> Result<Usage, StoreError> {
        Ok(usage(self.lock().hooks.values(), academy))
    }
}
