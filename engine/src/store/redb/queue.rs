//! The delivery queue: every job waiting for an attempt, kept in three
//! tables that change together, in the same transactions (see `tables.rs`):
//!
//! - `JOBS`, (due, job id) → job: the queue in due order, holding each job's
//!   record (its depth and lag are read from it, `status.rs`);
//! - `HOOK_JOBS`, (hook, due, job id): each hook's own queue;
//! - `HOOK_HEADS`, (due of the hook's earliest job, hook): one entry per
//!   hook with queued jobs, the hook whose oldest job has waited longest
//!   first.
//!
//! Why three: the dispatcher caps the attempts each hook has in flight
//! (`delivery/claims.rs`). Over `JOBS` alone, finding another hook's due job
//! behind the backlog of a hook at its cap means walking and decoding that
//! whole backlog on every pass: with 100,000 due jobs of one hook, 250 ms
//! of CPU per pass on this machine. Over the heads a pass reads one entry per hook with
//! due jobs, skips the hooks at their cap without reading their jobs, and
//! reads only the jobs it claims: 9 µs, whatever the backlog (figures from
//! `scan_cost_with_a_large_backlog` below, release build). The price is two
//! small index writes per queued job and per finished one.
//!
//! Every write to the queue goes through [`QueueWriter`], so the three
//! tables cannot disagree.

use std::collections::BTreeMap;

use redb::{ReadableTable, Table, WriteTransaction};

use serde::de::IgnoredAny;

use super::codec::{decode, encode};
use super::payloads::{Bodies, Uses, job_row};
use super::tables::{HOOK_HEADS, HOOK_JOBS, JOBS};
use super::{RedbStore, StoreError};
use crate::model::Job;
use crate::store::DueJobs;

/// The queue's tables, open in one write transaction.
pub struct QueueWriter<'txn> {
    jobs: Table<'txn, (u64, u64), &'static [u8]>,
    by_hook: Table<'txn, (u64, u64, u64), ()>,
    heads: Table<'txn, (u64, u64), ()>,
}

impl<'txn> QueueWriter<'txn> {
    pub fn open(txn: &'txn WriteTransaction) -> Result<Self, StoreError> {
        Ok(QueueWriter {
            jobs: txn.open_table(JOBS)?,
            by_hook: txn.open_table(HOOK_JOBS)?,
            heads: txn.open_table(HOOK_HEADS)?,
        })
    }

    /// Queues `job` (its id already taken) under its due time and its hook;
    /// its payload gains a reference in `uses`.
    pub fn push(&mut self, job: &Job, uses: &mut Uses) -> Result<(), StoreError> {
        self.jobs.insert((job.due_ms, job.id), encode(&job_row(job)).as_slice())?;
        uses.add(&job.payload);
        match self.head(job.hook_id)? {
            Some(head) if head <= (job.due_ms, job.id) => {}
            earlier => {
                if let Some((due_ms, _)) = earlier {
                    self.heads.remove((due_ms, job.hook_id))?;
                }
                self.heads.insert((job.due_ms, job.hook_id), ())?;
            }
        }
        self.by_hook.insert((job.hook_id, job.due_ms, job.id), ())?;
        Ok(())
    }

    /// Takes `job` off the queue (attempted, rescheduled under another due
    /// time, or dropped), its payload losing a reference in `uses`;
    /// nothing if it is not queued.
    pub fn remove(&mut self, job: &Job, uses: &mut Uses) -> Result<(), StoreError> {
        if self.jobs.remove((job.due_ms, job.id))?.is_none() {
            return Ok(());
        }
        uses.drop(job.payload.id());
        self.by_hook.remove((job.hook_id, job.due_ms, job.id))?;
        let next = self.head(job.hook_id)?;
        // Whatever is left comes after it: it was the head if nothing of
        // the hook's comes before it.
        if next.is_none_or(|next| (job.due_ms, job.id) < next) {
            self.heads.remove((job.due_ms, job.hook_id))?;
            if let Some((due_ms, _)) = next {
                self.heads.insert((due_ms, job.hook_id), ())?;
            }
        }
        Ok(())
    }

