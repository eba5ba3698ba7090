//! Ingested events on the wire.

use serde::{Deserialize, Serialize};

use crate::model;
use crate::time::Time;

/// An ingested event and what came of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventRecord {
    /// Unique within its academy.
    pub id: String,
    pub event: String,
    pub academy: String,
    pub received_at: Time,
    /// Delivery jobs queued for it.
    pub deliveries: u32,
    #[serde(flatten)]
    pub outcome: EventOutcome,
    /// Ids of the follow-up events it produced.
    pub follow_ups: Vec<String>,
}

impl From<model::EventRecord> for EventRecord {
    fn from(record: model::EventRecord) -> Self {
        let model::EventRecord { id, event, academy, received_at, deliveries, outcome, follow_ups } = record;
        EventRecord { id, event, academy, received_at, deliveries, outcome: outcome.into(), follow_ups }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum EventOutcome {
    /// Queued for every subscribed hook (possibly none).
    Accepted,
    /// The serializer decided not to deliver it.
    Skipped { reason: String },
    /// Webhooks were disabled for it (globally or by the request).
    Suppressed,
    /// The serializer failed; a hook error was recorded.
    Failed { error: String },
}

impl From<model::EventOutcome> for EventOutcome {
    fn from(outcome: model::EventOutcome) -> Self {
        match outcome {
            model::EventOutcome::Accepted => EventOutcome::Accepted,
            model::EventOutcome::Skipped { reason } => EventOutcome::Skipped { reason },
            model::EventOutcome::Suppressed => EventOutcome::Suppressed,
            model::EventOutcome::Failed { error } => EventOutcome::Failed { error },
        }
    }
}
