//! The engine's recent traffic (`GET /v1/admin/activity`) on the wire.

use serde::{Deserialize, Serialize};

use crate::activity;
use crate::time::Time;

/// The last hour, one entry a minute, oldest first, the current minute
/// (still counting) last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Activity {
    pub minutes: Vec<ActivityMinute>,
}

/// One minute of this engine's traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"at": "2025-01-15T10:30:00Z", "events": 120, "deliveries": 131, "delivered": 127, "failed": 4}))]
pub struct ActivityMinute {
    /// When the minute started.
    pub at: Time,
    /// Events taken by the ingest (every outcome, follow-up events included).
    pub events: u64,
    /// Delivery attempts made.
    pub deliveries: u64,
    /// Attempts that succeeded.
    pub delivered: u64,
    /// Attempts that failed.
    pub failed: u64,
}

impl From<activity::Minute> for ActivityMinute {
    fn from(minute: activity::Minute) -> Self {
        let activity::Minute { minute: _, events, deliveries, delivered, failed } = minute;
        ActivityMinute { at: minute.start(), events, deliveries, delivered, failed }
    }
}
