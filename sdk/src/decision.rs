use serde::Serialize;

use crate::Result;

/// A serializer's verdict on one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Deliver nothing; the reason is recorded with the event.
    Skip(String),
    /// Deliver this payload.
    Deliver(Delivery),
}

impl Decision {
    /// Deliver `payload`, serialized to JSON, to the event's academy's hooks.
    pub fn deliver<T: Serialize + ?Sized>(payload: &T) -> Result<Decision> {
        Ok(Decision::Deliver(Delivery::new(payload)?))
    }

    /// Deliver nothing, for this reason.
    pub fn skip(reason: impl Into<String>) -> Decision {
        Decision::Skip(reason.into())
    }
}

impl From<Delivery> for Decision {
    fn from(delivery: Delivery) -> Self {
        Decision::Deliver(delivery)
    }
}

/// A payload to deliver, where to, and the follow-up events it triggers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    payload: String,
    academy_override: Option<String>,
    emit: Vec<FollowUp>,
}

impl Delivery {
    /// A delivery of `payload`, serialized to JSON.
    pub fn new<T: Serialize + ?Sized>(payload: &T) -> Result<Delivery> {
        Ok(Delivery::from_json(serde_json::to_string(payload)?))
    }

    /// A delivery of a payload that is already JSON text. The engine checks
    /// it is valid JSON and refuses the event otherwise.
    pub fn from_json(payload: String) -> Delivery {
        Delivery { payload, academy_override: None, emit: Vec::new() }
    }

    /// Deliver to this academy's hooks instead of the event's academy's
    /// (e.g. the mentor's academy for a mentorship session).
    pub fn academy_override(mut self, academy: impl Into<String>) -> Self {
        self.academy_override = Some(academy.into());
        self
    }

    /// Also ingest this follow-up event.
    pub fn emit(mut self, follow_up: FollowUp) -> Self {
        self.emit.push(follow_up);
        self
    }

    /// The payload, as JSON text.
    pub fn payload(&self) -> &str {
        &self.payload
    }

    /// The academy the payload goes to instead of the event's, if any.
    pub fn academy(&self) -> Option<&str> {
        self.academy_override.as_deref()
    }

    /// The follow-up events to ingest.
    pub fn follow_ups(&self) -> &[FollowUp] {
        &self.emit
    }

    #[cfg(target_arch = "wasm32")]
    pub(crate) fn into_parts(self) -> (String, Option<String>, Vec<FollowUp>) {
        (self.payload, self.academy_override, self.emit)
    }
}

/// A new event a serializer asks the engine to ingest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowUp {
    /// Catalogue name of the new event.
    pub name: String,
    /// Its academy; `None` keeps the current event's.
    pub academy: Option<String>,
    /// Its source object, as JSON text.
    pub data: String,
}

impl FollowUp {
    /// A follow-up event `name` whose source object is `data`.
    pub fn new<T: Serialize + ?Sized>(name: impl Into<String>, data: &T) -> Result<FollowUp> {
        Ok(FollowUp { name: name.into(), academy: None, data: serde_json::to_string(data)? })
    }

    /// Sets the follow-up's academy.
    pub fn academy(mut self, academy: impl Into<String>) -> Self {
        self.academy = Some(academy.into());
        self
    }
}
