//! Group commit of delivery attempts: one task records every attempt
//! waiting, in one transaction of a few multi-row statements, then answers
//! them all.
//!
//! An attempt recorded alone took ~8 round trips with its hook's row
//! locked (its stats count attempts in order) until the commit's fsync, so
//! deliveries to one hook went one at a time: ~300/s, 14 of 16
//! connections waiting on the row lock. Together, a batch locks each hook
//! once and costs the same dozen statements whatever its size; under load
//! batches grow by themselves, as redb's committer's do
//! (`redb/committer.rs`).
//!
//! Locks are taken in one order, hooks (by id) then jobs, as every other
//! write taking both, so concurrent transactions, here or on another node,
//! never wait on each other in a cycle.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use deadpool_postgres::{GenericClient, Pool};
use tokio_postgres::types::{Json, ToSql};

use super::super::StoreError;
use super::batches::{self, Batches, Taker};
use super::deliveries::put_jobs;
use super::hooks::{locked, put_stats, stats};
use super::notices::{Notice, announce};
use super::rows::{self, get, uuid};
use super::{events, payloads};
use crate::model::{Attempt, AttemptOutcome, Deactivation, HookEffect, Job, NextStep, Scope};

/// Most attempts one transaction records.
const MAX_BATCH: usize = 1024;

/// An attempt to record, as `Deliveries::record_attempt` takes it.
pub(super) struct Recording {
    pub job: Job,
    pub attempt: Attempt,
    pub next: NextStep,
    pub rule: Deactivation,
}

/// Hands attempts to the recording task.
pub(super) struct Recorder {
    batches: Batches<Recording, HookEffect>,
}

impl Recorder {
    /// Starts the recording task on `pool`; it ends when the recorder is
    /// dropped, after answering what it was given.
    /// Jobs held by another engine than `node` stay queued.
    pub(super) fn start(pool: Pool, location: String, node: Arc<str>) -> Recorder {
        let (batches, taker) = batches::channel(MAX_BATCH);
        tokio::spawn(run(pool, location, node, taker));
        Recorder { batches }
    }

    /// Records `recording` with whatever else is waiting; what it did to
    /// the hook, once committed.
    pub(super) async fn record(&self, recording: Recording) -> Result<HookEffect, StoreError> {
        self.batches.submit(recording).await
    }
}

async fn run(pool: Pool, location: String, node: Arc<str>, taker: Taker<Recording, HookEffect>) {
    while let Some((batch, answers)) = taker.take().await {
        let recorded = async {
            let mut client = pool.get().await?;
            let txn = client.transaction().await?;
            let effects = record(&txn, batch, &node).await?;
            txn.commit().await?;
            Ok::<_, StoreError>(effects)
        }
        .await;
        answers.send(recorded, &location, "attempts");
    }
}

