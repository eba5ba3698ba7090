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
