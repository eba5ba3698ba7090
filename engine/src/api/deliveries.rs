//! Delivery logs: a hook's attempts, replaying a delivery, hook errors.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{HookScope, PathParam, QueryParams, ScopedHook};
use super::links::PageLinks;
use super::query::Pagination;
use super::types::{Attempt, HookErrorRecord, Page, wire};
use super::{ApiError, AppState};
use crate::app::replay::replay;

#[derive(Deserialize)]
pub struct Paged {
    #[serde(flatten)]
    pagination: Pagination,
}

/// `GET /v1/notify/hook/{id}/deliveries`: every attempt, newest first.
#[utoipa::path(get, path = "/v1/notify/hook/{id}/deliveries", operation_id = "list_deliveries", params(("id" = u64, Path), Pagination),
    responses((status = 200, body = Page<Attempt>)))]
pub async fn list(
    State(state): State<AppState>,
    ScopedHook(hook): ScopedHook,
    QueryParams(paged): QueryParams<Paged>,
    links: PageLinks,
) -> Result<Json<Page<Attempt>>, ApiError> {
    Ok(Json(paged.pagination.page(wire(state.store.attempts(hook.id).await?), &links)?))
}

/// `POST /v1/notify/hook/{id}/deliveries/{delivery_id}/retry`: delivers the
/// same event again, now, with the same `webhook-id` (see `app/replay.rs`).
#[utoipa::path(post, path = "/v1/notify/hook/{id}/deliveries/{delivery_id}/retry", params(("id" = u64, Path), ("delivery_id" = u64, Path)),
    responses((status = 202, body = Object, example = json!({"delivery_id": 42}))))]
pub async fn retry(
    State(state): State<AppState>,
    HookScope(scope): HookScope,
    PathParam((id, delivery_id)): PathParam<(u64, u64)>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let new_id = replay(state.store.as_ref(), &scope, id, delivery_id).await?;
    state.ingest.queued.notify_one();
    Ok((StatusCode::ACCEPTED, Json(json!({"delivery_id": new_id}))))
}

/// `GET /v1/notify/hook/errors`: the caller's hook errors, newest first.
#[utoipa::path(get, path = "/v1/notify/hook/errors", operation_id = "hook_errors", params(Pagination),
    responses((status = 200, body = Page<HookErrorRecord>)))]
pub async fn errors(
    State(state): State<AppState>,
    HookScope(scope): HookScope,
    QueryParams(paged): QueryParams<Paged>,
    links: PageLinks,
) -> Result<Json<Page<HookErrorRecord>>, ApiError> {
    Ok(Json(paged.pagination.page(wire(state.store.hook_errors(&scope).await?), &links)?))
}
