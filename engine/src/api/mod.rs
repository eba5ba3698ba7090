//! The HTTP API (axum), one module per resource as in svix-server: each
//! handler takes the shared state, an extractor that yields the caller's
//! scope, and validated input.

mod activity;
mod catalog;
mod deliveries;
mod dry_runs;
mod error;
mod events;
mod extract;
mod health;
mod hooks;
mod links;
mod logs;
mod me;
mod metrics;
mod observe;
mod openapi;
mod plugins;
mod query;
mod quotas;
mod ready;
mod samples;
mod status;
mod test_sends;
mod tokens;
mod transformers;
pub mod types;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa::OpenApi as _;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

pub use crate::public_url::PublicUrl;
pub use error::ApiError;

use crate::app::catalog::CatalogService;
use crate::app::hooks::HookService;
use crate::app::plugins::PluginService;
use crate::catalog::{Catalog, SharedCatalog};
use crate::connections::{self, BodyTimeout};
use crate::delivery::Sender;
use crate::ingest::Ingest;
use crate::ingest::parked::Retrier;
use crate::quota::RequestLimits;
use crate::runtime::Runtime;
use crate::store::{Quotas, Store};
use crate::units::format_duration;

/// Largest request body accepted, in bytes.
pub const MAX_BODY: usize = 1 << 20;

/// What every handler shares. Cloned for every request and extractor:
/// one reference count, not one per service.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> AppState {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The services and settings behind [`AppState`].
pub struct Shared {
    pub store: Arc<dyn Store>,
    pub runtime: Arc<Runtime>,
    /// Uploads, activation, limits and deletion of plugins; compiled transformers.
    pub plugins: Arc<PluginService>,
    /// Adding and changing catalogue events.
    pub catalog_service: Arc<CatalogService>,
    /// Subscribing, changing and unsubscribing hooks, rotating secrets.
    pub hooks: Arc<HookService>,
    /// The current catalogue snapshot; replaced whole when events are added.
    pub catalog: Arc<SharedCatalog>,
    /// sha256 of the bootstrap superadmin token (`WASMHOOK_ADMIN_TOKEN`).
    pub admin_token: Option<[u8; 32]>,
    pub ingest: Arc<Ingest>,
    /// Re-runs events parked after a serializer failure.
    pub retrier: Arc<Retrier>,
    /// Set while the engine serves: not yet while it starts, no longer once
    /// it shuts down (`/readyz`).
    pub ready: Arc<AtomicBool>,
    /// Renders `/metrics` (the process's recorder, `crate::metrics::install`).
    pub metrics: PrometheusHandle,
    /// Per-academy quotas, which the store checks when hooks change.
    pub quotas: Quotas,
    /// Rate limits and upload bounds, checked as requests arrive.
    pub limits: Arc<RequestLimits>,
    /// Where clients reach the API: links start with it (relative without).
    pub public_url: Option<PublicUrl>,
    /// Sends hooks' test requests, as deliveries are sent (the dispatcher's
    /// client, within the target policy).
    pub sender: Sender,
}

impl AppState {
    /// The catalogue as it is now.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.get()
    }
}

/// Every route of the API. Each is registered from its handler's
/// `#[utoipa::path]`, which gives its path and method and puts it in the
/// OpenAPI document: add one as `.routes(routes!(module::handler))`
/// (handlers of one path in one `routes!`). A plain `.route` would serve it
/// undocumented; clippy refuses it (`clippy.toml`).
fn routes() -> OpenApiRouter<AppState> {
    let component_upload = || DefaultBodyLimit::max(transformers::MAX_COMPONENT);
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(ready::readyz))
        .routes(routes!(metrics::metrics))
        .routes(routes!(openapi::document))
        .routes(routes!(catalog::list_hook_events))
        .routes(routes!(catalog::list_events, catalog::add_event))
        .routes(routes!(catalog::update_event))
        .routes(routes!(hooks::list, hooks::subscribe, hooks::unsubscribe_matching))
        .routes(routes!(hooks::get, hooks::update, hooks::unsubscribe))
        .routes(routes!(hooks::secret))
        .routes(routes!(transformers::show, transformers::attach, transformers::detach).layer(component_upload()))
        .routes(routes!(dry_runs::transformer))
        .routes(routes!(hooks::rotate_secret))
        .routes(routes!(test_sends::send))
        .routes(routes!(hooks::reset_stats))
        .routes(routes!(quotas::show))
        .routes(routes!(samples::by_filter))
        .routes(routes!(samples::by_hook))
        .routes(routes!(deliveries::list))
        .routes(routes!(deliveries::retry))
        .routes(routes!(deliveries::retry_failed))
        .routes(routes!(deliveries::errors))
        .routes(routes!(events::ingest))
        .routes(routes!(events::ingest_batch))
        .routes(routes!(plugins::list))
        .routes(routes!(plugins::show, plugins::delete, plugins::upload).layer(component_upload()))
        .routes(routes!(plugins::activate))
        .routes(routes!(plugins::set_limits))
        .routes(routes!(plugins::retry_failed))
        .routes(routes!(dry_runs::serializer))
        .routes(routes!(tokens::list, tokens::create))
        .routes(routes!(tokens::revoke))
        .routes(routes!(status::status))
        .routes(routes!(status::hooks))
        .routes(routes!(logs::stats))
        .routes(routes!(logs::cleanup))
        .routes(routes!(me::me))
        .routes(routes!(activity::activity))
}

/// The OpenAPI document of every route, as `/openapi.json` serves it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    openapi::complete(routes().into_openapi())
}

/// The answer to a request whose body did not arrive within `timeout`.
fn body_too_late(timeout: Duration) -> Response {
    let detail = format!("The request body did not arrive within {}.", format_duration(timeout));
    ApiError::new(StatusCode::REQUEST_TIMEOUT, "request-timeout", detail).into_response()
}

/// The API, ready to serve; a request body must arrive within
/// `body_timeout` (see [`connections::guard`]).
pub fn router(state: AppState, body_timeout: Duration) -> Router {
    let (router, document) = routes().split_for_parts();
    router
        .fallback(|| async { ApiError::not_found("Resource") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "Method not allowed.")
        })
        .layer(Extension(openapi::Document::new(&openapi::complete(document))))
        .layer(axum::middleware::from_fn_with_state(
            BodyTimeout { timeout: body_timeout, late: body_too_late },
            connections::guard,
        ))
        .layer(axum::middleware::from_fn(observe::record))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// The span of one API request: every log line of the request carries its
/// id (the caller's `x-request-id`, else a new UUID, sent back in the
/// response's `x-request-id`). At level ERROR so that it is recorded
/// whatever the log filter lets through.
fn request_span<B>(request: &Request<B>) -> tracing::Span {
    let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default();
    tracing::error_span!("request", request_id = id, method = %request.method(), uri = %request.uri())
}
