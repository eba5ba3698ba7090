//! Delivery logs: a hook's attempts, replaying a delivery, hook errors.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{Body, HookScope, PathParam, QueryParams, ScopedHook};
use super::links::PageLinks;
use super::query::Pagination;
use super::types::{Attempt, FailedReplayed, HookErrorRecord, Page, RetryFailed, wire};
use super::{ApiError, AppState};
use crate::app::replay::{Range, replay, replay_failed};

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

/// `POST /v1/notify/hook/{id}/deliveries/retry-failed` `{"since", "until"}`:
/// queues again, now, every delivery of the hook whose latest attempt
/// failed for good and was sent in `[since, until)`, once per message, as
/// the single retry does (see `app/replay.rs`, `replay_failed`); at most
/// 1000 a call (`MAX_REPLAYS`), the oldest failures first, `more` and
/// `next_since` saying where to continue. 202 with `replayed: 0` when none.
#[utoipa::path(post, path = "/v1/notify/hook/{id}/deliveries/retry-failed", operation_id = "retry_failed_deliveries",
    params(("id" = u64, Path)), request_body = RetryFailed, responses((status = 202, body = FailedReplayed,
    example = json!({"replayed": 2, "delivery_ids": [57, 58], "more": false, "next_since": null}))))]
pub async fn retry_failed(
    State(state): State<AppState>,
    HookScope(scope): HookScope,
    PathParam(id): PathParam<u64>,
    Body(RetryFailed { since, until }): Body<RetryFailed>,
) -> Result<(StatusCode, Json<FailedReplayed>), ApiError> {
    if since.zip(until).is_some_and(|(since, until)| since >= until) {
        return Err(ApiError::validation("since must be before until"));
    }
    let replayed = replay_failed(state.store.as_ref(), &scope, id, Range { since, until }).await?;
    if !replayed.delivery_ids.is_empty() {
        state.ingest.queued.notify_one();
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(FailedReplayed {
            replayed: replayed.delivery_ids.len(),
            delivery_ids: replayed.delivery_ids,
            more: replayed.next_since.is_some(),
            next_since: replayed.next_since,
        }),
    ))
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
