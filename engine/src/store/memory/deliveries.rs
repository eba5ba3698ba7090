//! The delivery queue and its log: due jobs served fairly (`redb/queue.rs`),
//! attempts and what follows them (`redb/delivery.rs`), hook errors, the status
//! reads (`redb/status.rs`) and pruning.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::super::contract::{ClaimRequest, Deliveries};
use super::super::{AttemptCounts, DueJobs, Pruned, QueueSummary, RecentOutcomes, StoreError};
use super::{Memory, State, next};
use crate::model::{Attempt, AttemptOutcome, Deactivation, Hook, HookEffect, HookErrorRecord, Job, NextStep, Scope};
use crate::time::Time;

/// The key hook errors are kept and pruned by: their second, then id.
fn error_key(at: Time, id: u64) -> (u64, u64) {
    (u64::try_from(at.as_second()).unwrap_or(0), id)
}

impl State {
    /// Queues `job` under a new delivery id; the id.
    pub(super) fn enqueue(&mut self, mut job: Job) -> u64 {
        job.id = next(&mut self.counters.job);
        self.jobs.insert((job.due_ms, job.id), job);
        self.counters.job
    }

    pub(super) fn insert_hook_error(&mut self, mut error: HookErrorRecord) {
        error.id = next(&mut self.counters.error);
        self.errors.insert(error_key(error.at, error.id), error);
    }

    /// Each visible hook, by id, with its attempts folded newest first.
    fn per_hook<T>(&self, scope: &Scope, fold: impl Fn(&mut dyn Iterator<Item = &Attempt>) -> T) -> Vec<(Hook, T)> {
        let visible = self.hooks.values().filter(|hook| scope.sees(hook.academy.as_deref()));
        visible
            .map(|hook| {
                let mut attempts = self.attempts.range((hook.id, 0)..=(hook.id, u64::MAX)).rev().map(|(_, a)| a);
                (hook.clone(), fold(&mut attempts))
            })
            .collect()
    }
}

#[async_trait]
impl Deliveries for Memory {
    async fn due_jobs(&self, request: ClaimRequest<'_>) -> Result<DueJobs, StoreError> {
        let state = self.lock();
        // Each hook's queue, in due order; its head is its first job.
        let mut by_hook: BTreeMap<u64, Vec<&Job>> = BTreeMap::new();
        for job in state.jobs.values() {
            by_hook.entry(job.hook_id).or_default().push(job);
        }
        let mut heads: Vec<(u64, u64)> = by_hook.iter().map(|(&hook, jobs)| (jobs[0].due_ms, hook)).collect();
        heads.sort_unstable();
        let mut due = DueJobs::default();
        for (head_due_ms, hook_id) in heads {
            if due.jobs.len() == request.limit {
                break;
            }
            if head_due_ms > request.now_ms {
                due.next_due_ms = Some(head_due_ms);
                break;
            }
            let wanted = (request.room)(hook_id).min(request.limit - due.jobs.len());
            let ready = by_hook[&hook_id].iter().take_while(|job| job.due_ms <= request.now_ms);
            let taken = ready.filter(|job| !(request.claimed)(job.id)).take(wanted);
            due.jobs.extend(taken.map(|&job| job.clone()));
        }
        Ok(due)
    }

