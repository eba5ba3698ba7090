//! Catalogue entries on the wire.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::catalog;
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

/// A catalogue event with everything derived.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventDef {
    pub name: String,
    pub action: String,
    /// First part of the action: `assignments`.
    pub app: String,
    /// `app.Model`: `assignments.Task`.
    pub model: String,
    /// Third part of the action without a trailing `+`: `assignment_created`.
    pub event_action: String,
    /// `event_action` de-slugified: `Assignment Created`.
    pub label: String,
    pub signal: String,
    pub sender: String,
    pub category: Option<String>,
    pub description: String,
    pub serializer: Option<String>,
    pub sample: Option<Value>,
    pub kind: EventKind,
}

impl From<catalog::EventDef> for EventDef {
    fn from(def: catalog::EventDef) -> Self {
        let catalog::EventDef {
            name,
            action,
            app,
            model,
            event_action,
            label,
            signal,
            sender,
            category,
            description,
            serializer,
            sample,
            kind,
        } = def;
        EventDef {
            name,
            action,
            app,
            model,
            event_action,
            label,
            signal,
            sender,
            category,
            description,
            serializer,
            sample,
            kind: kind.into(),
        }
    }
}

/// The three event types of seed 000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Type 1: a plain create/update/delete of a model (`created+`…).
    ModelEvent,
    /// Type 2: a custom signal, delivered through its serializer.
    CustomEvent,
    /// Type 3: custom logic (`auto_register = false`); the serializer plugin
    /// carries it (academy override, follow-up events).
    ManualReceiver,
}

impl From<catalog::EventKind> for EventKind {
    fn from(kind: catalog::EventKind) -> Self {
        match kind {
            catalog::EventKind::ModelEvent => EventKind::ModelEvent,
            catalog::EventKind::CustomEvent => EventKind::CustomEvent,
            catalog::EventKind::ManualReceiver => EventKind::ManualReceiver,
        }
    }
}
