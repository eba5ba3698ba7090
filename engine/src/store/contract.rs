//! What the engine asks of a store, said by intent: the seam between the
//! engine and its backends (`redb`, the default embedded file; `memory`,
//! for unit tests of policy; `postgres`, a PostgreSQL database).
//!
//! Each trait is one concern; [`Store`] is all of them plus the store's
//! health. Callers hold an `Arc<dyn Store>` and never see a table, a
//! transaction or a row: a backend chooses its layout, its batching and its
//! caches.
//!
//! Written so that a networked backend can implement it:
//!
//! - every call is async; the only closures a store is handed are pure
//!   questions with no I/O: the idempotency judge (of the stored record)
//!   and, in a claim, the dispatcher's room per hook and its claimed jobs;
//! - the writes of the delivery pipeline are one call per intent (record an
//!   ingest, record an attempt, queue replays), which a backend batches as
//!   it likes: redb gathers concurrent calls into one transaction and one
//!   fsync (`redb/committer.rs`);
//! - a write of hooks, tokens, the catalogue or plugins is answered once
//!   durable, and the hook index and token cache a backend keeps reflect it
//!   when the call returns (read your writes on the node that wrote);
//! - what other engines write to a shared store reaches this one as a
//!   stream of [`Change`]s: the backend follows hooks and tokens in its own
//!   caches, and `app/follow.rs` brings the catalogue and the plugins in
//!   line.
//!
//! Tenant data is read through a [`Scope`]: a lookup that forgets whose
//! data it reads does not compile.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::broadcast;

use super::transfer::{Counts, Record, TransferError};
use super::{
    AttemptCounts, ComponentTotals, DueJobs, Health, Pruned, QueueSummary, Quotas, RecentOutcomes, StoreError, Usage,
};
use crate::model::{
    AttachedTransformer, Attempt, Deactivation, EventRecord, EventSpec, Hook, HookChanges, HookEffect, HookErrorRecord,
    HookIndex, HookSelector, HookStats, IdConflict, IngestItem, Job, LimitOverrides, NewHook, NextStep, ParkedEvent,
    ParkedKey, PluginLimits, PluginVersion, Role, Scope, Seen, Sha256, StoredEvent, TokenRecord,
};
use crate::time::Time;

/// A change another engine wrote to a shared store, which this engine's
/// in-memory state must follow. A store with one writer (redb, memory)
/// announces none: every write comes through this engine, which updates
/// its state as it writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A catalogue event was added or changed.
    Catalog,
    /// Plugin `name` got a version, another active version or other limits,
    /// or was deleted.
    Plugin(String),
    /// Anything may have changed (changes may have been missed): read the
    /// catalogue and every plugin again.
    Everything,
}

/// What a stored event means for a new one with the same client id (see
/// `ingest/idempotency.rs`): asked inside the write that records an
/// ingest, so two concurrent requests with one id cannot both be new.
pub type Judge = Box<dyn Fn(Option<StoredEvent>, &Sha256) -> Seen + Send + Sync>;

/// Hooks: an academy's subscriptions of endpoints to events, and what
/// their deliveries did.
#[async_trait]
pub trait Hooks: Send + Sync {
    /// Every hook, from memory: fan-out and deliveries read it on every
    /// event. Reflects every write of this node once it returned.
    fn hook_index(&self) -> Arc<HookIndex>;

    /// Creates a hook, unless its academy has as many as `quotas` allow.
    async fn create_hook(&self, new: NewHook, quotas: Quotas) -> Result<Hook, StoreError>;

    /// Applies `changes` to hook `id` if it is visible in `scope`.
    async fn update_hook(&self, scope: &Scope, id: u64, changes: HookChanges) -> Result<Option<Hook>, StoreError>;

