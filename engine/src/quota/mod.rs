//! What one tenant or one token may take of the engine: per-academy quotas
//! on what it stores (enforced by the store, in the transaction that would
//! exceed them), bounds on component uploads in flight, and per-token rate
//! limits on ingest and on API writes (in memory, see `rate.rs`).
//!
//! Every refusal is a [`Refused`] naming its [`Limit`]: the API answers it
//! (403 for what is stored, 429 for what passes) and counts it in
//! `/metrics` by limit, never by academy or token, so the series stay few.

mod rate;
mod uploads;

use std::sync::Arc;
use std::time::Duration;

pub use rate::{RateLimit, TokenBuckets};
pub use uploads::{UploadBounds, UploadSlot, UploadSlots};

use crate::store::Quotas;

/// Every quota and limit `serve` enforces (from the `[quotas]` and
/// `[rate_limits]` settings).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Settings {
    /// Checked by the store.
    pub stored: Quotas,
    pub uploads: UploadBounds,
    /// `None`: no limit.
    pub ingest: Option<RateLimit>,
    pub api_writes: Option<RateLimit>,
}

/// The limits checked as requests arrive, shared by the API's handlers.
#[derive(Debug)]
pub struct RequestLimits {
    /// Events posted, per token.
    pub ingest: TokenBuckets,
    /// API writes, per token.
    pub api_writes: TokenBuckets,
    pub uploads: Arc<UploadSlots>,
}

impl RequestLimits {
    pub fn new(settings: &Settings) -> RequestLimits {
        RequestLimits {
            ingest: TokenBuckets::new(Limit::IngestEvents, settings.ingest),
            api_writes: TokenBuckets::new(Limit::ApiWrites, settings.api_writes),
            uploads: UploadSlots::new(settings.uploads),
        }
    }
}

/// Every quota and limit the engine enforces. Its [`Limit::name`] is its
/// setting's key within its section and its `/metrics` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// Hooks an academy may have.
    HooksPerAcademy,
    /// Bytes of the transformer components an academy's hooks use.
    TransformerBytesPerAcademy,
    /// Component uploads of one academy being received at once.
    UploadsInFlightPerAcademy,
    /// Component uploads being received at once, all callers together.
    UploadsInFlight,
    /// Events a token may post per second (a batch counts its events).
    IngestEvents,
    /// API writes (POST, PUT, PATCH, DELETE but ingest) a token may make per second.
    ApiWrites,
}

impl Limit {
    pub const ALL: [Limit; 6] = [
        Limit::HooksPerAcademy,
        Limit::TransformerBytesPerAcademy,
        Limit::UploadsInFlightPerAcademy,
        Limit::UploadsInFlight,
        Limit::IngestEvents,
        Limit::ApiWrites,
    ];

    /// The setting's key in its section, also the metric's `limit` label.
    pub fn name(self) -> &'static str {
        match self {
            Limit::HooksPerAcademy => "max_hooks_per_academy",
            Limit::TransformerBytesPerAcademy => "max_transformer_bytes_per_academy",
            Limit::UploadsInFlightPerAcademy => "max_uploads_in_flight_per_academy",
            Limit::UploadsInFlight => "max_uploads_in_flight",
            Limit::IngestEvents => "ingest_events_per_second",
            Limit::ApiWrites => "api_writes_per_second",
        }
    }

    /// The setting's full key, as the configuration reference lists it.
    pub fn key(self) -> String {
        let section = match self {
            Limit::IngestEvents | Limit::ApiWrites => "rate_limits",
            _ => "quotas",
        };
        format!("{section}.{}", self.name())
    }
}

/// A request refused by a quota or a limit: which one, why (for a human),
/// and, for limits that pass, when trying again may succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct Refused {
    pub limit: Limit,
    pub detail: String,
    /// `None` for quotas on what is stored: waiting does not help, deleting does.
    pub retry_after: Option<Duration>,
}

/// A bound that `0` switches off (the settings' convention).
pub(crate) fn bound(value: u64) -> Option<u64> {
    (value > 0).then_some(value)
}
