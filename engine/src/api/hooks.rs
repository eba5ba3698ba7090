//! Hook subscriptions (seed 001 `/v1/notify/hook/subscribe`). Academies see
//! and change their own hooks only (another academy's id answers 404);
//! superadmins see all and may create hooks for any academy or, without
//! one, hooks that receive every academy's events.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::extract::{Body, HookScope, PathParam, QueryParams, ScopedHook};
use super::links::PageLinks;
use super::query::{Pagination, comma_list, passes, present};
use super::types::{HookView, HttpMethod, Page};
use super::{ApiError, AppState};
use crate::app::hooks::HookRequest;
use crate::catalog::Catalog;
use crate::model::{Hook, HookSelector};
use crate::time::Time;

/// `hook` with its delivery stats, read from the store.
async fn view(state: &AppState, hook: Hook) -> Result<HookView, ApiError> {
    let stats = state.store.hook_stats(hook.id).await?;
    Ok(HookView {
        id: hook.id,
        settings: hook.settings.into(),
        created_at: hook.created_at,
        updated_at: hook.updated_at,
        total_calls: stats.total_calls,
        successes: stats.successes,
        consecutive_failures: stats.consecutive_failures,
        last_call_at: stats.last_call_at,
        last_response_code: stats.last_response_code,
        academy: hook.academy,
        transformer: hook.transformer.map(Into::into),
    })
}

/// A new hook, with its signing secret.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Created {
    #[serde(flatten)]
    hook: HookView,
    secret: String,
}

/// The body of `POST` and `PUT`. On `PUT`, absent fields keep their value
/// and `null` clears the nullable ones.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HookInput {
    event: Option<String>,
    target: Option<String>,
    #[serde(default, deserialize_with = "present")]
    service_id: Option<Option<String>>,
    method: Option<HttpMethod>,
    headers: Option<BTreeMap<String, String>>,
    is_active: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    max_retries: Option<Option<u32>>,
    #[serde(default, deserialize_with = "present")]
    timeout: Option<Option<u32>>,
    #[serde(default, deserialize_with = "present")]
    auto_disable_after_failures: Option<Option<u32>>,
    /// Attempts in flight at once to this hook, 1 to 1000; `null`: the
    /// engine's `delivery_max_in_flight_per_hook`.
    #[serde(default, deserialize_with = "present")]
    max_in_flight: Option<Option<u32>>,
    /// Superadmins only, at creation: the academy the hook belongs to.
    academy: Option<String>,
}

impl From<HookInput> for HookRequest {
    fn from(input: HookInput) -> Self {
        HookRequest {
            event: input.event,
            target: input.target,
            service_id: input.service_id,
            method: input.method.map(Into::into),
            headers: input.headers,
            is_active: input.is_active,
            max_retries: input.max_retries,
            timeout: input.timeout,
            auto_disable_after_failures: input.auto_disable_after_failures,
            max_in_flight: input.max_in_flight,
            academy: input.academy,
        }
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HookFilters {
    /// Academies, comma-separated (for superadmins: an academy's token sees
    /// its own hooks only).
    academy: Option<String>,
    /// Apps of the hooks' events, comma-separated.
    app: Option<String>,
    /// Event names, comma-separated.
    event: Option<String>,
    /// Parts of the events' signal paths, comma-separated.
    signal: Option<String>,
    /// Service ids, comma-separated.
    service_id: Option<String>,
    /// Text in the event name or the target URL.
    like: Option<String>,
    /// Documented as its own parameters (`params(HookFilters, Pagination)`).
    #[serde(flatten)]
    #[param(ignore)]
    pagination: Pagination,
}

impl HookFilters {
    /// The event names the `event` filter lists.
    pub(super) fn events(&self) -> Option<Vec<&str>> {
        comma_list(&self.event)
    }

    /// Whether any filter of `/hook/sample` (event, service, search) is given.
    pub(super) fn selects(&self) -> bool {
        [&self.event, &self.service_id, &self.like].iter().any(|f| f.as_deref().is_some_and(|v| !v.trim().is_empty()))
    }

    /// Whether `hook` passes every given filter.
    pub(super) fn matches(&self, hook: &Hook, catalog: &Catalog) -> bool {
        let event = catalog.get(&hook.settings.event);
        let (apps, signals) = (comma_list(&self.app), comma_list(&self.signal));
        passes(&comma_list(&self.event), &hook.settings.event)
            && passes(&comma_list(&self.academy), hook.academy.as_deref().unwrap_or(""))
            && passes(&comma_list(&self.service_id), hook.settings.service_id.as_deref().unwrap_or(""))
            && apps.is_none_or(|apps| event.is_some_and(|e| apps.contains(&e.app.as_str())))
            && signals.is_none_or(|signals| event.is_some_and(|e| signals.iter().any(|s| e.signal.contains(s))))
            && self.like.as_deref().filter(|l| !l.is_empty()).is_none_or(|like| {
                let like = like.to_lowercase();
                hook.settings.event.to_lowercase().contains(&like)
                    || hook.settings.target.to_lowercase().contains(&like)
            })
    }
}

/// `GET /v1/notify/hook/subscribe`: the caller's hooks, filtered, paginated.
#[utoipa::path(get, path = "/v1/notify/hook/subscribe", operation_id = "list_hooks", params(HookFilters, Pagination),
    responses((status = 200, body = Page<HookView>)))]
