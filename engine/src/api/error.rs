//! Every error the API answers, as `{"detail", "slug", "status_code"}` (the
//! hooks API's shape), from the status and slug the seed uses.

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::app::catalog::CatalogError;
use crate::app::hooks::HooksError;
use crate::app::plugins::PluginsError;
use crate::app::replay::ReplayError;
use crate::quota::{Limit, Refused};
use crate::store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub slug: &'static str,
    pub detail: String,
    /// Sent as `Retry-After` (whole seconds, rounded up): when to try again.
    pub retry_after: Option<Duration>,
}

impl ApiError {
    pub fn new(status: StatusCode, slug: &'static str, detail: impl Into<String>) -> Self {
        ApiError { status, slug, detail: detail.into(), retry_after: None }
    }

    /// A quota's or a limit's refusal, counted in `/metrics` here, where
    /// every refusal becomes an answer: 403 `quota-exceeded` for what an
    /// academy stores (waiting does not help), 429 `too-many-uploads` and
    /// 429 `rate-limited` with `Retry-After` for what passes.
    pub fn refused(refused: Refused) -> Self {
        crate::metrics::limit_refused(refused.limit);
        let (status, slug) = match refused.limit {
            Limit::HooksPerAcademy | Limit::TransformerBytesPerAcademy => (StatusCode::FORBIDDEN, "quota-exceeded"),
            Limit::UploadsInFlightPerAcademy | Limit::UploadsInFlight => {
                (StatusCode::TOO_MANY_REQUESTS, "too-many-uploads")
            }
            Limit::IngestEvents | Limit::ApiWrites => (StatusCode::TOO_MANY_REQUESTS, "rate-limited"),
        };
        ApiError { retry_after: refused.retry_after, ..ApiError::new(status, slug, refused.detail) }
    }

    /// Asks the client to try again after `delay`.
    pub fn retry_after(self, delay: Duration) -> Self {
        ApiError { retry_after: Some(delay), ..self }
    }

    /// 400 `validation-error`.
    pub fn validation(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "validation-error", detail)
    }

    /// 400 `invalid-event`, as the seed words it.
    pub fn invalid_event(event: &str) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid-event", format!("Unexpected event {event}"))
    }

    /// 400 `invalid-academy-token`: a token that cannot manage hooks.
    pub fn invalid_academy_token() -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid-academy-token", "No valid academy token found")
    }

    pub fn not_found(what: &str) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not-found", format!("{what} not found"))
    }

    pub fn forbidden() -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "permission-denied", "You do not have permission to perform this action.")
    }
}

/// The body of every error answer; typed so that the OpenAPI document
/// describes exactly what is sent.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    /// What went wrong, for a human.
    #[schema(example = "Hook not found")]
    detail: String,
    /// What went wrong, for a program.
    #[schema(example = "not-found")]
    slug: &'static str,
    /// The HTTP status, repeated.
    #[schema(example = 404)]
    status_code: u16,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { detail: self.detail, slug: self.slug, status_code: self.status.as_u16() };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(delay) = self.retry_after {
            let seconds = delay.as_secs() + u64::from(delay.subsec_nanos() > 0);
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        response
    }
}

impl From<Refused> for ApiError {
    fn from(refused: Refused) -> Self {
        ApiError::refused(refused)
    }
}

/// The storage refusing writes (a full disk, an I/O error, free space below
/// the floor) is 503 `storage-unavailable` with `Retry-After`: nothing was
/// acknowledged, and the engine heals by itself (the outage is logged once,
/// where it starts). A quota's refusal is the caller's. Any other store
/// failure is the engine's: 500, logged.
impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        if let StoreError::Refused(refused) = error {
            return ApiError::refused(refused);
        }
        if let Some(why) = error.unavailable() {
            tracing::debug!(%error, "write refused: the store is unavailable");
            let detail = format!("The store takes no writes now ({why}); nothing was stored. Try again later.");
            return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "storage-unavailable", detail)
                .retry_after(why.retry_after());
        }
        tracing::error!(%error, "store error");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "store-error", "The store failed; nothing was changed.")
    }
}

/// A refused plugin operation is the caller's (4xx); a component that was
/// stored and no longer loads is a conflict with what is stored (409).
impl From<PluginsError> for ApiError {
    fn from(error: PluginsError) -> Self {
        let detail = error.to_string();
        match error {
            PluginsError::NotFound { what } => ApiError::not_found(&what),
            PluginsError::Rejected(_) => ApiError::new(StatusCode::BAD_REQUEST, "invalid-plugin", detail),
            PluginsError::Broken { source, .. } => {
                ApiError::new(StatusCode::CONFLICT, "invalid-plugin", source.to_string())
            }
            PluginsError::TooHigh(_) => ApiError::new(StatusCode::BAD_REQUEST, "limit-too-high", detail),
            PluginsError::InUse { .. } => ApiError::new(StatusCode::CONFLICT, "plugin-in-use", detail),
            PluginsError::Bundled { .. } => ApiError::new(StatusCode::CONFLICT, "bundled-plugin", detail),
            PluginsError::Store(error) => error.into(),
            PluginsError::Unfinished(_) => ApiError::validation(detail),
        }
    }
}

/// A refused catalogue change is the caller's: 404 for an unknown event,
/// else a validation error.
impl From<CatalogError> for ApiError {
    fn from(error: CatalogError) -> Self {
        match error {
            CatalogError::NotFound(name) => ApiError::not_found(&format!("Event {name}")),
            CatalogError::Store(error) => error.into(),
            refused => ApiError::validation(refused.to_string()),
        }
    }
}

impl From<ReplayError> for ApiError {
    fn from(error: ReplayError) -> Self {
        match error {
            ReplayError::HookNotFound => ApiError::not_found("Hook"),
            ReplayError::DeliveryNotFound => ApiError::not_found("Delivery"),
            ReplayError::Store(error) => error.into(),
        }
    }
}

/// A refused hook change is the caller's (400, with the seed's slugs).
impl From<HooksError> for ApiError {
    fn from(error: HooksError) -> Self {
        match error {
            HooksError::Invalid(why) => ApiError::validation(why),
            HooksError::UnknownEvent(event) => ApiError::invalid_event(&event),
            HooksError::TargetRefused(refused) => {
                ApiError::new(StatusCode::BAD_REQUEST, "target-not-allowed", refused.to_string())
            }
            HooksError::NotFound => ApiError::not_found("Hook"),
            HooksError::Store(error) => error.into(),
        }
    }
}
