//! The writes of the delivery pipeline, said by what they mean: record an
//! ingest, record an attempt, drop or queue jobs, unpark re-run events.
//! Each is one operation of the group commit (`committer.rs`), so callers
//! never see a transaction, and another backend can implement the same
//! calls with its own batching.

use super::delivery::{enqueue, find_event, insert_event, insert_hook_error, record_attempt};
use super::parked::{self, Parking};
use super::{Committer, StoreError};
use crate::model::{
    Attempt, Deactivation, EventRecord, HookEffect, IdConflict, IngestItem, Job, NextStep, ParkedKey, Seen, Sha256,
    StoredEvent,
};
use crate::store::judging::judge_items;

impl Committer {
    /// Records the items of one ingest request, all or nothing; returns one
    /// record per item, in order. An item whose client id is stored already
    /// (a concurrent request carried it too) is not written: `judge` says
    /// what the stored record means for it — its record is answered, or
    /// the whole request is refused with the conflict, writing nothing. At
    /// most `park_cap` events stay parked per plugin; a failure past it is
    /// not parked (it keeps its failed record and hook error).
    pub async fn record_ingest<J>(
        &self,
        items: Vec<IngestItem>,
        judge: J,
        park_cap: u64,
    ) -> Result<Result<Vec<EventRecord>, IdConflict>, StoreError>
    where
        J: Fn(Option<StoredEvent>, &Sha256) -> Seen + Send + 'static,
    {
        self.commit(move |batch| {
            // Every id is checked before anything is written: the writes of
            // an operation are committed even if it fails.
            let checked = match judge_items(items, judge, |academy, id| find_event(batch, academy, id))? {
                Ok(checked) => checked,
                Err(conflict) => return Ok(Err(conflict)),
            };
            let mut records = Vec::with_capacity(checked.len());
            for item in checked {
                let mut item = match item {
                    Ok(item) => item,
                    Err(known) => {
                        records.push(known);
                        continue;
                    }
                };
                for (event, jobs) in &mut item.events {
                    insert_event(batch, event, jobs)?;
                }
                for error in item.errors {
                    insert_hook_error(&mut batch.tables, error)?;
                }
                for event in item.parked {
                    let (plugin, event_id) = (event.plugin.clone(), event.event_id.clone());
                    if parked::park(batch.txn, event, park_cap)? == Parking::Full {
                        tracing::warn!(%plugin, %event_id, cap = park_cap, "failed event not parked: the plugin has too many parked events");
                    }
                }
                records.push(item.events.swap_remove(0).0.record);
            }
            Ok(Ok(records))
        })
        .await
    }

    /// Records an attempt of `job` and what follows it (see
    /// `delivery::record_attempt`); whether it deactivated the hook.
    pub async fn record_attempt(
        &self,
        job: Job,
        attempt: Attempt,
        next: NextStep,
        rule: Deactivation,
    ) -> Result<HookEffect, StoreError> {
        self.commit(move |batch| record_attempt(batch, &job, attempt, next, rule)).await
    }

    /// Drops `job` from the queue without an attempt (its hook is gone).
    pub async fn drop_job(&self, job: Job) -> Result<(), StoreError> {
        self.commit(move |batch| batch.queue.remove(&job, &mut batch.uses)).await
    }

    /// Queues `jobs` (replays of earlier deliveries), each with a new
    /// delivery id; returns the ids.
    pub async fn enqueue(&self, mut jobs: Vec<Job>) -> Result<Vec<u64>, StoreError> {
        self.commit(move |batch| jobs.iter_mut().map(|job| enqueue(batch, job).map(|()| job.id)).collect()).await
    }

    /// Removes the events of `plugin` that were ingested again, each only
    /// if it still has the failures it had when read (one that failed again
    /// since stays parked).
    pub async fn unpark(&self, plugin: String, done: Vec<(ParkedKey, u32)>) -> Result<(), StoreError> {
        self.commit(move |batch| {
            for (key, failures) in done {
                parked::unpark(batch.txn, &plugin, &key, failures)?;
            }
            Ok(())
        })
        .await
    }
}
