//! Serializer plugins at run time (superadmins): upload a version, list
//! them, switch the active one. A switch takes effect for the next event;
//! events already being serialized finish on the version they started with.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::extract::{Body, PathParam, QueryParams, Superadmin};
use super::{ApiError, AppState};
use crate::bundled::{self, BUNDLED};
use crate::runtime::{self, Digest, World};
use crate::store::PluginVersion;

/// A plugin name: what catalogue entries refer to.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 100 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `POST /v1/plugins/{name}` with the component as the raw body: checked
/// (it compiles and implements `serializer`), stored as the next version.
pub async fn upload(
    State(state): State<AppState>,
    _: Superadmin,
    PathParam(name): PathParam<String>,
    bytes: Bytes,
) -> Result<(StatusCode, Json<PluginVersion>), ApiError> {
    if !valid_name(&name) {
        return Err(ApiError::validation(format!("{name:?} is not a plugin name (letters, digits, '-', '_')")));
    }
    let runtime = state.runtime.clone();
    let (label, component) = (name.clone(), bytes.clone());
    tokio::task::spawn_blocking(move || runtime.load_serializer(&label, &component))
        .await
        .map_err(|e| ApiError::validation(format!("the component could not be checked: {e}")))?
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid-plugin", e.to_string()))?;
    let version = state.store.add_plugin_version(&name, Digest::of(&bytes).hex(), &bytes)?;
    tracing::info!(plugin = %name, version = version.version, sha256 = %version.sha256, "plugin version uploaded");
    Ok((StatusCode::CREATED, Json(version)))
}

#[derive(Serialize)]
pub struct PluginView {
    name: String,
    /// Version 0 exists: the plugin bundled in the binary.
    bundled: bool,
    active_version: Option<u32>,
    versions: Vec<PluginVersion>,
}

/// `GET /v1/plugins`: bundled serializers and every uploaded version.
pub async fn list(State(state): State<AppState>, _: Superadmin) -> Result<Json<Vec<PluginView>>, ApiError> {
    let mut plugins: BTreeMap<String, PluginView> = BTreeMap::new();
    for plugin in BUNDLED.iter().filter(|p| p.world == World::Serializer) {
        plugins.insert(
            plugin.name.to_owned(),
            PluginView { name: plugin.name.to_owned(), bundled: true, active_version: Some(0), versions: Vec::new() },
        );
    }
    for version in state.store.plugin_versions()? {
        let view = plugins.entry(version.name.clone()).or_insert_with(|| PluginView {
            name: version.name.clone(),
            bundled: false,
            active_version: None,
            versions: Vec::new(),
        });
        if version.active {
            view.active_version = Some(version.version);
        }
        view.versions.push(version);
    }
    Ok(Json(plugins.into_values().collect()))
}

/// The bytes of version `version` of plugin `name` (0: the bundled one).
fn version_bytes(state: &AppState, name: &str, version: u32) -> Result<Vec<u8>, ApiError> {
    let bytes = if version == 0 {
        bundled::find(name).filter(|p| p.world == World::Serializer).map(|p| p.wasm.to_vec())
    } else {
        let versions = state.store.plugin_versions()?;
        match versions.iter().find(|v| v.name == name && v.version == version) {
            Some(record) => state.store.plugin_blob(&record.sha256)?,
            None => None,
        }
    };
    bytes.ok_or_else(|| ApiError::not_found(&format!("Version {version} of plugin {name}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Activate {
    version: u32,
}

/// `POST /v1/plugins/{name}/activate {"version": N}` (0: the bundled one).
/// Rolling back is the same call with an older version.
pub async fn activate(
    State(state): State<AppState>,
    _: Superadmin,
    PathParam(name): PathParam<String>,
    Body(Activate { version }): Body<Activate>,
) -> Result<Json<PluginView>, ApiError> {
    let bytes = version_bytes(&state, &name, version)?;
    let runtime = state.runtime.clone();
    let label = format!("{name}@{version}");
    let plugin = tokio::task::spawn_blocking(move || runtime.load_serializer(&label, &bytes))
        .await
        .map_err(|e| ApiError::validation(format!("the component could not be loaded: {e}")))?
        .map_err(|e| ApiError::new(StatusCode::CONFLICT, "invalid-plugin", e.to_string()))?;
    let versions = state
        .store
        .activate_plugin_version(&name, version)?
        .ok_or_else(|| ApiError::not_found(&format!("Version {version} of plugin {name}")))?;
    state.runtime.activate(&name, plugin);
    tracing::info!(plugin = %name, version, "plugin version activated");
    Ok(Json(PluginView { bundled: bundled::find(&name).is_some(), name, active_version: Some(version), versions }))
}

#[derive(Deserialize)]
pub struct TestQuery {
    /// A version to test instead of the active one (0: the bundled one).
    version: Option<u32>,
}

/// The event of a dry run; without `data`, the event's catalogue sample.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestEvent {
    event: String,
    academy: Option<String>,
    data: Option<Value>,
}

/// `POST /v1/plugins/{name}/test[?version=N]` `{"event", "academy"?, "data"?}`:
/// runs the plugin on the event exactly as ingestion would, and delivers
/// nothing. Answers the decision, payload, follow-ups, the plugin's logs,
/// duration and peak memory.
pub async fn test(
    State(state): State<AppState>,
    _: Superadmin,
    PathParam(name): PathParam<String>,
    QueryParams(query): QueryParams<TestQuery>,
    Body(input): Body<TestEvent>,
) -> Result<Json<Value>, ApiError> {
    let catalog = state.catalog();
    let event = catalog.get(&input.event).ok_or_else(|| ApiError::invalid_event(&input.event))?;
    let data = input
        .data
        .or_else(|| event.sample.clone())
        .ok_or_else(|| ApiError::validation("no data, and the event has no sample"))?;
    let plugin = match query.version {
        Some(version) => {
            let bytes = version_bytes(&state, &name, version)?;
            let runtime = state.runtime.clone();
            let label = format!("{name}@{version}");
            tokio::task::spawn_blocking(move || runtime.load_serializer(&label, &bytes))
                .await
                .map_err(|e| ApiError::validation(format!("the component could not be loaded: {e}")))?
                .map_err(|e| ApiError::new(StatusCode::CONFLICT, "invalid-plugin", e.to_string()))?
        }
        None => state.runtime.serializer(&name).ok_or_else(|| ApiError::not_found(&format!("Active plugin {name}")))?,
    };
    let input = runtime::Event {
        id: format!("dry-run-{}", event.name),
        name: event.name.clone(),
        action: event.action.clone(),
        academy: input.academy,
        occurred_at: crate::time::Time::now().to_string(),
        data: data.to_string(),
    };
    let runtime = state.runtime.clone();
    let info = plugin.info().clone();
    let call = tokio::task::spawn_blocking(move || runtime.serialize(&plugin, &input))
        .await
        .map_err(|e| ApiError::validation(format!("the dry run did not finish: {e}")))?;
    let mut report = call.report();
    report["plugin"] = serde_json::json!({"name": name, "sha256": info.digest.hex(), "size": info.size});
    Ok(Json(report))
}
