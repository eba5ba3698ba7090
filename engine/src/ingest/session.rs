//! Session coalescing (seed 003): within one batch, changes to the same
//! object (same model and `id`) collapse into what a receiver needs to
//! know at the end of the session:
//!
//! * created, then deleted → nothing;
//! * created, then updated → one `created` carrying the last data;
//! * updated several times → one update with the last data;
//! * updated, then deleted → the deletion.
//!
//! Only plain model events (`created+`, `updated+`, `deleted+`) coalesce;
//! other events pass through in order.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use serde_json::value::RawValue;

use crate::catalog::{EventDef, EventKind};
use crate::names::EventId;

/// One resolved item of a batch.
#[derive(Debug, Clone)]
pub struct Item {
    pub event: Arc<EventDef>,
    /// The source object as posted: kept as text, since the serializer
    /// takes it as text and only coalescing looks inside (for its `id`).
    pub data: Box<RawValue>,
    pub id: Option<EventId>,
    /// Where it was in its request (`events[index]`), for error messages.
    pub index: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Created,
    Updated,
    Deleted,
}

fn change(event: &EventDef) -> Option<Change> {
    if event.kind != EventKind::ModelEvent {
        return None;
    }
    match event.event_action.as_str() {
        "created" => Some(Change::Created),
        "updated" => Some(Change::Updated),
        "deleted" => Some(Change::Deleted),
        _ => None,
    }
}

/// The object an item changes: its model and `data.id`.
fn object(item: &Item) -> Option<(String, String)> {
    #[derive(serde::Deserialize)]
    struct Object {
        id: Option<Value>,
    }
    change(&item.event)?;
    let object: Object = serde_json::from_str(item.data.get()).ok()?;
    let id = match object.id? {
        Value::String(s) => s,
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    Some((item.event.model.clone(), id))
}

/// Coalesces `items`, keeping the order in which objects first appear.
pub fn coalesce(items: Vec<Item>) -> Vec<Item> {
    let mut slots: Vec<Option<(Item, Option<Change>)>> = Vec::with_capacity(items.len());
    let mut by_object: HashMap<(String, String), usize> = HashMap::new();
    for item in items {
        let Some(key) = object(&item) else {
            slots.push(Some((item, None)));
            continue;
        };
        let incoming = change(&item.event);
        let Some(&index) = by_object.get(&key) else {
            by_object.insert(key, slots.len());
            slots.push(Some((item, incoming)));
            continue;
        };
        let slot = &mut slots[index];
        let Some((kept, state)) = slot.as_mut() else {
            // The object was created and deleted: a new change starts afresh.
            by_object.insert(key, slots.len());
            slots.push(Some((item, incoming)));
            continue;
        };
        match (*state, incoming) {
            (Some(Change::Created), Some(Change::Deleted)) => *slot = None,
            (Some(Change::Created), _) => kept.data = item.data,
            (_, _) => {
                *kept = item;
                *state = incoming;
            }
        }
    }
    slots.into_iter().flatten().map(|(item, _)| item).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EventSpec;

    fn event(action: &str) -> Arc<EventDef> {
        let spec = EventSpec::for_test(&action.to_lowercase().replace('+', ""), action);
        Arc::new(EventDef::derive(spec).unwrap())
    }

    fn item(action: &str, data: Value) -> Item {
        Item { event: event(action), data: serde_json::value::to_raw_value(&data).unwrap(), id: None, index: 0 }
    }

    fn summary(items: &[Item]) -> Vec<(String, Value)> {
        items.iter().map(|i| (i.event.event_action.clone(), serde_json::from_str(i.data.get()).unwrap())).collect()
    }

    #[test]
    fn the_three_session_rules() {
        use serde_json::json;
        let items = vec![
            item("app.User.created+", json!({"id": 1, "v": 1})),
            item("app.User.updated+", json!({"id": 1, "v": 2})),
            item("app.User.created+", json!({"id": 2})),
            item("app.User.deleted+", json!({"id": 2})),
            item("app.User.updated+", json!({"id": 3, "v": 1})),
            item("app.User.custom_signal", json!({"id": 3})),
            item("app.User.updated+", json!({"id": 3, "v": 2})),
            item("app.Task.updated+", json!({"id": 3, "v": 9})),
            item("app.User.updated+", json!({"id": 4})),
            item("app.User.deleted+", json!({"id": 4})),
        ];
        assert_eq!(
            summary(&coalesce(items)),
            vec![
                ("created".into(), json!({"id": 1, "v": 2})),
                ("updated".into(), json!({"id": 3, "v": 2})),
                ("custom_signal".into(), json!({"id": 3})),
                ("updated".into(), json!({"id": 3, "v": 9})),
                ("deleted".into(), json!({"id": 4})),
            ]
        );
    }
}
