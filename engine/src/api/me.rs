//! `GET /v1/me`: who the token is, so a client signed in with a token (the
//! console) knows which views to offer without trying the API's routes.
//! Any valid token may ask; a GET, so it spends no API write.

use axum::Json;

use super::types::Me;
use crate::auth::Caller;

/// `GET /v1/me`: the caller's role and academy.
#[utoipa::path(get, path = "/v1/me", operation_id = "whoami", responses((status = 200, body = Me)))]
pub async fn me(caller: Caller) -> Json<Me> {
    Json(caller.role.into())
}
