//! The delivery settings the operator chooses: a section of the
//! configuration that this module owns. Its keys stay flat in the
//! configuration file (`delivery_concurrency`, `retry_schedule`, …), as
//! they were before sections existed, so files and variables that work
//! keep working; `config.rs` flattens the section into the top level.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{DeliveryConfig, RetryPolicy};
use crate::targets::TargetPolicy;
use crate::units::{duration, schedule};

/// The delivery settings (flat keys of the configuration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeliverySettings {
    /// Requests to receivers in flight at once (an attempt whose answer is
    /// being recorded no longer holds one).
    #[serde(rename = "delivery_concurrency")]
    pub concurrency: usize,
    /// Deliveries in flight at once to one hook, for hooks without their
    /// own `max_in_flight`.
    #[serde(rename = "delivery_max_in_flight_per_hook")]
    pub max_in_flight_per_hook: NonZeroUsize,
    /// Delays before each retry of a failed delivery.
    #[serde(with = "schedule")]
    pub retry_schedule: Vec<Duration>,
    /// Timeout of a delivery for hooks without their own `timeout`.
    #[serde(with = "duration")]
    pub default_timeout: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings {
            concurrency: 64,
            max_in_flight_per_hook: NonZeroUsize::new(4).expect("4 is not 0"),
            retry_schedule: RetryPolicy::default().schedule,
            default_timeout: Duration::from_secs(30),
        }
    }
}

impl DeliverySettings {
    /// What the types alone do not check.
    pub fn check(&self) -> Result<(), String> {
        if self.concurrency == 0 {
            return Err("must be at least 1".into());
        }
        if self.default_timeout.is_zero() {
            return Err("must be longer than 0 ms".into());
        }
        Ok(())
    }

    /// How deliveries run under these settings, to the targets `targets`
    /// allows.
    pub fn config(&self, targets: Arc<TargetPolicy>) -> DeliveryConfig {
        DeliveryConfig {
            concurrency: self.concurrency,
            max_in_flight_per_hook: self.max_in_flight_per_hook,
            retry: RetryPolicy { schedule: self.retry_schedule.clone(), ..RetryPolicy::default() },
            default_timeout: self.default_timeout,
            max_response_body: DeliveryConfig::MAX_RESPONSE_BODY,
            targets,
        }
    }
}
