//! Catalogue entries on the wire.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{self, auto_register_default};

/// One event as an operator or a superadmin writes it; everything else is
/// derived.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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

impl From<EventSpec> for model::EventSpec {
    fn from(spec: EventSpec) -> Self {
        let EventSpec { name, action, category, description, serializer, sample, auto_register, signal, sender } = spec;
        model::EventSpec { name, action, category, description, serializer, sample, auto_register, signal, sender }
    }
}