    async fn record_attempt(
        &self,
        job: Job,
        mut attempt: Attempt,
        mut next_step: NextStep,
        rule: Deactivation,
    ) -> Result<HookEffect, StoreError> {
        let mut state = self.lock();
        state.jobs.remove(&(job.due_ms, job.id));
        let Some(academy) = state.hooks.get(&job.hook_id).map(|hook| hook.academy.clone()) else {
            return Ok(HookEffect::None); // deleted meanwhile: nothing to record
        };
        let effect = match attempt.outcome {
            AttemptOutcome::Cancelled => HookEffect::None, // counts for nothing
            _ => state.stats.entry(job.hook_id).or_default().count(&attempt, rule),
        };
        if effect == HookEffect::Deactivate {
            next_step = NextStep::Finish;
            attempt.end_by_deactivation(rule);
            if let Some(hook) = state.hooks.get_mut(&job.hook_id) {
                hook.settings.is_active = false;
            }
            state.reindex();
        }
        if let NextStep::Retry { due_ms } = next_step {
            let retry = Job { due_ms, attempts: job.attempts + 1, ..job.clone() };
            state.jobs.insert((retry.due_ms, retry.id), retry);
        }
        attempt.id = next(&mut state.counters.attempt);
        match attempt.outcome {
            AttemptOutcome::Succeeded => {
                state.samples.insert(job.hook_id, attempt.sent().clone());
            }
            AttemptOutcome::Failed => state.insert_hook_error(attempt.hook_error(&job, academy)),
            AttemptOutcome::Cancelled => {}
        }
        state.attempts.insert((job.hook_id, attempt.id), attempt);
        Ok(effect)
    }

    async fn drop_job(&self, job: Job) -> Result<(), StoreError> {
        self.lock().jobs.remove(&(job.due_ms, job.id));
        Ok(())
    }

    async fn enqueue(&self, jobs: Vec<Job>) -> Result<Vec<u64>, StoreError> {
        let mut state = self.lock();
        Ok(jobs.into_iter().map(|job| state.enqueue(job)).collect())
    }

    async fn attempts(&self, hook_id: u64) -> Result<Vec<Attempt>, StoreError> {
        let state = self.lock();
        Ok(state.attempts.range((hook_id, 0)..=(hook_id, u64::MAX)).rev().map(|(_, a)| a.clone()).collect())
    }

    async fn hook_errors(&self, scope: &Scope) -> Result<Vec<HookErrorRecord>, StoreError> {
        let state = self.lock();
        let visible = state.errors.values().rev().filter(|e| scope.sees(e.academy.as_deref()));
        Ok(visible.cloned().collect())
    }

    async fn queue_summary(&self) -> Result<QueueSummary, StoreError> {
        let state = self.lock();
        let first_due_ms = state.jobs.keys().next().map(|&(due_ms, _)| due_ms);
        Ok(QueueSummary { depth: state.jobs.len() as u64, first_due_ms })
    }

    async fn recent_outcomes(&self, scope: &Scope, window: usize) -> Result<Vec<(Hook, RecentOutcomes)>, StoreError> {
        Ok(self.lock().per_hook(scope, |attempts| {
            // As redb's: a window of 0 takes every attempt.
            let window = if window == 0 { usize::MAX } else { window };
            let called = attempts.filter(|a| a.outcome != AttemptOutcome::Cancelled).take(window);
            called.fold(RecentOutcomes::default(), |mut recent, attempt| {
                recent.attempts += 1;
                recent.successes += u32::from(attempt.outcome == AttemptOutcome::Succeeded);
                recent
            })
        }))
    }

    async fn attempt_counts(&self, scope: &Scope, since: Time) -> Result<Vec<(Hook, AttemptCounts)>, StoreError> {
        Ok(self.lock().per_hook(scope, |attempts| {
            let mut counts = AttemptCounts::default();
            attempts.filter(|attempt| attempt.sent_at >= since).for_each(|attempt| counts.count(attempt));
            counts
        }))
    }

    async fn prune(&self, cutoff: Time) -> Result<Pruned, StoreError> {
        let mut state = self.lock();
        let (events, attempts, errors) = (state.events.len(), state.attempts.len(), state.errors.len());
        state.events.retain(|_, event| event.record.received_at >= cutoff);
        state.attempts.retain(|_, attempt| attempt.sent_at >= cutoff);
        let kept = state.errors.split_off(&error_key(cutoff, 0));
        state.errors = kept;
        Ok(Pruned {
            events: events - state.events.len(),
            attempts: attempts - state.attempts.len(),
            hook_errors: errors - state.errors.len(),
        })
    }
}
