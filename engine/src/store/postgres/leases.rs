//! Leases on jobs, so that engines sharing the database never attempt one
//! job at the same time, and jobs of an engine that died are attempted by
//! the others.
//!
//! A job claimed by an engine (`deliveries.rs`, `due_jobs`) carries its
//! node id in `claimed_by` and `claimed_until` a lease ahead; no engine
//! claims it before then. While its attempt runs, a task here renews every
//! held lease each third of a lease, in one statement; the job's record
//! takes it off the queue (or queues its retry, unclaimed). An engine
//! killed renews nothing: a lease after its last renewal, its jobs are
//! due again for whichever engine passes first. Only its holder takes a
//! claimed job off the queue: an engine that lost its lease (stalled past
//! it) still records its attempt, but leaves the job to its new holder.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use deadpool_postgres::Pool;
use tokio_util::task::AbortOnDropHandle;

use super::super::StoreError;
use super::rows;

/// This engine's leases, renewed while it holds them.
pub(super) struct Leases {
    lease: Duration,
    held: Arc<Mutex<HashSet<u64>>>,
    _renewing: AbortOnDropHandle<()>,
}

impl Leases {
    /// Leases of `lease` for engine `node`, renewed on `pool` until
    /// dropped.
    pub(super) fn start(pool: Pool, location: String, node: Arc<str>, lease: Duration) -> Leases {
        let held = Arc::new(Mutex::new(HashSet::new()));
        let renewing = tokio::spawn(renew(pool, location, node, lease, held.clone()));
        Leases { lease, held, _renewing: AbortOnDropHandle::new(renewing) }
    }

    /// The lease, in milliseconds, for `now() + $n * interval '1 millisecond'`.
    pub(super) fn lease_ms(&self) -> i64 {
        lease_ms(self.lease)
    }

    /// Renews `ids`' leases from now on.
    pub(super) fn hold(&self, ids: impl IntoIterator<Item = u64>) {
        self.lock().extend(ids);
    }

    /// Stops renewing job `id`'s lease: its attempt is recorded, or given
    /// up (the lease then ends by itself).
    pub(super) fn release(&self, id: u64) {
        self.lock().remove(&id);
    }

    fn lock(&self) -> MutexGuard<'_, HashSet<u64>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn lease_ms(lease: Duration) -> i64 {
    rows::count(lease.as_millis())
}

