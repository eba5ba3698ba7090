//! The stages of one delivery attempt, each a function with its own input
//! and output types.

use std::time::{Duration, Instant};

use super::Dispatcher;
use super::signing::sign;
use crate::store::delivery::{Attempt, AttemptOutcome, HookEffect, Job, NextStep, record_attempt};
use crate::store::{Hook, HttpMethod, Scope};
use crate::time::Time;

/// A request ready to send.
struct Prepared {
    hook: Hook,
    method: reqwest::Method,
    headers: Vec<(String, String)>,
    timeout: Duration,
}

/// What the receiver did.
struct Sent {
    sent_at: Time,
    status: Option<u16>,
    body: Option<String>,
    retry_after: Option<Duration>,
    error: Option<String>,
    duration: Duration,
}

/// Why a job ends without a request.
enum NotSent {
    /// The hook was deleted: drop the job.
    HookGone,
    /// The hook cannot receive it (inactive, unusable secret).
    Cancelled(String),
}

pub(super) async fn deliver(dispatcher: &Dispatcher, job: Job) {
    let scheduled_at = Time::from_second((job.due_ms / 1000) as i64);
    let result = match prepare(dispatcher, &job) {
        Ok(prepared) => {
            let sent = send(dispatcher, &job, &prepared).await;
            record(dispatcher, &job, scheduled_at, prepared, sent).await
        }
        Err(NotSent::HookGone) => dispatcher.committer.commit(move |txn| drop_job(txn, &job)).await,
        Err(NotSent::Cancelled(why)) => cancel(dispatcher, job, scheduled_at, why).await,
    };
    if let Err(error) = result {
        // The job stays queued and is attempted again.
        tracing::error!(%error, "cannot record a delivery attempt");
    }
}

/// Loads the hook and builds the signed request.
fn prepare(dispatcher: &Dispatcher, job: &Job) -> Result<Prepared, NotSent> {
    let hook = match dispatcher.store.hook(&Scope::All, job.hook_id) {
        Ok(Some(hook)) => hook,
        Ok(None) => return Err(NotSent::HookGone),
        Err(error) => {
            tracing::error!(%error, hook_id = job.hook_id, "cannot load a hook");
            return Err(NotSent::HookGone);
        }
    };
    if !hook.is_active {
        return Err(NotSent::Cancelled("the hook is inactive".into()));
    }
    let timestamp = jiff::Timestamp::now().as_second();
    let signature = match sign(&hook.secret, &job.webhook_id, timestamp, &job.payload) {
        Ok(signature) => signature,
        Err(error) => return Err(NotSent::Cancelled(error.to_string())),
    };
    let mut headers: Vec<(String, String)> = hook.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    headers.extend([
        ("content-type".to_owned(), "application/json".to_owned()),
        ("webhook-id".to_owned(), job.webhook_id.clone()),
        ("webhook-timestamp".to_owned(), timestamp.to_string()),
        ("webhook-signature".to_owned(), signature),
    ]);
    let method = match hook.method {
        HttpMethod::Post => reqwest::Method::POST,
        HttpMethod::Put => reqwest::Method::PUT,
        HttpMethod::Patch => reqwest::Method::PATCH,
    };
    let timeout = hook.timeout.map_or(dispatcher.config.default_timeout, |s| Duration::from_secs(u64::from(s)));
    Ok(Prepared { hook, method, headers, timeout })
}

