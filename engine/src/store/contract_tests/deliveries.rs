//! The queue, attempts and what follows them, replays and pruning.

use super::events::{item, judge};
use super::{academy, attempt, hook, queued};
use crate::model::{AttemptOutcome, Deactivation, HookEffect, HookSelector, Job, NextStep, Payload, Scope};
use crate::store::contract::{ClaimRequest, Store};
use crate::store::tests::new_hook;
use crate::store::{DueJobs, Pruned};
use crate::time::Time;

async fn due(store: &dyn Store, now_ms: u64, limit: usize, room: impl Fn(u64) -> usize + Send + Sync) -> DueJobs {
    due_skipping(store, now_ms, limit, room, &[]).await
}

async fn due_skipping(
    store: &dyn Store,
    now_ms: u64,
    limit: usize,
    room: impl Fn(u64) -> usize + Send + Sync,
    claimed: &[u64],
) -> DueJobs {
    let claimed = |id: u64| claimed.contains(&id);
    store.due_jobs(ClaimRequest { now_ms, limit, room: &room, cap: &|_| usize::MAX, claimed: &claimed }).await.unwrap()
}

fn ids(jobs: &[Job]) -> Vec<u64> {
    jobs.iter().map(|job| job.id).collect()
}

/// Each pass is given the jobs the passes before it took as being
/// attempted, as the dispatcher's would be: a store shared by engines
/// (PostgreSQL) claims the jobs it gives, and does not give them again.
pub(crate) async fn due_jobs_serve_the_longest_waiting_hook_first_within_its_room(store: &dyn Store) {
    let summary = store.queue_summary().await.unwrap();
    assert_eq!((summary.depth, summary.first_due_ms), (0, None), "an empty queue");
    // Hook 9 waits since 100, hook 1 since 150 (a backlog), hook 5 is due
    // later than now.
    let mut backlog = Vec::new();
    for i in 0..10 {
        backlog.push(queued(store, 1, 150 + i).await);
    }
    let nine = queued(store, 9, 100).await;
    queued(store, 5, 5000).await;
    let summary = store.queue_summary().await.unwrap();
    assert_eq!((summary.depth, summary.first_due_ms), (12, Some(100)), "every hook's jobs, the earliest of any hook");

    let early = due(store, 50, 64, |_| usize::MAX).await;
    assert_eq!((early.jobs.len(), early.next_due_ms), (0, Some(100)));
    let capped = due(store, 1000, 64, |hook| if hook == 9 { 0 } else { 3 }).await;
    assert_eq!(ids(&capped.jobs), ids(&backlog[..3]), "room: 0 for hook 9, 3 for hook 1");
    let mut taken = ids(&capped.jobs);
    let skipping = due_skipping(store, 1000, 64, |hook| usize::from(hook == 1) * 2, &taken).await;
    assert_eq!(ids(&skipping.jobs), ids(&backlog[3..5]), "jobs being attempted are skipped");
    taken.extend(ids(&skipping.jobs));
    let limited = due_skipping(store, 1000, 4, |_| usize::MAX, &taken).await;
    assert_eq!(limited.jobs[0].id, nine.id, "the hook whose oldest job waited longest first");
    assert_eq!(ids(&limited.jobs[1..]), ids(&backlog[5..8]), "then the next hook's jobs, oldest first, to the limit");
    taken.extend(ids(&limited.jobs));
    let rest = due_skipping(store, 1000, 64, |_| usize::MAX, &taken).await;
    assert_eq!(ids(&rest.jobs), ids(&backlog[8..]));
    assert_eq!(rest.next_due_ms, Some(5000));
}

pub(crate) async fn a_retry_moves_the_job_and_records_the_failure(store: &dyn Store) {
    let hook = hook(store, Some("a")).await;
    let job = queued(store, hook.id, 100).await;
    let failed = attempt(&job, AttemptOutcome::Failed, Some(500), Time::now());
    let effect = store.record_attempt(job.clone(), failed, NextStep::Retry { due_ms: 7000 }, Deactivation::NEVER);
    assert_eq!(effect.await.unwrap(), HookEffect::None);

    let summary = store.queue_summary().await.unwrap();
    assert_eq!((summary.depth, summary.first_due_ms), (1, Some(7000)), "moved, not copied");
    let retry = due(store, 7000, 64, |_| usize::MAX).await.jobs;
    assert_eq!((retry[0].id, retry[0].attempts), (job.id, 1), "the same delivery, one attempt more");
    let attempts = store.attempts(hook.id).await.unwrap();
    assert_eq!((attempts.len(), attempts[0].response_status), (1, Some(500)));
    assert_ne!(attempts[0].id, 0, "an id from a counter");
    let errors = store.hook_errors(&academy("a")).await.unwrap();
    assert_eq!((errors[0].hook_id, errors[0].message.as_str()), (Some(hook.id), "the receiver answered 500"));
    assert!(store.hook_errors(&academy("b")).await.unwrap().is_empty(), "scoped");
    assert_eq!(store.hook_stats(hook.id).await.unwrap().consecutive_failures, 1);
    assert_eq!(store.hook_sample(hook.id).await.unwrap(), None, "a failure keeps no sample");
}