/// Every third of `lease`, extends the leases `held` by `node` to a lease
/// from now. A renewal that fails is tried again at the next turn: a lease
/// outlives two missed renewals.
async fn renew(pool: Pool, location: String, node: Arc<str>, lease: Duration, held: Arc<Mutex<HashSet<u64>>>) {
    let mut turns = tokio::time::interval(lease / 3);
    turns.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        turns.tick().await;
        let ids: Vec<i64> = held.lock().unwrap_or_else(|e| e.into_inner()).iter().map(|&id| rows::id(id)).collect();
        if ids.is_empty() {
            continue;
        }
        let renewed = async {
            let client = pool.get().await?;
            let sql = "UPDATE jobs SET claimed_until = now() + $2::bigint * interval '1 millisecond' \
                       WHERE claimed_by = $1 AND id = ANY($3)";
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] = [&&*node, &lease_ms(lease), &ids];
            Ok::<_, StoreError>(client.execute(&client.prepare_cached(sql).await?, &params).await?)
        }
        .await;
        match renewed {
            Ok(renewed) => tracing::trace!(store = %location, held = ids.len(), renewed, "leases renewed"),
            Err(error) => tracing::warn!(store = %location, held = ids.len(), error = %error, "leases not renewed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::model::{AttemptOutcome, Deactivation, Job, NextStep};
    use crate::store::contract_tests::{hook, queued};
    use crate::store::postgres::{Postgres, testing};
    use crate::store::tests::attempt;
    use crate::store::{ClaimRequest, Deliveries, DueJobs, PostgresSettings};
    use crate::time::Time;

    /// The due jobs a pass of this engine claims, with room for 64 and a
    /// hook's cap of `cap`, nothing attempted here yet.
    async fn claim(store: &Postgres, cap: usize) -> Vec<u64> {
        let request = ClaimRequest { now_ms: 1000, limit: 64, room: &|_| 64, cap: &|_| cap, claimed: &|_| false };
        let DueJobs { jobs, .. } = store.due_jobs(request).await.unwrap();
        jobs.iter().map(|job| job.id).collect()
    }

    /// Job `id`'s lease: who holds it, and for how many more seconds.
    async fn lease(store: &Postgres, id: u64) -> (Option<String>, Option<f64>) {
        let client = store.client().await.unwrap();
        let sql =
            "SELECT claimed_by, extract(epoch FROM claimed_until - now())::float8 AS left FROM jobs WHERE id = $1";
        let row = client.query_one(sql, &[&(id as i64)]).await.unwrap();
        (row.get("claimed_by"), row.get("left"))
    }

    /// Gives jobs `ids` to another engine, its lease ending in `seconds`.
    async fn claim_elsewhere(store: &Postgres, ids: &[u64], seconds: f64) {
        let client = store.client().await.unwrap();
        let ids: Vec<i64> = ids.iter().map(|&id| id as i64).collect();
        let sql = "UPDATE jobs SET claimed_by = 'other', claimed_until = now() + $2 * interval '1 second' \
                   WHERE id = ANY($1)";
        client.execute(sql, &[&ids, &seconds]).await.unwrap();
    }

    #[tokio::test]
    async fn jobs_another_engine_holds_are_not_claimed_and_count_against_the_cap_until_their_lease_ends() {
        let Some(database) = testing::database().await else { return };
        let store = database.open().await;
        let id = hook(&store, None).await.id;
        let mut jobs = Vec::new();
        for due in 0..4 {
            jobs.push(queued(&store, id, due).await.id);
        }
        claim_elsewhere(&store, &jobs[..2], 3600.0).await;
        assert_eq!(claim(&store, 3).await, [jobs[2]], "a cap of 3, 2 held by the other engine");
        let (holder, left) = lease(&store, jobs[2]).await;
        assert_eq!(holder.as_deref(), Some(&*store.node));
        assert!(left.unwrap() > 25.0, "a lease of 30 s: {left:?}");
        assert!(claim(&store, 64).await == [jobs[3]], "its own claim is not given again");

        claim_elsewhere(&store, &jobs[..2], -1.0).await;
        assert_eq!(claim(&store, 64).await, jobs[..2], "the other engine's leases ran out");
        drop(store);
        database.remove().await;
    }

    /// At a hook's cap, this engine's own claims are its room's business
    /// (the dispatcher's slots, freed when a receiver answers): a claim not
    /// recorded yet does not hold the next one back.
    #[tokio::test]
    async fn a_hooks_cap_counts_the_other_engines_claims_only() {
        let Some(database) = testing::database().await else { return };
        let store = database.open().await;
        let id = hook(&store, None).await.id;
        let (first, second) = (queued(&store, id, 0).await.id, queued(&store, id, 1).await.id);
        assert_eq!(claim(&store, 1).await, [first]);
        assert_eq!(claim(&store, 1).await, [second], "the first, claimed here, is not counted");
        drop(store);
        database.remove().await;
    }

    #[tokio::test]
    async fn held_leases_are_renewed_and_released_ones_run_out() {
        let Some(database) = testing::database().await else { return };
        let settings = PostgresSettings { lease: Duration::from_secs(3), ..testing::settings() };
        let store = database.open_under(&settings).await;
        let id = hook(&store, None).await.id;
        let (held, released) = (queued(&store, id, 0).await.id, queued(&store, id, 1).await.id);
        assert_eq!(claim(&store, 64).await, [held, released]);
        store.leases.release(released);
        // Renewed every second: the held lease is pushed on, past where
        // both started.
        let renewed = async {
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let (_, left) = lease(&store, held).await;
                if left.unwrap() > 2.8 && lease(&store, released).await.1.unwrap() < 2.0 {
                    break;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), renewed).await.expect("the held lease is renewed");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(claim(&store, 64).await, [released], "only the released lease ran out");
        drop(store);
        database.remove().await;
    }

    #[tokio::test]
    async fn a_late_record_leaves_the_job_to_the_engine_that_holds_it_now() {
        let Some(database) = testing::database().await else { return };
        let store = database.open().await;
        let id = hook(&store, None).await.id;
        let job: Job = queued(&store, id, 0).await;
        assert_eq!(claim(&store, 64).await, [job.id]);
        claim_elsewhere(&store, &[job.id], 3600.0).await; // as if this engine had stalled past its lease

        let failed = attempt(&job, AttemptOutcome::Failed, Some(500), Time::now());
        let retry = NextStep::Retry { due_ms: 5000 };
        store.record_attempt(job.clone(), failed, retry, Deactivation::NEVER).await.unwrap();
        assert_eq!(store.attempts(id).await.unwrap().len(), 1, "the attempt made is recorded");
        assert_eq!(lease(&store, job.id).await.0.as_deref(), Some("other"), "the job stays the other's");
        store.drop_job(job.clone()).await.unwrap();
        assert_eq!(store.queue_summary().await.unwrap().depth, 1, "and is not dropped by this one");
        drop(store);
        database.remove().await;
    }
}