/// Sends the request and reads (a bounded part of) the answer.
async fn send(dispatcher: &Dispatcher, job: &Job, prepared: &Prepared) -> Sent {
    let sent_at = Time::now();
    let started = Instant::now();
    let mut request =
        dispatcher.client.request(prepared.method.clone(), &prepared.hook.target).timeout(prepared.timeout);
    for (name, value) in &prepared.headers {
        request = request.header(name, value);
    }
    let outcome = request.body(job.payload.clone()).send().await;
    let response = match outcome {
        Ok(response) => response,
        Err(error) => {
            let error = if error.is_timeout() {
                format!("no answer within {} s", prepared.timeout.as_secs_f64())
            } else {
                format!("{error}: {}", std::error::Error::source(&error).map(ToString::to_string).unwrap_or_default())
            };
            return Sent {
                sent_at,
                status: None,
                body: None,
                retry_after: None,
                error: Some(error),
                duration: started.elapsed(),
            };
        }
    };
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = read_body(response, dispatcher.config.max_response_body).await;
    Sent { sent_at, status: Some(status), body, retry_after, error: None, duration: started.elapsed() }
}

/// At most `limit` bytes of the body, as text.
async fn read_body(mut response: reqwest::Response, limit: usize) -> Option<String> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        body.extend_from_slice(&chunk[..chunk.len().min(limit - body.len())]);
        if body.len() >= limit {
            break;
        }
    }
    (!body.is_empty()).then(|| String::from_utf8_lossy(&body).into_owned())
}

/// Records the attempt and decides what comes next.
async fn record(
    dispatcher: &Dispatcher,
    job: &Job,
    scheduled_at: Time,
    prepared: Prepared,
    sent: Sent,
) -> Result<(), crate::store::StoreError> {
    let Prepared { hook, headers, .. } = prepared;
    let succeeded = sent.status.is_some_and(|s| (200..300).contains(&s));
    let attempt_number = job.attempts + 1;
    let gone = sent.status == Some(410);
    let worn_out = !succeeded
        && hook.auto_disable_after_failures.is_some_and(|limit| hook.stats.consecutive_failures + 1 >= limit);
    let effect = if gone || worn_out { HookEffect::Deactivate } else { HookEffect::None };
    let next = match (succeeded, effect) {
        (false, HookEffect::None) => dispatcher
            .config
            .retry
            .next_delay(attempt_number, hook.max_retries, sent.retry_after)
            .map_or(NextStep::Finish, |delay| NextStep::Retry {
                due_ms: crate::time::now_ms() + delay.as_millis() as u64,
            }),
        _ => NextStep::Finish,
    };
    let next_attempt_at = match next {
        NextStep::Retry { due_ms } => Some(Time::from_second((due_ms / 1000) as i64)),
        NextStep::Finish => None,
    };
    let error = match (&sent.error, gone, worn_out) {
        (Some(error), _, _) => Some(error.clone()),
        (None, true, _) => Some("the receiver answered 410 Gone: the hook is now inactive".into()),
        (None, _, true) => Some("too many consecutive failures: the hook is now inactive".into()),
        _ => None,
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
        request_headers: headers.into_iter().filter(|(name, _)| name != "webhook-signature").collect(),
        payload: job.payload.clone(),
        response_status: sent.status,
        response_body: sent.body,
        duration_ms: sent.duration.as_millis() as u64,
        error,
        outcome: if succeeded { AttemptOutcome::Succeeded } else { AttemptOutcome::Failed },
        next_attempt_at,
    };
    let job = job.clone();
    dispatcher.committer.commit(move |txn| record_attempt(txn, &job, attempt, next, effect)).await
}

/// Ends a job that cannot be sent, with a recorded (cancelled) attempt.
async fn cancel(
    dispatcher: &Dispatcher,
    job: Job,
    scheduled_at: Time,
    why: String,
) -> Result<(), crate::store::StoreError> {
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
        response_status: None,
        response_body: None,
        duration_ms: 0,
        error: Some(why),
        outcome: AttemptOutcome::Cancelled,
        next_attempt_at: None,
    };
    dispatcher.committer.commit(move |txn| record_attempt(txn, &job, attempt, NextStep::Finish, HookEffect::None)).await
}

fn drop_job(txn: &redb::WriteTransaction, job: &Job) -> Result<(), crate::store::StoreError> {
    txn.open_table(crate::store::tables::JOBS)?.remove((job.due_ms, job.id))?;
    Ok(())
}
