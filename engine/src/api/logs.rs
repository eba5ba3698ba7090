//! The delivery logs as an operator sees them: attempt statistics over the
//! last days, and pruning old records on demand (the same pruning the
//! engine runs hourly past its retention period).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::extract::{Body, QueryParams, Superadmin};
use super::status::success_rate;
use super::types::{AttemptSummary, CleanedUp, HookAttempts, LogStats};
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

/// Counts with the figures derived from them.
fn summary(counts: AttemptCounts) -> AttemptSummary {
    let success_rate = success_rate(counts.succeeded, counts.succeeded + counts.failed);
    let avg_duration_ms = counts.total_duration_ms.checked_div(counts.attempts);
    let AttemptCounts { attempts, succeeded, failed, cancelled, by_status_class, total_duration_ms } = counts;
    AttemptSummary {
        attempts,
        succeeded,
        failed,
        cancelled,
        by_status_class,
        total_duration_ms,
        success_rate,
        avg_duration_ms,
    }
}

/// `GET /v1/admin/logs/stats?days=7` (superadmin): attempts sent in the
/// last `days` days (default 7), in total, by status class and by hook.
#[utoipa::path(get, path = "/v1/admin/logs/stats", operation_id = "log_stats", params(StatsQuery),
    responses((status = 200, body = LogStats)))]
pub async fn stats(
    State(state): State<AppState>,
    _: Superadmin,
    QueryParams(query): QueryParams<StatsQuery>,
) -> Result<Json<LogStats>, ApiError> {
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
        by_hook.push(HookAttempts { id: hook.id, academy: hook.academy, event, target, summary: summary(counts) });
    }
    Ok(Json(LogStats { days, since, totals: summary(totals), by_hook }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Cleanup {
    /// Records older than this many days go (0: everything before now).
    days: u32,
}

/// `POST /v1/admin/logs/cleanup` `{"days": N}` (superadmin): deletes now
/// the events, attempts and hook errors recorded more than `days` days ago
/// (0: everything before this second). Queued deliveries are kept.
#[utoipa::path(post, path = "/v1/admin/logs/cleanup", operation_id = "log_cleanup", request_body = Cleanup,
    responses((status = 200, body = CleanedUp)))]
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
