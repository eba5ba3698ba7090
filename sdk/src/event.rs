use serde::de::DeserializeOwned;

use crate::Result;

/// One domain event, as the engine hands it to a serializer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Unique and stable across retries.
    pub id: String,
    /// Catalogue name, e.g. `assignment.assignment_created`.
    pub name: String,
    /// Catalogue action `app.Model.signal`.
    pub action: String,
    /// Slug of the academy the event belongs to.
    pub academy: Option<String>,
    /// When the event happened, RFC 3339.
    pub occurred_at: String,
    data: String,
}

impl Event {
    /// An event with this name and source object (JSON), for tests: the other
    /// fields get fixed placeholder values.
    pub fn new(name: impl Into<String>, data: impl Into<String>) -> Self {
        Event {
            id: "evt_test".into(),
            name: name.into(),
            action: String::new(),
            academy: None,
            occurred_at: "1970-01-01T00:00:00Z".into(),
            data: data.into(),
        }
    }

    /// Every field, as the engine fills them.
    pub fn from_parts(
        id: String,
        name: String,
        action: String,
        academy: Option<String>,
        occurred_at: String,
        data: String,
    ) -> Self {
        Event { id, name, action, academy, occurred_at, data }
    }

    /// Sets the academy, for tests.
    pub fn with_academy(mut self, academy: impl Into<String>) -> Self {
        self.academy = Some(academy.into());
        self
    }

    /// The source object parsed into `T`. Fields `T` does not declare are
    /// ignored, so a payload struct doubles as an allow-list.
    pub fn data<T: DeserializeOwned>(&self) -> Result<T> {
        Ok(serde_json::from_str(&self.data)?)
    }

    /// The source object as JSON text.
    pub fn raw_data(&self) -> &str {
        &self.data
    }
}
