//! The operator's status document (`GET /v1/admin/status`) on the wire.

use serde::{Deserialize, Serialize};

use crate::time::Time;

/// A hook's health, judged on its recent attempts (see `api/status.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Healthy,
    Warning,
    Critical,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Status {
    pub queue: QueueStatus,
    pub hooks: HookCounts,
    /// The thresholds the health was judged by.
    pub health_rule: HealthRule,
    pub results: Vec<HookHealth>,
}

/// The health of the caller's hooks (`GET /v1/notify/hook/health`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HooksHealth {
    /// The thresholds the health was judged by.
    pub health_rule: HealthRule,
    pub results: Vec<HookHealth>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueStatus {
    /// Deliveries waiting for an attempt.
    pub depth: u64,
    /// When the earliest of them is (or was) due.
    pub oldest_due_at: Option<Time>,
    /// How long it has been due: the queue's lag (0 when not due yet).
    pub oldest_wait_seconds: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HookCounts {
    pub total: usize,
    pub active: usize,
    pub healthy: usize,
    pub warning: usize,
    pub critical: usize,
    pub unknown: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HealthRule {
    /// How many of a hook's latest attempts are judged.
    pub window: usize,
    /// Lowest success rate (%) that is healthy.
    pub healthy_from: f64,
    /// Lowest success rate (%) that is a warning rather than critical.
    pub warning_from: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HookHealth {
    pub id: u64,
    pub academy: Option<String>,
    pub event: String,
    pub target: String,
    pub is_active: bool,
    pub health: Health,
    /// Successes per hundred recent attempts, one decimal.
    pub success_rate: Option<f64>,
    pub recent_attempts: u32,
    pub recent_successes: u32,
    pub total_calls: u64,
    pub consecutive_failures: u32,
    pub last_call_at: Option<Time>,
    pub last_response_code: Option<u16>,
}
