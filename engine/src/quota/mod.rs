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

use serde::{Deserialize, Serialize};

pub use rate::{RateLimit, TokenBuckets};
pub use uploads::{UploadBounds, UploadSlot, UploadSlots};

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

impl Settings {
    /// The quotas and limits of the `[quotas]` and `[rate_limits]`
    /// sections, `0` meaning none.
    pub fn new(quotas: &QuotaSettings, rates: &RateLimitSettings) -> Settings {
        Settings {
            stored: Quotas {
                max_hooks: bound(quotas.max_hooks_per_academy),
                max_transformer_bytes: bound(quotas.max_transformer_bytes_per_academy),
            },
            uploads: UploadBounds {
                per_academy: bound(quotas.max_uploads_in_flight_per_academy),
                total: bound(quotas.max_uploads_in_flight),
            },
            ingest: RateLimitSettings::limit(rates.ingest_events_per_second, rates.ingest_burst),
            api_writes: RateLimitSettings::limit(rates.api_writes_per_second, rates.api_writes_burst),
        }
    }
}

/// The per-academy quotas the store enforces (`None`: no limit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quotas {
    pub max_hooks: Option<u64>,
    pub max_transformer_bytes: Option<u64>,
}

/// The `[quotas]` settings section: per-academy quotas, and bounds on
/// component uploads being received. 0: no limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuotaSettings {
    /// Hooks an academy may have.
    pub max_hooks_per_academy: u64,
    /// Bytes the transformer components of an academy's hooks may take
    /// (each component counted once).
    pub max_transformer_bytes_per_academy: u64,
    /// Component uploads one academy may have being received at once.
    pub max_uploads_in_flight_per_academy: u64,
    /// Component uploads being received at once, by everyone.
    pub max_uploads_in_flight: u64,
}

impl Default for QuotaSettings {
    fn default() -> Self {
        QuotaSettings {
            max_hooks_per_academy: 1000,
            // Two of the largest components accepted, or a hundred typical ones.
            max_transformer_bytes_per_academy: 32 << 20,
            max_uploads_in_flight_per_academy: 2,
            max_uploads_in_flight: 4,
        }
    }
}

/// The `[rate_limits]` settings section: per-token rate limits (token
/// buckets). A rate of 0: no limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitSettings {
    /// Events a token may post per second (a batch counts its events).
    pub ingest_events_per_second: u32,
    /// Events a token may post at once above that rate.
    pub ingest_burst: u32,
    /// API writes (POST, PUT, PATCH, DELETE, but ingest) a token may make per second.
    pub api_writes_per_second: u32,
    /// API writes a token may make at once above that rate.
    pub api_writes_burst: u32,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        // Above what one token posts in the load benchmark (about 110,000
        // events/s in batches on 2 cores), so only a runaway client meets it.
        RateLimitSettings {
            ingest_events_per_second: 200_000,
            ingest_burst: 20_000,
            api_writes_per_second: 20,
            api_writes_burst: 100,
        }
    }
}

impl RateLimitSettings {
    /// What the types alone do not check.
    pub fn check(&self) -> Result<(), String> {
        if self.ingest_burst == 0 || self.api_writes_burst == 0 {
            return Err("must be at least 1 (a rate of 0 switches the limit off)".into());
        }
        Ok(())
    }

    fn limit(per_second: u32, burst: u32) -> Option<RateLimit> {
        (per_second > 0).then_some(RateLimit { per_second, burst })
    }
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
