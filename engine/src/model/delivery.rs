//! Deliveries: the queued job of one event to one hook, its attempts, the
//! hook errors integrators see, and what an attempt decides.

use serde::{Deserialize, Serialize};

use crate::secrets::REDACTED;
use crate::time::Time;

/// One delivery of one event to one hook, waiting for its next attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// The delivery id: stable across attempts.
    pub id: u64,
    /// When the next attempt is due, ms since the epoch.
    pub due_ms: u64,
    pub event_id: String,
    pub event: String,
    pub hook_id: u64,
    /// Standard Webhooks `webhook-id`: the same on every attempt.
    pub webhook_id: String,
    pub payload: String,
    /// Attempts already made.
    pub attempts: u32,
}

/// One attempt to deliver, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// The headers sent, as [`log_headers`] keeps them.
    pub request_headers: Vec<(String, String)>,
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
}
