//! The delivery queue and its log: due jobs served fairly, attempts and
//! what follows them, replays, hook errors, the status reads and pruning.
//!
//! The dispatcher's pass reads one head per hook with queued jobs (the
//! due time of its earliest), walking `jobs_by_hook` from hook to hook
//! rather than the whole queue, then each served hook's due jobs up to its
//! room: a backlog of a hook at its cap is not read (redb keeps a table of
//! heads for the same reason, `redb/queue.rs`). With 100,000 jobs of one
//! hook and 1,000 of 50 others, reading the 51 heads took 0.7 ms and a page
//! of one hook's due jobs 0.1 ms (`EXPLAIN ANALYZE`, PostgreSQL 15 on this
//! machine), both index-only scans of `jobs_by_hook`.

use std::collections::HashMap;
use std::sync::LazyLock;

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;

use super::super::contract::{ClaimRequest, Deliveries, Hooks};
use super::super::{AttemptCounts, DueJobs, Pruned, QueueSummary, RecentOutcomes, StoreError};
use super::hooks::scope_academy;
use super::recorder::Recording;
use super::rows::{self, ATTEMPT_BODIES, ATTEMPT_COLUMNS, JOB_COLUMNS, get, unsigned, uuid};
use super::{Lock, Postgres, payloads};
use crate::model::{Attempt, Deactivation, Hook, HookEffect, HookErrorRecord, Job, NextStep, PayloadId, Scope};
use crate::time::Time;

/// `heads`, one row per hook with queued jobs and its earliest due time: a
/// walk of `jobs_by_hook` from each hook to the next (the queue has no index
/// by due time across hooks, see migration 3).
const WITH_HEADS: &str = "WITH RECURSIVE heads (hook_id, due_ms) AS ( \
      (SELECT hook_id, due_ms FROM jobs ORDER BY hook_id, due_ms, id LIMIT 1) \
      UNION ALL \
      SELECT n.hook_id, n.due_ms FROM heads, LATERAL ( \
        SELECT hook_id, due_ms FROM jobs WHERE jobs.hook_id > heads.hook_id \
        ORDER BY hook_id, due_ms, id LIMIT 1) AS n)";

/// Queues `jobs` under new delivery ids (their payloads stored already),
/// in one statement; the ids, in order.
pub(super) async fn insert_jobs(txn: &impl GenericClient, jobs: &[&Job]) -> Result<Vec<u64>, StoreError> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    // The ids first, so each job's is known whatever order rows are
    // inserted in.
    let sql = "SELECT nextval('jobs_id_seq') AS id FROM generate_series(1, $1::bigint)";
    let rows = txn.query(&txn.prepare_cached(sql).await?, &[&rows::count(jobs.len())]).await?;
    let ids = rows.iter().map(|row| unsigned(row, "id", "job id")).collect::<Result<Vec<u64>, _>>()?;
    put_jobs(txn, &ids.iter().copied().zip(jobs.iter().copied()).collect::<Vec<_>>()).await?;
    Ok(ids)
}

/// Queues each of `jobs` under the id given with it (its payload stored
/// already), in one statement.
pub(super) async fn put_jobs<P: AsRef<PayloadId> + Sync>(
    txn: &impl GenericClient,
    jobs: &[(u64, &Job<P>)],
) -> Result<(), StoreError> {
    if jobs.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = jobs.iter().map(|&(id, _)| rows::id(id)).collect();
    let hooks: Vec<i64> = jobs.iter().map(|(_, job)| rows::id(job.hook_id)).collect();
    let due: Vec<i64> = jobs.iter().map(|(_, job)| rows::id(job.due_ms)).collect();
    let event_ids: Vec<&str> = jobs.iter().map(|(_, job)| job.event_id.as_str()).collect();
    let events: Vec<&str> = jobs.iter().map(|(_, job)| job.event.as_str()).collect();
    let webhook_ids: Vec<&str> = jobs.iter().map(|(_, job)| job.webhook_id.as_str()).collect();
    let payload_ids: Vec<uuid::Uuid> = jobs.iter().map(|(_, job)| uuid(*job.payload.as_ref())).collect();
    let attempts: Vec<i32> = jobs.iter().map(|(_, job)| i32::try_from(job.attempts).unwrap_or(i32::MAX)).collect();
    let sql = "INSERT INTO jobs (id, hook_id, due_ms, event_id, event, webhook_id, payload_id, attempts) \
               SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], \
               $7::uuid[], $8::integer[])";
    let params: [&(dyn ToSql + Sync); 8] =
        [&ids, &hooks, &due, &event_ids, &events, &webhook_ids, &payload_ids, &attempts];
    txn.execute(&txn.prepare_cached(sql).await?, &params).await?;
    Ok(())
}

