//! Replays: a delivery queued again, as its event first reached the hook;
//! one, or every failed delivery of a hook in a time range.

use std::collections::HashSet;

use crate::model::{Attempt, AttemptOutcome, Job, Scope};
use crate::store::{Store, StoreError};
use crate::time::Time;

/// Most deliveries one [`replay_failed`] queues: one enqueue, one commit,
/// bounded however long a hook failed. Past it the answer says where to
/// continue ([`Replayed::next_since`]).
pub const MAX_REPLAYS: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("Hook not found")]
    HookNotFound,
    #[error("Delivery not found")]
    DeliveryNotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Queues delivery `delivery_id` of hook `hook_id` (visible in `scope`)
/// again, due now; the new delivery's id. It carries the event's payload
/// as the delivery's job held it — the hook's transformer runs on it
/// again, on the payload and not on what it made of it the first time —
/// under the same `webhook-id`, so receivers that de-duplicate see a
/// replay, not a new event.
pub async fn replay(store: &dyn Store, scope: &Scope, hook_id: u64, delivery_id: u64) -> Result<u64, ReplayError> {
    let hook = store.hook(scope, hook_id).ok_or(ReplayError::HookNotFound)?;
    store.room()?;
    let attempts = store.attempts(hook.id).await?;
    let last = attempts.into_iter().find(|a| a.delivery_id == delivery_id).ok_or(ReplayError::DeliveryNotFound)?;
    Ok(store.enqueue(vec![again(last, crate::time::now_ms())]).await?[0])
}

/// The job that delivers `attempt`'s event to its hook again, due at
/// `due_ms`: its payload as the job held it, its `webhook-id`.
fn again(attempt: Attempt, due_ms: u64) -> Job {
    Job {
        id: 0,
        due_ms,
        event_id: attempt.event_id,
        event: attempt.event,
        hook_id: attempt.hook_id,
        webhook_id: attempt.webhook_id,
        payload: attempt.payload,
        attempts: 0,
    }
}

/// When the failures to replay were sent: from `since` (included) to
/// `until` (excluded); `None`: no bound.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Range {
    pub since: Option<Time>,
    pub until: Option<Time>,
}

impl Range {
    fn holds(&self, at: Time) -> bool {
        self.since.is_none_or(|since| since <= at) && self.until.is_none_or(|until| at < until)
    }
}

/// What [`replay_failed`] queued.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Replayed {
    /// The new deliveries' ids, the oldest failure first.
    pub delivery_ids: Vec<u64>,
    /// Set when more failures were in range than [`MAX_REPLAYS`]: the
    /// `since` that continues after those replayed (they end before it).
    pub next_since: Option<Time>,
}

/// Queues again, due now, every delivery of hook `hook_id` (visible in
/// `scope`) whose latest attempt failed for good — not one waiting for its
/// retry, which the engine still owns — and was sent in `range`, each as
/// [`replay`] does, in one enqueue; at most [`MAX_REPLAYS`], the oldest
/// failures first.
///
/// One replay per message: a delivery and its earlier replays share their
/// `webhook-id`, and only the latest attempt among them counts, so a
/// message whose replay succeeded is not sent again, and one whose replays
/// failed too is queued once. A replay queued but not attempted yet has no
/// attempt: calling again before it ran queues its message again (the
/// receiver sees the same `webhook-id` twice).
pub async fn replay_failed(
    store: &dyn Store,
    scope: &Scope,
    hook_id: u64,
    range: Range,
) -> Result<Replayed, ReplayError> {
    let hook = store.hook(scope, hook_id).ok_or(ReplayError::HookNotFound)?;
    store.room()?;
    let (failed, next_since) = failed_for_good(store.attempts(hook.id).await?, range, MAX_REPLAYS);
    if failed.is_empty() {
        return Ok(Replayed { delivery_ids: Vec::new(), next_since });
    }
    let now = crate::time::now_ms();
    let delivery_ids = store.enqueue(failed.into_iter().map(|attempt| again(attempt, now)).collect()).await?;
    tracing::info!(hook_id, replayed = delivery_ids.len(), more = next_since.is_some(), "failed deliveries replayed");
    Ok(Replayed { delivery_ids, next_since })
}