    /// Attaches (`Some`, the component's description and bytes) or detaches
    /// (`None`) hook `id`'s transformer; the component is stored once
    /// however many hooks and plugins use it, and freed with its last use.
    /// Refused when the academy's transformers would take more bytes than
    /// `quotas` allow. `None` when the hook does not exist in `scope`.
    async fn set_transformer(
        &self,
        scope: &Scope,
        id: u64,
        transformer: Option<(AttachedTransformer, Vec<u8>)>,
        quotas: Quotas,
    ) -> Result<Option<Hook>, StoreError>;

    /// Deletes every hook visible in `scope` that `selector` takes, with
    /// their stats and samples, in one write; how many.
    async fn delete_hooks(&self, scope: &Scope, selector: &HookSelector) -> Result<usize, StoreError>;

    /// Deletes hook `id` if it is visible in `scope`; whether it did.
    async fn delete_hook(&self, scope: &Scope, id: u64) -> Result<bool, StoreError> {
        let selector = HookSelector { id: Some(id), ..HookSelector::default() };
        Ok(self.delete_hooks(scope, &selector).await? == 1)
    }

    /// What the deliveries to hook `id` did so far.
    async fn hook_stats(&self, id: u64) -> Result<HookStats, StoreError>;

    /// Clears hook `id`'s stats, if it is visible in `scope` (the
    /// console's "reset counters"): they count again from zero; whether it
    /// is. Its attempts, its sample and its settings stay. Ordered with the
    /// recording of attempts, as their counting is: an attempt recorded
    /// before the reset no longer counts, one recorded after counts from
    /// zero, none is lost in between.
    async fn reset_hook_stats(&self, scope: &Scope, id: u64) -> Result<bool, StoreError>;

    /// The last payload delivered to hook `id`.
    async fn hook_sample(&self, id: u64) -> Result<Option<String>, StoreError>;

    /// What `academy` holds against its quotas now.
    async fn academy_usage(&self, academy: &str) -> Result<Usage, StoreError>;

    /// Every hook visible in `scope`, by id.
    fn hooks(&self, scope: &Scope) -> Vec<Hook> {
        self.hook_index().visible(scope).map(|hook| (**hook).clone()).collect()
    }

    /// Hook `id`, if it exists and is visible in `scope`.
    fn hook(&self, scope: &Scope, id: u64) -> Option<Hook> {
        let index = self.hook_index();
        index.get(id).filter(|hook| scope.sees(hook.academy.as_deref())).map(|hook| (**hook).clone())
    }
}

/// API tokens, stored by the sha256 of the token (never the token).
#[async_trait]
pub trait Tokens: Send + Sync {
    async fn create_token(&self, hash: [u8; 32], name: String, role: Role) -> Result<TokenRecord, StoreError>;
    /// The token whose sha256 is `hash`: every request asks, so a backend
    /// answers from memory once it has seen it (and forgets on revoke).
    async fn token(&self, hash: [u8; 32]) -> Result<Option<TokenRecord>, StoreError>;
    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError>;
    /// Revokes token `id`; whether it existed.
    async fn revoke_token(&self, id: u64) -> Result<bool, StoreError>;
}

/// The event catalogue's additions made at run time (the built-in events
/// come with the binary).
#[async_trait]
pub trait Catalog: Send + Sync {
    async fn catalog_additions(&self) -> Result<Vec<EventSpec>, StoreError>;
    /// Adds or replaces the entry of `spec.name`.
    async fn save_catalog_event(&self, spec: EventSpec) -> Result<(), StoreError>;
}

