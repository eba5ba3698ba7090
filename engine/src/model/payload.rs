//! Payloads: the bodies delivered to hooks, each known by an id given where
//! it is made, so that a store keeps one copy however many jobs, attempts
//! and samples refer to it.

use std::fmt;
use std::sync::Arc;

/// A payload's id: a UUIDv7, unique without asking a store, and ordered by
/// the time it was made, so that a store keyed by it writes new payloads
/// side by side. (Keyed by a digest of the body, redb's B-tree took each
/// new payload on a page of its own: 5% more bytes written per delivered
/// event than with three copies of the payload; keyed by this, 10 to 20%
/// fewer. See `store/redb/payloads.rs`.)
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PayloadId(pub [u8; 16]);

impl PayloadId {
    pub fn new() -> PayloadId {
        PayloadId(uuid::Uuid::now_v7().into_bytes())
    }
}

impl Default for PayloadId {
    fn default() -> Self {
        PayloadId::new()
    }
}

super::hex::hex_newtype!(PayloadId, 16);

/// A body delivered to hooks: an event's payload as its serializer made
/// it, or what a hook's transformer made of it. Its id is given where it is
/// made and travels with it: the jobs of one event, their attempts and the
/// samples refer to one payload. Cloning shares the body.
#[derive(Clone, PartialEq, Eq)]
pub struct Payload {
    id: PayloadId,
    body: Arc<str>,
}

impl Payload {
    /// A new payload, under a new id.
    pub fn new(body: impl Into<Arc<str>>) -> Payload {
        Payload { id: PayloadId::new(), body: body.into() }
    }

    /// A body a store read back under `id`.
    pub(crate) fn stored(id: PayloadId, body: Arc<str>) -> Payload {
        Payload { id, body }
    }

    pub fn id(&self) -> PayloadId {
        self.id
    }

    pub fn body(&self) -> &str {
        &self.body
    }
}

/// What a store writes where a payload is referred to.
impl AsRef<PayloadId> for Payload {
    fn as_ref(&self) -> &PayloadId {
        &self.id
    }
}

impl AsRef<PayloadId> for PayloadId {
    fn as_ref(&self) -> &PayloadId {
        self
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Payload({:?}, {:?})", self.id, self.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_ids_are_unique_and_ordered_by_time() {
        let (first, second) = (Payload::new("{}"), Payload::new("{}"));
        assert!(first.id() < second.id(), "{first:?} {second:?}");
        assert_ne!(first, second, "the same body twice is two payloads");
        let hex = serde_json::to_string(&first.id()).unwrap();
        assert_eq!(hex.len(), 32 + 2, "hex, quoted");
        assert_eq!(serde_json::from_str::<PayloadId>(&hex).unwrap(), first.id());
    }
}
