//! Delivery: workers claim due jobs from the queue in the store, each hook
//! within its cap of attempts in flight (`claims.rs`), and run each through
//! typed stages, [`prepare`] (load the hook, build and sign the request) →
//! [`send`] (pooled HTTP client) → [`record`] (attempt, stats, retry or
//! finish, in one group commit).
//!
//! A job stays in the queue until its attempt is recorded, so a crash at
//! any point redelivers it after the restart: at least once.

mod claims;
pub mod headers;
mod outage;
pub mod policy;
pub mod retry;
mod send;
mod settings;
pub mod signing;
mod stages;
mod test_send;

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use retry::RetryPolicy;
pub use send::Sender;
pub use settings::DeliverySettings;
pub use test_send::TestSend;

use crate::app::plugins::PluginService;
use crate::runtime::Runtime;
use crate::store::{Store, StoreError};
use crate::targets::TargetPolicy;

/// How deliveries are made.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Requests in flight at once to one hook, for hooks without their own
    /// `max_in_flight`.
    pub max_in_flight_per_hook: NonZeroUsize,
    pub retry: RetryPolicy,
    /// For hooks without their own `timeout`.
    pub default_timeout: Duration,
    /// Bytes of the receiver's answer kept in the attempt log.
    pub max_response_body: usize,
    /// Where hooks may deliver.
    pub targets: Arc<TargetPolicy>,
}

impl DeliveryConfig {
    /// Bytes of a receiver's answer kept in the attempt log.
    pub const MAX_RESPONSE_BODY: usize = 4096;
}

impl Default for DeliveryConfig {
    /// The default settings, to any target.
    fn default() -> Self {
        DeliverySettings::default().config(Arc::default())
    }
}

/// The delivery workers.
pub struct Dispatcher {
    store: Arc<dyn Store>,
    /// The HTTP client within the target policy; test sends share it.
    sender: send::Sender,
    config: DeliveryConfig,
    /// Woken when jobs are queued, and when jobs or hooks' slots are
    /// released.
    queued: Arc<Notify>,
    /// Jobs being attempted now and each hook's slots.
    in_flight: Arc<claims::InFlight>,
    /// The jobs held while the store refuses to record their attempts.
    outage: Mutex<outage::Outage>,
    runtime: Arc<Runtime>,
    plugins: Arc<PluginService>,
    /// Cancelled at shutdown: no more jobs are claimed.
    stop: CancellationToken,
    /// Cancelled when the shutdown grace is over: attempts still running
    /// are dropped, their jobs stay queued.
    abandon: CancellationToken,
    /// The run loop and the attempts in flight.
    tasks: TaskTracker,
}

impl Dispatcher {
    pub fn new(
        store: Arc<dyn Store>,
        runtime: Arc<Runtime>,
        plugins: Arc<PluginService>,
        config: DeliveryConfig,
        queued: Arc<Notify>,
    ) -> Arc<Self> {
        Arc::new(Dispatcher {
            store,
            sender: send::Sender::new(&config),
            config,
            in_flight: claims::InFlight::new(queued.clone()),
            queued,
            outage: Mutex::default(),
            runtime,
            plugins,
            stop: CancellationToken::new(),
            abandon: CancellationToken::new(),
            tasks: TaskTracker::new(),
        })
    }

    /// What sends this dispatcher's requests: for test sends, made as
    /// deliveries are.
    pub fn sender(&self) -> Sender {
        self.sender.clone()
    }