/// Uploaded serializer plugins: immutable numbered versions, one active per
/// name, their components, and their limits.
#[async_trait]
pub trait Plugins: Send + Sync {
    /// Stores a new version of plugin `name`, not active yet; its component
    /// is written unless it is stored already.
    async fn add_plugin_version(&self, name: &str, sha256: String, bytes: Vec<u8>)
    -> Result<PluginVersion, StoreError>;
    /// Every version, by name then version.
    async fn plugin_versions(&self) -> Result<Vec<PluginVersion>, StoreError>;
    /// The versions of `name`, oldest first.
    async fn plugin_versions_of(&self, name: &str) -> Result<Vec<PluginVersion>, StoreError>;
    /// Makes `version` of `name` the active one; the versions of `name`
    /// after the change, `None` when that version does not exist.
    async fn activate_plugin_version(&self, name: &str, version: u32)
    -> Result<Option<Vec<PluginVersion>>, StoreError>;
    /// Deletes every version of `name`, its limits and the components
    /// nothing else uses; the versions deleted.
    async fn delete_plugin(&self, name: &str) -> Result<Vec<PluginVersion>, StoreError>;
    /// The bytes of the component whose sha256 is `sha256`.
    async fn plugin_blob(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError>;
    async fn component_totals(&self) -> Result<ComponentTotals, StoreError>;
    async fn plugin_limits(&self) -> Result<Vec<PluginLimits>, StoreError>;
    async fn set_plugin_limits(&self, name: &str, limits: LimitOverrides) -> Result<(), StoreError>;
}

/// The events ingested, and the events parked after their serializer
/// failed, to be ingested again once it is fixed.
#[async_trait]
pub trait Events: Send + Sync {
    /// Records the items of one ingest request — events, their delivery
    /// jobs, hook errors, parked events — all or nothing; one record per
    /// item, in order. An item whose client id is stored already (a
    /// concurrent request carried it too) is not written: `judge` says what
    /// the stored record means — its record is answered, or the whole
    /// request is refused with the conflict and nothing is written. At most
    /// `park_cap` events stay parked per plugin; a failure past it keeps
    /// its failed record and hook error, unparked.
    async fn record_ingest(
        &self,
        items: Vec<IngestItem>,
        judge: Judge,
        park_cap: u64,
    ) -> Result<Result<Vec<EventRecord>, IdConflict>, StoreError>;

    /// The event `academy` ingested with id `id`.
    async fn event(&self, academy: &str, id: &str) -> Result<Option<StoredEvent>, StoreError>;

    /// Up to `limit` events parked under `plugin`, by academy and event id,
    /// after `after` (a page of a scan).
    async fn parked(
        &self,
        plugin: &str,
        after: Option<ParkedKey>,
        limit: usize,
    ) -> Result<Vec<ParkedEvent>, StoreError>;
    /// How many events are parked under each plugin that has some.
    async fn parked_counts(&self) -> Result<Vec<(String, u64)>, StoreError>;
    async fn parked_count(&self, plugin: &str) -> Result<u64, StoreError>;
    /// Removes the events of `plugin` that were ingested again, each only
    /// if it still has the failures it had when read (one that failed again
    /// since stays parked).
    async fn unpark(&self, plugin: String, done: Vec<(ParkedKey, u32)>) -> Result<(), StoreError>;
}

/// Which due jobs one pass of the dispatcher may take (see
/// `delivery/claims.rs`, which owns the fair-share rule).
pub struct ClaimRequest<'a> {
    pub now_ms: u64,
    /// Jobs at most (the free workers).
    pub limit: usize,
    /// How many more of a hook's jobs this engine may take (0: none, and
    /// its jobs are not read).
    pub room: &'a (dyn Fn(u64) -> usize + Send + Sync),
    /// A hook's cap of attempts in flight: a store shared by several
    /// engines (PostgreSQL) also keeps a hook's jobs claimed by all of them
    /// under it.
    pub cap: &'a (dyn Fn(u64) -> usize + Send + Sync),
    /// Whether a job is being attempted already.
    pub claimed: &'a (dyn Fn(u64) -> bool + Send + Sync),
}

