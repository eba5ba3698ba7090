//! The redb backend behind the [`Store`] traits: the embedded file
//! ([`RedbStore`]) and its group committer. Reads and the writes of hooks,
//! tokens, the catalogue and plugins run on the caller's task, as each is
//! one short transaction; the writes of the delivery pipeline go through
//! the committer, which gathers concurrent ones into one transaction and
//! one fsync.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use async_trait::async_trait;
use tokio::sync::broadcast;

use super::{
    AttemptCounts, Committer, ComponentTotals, DueJobs, Health, Pruned, QueueSummary, Quotas, RecentOutcomes,
    RedbStore, StoreError, Unavailable, Usage,
};
use crate::model::{
    AttachedTransformer, Attempt, Deactivation, EventRecord, EventSpec, Hook, HookChanges, HookEffect, HookErrorRecord,
    HookIndex, HookSelector, HookStats, IdConflict, IngestItem, Job, LimitOverrides, NewHook, NextStep, ParkedEvent,
    ParkedKey, PluginLimits, PluginVersion, Role, Scope, StoredEvent, TokenRecord,
};
use crate::store::RedbSettings;
use crate::store::contract::{
    Catalog, Change, ClaimRequest, Deliveries, Events, Hooks, Judge, Plugins, Store, Tokens, Transfer,
};
use crate::store::transfer::{Counts, Record, TransferError};
use crate::time::Time;

/// The embedded store and the thread that commits its pipeline's writes.
pub struct Redb {
    store: Arc<RedbStore>,
    committer: Committer,
    /// Never sent on: the file has one writer, this engine (its lock
    /// refuses a second process).
    changes: broadcast::Sender<Change>,
}

impl Redb {
    /// Starts the committer of `store`, as `settings` say.
    pub fn new(store: RedbStore, settings: &RedbSettings) -> Redb {
        let store = Arc::new(store);
        let committer = Committer::start(store.clone(), settings.commit_delay);
        Redb { committer, store, changes: broadcast::Sender::new(1) }
    }

    /// The file, for what only the embedded store has: its space guard and
    /// re-opening after a storage failure (`recovery.rs`).
    pub fn file(&self) -> &Arc<RedbStore> {
        &self.store
    }
}

