//! The stages of one delivery attempt, each a function with its own input
//! and output types.

use std::sync::Arc;
use std::time::Duration;

use super::policy::Answer;
use super::send::{Sent, refused_header, signed_headers};
use super::{Dispatcher, Sending};
use crate::model::Hook;
use crate::model::{Attempt, AttemptOutcome, Deactivation, HookEffect, Job, NextStep, Payload, log_headers};
use crate::runtime::Request;
use crate::store::StoreError;
use crate::time::Time;

/// The request for one attempt, before it is signed.
struct Prepared {
    hook: Arc<Hook>,
    request: Request,
    timeout: Duration,
}

/// Why an attempt ends without a request.
enum NotSent {
    /// The hook was deleted: drop the job.
    HookGone,
    /// The hook will not receive it (inactive, cancelled by its transformer,
    /// unusable secret): finish the job.
    Cancelled(String),
    /// The hook's transformer failed: a failed attempt, retried.
    Failed(Arc<Hook>, String),
}

/// Makes one attempt of `job` and records it: the error when it could not
/// be recorded (the job then stays queued). `sending` (one of the hook's
/// slots, see `claims.rs`, and a request worker) is released as soon as
/// the receiver has answered, before the attempt is recorded.
pub(super) async fn deliver(dispatcher: &Dispatcher, job: Job, sending: Sending) -> Result<(), StoreError> {
    let scheduled_at = Time::from_second((job.due_ms / 1000) as i64);
    let answered = attempt(dispatcher, &job).await;
    drop(sending);
    match answered {
        Ok((prepared, headers, sent)) => {
            let body = prepared.request.body;
            // A payload of its own only when the transformer changed the
            // body.
            let transformed = (body != job.payload.body()).then(|| Payload::new(body));
            record(dispatcher, &job, scheduled_at, &prepared.hook, headers, transformed, sent).await
        }
        Err(NotSent::HookGone) => dispatcher.store.drop_job(job).await,
        Err(NotSent::Cancelled(why)) => cancel(dispatcher, job, scheduled_at, why).await,
        Err(NotSent::Failed(hook, error)) => {
            record(dispatcher, &job, scheduled_at, &hook, Vec::new(), None, Sent::failed(error)).await
        }
    }
}

/// Prepares, signs and sends the request: what the receiver answered, or
/// why nothing was sent.
async fn attempt(dispatcher: &Dispatcher, job: &Job) -> Result<(Prepared, Vec<(String, String)>, Sent), NotSent> {
    let prepared = check_headers(transform(dispatcher, job, prepare(dispatcher, job)?).await?)?;
    let headers = signed_headers(&prepared.hook, &prepared.request, &job.webhook_id);
    let sent = dispatcher.sender.send(&prepared.request, &headers, prepared.timeout).await;
    Ok((prepared, headers, sent))
}

/// Loads the hook and builds its request.
fn prepare(dispatcher: &Dispatcher, job: &Job) -> Result<Prepared, NotSent> {
    let Some(hook) = dispatcher.store.hook_index().get(job.hook_id).cloned() else {
        return Err(NotSent::HookGone);
    };
    if !hook.settings.is_active {
        return Err(NotSent::Cancelled("the hook is inactive".into()));
    }
    let request = super::headers::request(&hook, job.payload.body().to_owned());
    let timeout = dispatcher.sender.timeout(&hook);
    Ok(Prepared { hook, request, timeout })
}

/// Runs the hook's transformer, if it has one: it may change the request
/// or cancel the delivery.
async fn transform(dispatcher: &Dispatcher, job: &Job, mut prepared: Prepared) -> Result<Prepared, NotSent> {
    let Some(attached) = &prepared.hook.transformer else { return Ok(prepared) };
    let plugin = match dispatcher.plugins.transformers().get(&attached.sha256).await {
        Ok(plugin) => plugin,
        Err(error) => return Err(NotSent::Failed(prepared.hook, format!("transformer: {error}"))),
    };
    let runtime = dispatcher.runtime.clone();
    let (academy, event, request) = (prepared.hook.academy.clone(), job.event.clone(), prepared.request.clone());
    let call =
        tokio::task::spawn_blocking(move || runtime.transform(&plugin, academy.as_deref(), &event, &request)).await;
    match call.map(|call| call.result) {
        Ok(Ok(Some(request))) => {
            if !matches!(url::Url::parse(&request.url).map(|u| u.scheme().to_owned()).as_deref(), Ok("http" | "https"))
            {
                let error = format!("transformer: {:?} is not an http or https URL", request.url);
                return Err(NotSent::Failed(prepared.hook, error));
            }
            prepared.request = request;
            Ok(prepared)
        }
        Ok(Ok(None)) => Err(NotSent::Cancelled("the hook's transformer cancelled the delivery".into())),
        Ok(Err(error)) => Err(NotSent::Failed(prepared.hook, format!("transformer: {error}"))),
        Err(error) => Err(NotSent::Failed(prepared.hook, format!("transformer did not finish: {error}"))),
    }
}

