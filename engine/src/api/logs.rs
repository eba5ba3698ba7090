//! The delivery logs as an operator sees them: attempt statistics over the
//! last days, and pruning old records on demand (the same pruning the
//! engine runs hourly past its retention period).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::extract::{Body, QueryParams, Superadmin};
use super::status::success_rate;
use super::{ApiError, AppState};
use crate::model::Scope;
use crate::store::AttemptCounts;
use crate::time::Time;

/// The longest period either endpoint takes, in days (about ten years).
const MAX_DAYS: u32 = 3650;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    /// The period, in days back from now (default 7, at most 3650).
    days: Option<u32>,
}

#[derive(Serialize)]
pub struct Stats {
    days: u32,
    since: Time,
    #[serde(flatten)]
    totals: Summary,
    by_hook: Vec<HookStats>,
}

/// Counts with the figures derived from them.
#[derive(Serialize)]
struct Summary {
    #[serde(flatten)]
    counts: AttemptCounts,
    /// Succeeded per hundred attempts that called the receiver.
    success_rate: Option<f64>,
    avg_duration_ms: Option<u64>,
}

impl From<AttemptCounts> for Summary {
    fn from(counts: AttemptCounts) -> Self {
        let success_rate = success_rate(counts.succeeded, counts.succeeded + counts.failed);
        let avg_duration_ms = counts.total_duration_ms.checked_div(counts.attempts);
        Summary { counts, success_rate, avg_duration_ms }
    }
}

#[derive(Serialize)]
struct HookStats {
    id: u64,
    academy: Option<String>,
    event: String,
    target: String,
    #[serde(flatten)]
    summary: Summary,
}

/// `GET /v1/admin/logs/stats?days=7` (superadmin): attempts sent in the
/// last `days` days (default 7), in total, by status class and by hook.
#[utoipa::path(get, path = "/v1/admin/logs/stats", operation_id = "log_stats", params(StatsQuery),
    responses((status = 200, body = Object, example = json!({"days": 7, "attempts": 120, "succeeded": 118,
        "failed": 2, "cancelled": 0, "success_rate": 98.3, "by_status_class": {"2xx": 118, "5xx": 2}, "by_hook": []}))))]
pub async fn stats(
    State(state): State<AppState>,
    _: Superadmin,
    QueryParams(query): QueryParams<StatsQuery>,
) -> Result<Json<Stats>, ApiError> {
    let days = checked_days(query.days.unwrap_or(7))?;
    let since = Time::days_ago(days);
    let mut totals = AttemptCounts::default();
    let mut by_hook = Vec::new();
    for (hook, counts) in state.store.attempt_counts(&Scope::All, since).await? {
        if counts.attempts == 0 {
            continue;
        }
        totals.add(&counts);
        let (event, target) = (hook.settings.event, hook.settings.target);
        by_hook.push(HookStats { id: hook.id, academy: hook.academy, event, target, summary: counts.into() });
    }
    Ok(Json(Stats { days, since, totals: totals.into(), by_hook }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Cleanup {
    /// Records older than this many days go (0: everything before now).
    days: u32,
}

#[derive(Serialize)]
pub struct CleanedUp {
    days: u32,
    cutoff: Time,
    events: usize,
    attempts: usize,
    hook_errors: usize,
}

/// `POST /v1/admin/logs/cleanup` `{"days": N}` (superadmin): deletes now
/// the events, attempts and hook errors recorded more than `days` days ago
/// (0: everything before this second). Queued deliveries are kept.
#[utoipa::path(post, path = "/v1/admin/logs/cleanup", operation_id = "log_cleanup", request_body = Cleanup,
    responses((status = 200, body = Object, example = json!({"days": 30, "events": 10, "attempts": 12, "hook_errors": 1}))))]
pub async fn cleanup(
    State(state): State<AppState>,
    _: Superadmin,
    Body(input): Body<Cleanup>,
) -> Result<Json<CleanedUp>, ApiError> {
    let days = checked_days(input.days)?;
    let cutoff = Time::days_ago(days);
    let store = state.store.clone();
    let pruned = tokio::spawn(async move { store.prune(cutoff).await }).await.map_err(|error| {
        tracing::error!(%error, "pruning panicked");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "cleanup-failed", "The cleanup failed; nothing was changed.")
    })??;
    tracing::info!(events = pruned.events, attempts = pruned.attempts, hook_errors = pruned.hook_errors, %cutoff, "pruned on request");
    Ok(Json(CleanedUp {
        days,
        cutoff,
        events: pruned.events,
        attempts: pruned.attempts,
        hook_errors: pruned.hook_errors,
    }))
}

fn checked_days(days: u32) -> Result<u32, ApiError> {
    if days > MAX_DAYS {
        return Err(ApiError::validation(format!("days must be at most {MAX_DAYS}")));
    }
    Ok(days)
}