pub async fn list(
    State(state): State<AppState>,
    HookScope(scope): HookScope,
    QueryParams(filters): QueryParams<HookFilters>,
    links: PageLinks,
) -> Result<Json<Page<HookView>>, ApiError> {
    let catalog = state.catalog();
    let hooks = state.store.hooks(&scope).into_iter().filter(|h| filters.matches(h, &catalog));
    let mut views = Vec::new();
    for hook in hooks {
        views.push(view(&state, hook).await?);
    }
    let hooks = views;
    Ok(Json(filters.pagination.page(hooks, &links)?))
}

/// `POST /v1/notify/hook/subscribe`: 201 with the hook and its signing
/// secret, shown in full here and at `…/{id}/secret` only; 403
/// `quota-exceeded` when the academy has as many hooks as it may.
#[utoipa::path(post, path = "/v1/notify/hook/subscribe", request_body = HookInput, responses((status = 201, body = Created)))]
pub async fn subscribe(
    State(state): State<AppState>,
    HookScope(scope): HookScope,
    Body(input): Body<HookInput>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let hook = state.hooks.create(&scope, input.into()).await?;
    let secret = hook.secret.clone();
    Ok((StatusCode::CREATED, Json(Created { hook: view(&state, hook).await?, secret })))
}

/// `GET /v1/notify/hook/subscribe/{id}`.
#[utoipa::path(get, path = "/v1/notify/hook/subscribe/{id}", operation_id = "get_hook", params(("id" = u64, Path)),
    responses((status = 200, body = HookView)))]
pub async fn get(State(state): State<AppState>, ScopedHook(hook): ScopedHook) -> Result<Json<HookView>, ApiError> {
    Ok(Json(view(&state, hook).await?))
}

/// `PUT /v1/notify/hook/subscribe/{id}`: changes the given fields.
#[utoipa::path(put, path = "/v1/notify/hook/subscribe/{id}", operation_id = "update_hook", params(("id" = u64, Path)),
    request_body = HookInput, responses((status = 200, body = HookView)))]
pub async fn update(
    State(state): State<AppState>,
    HookScope(scope): HookScope,
    PathParam(id): PathParam<u64>,
    Body(input): Body<HookInput>,
) -> Result<Json<HookView>, ApiError> {
    let hook = state.hooks.update(&scope, id, input.into()).await?;
    Ok(Json(view(&state, hook).await?))
}

