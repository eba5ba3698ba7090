//! The payload fixtures of the bundled plugins, as the runtime's events,
//! for these end-to-end tests and benchmarks (what they share with the
//! engine's tests is in `wasmhook-testkit`).

use std::path::Path;

use serde_json::Value;
use wasmhook::runtime::Event;
use wasmhook_testkit::workspace_root;

/// One documented payload: a source object, what a bundled serializer must
/// make of it (seed 001's payload, verbatim) and the secrets it must drop.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// The bundled plugin (its directory under `plugins/`).
    pub plugin: String,
    pub event: String,
    pub academy: String,
    pub source: Value,
    pub payload: Value,
    pub secrets: Vec<String>,
    pub academy_override: Option<String>,
    pub follow_ups: Vec<String>,
}

impl Fixture {
    /// The event handed to the serializer.
    pub fn event(&self) -> Event {
        Event {
            id: format!("evt_{}", self.event),
            name: self.event.clone(),
            action: String::new(),
            academy: Some(self.academy.clone()),
            occurred_at: "2025-01-20T15:00:00Z".into(),
            data: self.source.to_string(),
        }
    }
}

/// Every fixture under `plugins/*/fixtures/`, sorted by event name.
pub fn fixtures() -> Vec<Fixture> {
    let plugins = workspace_root().join("plugins");
    let mut fixtures = Vec::new();
    for plugin in std::fs::read_dir(&plugins).expect("plugins/") {
        let dir = plugin.expect("plugins/ entry").path().join("fixtures");
        let Ok(files) = std::fs::read_dir(&dir) else { continue };
        for file in files {
            let path = file.expect("fixture entry").path();
            fixtures.push(read_fixture(&path));
        }
    }
    fixtures.sort_by(|a, b| a.event.cmp(&b.event));
    fixtures
}

fn read_fixture(path: &Path) -> Fixture {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let json: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let string = |key: &str| json[key].as_str().unwrap_or_else(|| panic!("{}: no {key}", path.display())).to_owned();
    let strings = |key: &str| {
        json.get(key)
            .and_then(Value::as_array)
            .map_or_else(Vec::new, |a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
    };
    let plugin_dir = path.parent().and_then(Path::parent).expect("plugins/<name>/fixtures/<file>");
    Fixture {
        plugin: plugin_dir.file_name().expect("plugin dir name").to_string_lossy().into_owned(),
        event: string("event"),
        academy: string("academy"),
        source: json["source"].clone(),
        payload: json["payload"].clone(),
        secrets: strings("secrets"),
        academy_override: json.get("academy_override").and_then(Value::as_str).map(str::to_owned),
        follow_ups: strings("follow_ups"),
    }
}