pub(crate) async fn gone_deactivates_the_hook_and_ends_the_delivery(store: &dyn Store) {
    let hook = hook(store, Some("a")).await;
    let job = queued(store, hook.id, 100).await;
    let gone = attempt(&job, AttemptOutcome::Failed, Some(410), Time::now());
    let rule = Deactivation { gone: true, after_failures: None };
    let effect = store.record_attempt(job, gone, NextStep::Retry { due_ms: 7000 }, rule).await.unwrap();
    assert_eq!(effect, HookEffect::Deactivate);
    assert!(!store.hook_index().get(hook.id).unwrap().settings.is_active, "the index reflects it");
    assert_eq!(store.queue_summary().await.unwrap().depth, 0, "no retry after a deactivation");
    let last = &store.attempts(hook.id).await.unwrap()[0];
    assert_eq!(last.next_attempt_at, None);
    assert_eq!(last.error.as_deref(), Some("the receiver answered 410 Gone: the hook is now inactive"));
}

pub(crate) async fn consecutive_failures_deactivate_and_a_success_resets_them(store: &dyn Store) {
    let mut new = new_hook(Some("a"));
    new.settings.auto_disable_after_failures = Some(3);
    let hook = store.create_hook(new, Default::default()).await.unwrap();
    let rule = Deactivation { gone: false, after_failures: hook.settings.auto_disable_after_failures };
    let outcomes = [AttemptOutcome::Failed, AttemptOutcome::Failed, AttemptOutcome::Succeeded];
    let outcomes = outcomes.into_iter().chain([AttemptOutcome::Cancelled]).chain([AttemptOutcome::Failed; 3]);
    let mut effects = Vec::new();
    let mut sample = None;
    for (second, outcome) in (1..).zip(outcomes) {
        let job = queued(store, hook.id, 100).await;
        let status =
            (outcome != AttemptOutcome::Cancelled).then_some(if outcome == AttemptOutcome::Failed { 500 } else { 200 });
        let attempt = attempt(&job, outcome, status, Time::from_second(second));
        if outcome == AttemptOutcome::Succeeded {
            sample = Some(attempt.sent().body().to_owned());
        }
        effects.push(store.record_attempt(job, attempt, NextStep::Finish, rule).await.unwrap());
    }
    let none = HookEffect::None;
    assert_eq!(
        effects,
        [none, none, none, none, none, none, HookEffect::Deactivate],
        "the third failure after the success"
    );
    assert!(!store.hook(&Scope::All, hook.id).unwrap().settings.is_active);
    let stats = store.hook_stats(hook.id).await.unwrap();
    assert_eq!(
        (stats.total_calls, stats.successes, stats.consecutive_failures),
        (6, 1, 3),
        "a cancel counts for nothing"
    );
    assert_eq!(stats.last_call_at, Some(Time::from_second(7)));
    assert_eq!(store.hook_sample(hook.id).await.unwrap(), sample, "the success's payload");
    assert_eq!(store.attempts(hook.id).await.unwrap().len(), 7);
    let recent = move |window| async move { store.recent_outcomes(&Scope::All, window).await.unwrap()[0].1 };
    assert_eq!((recent(3).await.attempts, recent(3).await.successes), (3, 0), "the last three, newest first");
    assert_eq!((recent(5).await.attempts, recent(5).await.successes), (5, 1), "a cancel is left out");
    let counts = store.attempt_counts(&Scope::All, Time::from_second(3)).await.unwrap();
    let counts = &counts[0].1;
    assert_eq!((counts.attempts, counts.succeeded, counts.failed, counts.cancelled), (5, 1, 3, 1));
    assert!(store.attempt_counts(&academy("b"), Time::from_second(0)).await.unwrap().is_empty(), "scoped");
    assert_eq!(store.hook_errors(&Scope::All).await.unwrap().len(), 5, "one per failure");
}

