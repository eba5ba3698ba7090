//! Events as ingested: the idempotency record and what came of each one,
//! and events parked until their serializer is fixed.

use serde::{Deserialize, Serialize};

use sha2::Digest as _;

use super::{HookErrorRecord, Job};
use crate::time::Time;

/// An ingested event and what came of it, as the API answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// The idempotency record of an event: what the API answers, and for an
/// event whose id the client chose, the digest of what it was posted with,
/// so that a reuse of the id with other content is told apart from a
/// retry. Records written before the digest existed (schema version 2),
/// and those of generated ids and follow-ups, have none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEvent {
    #[serde(flatten)]
    pub record: EventRecord,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The sha256 of what identifies the request's content (see
    /// `ingest/idempotency.rs`).
    pub content: Option<Sha256>,
}

/// A sha256, stored as hex: what identifies a request's content (see
/// `ingest/idempotency.rs`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256(pub [u8; 32]);

impl Sha256 {
    pub fn of(bytes: &[u8]) -> Sha256 {
        Sha256(sha2::Sha256::digest(bytes).into())
    }
}

super::hex::hex_newtype!(Sha256, 32);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// An event waiting for its serializer to be fixed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParkedEvent {
    pub event_id: String,
    /// Catalogue name.
    pub event: String,
    pub academy: String,
    /// The source object, as posted.
    pub data: String,
    /// The serializer that failed on it.
    pub plugin: String,
    /// Its last error.
    pub error: String,
    pub parked_at: Time,
    /// How many times the serializer failed on it.
    pub failures: u32,
}

/// are unique per academy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParkedKey {
    pub academy: String,
    pub event_id: String,
}

impl ParkedEvent {
    pub fn key(&self) -> ParkedKey {
        ParkedKey { academy: self.academy.clone(), event_id: self.event_id.clone() }
    }
}

/// One posted event as ingest prepared it (its plugins ran), to be
/// recorded at once: its record and jobs, its follow-ups', the hook errors
/// and the parked events it made.
#[derive(Debug, Default)]
pub struct IngestItem {
    /// The item's index in its request.
    pub index: usize,
    /// The top event's content, when its id came from the client: a
    /// concurrent request may carry the id too. Generated ids are unique
    /// and skip that check.
    pub content: Option<Sha256>,
    /// The top event first, then its follow-ups.
    pub events: Vec<(StoredEvent, Vec<Job>)>,
    pub errors: Vec<HookErrorRecord>,
    /// Events whose serializer failed, to park.
    pub parked: Vec<ParkedEvent>,
}

/// What a stored record means for a request with the same academy and id.
#[derive(Debug)]
pub enum Seen {
    /// Nothing stored (or a failed record a re-run replaces): ingest it.
    New,
    /// Ingested before: answer this.
    Known(EventRecord),
    /// The id was used for other content.
    Conflict,
}

/// An item whose id its academy already used for other content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdConflict {
    /// The item's index in its request.
    pub index: usize,
    pub academy: String,
    pub id: String,
}
