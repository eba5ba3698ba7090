//! A test send: one signed Standard Webhooks request to a hook's target,
//! made now and answered to the caller (`POST
//! /v1/notify/hook/subscribe/{id}/test`), so an integrator can check the
//! endpoint and its signature check before real events flow.
//!
//! It is made as a delivery is (`send.rs`): the hook's method, custom
//! headers, timeout and every current secret, through the client that
//! keeps to the target policy. What differs: the body is the engine's test
//! message, not an event (so the hook's transformer does not run), the
//! hook may be inactive, and nothing is recorded: no attempt in the
//! delivery log, no change to the hook's stats, no retry.

use std::time::Duration;

use serde_json::json;

use super::send::{Sender, Sent, refused_header, signed_headers};
use crate::model::{Hook, log_headers};
use crate::time::Time;

/// The event type of the test message, as `wasmhook test-endpoint` sends it.
pub const TEST_EVENT_TYPE: &str = "wasmhook.test";

/// What a test send did.
#[derive(Debug, Clone)]
pub struct TestSend {
    /// The `webhook-id` sent: `msg_test_…`.
    pub webhook_id: String,
    /// As the delivery log shows a request's: the engine's headers with
    /// their values, the hook's custom headers by name, not the signature.
    pub request_headers: Vec<(String, String)>,
    pub body: String,
    pub status: Option<u16>,
    pub response_headers: Vec<(String, String)>,
    /// Truncated as in the delivery log.
    pub response_body: Option<String>,
    pub duration: Duration,
    /// Why there is no answer: a refused target or header, no connection,
    /// no answer in time.
    pub error: Option<String>,
}

/// The test message's body.
fn test_body(hook_id: u64, now: Time) -> String {
    let message = format!("Test webhook sent by wasmhook to hook {hook_id}");
    json!({"type": TEST_EVENT_TYPE, "timestamp": now, "data": {"message": message}}).to_string()
}

impl Sender {
    /// Sends `hook` the test message and waits for the answer.
    pub async fn test(&self, hook: &Hook) -> TestSend {
        let webhook_id = format!("msg_test_{}", uuid::Uuid::now_v7().simple());
        let request = super::headers::request(hook, test_body(hook.id, Time::now()));
        let headers = signed_headers(hook, &request, &webhook_id);
        let sent = match refused_header(&request) {
            Some(refused) => Sent::failed(refused),
            None => self.send(&request, &headers, self.timeout(hook)).await,
        };
        tracing::info!(
            hook_id = hook.id,
            webhook_id,
            status = sent.status,
            duration_ms = sent.duration.as_millis() as u64,
            error = sent.error.as_deref(),
            "test send"
        );
        let response_headers = sent
            .headers
            .iter()
            .map(|(name, value)| (name.to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
            .collect();
        TestSend {
            webhook_id,
            request_headers: log_headers(headers),
            body: request.body,
            status: sent.status,
            response_headers,
            response_body: sent.body,
            duration: sent.duration,
            error: sent.error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_body_is_the_cli_s_shape() {
        let body: serde_json::Value = serde_json::from_str(&test_body(7, Time::from_second(0))).unwrap();
        assert_eq!(
            body,
            json!({"type": "wasmhook.test", "timestamp": "1970-01-01T00:00:00Z",
                "data": {"message": "Test webhook sent by wasmhook to hook 7"}})
        );
    }
}