/// Records `batch` in order, each attempt with its consequences, as redb's
/// `record_attempt` does one: its hook's stats, the hook's deactivation
/// when its rule says so (then no retry), the job's removal or
/// rescheduling, the hook's sample on success, a hook error on failure.
/// An attempt whose hook is gone only takes its job off the queue; one
/// whose job another engine than `node` holds now (its lease ran out) is
/// recorded, but leaves the job, and its retry, to that engine. What each
/// did to its hook, in order.
async fn record(txn: &impl GenericClient, batch: Vec<Recording>, node: &str) -> Result<Vec<HookEffect>, StoreError> {
    let hook_ids: Vec<i64> =
        batch.iter().map(|r| rows::id(r.job.hook_id)).collect::<HashSet<_>>().into_iter().collect();
    let academies = lock_hooks(txn, &hook_ids).await?;
    let queued = remove_jobs(txn, batch.iter().map(|r| &r.job), node).await?;
    let counted_hooks: Vec<i64> = batch
        .iter()
        .filter(|r| r.attempt.outcome != AttemptOutcome::Cancelled && academies.contains_key(&r.job.hook_id))
        .map(|r| rows::id(r.job.hook_id))
        .collect();
    let mut counted = stats(txn, &counted_hooks).await?;

    let mut effects = Vec::with_capacity(batch.len());
    let mut dropped: Vec<uuid::Uuid> = queued.values().copied().collect();
    let (mut attempts, mut retries, mut errors) = (Vec::new(), Vec::new(), Vec::new());
    let (mut samples, mut deactivated) = (HashMap::new(), Vec::new());
    for Recording { job, mut attempt, mut next, rule } in batch {
        let Some(academy) = academies.get(&job.hook_id) else {
            effects.push(HookEffect::None); // deleted meanwhile: nothing to record
            continue;
        };
        let effect = match attempt.outcome {
            AttemptOutcome::Cancelled => HookEffect::None, // counts for nothing
            _ => counted.entry(job.hook_id).or_default().count(&attempt, rule),
        };
        if effect == HookEffect::Deactivate {
            next = NextStep::Finish;
            attempt.end_by_deactivation(rule);
            deactivated.push(job.hook_id);
        }
        match attempt.outcome {
            AttemptOutcome::Succeeded => {
                samples.insert(job.hook_id, uuid(attempt.sent().id()));
            }
            AttemptOutcome::Failed => errors.push(attempt.hook_error(&job, academy.clone())),
            AttemptOutcome::Cancelled => {}
        }
        if let (NextStep::Retry { due_ms }, true) = (next, queued.contains_key(&job.id)) {
            retries.push(Job { due_ms, attempts: job.attempts + 1, ..job.clone() });
        }
        attempts.push((attempt, queued.get(&job.id).copied()));
        effects.push(effect);
    }

    // A removed job's payload that an attempt recorded here refers to stays
    // (the attempt's row is inserted below): only the others are checked
    // for being free. Every delivered job's is, so checking them all cost
    // a lookup in four tables per attempt and freed nothing.
    let kept: HashSet<uuid::Uuid> = attempts.iter().map(|(attempt, _)| uuid(attempt.payload.id())).collect();
    dropped.retain(|id| !kept.contains(id));

    // The job's payload is stored while its job was queued; a body its
    // transformer made is new.
    let new = attempts.iter().flat_map(|(attempt, queued)| {
        let stored = *queued == Some(uuid(attempt.payload.id()));
        [(!stored).then_some(&attempt.payload), attempt.transformed.as_ref()].into_iter().flatten()
    });
    payloads::store(txn, new).await?;
    put_jobs(txn, &retries.iter().map(|job| (job.id, job)).collect::<Vec<_>>()).await?;
    insert_attempts(txn, attempts.iter().map(|(attempt, _)| attempt)).await?;
    dropped.extend(replace_samples(txn, &samples).await?);
    events::insert_hook_errors(txn, &errors).await?;
    deactivated.sort_unstable();
    deactivated.dedup();
    deactivate(txn, &deactivated).await?;
    if !deactivated.is_empty() {
        announce(txn, node, Notice::Hooks).await?;
    }
    put_stats(txn, &counted).await?;
    payloads::free(txn, &dropped).await?;
    Ok(effects)
}

/// Locks `ids`' hook rows, in id order; the academy of each that exists.
async fn lock_hooks(txn: &impl GenericClient, ids: &[i64]) -> Result<HashMap<u64, Option<String>>, StoreError> {
    let sql = "SELECT id, academy FROM hooks WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE";
    let rows = txn.query(&txn.prepare_cached(sql).await?, &[&ids]).await?;
    rows.iter().map(|row| Ok((rows::unsigned(row, "id", "hook")?, get(row, "academy", "hook")?))).collect()
}

/// Takes `jobs` off the queue; the payload id of each that was queued
/// (under its due time: a job moved since is not this one) and that no
/// engine but `node` holds, by job id.
async fn remove_jobs(
    txn: &impl GenericClient,
    jobs: impl Iterator<Item = &Job>,
    node: &str,
) -> Result<HashMap<u64, uuid::Uuid>, StoreError> {
    let (ids, due): (Vec<i64>, Vec<i64>) = jobs.map(|job| (rows::id(job.id), rows::id(job.due_ms))).unzip();
    let sql = "DELETE FROM jobs j USING unnest($1::bigint[], $2::bigint[]) AS r (id, due_ms) \
               WHERE j.id = r.id AND j.due_ms = r.due_ms AND (j.claimed_by IS NULL OR j.claimed_by = $3) \
               RETURNING j.id, j.payload_id";
    let rows = txn.query(&txn.prepare_cached(sql).await?, &[&ids, &due, &node]).await?;
    rows.iter().map(|row| Ok((rows::unsigned(row, "id", "job")?, get(row, "payload_id", "job")?))).collect()
}

