//! Records are stored as JSON: readable with any redb tool, and tolerant of
//! added optional fields without a schema bump.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StoreError;

pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("store records serialize")
}

pub(crate) fn decode<T: DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt { what, message: e.to_string() })
}
