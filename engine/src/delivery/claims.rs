//! Fair share across hooks: which due jobs a pass of the dispatcher
//! claims, and what each hook has in flight.
//!
//! A hook may have at most its cap of attempts in flight: its own
//! `max_in_flight`, else the engine's `delivery_max_in_flight_per_hook`.
//! A pass visits the hooks with due jobs, the one whose oldest job has
//! waited longest first (`store/redb/queue.rs`), takes at most each hook's room
//! under its cap, and stops when the free workers are used. A receiver
//! that sleeps therefore holds its cap's worth of workers and delays its
//! own deliveries only.
//!
//! A hook's slot is held from the claim until its receiver has answered
//! (or the attempt ended without a request), not while the answer is
//! recorded: the cap bounds what the receiver sees at once, and recording
//! a slow receiver's answer is as quick as a fast one's. The job itself
//! stays claimed until it is recorded, so no pass claims it twice.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::model::Hook;
use crate::model::Job;
use crate::store::DueJobs;
use crate::store::{ClaimRequest, Store, StoreError};

/// The claimed jobs and each hook's attempts in flight.
pub(super) struct InFlight {
    state: Mutex<State>,
    /// Notified whenever a job or a slot is released: a pass may claim more.
    released: Arc<Notify>,
}

#[derive(Default)]
struct State {
    /// Jobs claimed and not yet recorded.
    jobs: HashSet<u64>,
    /// Jobs recorded while a pass runs (`None`: no pass runs). A pass may
    /// read the queue as it was before such a job's record committed, and
    /// must not take the job again once it is no longer claimed.
    recorded_during_pass: Option<HashSet<u64>>,
    /// Per hook, its slots held (only hooks holding some).
    slots: HashMap<u64, usize>,
}

/// `hook`'s cap: its own, else the engine's `default_cap` (also for a hook
/// deleted since its jobs were queued).
fn cap_of(hook: Option<&Arc<Hook>>, default_cap: NonZeroUsize) -> usize {
    hook.and_then(|hook| hook.settings.max_in_flight).map_or(default_cap.get(), |cap| cap.get() as usize)
}

impl State {
    /// How many more of `hook_id`'s jobs may be claimed under `cap`.
    fn room(&self, hook_id: u64, cap: usize) -> usize {
        cap.saturating_sub(self.slots.get(&hook_id).copied().unwrap_or(0))
    }
}

/// A claimed job; released when dropped (its attempt recorded, or dropped
/// at shutdown).
pub(super) struct Claimed {
    in_flight: Arc<InFlight>,
    job_id: u64,
}

/// One of a hook's slots; released when dropped, once its receiver has
/// answered.
pub(super) struct HookSlot {
    in_flight: Arc<InFlight>,
    hook_id: u64,
}

impl InFlight {
    pub(super) fn new(released: Arc<Notify>) -> Arc<InFlight> {
        Arc::new(InFlight { state: Mutex::default(), released })
    }

    /// How many jobs are claimed.
    pub(super) fn len(&self) -> usize {
        self.lock().jobs.len()
    }

    /// Up to `workers` due jobs to claim now, each hook within its room
    /// under its cap (its own, else `default_cap`).
    /// Only the dispatcher's loop claims, so the room read here can only
    /// grow (slots released) before the jobs are claimed.
    pub(super) async fn select(
        &self,
        store: &dyn Store,
        default_cap: NonZeroUsize,
        now_ms: u64,
        workers: usize,
    ) -> Result<DueJobs, StoreError> {
        let hooks = store.hook_index();
        let cap = |hook_id| cap_of(hooks.get(hook_id), default_cap);
        let room = |hook_id| self.lock().room(hook_id, cap(hook_id));
        let claimed = |job_id| {
            let state = self.lock();
            state.jobs.contains(&job_id) || state.recorded_during_pass.as_ref().is_some_and(|r| r.contains(&job_id))
        };
        self.lock().recorded_during_pass = Some(HashSet::new());
        let due =
            store.due_jobs(ClaimRequest { now_ms, limit: workers, room: &room, cap: &cap, claimed: &claimed }).await;
        self.lock().recorded_during_pass = None;
        due
    }

