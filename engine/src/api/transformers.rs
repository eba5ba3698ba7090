//! Per-hook transformers: an integrator attaches a `hook-transformer`
//! component to one of their own hooks; from then on that hook's requests go
//! through it before they are signed and sent.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::extract::{HookScope, PathParam, ScopedHook, Upload};
use super::types::AttachedTransformer;
use super::{ApiError, AppState};
use crate::model;
use crate::runtime::Digest;
use crate::time::Time;

/// Largest component accepted here.
pub const MAX_COMPONENT: usize = 16 << 20;

/// `PUT /v1/notify/hook/subscribe/{id}/transformer` with the component as
/// the raw body: validated (it compiles and implements `hook-transformer`)
/// before it is stored (once per sha256), within the academy's quota of
/// transformer bytes; the component it replaces is freed if nothing else
/// uses it.
#[utoipa::path(put, path = "/v1/notify/hook/subscribe/{id}/transformer", params(("id" = u64, Path)),
    request_body(content_type = "application/wasm", description = "The component"), responses((status = 200, body = AttachedTransformer)))]
pub async fn attach(
    State(state): State<AppState>,
    HookScope(scope): HookScope,
    PathParam(id): PathParam<u64>,
    Upload { bytes, .. }: Upload,
) -> Result<Json<AttachedTransformer>, ApiError> {
    // Checked after the body is read (not by the `ScopedHook` extractor,
    // which runs first): answering before reading an upload closes the
    // connection under the client, who sees a broken pipe, not the 404.
    state.store.hook(&scope, id).ok_or_else(|| ApiError::not_found("Hook"))?;
    state.plugins.transformers().check(format!("hook-{id}"), bytes.to_vec()).await?;
    let attached =
        model::AttachedTransformer { sha256: Digest::of(&bytes).hex(), size: bytes.len(), uploaded_at: Time::now() };
    let hook = state
        .store
        .set_transformer(&scope, id, Some((attached, bytes.to_vec())), state.quotas)
        .await?
        .ok_or_else(|| ApiError::not_found("Hook"))?;
    tracing::info!(hook_id = id, sha256 = ?hook.transformer.as_ref().map(|t| &t.sha256), "transformer attached");
    hook.transformer.map(|t| Json(t.into())).ok_or_else(|| ApiError::not_found("Transformer"))
}

/// `GET /v1/notify/hook/subscribe/{id}/transformer`: its hash and size.
#[utoipa::path(get, path = "/v1/notify/hook/subscribe/{id}/transformer", operation_id = "show_transformer",
    params(("id" = u64, Path)), responses((status = 200, body = AttachedTransformer)))]
pub async fn show(ScopedHook(hook): ScopedHook) -> Result<Json<AttachedTransformer>, ApiError> {
    hook.transformer.map(|t| Json(t.into())).ok_or_else(|| ApiError::not_found("Transformer"))
}

/// `DELETE /v1/notify/hook/subscribe/{id}/transformer`: the component is
/// freed if nothing else uses it.
#[utoipa::path(delete, path = "/v1/notify/hook/subscribe/{id}/transformer", params(("id" = u64, Path)), responses((status = 204)))]
pub async fn detach(
    State(state): State<AppState>,
    HookScope(scope): HookScope,
    PathParam(id): PathParam<u64>,
) -> Result<StatusCode, ApiError> {
    state.store.set_transformer(&scope, id, None, state.quotas).await?.ok_or_else(|| ApiError::not_found("Hook"))?;
    Ok(StatusCode::NO_CONTENT)
}
