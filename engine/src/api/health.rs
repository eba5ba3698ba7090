use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use std::sync::atomic::Ordering;

use super::AppState;

/// Liveness: the process answers; with the group-commit counters.
#[utoipa::path(get, path = "/healthz", security(()), responses((status = 200, body = Object,
    example = json!({"status": "ok", "commits": 12, "committed_operations": 40}))))]
pub async fn healthz(State(state): State<AppState>) -> Json<Value> {
    let stats = state.ingest.committer.stats();
    Json(json!({
        "status": "ok",
        "commits": stats.commits.load(Ordering::Relaxed),
        "committed_operations": stats.operations.load(Ordering::Relaxed),
    }))
}
