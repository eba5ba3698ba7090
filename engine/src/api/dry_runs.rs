//! Dry runs: a plugin run on an event or a request exactly as the engine
//! would run it (same runtime, same limits), answering what it decided,
//! logged, took and used. Nothing is stored, delivered, or counted in the
//! plugin's metrics and circuit breaker.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{Body, PathParam, QueryParams, ScopedHook, Superadmin};
use super::samples::hook_sample;
use super::types;
use super::{ApiError, AppState};
use crate::runtime::{self, PluginInfo};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TestQuery {
    /// A version to test instead of the active one (0: the bundled one).
    version: Option<u32>,
}

/// The event of a dry run; without `data`, the event's catalogue sample.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestEvent {
    event: String,
    academy: Option<String>,
    data: Option<Value>,
}

/// `POST /v1/plugins/{name}/test[?version=N]` `{"event", "academy"?, "data"?}`:
/// runs the serializer on the event as ingestion would, under the plugin's
/// limits. Answers the decision, payload, follow-ups, the plugin's logs,
/// duration and peak memory.
#[utoipa::path(post, path = "/v1/plugins/{name}/test", operation_id = "test_serializer", params(("name" = String, Path), TestQuery),
    request_body = TestEvent, responses((status = 200, body = Object, description = "The dry run's report")))]
pub async fn serializer(
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
    let (version, plugin) = match query.version {
        Some(version) => (version, state.plugins.version(&name, version).await?),
        None => {
            let active =
                state.runtime.serializer(&name).ok_or_else(|| ApiError::not_found(&format!("Active plugin {name}")))?;
            (active.version().unwrap_or(0), active)
        }
    };
    let plugin = state.runtime.for_dry_run(&name, &plugin);
    let input = runtime::Event {
        id: format!("dry-run-{}", event.name),
        name: event.name.clone(),
        action: event.action.clone(),
        academy: input.academy,
        occurred_at: crate::time::Time::now().to_string(),
        data: data.to_string(),
    };
    let runtime = state.runtime.clone();
    let (info, limits) = (plugin.info().clone(), *plugin.limits());
    let call = tokio::task::spawn_blocking(move || runtime.serialize(&plugin, &input))
        .await
        .map_err(|e| ApiError::validation(format!("the dry run did not finish: {e}")))?;
    let mut report = call.report();
    report["plugin"] = describe(&info, Some(&name), Some(version));
    report["limits"] = json!(types::Limits::from(&limits));
    Ok(Json(report))
}

/// The transformer dry run's input; without `payload`, the hook's sample
/// (the last payload it received, else its event's catalogue sample through
/// the event's serializer).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestRequest {
    payload: Option<Value>,
}

/// `POST /v1/notify/hook/subscribe/{id}/transformer/test` `{"payload"?}`:
/// runs the hook's attached transformer on the request a delivery of the
/// payload would start from. Answers the request that would be signed and
/// sent, or the cancellation, with logs, duration and peak memory.
#[utoipa::path(post, path = "/v1/notify/hook/subscribe/{id}/transformer/test", operation_id = "test_transformer",
    params(("id" = u64, Path)), request_body = TestRequest, responses((status = 200, body = Object, description = "The dry run's report")))]
pub async fn transformer(
    State(state): State<AppState>,
    ScopedHook(hook): ScopedHook,
    Body(input): Body<TestRequest>,
) -> Result<Json<Value>, ApiError> {
    let attached = hook.transformer.as_ref().ok_or_else(|| ApiError::not_found("Transformer"))?;
    let payload = match input.payload {
        Some(payload) => payload,
        None => hook_sample(&state, &hook).await?,
    };
    let plugin = state.plugins.transformers().get(&attached.sha256).await?;
    let runtime = state.runtime.clone();
    let request = crate::delivery::headers::request(&hook, payload.to_string());
    let (academy, event, info) = (hook.academy.clone(), hook.settings.event.clone(), plugin.info().clone());
    let call = tokio::task::spawn_blocking(move || runtime.transform(&plugin, academy.as_deref(), &event, &request))
        .await
        .map_err(|e| ApiError::validation(format!("the dry run did not finish: {e}")))?;
    let mut report = call.report();
    report["plugin"] = describe(&info, None, None);
    report["limits"] = json!(types::Limits::from(state.runtime.limits()));
    Ok(Json(report))
}

/// Which plugin a dry run ran.
fn describe(info: &PluginInfo, name: Option<&str>, version: Option<u32>) -> Value {
    json!({"name": name, "version": version, "sha256": info.digest.hex(), "size": info.size})
}