/// Takes `job` off the queue; its payload's id, if it was queued (under
/// its due time: a job moved since is not this one) and no engine but
/// `node` holds it.
async fn remove_job(txn: &impl GenericClient, job: &Job, node: &str) -> Result<Option<uuid::Uuid>, StoreError> {
    let sql = "DELETE FROM jobs WHERE id = $1 AND due_ms = $2 AND (claimed_by IS NULL OR claimed_by = $3) \
               RETURNING payload_id";
    let params: [&(dyn ToSql + Sync); 3] = [&rows::id(job.id), &rows::id(job.due_ms), &node];
    let row = txn.query_opt(&txn.prepare_cached(sql).await?, &params).await?;
    row.map(|row| get(&row, "payload_id", "job")).transpose()
}

/// Each of `hooks` (visible in a scope, from the index: as redb's status
/// reads, a hook's own record) with what its attempts folded to, nothing
/// folded for one without attempts.
fn per_hook<T: Default>(hooks: Vec<Hook>, mut folded: HashMap<u64, T>) -> Vec<(Hook, T)> {
    hooks
        .into_iter()
        .map(|hook| {
            let value = folded.remove(&hook.id).unwrap_or_default();
            (hook, value)
        })
        .collect()
}

#[async_trait]
impl Deliveries for Postgres {
    /// Claims the jobs it gives under this engine's lease (`leases.rs`),
    /// a hook's within its room here and its cap across the engines, in
    /// one transaction. Its commit is not waited for on disk: a claim lost
    /// with the server's crash makes a job claimable again, and the attempt
    /// made meanwhile may be made twice, as after an engine's; waiting made
    /// every pass wait for a flush (2 to 30 ms here) and, at a hook's cap
    /// (4), bounded deliveries to one hook to ~200/s.
    async fn due_jobs(&self, request: ClaimRequest<'_>) -> Result<DueJobs, StoreError> {
        let mut client = self.client().await?;
        let txn = client.transaction().await?;
        txn.batch_execute("SET LOCAL synchronous_commit = off").await?;
        let now = rows::id(request.now_ms);
        static HEADS: LazyLock<String> =
            LazyLock::new(|| format!("{WITH_HEADS} SELECT hook_id, due_ms FROM heads ORDER BY due_ms, hook_id"));
        let heads = txn.query(&txn.prepare_cached(&HEADS).await?, &[]).await?;
        // A hook's due jobs no engine holds, oldest first, as many as its
        // room here (its cap less this engine's attempts waiting for their
        // receiver) and its cap less the other engines' claims allow; the
        // hook's claims lock (`Lock::Claims`) makes the count and the claim
        // one step across engines. (Claims are counted until recorded: at
        // a hook's cap, counting this engine's too held each next attempt
        // back until the one before was committed.)
        // The claimed jobs come back with their payloads from the same
        // statement: a separate `SELECT … WHERE id = ANY($1)` cost a round
        // trip, and on tables grown faster than their statistics (a burst
        // into a young database) its planner chose sequential scans of
        // `jobs` and `payloads` (2.7 ms a pass in `bench/e2e`, where the
        // claim and that read took half of PostgreSQL's statement time).
        static CLAIM: LazyLock<String> = LazyLock::new(|| {
            format!(
                "WITH j AS ( \
               UPDATE jobs SET claimed_by = $1, claimed_until = now() + $2::bigint * interval '1 millisecond' \
               WHERE id IN (SELECT id FROM jobs \
                 WHERE hook_id = $3 AND due_ms <= $4 AND (claimed_until IS NULL OR claimed_until <= now()) \
                 ORDER BY due_ms, id \
                 LIMIT greatest(0, least($5::bigint, $6::bigint - (SELECT count(*) FROM jobs \
                   WHERE hook_id = $3 AND claimed_by <> $1 AND claimed_until > now()))) \
                 FOR UPDATE SKIP LOCKED) \
               RETURNING *) \
             SELECT {JOB_COLUMNS} FROM j JOIN payloads p ON p.id = j.payload_id"
            )
        });
        let claim = txn.prepare_cached(&CLAIM).await?;
        let (node, lease) = (&*self.node, self.leases.lease_ms());
        let mut due = DueJobs::default();
        for head in &heads {
            if due.jobs.len() == request.limit {
                break;
            }
            let (hook_id, head_due): (i64, i64) = (get(head, "hook_id", "job")?, get(head, "due_ms", "job")?);
            if head_due > now {
                due.next_due_ms = Some(unsigned(head, "due_ms", "job")?);
                break;
            }
            let hook = unsigned(head, "hook_id", "job")?;
            let wanted = (request.room)(hook).min(request.limit - due.jobs.len());
            if wanted == 0 {
                continue;
            }
            Lock::Claims.take(&txn, &[&hook.to_string()]).await?;
            let params: [&(dyn ToSql + Sync); 6] =
                [&node, &lease, &hook_id, &now, &rows::count(wanted), &rows::count((request.cap)(hook))];
            let mut claimed = Vec::new();
            for row in txn.query(&claim, &params).await? {
                let job = rows::job(&row)?;
                // One this engine is attempting already (its lease ran out
                // meanwhile) is claimed again, not given twice.
                if !(request.claimed)(job.id) {
                    claimed.push(job);
                }
            }
            // A hook's oldest first; the hooks in the order they were served.
            claimed.sort_unstable_by_key(|job| (job.due_ms, job.id));
            due.jobs.extend(claimed);
        }
        txn.commit().await?;
        self.leases.hold(due.jobs.iter().map(|job| job.id));
        Ok(due)
    }

