//! The store: what the engine persists, behind one trait per concern
//! (`contract.rs`), so the engine never sees a table or a transaction.
//!
//! - [`redb`]: the default, one embedded file in the data directory (one
//!   node, group commit);
//! - `memory`: plain collections, for unit tests of policy;
//! - [`postgres`]: a PostgreSQL database (issue 12: several engines on one
//!   store; step 1, one engine, is what is here).
//!
//! Shared by every backend: the errors, the health (whether the store takes
//! writes, and why not), the free-space guard of the data directory, the
//! types the calls answer and the rules applied the same way everywhere
//! (`records.rs`, `judging.rs`); by the persistent ones, the sealing of
//! hooks' secrets (`sealing.rs`) and the token cache (`token_cache.rs`).
//! `contract_tests/` runs the contract's tests on each backend. Reads of
//! tenant data take a [`Scope`](crate::model::Scope), so a lookup that
//! forgets whose data it reads does not compile.

mod contract;
#[cfg(test)]
mod contract_tests;
mod error;
mod health;
mod judging;
#[cfg(test)]
pub(crate) mod memory;
pub mod postgres;
mod records;
pub mod redb;
mod sealing;
mod settings;
pub mod space;
mod token_cache;
pub mod transfer;

pub use contract::{Catalog, Change, ClaimRequest, Deliveries, Events, Hooks, Judge, Plugins, Store, Tokens, Transfer};
pub use error::{Source, StoreError, Unavailable};
pub use health::{Health, HealthView};
pub use postgres::Postgres;
pub use records::{AttemptCounts, ComponentTotals, DueJobs, Pruned, QueueSummary, Quotas, RecentOutcomes, Usage};
pub use redb::{REOPEN_HEADROOM, Redb, RedbStore, watch};
pub use settings::{Backend, PostgresSettings, RedbSettings};

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use crate::model::{Attempt, AttemptOutcome, HookSettings, HttpMethod, Job, NewHook, Payload};
    use crate::secrets::{Keyring, SecretKey};
    use crate::time::Time;

    /// A store for a unit test of the engine's policies.
    pub(crate) fn memory() -> Arc<dyn super::Store> {
        Arc::new(super::memory::Memory::new())
    }

    /// A job of `hook_id` due at `due_ms` (its id is given at enqueue), its
    /// payload its own.
    pub(crate) fn job(hook_id: u64, due_ms: u64) -> Job {
        Job {
            id: 0,
            due_ms,
            event_id: "evt".into(),
            event: "form_entry.added".into(),
            hook_id,
            webhook_id: "msg".into(),
            payload: Payload::new(format!(r#"{{"hook":{hook_id},"due":{due_ms}}}"#)),
            attempts: 0,
        }
    }

    /// An attempt of `job` with `outcome`, the receiver answering `status`,
    /// sent at `sent_at`.
    pub(crate) fn attempt(job: &Job, outcome: AttemptOutcome, status: Option<u16>, sent_at: Time) -> Attempt {
        Attempt {
            id: 0,
            delivery_id: job.id,
            hook_id: job.hook_id,
            event_id: job.event_id.clone(),
            event: job.event.clone(),
            webhook_id: job.webhook_id.clone(),
            attempt: job.attempts + 1,
            scheduled_at: sent_at,
            sent_at,
            request_headers: Vec::new(),
            payload: job.payload.clone(),
            transformed: None,
            response_status: status,
            response_body: None,
            duration_ms: 3,
            error: None,
            outcome,
            next_attempt_at: None,
        }
    }

    /// Every job queued in `store`, due or not (64 at most), as a claim
    /// with room for all would take them.
    pub(crate) async fn queued_jobs(store: &dyn super::Store) -> Vec<Job> {
        let request = super::ClaimRequest {
            now_ms: u64::MAX,
            limit: 64,
            room: &|_| usize::MAX,
            cap: &|_| usize::MAX,
            claimed: &|_| false,
        };
        store.due_jobs(request).await.unwrap().jobs
    }

    /// A keyring of a new random key, for stores in tests.
    pub(crate) fn keyring() -> Arc<Keyring> {
        Arc::new(Keyring::new(&SecretKey::generate(), &[]))
    }

    /// A hook of `academy` (`None`: a superadmin's) on event `e`, every
    /// setting at its default.
    pub(crate) fn new_hook(academy: Option<&str>) -> NewHook {
        let settings = HookSettings {
            event: "e".into(),
            target: "https://example.com/h".into(),
            service_id: None,
            method: HttpMethod::Post,
            headers: Default::default(),
            is_active: true,
            max_retries: None,
            timeout: None,
            auto_disable_after_failures: None,
            max_in_flight: None,
        };
        NewHook { academy: academy.map(str::to_owned), settings, secret: "whsec_x".into() }
    }
}
