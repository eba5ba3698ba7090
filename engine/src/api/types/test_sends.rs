//! A hook's test send (`POST /v1/notify/hook/subscribe/{id}/test`) on the
//! wire.

use serde::{Deserialize, Serialize};

use crate::delivery;

/// What the engine sent and what the target answered. A refused target, a
/// failed connection or no answer in time is `error`, with `status` null:
/// the test's result, not the API's failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({
    "webhook_id": "msg_test_0197a1b2c3d4e5f6a7b8c9d0e1f2a3b4",
    "request": {
        "headers": [["content-type", "application/json"], ["webhook-id", "msg_test_0197a1b2c3d4e5f6a7b8c9d0e1f2a3b4"],
            ["webhook-timestamp", "1736937000"], ["x-api-key", "<redacted>"]],
        "body": "{\"data\":{\"message\":\"Test webhook sent by wasmhook to hook 12\"},\"timestamp\":\"2025-01-15T10:30:00Z\",\"type\":\"wasmhook.test\"}"
    },
    "status": 200,
    "response_headers": [["content-type", "application/json"]],
    "response_body": "{\"ok\": true}",
    "duration_ms": 42,
    "error": null
}))]
pub struct TestSendResult {
    /// The `webhook-id` of the test request (`msg_test_…`).
    pub webhook_id: String,
    pub request: TestRequest,
    /// The target's status; `null` without an answer.
    pub status: Option<u16>,
    pub response_headers: Vec<(String, String)>,
    /// Truncated as in the delivery log.
    pub response_body: Option<String>,
    pub duration_ms: u64,
    /// Why there is no answer.
    pub error: Option<String>,
}

/// The request sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TestRequest {
    /// As in the delivery log: the engine's headers with their values, the
    /// hook's custom headers with theirs redacted, never the signature.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl From<delivery::TestSend> for TestSendResult {
    fn from(sent: delivery::TestSend) -> Self {
        TestSendResult {
            webhook_id: sent.webhook_id,
            request: TestRequest { headers: sent.request_headers, body: sent.body },
            status: sent.status,
            response_headers: sent.response_headers,
            response_body: sent.response_body,
            duration_ms: sent.duration.as_millis() as u64,
            error: sent.error,
        }
    }
}
