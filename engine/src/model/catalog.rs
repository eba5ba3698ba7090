//! The event catalogue as written: one entry per event name.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One event as an operator or a superadmin writes it; everything else is
/// derived (see `catalog::EventDef`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSpec {
    /// What hooks subscribe to, e.g. `assignment.assignment_created`.
    pub name: String,
    /// `app.Model.event_action`; `created+`/`updated+`/`deleted+` mark plain
    /// model events.
    pub action: String,
    #[serde(default)]
    pub category: Option<String>,
    pub description: String,
    /// The serializer plugin; `None`: the source object is delivered as is.
    #[serde(default)]
    pub serializer: Option<String>,
    /// An example source object.
    #[serde(default)]
    pub sample: Option<Value>,
    /// `false` marks custom-logic events ("manual receivers").
    #[serde(default = "auto_register_default")]
    pub auto_register: bool,
    /// Overrides the signal path derived from the action.
    #[serde(default)]
    pub signal: Option<String>,
    /// Overrides the sender path derived from the action.
    #[serde(default)]
    pub sender: Option<String>,
}

/// Events register automatically unless their entry says otherwise.
pub fn auto_register_default() -> bool {
    true
}

#[cfg(test)]
impl EventSpec {
    /// A minimal valid spec, for tests.
    pub(crate) fn for_test(name: &str, action: &str) -> EventSpec {
        EventSpec {
            name: name.into(),
            action: action.into(),
            category: None,
            description: "d".into(),
            serializer: None,
            sample: None,
            auto_register: true,
            signal: None,
            sender: None,
        }
    }
}
