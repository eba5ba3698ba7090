//! Serializer plugins at run time (superadmins): upload a version, list
//! them, show one with its metrics, switch the active one, set its limits,
//! delete it, re-run its parked events. A switch takes effect for the next
//! event; events already being serialized finish on the version they
//! started with; events parked after a failure of the plugin are ingested
//! again (`ingest/parked.rs`).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::extract::{Body, PathParam, Superadmin, Upload};
use super::types::{LimitOverrides, PluginDetail, PluginVersion, PluginView, RetryQueued, VersionDetail, wire};
use super::{ApiError, AppState};
use crate::app::plugins::bundled_serializer;
use crate::bundled::{self, BUNDLED};
use crate::runtime::{Digest, World};
use crate::time::Time;

/// A plugin name: what catalogue entries refer to.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 100 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `POST /v1/plugins/{name}` with the component as the raw body: checked
/// (it compiles and implements `serializer`), stored as the next version.
/// The name's tripped breakers close: the upload may be the fix.
#[utoipa::path(post, path = "/v1/plugins/{name}", operation_id = "upload_plugin", params(("name" = String, Path)),
    request_body(content_type = "application/wasm", description = "The component"), responses((status = 201, body = PluginVersion)))]
pub async fn upload(
    State(state): State<AppState>,
    _: Superadmin,
    PathParam(name): PathParam<String>,
    Upload { bytes, .. }: Upload,
) -> Result<(StatusCode, Json<PluginVersion>), ApiError> {
    if !valid_name(&name) {
        return Err(ApiError::validation(format!("{name:?} is not a plugin name (letters, digits, '-', '_')")));
    }
    let version = state.plugins.upload(&name, bytes.to_vec()).await?;
    Ok((StatusCode::CREATED, Json(version.into())))
}

/// `GET /v1/plugins`: bundled serializers and every uploaded version.
#[utoipa::path(get, path = "/v1/plugins", operation_id = "list_plugins", responses((status = 200, body = Vec<PluginView>)))]
pub async fn list(State(state): State<AppState>, _: Superadmin) -> Result<Json<Vec<PluginView>>, ApiError> {
    let mut plugins: BTreeMap<String, PluginView> = BTreeMap::new();
    for plugin in BUNDLED.iter().filter(|p| p.world == World::Serializer) {
        plugins.insert(
            plugin.name.to_owned(),
            PluginView { name: plugin.name.to_owned(), bundled: true, active_version: Some(0), versions: Vec::new() },
        );
    }
    for version in state.store.plugin_versions().await? {
        let view = plugins.entry(version.name.clone()).or_insert_with(|| PluginView {
            name: version.name.clone(),
            bundled: false,
            active_version: None,
            versions: Vec::new(),
        });
        if version.active {
            view.active_version = Some(version.version);
        }
        view.versions.push(version.into());
    }
    Ok(Json(plugins.into_values().collect()))
}

/// `GET /v1/plugins/{name}`.
#[utoipa::path(get, path = "/v1/plugins/{name}", operation_id = "show_plugin", params(("name" = String, Path)),
    responses((status = 200, body = PluginDetail)))]
