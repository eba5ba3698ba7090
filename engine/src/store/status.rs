//! Reads behind the operator's view of the engine: the queue's depth and
//! head, each hook's recent outcomes, and attempt counts over a period.
//! Each is one read transaction, so it never holds up ingestion or delivery.

use std::collections::BTreeMap;
use std::time::Duration;

use redb::{ReadableTable, ReadableTableMetadata};

use super::codec::decode;
use super::tables::{ATTEMPTS, HOOKS, JOBS};
use super::{RedbStore, StoreError, sealing};
use crate::model::{Attempt, AttemptOutcome};
use crate::model::{Hook, Scope};
use crate::time::Time;

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
    pub(super) fn count(&mut self, attempt: &Attempt) {
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

impl RedbStore {
    /// The queue's depth and head. redb keeps table lengths, so this costs
    /// the same whatever the backlog.
    pub fn queue_summary(&self) -> Result<QueueSummary, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(JOBS)?;
        Ok(QueueSummary { depth: table.len()?, first_due_ms: table.first()?.map(|(key, _)| key.value().0) })
    }

    /// Each hook visible in `scope` with the outcomes of its last `window`
    /// attempts that called the receiver.
    pub fn recent_outcomes(&self, scope: &Scope, window: usize) -> Result<Vec<(Hook, RecentOutcomes)>, StoreError> {
        self.per_hook(scope, |attempts| {
            let mut recent = RecentOutcomes::default();
            for entry in attempts {
                let attempt: Attempt = decode("attempt", entry?.1.value())?;
                match attempt.outcome {
                    AttemptOutcome::Cancelled => continue,
                    AttemptOutcome::Succeeded => recent.successes += 1,
                    AttemptOutcome::Failed => {}
                }
                recent.attempts += 1;
                if recent.attempts as usize == window {
                    break;
                }
            }
            Ok(recent)
        })
    }

    /// Each hook visible in `scope` with its attempts sent since `since`.
    pub fn attempt_counts(&self, scope: &Scope, since: Time) -> Result<Vec<(Hook, AttemptCounts)>, StoreError> {
        self.per_hook(scope, |attempts| {
            let mut counts = AttemptCounts::default();
            for entry in attempts {
                let attempt: Attempt = decode("attempt", entry?.1.value())?;
                if attempt.sent_at >= since {
                    counts.count(&attempt);
                }
            }
            Ok(counts)
        })
    }

    /// Folds each visible hook's attempts, newest first, in one read
    /// transaction (hooks and attempts seen at the same instant).
    fn per_hook<T>(
        &self,
        scope: &Scope,
        fold: impl Fn(AttemptsNewestFirst<'_>) -> Result<T, StoreError>,
    ) -> Result<Vec<(Hook, T)>, StoreError> {
        let txn = self.db.begin_read()?;
        let hooks = txn.open_table(HOOKS)?;
        let attempts = txn.open_table(ATTEMPTS)?;
        let mut results = Vec::new();
        for entry in hooks.iter()? {
            let hook = sealing::open(entry?.1.value(), &self.keyring)?;
            if !scope.sees(hook.academy.as_deref()) {
                continue;
            }
            let folded = fold(attempts.range((hook.id, 0)..=(hook.id, u64::MAX))?.rev())?;
            results.push((hook, folded));
        }
        Ok(results)
    }
}

type AttemptsNewestFirst<'a> = std::iter::Rev<redb::Range<'a, (u64, u64), &'static [u8]>>;
