//! Timestamps as the API shows them: RFC 3339, UTC, whole seconds
//! (`2025-01-15T10:30:00Z`), like the hooks API this engine reproduces.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A UTC instant, whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, format = DateTime, example = "2025-01-15T10:30:00Z")]
pub struct Time(jiff::Timestamp);

impl Time {
    pub fn now() -> Time {
        Time::from_second(jiff::Timestamp::now().as_second())
    }

    /// The instant `seconds` after the Unix epoch (clamped to jiff's range).
    pub fn from_second(seconds: i64) -> Time {
        Time(jiff::Timestamp::from_second(seconds).unwrap_or(jiff::Timestamp::UNIX_EPOCH))
    }

    /// `days` whole days before now: the cutoff of "older than N days".
    pub fn days_ago(days: u32) -> Time {
        Time::from_second(jiff::Timestamp::now().as_second() - i64::from(days) * 86_400)
    }

    pub fn as_second(self) -> i64 {
        self.0.as_second()
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Milliseconds since the Unix epoch: the clock of the delivery queue.
pub fn now_ms() -> u64 {
    u64::try_from(jiff::Timestamp::now().as_millisecond()).unwrap_or(0)
}
