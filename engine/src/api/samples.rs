//! Sample payloads (seed 001 `/hook/sample`): what a hook received last,
//! else what its event's catalogue sample becomes through the event's
//! serializer plugin, so integrators see real shapes before subscribing.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::Value;

use super::extract::{HookScope, QueryParams, ScopedHook};
use super::hooks::HookFilters;
use super::{ApiError, AppState};
use crate::catalog::EventDef;
use crate::model::Hook;
use crate::runtime::{Decision, Event};

/// `GET /v1/notify/hook/{id}/sample`.
#[utoipa::path(get, path = "/v1/notify/hook/{id}/sample", operation_id = "hook_sample", params(("id" = u64, Path)),
    responses((status = 200, body = Object, description = "A payload")))]
pub async fn by_hook(State(state): State<AppState>, ScopedHook(hook): ScopedHook) -> Result<Json<Value>, ApiError> {
    hook_sample(&state, &hook).await.map(Json)
}

/// `GET /v1/notify/hook/sample?event=&service_id=&like=`: the sample of the
/// first of the caller's hooks that matches; with no such hook, the
/// catalogue sample of the first named event.
#[utoipa::path(get, path = "/v1/notify/hook/sample", operation_id = "sample", params(HookFilters),
    responses((status = 200, body = Object, description = "A payload")))]
pub async fn by_filter(
    State(state): State<AppState>,
    HookScope(scope): HookScope,
    QueryParams(filters): QueryParams<HookFilters>,
) -> Result<Json<Value>, ApiError> {
    if !filters.selects() {
        return Err(ApiError::validation("Please include some filter in the URL"));
    }
    let catalog = state.catalog();
    let hooks = state.store.hooks(&scope);
    if let Some(hook) = hooks.iter().find(|hook| filters.matches(hook, &catalog)) {
        return hook_sample(&state, hook).await.map(Json);
    }
    let event = filters
        .events()
        .into_iter()
        .flatten()
        .find_map(|name| catalog.get(name))
        .ok_or_else(|| ApiError::not_found("Sample"))?;
    catalog_sample(&state, event).await.map(Json)
}

/// What `hook` received last, else its event's catalogue sample through
/// the event's serializer.
pub(super) async fn hook_sample(state: &AppState, hook: &Hook) -> Result<Value, ApiError> {
    if let Some(payload) = state.store.hook_sample(hook.id).await? {
        return serde_json::from_str(&payload).map_err(|_| ApiError::not_found("Sample"));
    }
    let catalog = state.catalog();
    let event = catalog.get(&hook.settings.event).ok_or_else(|| ApiError::not_found("Sample"))?;
    catalog_sample(state, event).await
}

/// The event's sample source object, serialized as a delivery would be.
async fn catalog_sample(state: &AppState, event: &EventDef) -> Result<Value, ApiError> {
    let sample = event.sample.clone().ok_or_else(|| ApiError::not_found("Sample"))?;
    let Some(plugin_name) = &event.serializer else { return Ok(sample) };
    let unavailable = |detail: String| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "plugin-unavailable", detail);
    let plugin = state
        .runtime
        .serializer(plugin_name)
        .ok_or_else(|| unavailable(format!("Serializer {plugin_name} is not loaded")))?;
    let input = Event {
        id: format!("sample-{}", event.name),
        name: event.name.clone(),
        action: event.action.clone(),
        academy: None,
        occurred_at: "1970-01-01T00:00:00Z".into(),
        data: sample.to_string(),
    };
    let runtime = state.runtime.clone();
    let call = tokio::task::spawn_blocking(move || runtime.serialize(&plugin, &input))
        .await
        .map_err(|e| unavailable(format!("Serializer {plugin_name} did not finish: {e}")))?;
    match call.result {
        Ok(Decision::Deliver(delivery)) => {
            Ok(serde_json::from_str(&delivery.payload).expect("the runtime validates payloads"))
        }
        Ok(Decision::Skip { reason }) => {
            Err(ApiError::not_found(&format!("Sample (the serializer skips it: {reason})")))
        }
        Err(error) => Err(unavailable(format!("Serializer {plugin_name} failed on the sample: {error}"))),
    }
}
