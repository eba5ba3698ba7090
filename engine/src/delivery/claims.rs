//! Fair share across hooks: which due jobs a pass of the dispatcher
//! claims, and what each hook has in flight.
//!
//! A hook may have at most its cap of attempts in flight: its own
//! `max_in_flight`, else the engine's `delivery_max_in_flight_per_hook`.
//! A pass visits the hooks with due jobs, the one whose oldest job has
//! waited longest first (`store/queue.rs`), takes at most each hook's room
//! under its cap, and stops when the free workers are used. A receiver
//! that sleeps therefore holds its cap's worth of workers and delays its
//! own deliveries only.
//!
//! A hook's slot is held from the claim until its receiver has answered
//! (or the attempt ended without a request), not while the answer is
//! recorded: the cap bounds what the receiver sees at once, and recording
//! a slow receiver's answer is as quick as a fast one's. The job itself
//! stays claimed until it is recorded, so no pass claims it twice.
//!
//! A hook with a `rate_limit` is also paced (see [`Pace`]).

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::store::delivery::Job;
use crate::store::queue::DueJobs;
use crate::store::{Hook, Store, StoreError};

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
    /// Per hook, its slots held (only hooks holding some).
    slots: HashMap<u64, usize>,
    /// Per rate-limited hook, its pace (only hooks that are not back to a
    /// full burst).
    paces: HashMap<u64, Pace>,
}

/// What bounds the claims of one hook.
#[derive(Debug, Clone, Copy)]
struct Limits {
    cap: usize,
    rate: Option<NonZeroU32>,
}

impl Limits {
    /// `hook`'s own limits, else the engine's cap (also for a hook deleted
    /// since its jobs were queued).
    fn of(hook: Option<&Arc<Hook>>, default_cap: NonZeroUsize) -> Limits {
        let settings = hook.map(|hook| &hook.settings);
        Limits {
            cap: settings.and_then(|s| s.max_in_flight).map_or(default_cap.get(), |cap| cap.get() as usize),
            rate: settings.and_then(|s| s.rate_limit),
        }
    }
}

impl State {
    /// How many more of `hook_id`'s jobs may be claimed at `now`, and, when
    /// its pace alone forbids any, when it allows one.
    fn room(&self, hook_id: u64, limits: Limits, now: Instant) -> (usize, Option<Instant>) {
        let room = limits.cap.saturating_sub(self.slots.get(&hook_id).copied().unwrap_or(0));
        let Some(rate) = limits.rate else { return (room, None) };
        let pace = self.paces.get(&hook_id);
        let allowed = Pace::allowed(pace, rate, now);
        let wait = (room > 0 && allowed == 0).then(|| pace.map_or(now, |pace| pace.next_at(rate)));
        (room.min(allowed), wait)
    }
}

/// A hook's rate limit of `rate` deliveries per second, as a virtual clock
/// (the generic cell rate algorithm): each delivery moves `full_at` one
/// interval (1/`rate` s) later, from now at the earliest, and a delivery may
/// start while `full_at` is less than one second ahead. So a hook that was
/// quiet may start `rate` deliveries at once, then `rate` per second. One
/// instant per hook, and none once `full_at` has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pace {
    full_at: Instant,
}

impl Pace {
    const WINDOW: Duration = Duration::from_secs(1);

    fn interval(rate: NonZeroU32) -> Duration {
        Self::WINDOW / rate.get()
    }

    /// How many deliveries may start at `now`.
    fn allowed(pace: Option<&Pace>, rate: NonZeroU32, now: Instant) -> usize {
        let ahead = pace.map_or(Duration::ZERO, |pace| pace.full_at.saturating_duration_since(now));
        let left = Self::WINDOW.saturating_sub(ahead);
        usize::try_from(left.as_nanos() / Self::interval(rate).as_nanos()).unwrap_or(usize::MAX)
    }

    /// When one more may start.
    fn next_at(&self, rate: NonZeroU32) -> Instant {
        self.full_at - (Self::WINDOW - Self::interval(rate))
    }