    /// (due, job id) of the earliest job of `hook_id`.
    fn head(&self, hook_id: u64) -> Result<Option<(u64, u64)>, StoreError> {
        let first = self.by_hook.range((hook_id, 0, 0)..=(hook_id, u64::MAX, u64::MAX))?.next().transpose()?;
        Ok(first.map(|(key, _)| {
            let (_, due_ms, id) = key.value();
            (due_ms, id)
        }))
    }
}

/// Builds `HOOK_JOBS` and `HOOK_HEADS` from `JOBS`, replacing whatever they
/// held: the upgrade of a store written before they existed (the schema
/// version 3 step in `migrate.rs`). Returns how many jobs it indexed.
pub fn backfill(txn: &WriteTransaction) -> Result<u64, StoreError> {
    let jobs = txn.open_table(JOBS)?;
    let mut by_hook = txn.open_table(HOOK_JOBS)?;
    let mut heads = txn.open_table(HOOK_HEADS)?;
    by_hook.retain(|_, ()| false)?;
    heads.retain(|_, ()| false)?;
    // `JOBS` is in due order: a hook's first job seen is its head.
    let mut first_due: BTreeMap<u64, u64> = BTreeMap::new();
    let mut indexed = 0;
    for entry in jobs.iter()? {
        let (key, bytes) = entry?;
        let (due_ms, id) = key.value();
        // Only the hook is read: the job may be of any version's layout.
        let job: Job<IgnoredAny> = decode("job", bytes.value())?;
        by_hook.insert((job.hook_id, due_ms, id), ())?;
        first_due.entry(job.hook_id).or_insert(due_ms);
        indexed += 1;
    }
    for (hook_id, due_ms) in first_due {
        heads.insert((due_ms, hook_id), ())?;
    }
    Ok(indexed)
}

impl RedbStore {
    /// Up to `limit` jobs due at `now_ms`, read in one transaction. The
    /// hooks with due jobs are visited oldest first; `room(hook)` says how
    /// many of a hook's due jobs to take (0: its jobs are not read at all),
    /// `claimed(job id)` which are already being attempted.
    pub fn due_jobs(
        &self,
        now_ms: u64,
        limit: usize,
        mut room: impl FnMut(u64) -> usize,
        claimed: impl Fn(u64) -> bool,
    ) -> Result<DueJobs, StoreError> {
        let txn = self.db.begin_read()?;
        let heads = txn.open_table(HOOK_HEADS)?;
        let by_hook = txn.open_table(HOOK_JOBS)?;
        let jobs = txn.open_table(JOBS)?;
        let mut bodies = Bodies::open(&txn)?;
        let mut due = DueJobs::default();
        for head in heads.iter()? {
            if due.jobs.len() == limit {
                break;
            }
            let (head_due_ms, hook_id) = head?.0.value();
            if head_due_ms > now_ms {
                due.next_due_ms = Some(head_due_ms);
                break;
            }
            let wanted = room(hook_id).min(limit - due.jobs.len());
            if wanted == 0 {
                continue;
            }
            let mut taken = 0;
            for entry in by_hook.range((hook_id, 0, 0)..=(hook_id, now_ms, u64::MAX))? {
                let (_, due_ms, id) = entry?.0.value();
                if claimed(id) {
                    continue;
                }
                let bytes = jobs.get((due_ms, id))?.ok_or_else(|| StoreError::Corrupt {
                    what: "job queue",
                    message: format!("job {id} of hook {hook_id} is in the hook's queue but not in the jobs table"),
                })?;
                due.jobs.push(bodies.job(decode("job", bytes.value())?)?);
                taken += 1;
                if taken == wanted {
                    break;
                }
            }
        }
        Ok(due)
    }

