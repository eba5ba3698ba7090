//! Ingests, all or nothing (`redb/writes.rs`), and parked events, at most a cap
//! per plugin (`redb/parked.rs`).

use std::ops::Bound;

use async_trait::async_trait;

use super::super::StoreError;
use super::super::contract::{Events, Judge};
use super::super::judging::judge_items;
use super::{Memory, State};
use crate::model::{EventRecord, IdConflict, IngestItem, ParkedEvent, ParkedKey, StoredEvent};

/// A parked event's key: (plugin, academy, event id).
type Key = (String, String, String);

fn key(plugin: &str, at: &ParkedKey) -> Key {
    (plugin.to_owned(), at.academy.clone(), at.event_id.clone())
}

impl State {
    /// Parks `event` under its plugin: a new entry unless the plugin has
    /// `cap` already, or the entry of the same event with one more failure.
    /// Whether it was parked.
    fn park(&mut self, mut event: ParkedEvent, cap: u64) -> bool {
        let key = (event.plugin.clone(), event.academy.clone(), event.event_id.clone());
        match self.parked.get(&key) {
            Some(previous) => event.failures = previous.failures.saturating_add(1),
            None if self.parked_count(&event.plugin) >= cap => return false,
            None => event.failures = 1,
        }
        self.parked.insert(key, event);
        true
    }

    fn parked_count(&self, plugin: &str) -> u64 {
        self.parked.keys().filter(|(of, _, _)| of == plugin).count() as u64
    }

    /// Writes one item judged new: its events and their jobs, its hook
    /// errors, its parked events; the top event's record.
    fn write_item(&mut self, item: IngestItem, park_cap: u64) -> EventRecord {
        let mut top = None;
        for (event, jobs) in item.events {
            for job in jobs {
                self.enqueue(job);
            }
            let key = (event.record.academy.clone(), event.record.id.clone());
            top.get_or_insert_with(|| event.record.clone());
            self.events.insert(key, event);
        }
        for error in item.errors {
            self.insert_hook_error(error);
        }
        for event in item.parked {
            let (plugin, event_id) = (event.plugin.clone(), event.event_id.clone());
            if !self.park(event, park_cap) {
                tracing::warn!(%plugin, %event_id, cap = park_cap, "failed event not parked: the plugin has too many parked events");
            }
        }
        top.expect("an ingest item has its top event")
    }
}

#[async_trait]
impl Events for Memory {
    async fn record_ingest(
        &self,
        items: Vec<IngestItem>,
        judge: Judge,
        park_cap: u64,
    ) -> Result<Result<Vec<EventRecord>, IdConflict>, StoreError> {
        let mut state = self.lock();
        // Every id is judged before anything is written.
        let stored = |academy: &str, id: &str| Ok(state.events.get(&(academy.to_owned(), id.to_owned())).cloned());
        let checked = match judge_items::<StoreError>(items, judge, stored)? {
            Ok(checked) => checked,
            Err(conflict) => return Ok(Err(conflict)),
        };
        let records = checked
            .into_iter()
            .map(|item| match item {
                Ok(item) => state.write_item(item, park_cap),
                Err(known) => known,
            })
            .collect();
        Ok(Ok(records))
    }

    async fn event(&self, academy: &str, id: &str) -> Result<Option<StoredEvent>, StoreError> {
        Ok(self.lock().events.get(&(academy.to_owned(), id.to_owned())).cloned())
    }

    async fn parked(
        &self,
        plugin: &str,
        after: Option<ParkedKey>,
        limit: usize,
    ) -> Result<Vec<ParkedEvent>, StoreError> {
        let state = self.lock();
        let start = match after {
            Some(after) => Bound::Excluded(key(plugin, &after)),
            None => Bound::Included((plugin.to_owned(), String::new(), String::new())),
        };
        let events = state.parked.range::<Key, _>((start, Bound::Unbounded)).take_while(|((of, _, _), _)| of == plugin);
        Ok(events.take(limit).map(|(_, event)| event.clone()).collect())
    }

    async fn parked_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let state = self.lock();
        let mut counts: Vec<(String, u64)> = Vec::new();
        for (plugin, _, _) in state.parked.keys() {
            match counts.last_mut() {
                Some((last, count)) if last == plugin => *count += 1,
                _ => counts.push((plugin.clone(), 1)),
            }
        }
        Ok(counts)
    }

    async fn parked_count(&self, plugin: &str) -> Result<u64, StoreError> {
        Ok(self.lock().parked_count(plugin))
    }

    async fn unpark(&self, plugin: String, done: Vec<(ParkedKey, u32)>) -> Result<(), StoreError> {
        let mut state = self.lock();
        for (at, failures) in done {
            let key = key(&plugin, &at);
            // One that failed again since it was read stays.
            if state.parked.get(&key).is_some_and(|current| current.failures == failures) {
                state.parked.remove(&key);
            }
        }
        Ok(())
    }
}