    /// Claims due jobs and delivers them, until [`shutdown`](Self::shutdown).
    pub async fn run(self: Arc<Self>) {
        let _running = self.tasks.token();
        let workers = Arc::new(Semaphore::new(self.config.concurrency));
        let claims = Arc::new(Semaphore::new(self.config.concurrency * CLAIMS_PER_WORKER));
        while !self.stop.is_cancelled() {
            if self.paused_by_store().await {
                continue;
            }
            let free = workers.available_permits().min(claims.available_permits());
            if free == 0 {
                // Wait for a worker and a claim to be free before scanning
                // again.
                tokio::select! {
                    () = both(&workers, &claims) => {}
                    () = self.stop.cancelled() => {}
                }
                gather().await;
                continue;
            }
            let now = crate::time::now_ms();
            let due = self.in_flight.select(&*self.store, self.config.max_in_flight_per_hook, now, free).await;
            let due = match due {
                Ok(due) => due,
                Err(error) => {
                    tracing::error!(%error, "cannot read the delivery queue");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if due.jobs.is_empty() {
                tokio::select! {
                    () = self.idle(now, due.next_due_ms) => {}
                    () = self.stop.cancelled() => {}
                }
                continue;
            }
            for job in due.jobs {
                // Only this loop takes permits: the `free` counted are there.
                let (Ok(worker), Ok(claim)) = (workers.clone().try_acquire_owned(), claims.clone().try_acquire_owned())
                else {
                    break;
                };
                if self.stop.is_cancelled() {
                    break;
                }
                let (claimed, slot) = self.in_flight.claim(&job);
                let sending = Sending { _slot: slot, _worker: worker };
                let this = self.clone();
                self.tasks.spawn(async move {
                    let recorded = tokio::select! {
                        result = stages::deliver(&this, job, sending) => Some(result),
                        () = this.abandon.cancelled() => None,
                    };
                    // The claim first, then the job: releasing the job wakes
                    // the loop, which then finds the claim free.
                    drop(claim);
                    this.finish(claimed, recorded);
                });
            }
        }
    }

    /// Stops claiming jobs and waits until `deadline` for the attempts in
    /// flight to be sent and recorded. Attempts still running then are
    /// dropped: their jobs stay queued and are sent again after the next
    /// start. Returns how many were dropped.
    pub async fn shutdown(&self, deadline: tokio::time::Instant) -> usize {
        self.stop.cancel();
        self.tasks.close();
        if tokio::time::timeout_at(deadline, self.tasks.wait()).await.is_ok() {
            return 0;
        }
        let held = self.outage.lock().unwrap_or_else(|e| e.into_inner()).held();
        let dropped = self.in_flight.len().saturating_sub(held);
        self.abandon.cancel();
        self.tasks.wait().await;
        dropped
    }

    /// While the store refuses writes, waits (backing off, see `outage.rs`,
    /// or until the store is re-opened) and answers true: nothing is
    /// claimed. Once it takes them again, lets the held jobs go, to be
    /// claimed again, and answers false.
    async fn paused_by_store(&self) -> bool {
        let health = self.store.health();
        let recovered = health.recovered_notified();
        let writable = health.outage().is_none();
        let gate = self.outage.lock().unwrap_or_else(|e| e.into_inner()).gate(writable);
        match gate {
            outage::Gate::Wait(delay) => {
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = recovered => {}
                    () = self.stop.cancelled() => {}
                }
                true
            }
            outage::Gate::Go(held) => {
                if !held.is_empty() {
                    tracing::info!(
                        deliveries = held.len(),
                        "the store takes writes again: unrecorded attempts are made once more"
                    );
                }
                false
            }
        }
    }

    /// Ends the claim on a job once its attempt is recorded (or dropped at
    /// shutdown). When the store refused to record it, the job stays
    /// claimed until the store takes writes again (see `outage.rs`); after
    /// another failure it stays queued and is attempted again.
    fn finish(&self, claimed: claims::Claimed, recorded: Option<Result<(), StoreError>>) {
        match recorded {
            Some(Err(error)) if error.unavailable().is_some() => {
                tracing::debug!(
                    delivery_id = claimed.job_id(), %error,
                    "attempt not recorded: held until the store takes writes"
                );
                self.outage.lock().unwrap_or_else(|e| e.into_inner()).hold(claimed);
            }
            Some(Err(error)) => {
                tracing::error!(delivery_id = claimed.job_id(), %error, "cannot record a delivery attempt");
            }
            Some(Ok(())) => self.outage.lock().unwrap_or_else(|e| e.into_inner()).recorded(),
            None => {}
        }
    }

    /// Sleeps until `next_due_ms` (at most 1 s), or until jobs are queued
    /// or released. Due jobs that were not claimed are in flight or their
    /// hooks are at their caps: releasing them wakes this.
    async fn idle(&self, now_ms: u64, next_due_ms: Option<u64>) {
        let wait = next_due_ms.map_or(Duration::from_secs(1), |due| Duration::from_millis(due.saturating_sub(now_ms)));
        if tokio::time::timeout(wait.min(Duration::from_secs(1)), self.queued.notified()).await.is_ok() {
            gather().await;
        }
    }
}

/// Jobs claimed at once per request worker: those whose requests are in
/// flight and those whose receivers have answered and whose attempts wait
/// for their group commit. A worker is free again once its receiver has
/// answered, so deliveries are not bound by the commit's latency (64
/// workers waiting ~8 ms each for their record held deliveries to ~7,000/s
/// on the benchmark's machine, `bench/e2e`), and the claims stay bounded
/// when commits slow down.
const CLAIMS_PER_WORKER: usize = 4;

/// What an attempt holds until its receiver has answered (or it ended
/// without a request): one of its hook's slots and one of the request
/// workers.
struct Sending {
    _slot: claims::HookSlot,
    _worker: OwnedSemaphorePermit,
}

/// Waits until `workers` and `claims` each have a permit free.
async fn both(workers: &Semaphore, claims: &Semaphore) {
    let _worker = workers.acquire().await.expect("the semaphore is never closed");
    let _claim = claims.acquire().await.expect("the semaphore is never closed");
}

/// Lets the tasks that are ready run before a pass, once woken: under load
/// the attempts finishing at the same moment are released together and
/// one pass claims their successors, instead of one pass (a read of the
/// queue that steps over every claimed job) per finished attempt.
async fn gather() {
    tokio::task::yield_now().await;
}