/// Refuses a request whose headers the engine will not send
/// (`send::refused_header`): a failed attempt with the reason, as any
/// transformer failure.
fn check_headers(prepared: Prepared) -> Result<Prepared, NotSent> {
    match refused_header(&prepared.request) {
        Some(refused) => Err(NotSent::Failed(prepared.hook, refused)),
        None => Ok(prepared),
    }
}

/// Records the attempt and decides what comes next; `transformed` is the
/// body sent when the hook's transformer changed the job's payload.
async fn record(
    dispatcher: &Dispatcher,
    job: &Job,
    scheduled_at: Time,
    hook: &Hook,
    headers: Vec<(String, String)>,
    transformed: Option<Payload>,
    sent: Sent,
) -> Result<(), StoreError> {
    let answer = Answer { status: sent.status, retry_after: sent.retry_after };
    let succeeded = answer.succeeded();
    let attempt_number = job.attempts + 1;
    // A failure that deactivates the hook is not retried; the store
    // decides that, from the stats as they are when it commits.
    let deactivation = answer.deactivation(&hook.settings);
    let next = answer.next_step(&dispatcher.config.retry, &hook.settings, attempt_number, crate::time::now_ms());
    let next_attempt_at = match next {
        NextStep::Retry { due_ms } => Some(Time::from_second((due_ms / 1000) as i64)),
        NextStep::Finish => None,
    };
    tracing::info!(
        delivery_id = job.id,
        hook_id = hook.id,
        event_id = %job.event_id,
        attempt = attempt_number,
        status = sent.status,
        duration_ms = sent.duration.as_millis() as u64,
        succeeded,
        "delivery attempt"
    );
    let (status, duration, retrying) = (sent.status, sent.duration, matches!(next, NextStep::Retry { .. }));
    let attempt = Attempt {
        id: 0,
        delivery_id: job.id,
        hook_id: hook.id,
        event_id: job.event_id.clone(),
        event: job.event.clone(),
        webhook_id: job.webhook_id.clone(),
        attempt: attempt_number,
        scheduled_at,
        sent_at: sent.sent_at,
        request_headers: log_headers(headers),
        payload: job.payload.clone(),
        transformed,
        response_status: sent.status,
        response_body: sent.body,
        duration_ms: sent.duration.as_millis() as u64,
        error: sent.error,
        outcome: if succeeded { AttemptOutcome::Succeeded } else { AttemptOutcome::Failed },
        next_attempt_at,
    };
    let job = job.clone();
    let effect = dispatcher.store.record_attempt(job, attempt, next, deactivation).await?;
    // Counted once recorded, when the store's decision is known: an
    // attempt that deactivates its hook is not retried.
    crate::metrics::delivery_attempted(succeeded, status, duration, retrying && effect == HookEffect::None);
    crate::activity::delivery_attempted(succeeded);
    Ok(())
}

/// Ends a job that cannot be sent, with a recorded (cancelled) attempt.
async fn cancel(dispatcher: &Dispatcher, job: Job, scheduled_at: Time, why: String) -> Result<(), StoreError> {
    crate::metrics::delivery_cancelled();
    let attempt = Attempt {
        id: 0,
        delivery_id: job.id,
        hook_id: job.hook_id,
        event_id: job.event_id.clone(),
        event: job.event.clone(),
        webhook_id: job.webhook_id.clone(),
        attempt: job.attempts + 1,
        scheduled_at,
        sent_at: Time::now(),
        request_headers: Vec::new(),
        payload: job.payload.clone(),
        transformed: None,
        response_status: None,
        response_body: None,
        duration_ms: 0,
        error: Some(why),
        outcome: AttemptOutcome::Cancelled,
        next_attempt_at: None,
    };
    dispatcher.store.record_attempt(job, attempt, NextStep::Finish, Deactivation::NEVER).await?;
    Ok(())
}
