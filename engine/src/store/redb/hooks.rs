//! Hooks: an academy's subscription of one endpoint to one event.

use std::sync::Arc;

use redb::ReadableTable;

use super::Quotas;
use super::codec::decode;
use super::payloads::{Bodies, Uses, sample_id};
use super::tables::{HOOK_SAMPLES, HOOK_STATS, HOOKS, meta};
use super::usage::Ledger;
use super::{RedbStore, StoreError, next_id, sealing};
use crate::model::Scope;
use crate::model::{AttachedTransformer, Hook, HookChanges, HookIndex, HookStats, NewHook};
use crate::secrets::Sealed;
use crate::time::Time;

impl RedbStore {
    /// Creates a hook, unless its academy has as many as `quotas` allow.
    pub fn create_hook(&self, new: NewHook, quotas: Quotas) -> Result<Hook, StoreError> {
        self.room()?;
        let txn = self.db.begin_write()?;
        let hook = new.into_hook(next_id(&txn, meta::NEXT_HOOK_ID)?, Time::now());
        Ledger::open(&txn, quotas)?.change(None, Some(&hook), None)?;
        txn.open_table(HOOKS)?.insert(hook.id, sealing::seal(&hook, &self.keyring).as_slice())?;
        txn.commit()?;
        self.reload_hooks()?;
        Ok(hook)
    }

    /// Every hook, from memory.
    pub fn hook_index(&self) -> Arc<HookIndex> {
        self.hooks.get()
    }

    /// Rebuilds the in-memory index of hooks from the store: after a commit
    /// that changed hooks outside this module (a delivery that deactivated
    /// its hook).
    pub fn reload_hooks(&self) -> Result<(), StoreError> {
        self.hooks.rebuild(&self.db, &self.keyring)
    }

    /// Every hook visible in `scope`, by id.
    pub fn hooks(&self, scope: &Scope) -> Result<Vec<Hook>, StoreError> {
        Ok(self.hook_index().visible(scope).map(|hook| (**hook).clone()).collect())
    }

    /// Hook `id`, if it exists and is visible in `scope`.
    pub fn hook(&self, scope: &Scope, id: u64) -> Result<Option<Hook>, StoreError> {
        let index = self.hook_index();
        Ok(index.get(id).filter(|hook| scope.sees(hook.academy.as_deref())).map(|hook| (**hook).clone()))
    }