    /// Up to `limit` queued jobs after (due, id) `after`, in that order.
    pub fn queued_jobs(&self, after: Option<(u64, u64)>, limit: usize) -> Result<Vec<Job>, StoreError> {
        let txn = self.db.begin_read()?;
        let jobs = txn.open_table(JOBS)?;
        let mut bodies = Bodies::open(&txn)?;
        let range = match after {
            Some(key) => jobs.range((std::ops::Bound::Excluded(key), std::ops::Bound::Unbounded))?,
            None => jobs.range::<(u64, u64)>(..)?,
        };
        let mut queued = Vec::new();
        for entry in range.take(limit) {
            queued.push(bodies.job(decode("job", entry?.1.value())?)?);
        }
        Ok(queued)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::redb::payloads::JobRow;
    use crate::store::redb::tables::meta;
    use crate::store::tests::job;

    /// Queues jobs (hook, due) in one transaction, with ids in order.
    fn push(store: &RedbStore, jobs: &[(u64, u64)]) -> Vec<Job> {
        let txn = store.db.begin_write().unwrap();
        let mut queued = Vec::new();
        let mut uses = Uses::default();
        {
            let mut queue = QueueWriter::open(&txn).unwrap();
            for &(hook_id, due_ms) in jobs {
                let mut job = job(hook_id, due_ms);
                job.id = crate::store::redb::next_id(&txn, meta::NEXT_JOB_ID).unwrap();
                queue.push(&job, &mut uses).unwrap();
                queued.push(job);
            }
        }
        uses.apply(&txn).unwrap();
        txn.commit().unwrap();
        queued
    }

    fn remove(store: &RedbStore, jobs: &[&Job]) {
        let txn = store.db.begin_write().unwrap();
        let mut uses = Uses::default();
        {
            let mut queue = QueueWriter::open(&txn).unwrap();
            for job in jobs {
                queue.remove(job, &mut uses).unwrap();
            }
        }
        uses.apply(&txn).unwrap();
        txn.commit().unwrap();
    }

    /// The index tables, as (hook, due, id) and (due, hook) keys.
    /// `HOOK_JOBS` keys and `HOOK_HEADS` keys.
    type Index = (Vec<(u64, u64, u64)>, Vec<(u64, u64)>);

    fn index(store: &RedbStore) -> Index {
        let txn = store.db.begin_read().unwrap();
        let by_hook = txn.open_table(HOOK_JOBS).unwrap();
        let heads = txn.open_table(HOOK_HEADS).unwrap();
        (
            by_hook.iter().unwrap().map(|e| e.unwrap().0.value()).collect(),
            heads.iter().unwrap().map(|e| e.unwrap().0.value()).collect(),
        )
    }

    fn ids(due: &DueJobs) -> Vec<u64> {
        due.jobs.iter().map(|job| job.id).collect()
    }

    #[test]
    fn heads_follow_each_hooks_earliest_job() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path(), crate::store::tests::keyring()).unwrap();
        let queued = push(&store, &[(7, 300), (7, 100), (9, 200), (7, 100)]);
        assert_eq!(index(&store).1, [(100, 7), (200, 9)]);
        // Removing a job that is not the head changes no head; removing
        // the head moves it to the next job, another with the same due
        // time included; removing the last one drops it.
        remove(&store, &[&queued[0]]);
        assert_eq!(index(&store).1, [(100, 7), (200, 9)]);
        remove(&store, &[&queued[1]]);
        assert_eq!(index(&store).1, [(100, 7), (200, 9)]);
        remove(&store, &[&queued[3], &queued[2]]);
        assert_eq!(index(&store), (vec![], vec![]));
        // A job rescheduled (removed, queued again later) moves its head.
        let queued = push(&store, &[(7, 100), (7, 150)]);
        remove(&store, &[&queued[0]]);
        let txn = store.db.begin_write().unwrap();
        let mut uses = Uses::default();
        QueueWriter::open(&txn).unwrap().push(&Job { due_ms: 500, ..queued[0].clone() }, &mut uses).unwrap();
        uses.apply(&txn).unwrap();
        txn.commit().unwrap();
        assert_eq!(index(&store).1, [(150, 7)]);
        // Removing what is not queued changes nothing.
        remove(&store, &[&queued[0]]);
        assert_eq!(index(&store).0.len(), 2);
    }

    #[test]
    fn due_jobs_serve_the_oldest_hooks_first_within_their_room() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path(), crate::store::tests::keyring()).unwrap();
        // Hook 1: a backlog due since 100; hook 2: one job due at 200; hook
        // 3: due at 5000, later than now.
        let mut jobs: Vec<(u64, u64)> = (0..50).map(|i| (1, 100 + i)).collect();
        jobs.extend([(2, 200), (3, 5000)]);
        let queued = push(&store, &jobs);

        let all = store.due_jobs(1000, 64, |_| usize::MAX, |_| false).unwrap();
        assert_eq!(all.jobs.len(), 51, "the due ones");
        assert_eq!(all.next_due_ms, Some(5000));
        assert!(all.jobs[..50].iter().all(|job| job.hook_id == 1) && all.jobs[50].hook_id == 2);

        // Hook 1 at its cap: only hook 2's job, and hook 1's jobs unread.
        let mut asked = Vec::new();
        let due = store
            .due_jobs(
                1000,
                64,
                |hook| {
                    asked.push(hook);
                    if hook == 1 { 0 } else { 4 }
                },
                |_| false,
            )
            .unwrap();
        assert_eq!(ids(&due), [queued[50].id]);
        assert_eq!(asked, [1, 2], "one question per hook with due jobs");

        // Room for 2 of hook 1, whose first 3 are being attempted.
        let busy: Vec<u64> = queued[..3].iter().map(|job| job.id).collect();
        let due = store.due_jobs(1000, 64, |hook| if hook == 1 { 2 } else { 0 }, |id| busy.contains(&id)).unwrap();
        assert_eq!(ids(&due), [queued[3].id, queued[4].id]);

        // The limit: the free workers.
        let due = store.due_jobs(1000, 3, |_| usize::MAX, |_| false).unwrap();
        assert_eq!(due.jobs.len(), 3);
        // Before anything is due: nothing, and when to look again.
        let early = store.due_jobs(50, 64, |_| usize::MAX, |_| false).unwrap();
        assert_eq!((early.jobs.len(), early.next_due_ms), (0, Some(100)));
    }

    #[test]
    fn the_index_is_rebuilt_from_the_jobs() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path(), crate::store::tests::keyring()).unwrap();
        let queued = push(&store, &[(4, 300), (5, 100), (4, 200)]);
        let built = index(&store);
        // As a schema version 2 store: the jobs alone, no index.
        let txn = store.db.begin_write().unwrap();
        txn.delete_table(HOOK_JOBS).unwrap();
        txn.delete_table(HOOK_HEADS).unwrap();
        assert_eq!(backfill(&txn).unwrap(), 3);
        txn.commit().unwrap();

        assert_eq!(index(&store), built);
        assert_eq!(built.1, [(100, 5), (200, 4)]);
        let due = store.due_jobs(1000, 64, |_| usize::MAX, |_| false).unwrap();
        assert_eq!(ids(&due), [queued[1].id, queued[2].id, queued[0].id]);
    }

    /// The figures in the module's comment: one pass of the dispatcher
    /// with 100,000 due jobs of one hook at its cap and one job of another
    /// hook, over `JOBS` alone (what a capped scan had to do before the
    /// index) and over the heads. Prints; asserts nothing about time.
    #[test]
    #[ignore = "a measurement: cargo test --release -p wasmhook --lib scan_cost -- --ignored --nocapture"]
    fn scan_cost_with_a_large_backlog() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path(), crate::store::tests::keyring()).unwrap();
        let mut jobs: Vec<(u64, u64)> = (0..100_000).map(|i| (1, 1_000 + i)).collect();
        jobs.push((2, 200_000));
        push(&store, &jobs);
        let now = 1_000_000;
        let passes = 20;

        let started = std::time::Instant::now();
        for _ in 0..passes {
            // Over `JOBS` alone: a job's hook is in its record.
            let txn = store.db.begin_read().unwrap();
            let table = txn.open_table(JOBS).unwrap();
            let mut found = Vec::new();
            for entry in table.range(..=(now, u64::MAX)).unwrap() {
                let job: JobRow = decode("job", entry.unwrap().1.value()).unwrap();
                if job.hook_id != 1 {
                    found.push(job);
                }
            }
            assert_eq!(found.len(), 1);
        }
        let walk = started.elapsed() / passes;

        let started = std::time::Instant::now();
        for _ in 0..passes {
            let due = store.due_jobs(now, 64, |hook| if hook == 1 { 0 } else { 4 }, |_| false).unwrap();
            assert_eq!(due.jobs.len(), 1);
        }
        let heads = started.elapsed() / passes;
        println!(
            "one pass with 100,000 due jobs of a hook at its cap: walking JOBS {walk:?}, over the heads {heads:?}"
        );
    }
}
