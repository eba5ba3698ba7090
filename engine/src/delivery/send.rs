//! The HTTP side of an attempt, shared by deliveries (`stages.rs`) and test
//! sends (`test_send.rs`) so that a test is made exactly as a delivery is:
//! the headers a request may carry, the Standard Webhooks signature, and
//! the request sent through the one pooled client, whose resolver and
//! [`TargetPolicy::check`] keep it within the operator's target policy,
//! with a bounded part of the answer read.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;

use super::DeliveryConfig;
use super::signing::sign_with_each;
use crate::headers::{check_sent_header, engine_sets};
use crate::model::{Hook, SIGNATURE_HEADER};
use crate::runtime::Request;
use crate::targets::TargetPolicy;
use crate::time::Time;

/// Sends requests to hooks' targets. Cheap to clone: clones share the
/// client and its connection pool.
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    targets: Arc<TargetPolicy>,
    /// For hooks without their own `timeout`.
    default_timeout: Duration,
    /// Bytes of the receiver's answer read.
    max_response_body: usize,
}

/// What the receiver did.
pub(super) struct Sent {
    pub sent_at: Time,
    pub status: Option<u16>,
    /// The answer's headers (empty without an answer).
    pub headers: HeaderMap,
    pub body: Option<String>,
    pub retry_after: Option<Duration>,
    pub error: Option<String>,
    pub duration: Duration,
}

impl Sent {
    /// A request that was not sent, for `error`.
    pub(super) fn failed(error: String) -> Sent {
        Sent {
            sent_at: Time::now(),
            status: None,
            headers: HeaderMap::new(),
            body: None,
            retry_after: None,
            error: Some(error),
            duration: Duration::ZERO,
        }
    }
}

impl Sender {
    /// The client of `config`'s target policy.
    pub(super) fn new(config: &DeliveryConfig) -> Sender {
        let client = config
            .targets
            .client_builder()
            .user_agent(concat!("Wasmhook/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(config.concurrency)
            .build()
            .expect("the HTTP client builds with static settings");
        Sender {
            client,
            targets: config.targets.clone(),
            default_timeout: config.default_timeout,
            max_response_body: config.max_response_body,
        }
    }

    /// How long `hook` waits for its receiver.
    pub(super) fn timeout(&self, hook: &Hook) -> Duration {
        hook.settings.timeout.map_or(self.default_timeout, |s| Duration::from_secs(u64::from(s)))
    }

    /// Sends `request` with `headers` and reads (a bounded part of) the
    /// answer; a refused target or a failed connection is the `error`.
    pub(super) async fn send(&self, request: &Request, headers: &[(String, String)], timeout: Duration) -> Sent {
        let sent_at = Time::now();
        let started = Instant::now();
        let method = reqwest::Method::from_bytes(request.method.as_bytes()).unwrap_or(reqwest::Method::POST);
        // A literal-IP URL meets no resolver: the target policy judges it
        // here, and the client takes the URL the policy parsed.
        let outcome = match self.targets.check(&request.url) {
            Ok(url) => {
                let mut builder = self.client.request(method, url).timeout(timeout);
                for (name, value) in headers {
                    builder = builder.header(name, value);
                }
                builder.body(request.body.clone()).send().await.map_err(|error| {
                    if error.is_timeout() {
                        format!("no answer within {} s", timeout.as_secs_f64())
                    } else if let Some(refused) = crate::targets::refusal(&error) {
                        refused.to_string()
                    } else {
                        let source = std::error::Error::source(&error).map(ToString::to_string).unwrap_or_default();
                        format!("{error}: {source}")
                    }
                })
            }
            Err(refused) => Err(refused.to_string()),
        };
        let mut response = match outcome {
            Ok(response) => response,
            Err(error) => return Sent { sent_at, duration: started.elapsed(), ..Sent::failed(error) },
        };
        let status = response.status().as_u16();
        let headers = std::mem::take(response.headers_mut());
        let retry_after = headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = read_body(response, self.max_response_body).await;
        Sent { sent_at, status: Some(status), headers, body, retry_after, error: None, duration: started.elapsed() }
    }
}

/// Why the engine will not send `request`: a connection or framing header,
/// whether a transformer added it or the hook had it before such headers
/// were refused at subscribe time.
pub(super) fn refused_header(request: &Request) -> Option<String> {
    let refused = request.headers.iter().find_map(|(name, value)| check_sent_header(name, value).err());
    refused.map(|refused| refused.to_string())
}

/// The headers sent: the request's own, minus anything the engine sets,
/// plus the content type and the Standard Webhooks signature of the body
/// actually sent, by every current secret of `hook`.
pub(super) fn signed_headers(hook: &Hook, request: &Request, webhook_id: &str) -> Vec<(String, String)> {
    let now = Time::now();
    let timestamp = now.as_second();
    let mut headers: Vec<(String, String)> =
        request.headers.iter().filter(|(name, _)| !engine_sets(name)).cloned().collect();
    headers.push(("content-type".to_owned(), "application/json".to_owned()));
    headers.push(("webhook-id".to_owned(), webhook_id.to_owned()));
    headers.push(("webhook-timestamp".to_owned(), timestamp.to_string()));
    // A secret that does not decode is caught when the hook is created;
    // an empty signature makes receivers refuse rather than trust. The
    // previous secret signs too while its rotation overlap lasts.
    let signature = sign_with_each(hook.signing_secrets(now), webhook_id, timestamp, &request.body).unwrap_or_default();
    headers.push((SIGNATURE_HEADER.to_owned(), signature));
    headers
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
