//! Attempt statistics and on-demand pruning (`/v1/admin/logs/…`) on the wire.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::time::Time;

/// Attempts sent over a period, in total and by hook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LogStats {
    pub days: u32,
    pub since: Time,
    #[serde(flatten)]
    pub totals: AttemptSummary,
    pub by_hook: Vec<HookAttempts>,
}

/// Attempts by outcome and status class, with the figures derived from them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AttemptSummary {
    pub attempts: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub cancelled: u64,
    /// `2xx` … `5xx`, and `none` for timeouts and connection errors;
    /// cancelled attempts are in no class.
    pub by_status_class: BTreeMap<String, u64>,
    /// Sum of the durations.
    pub total_duration_ms: u64,
    /// Succeeded per hundred attempts that called the receiver.
    pub success_rate: Option<f64>,
    pub avg_duration_ms: Option<u64>,
}

/// One hook's attempts over the period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HookAttempts {
    pub id: u64,
    pub academy: Option<String>,
    pub event: String,
    pub target: String,
    #[serde(flatten)]
    pub summary: AttemptSummary,
}

/// What a cleanup deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CleanedUp {
    pub days: u32,
    pub cutoff: Time,
    pub events: usize,
    pub attempts: usize,
    pub hook_errors: usize,
}
