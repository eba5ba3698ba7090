//! Request extractors: who is calling (from `Authorization: Token …`) and
//! validated input. Each turns its failure into an [`ApiError`].

use axum::body::{Body as RequestBody, Bytes};
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use http_body_util::BodyExt as _;
use serde::de::DeserializeOwned;

use super::transformers::MAX_COMPONENT;
use super::{ApiError, AppState};
use crate::auth::{Caller, token_hash};
use crate::model::{Hook, Role, Scope};
use crate::quota::UploadSlot;

/// The token's caller, or why there is none.
async fn authenticate(parts: &Parts, state: &AppState) -> Result<Caller, ApiError> {
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
        return Ok(Caller { role: Role::Superadmin, token: hash });
    }
    match state.store.token(hash).await? {
        Some(record) => Ok(Caller { role: record.role, token: hash }),
        None => Err(ApiError::new(StatusCode::UNAUTHORIZED, "invalid-token", "Invalid token.")),
    }
}

/// The caller, authenticated once per request (several extractors ask:
/// the first keeps it in the request's extensions). A write through the API
/// (any method but GET, HEAD, OPTIONS, TRACE) spends one of the token's API
/// writes here, where the token is first known, so a refused write does no
/// work; ingest routes take [`Producer`] instead, which spends events.
impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        let caller = authenticate(parts, state).await?;
        if !parts.method.is_safe() {
            state.limits.api_writes.take(&caller.token, 1)?;
        }
        parts.extensions.insert(caller.clone());
        Ok(caller)
    }
}

/// A caller who posts events: a service or superadmin token (an academy's
/// is refused). It spends no API write: the ingest handlers spend the
/// token's events ([`Producer::spend`]) once they know how many.
pub struct Producer(Caller);

impl Producer {
    /// Spends `events` of the token's ingest rate (a batch: all its events).
    pub fn spend(&self, state: &AppState, events: usize) -> Result<(), ApiError> {
        Ok(state.limits.ingest.take(&self.0.token, events as u64)?)
    }
}

impl FromRequestParts<AppState> for Producer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = authenticate(parts, state).await?;
        match caller.role {
            Role::Service | Role::Superadmin => Ok(Producer(caller)),
            Role::Academy { .. } => Err(ApiError::forbidden()),
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
        let hook = state.store.hook(&scope, id).ok_or_else(|| ApiError::not_found("Hook"))?;
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

/// A component upload's body, read only once the upload has a place among
/// those in flight (`quota::UploadSlots`: per academy, the caller's; and in
/// all), so parallel uploads cost memory only up to those bounds. The place
/// is held while this value lives: while the handler checks and stores the
/// component. A refused upload's body is read and thrown away (up to
/// [`MAX_COMPONENT`]) before the 429, so the client, still sending it, gets
/// the answer rather than a broken pipe.
pub struct Upload {
    pub bytes: Bytes,
    _slot: UploadSlot,
}

impl FromRequest<AppState> for Upload {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let caller = Caller::from_request_parts(&mut parts, state).await?;
        let academy = match &caller.role {
            Role::Academy { academy } => Some(academy.as_str()),
            Role::Superadmin | Role::Service => None,
        };
        match state.limits.uploads.acquire(academy) {
            Ok(slot) => {
                // Failures answered as `ApiError`s like every other (axum's own are plain text).
                let bytes =
                    Bytes::from_request(Request::from_parts(parts, body), state).await.map_err(bytes_rejection)?;
                Ok(Upload { bytes, _slot: slot })
            }
            Err(refused) => {
                discard(body, MAX_COMPONENT).await;
                Err(refused.into())
            }
        }
    }
}

/// Reads and drops up to `limit` bytes of `body`.
async fn discard(mut body: RequestBody, limit: usize) {
    let mut read = 0;
    while read <= limit {
        match body.frame().await {
            Some(Ok(frame)) => read += frame.data_ref().map_or(0, |data| data.len()),
            Some(Err(_)) | None => return,
        }
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
