//! The HTTP series of `/metrics`: each answered request counted by its
//! route template (axum's `MatchedPath`, `/v1/plugins/{name}`), never by
//! its raw URI, which would make one series per id.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;

/// Middleware: counts and times the request once answered.
pub async fn record(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    let method = request.method().clone();
    let started = Instant::now();
    let response = next.run(request).await;
    crate::metrics::http_request(&route, method.as_str(), response.status().as_u16(), started.elapsed());
    response
}