pub async fn show(
    State(state): State<AppState>,
    _: Superadmin,
    PathParam(name): PathParam<String>,
) -> Result<Json<PluginDetail>, ApiError> {
    let bundled = bundled_serializer(&name);
    let uploaded = state.store.plugin_versions_of(&name).await?;
    if bundled.is_none() && uploaded.is_empty() {
        return Err(ApiError::not_found(&format!("Plugin {name}")));
    }
    let active_version = state.runtime.serializer(&name).and_then(|p| p.version());
    let detail = |version: u32, sha256: String, size: usize, uploaded_at: Option<Time>| VersionDetail {
        version,
        sha256,
        size,
        uploaded_at,
        active: active_version == Some(version),
        health: state.runtime.health(&name, version).unwrap_or_default().into(),
    };
    let mut versions: Vec<VersionDetail> =
        bundled.map(|p| detail(0, Digest::of(p.wasm).hex(), p.wasm.len(), None)).into_iter().collect();
    versions.extend(uploaded.into_iter().map(|v| detail(v.version, v.sha256, v.size, Some(v.uploaded_at))));
    let limit_overrides = state
        .store
        .plugin_limits()
        .await?
        .into_iter()
        .find(|l| l.name == name)
        .map(|l| l.limits.into())
        .unwrap_or_default();
    Ok(Json(PluginDetail {
        bundled: bundled.is_some(),
        active_version,
        limit_overrides,
        limits: (&state.runtime.limits_of(&name)).into(),
        max_limits: state.runtime.max_limits().into(),
        parked: state.store.parked_count(&name).await?,
        versions,
        name,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Activate {
    version: u32,
}

/// `POST /v1/plugins/{name}/activate {"version": N}` (0: the bundled one).
/// Rolling back is the same call with an older version. The version's
/// breaker closes, and the plugin's parked events are re-run in the
/// background.
#[utoipa::path(post, path = "/v1/plugins/{name}/activate", operation_id = "activate_plugin", params(("name" = String, Path)),
    request_body = Activate, responses((status = 200, body = PluginView)))]
pub async fn activate(
    State(state): State<AppState>,
    _: Superadmin,
    PathParam(name): PathParam<String>,
    Body(Activate { version }): Body<Activate>,
) -> Result<Json<PluginView>, ApiError> {
    let versions = state.plugins.activate(&name, version).await?;
    state.retrier.request(&name, None);
    Ok(Json(PluginView {
        bundled: bundled::find(&name).is_some(),
        name,
        active_version: Some(version),
        versions: wire(versions),
    }))
}

/// `PUT /v1/plugins/{name}/limits` `{"deadline_ms"?, "max_memory"?,
/// "max_input"?, "max_output"?}`: the plugin's own limits, for all its
/// versions, from its next call; a field left out (or `{}`) is the engine's
/// default; above the operator's maxima is refused.
#[utoipa::path(put, path = "/v1/plugins/{name}/limits", params(("name" = String, Path)), request_body = LimitOverrides,
    responses((status = 200, body = PluginDetail)))]
pub async fn set_limits(
    State(state): State<AppState>,
    _: Superadmin,
    PathParam(name): PathParam<String>,
    Body(overrides): Body<LimitOverrides>,
) -> Result<Json<PluginDetail>, ApiError> {
    state.plugins.set_limits(&name, overrides.into()).await?;
    show(State(state), Superadmin, PathParam(name)).await
}

/// `POST /v1/plugins/{name}/retry-failed`: queues a re-run, now, of the
/// events parked after a failure of the plugin (normally done when a
/// version is activated, the event rebound or the breaker closes); they go
/// through whatever the catalogue binds their event to, in the background.
#[utoipa::path(post, path = "/v1/plugins/{name}/retry-failed", params(("name" = String, Path)),
    responses((status = 202, body = RetryQueued)))]
pub async fn retry_failed(
    State(state): State<AppState>,
    _: Superadmin,
    PathParam(name): PathParam<String>,
) -> Result<(StatusCode, Json<RetryQueued>), ApiError> {
    let queued = state.store.parked_count(&name).await?;
    if queued == 0 && !state.plugins.exists(&name).await? {
        return Err(ApiError::not_found(&format!("Plugin {name}")));
    }
    state.retrier.request(&name, None);
    tracing::info!(plugin = %name, queued, "re-run of parked events requested");
    Ok((StatusCode::ACCEPTED, Json(RetryQueued { plugin: name, queued })))
}

/// `DELETE /v1/plugins/{name}`: deletes the uploaded versions. Refused
/// (409) while a catalogue event names the plugin, and for a bundled
/// plugin, whose version 0 is part of the binary.
#[utoipa::path(delete, path = "/v1/plugins/{name}", operation_id = "delete_plugin", params(("name" = String, Path)),
    responses((status = 204)))]
pub async fn delete(
    State(state): State<AppState>,
    _: Superadmin,
    PathParam(name): PathParam<String>,
) -> Result<StatusCode, ApiError> {
    state.plugins.delete(&name, &state.catalog).await?;
    Ok(StatusCode::NO_CONTENT)
}
