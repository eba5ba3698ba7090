//! Replays: a delivery queued again, as its event first reached the hook.

use crate::model::{Job, Scope};
use crate::store::{Store, StoreError};

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
    let job = Job {
        id: 0,
        due_ms: crate::time::now_ms(),
        event_id: last.event_id,
        event: last.event,
        hook_id: hook.id,
        webhook_id: last.webhook_id,
        payload: last.payload,
        attempts: 0,
    };
    Ok(store.enqueue(vec![job]).await?[0])
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
}
