//! Hook subscriptions (seed 001 `/v1/notify/hook/subscribe`). Academies see
//! and change their own hooks only (another academy's id answers 404);
//! superadmins see all and may create hooks for any academy or, without
//! one, hooks that receive every academy's events.

use std::collections::BTreeMap;
use std::num::NonZeroU32;

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
use crate::auth::generate_secret;
use crate::catalog::Catalog;
use crate::delivery::headers::check_hook_header;
use crate::model::{self, Hook, HookChanges, HookSelector, NewHook, Rotation, Scope};
use crate::names::check_name;
use crate::targets::TargetPolicy;
use crate::time::Time;

/// Longest `service_id`, in bytes.
const MAX_SERVICE_ID: usize = 100;

/// `hook` with its delivery stats, read from the store.
async fn view(state: &AppState, hook: Hook) -> Result<HookView, ApiError> {
    let stats = state.store.hook_stats(hook.id).await?;
    Ok(HookView {
        id: hook.id,
        settings: hook.settings.into(),
        created_at: hook.created_at,
        updated_at: hook.updated_at,
        total_calls: stats.total_calls,
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

impl HookInput {
    /// Checks every given field; the result changes a hook in one go.
    fn validate(self, catalog: &Catalog, targets: &TargetPolicy) -> Result<HookChanges, ApiError> {
        if let Some(event) = &self.event
            && catalog.get(event).is_none()
        {
            return Err(ApiError::invalid_event(event));
        }
        if let Some(target) = &self.target {
            validate_target(target, targets)?;
        }
        if let Some(Some(service_id)) = &self.service_id {
            check_name(service_id, MAX_SERVICE_ID).map_err(|why| ApiError::validation(format!("service_id {why}")))?;
        }
        if let Some(headers) = &self.headers {
            validate_headers(headers)?;
        }
        check_range("max_retries", self.max_retries, 0, 20)?;
        check_range("timeout", self.timeout, 1, 300)?;
        check_range("auto_disable_after_failures", self.auto_disable_after_failures, 1, 1000)?;
        check_range("max_in_flight", self.max_in_flight, 1, 1000)?;
        Ok(HookChanges {
            event: self.event,
            target: self.target,
            service_id: self.service_id,
            method: self.method.map(Into::into),
            headers: self.headers,
            is_active: self.is_active,
            max_retries: self.max_retries,
            timeout: self.timeout,
            auto_disable_after_failures: self.auto_disable_after_failures,
            // In range, so never 0.
            max_in_flight: self.max_in_flight.map(|cap| cap.and_then(NonZeroU32::new)),
            secret: None,
        })
    }
}

fn check_range(name: &str, value: Option<Option<u32>>, min: u32, max: u32) -> Result<(), ApiError> {
    match value {
        Some(Some(v)) if !(min..=max).contains(&v) => {
            Err(ApiError::validation(format!("{name} must be between {min} and {max}")))
        }
        _ => Ok(()),
    }
}

/// Only absolute `http`/`https` URLs with a host, that the target policy
/// does not refuse already (a literal IP, or `http` when `https` is
/// required; a host name is judged when a delivery connects).
fn validate_target(target: &str, targets: &TargetPolicy) -> Result<(), ApiError> {
    let invalid = |why: &str| ApiError::validation(format!("target {target:?} is not a valid URL: {why}"));
    if target.len() > 2000 {
        return Err(invalid("longer than 2000 characters"));
    }
    let url = url::Url::parse(target).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("only http and https are allowed"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("it has no host"));
    }
    targets
        .check_url(&url)
        .map_err(|refused| ApiError::new(StatusCode::BAD_REQUEST, "target-not-allowed", refused.to_string()))
}

fn validate_headers(headers: &BTreeMap<String, String>) -> Result<(), ApiError> {
    if headers.len() > 20 {
        return Err(ApiError::validation("at most 20 headers"));
    }
    for (name, value) in headers {
        check_hook_header(name, value).map_err(|refused| ApiError::validation(refused.to_string()))?;
    }
    Ok(())
}

/// Academy slugs: lowercase letters, digits and dashes.
pub fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HookFilters {
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
    let academy = match (&scope, input.academy.clone()) {
        (Scope::Academy(own), None) => Some(own.clone()),
        (Scope::Academy(_), Some(_)) => return Err(ApiError::validation("only superadmins may choose the academy")),
        (Scope::All, Some(academy)) if !is_slug(&academy) => {
            return Err(ApiError::validation(format!("{academy:?} is not an academy slug")));
        }
        (Scope::All, academy) => academy,
    };
    let (Some(event), Some(target)) = (input.event.clone(), input.target.clone()) else {
        return Err(ApiError::validation("event and target are required"));
    };
    let changes = input.validate(&state.catalog(), &state.targets)?;
    let settings = model::HookSettings {
        event,
        target,
        service_id: changes.service_id.flatten(),
        method: changes.method.unwrap_or_default(),
        headers: changes.headers.unwrap_or_default(),
        is_active: changes.is_active.unwrap_or(true),
        max_retries: changes.max_retries.flatten(),
        timeout: changes.timeout.flatten(),
        auto_disable_after_failures: changes.auto_disable_after_failures.flatten(),
        max_in_flight: changes.max_in_flight.flatten(),
    };
    let hook = state.store.create_hook(NewHook { academy, settings, secret: generate_secret() }, state.quotas).await?;
    tracing::info!(hook_id = hook.id, event = %hook.settings.event, academy = ?hook.academy, "hook created");
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
    if input.academy.is_some() {
        return Err(ApiError::validation("a hook's academy cannot change"));
    }
    let changes = input.validate(&state.catalog(), &state.targets)?;
    let hook = state.store.update_hook(&scope, id, changes).await?.ok_or_else(|| ApiError::not_found("Hook"))?;
    Ok(Json(view(&state, hook).await?))
}

/// `DELETE /v1/notify/hook/subscribe/{id}`.
#[utoipa::path(delete, path = "/v1/notify/hook/subscribe/{id}", params(("id" = u64, Path)), responses((status = 204)))]
pub async fn unsubscribe(
    State(state): State<AppState>,
    HookScope(scope): HookScope,
    PathParam(id): PathParam<u64>,
) -> Result<StatusCode, ApiError> {
    if state.store.delete_hook(&scope, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("Hook"))
    }
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
    let (events, services) = (comma_list(&filters.event), comma_list(&filters.service_id));
    if events.is_none() && services.is_none() {
        return Err(ApiError::validation("Please include some filter in the URL"));
    }
    let owned = |list: Option<Vec<&str>>| list.map(|items| items.into_iter().map(str::to_owned).collect());
    let selector = HookSelector { id: None, events: owned(events), service_ids: owned(services) };
    let deleted = state.store.delete_hooks(&scope, &selector).await?;
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
    let rotation = Rotation { secret: generate_secret(), overlap: state.signing_secret_overlap };
    let changes = HookChanges { secret: Some(rotation), ..HookChanges::default() };
    let hook = state.store.update_hook(&scope, id, changes).await?.ok_or_else(|| ApiError::not_found("Hook"))?;
    let view = secret_view(&hook);
    tracing::info!(hook_id = id, previous_secret_expires_at = %view["previous_secret_expires_at"], "hook secret rotated");
    Ok(Json(view))
}

/// `{"secret", "previous_secret_expires_at"}`: the second is `null` when
/// only the current secret signs.
fn secret_view(hook: &Hook) -> Value {
    let now = Time::now();
    let previous = hook.previous_secret.as_ref().map(|previous| previous.expires_at).filter(|expires| now < *expires);
    json!({"secret": hook.secret, "previous_secret_expires_at": previous})
}
