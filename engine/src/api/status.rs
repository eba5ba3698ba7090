//! `GET /v1/admin/status`: the operator's view of the engine — the
//! delivery queue and each hook's health.
//!
//! A hook's health comes from its last [`WINDOW`] attempts that called the
//! receiver: a success rate of at least 95 % is healthy, at least 80 % a
//! warning, below that critical; a hook with no such attempt yet is
//! `unknown`. Recent attempts rather than lifetime stats, so a hook that
//! recovered shows it within a few deliveries.

use axum::Json;
use axum::extract::State;

use super::extract::{HookScope, Superadmin};
use super::types::{Health, HealthRule, HookCounts, HookHealth, HooksHealth, QueueStatus, Status};
use super::{ApiError, AppState};
use crate::model::{Hook, HookStats, Scope};
use crate::store::RecentOutcomes;
use crate::time::{Time, now_ms};

/// How many of a hook's latest attempts its health is judged on.
pub const WINDOW: usize = 20;
/// Lowest success rate (%) that is healthy.
pub const HEALTHY_FROM: f64 = 95.0;
/// Lowest success rate (%) that is a warning rather than critical.
pub const WARNING_FROM: f64 = 80.0;

/// The health of a hook whose recent success rate is `rate`.
fn health_of(rate: Option<f64>) -> Health {
    match rate {
        None => Health::Unknown,
        Some(rate) if rate >= HEALTHY_FROM => Health::Healthy,
        Some(rate) if rate >= WARNING_FROM => Health::Warning,
        Some(_) => Health::Critical,
    }
}

/// Successes per hundred attempts, one decimal; `None` without attempts.
pub fn success_rate(successes: u64, attempts: u64) -> Option<f64> {
    (attempts > 0).then(|| (successes as f64 * 1000.0 / attempts as f64).round() / 10.0)
}

/// A hook's health from its stats and its recent outcomes.
fn hook_health(hook: Hook, stats: HookStats, recent: RecentOutcomes) -> HookHealth {
    let success_rate = success_rate(recent.successes.into(), recent.attempts.into());
    HookHealth {
        id: hook.id,
        academy: hook.academy,
        event: hook.settings.event,
        target: hook.settings.target,
        is_active: hook.settings.is_active,
        health: health_of(success_rate),
        success_rate,
        recent_attempts: recent.attempts,
        recent_successes: recent.successes,
        total_calls: stats.total_calls,
        consecutive_failures: stats.consecutive_failures,
        last_call_at: stats.last_call_at,
        last_response_code: stats.last_response_code,
    }
}

/// The health of every hook visible in `scope`.
async fn hooks_health(state: &AppState, scope: &Scope) -> Result<Vec<HookHealth>, ApiError> {
    let hooks = state.store.recent_outcomes(scope, WINDOW).await?;
    let mut results = Vec::with_capacity(hooks.len());
    for (hook, recent) in hooks {
        let stats = state.store.hook_stats(hook.id).await?;
        results.push(hook_health(hook, stats, recent));
    }
    Ok(results)
}

fn health_rule() -> HealthRule {
    HealthRule { window: WINDOW, healthy_from: HEALTHY_FROM, warning_from: WARNING_FROM }
}

/// `GET /v1/admin/status` (superadmin): the queue and every hook's health.
#[utoipa::path(get, path = "/v1/admin/status", operation_id = "engine_status",
    responses((status = 200, body = Status)))]
pub async fn status(State(state): State<AppState>, _: Superadmin) -> Result<Json<Status>, ApiError> {
    let queue = state.store.queue_summary().await?;
    let results = hooks_health(&state, &Scope::All).await?;
    let mut counts = HookCounts { total: results.len(), ..HookCounts::default() };
    for hook in &results {
        counts.active += usize::from(hook.is_active);
        *match hook.health {
            Health::Healthy => &mut counts.healthy,
            Health::Warning => &mut counts.warning,
            Health::Critical => &mut counts.critical,
            Health::Unknown => &mut counts.unknown,
        } += 1;
    }
    let oldest_wait_seconds = queue.oldest_wait(now_ms()).as_secs();
    let oldest_due_at = queue.first_due_ms.map(|ms| Time::from_second((ms / 1000) as i64));
    Ok(Json(Status {
        queue: QueueStatus { depth: queue.depth, oldest_due_at, oldest_wait_seconds },
        hooks: counts,
        health_rule: health_rule(),
        results,
    }))
}

/// `GET /v1/notify/hook/health`: the health of the caller's hooks (an
/// academy's own, a superadmin's all), judged as `/v1/admin/status` judges
/// it; without the queue, which is the engine's and not an academy's.
#[utoipa::path(get, path = "/v1/notify/hook/health", operation_id = "hooks_health",
    responses((status = 200, body = HooksHealth)))]
pub async fn hooks(State(state): State<AppState>, HookScope(scope): HookScope) -> Result<Json<HooksHealth>, ApiError> {
    Ok(Json(HooksHealth { health_rule: health_rule(), results: hooks_health(&state, &scope).await? }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_follows_the_documented_thresholds() {
        let health = |successes, attempts| health_of(success_rate(successes, attempts));
        assert_eq!(health(0, 0), Health::Unknown);
        assert_eq!(health(20, 20), Health::Healthy);
        assert_eq!(health(19, 20), Health::Healthy, "95 % is healthy");
        assert_eq!(health(18, 20), Health::Warning);
        assert_eq!(health(16, 20), Health::Warning, "80 % is a warning");
        assert_eq!(health(15, 20), Health::Critical);
        assert_eq!(health(0, 3), Health::Critical);
    }

    #[test]
    fn success_rate_has_one_decimal() {
        assert_eq!(success_rate(2, 3), Some(66.7));
        assert_eq!(success_rate(0, 0), None);
    }
}
