//! Records of ingestion and delivery: events, the job queue, attempts and
//! hook errors. The write functions run inside a group transaction and take
//! its [`Batch`], whose tables they share with the group's other operations
//! (`committer.rs`, `group_tables.rs`); reads open their own.

use redb::ReadableTable;

use super::codec::{decode, encode};
use super::committer::Batch;
use super::group_tables::GroupTables;
use super::payloads::{AttemptRow, Bodies, Uses, sample_id};
use super::tables::{ATTEMPTS, EVENTS, HOOK_ERRORS, meta};
use super::{RedbStore, StoreError, sealing, take_id};
use crate::model::{Attempt, AttemptOutcome, Deactivation, HookEffect, HookErrorRecord, Job, NextStep, StoredEvent};
use crate::model::{Hook, HookStats, Scope};
use crate::secrets::Sealed;
use crate::store::Pruned;
use crate::time::Time;

impl RedbStore {
    /// The event `academy` ingested with id `id`.
    pub fn event(&self, academy: &str, id: &str) -> Result<Option<StoredEvent>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(EVENTS)?;
        let record = table.get((academy, id))?.map(|bytes| decode("event", bytes.value())).transpose()?;
        Ok(record)
    }

    /// Hook `hook_id`'s attempts, newest first.
    pub fn attempts(&self, hook_id: u64) -> Result<Vec<Attempt>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(ATTEMPTS)?;
        let mut bodies = Bodies::open(&txn)?;
        let mut attempts = Vec::new();
        for entry in table.range((hook_id, 0)..=(hook_id, u64::MAX))?.rev() {
            attempts.push(bodies.attempt(decode("attempt", entry?.1.value())?)?);
        }
        Ok(attempts)
    }

    /// Hook errors visible in `scope`, newest first: an academy sees the
    /// errors of its own hooks and events.
    pub fn hook_errors(&self, scope: &Scope) -> Result<Vec<HookErrorRecord>, StoreError> {
        let mut errors: Vec<HookErrorRecord> = self.scan(HOOK_ERRORS, "hook error")?;
        errors.retain(|e| scope.sees(e.academy.as_deref()));
        errors.reverse();
        Ok(errors)
    }
}

/// Writes an event record (the idempotency record) and queues its jobs.
pub(super) fn insert_event(batch: &mut Batch<'_>, event: &StoredEvent, jobs: &mut [Job]) -> Result<(), StoreError> {
    let key = (event.record.academy.as_str(), event.record.id.as_str());
    batch.tables.events.open()?.insert(key, encode(event).as_slice())?;
    for job in jobs {
        enqueue(batch, job)?;
    }
    Ok(())
}

/// The event record of (`academy`, `id`), inside a write transaction
/// (idempotency check).
pub(super) fn find_event(batch: &mut Batch<'_>, academy: &str, id: &str) -> Result<Option<StoredEvent>, StoreError> {
    let record = batch.tables.events.open()?.get((academy, id))?;
    record.map(|bytes| decode("event", bytes.value())).transpose()
}

/// Queues `job` with a new delivery id.
pub(super) fn enqueue(batch: &mut Batch<'_>, job: &mut Job) -> Result<(), StoreError> {
    job.id = take_id(batch.tables.meta.open()?, meta::NEXT_JOB_ID)?;
    batch.queue.push(job, &mut batch.uses)
}

/// Records a hook error.
pub(super) fn insert_hook_error(tables: &mut GroupTables<'_>, mut error: HookErrorRecord) -> Result<(), StoreError> {
    error.id = take_id(tables.meta.open()?, meta::NEXT_ERROR_ID)?;
    let key = (u64::try_from(error.at.as_second()).unwrap_or(0), error.id);
    tables.errors.open()?.insert(key, encode(&error).as_slice())?;
    Ok(())
}