    /// What the deliveries to hook `id` did so far.
    pub fn hook_stats(&self, id: u64) -> Result<HookStats, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(HOOK_STATS)?;
        let stats = table.get(id)?.map(|bytes| decode("hook stats", bytes.value())).transpose()?;
        Ok(stats.unwrap_or_default())
    }

    /// Clears hook `id`'s stats if it is visible in `scope`; whether it
    /// is. One write transaction, as the committer's that count attempts
    /// (redb has one writer at a time), so no attempt's count is lost.
    pub fn reset_hook_stats(&self, scope: &Scope, id: u64) -> Result<bool, StoreError> {
        let txn = self.db.begin_write()?;
        let visible = match txn.open_table(HOOKS)?.get(id)? {
            Some(bytes) => scope.sees(sealing::decode_sealed(bytes.value())?.academy.as_deref()),
            None => false,
        };
        if visible {
            txn.open_table(HOOK_STATS)?.remove(id)?;
        }
        txn.commit()?;
        Ok(visible)
    }

    /// Applies `changes` to hook `id` if it is visible in `scope`.
    pub fn update_hook(&self, scope: &Scope, id: u64, changes: HookChanges) -> Result<Option<Hook>, StoreError> {
        self.room()?;
        let txn = self.db.begin_write()?;
        let updated = {
            let mut table = txn.open_table(HOOKS)?;
            let hook = table.get(id)?.map(|bytes| sealing::open(bytes.value(), &self.keyring)).transpose()?;
            match hook {
                Some(mut hook) if scope.sees(hook.academy.as_deref()) => {
                    changes.apply(&mut hook);
                    table.insert(id, sealing::seal(&hook, &self.keyring).as_slice())?;
                    Some(hook)
                }
                _ => None,
            }
        };
        txn.commit()?;
        self.reload_hooks()?;
        Ok(updated)
    }

    /// Deletes hook `id` if it is visible in `scope`; whether it did.
    pub fn delete_hook(&self, scope: &Scope, id: u64) -> Result<bool, StoreError> {
        self.delete_hooks_where(scope, |hook| hook.id == id).map(|n| n == 1)
    }

    /// Deletes, in one transaction, every hook visible in `scope` that
    /// `matches`, and the transformer components no other hook or plugin
    /// version uses; how many hooks. `matches` sees the hook as stored,
    /// its confidential values sealed.
    pub fn delete_hooks_where(
        &self,
        scope: &Scope,
        matches: impl Fn(&Hook<Sealed>) -> bool,
    ) -> Result<usize, StoreError> {
        let txn = self.db.begin_write()?;
        let deleted = {
            let mut hooks = txn.open_table(HOOKS)?;
            let mut doomed = Vec::new();
            for entry in hooks.iter()? {
                let hook = sealing::decode_sealed(entry?.1.value())?;
                if scope.sees(hook.academy.as_deref()) && matches(&hook) {
                    doomed.push(hook);
                }
            }
            let mut samples = txn.open_table(HOOK_SAMPLES)?;
            let mut stats = txn.open_table(HOOK_STATS)?;
            let mut ledger = Ledger::open(&txn, Quotas::default())?;
            let mut uses = Uses::default();
            for hook in &doomed {
                hooks.remove(hook.id)?;
                if let Some(sample) = samples.remove(hook.id)? {
                    uses.drop(sample_id(sample.value())?);
                }
                stats.remove(hook.id)?;
                ledger.change(Some(hook), None, None)?;
            }
            uses.apply(&txn)?;
            doomed.len()
        };
        txn.commit()?;
        self.reload_hooks()?;
        Ok(deleted)
    }

    /// The last payload delivered to hook `id`.
    pub fn hook_sample(&self, id: u64) -> Result<Option<String>, StoreError> {
        let txn = self.db.begin_read()?;
        let Some(sample) = txn.open_table(HOOK_SAMPLES)?.get(id)? else { return Ok(None) };
        let payload = Bodies::open(&txn)?.get(sample_id(sample.value())?)?;
        Ok(Some(payload.body().to_owned()))
    }
}

impl RedbStore {
    /// Attaches (`Some`) or detaches (`None`) a transformer to hook `id`,
    /// storing its component unless it is already stored and freeing the
    /// one it replaces if nothing else uses it; refused when the academy's
    /// transformers would take more bytes than `quotas` allow. `None` when
    /// the hook does not exist in `scope`.
    pub fn set_transformer(
        &self,
        scope: &Scope,
        id: u64,
        transformer: Option<(AttachedTransformer, &[u8])>,
        quotas: Quotas,
    ) -> Result<Option<Hook>, StoreError> {
        if transformer.is_some() {
            self.room()?;
        }
        let txn = self.db.begin_write()?;
        let updated = {
            let mut hooks = txn.open_table(HOOKS)?;
            let hook = hooks.get(id)?.map(|bytes| sealing::open(bytes.value(), &self.keyring)).transpose()?;
            match hook {
                Some(before) if scope.sees(before.academy.as_deref()) => {
                    let (attached, bytes) =
                        transformer.map_or((None, None), |(attached, bytes)| (Some(attached), Some(bytes)));
                    let after = Hook { transformer: attached, updated_at: Time::now(), ..before.clone() };
                    Ledger::open(&txn, quotas)?.change(Some(&before), Some(&after), bytes)?;
                    hooks.insert(id, sealing::seal(&after, &self.keyring).as_slice())?;
                    Some(after)
                }
                _ => None,
            }
        };
        txn.commit()?;
        self.reload_hooks()?;
        Ok(updated)
    }
}
