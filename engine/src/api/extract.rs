//! Request extractors: who is calling (from `Authorization: Token …`) and
//! validated input. Each turns its failure into an [`ApiError`].

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::{ApiError, AppState};
use crate::auth::{Caller, token_hash};
use crate::store::{Hook, Role, Scope};

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let Some(token) = header.and_then(|h| h.strip_prefix("Token ").or_else(|| h.strip_prefix("Bearer "))) else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "not-authenticated",
                "Authentication credentials were not provided.",
            ));
        };
        let hash = token_hash(token.trim());
        if state.admin_token.as_ref().is_some_and(|admin| *admin == hash) {
            return Ok(Caller { role: Role::Superadmin });
        }
        match state.store.token(&hash)? {
            Some(record) => Ok(Caller { role: record.role }),
            None => Err(ApiError::new(StatusCode::UNAUTHORIZED, "invalid-token", "Invalid token.")),
        }
    }
}

/// A caller who manages hooks: an academy (its own) or a superadmin (all).
/// Service tokens get the seed's `invalid-academy-token`.
pub struct HookScope(pub Scope);

impl FromRequestParts<AppState> for HookScope {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.scope().map(HookScope).ok_or_else(ApiError::invalid_academy_token)
    }
}

/// The hook named by the `{id}` path parameter, if the caller may see it
/// (another academy's hook answers 404, like a missing one).
pub struct ScopedHook(pub Hook);

impl FromRequestParts<AppState> for ScopedHook {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let HookScope(scope) = HookScope::from_request_parts(parts, state).await?;
        let PathParam(id) = PathParam::<u64>::from_request_parts(parts, state).await?;
        let hook = state.store.hook(&scope, id)?.ok_or_else(|| ApiError::not_found("Hook"))?;
        Ok(ScopedHook(hook))
    }
}

/// A superadmin caller.
pub struct Superadmin;

impl FromRequestParts<AppState> for Superadmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match Caller::from_request_parts(parts, state).await?.role {
            Role::Superadmin => Ok(Superadmin),
            _ => Err(ApiError::forbidden()),
        }
    }
}

/// A JSON body, with every way it can be wrong answered as an `ApiError`.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Body(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Send the body as JSON, with Content-Type: application/json.",
        ),
        JsonRejection::JsonSyntaxError(e) => ApiError::validation(format!("JSON parse error: {}", e.body_text())),
        JsonRejection::JsonDataError(e) => ApiError::validation(e.body_text()),
        JsonRejection::BytesRejection(e) => bytes_rejection(e),
        other => ApiError::validation(other.body_text()),
    }
}

fn bytes_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", "The request body is too large.")
    } else {
        ApiError::validation(rejection.body_text())
    }
}

/// A raw body (a component upload), its failures answered as `ApiError`s
/// like every other (axum's own are plain text).
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(req, state).await.map(RawBody).map_err(bytes_rejection)
    }
}

/// A path parameter; one that does not parse means no such resource.
pub struct PathParam<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for PathParam<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| PathParam(value))
            .map_err(|_: PathRejection| ApiError::not_found("Resource"))
    }
}

/// Query parameters, malformed ones answered as a validation error.
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| QueryParams(value))
            .map_err(|rejection: QueryRejection| ApiError::validation(rejection.body_text()))
    }
}
