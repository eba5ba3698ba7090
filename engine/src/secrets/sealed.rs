//! How a sealed value is stored.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::KeyId;

/// A value sealed with XChaCha20-Poly1305: the id of its key, a random
/// 192-bit nonce (random nonces of that size never repeat in practice) and
/// the ciphertext with its tag. The place of the value (which hook, which
/// field) is the associated data: a sealed value copied to another hook or
/// field does not open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    pub(super) key: KeyId,
    #[serde(with = "base64_bytes")]
    pub(super) nonce: Vec<u8>,
    #[serde(with = "base64_bytes")]
    pub(super) data: Vec<u8>,
}

impl Sealed {
    /// The id of the key it is sealed with.
    pub fn key(&self) -> KeyId {
        self.key
    }
}

/// A confidential value as read from the store: sealed, or in plaintext
/// as engines before sealing wrote it. Only reads produce this type, and a
/// plaintext value is sealed at the next start (see
/// `store::reseal`): nothing writes plaintext.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum AtRest {
    Sealed(Sealed),
    Plaintext(String),
}

mod base64_bytes {
    use super::*;

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}
