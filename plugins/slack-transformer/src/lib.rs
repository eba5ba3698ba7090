//! Example hook transformer: an integrator points a hook at a Slack incoming
//! webhook and attaches this component, so the channel gets a readable
//! message instead of the raw payload.
//!
//! The message names the event and lists the payload's top-level scalar
//! fields (`id`, statuses, dates…), at most [`MAX_FIELDS`] of them. Payloads
//! that are not JSON objects cancel the delivery.

use serde::Serialize;
use serde_json::{Map, Value};
use wasmhook_sdk::{Level, Request, Result, log};

/// How many fields a message lists.
pub const MAX_FIELDS: usize = 8;

#[derive(Serialize)]
struct SlackMessage {
    text: String,
}

#[wasmhook_sdk::transformer]
pub fn transform(event_name: &str, mut req: Request) -> Result<Option<Request>> {
    let Ok(Value::Object(payload)) = req.body_json::<Value>() else {
        log!(Level::Warn, "{event_name}: payload is not a JSON object, delivery cancelled");
        return Ok(None);
    };
    req.set_body_json(&SlackMessage { text: message(event_name, &payload) })?;
    req.set_header("Content-Type", "application/json");
    Ok(Some(req))
}

fn message(event_name: &str, payload: &Map<String, Value>) -> String {
    let mut text = format!("*{event_name}*");
    let scalars = payload.iter().filter_map(|(key, value)| match value {
        Value::String(s) => Some(format!("{key}: {s}")),
        Value::Number(n) => Some(format!("{key}: {n}")),
        Value::Bool(b) => Some(format!("{key}: {b}")),
        _ => None,
    });
    for line in scalars.take(MAX_FIELDS) {
        text.push_str("\n• ");
        text.push_str(&line);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_scalar_fields_under_the_event_name() {
        let req = Request::post("https://hooks.slack.test/x", r#"{"id":7,"status":"DONE","user":{"id":1}}"#);
        let out = transform("assignment.assignment_status_updated", req).unwrap().unwrap();
        let body: Value = serde_json::from_str(&out.body).unwrap();
        assert_eq!(body["text"], "*assignment.assignment_status_updated*\n• id: 7\n• status: DONE");
        assert_eq!(out.url, "https://hooks.slack.test/x");
    }

    #[test]
    fn cancels_non_object_payloads() {
        let req = Request::post("https://hooks.slack.test/x", "[1,2]");
        assert_eq!(transform("e", req).unwrap(), None);
    }
}