    /// The pace after one more delivery starts at `now`.
    fn spend(pace: Option<Pace>, rate: NonZeroU32, now: Instant) -> Pace {
        Pace { full_at: pace.map_or(now, |pace| pace.full_at.max(now)) + Self::interval(rate) }
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
    /// (its cap: its own, else `default_cap`; and its pace). The paces of
    /// the hooks served move on here. `next_due_ms` is also the earliest
    /// time a paced hook may start another delivery.
    pub(super) fn select(
        &self,
        store: &Store,
        default_cap: NonZeroUsize,
        now_ms: u64,
        workers: usize,
    ) -> Result<DueJobs, StoreError> {
        let hooks = store.hook_index();
        let now = Instant::now();
        let mut state = self.lock();
        state.paces.retain(|_, pace| pace.full_at > now);
        let mut paced_until: Option<Instant> = None;
        let mut due = {
            let state = &*state;
            store.due_jobs(
                now_ms,
                workers,
                |hook_id| {
                    let (room, wait) = state.room(hook_id, Limits::of(hooks.get(hook_id), default_cap), now);
                    if let Some(wait) = wait {
                        paced_until = Some(paced_until.map_or(wait, |until| until.min(wait)));
                    }
                    room
                },
                |job_id| state.jobs.contains(&job_id),
            )?
        };
        for job in &due.jobs {
            if let Some(rate) = Limits::of(hooks.get(job.hook_id), default_cap).rate {
                let pace = Pace::spend(state.paces.get(&job.hook_id).copied(), rate, now);
                state.paces.insert(job.hook_id, pace);
            }
        }
        if let Some(at) = paced_until {
            let at_ms = now_ms + u64::try_from(at.saturating_duration_since(now).as_millis()).unwrap_or(u64::MAX) + 1;
            due.next_due_ms = Some(due.next_due_ms.map_or(at_ms, |due_ms| due_ms.min(at_ms)));
        }
        Ok(due)
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

impl Drop for Claimed {
    fn drop(&mut self) {
        self.in_flight.lock().jobs.remove(&self.job_id);
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
    use std::collections::BTreeMap;

    use super::*;
    use crate::store::delivery::enqueue;
    use crate::store::{Committer, HookSettings, HttpMethod, NewHook};

    const CAP: NonZeroUsize = NonZeroUsize::new(2).unwrap();

    struct Queue {
        _dir: tempfile::TempDir,
        store: Arc<Store>,
        committer: Committer,
    }

    impl Queue {
        fn new() -> Queue {
            let dir = tempfile::tempdir().unwrap();
            let store = Arc::new(Store::open(dir.path()).unwrap());
            let committer = Committer::start(store.clone());
            Queue { _dir: dir, store, committer }
        }

        fn hook(&self, max_in_flight: Option<u32>) -> u64 {
            self.paced_hook(max_in_flight, None)
        }

        fn paced_hook(&self, max_in_flight: Option<u32>, rate_limit: Option<u32>) -> u64 {
            let settings = HookSettings {
                event: "form_entry.added".into(),
                target: "https://x.io/h".into(),
                service_id: None,
                method: HttpMethod::Post,
                headers: BTreeMap::new(),
                is_active: true,
                max_retries: None,
                timeout: None,
                auto_disable_after_failures: None,
                max_in_flight: max_in_flight.and_then(NonZeroU32::new),
                rate_limit: rate_limit.and_then(NonZeroU32::new),
            };
            self.store.create_hook(NewHook { academy: None, settings, secret: "whsec_x".into() }).unwrap().id
        }

        /// Queues `n` jobs of `hook_id`, due at `due_ms`.
        async fn queue(&self, hook_id: u64, n: usize, due_ms: u64) {
            self.committer
                .commit(move |txn| {
                    for _ in 0..n {
                        let mut job = Job {
                            id: 0,
                            due_ms,
                            event_id: "evt".into(),
                            event: "form_entry.added".into(),
                            hook_id,
                            webhook_id: "msg".into(),
                            payload: "{}".into(),
                            attempts: 0,
                        };
                        enqueue(txn, &mut job)?;
                    }
                    Ok(())
                })
                .await
                .unwrap();
        }
    }

    fn hooks_of(jobs: &[Job]) -> Vec<u64> {
        jobs.iter().map(|job| job.hook_id).collect()
    }

    #[tokio::test]
    async fn each_hook_gets_its_room_under_its_cap_and_its_slots_back() {
        let q = Queue::new();
        let (default, own) = (q.hook(None), q.hook(Some(3)));
        q.queue(default, 10, 100).await;
        q.queue(own, 10, 200).await;
        let released = Arc::new(Notify::new());
        let in_flight = InFlight::new(released.clone());

        let due = in_flight.select(&q.store, CAP, 1000, 64).unwrap();
        assert_eq!(hooks_of(&due.jobs), [default, default, own, own, own], "the oldest hook first, each to its cap");
        let claims: Vec<_> = due.jobs.iter().map(|job| in_flight.claim(job)).collect();
        assert_eq!(in_flight.len(), 5);
        assert!(in_flight.select(&q.store, CAP, 1000, 64).unwrap().jobs.is_empty(), "every hook at its cap");

        // The receiver answered one of the default hook's: its slot comes
        // back, its job stays claimed until recorded, and the next job is
        // taken, not the claimed one.
        let mut claims = claims.into_iter();
        let (first_job, first_slot) = claims.next().unwrap();
        drop(first_slot);
        assert!(tokio::time::timeout(Duration::from_secs(1), released.notified()).await.is_ok(), "the dispatcher is woken");
        let due = in_flight.select(&q.store, CAP, 1000, 64).unwrap();
        assert_eq!(hooks_of(&due.jobs), [default]);
        assert!(due.jobs[0].id != first_job.job_id && !claims.as_slice().iter().any(|(c, _)| c.job_id == due.jobs[0].id));
        drop(first_job);
        assert_eq!(in_flight.len(), 4);
    }

    #[tokio::test]
    async fn free_workers_bound_a_pass_and_deleted_hooks_get_the_default_cap() {
        let q = Queue::new();
        let hook = q.hook(Some(10));
        q.queue(hook, 10, 100).await;
        q.queue(99, 10, 50).await; // a hook deleted since
        let in_flight = InFlight::new(Arc::new(Notify::new()));
        let due = in_flight.select(&q.store, CAP, 1000, 3).unwrap();
        assert_eq!(hooks_of(&due.jobs), [99, 99, hook]);
        let due = in_flight.select(&q.store, CAP, 1000, 64).unwrap();
        assert_eq!(due.jobs.len(), 12);
        // Nothing due yet: when to look again.
        let early = in_flight.select(&q.store, CAP, 10, 64).unwrap();
        assert_eq!((early.jobs.len(), early.next_due_ms), (0, Some(50)));
    }

    #[tokio::test]
    async fn a_paced_hook_gets_a_burst_then_its_rate_and_a_time_to_look_again() {
        let q = Queue::new();
        let paced = q.paced_hook(Some(100), Some(4));
        q.queue(paced, 10, 100).await;
        let in_flight = InFlight::new(Arc::new(Notify::new()));
        let now_ms = crate::time::now_ms();
        let due = in_flight.select(&q.store, CAP, now_ms, 64).unwrap();
        assert_eq!(due.jobs.len(), 4, "a burst of one second's worth");
        let _claims: Vec<_> = due.jobs.iter().map(|job| in_flight.claim(job)).collect();
        let again = in_flight.select(&q.store, CAP, now_ms, 64).unwrap();
        assert!(again.jobs.is_empty());
        let wake = again.next_due_ms.expect("when the pace allows one more");
        assert!((now_ms + 200..=now_ms + 260).contains(&wake), "a quarter of a second later: {wake} - {now_ms}");
    }

    #[test]
    fn a_pace_allows_its_rate_per_second() {
        let rate = NonZeroU32::new(4).unwrap();
        let start = Instant::now();
        assert_eq!(Pace::allowed(None, rate, start), 4);
        let mut pace = None;
        for _ in 0..4 {
            pace = Some(Pace::spend(pace, rate, start));
        }
        let spent = pace.unwrap();
        assert_eq!(Pace::allowed(Some(&spent), rate, start), 0);
        assert_eq!(spent.next_at(rate), start + Duration::from_millis(250));
        assert_eq!(Pace::allowed(Some(&spent), rate, start + Duration::from_millis(249)), 0);
        assert_eq!(Pace::allowed(Some(&spent), rate, start + Duration::from_millis(250)), 1);
        assert_eq!(Pace::allowed(Some(&spent), rate, start + Duration::from_millis(600)), 2);
        assert_eq!(Pace::allowed(Some(&spent), rate, start + Duration::from_secs(5)), 4, "never more than a burst");
        // Spending after a quiet while starts from now, not from the past.
        let later = start + Duration::from_secs(5);
        assert_eq!(Pace::spend(Some(spent), rate, later).full_at, later + Duration::from_millis(250));
        // Rates that do not divide a second.
        let three = NonZeroU32::new(3).unwrap();
        let mut pace = None;
        for _ in 0..3 {
            assert!(Pace::allowed(pace.as_ref(), three, start) > 0);
            pace = Some(Pace::spend(pace, three, start));
        }
        assert_eq!(Pace::allowed(pace.as_ref(), three, start), 0);
    }
}
