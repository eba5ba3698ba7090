//! Reads behind the operator's view of the engine: the queue's depth and
//! head, each hook's recent outcomes, and attempt counts over a period.
//! Each is one read transaction, so it never holds up ingestion or delivery.

use redb::{ReadableTable, ReadableTableMetadata};

use super::codec::decode;
use super::payloads::AttemptRow;
use super::tables::{ATTEMPTS, HOOKS, JOBS};
use super::{RedbStore, StoreError, sealing};
use crate::model::AttemptOutcome;
use crate::model::{Hook, Scope};
use crate::store::{AttemptCounts, QueueSummary, RecentOutcomes};
use crate::time::Time;

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
                let attempt: AttemptRow = decode("attempt", entry?.1.value())?;
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
                let attempt: AttemptRow = decode("attempt", entry?.1.value())?;
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
