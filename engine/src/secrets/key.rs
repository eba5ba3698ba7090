//! The key that seals secrets at rest, and its public name.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

use super::REDACTED;

/// A 256-bit key, written as base64 (in the configuration, the
/// environment and the key file). It is never shown: `Debug` names it by
/// its [`KeyId`] and serializing it writes `<redacted>`, so `config show`
/// cannot leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey {
    bytes: [u8; SecretKey::LEN],
}

/// Text that is not a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("is not a key: 32 random bytes in base64 expected (`openssl rand -base64 32` makes one)")]
pub struct BadKey;

impl SecretKey {
    /// Bytes of a key.
    pub const LEN: usize = 32;

    /// A new random key.
    pub fn generate() -> SecretKey {
        let mut bytes = [0; SecretKey::LEN];
        getrandom::fill(&mut bytes).expect("the operating system's random source");
        SecretKey { bytes }
    }

    /// A key written as base64 (surrounding whitespace ignored, so a key
    /// file may end with a newline).
    pub fn parse(text: &str) -> Result<SecretKey, BadKey> {
        let bytes = STANDARD.decode(text.trim()).map_err(|_| BadKey)?;
        Ok(SecretKey { bytes: bytes.try_into().map_err(|_| BadKey)? })
    }

    /// The key as base64: only the key file is written with it.
    pub(super) fn to_base64(&self) -> String {
        STANDARD.encode(self.bytes)
    }

    pub(super) fn bytes(&self) -> &[u8; SecretKey::LEN] {
        &self.bytes
    }

    /// The key's public name.
    pub fn id(&self) -> KeyId {
        let digest = Sha256::new().chain_update(b"wasmhook secret key id\0").chain_update(self.bytes).finalize();
        KeyId(digest[..8].try_into().expect("a sha256 digest has 32 bytes"))
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({REDACTED}, id {})", self.id())
    }
}

impl Serialize for SecretKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

impl<'de> Deserialize<'de> for SecretKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        SecretKey::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Names a key without revealing it: 8 bytes of a SHA-256 of the key, in
/// hex. Every sealed value records the id of its key, so the right key is
/// picked among the current and previous ones, and an error can say which
/// key is missing.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KeyId([u8; 8]);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

impl From<KeyId> for String {
    fn from(id: KeyId) -> String {
        id.to_string()
    }
}

impl TryFrom<String> for KeyId {
    type Error = String;

    fn try_from(text: String) -> Result<KeyId, String> {
        let bytes = hex::decode(&text).map_err(|e| format!("key id {text:?}: {e}"))?;
        Ok(KeyId(bytes.try_into().map_err(|_| format!("key id {text:?} is not 8 bytes"))?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_from_base64_of_32_bytes_only() {
        let key = SecretKey::generate();
        let text = format!("{}\n", key.to_base64());
        assert_eq!(SecretKey::parse(&text), Ok(key.clone()));
        assert_eq!(SecretKey::parse("c2hvcnQ="), Err(BadKey), "5 bytes");
        assert_eq!(SecretKey::parse("not base64!"), Err(BadKey));
        assert_ne!(SecretKey::generate(), key);
    }

    #[test]
    fn a_key_is_never_shown() {
        let key = SecretKey::generate();
        let secret = key.to_base64();
        assert!(!format!("{key:?}").contains(&secret));
        assert_eq!(serde_json::to_string(&key).unwrap(), format!("\"{REDACTED}\""));
        assert!(format!("{key:?}").contains(&key.id().to_string()));
    }

    #[test]
    fn key_ids_are_stable_and_round_trip() {
        let key = SecretKey::parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap();
        assert_eq!(key.id(), key.clone().id());
        let id = key.id();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<KeyId>(&json).unwrap(), id);
        assert_eq!(json.len(), 2 + 16);
    }
}
