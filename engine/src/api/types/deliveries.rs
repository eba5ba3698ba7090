//! Delivery attempts and hook errors on the wire.

use serde::{Deserialize, Serialize};

use crate::model;
use crate::time::Time;

/// One attempt to deliver, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Attempt {
    pub id: u64,
    pub delivery_id: u64,
    pub hook_id: u64,
    pub event_id: String,
    pub event: String,
    pub webhook_id: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub scheduled_at: Time,
    pub sent_at: Time,
    /// The headers sent: those the engine sets with their values, the
    /// others by name only (their values redacted), never the signature.
    pub request_headers: Vec<(String, String)>,
    /// The body sent (after the hook's transformer, if it has one).
    pub payload: String,
    pub response_status: Option<u16>,
    /// Truncated.
    pub response_body: Option<String>,
    pub duration_ms: u64,
    pub error: Option<String>,
    pub outcome: AttemptOutcome,
    /// When the next attempt is due, if one will be made.
    pub next_attempt_at: Option<Time>,
}

impl From<model::Attempt> for Attempt {
    fn from(attempt: model::Attempt) -> Self {
        let payload = attempt.sent().body().to_owned();
        let model::Attempt {
            id,
            delivery_id,
            hook_id,
            event_id,
            event,
            webhook_id,
            attempt,
            scheduled_at,
            sent_at,
            request_headers,
            payload: _,
            transformed: _,
            response_status,
            response_body,
            duration_ms,
            error,
            outcome,
            next_attempt_at,
        } = attempt;
        Attempt {
            id,
            delivery_id,
            hook_id,
            event_id,
            event,
            webhook_id,
            attempt,
            scheduled_at,
            sent_at,
            request_headers,
            payload,
            response_status,
            response_body,
            duration_ms,
            error,
            outcome: outcome.into(),
            next_attempt_at,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AttemptOutcome {
    Succeeded,
    Failed,
    /// The hook's transformer cancelled the delivery.
    Cancelled,
}

impl From<model::AttemptOutcome> for AttemptOutcome {
    fn from(outcome: model::AttemptOutcome) -> Self {
        match outcome {
            model::AttemptOutcome::Succeeded => AttemptOutcome::Succeeded,
            model::AttemptOutcome::Failed => AttemptOutcome::Failed,
            model::AttemptOutcome::Cancelled => AttemptOutcome::Cancelled,
        }
    }
}

/// A failure to show integrators (seed 001's `HookError`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HookErrorRecord {
    pub id: u64,
    pub at: Time,
    pub message: String,
    pub event: String,
    pub event_id: Option<String>,
    pub hook_id: Option<u64>,
    pub academy: Option<String>,
}

impl From<model::HookErrorRecord> for HookErrorRecord {
    fn from(error: model::HookErrorRecord) -> Self {
        let model::HookErrorRecord { id, at, message, event, event_id, hook_id, academy } = error;
        HookErrorRecord { id, at, message, event, event_id, hook_id, academy }
    }
}

/// The body of `POST /v1/notify/hook/{id}/deliveries/retry-failed`: when
/// the failures to replay were sent, `since` included, `until` excluded;
/// absent or `null`: no bound.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryFailed {
    #[serde(default)]
    pub since: Option<Time>,
    #[serde(default)]
    pub until: Option<Time>,
}

/// Failed deliveries queued again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FailedReplayed {
    /// How many were queued (at most 1000 per call).
    pub replayed: usize,
    /// The new deliveries' ids, the oldest failure first.
    pub delivery_ids: Vec<u64>,
    /// Whether more failures were in range than one call replays.
    pub more: bool,
    /// With `more`: the `since` to send next to continue where this call
    /// stopped.
    pub next_since: Option<Time>,
}
