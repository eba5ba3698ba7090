//! Catalogue files: TOML, one table per event keyed by its name, samples as
//! JSON text (see `default.toml`). A malformed file is refused with the
//! file, the line and the reason.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;

use super::EventDef;
use crate::model::EventSpec;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    #[serde(default)]
    events: BTreeMap<String, FileEvent>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEvent {
    action: String,
    category: Option<String>,
    description: String,
    serializer: Option<String>,
    /// JSON text.
    sample: Option<String>,
    #[serde(default = "crate::model::auto_register_default")]
    auto_register: bool,
    signal: Option<String>,
    sender: Option<String>,
}

/// Where and why a catalogue file is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct CatalogFileError {
    pub file: String,
    pub line: Option<usize>,
    pub reason: String,
}

impl fmt::Display for CatalogFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file, line, self.reason),
            None => write!(f, "{}: {}", self.file, self.reason),
        }
    }
}

impl CatalogFileError {
    pub(crate) fn read(path: &Path, error: &std::io::Error) -> Self {
        CatalogFileError { file: path.display().to_string(), line: None, reason: error.to_string() }
    }
}

/// Parses catalogue `text` (named `file` in errors).
pub(crate) fn parse(file: &str, text: &str) -> Result<Vec<EventDef>, CatalogFileError> {
    let error = |line: Option<usize>, reason: String| CatalogFileError { file: file.to_owned(), line, reason };
    let parsed: CatalogFile = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|span| line_of(text, span.start));
        error(line, e.message().to_owned())
    })?;
    parsed
        .events
        .into_iter()
        .map(|(name, event)| {
            let line = text.find(&format!("[events.\"{name}\"]")).map(|at| line_of(text, at));
            let sample = match event.sample {
                Some(json) => Some(
                    serde_json::from_str(&json)
                        .map_err(|e| error(line, format!("event {name:?}: sample is not valid JSON: {e}")))?,
                ),
                None => None,
            };
            let spec = EventSpec {
                name: name.clone(),
                action: event.action,
                category: event.category,
                description: event.description,
                serializer: event.serializer,
                sample,
                auto_register: event.auto_register,
                signal: event.signal,
                sender: event.sender,
            };
            EventDef::derive(spec).map_err(|e| error(line, format!("event {name:?}: {e}")))
        })
        .collect()
}

/// 1-based line number of byte offset `at`.
fn line_of(text: &str, at: usize) -> usize {
    text[..at.min(text.len())].bytes().filter(|&b| b == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_catalogue_has_every_seed_event() {
        let events = parse("built-in", super::super::DEFAULT_CATALOG).unwrap();
        assert_eq!(events.len(), 24, "23 seed events and the mentorship follow-up");
        let session = events.iter().find(|e| e.name == "session.mentorship_session_status").unwrap();
        assert_eq!(session.kind, super::super::EventKind::ManualReceiver);
        assert_eq!(session.serializer.as_deref(), Some("mentorship"));
        let edu = events.iter().find(|e| e.name == "cohort_user.edu_status_updated").unwrap();
        assert_eq!(edu.signal, "breathecode.admissions.signals.student_edu_status_updated");
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let text = "[events.\"a.b\"]\naction = \"x.Y.z\"\ndescription = 3\n";
        let error = parse("ops.toml", text).unwrap_err();
        assert_eq!((error.file.as_str(), error.line), ("ops.toml", Some(3)), "{error}");

        let text = "# header\n\n[events.\"a.b\"]\naction = \"not-an-action\"\ndescription = \"d\"\n";
        let error = parse("ops.toml", text).unwrap_err();
        assert_eq!(
            error.to_string(),
            "ops.toml:3: event \"a.b\": action \"not-an-action\" must have the form app.Model.event_action"
        );

        let text = "[events.\"a.b\"]\naction = \"x.Y.z\"\ndescription = \"d\"\nsample = '{oops'\n";
        assert!(parse("ops.toml", text).unwrap_err().reason.contains("sample is not valid JSON"));
    }
}
