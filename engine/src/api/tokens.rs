//! API tokens, administered by superadmins. A token is shown once, at
//! creation; the store keeps only its hash.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::extract::{Body, PathParam, Superadmin};
use super::{ApiError, AppState};
use crate::auth::{generate_token, token_hash};
use crate::store::{Role, TokenRecord};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewToken {
    name: String,
    #[serde(flatten)]
    role: Role,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    record: TokenRecord,
    /// The token itself: shown this once.
    token: String,
}

/// `POST /v1/admin/tokens` `{"name", "role": "academy"|"service"|"superadmin", "academy"}`.
#[utoipa::path(post, path = "/v1/admin/tokens", operation_id = "create_token", request_body = NewToken,
    responses((status = 201, body = CreatedToken)))]
pub async fn create(
    State(state): State<AppState>,
    _: Superadmin,
    Body(new): Body<NewToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    if new.name.trim().is_empty() || new.name.len() > 200 {
        return Err(ApiError::validation("name must be 1 to 200 characters"));
    }
    if let Role::Academy { academy } = &new.role
        && !super::hooks::is_slug(academy)
    {
        return Err(ApiError::validation(format!("{academy:?} is not an academy slug")));
    }
    let token = generate_token();
    let record = state.store.create_token(&token_hash(&token), new.name, new.role)?;
    tracing::info!(token_id = record.id, "token created");
    Ok((StatusCode::CREATED, Json(CreatedToken { record, token })))
}

/// `GET /v1/admin/tokens`: every token, without the tokens.
#[utoipa::path(get, path = "/v1/admin/tokens", operation_id = "list_tokens", responses((status = 200, body = Vec<TokenRecord>)))]
pub async fn list(State(state): State<AppState>, _: Superadmin) -> Result<Json<Vec<TokenRecord>>, ApiError> {
    Ok(Json(state.store.tokens()?))
}

/// `DELETE /v1/admin/tokens/{id}`: the token stops working at once.
#[utoipa::path(delete, path = "/v1/admin/tokens/{id}", operation_id = "revoke_token", params(("id" = u64, Path)),
    responses((status = 204)))]
pub async fn revoke(
    State(state): State<AppState>,
    _: Superadmin,
    PathParam(id): PathParam<u64>,
) -> Result<StatusCode, ApiError> {
    if state.store.revoke_token(id)? {
        tracing::info!(token_id = id, "token revoked");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("Token"))
    }
}
