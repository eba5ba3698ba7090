//! Idempotency of client ids. An event id the client chose is ingested
//! once per academy (as Svix scopes its ids to an application): the same
//! id posted for two academies is two events. Posting an id again within
//! its academy answers the first result if the request carries the same
//! content (a retry), and is refused (409 `idempotency-conflict`) if it
//! carries other content: answering the old record would silently drop the
//! new event.
//!
//! What identifies the content is the catalogue event the request resolved
//! to (by name or by action) and its data, compared as canonical JSON
//! (object keys sorted, no whitespace), so a client that serializes the
//! same object again is not refused. `disable_webhooks` is not part of it:
//! it says how to process the event, not what the event is. Records
//! without a digest (written by schema version 2, before digests existed)
//! answer any request with their id as they did then: what they were
//! posted with is not known.

use serde_json::Value;
use serde_json::value::RawValue;

use crate::model::{EventOutcome, Seen, Sha256, StoredEvent};

/// The digest of a request's content: its catalogue event and data.
pub fn content_digest(event: &str, data: &RawValue) -> Sha256 {
    let mut canonical = Vec::with_capacity(data.get().len() + event.len() + 8);
    // The data is valid JSON (it was parsed into the `RawValue`).
    let data: Value = serde_json::from_str(data.get()).unwrap_or(Value::Null);
    write_canonical(&Value::Array(vec![Value::String(event.to_owned()), data]), &mut canonical);
    Sha256::of(&canonical)
}

/// `value` as JSON with every object's keys in order, whatever order the
/// map type keeps them in.
fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (n, (key, value)) in entries.into_iter().enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, key).expect("writing to a Vec");
                out.push(b':');
                write_canonical(value, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        scalar => serde_json::to_writer(&mut *out, scalar).expect("writing to a Vec"),
    }
}

/// Judges a request of `content` against what is stored under its key. A
/// re-run of parked events replaces a record that is still failed and
/// otherwise answers the record: it carries the parked content, never
/// other content.
pub(super) fn judge(stored: Option<StoredEvent>, content: &Sha256, rerun: bool) -> Seen {
    let Some(stored) = stored else { return Seen::New };
    if rerun {
        return match stored.record.outcome {
            EventOutcome::Failed { .. } => Seen::New,
            _ => Seen::Known(stored.record),
        };
    }
    match stored.content {
        Some(first) if first != *content => Seen::Conflict,
        _ => Seen::Known(stored.record),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EventRecord;
    use crate::time::Time;

    fn digest(event: &str, data: &str) -> Sha256 {
        content_digest(event, &RawValue::from_string(data.to_owned()).unwrap())
    }

    #[test]
    fn the_digest_ignores_key_order_and_whitespace_only() {
        let base = digest("e", r#"{"a": 1, "b": {"y": [1, 2], "x": null}}"#);
        assert_eq!(base, digest("e", r#"{"b":{"x":null,"y":[1,2]},"a":1}"#));
        assert_ne!(base, digest("other", r#"{"a": 1, "b": {"y": [1, 2], "x": null}}"#), "another event");
        assert_ne!(base, digest("e", r#"{"a": 2, "b": {"y": [1, 2], "x": null}}"#), "another value");
        assert_ne!(base, digest("e", r#"{"a": 1, "b": {"y": [2, 1], "x": null}}"#), "array order counts");
        assert_ne!(digest("e", "1"), digest("e", "\"1\""), "a number is not a string");
    }

    fn stored(outcome: EventOutcome, content: Option<Sha256>) -> Option<StoredEvent> {
        let record = EventRecord {
            id: "x".into(),
            event: "e".into(),
            academy: "a".into(),
            received_at: Time::now(),
            deliveries: 0,
            outcome,
            follow_ups: Vec::new(),
        };
        Some(StoredEvent { record, content })
    }

    #[test]
    fn same_content_is_a_retry_other_content_a_conflict() {
        let (mine, other) = (digest("e", "{}"), digest("e", "[]"));
        assert!(matches!(judge(None, &mine, false), Seen::New));
        assert!(matches!(judge(stored(EventOutcome::Accepted, Some(mine)), &mine, false), Seen::Known(_)));
        assert!(matches!(judge(stored(EventOutcome::Accepted, Some(other)), &mine, false), Seen::Conflict));
        assert!(matches!(judge(stored(EventOutcome::Accepted, None), &mine, false), Seen::Known(_)), "no digest");
        let failed = || EventOutcome::Failed { error: "trap".into() };
        assert!(matches!(judge(stored(failed(), Some(other)), &mine, false), Seen::Conflict));
        assert!(matches!(judge(stored(failed(), Some(mine)), &mine, true), Seen::New), "a re-run replaces");
        assert!(matches!(judge(stored(EventOutcome::Accepted, Some(mine)), &mine, true), Seen::Known(_)));
    }

    #[test]
    fn a_stored_record_keeps_its_digest_and_a_version_2_record_reads_without_one() {
        let event = stored(EventOutcome::Skipped { reason: "r".into() }, Some(digest("e", "{}"))).unwrap();
        let bytes = serde_json::to_vec(&event).unwrap();
        assert_eq!(serde_json::from_slice::<StoredEvent>(&bytes).unwrap(), event);
        let v2 = serde_json::to_vec(&event.record).unwrap();
        assert_eq!(serde_json::from_slice::<StoredEvent>(&v2).unwrap(), StoredEvent { content: None, ..event });
    }
}
