//! Deliveries: the queued job of one event to one hook, its attempts, the
//! hook errors integrators see, and what an attempt decides.

use std::convert::Infallible;

use serde::{Deserialize, Serialize};

use super::{HookStats, Payload};
use crate::secrets::REDACTED;
use crate::time::Time;

/// One delivery of one event to one hook, waiting for its next attempt.
/// `P` is how it holds its payload: the payload itself, or what a store
/// keeps in its place (e.g. redb's record holds the payload's id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job<P = Payload> {
    /// The delivery id: stable across attempts.
    pub id: u64,
    /// When the next attempt is due, ms since the epoch.
    pub due_ms: u64,
    pub event_id: String,
    pub event: String,
    pub hook_id: u64,
    /// Standard Webhooks `webhook-id`: the same on every attempt.
    pub webhook_id: String,
    /// The event's payload, before the hook's transformer.
    pub payload: P,
    /// Attempts already made.
    pub attempts: u32,
}

impl<P> Job<P> {
    /// The same job holding its payload as `payload`.
    pub fn with_payload<Q>(self, payload: Q) -> Job<Q> {
        let Job { id, due_ms, event_id, event, hook_id, webhook_id, payload: _, attempts } = self;
        Job { id, due_ms, event_id, event, hook_id, webhook_id, payload, attempts }
    }
}

/// One attempt to deliver, as recorded. `P` as in [`Job`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound(serialize = "P: Serialize", deserialize = "P: Deserialize<'de>"))]
pub struct Attempt<P = Payload> {
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
    /// The headers sent, as [`log_headers`] keeps them.
    pub request_headers: Vec<(String, String)>,
    /// The event's payload, as its job holds it: a replay starts from it.
    pub payload: P,
    /// What the hook's transformer made of the payload, when it changed
    /// it: the body sent. (Records of schema version 3 and before hold the
    /// body sent as `payload`, and none here.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transformed: Option<P>,
    pub response_status: Option<u16>,
    /// Truncated.
    pub response_body: Option<String>,
    pub duration_ms: u64,
    pub error: Option<String>,
    pub outcome: AttemptOutcome,
    /// When the next attempt is due, if one will be made.
    pub next_attempt_at: Option<Time>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttemptOutcome {
    Succeeded,
    Failed,
    /// The hook's transformer cancelled the delivery.
    Cancelled,
}

/// The headers the engine sets on every request, whose values an attempt
/// record keeps.
pub const ENGINE_HEADERS: [&str; 3] = ["content-type", "webhook-id", "webhook-timestamp"];

/// The signature header: never recorded (it is worthless after the fact,
/// and one less thing to leak).
pub const SIGNATURE_HEADER: &str = "webhook-signature";

/// The headers of a request as its attempt record keeps them: the engine's
/// with their values, the others (the hook's custom headers, those its
/// transformer set), which often carry credentials, by name only, the
/// signature not at all.
pub fn log_headers(headers: impl IntoIterator<Item = (String, String)>) -> Vec<(String, String)> {
    headers
        .into_iter()
        .filter(|(name, _)| !name.eq_ignore_ascii_case(SIGNATURE_HEADER))
        .map(|(name, value)| {
            if ENGINE_HEADERS.iter().any(|engine| name.eq_ignore_ascii_case(engine)) {
                (name, value)
            } else {
                (name, REDACTED.to_owned())
            }
        })
        .collect()
}

/// A failure to show integrators (seed 001's `HookError`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookErrorRecord {
    pub id: u64,
    pub at: Time,
    pub message: String,
    pub event: String,
    pub event_id: Option<String>,
    pub hook_id: Option<u64>,
    pub academy: Option<String>,
}

/// What to do with a job after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextStep {
    /// Done (delivered, cancelled or out of retries).
    Finish,
    /// Try again at this time (ms since the epoch).
    Retry { due_ms: u64 },
}

/// How an attempt changes its hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookEffect {
    None,
    /// `410 Gone` or too many consecutive failures.
    Deactivate,
}