    /// Claims `job` and one of its hook's slots.
    pub(super) fn claim(self: &Arc<Self>, job: &Job) -> (Claimed, HookSlot) {
        let mut state = self.lock();
        state.jobs.insert(job.id);
        *state.slots.entry(job.hook_id).or_default() += 1;
        (
            Claimed { in_flight: self.clone(), job_id: job.id },
            HookSlot { in_flight: self.clone(), hook_id: job.hook_id },
        )
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Claimed {
    pub(super) fn job_id(&self) -> u64 {
        self.job_id
    }
}

impl Drop for Claimed {
    fn drop(&mut self) {
        let mut state = self.in_flight.lock();
        state.jobs.remove(&self.job_id);
        if let Some(recorded) = &mut state.recorded_during_pass {
            recorded.insert(self.job_id);
        }
        drop(state);
        self.in_flight.released.notify_one();
    }
}

impl Drop for HookSlot {
    fn drop(&mut self) {
        if let Entry::Occupied(mut held) = self.in_flight.lock().slots.entry(self.hook_id) {
            *held.get_mut() -= 1;
            if *held.get() == 0 {
                held.remove();
            }
        }
        self.in_flight.released.notify_one();
    }
}

#[cfg(test)]
mod tests {

    use std::num::NonZeroU32;
    use std::time::Duration;

    use super::*;
    use crate::store::tests::job;
    use crate::store::tests::new_hook;
    use crate::store::{Redb, RedbStore};

    const CAP: NonZeroUsize = NonZeroUsize::new(2).unwrap();

    struct Queue {
        _dir: tempfile::TempDir,
        store: Arc<dyn Store>,
    }

    impl Queue {
        fn new() -> Queue {
            let dir = tempfile::tempdir().unwrap();
            let file = RedbStore::open(dir.path(), crate::store::tests::keyring()).unwrap();
            Queue { _dir: dir, store: Arc::new(Redb::new(file, &Default::default())) }
        }

        async fn hook(&self, max_in_flight: Option<u32>) -> u64 {
            let mut hook = new_hook(None);
            hook.settings.max_in_flight = max_in_flight.and_then(NonZeroU32::new);
            self.store.create_hook(hook, Default::default()).await.unwrap().id
        }

        /// Queues `n` jobs of `hook_id`, due at `due_ms`.
        async fn queue(&self, hook_id: u64, n: usize, due_ms: u64) {
            self.store.enqueue((0..n).map(|_| job(hook_id, due_ms)).collect()).await.unwrap();
        }
    }

    fn hooks_of(jobs: &[Job]) -> Vec<u64> {
        jobs.iter().map(|job| job.hook_id).collect()
    }

    #[tokio::test]
    async fn each_hook_gets_its_room_under_its_cap_and_its_slots_back() {
        let q = Queue::new();
        let (default, own) = (q.hook(None).await, q.hook(Some(3)).await);
        q.queue(default, 10, 100).await;
        q.queue(own, 10, 200).await;
        let released = Arc::new(Notify::new());
        let in_flight = InFlight::new(released.clone());

        let due = in_flight.select(&*q.store, CAP, 1000, 64).await.unwrap();
        assert_eq!(hooks_of(&due.jobs), [default, default, own, own, own], "the oldest hook first, each to its cap");
        let claims: Vec<_> = due.jobs.iter().map(|job| in_flight.claim(job)).collect();
        assert_eq!(in_flight.len(), 5);
        assert!(in_flight.select(&*q.store, CAP, 1000, 64).await.unwrap().jobs.is_empty(), "every hook at its cap");

        // The receiver answered one of the default hook's: its slot comes
        // back, its job stays claimed until recorded, and the next job is
        // taken, not the claimed one.
        let mut claims = claims.into_iter();
        let (first_job, first_slot) = claims.next().unwrap();
        drop(first_slot);
        assert!(
            tokio::time::timeout(Duration::from_secs(1), released.notified()).await.is_ok(),
            "the dispatcher is woken"
        );
        let due = in_flight.select(&*q.store, CAP, 1000, 64).await.unwrap();
        assert_eq!(hooks_of(&due.jobs), [default]);
        assert!(
            due.jobs[0].id != first_job.job_id && !claims.as_slice().iter().any(|(c, _)| c.job_id == due.jobs[0].id)
        );
        drop(first_job);
        assert_eq!(in_flight.len(), 4);
    }

    #[tokio::test]
    async fn free_workers_bound_a_pass_and_deleted_hooks_get_the_default_cap() {
        let q = Queue::new();
        let hook = q.hook(Some(10)).await;
        q.queue(hook, 10, 100).await;
        q.queue(99, 10, 50).await; // a hook deleted since
        let in_flight = InFlight::new(Arc::new(Notify::new()));
        let due = in_flight.select(&*q.store, CAP, 1000, 3).await.unwrap();
        assert_eq!(hooks_of(&due.jobs), [99, 99, hook]);
        let due = in_flight.select(&*q.store, CAP, 1000, 64).await.unwrap();
        assert_eq!(due.jobs.len(), 12);
        // Nothing due yet: when to look again.
        let early = in_flight.select(&*q.store, CAP, 10, 64).await.unwrap();
        assert_eq!((early.jobs.len(), early.next_due_ms), (0, Some(50)));
    }
}