/// The delivery queue and its log: jobs waiting for an attempt, attempts,
/// hook errors.
#[async_trait]
pub trait Deliveries: Send + Sync {
    /// Up to `request.limit` jobs due at `request.now_ms`, the hook whose
    /// oldest job has waited longest first.
    async fn due_jobs(&self, request: ClaimRequest<'_>) -> Result<DueJobs, StoreError>;

    /// Records an attempt of `job` and what follows it: the job is dropped
    /// or moved to its retry, the hook's stats counted under `rule`, its
    /// sample kept; whether the hook was deactivated.
    async fn record_attempt(
        &self,
        job: Job,
        attempt: Attempt,
        next: NextStep,
        rule: Deactivation,
    ) -> Result<HookEffect, StoreError>;

    /// Drops `job` without an attempt (its hook is gone).
    async fn drop_job(&self, job: Job) -> Result<(), StoreError>;

    /// Queues `jobs` (replays), each under a new delivery id; the ids.
    async fn enqueue(&self, jobs: Vec<Job>) -> Result<Vec<u64>, StoreError>;

    /// Hook `id`'s attempts, newest first.
    async fn attempts(&self, hook_id: u64) -> Result<Vec<Attempt>, StoreError>;

    /// Hook errors visible in `scope`, newest first.
    async fn hook_errors(&self, scope: &Scope) -> Result<Vec<HookErrorRecord>, StoreError>;

    /// The queue's depth and head.
    async fn queue_summary(&self) -> Result<QueueSummary, StoreError>;

    /// Each hook visible in `scope` with the outcomes of its last `window`
    /// attempts that called the receiver.
    async fn recent_outcomes(&self, scope: &Scope, window: usize) -> Result<Vec<(Hook, RecentOutcomes)>, StoreError>;

    /// Each hook visible in `scope` with its attempts sent since `since`.
    async fn attempt_counts(&self, scope: &Scope, since: Time) -> Result<Vec<(Hook, AttemptCounts)>, StoreError>;

    /// Deletes events, attempts and hook errors recorded before `cutoff`;
    /// queued jobs are kept whatever their age.
    async fn prune(&self, cutoff: Time) -> Result<Pruned, StoreError>;
}

/// The reads an export makes that the engine never does, and the import
/// of an export (`store/transfer.rs`).
#[async_trait]
pub trait Transfer: Send + Sync {
    /// Every token, by id, with the sha256 requests are matched by.
    async fn tokens_with_hashes(&self) -> Result<Vec<([u8; 32], TokenRecord)>, StoreError>;

    /// Up to `limit` queued jobs after `after`, the last of the previous
    /// page, as they are (none is claimed): in pages, every queued job
    /// once, in the order the backend keeps them (redb by due time then
    /// id, PostgreSQL by id: it keeps no index of the whole queue by due
    /// time).
    async fn queued_jobs(&self, after: Option<&Job>, limit: usize) -> Result<Vec<Job>, StoreError>;

    /// Writes the records of an export into this store, which must hold no
    /// hooks, tokens, catalogue additions, plugins or jobs: everything or,
    /// after an error, nothing. What it wrote.
    async fn import(
        &self,
        records: &mut (dyn Iterator<Item = Result<Record, TransferError>> + Send),
    ) -> Result<Counts, TransferError>;
}

/// A store: every concern, and whether it takes writes.
#[async_trait]
pub trait Store: Hooks + Tokens + Catalog + Plugins + Events + Deliveries + Transfer {
    /// Where the data is, for the log.
    fn location(&self) -> String;

    /// Whether the store takes writes, and why not.
    fn health(&self) -> &Health;

    /// Whether the store can be read now (`/readyz`).
    async fn check_readable(&self) -> Result<(), StoreError>;

    /// Waits until every write accepted so far is durable (at shutdown).
    async fn sync(&self) -> Result<(), StoreError>;

    /// Write transactions and the operations they carried, if the backend
    /// groups writes (`/health`).
    fn commit_counts(&self) -> Option<(u64, u64)>;

    /// The changes other engines write from now on (see [`Change`]). A
    /// receiver that lags behind misses changes and is told so.
    fn changes(&self) -> broadcast::Receiver<Change>;

    /// Refuses a write that grows the store (an event, a hook, an upload)
    /// while it takes no writes or free space is below the floor.
    /// Deliveries' records and deletions do not ask.
    fn room(&self) -> Result<(), StoreError> {
        self.health().refusal().map_or(Ok(()), |why| Err(why.into()))
    }
}
