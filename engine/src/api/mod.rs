//! The HTTP API (axum), one module per resource as in svix-server: each
//! handler takes the shared state, an extractor that yields the caller's
//! scope, and validated input.

mod catalog;
mod deliveries;
mod dry_runs;
mod error;
mod events;
mod extract;
mod health;
mod hooks;
mod logs;
mod plugins;
mod query;
mod samples;
mod status;
mod tokens;
mod transformers;

use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post, put};

pub use error::ApiError;

use crate::catalog::Catalog;
use crate::ingest::Ingest;
use crate::runtime::Runtime;
use crate::store::Store;

/// Largest request body accepted, in bytes.
pub const MAX_BODY: usize = 1 << 20;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    pub runtime: Arc<Runtime>,
    /// The current catalogue snapshot; replaced whole when events are added.
    pub catalog: Arc<RwLock<Arc<Catalog>>>,
    /// sha256 of the bootstrap superadmin token (`WASMHOOK_ADMIN_TOKEN`).
    pub admin_token: Option<[u8; 32]>,
    pub ingest: Arc<Ingest>,
}

impl AppState {
    /// The catalogue as it is now.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Every route of the API.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/v1/notify/hook/event", get(catalog::list_hook_events))
        .route("/v1/catalog/events", post(catalog::add_event))
        .route("/v1/catalog/events/{event}", put(catalog::update_event))
        .route("/v1/notify/hook/subscribe", get(hooks::list).post(hooks::subscribe).delete(hooks::unsubscribe_matching))
        .route("/v1/notify/hook/subscribe/{id}", get(hooks::get).put(hooks::update).delete(hooks::unsubscribe))
        .route("/v1/notify/hook/subscribe/{id}/secret", get(hooks::secret))
        .route(
            "/v1/notify/hook/subscribe/{id}/transformer",
            get(transformers::show)
                .put(transformers::attach)
                .delete(transformers::detach)
                .layer(DefaultBodyLimit::max(transformers::MAX_COMPONENT)),
        )
        .route("/v1/notify/hook/subscribe/{id}/transformer/test", post(dry_runs::transformer))
        .route("/v1/notify/hook/subscribe/{id}/secret/rotate", post(hooks::rotate_secret))
        .route("/v1/notify/hook/sample", get(samples::by_filter))
        .route("/v1/notify/hook/{id}/sample", get(samples::by_hook))
        .route("/v1/notify/hook/{id}/deliveries", get(deliveries::list))
        .route("/v1/notify/hook/{id}/deliveries/{delivery_id}/retry", post(deliveries::retry))
        .route("/v1/notify/hook/errors", get(deliveries::errors))
        .route("/v1/events", post(events::ingest))
        .route("/v1/events/batch", post(events::ingest_batch))
        .route("/v1/plugins", get(plugins::list))
        .route(
            "/v1/plugins/{name}",
            get(plugins::show)
                .delete(plugins::delete)
                .post(plugins::upload)
                .layer(DefaultBodyLimit::max(transformers::MAX_COMPONENT)),
        )
        .route("/v1/plugins/{name}/activate", post(plugins::activate))
        .route("/v1/plugins/{name}/limits", put(plugins::set_limits))
        .route("/v1/plugins/{name}/test", post(dry_runs::serializer))
        .route("/v1/admin/tokens", get(tokens::list).post(tokens::create))
        .route("/v1/admin/tokens/{id}", axum::routing::delete(tokens::revoke))
        .route("/v1/admin/status", get(status::status))
        .route("/v1/admin/logs/stats", get(logs::stats))
        .route("/v1/admin/logs/cleanup", post(logs::cleanup))
        .fallback(|| async { ApiError::not_found("Resource") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "Method not allowed.")
        })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}
