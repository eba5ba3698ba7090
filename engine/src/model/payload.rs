//! Payloads: the bodies delivered to hooks, known by their sha256, so that a
//! store keeps one copy of each however many jobs, attempts and samples
//! refer to it.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

/// A sha256, stored as hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256(pub [u8; 32]);

impl Sha256 {
    pub fn of(bytes: &[u8]) -> Sha256 {
        Sha256(sha2::Sha256::digest(bytes).into())
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl Serialize for Sha256 {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for Sha256 {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let mut bytes = [0; 32];
        hex::decode_to_slice(&text, &mut bytes).map_err(serde::de::Error::custom)?;
        Ok(Sha256(bytes))
    }
}

/// A body delivered to hooks: an event's payload as its serializer made
/// it, or what a hook's transformer made of it. Its digest is computed
/// once, where it is made (on the ingest's or the delivery's task, not in
/// a store's writer), and cannot disagree with its body. Cloning shares the
/// body: the jobs of one event hold one copy.
#[derive(Clone, PartialEq, Eq)]
pub struct Payload {
    digest: Sha256,
    body: Arc<str>,
}

impl Payload {
    pub fn new(body: impl Into<Arc<str>>) -> Payload {
        let body = body.into();
        Payload { digest: Sha256::of(body.as_bytes()), body }
    }

    /// A body a store read back under `digest`, which it wrote from a
    /// `Payload`: not hashed again.
    pub(crate) fn stored(digest: Sha256, body: Arc<str>) -> Payload {
        Payload { digest, body }
    }

    pub fn digest(&self) -> Sha256 {
        self.digest
    }

    pub fn body(&self) -> &str {
        &self.body
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Payload({:?}, {:?})", self.digest, self.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_is_known_by_the_sha256_of_its_body() {
        let payload = Payload::new(r#"{"n":1}"#);
        assert_eq!(payload.digest(), Sha256::of(br#"{"n":1}"#));
        assert_ne!(payload.digest(), Payload::new(r#"{"n":2}"#).digest());
        let hex = serde_json::to_string(&payload.digest()).unwrap();
        assert_eq!(hex.len(), 64 + 2, "hex, quoted");
        assert_eq!(serde_json::from_str::<Sha256>(&hex).unwrap(), payload.digest());
    }
}