    /// Recorded with the other attempts waiting, in one transaction
    /// (`recorder.rs`).
    async fn record_attempt(
        &self,
        job: Job,
        attempt: Attempt,
        next: NextStep,
        rule: Deactivation,
    ) -> Result<HookEffect, StoreError> {
        let (hook, id) = (job.hook_id, job.id);
        let recorded = self.recorder.record(Recording { job, attempt, next, rule }).await;
        // Recorded, or to be given up by the dispatcher: either way, the
        // lease is not renewed any more.
        self.leases.release(id);
        let effect = recorded?;
        if effect == HookEffect::Deactivate {
            tracing::info!(store = %self.location, hook, "hook deactivated by its deliveries");
            self.reload_hooks(&self.client().await?).await?;
        }
        Ok(effect)
    }

    async fn drop_job(&self, job: Job) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let txn = client.transaction().await?;
        let dropped: Vec<uuid::Uuid> = remove_job(&txn, &job, &self.node).await?.into_iter().collect();
        payloads::free(&txn, &dropped).await?;
        txn.commit().await?;
        self.leases.release(job.id);
        Ok(())
    }

    async fn enqueue(&self, jobs: Vec<Job>) -> Result<Vec<u64>, StoreError> {
        let mut client = self.client().await?;
        let txn = client.transaction().await?;
        payloads::store(&txn, jobs.iter().map(|job| &job.payload)).await?;
        let ids = insert_jobs(&txn, &jobs.iter().collect::<Vec<_>>()).await?;
        txn.commit().await?;
        Ok(ids)
    }

    async fn attempts(&self, hook_id: u64) -> Result<Vec<Attempt>, StoreError> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {ATTEMPT_COLUMNS}, {ATTEMPT_BODIES} FROM attempts a JOIN payloads p ON p.id = a.payload_id \
             LEFT JOIN payloads t ON t.id = a.transformed_id WHERE a.hook_id = $1 ORDER BY a.id DESC"
        );
        let rows = client.query(&client.prepare_cached(&sql).await?, &[&rows::id(hook_id)]).await?;
        rows.iter().map(|row| rows::attempt(row, rows::attempt_body)).collect()
    }

    async fn hook_errors(&self, scope: &Scope) -> Result<Vec<HookErrorRecord>, StoreError> {
        const WHAT: &str = "hook error";
        let client = self.client().await?;
        let sql = "SELECT id, extract(epoch FROM at)::bigint AS at, message, event, event_id, hook_id, academy \
                   FROM hook_errors WHERE ($1::text IS NULL OR academy = $1) ORDER BY at DESC, id DESC";
        let rows = client.query(&client.prepare_cached(sql).await?, &[&scope_academy(scope)]).await?;
        rows.iter()
            .map(|row| {
                Ok(HookErrorRecord {
                    id: unsigned(row, "id", WHAT)?,
                    at: rows::time(row, "at", WHAT)?,
                    message: get(row, "message", WHAT)?,
                    event: get(row, "event", WHAT)?,
                    event_id: get(row, "event_id", WHAT)?,
                    hook_id: get::<Option<i64>>(row, "hook_id", WHAT)?.map(|id| id as u64),
                    academy: get(row, "academy", WHAT)?,
                })
            })
            .collect()
    }

    async fn queue_summary(&self) -> Result<QueueSummary, StoreError> {
        let client = self.client().await?;
        static SUMMARY: LazyLock<String> = LazyLock::new(|| {
            format!("{WITH_HEADS} SELECT (SELECT count(*) FROM jobs) AS depth, min(due_ms) AS first_due_ms FROM heads")
        });
        let row = client.query_one(&client.prepare_cached(&SUMMARY).await?, &[]).await?;
        let first_due_ms = get::<Option<i64>>(&row, "first_due_ms", "queue")?.map(|due| due as u64);
        Ok(QueueSummary { depth: unsigned(&row, "depth", "queue")?, first_due_ms })
    }

    async fn recent_outcomes(&self, scope: &Scope, window: usize) -> Result<Vec<(Hook, RecentOutcomes)>, StoreError> {
        let hooks = self.hooks(scope);
        let ids: Vec<i64> = hooks.iter().map(|hook| rows::id(hook.id)).collect();
        let client = self.client().await?;
        // As redb's: a window of 0 takes every attempt; a cancelled one did
        // not call the receiver and is left out.
        let sql = "SELECT hook_id, count(*) AS attempts, count(*) FILTER (WHERE outcome = 'succeeded') AS successes \
                   FROM (SELECT hook_id, outcome, row_number() OVER (PARTITION BY hook_id ORDER BY id DESC) AS n \
                         FROM attempts WHERE hook_id = ANY($1) AND outcome <> 'cancelled') AS recent \
                   WHERE $2::bigint = 0 OR n <= $2::bigint GROUP BY hook_id";
        let rows = client.query(&client.prepare_cached(sql).await?, &[&ids, &rows::count(window)]).await?;
        let mut folded = HashMap::new();
        for row in &rows {
            let recent = RecentOutcomes {
                attempts: unsigned(row, "attempts", "attempt")?,
                successes: unsigned(row, "successes", "attempt")?,
            };
            folded.insert(unsigned(row, "hook_id", "attempt")?, recent);
        }
        Ok(per_hook(hooks, folded))
    }

    async fn attempt_counts(&self, scope: &Scope, since: Time) -> Result<Vec<(Hook, AttemptCounts)>, StoreError> {
        let hooks = self.hooks(scope);
        let ids: Vec<i64> = hooks.iter().map(|hook| rows::id(hook.id)).collect();
        let client = self.client().await?;
        // Counted by the rule every backend shares (`AttemptCounts::count`).
        let sql = format!(
            "SELECT {ATTEMPT_COLUMNS} FROM attempts a WHERE a.hook_id = ANY($1) AND a.sent_at >= to_timestamp($2::bigint)"
        );
        let rows = client.query(&client.prepare_cached(&sql).await?, &[&ids, &rows::seconds(since)]).await?;
        let mut folded: HashMap<u64, AttemptCounts> = HashMap::new();
        for row in &rows {
            let attempt = rows::attempt(row, |_, _| Ok(()))?;
            folded.entry(attempt.hook_id).or_default().count(&attempt);
        }
        Ok(per_hook(hooks, folded))
    }

    async fn prune(&self, cutoff: Time) -> Result<Pruned, StoreError> {
        let mut client = self.client().await?;
        let txn = client.transaction().await?;
        Lock::Pruning.take(&txn, &["prune"]).await?;
        let cutoff = rows::seconds(cutoff);
        let sql = "DELETE FROM events WHERE received_at < to_timestamp($1::bigint)";
        let events = txn.execute(&txn.prepare_cached(sql).await?, &[&cutoff]).await?;
        let sql = "DELETE FROM attempts WHERE sent_at < to_timestamp($1::bigint) RETURNING payload_id, transformed_id";
        let attempts = txn.query(&txn.prepare_cached(sql).await?, &[&cutoff]).await?;
        let mut dropped = Vec::with_capacity(attempts.len());
        for row in &attempts {
            dropped.push(get::<uuid::Uuid>(row, "payload_id", "attempt")?);
            dropped.extend(get::<Option<uuid::Uuid>>(row, "transformed_id", "attempt")?);
        }
        dropped.sort_unstable();
        dropped.dedup();
        payloads::free(&txn, &dropped).await?;
        let sql = "DELETE FROM hook_errors WHERE at < to_timestamp($1::bigint)";
        let hook_errors = txn.execute(&txn.prepare_cached(sql).await?, &[&cutoff]).await?;
        txn.commit().await?;
        let pruned = Pruned { events: events as usize, attempts: attempts.len(), hook_errors: hook_errors as usize };
        tracing::info!(store = %self.location, events = pruned.events, attempts = pruned.attempts, hook_errors = pruned.hook_errors, "pruned");
        Ok(pruned)
    }
}
