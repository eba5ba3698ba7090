//! What goes into and comes out of plugin calls, host side. Outputs are
//! validated before they leave the runtime: a payload here is valid JSON.

use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use super::PluginError;
use super::bindings::types;
use super::log::LogLine;

/// An event handed to a serializer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    pub id: String,
    pub name: String,
    pub action: String,
    pub academy: Option<String>,
    pub occurred_at: String,
    /// The source object, as JSON.
    pub data: String,
}

/// A serializer's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "lowercase")]
pub enum Decision {
    Skip { reason: String },
    Deliver(Delivery),
}

/// A payload to deliver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// Valid JSON.
    pub payload: String,
    pub academy_override: Option<String>,
    pub follow_ups: Vec<FollowUp>,
}

/// An event a serializer asks to ingest next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FollowUp {
    pub name: String,
    pub academy: Option<String>,
    /// Valid JSON.
    pub data: String,
}

/// The HTTP request a hook transformer sees and returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Request {
    pub url: String,
    pub method: String,
    pub headers: Vec<(String, String)>,
    /// Valid JSON.
    pub body: String,
}

/// The outcome of one plugin call, with what it cost and what it logged:
/// a failed call keeps its logs too (a guest panic's message is there).
#[derive(Debug, Clone)]
pub struct Call<T> {
    pub result: Result<T, PluginError>,
    pub logs: Vec<LogLine>,
    /// Instantiation plus the call.
    pub duration: Duration,
    /// Peak linear memory, in bytes.
    pub peak_memory: u64,
}

impl From<&Event> for types::Event {
    fn from(event: &Event) -> Self {
        types::Event {
            id: event.id.clone(),
            name: event.name.clone(),
            action: event.action.clone(),
            academy: event.academy.clone(),
            occurred_at: event.occurred_at.clone(),
            data: event.data.clone(),
        }
    }
}

impl From<&Request> for types::Request {
    fn from(req: &Request) -> Self {
        types::Request {
            url: req.url.clone(),
            method: req.method.clone(),
            headers: req.headers.clone(),
            body: req.body.clone(),
        }
    }
}

impl Event {
    /// Bytes handed to the plugin.
    pub(crate) fn size(&self) -> usize {
        self.id.len()
            + self.name.len()
            + self.action.len()
            + self.academy.as_ref().map_or(0, String::len)
            + self.occurred_at.len()
            + self.data.len()
    }
}

impl Request {
    pub(crate) fn size(&self) -> usize {
        self.url.len()
            + self.method.len()
            + self.headers.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
            + self.body.len()
    }
}

/// Checks a serializer's output and converts it.
pub(crate) fn decision(output: types::Decision, max_output: usize) -> Result<Decision, PluginError> {
    let delivery = match output {
        types::Decision::Skip(reason) => {
            check_size(reason.len(), max_output)?;
            return Ok(Decision::Skip { reason });
        }
        types::Decision::Deliver(delivery) => delivery,
    };
    let size = delivery.payload.len() + delivery.emit.iter().map(|f| f.name.len() + f.data.len()).sum::<usize>();
    check_size(size, max_output)?;
    check_json("payload", &delivery.payload)?;
    let follow_ups = delivery
        .emit
        .into_iter()
        .map(|f| {
            check_json("follow-up data", &f.data)?;
            Ok(FollowUp { name: f.name, academy: f.academy, data: f.data })
        })
        .collect::<Result<_, PluginError>>()?;
    Ok(Decision::Deliver(Delivery {
        payload: delivery.payload,
        academy_override: delivery.academy_override,
        follow_ups,
    }))
}

/// Checks a transformer's output and converts it.
pub(crate) fn request(output: Option<types::Request>, max_output: usize) -> Result<Option<Request>, PluginError> {
    let Some(req) = output else { return Ok(None) };
    let req = Request { url: req.url, method: req.method, headers: req.headers, body: req.body };
    check_size(req.size(), max_output)?;
    if !is_token(&req.method) {
        return Err(PluginError::InvalidOutput(format!("method {:?} is not an HTTP method", req.method)));
    }
    for (name, value) in &req.headers {
        if !is_token(name) || value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(PluginError::InvalidOutput(format!("header {name:?} is not a valid HTTP header")));
        }
    }
    check_json("body", &req.body)?;
    Ok(Some(req))
}

fn check_size(size: usize, limit: usize) -> Result<(), PluginError> {
    if size > limit { Err(PluginError::OutputTooLarge { size, limit }) } else { Ok(()) }
}

fn check_json(what: &str, text: &str) -> Result<(), PluginError> {
    serde_json::from_str::<serde::de::IgnoredAny>(text)
        .map(drop)
        .map_err(|e| PluginError::InvalidOutput(format!("{what} is not valid JSON: {e}")))
}

/// An HTTP token (RFC 9110 §5.6.2): what method and header names are made of.
fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

impl Call<Decision> {
    /// The call as a dry run shows it: the decision with its JSON as JSON
    /// (not as text), the logs, the duration and the peak memory.
    pub fn report(&self) -> Value {
        self.report_with(|decision| match decision {
            Decision::Skip { reason } => json!({"decision": "skip", "reason": reason}),
            Decision::Deliver(d) => {
                let follow_ups: Vec<Value> = d
                    .follow_ups
                    .iter()
                    .map(|f| json!({"name": f.name, "academy": f.academy, "data": json_text(&f.data)}))
                    .collect();
                json!({
                    "decision": "deliver",
                    "payload": json_text(&d.payload),
                    "academy_override": d.academy_override,
                    "follow_ups": follow_ups,
                })
            }
        })
    }
}

impl Call<Option<Request>> {
    /// The call as a transformer dry run shows it: the request that would
    /// be signed and sent (its body as JSON), or the cancellation.
    pub fn report(&self) -> Value {
        self.report_with(|request| match request {
            Some(r) => json!({
                "decision": "send",
                "request": {"url": r.url, "method": r.method, "headers": r.headers, "body": json_text(&r.body)},
            }),
            None => json!({"decision": "cancel"}),
        })
    }
}

impl<T> Call<T> {
    fn report_with(&self, outcome: impl FnOnce(&T) -> Value) -> Value {
        let outcome = match &self.result {
            Ok(value) => outcome(value),
            Err(error) => json!({"decision": "error", "error": error.to_string()}),
        };
        json!({
            "outcome": outcome,
            "logs": self.logs,
            "duration_us": self.duration.as_micros() as u64,
            "peak_memory": self.peak_memory,
        })
    }
}

/// JSON text the runtime has validated, as a value.
fn json_text(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}