/// When a failed attempt deactivates its hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deactivation {
    /// The receiver answered `410 Gone`.
    pub gone: bool,
    /// The hook's `auto_disable_after_failures`.
    pub after_failures: Option<u32>,
}

impl Deactivation {
    /// Never deactivates: for attempts that end a delivery without a
    /// request (cancelled).
    pub const NEVER: Deactivation = Deactivation { gone: false, after_failures: None };
}

impl HookStats {
    /// Counts `attempt` in the stats and says whether, under `rule`, it
    /// deactivates its hook: `410 Gone`, or `after_failures` consecutive
    /// failures. A cancelled attempt (no request made) counts for nothing.
    /// Every store applies this inside the transaction that records the
    /// attempt, on the stats as they are then, so attempts recorded
    /// concurrently count in order.
    pub fn count<P>(&mut self, attempt: &Attempt<P>, rule: Deactivation) -> HookEffect {
        if attempt.outcome == AttemptOutcome::Cancelled {
            return HookEffect::None;
        }
        self.total_calls += 1;
        self.last_call_at = Some(attempt.sent_at);
        self.last_response_code = attempt.response_status;
        if attempt.outcome == AttemptOutcome::Succeeded {
            self.successes += 1;
            self.consecutive_failures = 0;
            return HookEffect::None;
        }
        self.consecutive_failures += 1;
        let worn_out = rule.after_failures.is_some_and(|limit| self.consecutive_failures >= limit);
        if rule.gone || worn_out { HookEffect::Deactivate } else { HookEffect::None }
    }
}

impl Attempt {
    /// The body sent: the transformer's, or else the event's payload.
    pub fn sent(&self) -> &Payload {
        self.transformed.as_ref().unwrap_or(&self.payload)
    }
}

impl<P> Attempt<P> {
    /// The same attempt holding its payloads as `convert` makes them.
    pub fn map_payloads<Q>(self, mut convert: impl FnMut(P) -> Q) -> Attempt<Q> {
        match self.try_map_payloads(|payload| Ok::<Q, Infallible>(convert(payload))) {
            Ok(attempt) => attempt,
            Err(never) => match never {},
        }
    }

    /// The same attempt holding its payloads as `convert` makes them, or
    /// the first error it met.
    pub fn try_map_payloads<Q, E>(self, mut convert: impl FnMut(P) -> Result<Q, E>) -> Result<Attempt<Q>, E> {
        let Attempt {
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
            transformed,
            response_status,
            response_body,
            duration_ms,
            error,
            outcome,
            next_attempt_at,
        } = self;
        Ok(Attempt {
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
            payload: convert(payload)?,
            transformed: transformed.map(&mut convert).transpose()?,
            response_status,
            response_body,
            duration_ms,
            error,
            outcome,
            next_attempt_at,
        })
    }

    /// This attempt deactivated its hook under `rule`: it is the last one,
    /// and its error says why.
    pub fn end_by_deactivation(&mut self, rule: Deactivation) {
        self.next_attempt_at = None;
        self.error.get_or_insert_with(|| {
            if rule.gone {
                "the receiver answered 410 Gone: the hook is now inactive".into()
            } else {
                "too many consecutive failures: the hook is now inactive".into()
            }
        });
    }

    /// The hook error this failed attempt of `job` records, under its
    /// hook's `academy`. Every store records it with the attempt.
    pub fn hook_error<Q>(&self, job: &Job<Q>, academy: Option<String>) -> HookErrorRecord {
        HookErrorRecord {
            id: 0,
            at: self.sent_at,
            message: self.failure_message(),
            event: job.event.clone(),
            event_id: Some(job.event_id.clone()),
            hook_id: Some(job.hook_id),
            academy,
        }
    }

