use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::AppState;

/// Liveness: the process answers; with the group-commit counters.
#[utoipa::path(get, path = "/healthz", security(()), responses((status = 200, body = Object,
    example = json!({"status": "ok", "commits": 12, "committed_operations": 40}))))]
pub async fn healthz(State(state): State<AppState>) -> Json<Value> {
    let (commits, operations) = state.store.commit_counts().unwrap_or_default();
    Json(json!({"status": "ok", "commits": commits, "committed_operations": operations}))
}
