//! `GET /v1/notify/hook/quota`: what an academy holds against its quotas
//! (`crate::quota`), so an integrator sees how close it is before a
//! `403 quota-exceeded`.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::extract::{HookScope, QueryParams};
use super::{ApiError, AppState};
use crate::model::Scope;
use crate::names::is_slug;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QuotaQuery {
    /// Superadmins only (and then required): the academy.
    academy: Option<String>,
}

/// One quota: what is used of it and its limit.
#[derive(Serialize, utoipa::ToSchema)]
pub struct QuotaUse {
    used: u64,
    /// `null`: no limit.
    limit: Option<u64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct QuotaView {
    academy: String,
    /// The academy's hooks.
    hooks: QuotaUse,
    /// Bytes of the transformer components its hooks use, each counted once.
    transformer_bytes: QuotaUse,
}

/// `GET /v1/notify/hook/quota[?academy=]`.
#[utoipa::path(get, path = "/v1/notify/hook/quota", operation_id = "show_quota", params(QuotaQuery), responses((status = 200, body = QuotaView)))]
pub async fn show(
    State(state): State<AppState>,
    HookScope(scope): HookScope,
    QueryParams(query): QueryParams<QuotaQuery>,
) -> Result<Json<QuotaView>, ApiError> {
    let academy = match (scope, query.academy) {
        (Scope::Academy(own), None) => own,
        (Scope::Academy(_), Some(_)) => return Err(ApiError::validation("only superadmins may choose the academy")),
        (Scope::All, Some(academy)) if is_slug(&academy) => academy,
        (Scope::All, _) => return Err(ApiError::validation("academy (a slug) is required for superadmins")),
    };
    let usage = state.store.academy_usage(&academy).await?;
    Ok(Json(QuotaView {
        hooks: QuotaUse { used: usage.hooks, limit: state.quotas.max_hooks },
        transformer_bytes: QuotaUse { used: usage.transformer_bytes, limit: state.quotas.max_transformer_bytes },
        academy,
    }))
}
