//! The in-memory store: every concern of the contract (`contract.rs`) over
//! plain collections behind one lock, for unit tests of policy. It keeps
//! the redb backend's semantics (ids from counters, quotas, components
//! counted by their uses, all-or-nothing ingests, the park cap) but nothing
//! survives it, and it never fails: it is no stand-in for end-to-end tests.
//!
//! Each call takes the lock once, checks everything that may refuse it
//! first, then writes: a refused call writes nothing, as a dropped
//! transaction does.

mod deliveries;
mod events;
mod hooks;
mod plugins;

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use tokio::sync::broadcast;

use super::contract::{Catalog, Change, Store, Tokens, Transfer};
use super::transfer::{Counts, Record, TransferError};
use super::{Health, StoreError};
use crate::model::{
    Attempt, EventSpec, Hook, HookErrorRecord, HookIndex, HookStats, Job, ParkedEvent, Payload, PluginLimits,
    PluginVersion, Role, StoredEvent, TokenRecord,
};
use crate::time::Time;

/// A store in memory. Hooks keep their secrets in the clear: nothing is
/// written anywhere.
pub(crate) struct Memory {
    state: Mutex<State>,
    health: Health,
    /// What a test announces as written by another engine ([`Memory::announce`]).
    changes: broadcast::Sender<Change>,
}

/// Everything stored, keyed as the redb tables are so that scans come in
/// the same order.
#[derive(Default)]
struct State {
    counters: Counters,
    hooks: BTreeMap<u64, Hook>,
    /// Rebuilt after every change to `hooks`.
    index: Arc<HookIndex>,
    stats: HashMap<u64, HookStats>,
    samples: HashMap<u64, Payload>,
    tokens: HashMap<[u8; 32], TokenRecord>,
    catalog: BTreeMap<String, EventSpec>,
    /// By (name, version).
    plugins: BTreeMap<(String, u32), PluginVersion>,
    limits: BTreeMap<String, PluginLimits>,
    blobs: plugins::Blobs,
    /// By (academy, id).
    events: BTreeMap<(String, String), StoredEvent>,
    /// The queue, by (due, job id).
    jobs: BTreeMap<(u64, u64), Job>,
    /// By (hook, attempt id).
    attempts: BTreeMap<(u64, u64), Attempt>,
    /// By (second, error id).
    errors: BTreeMap<(u64, u64), HookErrorRecord>,
    /// By (plugin, academy, event id).
    parked: BTreeMap<(String, String, String), ParkedEvent>,
}

/// The next id of each kind, from 1.
#[derive(Default)]
struct Counters {
    hook: u64,
    token: u64,
    job: u64,
    attempt: u64,
    error: u64,
}

/// Takes the next value of a counter.
fn next(counter: &mut u64) -> u64 {
    *counter += 1;
    *counter
}

impl State {
    /// Rebuilds the hook index: after every change to a hook.
    fn reindex(&mut self) {
        self.index = Arc::new(HookIndex::new(self.hooks.values().cloned()));
    }
}

impl Memory {
    pub(crate) fn new() -> Memory {
        Memory { state: Mutex::default(), health: Health::new("memory"), changes: broadcast::Sender::new(16) }
    }

    /// Announces `change` as if another engine sharing this store had
    /// written it (the store itself is not changed: write it first).
    pub(crate) fn announce(&self, change: Change) {
        let _ = self.changes.send(change);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl Tokens for Memory {
    async fn create_token(&self, hash: [u8; 32], name: String, role: Role) -> Result<TokenRecord, StoreError> {
        let mut state = self.lock();
        let record = TokenRecord { id: next(&mut state.counters.token), name, role, created_at: Time::now() };
        state.tokens.insert(hash, record.clone());
        Ok(record)
    }

    async fn token(&self, hash: [u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        Ok(self.lock().tokens.get(&hash).cloned())
    }

    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let mut tokens: Vec<TokenRecord> = self.lock().tokens.values().cloned().collect();
        tokens.sort_by_key(|t| t.id);
        Ok(tokens)
    }

    async fn revoke_token(&self, id: u64) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let before = state.tokens.len();
        state.tokens.retain(|_, record| record.id != id);
        Ok(state.tokens.len() < before)
    }
}

#[async_trait]
impl Catalog for Memory {
    async fn catalog_additions(&self) -> Result<Vec<EventSpec>, StoreError> {
        Ok(self.lock().catalog.values().cloned().collect())
    }

    async fn save_catalog_event(&self, spec: EventSpec) -> Result<(), StoreError> {
        self.room()?;
        self.lock().catalog.insert(spec.name.clone(), spec);
        Ok(())
    }
}

#[async_trait]
impl Transfer for Memory {
    async fn tokens_with_hashes(&self) -> Result<Vec<([u8; 32], TokenRecord)>, StoreError> {
        let mut tokens: Vec<_> = self.lock().tokens.iter().map(|(hash, token)| (*hash, token.clone())).collect();
        tokens.sort_by_key(|(_, token)| token.id);
        Ok(tokens)
    }

    async fn queued_jobs(&self, after: Option<&Job>, limit: usize) -> Result<Vec<Job>, StoreError> {
        let state = self.lock();
        let range = match after {
            Some(job) => state.jobs.range((Bound::Excluded((job.due_ms, job.id)), Bound::Unbounded)),
            None => state.jobs.range(..),
        };
        Ok(range.take(limit).map(|(_, job)| job.clone()).collect())
    }

    async fn import(
        &self,
        _records: &mut (dyn Iterator<Item = Result<Record, TransferError>> + Send),
    ) -> Result<Counts, TransferError> {
        Err(TransferError::Unsupported { store: "memory" })
    }
}

#[async_trait]
impl Store for Memory {
    fn location(&self) -> String {
        "memory".to_owned()
    }

    fn health(&self) -> &Health {
        &self.health
    }

    async fn check_readable(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn sync(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn commit_counts(&self) -> Option<(u64, u64)> {
        None
    }

    fn changes(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_memory_store_is_always_healthy_and_groups_no_writes() {
        let store: std::sync::Arc<dyn Store> = std::sync::Arc::new(super::Memory::new());
        assert_eq!(store.location(), "memory");
        assert!(store.room().is_ok() && store.health().outage().is_none());
        assert_eq!(store.commit_counts(), None);
        store.check_readable().await.unwrap();
        store.sync().await.unwrap();
    }
}
