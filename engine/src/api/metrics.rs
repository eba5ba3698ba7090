//! `GET /metrics`: the engine's series in the Prometheus text format
//! (listed in `crate::metrics`), on the API's own listener, without a token
//! as `/healthz`.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

use super::{ApiError, AppState};
use crate::time::now_ms;

/// The content type of the Prometheus text exposition format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The metrics, with the store's health, the queue's and the components'
/// gauges read from the store now.
#[utoipa::path(get, path = "/metrics", security(()), responses((status = 200, body = String,
    content_type = "text/plain; version=0.0.4",
    description = "Prometheus text format",
    example = "# TYPE wasmhook_queue_depth gauge\nwasmhook_queue_depth 0\n")))]
pub async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let health = state.store.health().view();
    crate::metrics::store_health(health.available, health.failed_commits, health.free_bytes, health.space_low);
    let queue = state.store.queue_summary().await?;
    crate::metrics::queue(queue.depth, queue.oldest_wait(now_ms()));
    let components = state.store.component_totals().await?;
    crate::metrics::storage(state.limits.uploads.in_flight(), components.count, components.bytes);
    Ok(([(CONTENT_TYPE, TEXT_FORMAT)], state.metrics.render()))
}
