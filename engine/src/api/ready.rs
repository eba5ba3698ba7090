//! Readiness: whether this instance should be sent traffic. `/healthz` is
//! the liveness probe.

use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::AppState;

/// 200 `{"status": "ready", …}` when the engine is serving (not starting,
/// not shutting down), the store takes writes (no storage failure, free
/// space above the floor) and a read transaction of it succeeds, and the
/// plugin runtime enforces deadlines; 503 `{"status": "not-ready", …}` with
/// what is wrong otherwise.
#[utoipa::path(get, path = "/readyz", security(()), responses(
    (status = 200, body = Object, example = json!({"status": "ready", "serving": true, "store": "ok", "runtime": "ok"})),
    (status = 503, body = Object, example = json!({"status": "not-ready", "serving": true,
        "store": "the storage refuses writes: I/O error: No space left on device (os error 28)", "runtime": "ok"}))))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let serving = state.ready.load(Ordering::Relaxed);
    let store = match state.store.health().refusal() {
        Some(why) => why.to_string(),
        None => match state.store.check_readable().await {
            Ok(()) => "ok".to_owned(),
            Err(error) => error.to_string(),
        },
    };
    let runtime = if state.runtime.is_ready() { "ok" } else { "the epoch ticker has stopped" };
    let ready = serving && store == "ok" && runtime == "ok";
    let body = json!({
        "status": if ready { "ready" } else { "not-ready" },
        "serving": serving,
        "store": store,
        "runtime": runtime,
    });
    (if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, Json(body))
}