/// Records an attempt and its consequences, all at once: the hook's stats,
/// its deactivation when `deactivation` says so for the stats as they are
/// now (then no retry; see `HookStats::count`), the attempt, the job's
/// removal or rescheduling, the hook's sample on success, a hook error on
/// failure, and the references to payloads these hold. Returns whether the
/// hook was deactivated: the caller reloads the hook index once this is
/// committed.
pub(super) fn record_attempt(
    batch: &mut Batch<'_>,
    job: &Job,
    mut attempt: Attempt,
    mut next: NextStep,
    deactivation: Deactivation,
) -> Result<HookEffect, StoreError> {
    let Batch { queue, tables, uses, .. } = batch;
    queue.remove(job, uses)?;
    if tables.hooks.open()?.get(job.hook_id)?.is_none() {
        return Ok(HookEffect::None); // deleted meanwhile: nothing to record
    }
    let effect = count_attempt(tables.stats.open()?, job.hook_id, &attempt, deactivation)?;
    if effect == HookEffect::Deactivate {
        next = NextStep::Finish;
        attempt.end_by_deactivation(deactivation);
    }
    if let NextStep::Retry { due_ms } = next {
        queue.push(&Job { due_ms, attempts: job.attempts + 1, ..job.clone() }, uses)?;
    }
    attempt.id = take_id(tables.meta.open()?, meta::NEXT_ATTEMPT_ID)?;
    uses.add(&attempt.payload);
    if let Some(transformed) = &attempt.transformed {
        uses.add(transformed);
    }

    // The hook record itself is read only when it changes or a hook error
    // needs its academy: recording a success does not decode it.
    // Neither needs the hook's secrets: the record stays sealed.
    let hook = |hooks: &redb::Table<u64, &[u8]>| -> Result<Hook<Sealed>, StoreError> {
        let bytes = hooks
            .get(job.hook_id)?
            .ok_or_else(|| StoreError::Corrupt { what: "hook", message: "vanished inside the transaction".into() })?;
        sealing::decode_sealed(bytes.value())
    };
    if effect == HookEffect::Deactivate {
        let hooks = tables.hooks.open()?;
        let mut changed = hook(hooks)?;
        changed.settings.is_active = false;
        hooks.insert(changed.id, sealing::encode_sealed(&changed).as_slice())?;
    }
    match attempt.outcome {
        AttemptOutcome::Succeeded => {
            let sent = attempt.sent();
            uses.add(sent);
            if let Some(old) = tables.samples.open()?.insert(job.hook_id, sent.id().0.as_slice())? {
                uses.drop(sample_id(old.value())?);
            }
        }
        AttemptOutcome::Failed => {
            let error = attempt.hook_error(job, hook(tables.hooks.open()?)?.academy);
            insert_hook_error(tables, error)?;
        }
        AttemptOutcome::Cancelled => {}
    }
    let row = attempt.map_payloads(|payload| payload.id());
    tables.attempts.open()?.insert((job.hook_id, row.id), encode(&row).as_slice())?;
    Ok(effect)
}

/// Counts `attempt` in its hook's stats (`stats`, as they are in this
/// transaction); whether the hook is to be deactivated.
fn count_attempt(
    stats: &mut redb::Table<u64, &[u8]>,
    hook_id: u64,
    attempt: &Attempt,
    deactivation: Deactivation,
) -> Result<HookEffect, StoreError> {
    if attempt.outcome == AttemptOutcome::Cancelled {
        return Ok(HookEffect::None); // counts for nothing: not even read
    }
    let mut counted: HookStats =
        stats.get(hook_id)?.map(|bytes| decode("hook stats", bytes.value())).transpose()?.unwrap_or_default();
    let effect = counted.count(attempt, deactivation);
    stats.insert(hook_id, encode(&counted).as_slice())?;
    Ok(effect)
}

impl RedbStore {
    /// Deletes events, attempts and hook errors recorded before `cutoff`,
    /// in one transaction. Queued jobs are kept whatever their age: they
    /// still have to be delivered.
    pub fn prune(&self, cutoff: Time) -> Result<Pruned, StoreError> {
        let txn = self.db.begin_write()?;
        let mut pruned = Pruned::default();
        {
            let mut events = txn.open_table(EVENTS)?;
            let old = old_keys(
                &events,
                "event",
                |e: &StoredEvent| e.record.received_at < cutoff,
                |(academy, id): (&str, &str)| (academy.to_owned(), id.to_owned()),
            )?;
            for (academy, id) in &old {
                events.remove((academy.as_str(), id.as_str()))?;
            }
            pruned.events = old.len();

            let mut attempts = txn.open_table(ATTEMPTS)?;
            let mut uses = Uses::default();
            let mut old = Vec::new();
            for entry in attempts.iter()? {
                let (key, bytes) = entry?;
                let attempt: AttemptRow = decode("attempt", bytes.value())?;
                if attempt.sent_at < cutoff {
                    old.push(key.value());
                    uses.drop(attempt.payload);
                    attempt.transformed.into_iter().for_each(|id| uses.drop(id));
                }
            }
            for key in &old {
                attempts.remove(key)?;
            }
            pruned.attempts = old.len();
            drop(attempts);
            uses.apply(&txn)?;

            let mut errors = txn.open_table(HOOK_ERRORS)?;
            let cutoff_key = (u64::try_from(cutoff.as_second()).unwrap_or(0), 0);
            pruned.hook_errors = errors.extract_from_if(..cutoff_key, |_, _| true)?.count();
        }
        txn.commit()?;
        Ok(pruned)
    }
}

/// Keys of the records of `table` that `is_old`.
fn old_keys<K, R, O>(
    table: &impl ReadableTable<K, &'static [u8]>,
    what: &'static str,
    is_old: impl Fn(&R) -> bool,
    owned: impl Fn(K::SelfType<'_>) -> O,
) -> Result<Vec<O>, StoreError>
where
    K: redb::Key + 'static,
    R: serde::de::DeserializeOwned,
{
    let mut old = Vec::new();
    for entry in table.iter()? {
        let (key, bytes) = entry?;
        if is_old(&decode::<R>(what, bytes.value())?) {
            old.push(owned(key.value()));
        }
    }
    Ok(old)
}