    /// The message of the hook error a failed attempt records.
    pub fn failure_message(&self) -> String {
        match (&self.error, self.response_status) {
            (Some(error), _) => error.clone(),
            (None, Some(status)) => format!("the receiver answered {status}"),
            (None, None) => "delivery failed".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempt_logs_keep_engine_header_values_and_custom_header_names() {
        let sent = [
            ("Authorization", "Bearer hunter2"),
            ("X-Api-Key", "k"),
            ("content-type", "application/json"),
            ("webhook-id", "msg_1_2"),
            ("webhook-timestamp", "1700000000"),
            ("webhook-signature", "v1,abc"),
        ];
        let logged = log_headers(sent.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())));
        let logged: Vec<(&str, &str)> = logged.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        assert_eq!(
            logged,
            [
                ("Authorization", REDACTED),
                ("X-Api-Key", REDACTED),
                ("content-type", "application/json"),
                ("webhook-id", "msg_1_2"),
                ("webhook-timestamp", "1700000000"),
            ]
        );
    }

    fn attempt(outcome: AttemptOutcome, status: Option<u16>) -> Attempt {
        Attempt {
            id: 0,
            delivery_id: 1,
            hook_id: 1,
            event_id: "e1".into(),
            event: "e".into(),
            webhook_id: "msg_1".into(),
            attempt: 1,
            scheduled_at: Time::from_second(0),
            sent_at: Time::from_second(10),
            request_headers: Vec::new(),
            payload: Payload::new("{}"),
            transformed: None,
            response_status: status,
            response_body: None,
            duration_ms: 1,
            error: None,
            outcome,
            next_attempt_at: Some(Time::from_second(70)),
        }
    }

    #[test]
    fn consecutive_failures_deactivate_at_the_threshold_and_a_success_resets_them() {
        let rule = Deactivation { gone: false, after_failures: Some(3) };
        let mut stats = HookStats::default();
        let failed = attempt(AttemptOutcome::Failed, Some(500));
        assert_eq!(stats.count(&failed, rule), HookEffect::None);
        assert_eq!(stats.count(&failed, rule), HookEffect::None);
        assert_eq!(stats.count(&attempt(AttemptOutcome::Succeeded, Some(200)), rule), HookEffect::None);
        assert_eq!((stats.consecutive_failures, stats.successes, stats.total_calls), (0, 1, 3));
        assert_eq!(stats.count(&failed, rule), HookEffect::None);
        assert_eq!(stats.count(&failed, rule), HookEffect::None);
        assert_eq!(stats.count(&failed, rule), HookEffect::Deactivate, "third failure in a row");
        assert_eq!(stats.last_response_code, Some(500));
        assert_eq!(stats.last_call_at, Some(Time::from_second(10)));
    }

    #[test]
    fn without_a_threshold_failures_never_deactivate_but_gone_always_does() {
        let mut stats = HookStats::default();
        let failed = attempt(AttemptOutcome::Failed, Some(500));
        for _ in 0..100 {
            assert_eq!(stats.count(&failed, Deactivation::NEVER), HookEffect::None);
        }
        let gone = Deactivation { gone: true, after_failures: None };
        assert_eq!(
            HookStats::default().count(&attempt(AttemptOutcome::Failed, Some(410)), gone),
            HookEffect::Deactivate
        );
    }

    #[test]
    fn a_cancelled_attempt_counts_for_nothing() {
        let mut stats = HookStats { consecutive_failures: 4, ..HookStats::default() };
        let rule = Deactivation { gone: false, after_failures: Some(5) };
        assert_eq!(stats.count(&attempt(AttemptOutcome::Cancelled, None), rule), HookEffect::None);
        assert_eq!(stats, HookStats { consecutive_failures: 4, ..HookStats::default() });
    }

    #[test]
    fn a_deactivating_attempt_is_the_last_and_says_why() {
        let mut gone = attempt(AttemptOutcome::Failed, Some(410));
        gone.end_by_deactivation(Deactivation { gone: true, after_failures: None });
        assert_eq!(gone.next_attempt_at, None);
        assert_eq!(gone.error.as_deref(), Some("the receiver answered 410 Gone: the hook is now inactive"));
        let mut timed_out = attempt(AttemptOutcome::Failed, None);
        timed_out.error = Some("timed out".into());
        timed_out.end_by_deactivation(Deactivation { gone: false, after_failures: Some(1) });
        assert_eq!(timed_out.failure_message(), "timed out", "the cause is kept");
        assert_eq!(attempt(AttemptOutcome::Failed, Some(503)).failure_message(), "the receiver answered 503");
    }
}
