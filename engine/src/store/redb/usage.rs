//! What each academy's hooks hold against its quotas (its hook count, the
//! bytes of the transformer components they use), kept by the same write
//! transaction that changes a hook, so a quota is checked against committed
//! state and two racing requests cannot both slip under it.
//!
//! A superadmin's hook without an academy counts against no quota; its
//! transformer is still a use of its component (`blobs.rs`).

use redb::{ReadableTable, WriteTransaction};

use super::blobs::Blobs;
use super::tables::{ACADEMY_BLOBS, ACADEMY_USAGE};
use super::{RedbStore, StoreError};
use crate::model::Hook;
use crate::store::records::check;
use crate::store::{Quotas, Usage};

/// An academy's usage from its stored form (`ACADEMY_USAGE`); none
/// stored: nothing held.
fn stored_usage(entry: Option<(u64, u64)>) -> Usage {
    entry.map_or_else(Usage::default, |(hooks, transformer_bytes)| Usage { hooks, transformer_bytes })
}

/// The uses of hooks, inside one write transaction: academies' usage and
/// components' use counts.
pub(super) struct Ledger<'txn> {
    pub(super) blobs: Blobs<'txn>,
    usage: redb::Table<'txn, &'static str, (u64, u64)>,
    uses: redb::Table<'txn, (&'static str, &'static str), u64>,
    quotas: Quotas,
}