/// Records `attempts` (their payloads stored already) under new ids, in
/// the order given.
async fn insert_attempts<'a>(
    txn: &impl GenericClient,
    attempts: impl Iterator<Item = &'a Attempt>,
) -> Result<(), StoreError> {
    #[derive(Default)]
    struct Columns<'a> {
        delivery: Vec<i64>,
        hook: Vec<i64>,
        event_id: Vec<&'a str>,
        event: Vec<&'a str>,
        webhook_id: Vec<&'a str>,
        attempt: Vec<i32>,
        scheduled_at: Vec<i64>,
        sent_at: Vec<i64>,
        headers: Vec<Json<&'a Vec<(String, String)>>>,
        payload: Vec<uuid::Uuid>,
        transformed: Vec<Option<uuid::Uuid>>,
        status: Vec<Option<i32>>,
        body: Vec<Option<&'a str>>,
        duration: Vec<i64>,
        error: Vec<Option<&'a str>>,
        outcome: Vec<&'static str>,
        next_at: Vec<Option<i64>>,
    }
    let mut c = Columns::default();
    for a in attempts {
        c.delivery.push(rows::id(a.delivery_id));
        c.hook.push(rows::id(a.hook_id));
        c.event_id.push(&a.event_id);
        c.event.push(&a.event);
        c.webhook_id.push(&a.webhook_id);
        c.attempt.push(i32::try_from(a.attempt).unwrap_or(i32::MAX));
        c.scheduled_at.push(rows::seconds(a.scheduled_at));
        c.sent_at.push(rows::seconds(a.sent_at));
        c.headers.push(Json(&a.request_headers));
        c.payload.push(uuid(a.payload.id()));
        c.transformed.push(a.transformed.as_ref().map(|payload| uuid(payload.id())));
        c.status.push(a.response_status.map(i32::from));
        c.body.push(a.response_body.as_deref());
        c.duration.push(rows::count(a.duration_ms));
        c.error.push(a.error.as_deref());
        c.outcome.push(rows::outcome(a.outcome));
        c.next_at.push(a.next_attempt_at.map(rows::seconds));
    }
    if c.delivery.is_empty() {
        return Ok(());
    }
    let sql = "INSERT INTO attempts (delivery_id, hook_id, event_id, event, webhook_id, attempt, scheduled_at, \
               sent_at, request_headers, payload_id, transformed_id, response_status, response_body, duration_ms, \
               error, outcome, next_attempt_at) \
               SELECT d, h, ei, e, w, n, to_timestamp(sc), to_timestamp(se), rh, p, t, rs, rb, du, er, o, \
               to_timestamp(na) \
               FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::integer[], \
               $7::bigint[], $8::bigint[], $9::jsonb[], $10::uuid[], $11::uuid[], $12::integer[], $13::text[], \
               $14::bigint[], $15::text[], $16::text[], $17::bigint[]) \
               WITH ORDINALITY AS r (d, h, ei, e, w, n, sc, se, rh, p, t, rs, rb, du, er, o, na, i) ORDER BY i";
    let params: [&(dyn ToSql + Sync); 17] = [
        &c.delivery,
        &c.hook,
        &c.event_id,
        &c.event,
        &c.webhook_id,
        &c.attempt,
        &c.scheduled_at,
        &c.sent_at,
        &c.headers,
        &c.payload,
        &c.transformed,
        &c.status,
        &c.body,
        &c.duration,
        &c.error,
        &c.outcome,
        &c.next_at,
    ];
    txn.execute(&txn.prepare_cached(sql).await?, &params).await?;
    Ok(())
}

/// Makes each of `samples` (hook id → payload id) its hook's last body
/// delivered; the payload ids they replace.
async fn replace_samples(
    txn: &impl GenericClient,
    samples: &HashMap<u64, uuid::Uuid>,
) -> Result<Vec<uuid::Uuid>, StoreError> {
    if samples.is_empty() {
        return Ok(Vec::new());
    }
    let (hooks, payloads): (Vec<i64>, Vec<uuid::Uuid>) = samples.iter().map(|(&h, &p)| (rows::id(h), p)).unzip();
    // The hooks are locked: the samples read are the ones replaced.
    let sql = "WITH old AS (SELECT payload_id FROM hook_samples WHERE hook_id = ANY($1)), \
               new AS (INSERT INTO hook_samples (hook_id, payload_id) SELECT * FROM unnest($1::bigint[], $2::uuid[]) \
                       ON CONFLICT (hook_id) DO UPDATE SET payload_id = EXCLUDED.payload_id) \
               SELECT payload_id FROM old";
    let rows = txn.query(&txn.prepare_cached(sql).await?, &[&hooks, &payloads]).await?;
    rows.iter().map(|row| get(row, "payload_id", "hook sample")).collect()
}

