//! The event catalogue: listing it (seed 001's `/hook/event`), adding
//! events and rebinding their serializers at run time.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::extract::{Body, PathParam, QueryParams, Superadmin};
use super::query::{comma_list, passes, present};
use super::types;
use super::types::EventSpec;
use super::{ApiError, AppState};
use crate::app;
use crate::auth::Caller;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventFilters {
    /// Categories, comma-separated.
    category: Option<String>,
    /// Apps, comma-separated.
    app: Option<String>,
    /// Text in the name, description or category.
    like: Option<String>,
}

/// One entry of `/v1/notify/hook/event`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct HookEvent {
    event: String,
    label: String,
    description: String,
    app: String,
    model: String,
    category: Option<String>,
}

/// `GET /v1/notify/hook/event?category=&app=&like=`: any valid token.
#[utoipa::path(get, path = "/v1/notify/hook/event", params(EventFilters), responses((status = 200, body = Vec<HookEvent>)))]
pub async fn list_hook_events(
    State(state): State<AppState>,
    _caller: Caller,
    QueryParams(filters): QueryParams<EventFilters>,
) -> Json<Vec<HookEvent>> {
    let catalog = state.catalog();
    let (categories, apps) = (comma_list(&filters.category), comma_list(&filters.app));
    let like = filters.like.as_deref().map(str::to_lowercase).filter(|s| !s.is_empty());
    let events = catalog
        .iter()
        .filter(|e| passes(&categories, e.category.as_deref().unwrap_or("")) && passes(&apps, &e.app))
        .filter(|e| {
            like.as_deref().is_none_or(|like| {
                [e.name.as_str(), e.description.as_str(), e.category.as_deref().unwrap_or("")]
                    .iter()
                    .any(|field| field.to_lowercase().contains(like))
            })
        })
        .map(|e| HookEvent {
            event: e.name.clone(),
            label: e.label.clone(),
            description: e.description.clone(),
            app: e.app.clone(),
            model: e.model.clone(),
            category: e.category.clone(),
        })
        .collect();
    Json(events)
}

/// `GET /v1/catalog/events` (any token): every catalogue event whole, with
/// its serializer and sample, as the console's catalogue shows it.
#[utoipa::path(get, path = "/v1/catalog/events", operation_id = "list_catalog_events",
    responses((status = 200, body = Vec<types::EventDef>)))]
pub async fn list_events(State(state): State<AppState>, _caller: Caller) -> Json<Vec<types::EventDef>> {
    Json(state.catalog().iter().map(|event| types::EventDef::from((**event).clone())).collect())
}

/// `POST /v1/catalog/events`: a superadmin adds an event, at once and for
/// good (it is stored, and loaded at every start).
#[utoipa::path(post, path = "/v1/catalog/events", request_body = EventSpec, responses((status = 201, body = types::EventDef)))]
pub async fn add_event(
    State(state): State<AppState>,
    _: Superadmin,
    Body(spec): Body<EventSpec>,
) -> Result<(StatusCode, Json<types::EventDef>), ApiError> {
    let event = state.catalog_service.add(spec.into()).await?;
    Ok((StatusCode::CREATED, Json(event.into())))
}

/// What `PUT /v1/catalog/events/{event}` may change: what the event's
/// payload is made of and how it is described. The name and action are its
/// identity (hooks and sources refer to them) and stay.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventChanges {
    /// `null`: deliver the source object as is.
    #[serde(default, deserialize_with = "present")]
    serializer: Option<Option<String>>,
    description: Option<String>,
    #[serde(default, deserialize_with = "present")]
    category: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    sample: Option<Option<Value>>,
}

/// `PUT /v1/catalog/events/{event}`: a superadmin rebinds an event to
/// another serializer plugin (or changes its description, category,
/// sample). The next event uses it, no restart; the whole event is stored,
/// so the change survives restarts and takes precedence over the files.
#[utoipa::path(put, path = "/v1/catalog/events/{event}", params(("event" = String, Path)), request_body = EventChanges,
    responses((status = 200, body = types::EventDef)))]
pub async fn update_event(
    State(state): State<AppState>,
    _: Superadmin,
    PathParam(name): PathParam<String>,
    Body(changes): Body<EventChanges>,
) -> Result<Json<types::EventDef>, ApiError> {
    let EventChanges { serializer, description, category, sample } = changes;
    let changes = app::catalog::EventChanges { serializer, description, category, sample };
    let event = state.catalog_service.change(&name, changes).await?;
    Ok(Json(event.into()))
}