/// Of `attempts` (a hook's, newest first), the latest of each message
/// (`webhook-id`) when it failed with no retry to come and was sent in
/// `range`, oldest first: at most `max`, and, when more remain, the `since`
/// of the rest. The cut never splits a second (attempt times are whole
/// seconds), so a next call from there replays none twice — unless one
/// second alone holds more than `max`, cut at `max` then.
fn failed_for_good(attempts: Vec<Attempt>, range: Range, max: usize) -> (Vec<Attempt>, Option<Time>) {
    let mut seen = HashSet::new();
    let mut failed: Vec<Attempt> = attempts
        .into_iter()
        .filter(|attempt| seen.insert(attempt.webhook_id.clone()))
        .filter(|attempt| attempt.outcome == AttemptOutcome::Failed && attempt.next_attempt_at.is_none())
        .filter(|attempt| range.holds(attempt.sent_at))
        .collect();
    failed.reverse();
    failed.sort_by_key(|attempt| attempt.sent_at); // stable: recording order within a second
    if failed.len() <= max {
        return (failed, None);
    }
    let next = failed[max].sent_at;
    let whole_seconds = failed[..max].iter().rposition(|attempt| attempt.sent_at < next).map_or(max, |last| last + 1);
    failed.truncate(whole_seconds);
    (failed, Some(next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AttemptOutcome, Deactivation, NextStep, Payload};
    use crate::store::tests::{attempt, job, memory, new_hook};
    use crate::time::Time;

    #[tokio::test]
    async fn a_replay_queues_the_event_s_payload_again_under_the_same_webhook_id() {
        let store = memory();
        let hook = store.create_hook(new_hook(Some("a")), Default::default()).await.unwrap();
        let mut job = job(hook.id, 100);
        job.id = store.enqueue(vec![job.clone()]).await.unwrap()[0];
        let mut sent = attempt(&job, AttemptOutcome::Succeeded, Some(200), Time::now());
        sent.transformed = Some(Payload::new(r#"{"text":"made"}"#));
        store.record_attempt(job.clone(), sent, NextStep::Finish, Deactivation::NEVER).await.unwrap();

        let a = Scope::Academy("a".into());
        let id = replay(store.as_ref(), &a, hook.id, job.id).await.unwrap();
        let queue = crate::store::tests::queued_jobs(store.as_ref()).await;
        assert_eq!(queue.len(), 1);
        let replayed = &queue[0];
        assert_eq!((replayed.id, &replayed.webhook_id, replayed.attempts), (id, &job.webhook_id, 0));
        assert_eq!(replayed.payload, job.payload, "the payload, not what the transformer made of it");

        let b = Scope::Academy("b".into());
        assert!(matches!(replay(store.as_ref(), &b, hook.id, job.id).await, Err(ReplayError::HookNotFound)));
        assert!(matches!(replay(store.as_ref(), &a, hook.id, 999).await, Err(ReplayError::DeliveryNotFound)));
    }

    /// An attempt of delivery `delivery` of message `message`, recorded
    /// `id`-th, sent at second `sent`.
    fn sent(id: u64, delivery: u64, message: &str, outcome: AttemptOutcome, sent: i64) -> Attempt {
        let mut job = job(1, 100);
        (job.id, job.webhook_id) = (delivery, message.into());
        let status =
            (outcome != AttemptOutcome::Cancelled).then_some(if outcome == AttemptOutcome::Failed { 500 } else { 200 });
        Attempt { id, ..attempt(&job, outcome, status, Time::from_second(sent)) }
    }

    fn deliveries(attempts: &[Attempt]) -> Vec<u64> {
        attempts.iter().map(|attempt| attempt.delivery_id).collect()
    }

    #[test]
    fn the_latest_attempt_of_each_message_decides_and_only_final_failures_in_range_count() {
        use AttemptOutcome::{Cancelled, Failed, Succeeded};
        let mut retrying = sent(6, 6, "m-retrying", Failed, 14);
        retrying.next_attempt_at = Some(Time::from_second(74));
        // Newest first, as a store answers.
        let attempts = vec![
            sent(9, 9, "m-cancelled", Cancelled, 17),
            sent(8, 8, "m-failed-twice", Failed, 15), // the replay of delivery 2, failed too
            sent(7, 7, "m-recovered", Succeeded, 12), // the replay of delivery 3
            retrying,
            sent(5, 5, "m-succeeded", Succeeded, 13),
            sent(4, 4, "m-failed", Failed, 10),
            sent(3, 3, "m-recovered", Failed, 11),
            sent(2, 2, "m-failed-twice", Failed, 5),
            sent(1, 4, "m-failed", Failed, 9), // delivery 4's first attempt: one replay per message
        ];
        let all = failed_for_good(attempts.clone(), Range::default(), MAX_REPLAYS);
        assert_eq!((deliveries(&all.0), all.1), (vec![4, 8], None), "oldest failure first");
        let since = Range { since: Some(Time::from_second(11)), until: None };
        assert_eq!(deliveries(&failed_for_good(attempts.clone(), since, MAX_REPLAYS).0), [8]);
        let until = Range { since: None, until: Some(Time::from_second(15)) };
        assert_eq!(deliveries(&failed_for_good(attempts.clone(), until, MAX_REPLAYS).0), [4], "until is excluded");
        let exact = Range { since: Some(Time::from_second(10)), until: Some(Time::from_second(11)) };
        assert_eq!(deliveries(&failed_for_good(attempts.clone(), exact, MAX_REPLAYS).0), [4], "since is included");
        let before = Range { since: None, until: Some(Time::from_second(10)) };
        assert!(failed_for_good(attempts, before, MAX_REPLAYS).0.is_empty(), "judged by the latest attempt");
    }

    #[test]
    fn a_capped_replay_ends_at_a_whole_second_and_says_where_to_continue() {
        let failed = |seconds: &[i64]| -> Vec<Attempt> {
            let attempts = seconds.iter().enumerate().map(|(n, &second)| {
                let id = n as u64 + 1;
                sent(id, id, &format!("m{id}"), AttemptOutcome::Failed, second)
            });
            attempts.rev().collect()
        };
        let (first, next) = failed_for_good(failed(&[1, 2, 2, 2, 3]), Range::default(), 3);
        assert_eq!((deliveries(&first), next), (vec![1], Some(Time::from_second(2))), "second 2 not split");
        let from = Range { since: next, until: None };
        let (second, next) = failed_for_good(failed(&[1, 2, 2, 2, 3]), from, 3);
        assert_eq!((deliveries(&second), next), (vec![2, 3, 4], Some(Time::from_second(3))));
        let (third, next) = failed_for_good(failed(&[1, 2, 2, 2, 3]), Range { since: next, until: None }, 3);
        assert_eq!((deliveries(&third), next), (vec![5], None));
        let (crowded, next) = failed_for_good(failed(&[7, 7, 7]), Range::default(), 2);
        assert_eq!((deliveries(&crowded), next), (vec![1, 2], Some(Time::from_second(7))), "one second past the cap");
    }

    #[tokio::test]
    async fn failed_deliveries_are_queued_again_in_one_call_under_their_webhook_ids() {
        let store = memory();
        let hook = store.create_hook(new_hook(Some("a")), Default::default()).await.unwrap();
        let mut recorded = Vec::new();
        for (n, outcome) in
            [AttemptOutcome::Failed, AttemptOutcome::Succeeded, AttemptOutcome::Failed].into_iter().enumerate()
        {
            let mut job = job(hook.id, 100 + n as u64);
            job.webhook_id = format!("msg_{n}");
            job.id = store.enqueue(vec![job.clone()]).await.unwrap()[0];
            let sent = attempt(
                &job,
                outcome,
                Some(if outcome == AttemptOutcome::Failed { 500 } else { 200 }),
                Time::from_second(n as i64 + 1),
            );
            store.record_attempt(job.clone(), sent, NextStep::Finish, Deactivation::NEVER).await.unwrap();
            recorded.push(job);
        }
        assert!(crate::store::tests::queued_jobs(store.as_ref()).await.is_empty());

        let a = Scope::Academy("a".into());
        let replayed = replay_failed(store.as_ref(), &a, hook.id, Range::default()).await.unwrap();
        assert_eq!(replayed.next_since, None);
        let queue = crate::store::tests::queued_jobs(store.as_ref()).await;
        let mut queued: Vec<_> =
            queue.iter().map(|job| (job.id, job.webhook_id.as_str(), &job.payload, job.attempts)).collect();
        queued.sort_unstable_by_key(|(id, ..)| *id);
        let expected: Vec<_> = replayed
            .delivery_ids
            .iter()
            .zip([&recorded[0], &recorded[2]])
            .map(|(&id, job)| (id, job.webhook_id.as_str(), &job.payload, 0))
            .collect();
        assert_eq!(queued, expected, "the two failures, not the success");

        let later = Range { since: Some(Time::from_second(4)), until: None };
        assert_eq!(replay_failed(store.as_ref(), &a, hook.id, later).await.unwrap(), Replayed::default());
        let b = Scope::Academy("b".into());
        assert!(matches!(
            replay_failed(store.as_ref(), &b, hook.id, Range::default()).await,
            Err(ReplayError::HookNotFound)
        ));
        assert_eq!(crate::store::tests::queued_jobs(store.as_ref()).await.len(), 2, "nothing more queued");
    }
}
