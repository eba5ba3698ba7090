//! The event catalogue: listing it (seed 001's `/hook/event`) and adding
//! events at run time.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::extract::{Body, QueryParams, Superadmin};
use super::query::{comma_list, passes};
use super::{ApiError, AppState};
use crate::auth::Caller;
use crate::catalog::{EventDef, EventSpec};

#[derive(Deserialize)]
pub struct EventFilters {
    category: Option<String>,
    app: Option<String>,
    like: Option<String>,
}

/// One entry of `/v1/notify/hook/event`.
#[derive(Serialize)]
pub struct HookEvent {
    event: String,
    label: String,
    description: String,
    app: String,
    model: String,
    category: Option<String>,
}

/// `GET /v1/notify/hook/event?category=&app=&like=`: any valid token.
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

/// `POST /v1/catalog/events`: a superadmin adds an event, at once and for
/// good (it is stored, and loaded at every start).
pub async fn add_event(
    State(state): State<AppState>,
    _: Superadmin,
    Body(spec): Body<EventSpec>,
) -> Result<(StatusCode, Json<EventDef>), ApiError> {
    let event = EventDef::derive(spec.clone()).map_err(|e| ApiError::validation(e.to_string()))?;
    if state.catalog().get(&event.name).is_some() {
        return Err(ApiError::validation(format!("Event {} already exists", event.name)));
    }
    if let Some(plugin) = &event.serializer
        && state.runtime.serializer(plugin).is_none()
    {
        return Err(ApiError::validation(format!("Unknown serializer plugin {plugin}")));
    }
    state.store.add_catalog_event(&spec)?;
    let mut current = state.catalog.write().unwrap_or_else(|e| e.into_inner());
    let mut next = (**current).clone();
    next.extend([event.clone()]);
    *current = Arc::new(next);
    Ok((StatusCode::CREATED, Json(event)))
}