pub(crate) async fn a_job_of_a_deleted_hook_is_only_dropped(store: &dyn Store) {
    let hook = hook(store, Some("a")).await;
    let job = queued(store, hook.id, 100).await;
    store.delete_hooks(&Scope::All, &HookSelector::default()).await.unwrap();
    let failed = attempt(&job, AttemptOutcome::Failed, Some(500), Time::now());
    let rule = Deactivation { gone: true, after_failures: Some(1) };
    let effect = store.record_attempt(job, failed, NextStep::Retry { due_ms: 7000 }, rule).await.unwrap();
    assert_eq!(effect, HookEffect::None);
    assert_eq!(store.queue_summary().await.unwrap().depth, 0, "dropped, not retried");
    assert!(store.attempts(hook.id).await.unwrap().is_empty());
    assert!(store.hook_errors(&Scope::All).await.unwrap().is_empty());
    assert_eq!(store.hook_stats(hook.id).await.unwrap(), Default::default());

    let other = queued(store, 42, 100).await;
    store.drop_job(other).await.unwrap();
    assert_eq!(store.queue_summary().await.unwrap().depth, 0, "drop_job takes it off the queue");
}

pub(crate) async fn replays_are_queued_under_new_ids(store: &dyn Store) {
    let first = queued(store, 1, 100).await;
    let replays = store.enqueue(vec![first.clone(), first.clone()]).await.unwrap();
    assert_eq!(replays.len(), 2);
    assert!(replays.iter().all(|&id| id > first.id) && replays[0] != replays[1], "new ids: {replays:?}");
    let queue = due(store, 1000, 64, |_| usize::MAX).await.jobs;
    let mut queued_ids = ids(&queue);
    queued_ids.sort_unstable();
    assert_eq!(queued_ids, [first.id, replays[0], replays[1]]);
}

pub(crate) async fn an_attempt_keeps_what_its_transformer_sent_beside_the_payload(store: &dyn Store) {
    let hook = hook(store, Some("a")).await;
    let job = queued(store, hook.id, 100).await;
    let made = r#"{"text":"what the transformer made"}"#;
    let mut sent = attempt(&job, AttemptOutcome::Succeeded, Some(200), Time::now());
    sent.transformed = Some(Payload::new(made));
    store.record_attempt(job.clone(), sent, NextStep::Finish, Deactivation::NEVER).await.unwrap();
    let logged = store.attempts(hook.id).await.unwrap().remove(0);
    assert_eq!((&logged.payload, logged.sent().body()), (&job.payload, made), "both bodies, each as it was");
    assert_eq!(store.hook_sample(hook.id).await.unwrap().as_deref(), Some(made), "the sample is what was sent");

    // A replay queues the logged payload again (see `app/replay.rs`).
    let replay = store.enqueue(vec![Job { id: 0, payload: logged.payload, ..job.clone() }]).await.unwrap()[0];
    // The attempt pruned, what else refers to its bodies still reads them.
    let later = Time::from_second(Time::now().as_second() + 60);
    assert_eq!(store.prune(later).await.unwrap().attempts, 1);
    assert_eq!(store.hook_sample(hook.id).await.unwrap().as_deref(), Some(made));
    let queue = due(store, u64::MAX, 64, |_| usize::MAX).await.jobs;
    assert_eq!((queue[0].id, &queue[0].payload), (replay, &job.payload));
}

pub(crate) async fn prune_deletes_old_records_and_keeps_jobs(store: &dyn Store) {
    let hook = hook(store, Some("a")).await;
    let (old, new) = (Time::from_second(1_000), Time::now());
    for sent_at in [old, new] {
        let job = queued(store, hook.id, 100).await;
        let failed = attempt(&job, AttemptOutcome::Failed, None, sent_at);
        store.record_attempt(job, failed, NextStep::Finish, Deactivation::NEVER).await.unwrap();
    }
    for (index, received_at) in [old, new].into_iter().enumerate() {
        let mut item = item(index, &format!("e{index}"), 1, Vec::new());
        item.events[0].0.record.received_at = received_at;
        item.events[0].1.clear();
        store.record_ingest(vec![item], judge(), 10).await.unwrap().unwrap();
    }
    let waiting = queued(store, hook.id, 100).await;
    let pruned = store.prune(Time::from_second(2_000)).await.unwrap();
    assert_eq!(pruned, Pruned { events: 1, attempts: 1, hook_errors: 1 });
    assert_eq!(store.event("a", "e0").await.unwrap(), None);
    assert!(store.event("a", "e1").await.unwrap().is_some());
    let attempts = store.attempts(hook.id).await.unwrap();
    assert_eq!(attempts.iter().map(|a| a.sent_at).collect::<Vec<_>>(), [new]);
    assert_eq!(store.hook_errors(&Scope::All).await.unwrap()[0].at, new);
    assert_eq!(ids(&due(store, 1000, 64, |_| usize::MAX).await.jobs), [waiting.id], "jobs kept whatever their age");
    assert_eq!(store.prune(Time::from_second(2_000)).await.unwrap(), Pruned::default());
}
