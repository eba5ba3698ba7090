//! What seed 000 derives from an action string `app.Model.event_action`.

use serde_json::Value;

use crate::model::EventSpec;

/// A catalogue event with everything derived.
#[derive(Debug, Clone, PartialEq)]
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

/// The three event types of seed 000.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// Type 1: a plain create/update/delete of a model (`created+`…).
    ModelEvent,
    /// Type 2: a custom signal, delivered through its serializer.
    CustomEvent,
    /// Type 3: custom logic (`auto_register = false`); the serializer plugin
    /// carries it (academy override, follow-up events).
    ManualReceiver,
}

/// Why a spec is not a valid catalogue event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("event name {0:?} must be 1 to 200 characters of letters, digits, '_', '-' and '.'")]
    Name(String),
    #[error("action {0:?} must have the form app.Model.event_action")]
    Action(String),
    #[error("description must not be empty")]
    Description,
}

impl EventDef {
    /// The spec this event derives from, with its derived signal and sender
    /// written out: what is stored when the event is changed at run time.
    pub fn spec(&self) -> EventSpec {
        EventSpec {
            name: self.name.clone(),
            action: self.action.clone(),
            category: self.category.clone(),
            description: self.description.clone(),
            serializer: self.serializer.clone(),
            sample: self.sample.clone(),
            auto_register: self.kind != EventKind::ManualReceiver,
            signal: Some(self.signal.clone()),
            sender: Some(self.sender.clone()),
        }
    }

    /// Validates `spec` and derives the rest.
    pub fn derive(spec: EventSpec) -> Result<EventDef, SpecError> {
        let valid_name = |s: &str| {
            !s.is_empty() && s.len() <= 200 && s.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
        };
        if !valid_name(&spec.name) {
            return Err(SpecError::Name(spec.name));
        }
        let parts: Vec<&str> = spec.action.split('.').collect();
        let [app, model, signal] = parts[..] else { return Err(SpecError::Action(spec.action)) };
        let event_action = signal.strip_suffix('+').unwrap_or(signal);
        if [app, model, event_action].iter().any(|p| !valid_name(p)) {
            return Err(SpecError::Action(spec.action));
        }
        if spec.description.trim().is_empty() {
            return Err(SpecError::Description);
        }
        let event_action = event_action.to_owned();
        let kind = if !spec.auto_register {
            EventKind::ManualReceiver
        } else if signal.ends_with('+') {
            EventKind::ModelEvent
        } else {
            EventKind::CustomEvent
        };
        let default_signal = match (kind, event_action.as_str()) {
            (EventKind::ModelEvent, "deleted") => "django.db.models.signals.post_delete".to_owned(),
            (EventKind::ModelEvent, _) => "django.db.models.signals.post_save".to_owned(),
            _ => format!("breathecode.{app}.signals.{event_action}"),
        };
        Ok(EventDef {
            app: app.to_owned(),
            model: format!("{app}.{model}"),
            label: label(&event_action),
            signal: spec.signal.unwrap_or(default_signal),
            sender: spec.sender.unwrap_or_else(|| format!("breathecode.{app}.models.{model}")),
            event_action,
            name: spec.name,
            action: spec.action,
            category: spec.category,
            description: spec.description,
            serializer: spec.serializer,
            sample: spec.sample,
            kind,
        })
    }
}

/// `assignment_created` → `Assignment Created`.
fn label(event_action: &str) -> String {
    event_action
        .split(['_', '-'])
        .filter(|word| !word.is_empty())
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map(|first| first.to_uppercase().chain(chars).collect::<String>()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(action: &str) -> EventSpec {
        EventSpec::for_test("x.y", action)
    }

    #[test]
    fn derives_everything_from_the_action() {
        let event = EventDef::derive(spec("assignments.Task.assignment_created")).unwrap();
        assert_eq!(event.app, "assignments");
        assert_eq!(event.model, "assignments.Task");
        assert_eq!(event.event_action, "assignment_created");
        assert_eq!(event.label, "Assignment Created");
        assert_eq!(event.signal, "breathecode.assignments.signals.assignment_created");
        assert_eq!(event.sender, "breathecode.assignments.models.Task");
        assert_eq!(event.kind, EventKind::CustomEvent);
    }

    #[test]
    fn plus_marks_model_events() {
        let event = EventDef::derive(spec("admissions.CohortUser.created+")).unwrap();
        assert_eq!((event.event_action.as_str(), event.label.as_str()), ("created", "Created"));
        assert_eq!(event.kind, EventKind::ModelEvent);
        assert_eq!(event.signal, "django.db.models.signals.post_save");
        let deleted = EventDef::derive(spec("admissions.CohortUser.deleted+")).unwrap();
        assert_eq!(deleted.signal, "django.db.models.signals.post_delete");
    }

    #[test]
    fn explicit_signal_and_manual_receivers() {
        let mut s = spec("mentorship.MentorshipSession.mentorship_session_status");
        s.auto_register = false;
        s.signal = Some("custom.path".into());
        let event = EventDef::derive(s).unwrap();
        assert_eq!(event.kind, EventKind::ManualReceiver);
        assert_eq!(event.signal, "custom.path");
    }

    #[test]
    fn malformed_actions_are_refused() {
        for action in ["", "a.b", "a.b.c.d", "a..c", "a.b.+", "a b.c.d"] {
            assert_eq!(EventDef::derive(spec(action)), Err(SpecError::Action(action.into())), "{action:?}");
        }
    }
}