/// The commit thread and the storage watcher (`recovery.rs`, which holds
/// the file for a moment at each look) let go of the file before it is
/// dropped, so dropping the last handle closes it cleanly, here.
impl Drop for Redb {
    fn drop(&mut self) {
        self.committer.close();
        for _ in 0..100 {
            if Arc::strong_count(&self.store) == 1 {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

#[async_trait]
impl Hooks for Redb {
    fn hook_index(&self) -> Arc<HookIndex> {
        self.store.hook_index()
    }

    async fn create_hook(&self, new: NewHook, quotas: Quotas) -> Result<Hook, StoreError> {
        self.store.create_hook(new, quotas)
    }

    async fn update_hook(&self, scope: &Scope, id: u64, changes: HookChanges) -> Result<Option<Hook>, StoreError> {
        self.store.update_hook(scope, id, changes)
    }

    async fn set_transformer(
        &self,
        scope: &Scope,
        id: u64,
        transformer: Option<(AttachedTransformer, Vec<u8>)>,
        quotas: Quotas,
    ) -> Result<Option<Hook>, StoreError> {
        let transformer = transformer.as_ref().map(|(attached, bytes)| (attached.clone(), bytes.as_slice()));
        self.store.set_transformer(scope, id, transformer, quotas)
    }

    async fn delete_hooks(&self, scope: &Scope, selector: &HookSelector) -> Result<usize, StoreError> {
        self.store.delete_hooks_where(scope, |hook| selector.takes(hook))
    }

    async fn hook_stats(&self, id: u64) -> Result<HookStats, StoreError> {
        self.store.hook_stats(id)
    }

    async fn reset_hook_stats(&self, scope: &Scope, id: u64) -> Result<bool, StoreError> {
        self.store.reset_hook_stats(scope, id)
    }

    async fn hook_sample(&self, id: u64) -> Result<Option<String>, StoreError> {
        self.store.hook_sample(id)
    }

    async fn academy_usage(&self, academy: &str) -> Result<Usage, StoreError> {
        self.store.academy_usage(academy)
    }
}

#[async_trait]
impl Tokens for Redb {
    async fn create_token(&self, hash: [u8; 32], name: String, role: Role) -> Result<TokenRecord, StoreError> {
        self.store.create_token(&hash, name, role)
    }

    async fn token(&self, hash: [u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        self.store.token(&hash)
    }

    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        self.store.tokens()
    }

    async fn revoke_token(&self, id: u64) -> Result<bool, StoreError> {
        self.store.revoke_token(id)
    }
}

#[async_trait]
impl Catalog for Redb {
    async fn catalog_additions(&self) -> Result<Vec<EventSpec>, StoreError> {
        self.store.catalog_additions()
    }

    async fn save_catalog_event(&self, spec: EventSpec) -> Result<(), StoreError> {
        self.store.save_catalog_event(&spec)
    }
}

#[async_trait]
impl Plugins for Redb {
    async fn add_plugin_version(
        &self,
        name: &str,
        sha256: String,
        bytes: Vec<u8>,
    ) -> Result<PluginVersion, StoreError> {
        self.store.add_plugin_version(name, sha256, &bytes)
    }

    async fn plugin_versions(&self) -> Result<Vec<PluginVersion>, StoreError> {
        self.store.plugin_versions()
    }

    async fn plugin_versions_of(&self, name: &str) -> Result<Vec<PluginVersion>, StoreError> {
        self.store.plugin_versions_of(name)
    }

    async fn activate_plugin_version(
        &self,
        name: &str,
        version: u32,
    ) -> Result<Option<Vec<PluginVersion>>, StoreError> {
        self.store.activate_plugin_version(name, version)
    }

    async fn delete_plugin(&self, name: &str) -> Result<Vec<PluginVersion>, StoreError> {
        self.store.delete_plugin(name)
    }

    async fn plugin_blob(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.store.plugin_blob(sha256)
    }

    async fn component_totals(&self) -> Result<ComponentTotals, StoreError> {
        self.store.component_totals()
    }

    async fn plugin_limits(&self) -> Result<Vec<PluginLimits>, StoreError> {
        self.store.plugin_limits()
    }

    async fn set_plugin_limits(&self, name: &str, limits: LimitOverrides) -> Result<(), StoreError> {
        self.store.set_plugin_limits(name, &limits)
    }
}

#[async_trait]
impl Events for Redb {
    async fn record_ingest(
        &self,
        items: Vec<IngestItem>,
        judge: Judge,
        park_cap: u64,
    ) -> Result<Result<Vec<EventRecord>, IdConflict>, StoreError> {
        self.committer.record_ingest(items, judge, park_cap).await
    }

    async fn event(&self, academy: &str, id: &str) -> Result<Option<StoredEvent>, StoreError> {
        self.store.event(academy, id)
    }

    async fn parked(
        &self,
        plugin: &str,
        after: Option<ParkedKey>,
        limit: usize,
    ) -> Result<Vec<ParkedEvent>, StoreError> {
        self.store.parked(plugin, after.as_ref(), limit)
    }

    async fn parked_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.store.parked_counts()
    }

    async fn parked_count(&self, plugin: &str) -> Result<u64, StoreError> {
        self.store.parked_count(plugin)
    }

    async fn unpark(&self, plugin: String, done: Vec<(ParkedKey, u32)>) -> Result<(), StoreError> {
        self.committer.unpark(plugin, done).await
    }
}

#[async_trait]
impl Deliveries for Redb {
    async fn due_jobs(&self, request: ClaimRequest<'_>) -> Result<DueJobs, StoreError> {
        self.store.due_jobs(request.now_ms, request.limit, request.room, request.claimed)
    }

    async fn record_attempt(
        &self,
        job: Job,
        attempt: Attempt,
        next: NextStep,
        rule: Deactivation,
    ) -> Result<HookEffect, StoreError> {
        let effect = self.committer.record_attempt(job, attempt, next, rule).await?;
        if effect == HookEffect::Deactivate {
            self.store.reload_hooks()?;
        }
        Ok(effect)
    }

    async fn drop_job(&self, job: Job) -> Result<(), StoreError> {
        self.committer.drop_job(job).await
    }

    async fn enqueue(&self, jobs: Vec<Job>) -> Result<Vec<u64>, StoreError> {
        self.committer.enqueue(jobs).await
    }

    async fn attempts(&self, hook_id: u64) -> Result<Vec<Attempt>, StoreError> {
        self.store.attempts(hook_id)
    }

    async fn hook_errors(&self, scope: &Scope) -> Result<Vec<HookErrorRecord>, StoreError> {
        self.store.hook_errors(scope)
    }

    async fn queue_summary(&self) -> Result<QueueSummary, StoreError> {
        self.store.queue_summary()
    }

    async fn recent_outcomes(&self, scope: &Scope, window: usize) -> Result<Vec<(Hook, RecentOutcomes)>, StoreError> {
        self.store.recent_outcomes(scope, window)
    }

    async fn attempt_counts(&self, scope: &Scope, since: Time) -> Result<Vec<(Hook, AttemptCounts)>, StoreError> {
        self.store.attempt_counts(scope, since)
    }

    async fn prune(&self, cutoff: Time) -> Result<Pruned, StoreError> {
        // One long transaction over three tables.
        let store = self.store.clone();
        blocking(move || store.prune(cutoff)).await
    }
}

#[async_trait]
impl Transfer for Redb {
    async fn tokens_with_hashes(&self) -> Result<Vec<([u8; 32], TokenRecord)>, StoreError> {
        self.store.tokens_with_hashes()
    }

    async fn queued_jobs(&self, after: Option<&Job>, limit: usize) -> Result<Vec<Job>, StoreError> {
        self.store.queued_jobs(after.map(|job| (job.due_ms, job.id)), limit)
    }

    async fn import(
        &self,
        _records: &mut (dyn Iterator<Item = Result<Record, TransferError>> + Send),
    ) -> Result<Counts, TransferError> {
        Err(TransferError::Unsupported { store: "redb" })
    }
}

#[async_trait]
impl Store for Redb {
    fn location(&self) -> String {
        self.store.path().display().to_string()
    }

    fn health(&self) -> &Health {
        self.store.health()
    }

    async fn check_readable(&self) -> Result<(), StoreError> {
        // A read of the file may wait on the disk.
        let store = self.store.clone();
        blocking(move || store.check_readable()).await
    }

    async fn sync(&self) -> Result<(), StoreError> {
        self.committer.sync().await
    }

    fn changes(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    fn commit_counts(&self) -> Option<(u64, u64)> {
        let stats = self.committer.stats();
        Some((stats.commits.load(Ordering::Relaxed), stats.operations.load(Ordering::Relaxed)))
    }
}

/// Runs `work` off the async workers, on the blocking pool. A panic in it
/// is the caller's panic.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        // The blocking pool cancels work only while the runtime stops.
        Err(_) => Err(Unavailable::Closed.into()),
    }
}
