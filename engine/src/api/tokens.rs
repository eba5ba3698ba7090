//! API tokens, administered by superadmins. A token is shown once, at
//! creation; the store keeps only its hash.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::extract::{Body, PathParam, Superadmin};
use super::types::{CreatedToken, NewToken, RoleName, TokenRecord, wire};
use super::{ApiError, AppState};
use crate::auth::{generate_token, token_hash};
use crate::model::Role;
use crate::names::check_name;

/// Longest token name, in bytes.
const MAX_NAME: usize = 200;

/// The name and the role of `new`, checked together.
fn validate(new: NewToken) -> Result<(String, Role), ApiError> {
    check_name(&new.name, MAX_NAME).map_err(|why| ApiError::validation(format!("name {why}")))?;
    let role = match (new.role, new.academy) {
        (RoleName::Academy, Some(academy)) if crate::names::is_slug(&academy) => Role::Academy { academy },
        (RoleName::Academy, Some(academy)) => {
            return Err(ApiError::validation(format!("{academy:?} is not an academy slug")));
        }
        (RoleName::Academy, None) => return Err(ApiError::validation("an academy token needs its `academy`")),
        (role @ (RoleName::Superadmin | RoleName::Service), Some(_)) => {
            let role = if matches!(role, RoleName::Superadmin) { "superadmin" } else { "service" };
            return Err(ApiError::validation(format!(
                "a {role} token has no academy: leave `academy` out, or create an `academy` token"
            )));
        }
        (RoleName::Superadmin, None) => Role::Superadmin,
        (RoleName::Service, None) => Role::Service,
    };
    Ok((new.name, role))
}

/// `POST /v1/admin/tokens` `{"name", "role": "academy"|"service"|"superadmin", "academy"}`.
#[utoipa::path(post, path = "/v1/admin/tokens", operation_id = "create_token", request_body = NewToken,
    responses((status = 201, body = CreatedToken)))]
pub async fn create(
    State(state): State<AppState>,
    _: Superadmin,
    Body(new): Body<NewToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let (name, role) = validate(new)?;
    let token = generate_token();
    let record = state.store.create_token(token_hash(&token), name, role).await?;
    tracing::info!(token_id = record.id, "token created");
    Ok((StatusCode::CREATED, Json(CreatedToken { record: record.into(), token })))
}

/// `GET /v1/admin/tokens`: every token, without the tokens.
#[utoipa::path(get, path = "/v1/admin/tokens", operation_id = "list_tokens", responses((status = 200, body = Vec<TokenRecord>)))]
pub async fn list(State(state): State<AppState>, _: Superadmin) -> Result<Json<Vec<TokenRecord>>, ApiError> {
    Ok(Json(wire(state.store.tokens().await?)))
}

/// `DELETE /v1/admin/tokens/{id}`: the token stops working at once.
#[utoipa::path(delete, path = "/v1/admin/tokens/{id}", operation_id = "revoke_token", params(("id" = u64, Path)),
    responses((status = 204)))]
pub async fn revoke(
    State(state): State<AppState>,
    _: Superadmin,
    PathParam(id): PathParam<u64>,
) -> Result<StatusCode, ApiError> {
    if state.store.revoke_token(id).await? {
        tracing::info!(token_id = id, "token revoked");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("Token"))
    }
}
