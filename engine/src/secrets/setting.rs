//! A secret setting (the admin token, a database URL with its password),
//! which printing a configuration must never reveal.

use std::fmt;

use serde::{Deserialize, Serialize, Serializer};

use super::REDACTED;

/// A secret setting: shown as `<redacted>` by `Debug` and when serialized,
/// so printing a configuration never reveals it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}