/// Deactivates hooks `ids` (locked), their records staying sealed: the
/// change needs none of their secrets.
async fn deactivate(txn: &impl GenericClient, ids: &[u64]) -> Result<(), StoreError> {
    for &id in ids {
        // Locked by this transaction already: it is there.
        let Some(mut hook) = locked(txn, &Scope::All, id).await? else { continue };
        hook.settings.is_active = false;
        let sql = "UPDATE hooks SET record = $2 WHERE id = $1";
        txn.execute(&txn.prepare_cached(sql).await?, &[&rows::id(id), &Json(&hook)]).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::task::JoinSet;

    use crate::model::{AttemptOutcome, Deactivation, HookEffect, Job, NextStep, Scope};
    use crate::store::contract_tests::hook;
    use crate::store::postgres::testing;
    use crate::store::tests::{attempt, job};
    use crate::store::{Deliveries, Hooks};
    use crate::time::Time;

    /// Attempts recorded concurrently, each on its own task: they share
    /// transactions, yet each hook counts them in order, as one at a time.
    #[tokio::test]
    async fn attempts_recorded_together_count_as_one_at_a_time() {
        let Some(database) = testing::database().await else { return };
        let store = Arc::new(database.open().await);
        let (failing, succeeding) = (hook(&*store, Some("a")).await.id, hook(&*store, Some("b")).await.id);
        let jobs: Vec<Job> = (0..300).map(|n| job(if n % 3 == 0 { succeeding } else { failing }, n)).collect();
        let ids = store.enqueue(jobs.clone()).await.unwrap();
        let rule = Deactivation { gone: false, after_failures: Some(150) };
        // In waves: each wave's attempts share transactions, and the waves
        // are recorded in transactions one after another.
        let mut effects = Vec::new();
        let mut jobs = jobs.into_iter().zip(ids).map(|(job, id)| Job { id, ..job }).peekable();
        while jobs.peek().is_some() {
            let mut recording = JoinSet::new();
            for job in jobs.by_ref().take(50) {
                let store = store.clone();
                recording.spawn(async move {
                    let (outcome, status, next) = match job.hook_id == succeeding {
                        true => (AttemptOutcome::Succeeded, 200, NextStep::Finish),
                        false => (AttemptOutcome::Failed, 500, NextStep::Retry { due_ms: 10_000 }),
                    };
                    let made = attempt(&job, outcome, Some(status), Time::now());
                    (job.hook_id, store.record_attempt(job, made, next, rule).await.unwrap())
                });
            }
            effects.extend(recording.join_all().await);
        }
        let deactivations = effects.iter().filter(|&&(_, effect)| effect == HookEffect::Deactivate).count();
        assert_eq!(deactivations, 200 - 149, "from the 150th failure on");
        assert!(effects.iter().all(|&(hook, effect)| hook == failing || effect == HookEffect::None));

        let stats = store.hook_stats(failing).await.unwrap();
        assert_eq!((stats.total_calls, stats.successes, stats.consecutive_failures), (200, 0, 200));
        let stats = store.hook_stats(succeeding).await.unwrap();
        assert_eq!((stats.total_calls, stats.successes, stats.consecutive_failures), (100, 100, 0));
        assert!(!store.hook(&Scope::All, failing).unwrap().settings.is_active, "the index reloaded");
        assert!(store.hook(&Scope::All, succeeding).unwrap().settings.is_active);
        assert_eq!(store.attempts(failing).await.unwrap().len(), 200);
        assert_eq!(store.attempts(succeeding).await.unwrap().len(), 100);
        assert!(store.hook_sample(succeeding).await.unwrap().is_some());
        assert_eq!(store.hook_errors(&Scope::All).await.unwrap().len(), 200);
        let queue = store.queue_summary().await.unwrap();
        assert_eq!(queue.depth, 149, "retries only before the hook was deactivated");
        drop(store);
        database.remove().await;
    }
}
