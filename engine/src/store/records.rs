//! The plain types the store's calls answer, and the rules every backend
//! applies the same way (the quota check, attempt counting), so backends
//! differ in how they keep data, not in what it means.

use std::collections::BTreeMap;
use std::time::Duration;

use super::StoreError;
use crate::model::{Attempt, AttemptOutcome, Job};
pub use crate::quota::Quotas;
use crate::quota::{Limit, Refused};

/// The delivery queue at a glance. Engine-wide counts: no tenant data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSummary {
    /// Deliveries waiting for an attempt (first ones and retries).
    pub depth: u64,
    /// When the earliest of them is due, ms since the epoch.
    pub first_due_ms: Option<u64>,
}

impl QueueSummary {
    /// How long the earliest waiting delivery has been due at `now_ms`
    /// (zero when none is due yet): the queue's lag.
    pub fn oldest_wait(&self, now_ms: u64) -> Duration {
        Duration::from_millis(self.first_due_ms.map_or(0, |due| now_ms.saturating_sub(due)))
    }
}

/// What a hook's last attempts did. Cancelled attempts (its transformer
/// said no) are left out: the receiver was not called.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecentOutcomes {
    pub attempts: u32,
    pub successes: u32,
}

/// Attempts over a period, by outcome and by status class.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttemptCounts {
    pub attempts: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub cancelled: u64,
    /// `2xx` … `5xx`, and `none` for timeouts and connection errors;
    /// cancelled attempts are in no class.
    pub by_status_class: BTreeMap<String, u64>,
    /// Sum of the durations, for averages.
    pub total_duration_ms: u64,
}

impl AttemptCounts {
    /// Counts `attempt` in.
    pub(crate) fn count<P>(&mut self, attempt: &Attempt<P>) {
        self.attempts += 1;
        self.total_duration_ms += attempt.duration_ms;
        match attempt.outcome {
            AttemptOutcome::Succeeded => self.succeeded += 1,
            AttemptOutcome::Failed => self.failed += 1,
            AttemptOutcome::Cancelled => {
                self.cancelled += 1;
                return;
            }
        }
        let class = attempt.response_status.map_or_else(|| "none".to_owned(), |status| format!("{}xx", status / 100));
        *self.by_status_class.entry(class).or_default() += 1;
    }

    /// Adds another hook's counts to these.
    pub fn add(&mut self, other: &AttemptCounts) {
        self.attempts += other.attempts;
        self.succeeded += other.succeeded;
        self.failed += other.failed;
        self.cancelled += other.cancelled;
        self.total_duration_ms += other.total_duration_ms;
        for (class, n) in &other.by_status_class {
            *self.by_status_class.entry(class.clone()).or_default() += n;
        }
    }
}

/// What one academy holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub hooks: u64,
    /// Each component counted once, however many of its hooks use it.
    pub transformer_bytes: u64,
}

/// Refuses `academy`'s usage going from `start` to `end` when it grows past
/// one of `quotas`; a change that does not grow it always passes. Pure:
/// every backend checks its changes with it.
pub(crate) fn check(quotas: &Quotas, academy: &str, start: Usage, end: Usage) -> Result<(), StoreError> {
    if let Some(max) = quotas.max_hooks
        && end.hooks > start.hooks
        && end.hooks > max
    {
        let detail = format!(
            "Quota {} exceeded: academy {academy} has {} hooks, the most allowed is {max}; delete one first.",
            Limit::HooksPerAcademy.key(),
            start.hooks
        );
        return Err(Refused { limit: Limit::HooksPerAcademy, detail, retry_after: None }.into());
    }
    if let Some(max) = quotas.max_transformer_bytes
        && end.transformer_bytes > start.transformer_bytes
        && end.transformer_bytes > max
    {
        let detail = format!(
            "Quota {} exceeded: the transformers of academy {academy}'s hooks would take {} bytes, the most allowed is {max} (they take {} now); detach or delete some first.",
            Limit::TransformerBytesPerAcademy.key(),
            end.transformer_bytes,
            start.transformer_bytes
        );
        return Err(Refused { limit: Limit::TransformerBytesPerAcademy, detail, retry_after: None }.into());
    }
    Ok(())
}

/// How many components are stored, and their bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ComponentTotals {
    pub count: u64,
    pub bytes: u64,
}

/// What one pruning pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub events: usize,
    pub attempts: usize,
    pub hook_errors: usize,
}

/// What one pass of the dispatcher may claim.
#[derive(Debug, Default)]
pub struct DueJobs {
    /// In the order the hooks were served.
    pub jobs: Vec<Job>,
    /// When the earliest hook with nothing due yet has a job due (ms since
    /// the epoch), if the pass looked that far: the dispatcher sleeps until
    /// then at most.
    pub next_due_ms: Option<u64>,
}