impl<'txn> Ledger<'txn> {
    /// A ledger refusing changes that take an academy over `quotas`.
    pub(super) fn open(txn: &'txn WriteTransaction, quotas: Quotas) -> Result<Ledger<'txn>, StoreError> {
        Ok(Ledger {
            blobs: Blobs::open(txn)?,
            usage: txn.open_table(ACADEMY_USAGE)?,
            uses: txn.open_table(ACADEMY_BLOBS)?,
            quotas,
        })
    }

    /// Accounts for a hook changing from `before` to `after` (`None`: it
    /// does not exist), with the bytes of `after`'s transformer when it may
    /// be new to the store. Refused when an academy's usage grows past a
    /// quota; a change that does not grow it (a deletion, a quota lowered
    /// since) always passes. On refusal the caller's transaction, dropped
    /// uncommitted, leaves everything as it was.
    pub(super) fn change<S>(
        &mut self,
        before: Option<&Hook<S>>,
        after: Option<&Hook<S>>,
        bytes: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        let academy = after.or(before).and_then(|hook| hook.academy.as_deref());
        let start = academy.map(|academy| self.usage(academy)).transpose()?;
        // The new use first: a component replaced by itself is never freed.
        if let Some(hook) = after {
            self.add(hook, bytes)?;
        }
        if let Some(hook) = before {
            self.remove(hook)?;
        }
        if let (Some(academy), Some(start)) = (academy, start) {
            check(&self.quotas, academy, start, self.usage(academy)?)?;
        }
        Ok(())
    }

    fn add<S>(&mut self, hook: &Hook<S>, bytes: Option<&[u8]>) -> Result<(), StoreError> {
        let transformer = hook.transformer.as_ref();
        if let Some(transformer) = transformer {
            self.blobs.retain(&transformer.sha256, bytes)?;
        }
        if let Some(academy) = hook.academy.as_deref() {
            let mut usage = self.usage(academy)?;
            usage.hooks += 1;
            if let Some(transformer) = transformer
                && self.count_use(academy, &transformer.sha256, 1)? == 1
            {
                usage.transformer_bytes += transformer.size as u64;
            }
            self.set_usage(academy, usage)?;
        }
        Ok(())
    }

    fn remove<S>(&mut self, hook: &Hook<S>) -> Result<(), StoreError> {
        let transformer = hook.transformer.as_ref();
        if let Some(transformer) = transformer {
            self.blobs.release(&transformer.sha256)?;
        }
        if let Some(academy) = hook.academy.as_deref() {
            let mut usage = self.usage(academy)?;
            usage.hooks = usage.hooks.saturating_sub(1);
            if let Some(transformer) = transformer
                && self.count_use(academy, &transformer.sha256, -1)? == 0
            {
                usage.transformer_bytes = usage.transformer_bytes.saturating_sub(transformer.size as u64);
            }
            self.set_usage(academy, usage)?;
        }
        Ok(())
    }

    /// Adds `delta` to how many of `academy`'s hooks use `sha256`; the new count.
    fn count_use(&mut self, academy: &str, sha256: &str, delta: i64) -> Result<u64, StoreError> {
        let count = self.uses.get((academy, sha256))?.map_or(0, |entry| entry.value());
        let count = count.saturating_add_signed(delta);
        if count == 0 {
            self.uses.remove((academy, sha256))?;
        } else {
            self.uses.insert((academy, sha256), count)?;
        }
        Ok(count)
    }

    fn usage(&self, academy: &str) -> Result<Usage, StoreError> {
        Ok(stored_usage(self.usage.get(academy)?.map(|entry| entry.value())))
    }

    fn set_usage(&mut self, academy: &str, usage: Usage) -> Result<(), StoreError> {
        if usage == Usage::default() {
            self.usage.remove(academy)?;
        } else {
            self.usage.insert(academy, (usage.hooks, usage.transformer_bytes))?;
        }
        Ok(())
    }
}

impl RedbStore {
    /// What `academy` holds against its quotas now.
    pub fn academy_usage(&self, academy: &str) -> Result<Usage, StoreError> {
        let txn = self.db.begin_read()?;
        Ok(stored_usage(txn.open_table(ACADEMY_USAGE)?.get(academy)?.map(|entry| entry.value())))
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::model::{AttachedTransformer, Scope};
    use crate::quota::Limit;
    use crate::store::ComponentTotals;
    use crate::store::redb::tables::{BLOB_REFS, PLUGIN_BLOBS};
    use crate::store::tests::new_hook;
    use crate::time::Time;

    fn component(sha256: &str, bytes: &[u8]) -> AttachedTransformer {
        AttachedTransformer { sha256: sha256.into(), size: bytes.len(), uploaded_at: Time::now() }
    }

    fn attach(store: &RedbStore, quotas: Quotas, id: u64, sha256: &str, bytes: &[u8]) -> Result<(), StoreError> {
        store.set_transformer(&Scope::All, id, Some((component(sha256, bytes), bytes)), quotas).map(|_| ())
    }

    #[test]
    fn a_shared_component_is_stored_and_counted_once_and_freed_with_its_last_use() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path(), crate::store::tests::keyring()).unwrap();
        let none = Quotas::default();
        let a = store.create_hook(new_hook(Some("a")), none).unwrap();
        let b = store.create_hook(new_hook(Some("a")), none).unwrap();
        let global = store.create_hook(new_hook(None), none).unwrap();
        for hook in [&a, &b, &global] {
            attach(&store, none, hook.id, "shared", b"12345").unwrap();
        }
        assert_eq!(store.academy_usage("a").unwrap(), Usage { hooks: 2, transformer_bytes: 5 });
        assert_eq!(store.component_totals().unwrap(), ComponentTotals { count: 1, bytes: 5 });

        attach(&store, none, global.id, "own", b"123").unwrap();
        store.delete_hook(&Scope::All, a.id).unwrap();
        assert_eq!(store.academy_usage("a").unwrap(), Usage { hooks: 1, transformer_bytes: 5 });
        assert!(store.plugin_blob("shared").unwrap().is_some(), "hook b still uses it");
        store.set_transformer(&Scope::All, b.id, None, none).unwrap();
        assert_eq!(store.plugin_blob("shared").unwrap(), None, "freed with its last use");
        assert_eq!(store.academy_usage("a").unwrap(), Usage { hooks: 1, transformer_bytes: 0 });
        store.delete_hooks_where(&Scope::All, |_| true).unwrap();
        assert_eq!(store.academy_usage("a").unwrap(), Usage::default());
        assert_eq!(store.component_totals().unwrap(), ComponentTotals::default());
        assert_eq!(store.plugin_blob("own").unwrap(), None);
    }