/// `DELETE /v1/notify/hook/subscribe/{id}`.
#[utoipa::path(delete, path = "/v1/notify/hook/subscribe/{id}", params(("id" = u64, Path)), responses((status = 204)))]
pub async fn unsubscribe(
    State(state): State<AppState>,
    HookScope(scope): HookScope,
    PathParam(id): PathParam<u64>,
) -> Result<StatusCode, ApiError> {
    state.hooks.delete(&scope, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteFilters {
    /// Event names, comma-separated.
    event: Option<String>,
    /// Service ids, comma-separated.
    service_id: Option<String>,
}

/// `DELETE /v1/notify/hook/subscribe?event=&service_id=`: at least one
/// filter (the seed's `validation-error` otherwise); both must match.
#[utoipa::path(delete, path = "/v1/notify/hook/subscribe", params(DeleteFilters), responses((status = 200, body = Object,
    example = json!({"details": "Unsubscribed from 2 hooks"}))))]
pub async fn unsubscribe_matching(
    State(state): State<AppState>,
    HookScope(scope): HookScope,
    QueryParams(filters): QueryParams<DeleteFilters>,
) -> Result<Json<Value>, ApiError> {
    let owned = |list: Option<Vec<&str>>| list.map(|items| items.into_iter().map(str::to_owned).collect());
    let events = owned(comma_list(&filters.event));
    let selector = HookSelector { id: None, events, service_ids: owned(comma_list(&filters.service_id)) };
    let deleted = state.hooks.delete_matching(&scope, selector).await?;
    Ok(Json(json!({"details": format!("Unsubscribed from {deleted} hooks")})))
}

/// `GET /v1/notify/hook/subscribe/{id}/secret`: the signing secret, and
/// until when the previous one (after a rotation) still signs beside it.
#[utoipa::path(get, path = "/v1/notify/hook/subscribe/{id}/secret", params(("id" = u64, Path)), responses((status = 200,
    body = Object, example = json!({"secret": "whsec_…", "previous_secret_expires_at": null}))))]
pub async fn secret(ScopedHook(hook): ScopedHook) -> Json<Value> {
    Json(secret_view(&hook))
}

/// `POST /v1/notify/hook/subscribe/{id}/secret/rotate`: a new secret, in
/// force for the next delivery; the old one keeps signing beside it until
/// `previous_secret_expires_at` (the engine's `signing_secret_overlap`), so
/// receivers can switch over.
#[utoipa::path(post, path = "/v1/notify/hook/subscribe/{id}/secret/rotate", params(("id" = u64, Path)), responses((
    status = 200, body = Object, example = json!({"secret": "whsec_…", "previous_secret_expires_at": "2025-01-16T10:30:00Z"}))))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    HookScope(scope): HookScope,
    PathParam(id): PathParam<u64>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(secret_view(&state.hooks.rotate_secret(&scope, id).await?)))
}

/// `POST /v1/notify/hook/subscribe/{id}/stats/reset`: clears the hook's
/// counters (seed 002's "reset failure / performance counters"); the hook
/// as `GET` shows it after. The delivery log and the health that
/// `/v1/admin/status` judges on its latest attempts stay (see
/// `HookService::reset_stats`).
#[utoipa::path(post, path = "/v1/notify/hook/subscribe/{id}/stats/reset", operation_id = "reset_hook_stats",
    params(("id" = u64, Path)), responses((status = 200, body = HookView)))]
pub async fn reset_stats(
    State(state): State<AppState>,
    HookScope(scope): HookScope,
    PathParam(id): PathParam<u64>,
) -> Result<Json<HookView>, ApiError> {
    let hook = state.hooks.reset_stats(&scope, id).await?;
    Ok(Json(view(&state, hook).await?))
}

/// `{"secret", "previous_secret_expires_at"}`: the second is `null` when
/// only the current secret signs.
fn secret_view(hook: &Hook) -> Value {
    let now = Time::now();
    let previous = hook.previous_secret.as_ref().map(|previous| previous.expires_at).filter(|expires| now < *expires);
    json!({"secret": hook.secret, "previous_secret_expires_at": previous})
}