    #[test]
    fn quotas_refuse_growth_and_write_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path(), crate::store::tests::keyring()).unwrap();
        let quotas = Quotas { max_hooks: Some(2), max_transformer_bytes: Some(8) };
        let a = store.create_hook(new_hook(Some("a")), quotas).unwrap();
        let b = store.create_hook(new_hook(Some("a")), quotas).unwrap();
        let refused = store.create_hook(new_hook(Some("a")), quotas).unwrap_err();
        assert!(matches!(&refused, StoreError::Refused(r) if r.limit == Limit::HooksPerAcademy), "{refused}");
        assert!(refused.to_string().contains("quotas.max_hooks_per_academy"), "{refused}");
        store.create_hook(new_hook(Some("b")), quotas).expect("another academy has its own quota");
        store.create_hook(new_hook(None), quotas).expect("hooks without an academy count against none");
        assert_eq!(store.hooks(&Scope::Academy("a".into())).unwrap().len(), 2);

        attach(&store, quotas, a.id, "five", b"12345").unwrap();
        attach(&store, quotas, b.id, "five", b"12345").expect("the same component counts once");
        let refused = attach(&store, quotas, b.id, "four", b"1234").unwrap_err();
        assert!(matches!(&refused, StoreError::Refused(r) if r.limit == Limit::TransformerBytesPerAcademy));
        assert_eq!(store.hook(&Scope::All, b.id).unwrap().unwrap().transformer.unwrap().sha256, "five");
        assert_eq!(store.plugin_blob("four").unwrap(), None, "nothing stored");
        attach(&store, quotas, a.id, "eight", b"12345678").unwrap_err();
        store.set_transformer(&Scope::All, b.id, None, quotas).unwrap();
        attach(&store, quotas, a.id, "eight", b"12345678").expect("a replacement counts without what it replaces");
        assert_eq!(store.academy_usage("a").unwrap(), Usage { hooks: 2, transformer_bytes: 8 });

        let lower = Quotas { max_hooks: Some(1), max_transformer_bytes: Some(1) };
        store.delete_hook(&Scope::All, b.id).expect("deleting is never refused");
        attach(&store, lower, a.id, "eight", b"12345678")
            .expect("a quota lowered since does not refuse what does not grow");
    }

    #[test]
    fn a_recount_derives_the_counts_from_the_hooks_and_frees_what_nothing_uses() {
        let dir = tempfile::tempdir().unwrap();
        let none = Quotas::default();
        let store = RedbStore::open(dir.path(), crate::store::tests::keyring()).unwrap();
        let a = store.create_hook(new_hook(Some("a")), none).unwrap();
        let b = store.create_hook(new_hook(Some("a")), none).unwrap();
        attach(&store, none, a.id, "used", b"1234").unwrap();
        attach(&store, none, b.id, "used", b"1234").unwrap();
        store.add_plugin_version("p", "version".into(), b"123").unwrap();
        // What a version 2 engine left: no counts, and a component that
        // stayed after its hook was deleted.
        let txn = store.db.begin_write().unwrap();
        txn.delete_table(BLOB_REFS).unwrap();
        txn.delete_table(ACADEMY_USAGE).unwrap();
        txn.delete_table(ACADEMY_BLOBS).unwrap();
        txn.open_table(PLUGIN_BLOBS).unwrap().insert("orphan".as_bytes(), &[0u8; 100][..]).unwrap();
        let found = crate::store::redb::recount::recount(&txn).unwrap();
        txn.commit().unwrap();

        assert_eq!((found.components, found.freed, found.freed_bytes), (2, 1, 100));
        assert_eq!(store.plugin_blob("orphan").unwrap(), None, "freed");
        assert_eq!(store.component_totals().unwrap(), ComponentTotals { count: 2, bytes: 7 });
        assert_eq!(store.academy_usage("a").unwrap(), Usage { hooks: 2, transformer_bytes: 4 });
        store.delete_hooks_where(&Scope::All, |_| true).unwrap();
        assert_eq!(store.plugin_blob("used").unwrap(), None, "the recounted uses free it with its last");
        assert!(store.plugin_blob("version").unwrap().is_some());
    }
}
