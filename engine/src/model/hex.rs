//! Fixed-size byte strings (digests, ids) shown and stored as hex.

/// Implements `Debug`, `Serialize` and `Deserialize` as hex for `$name`, a
/// newtype over `[u8; $len]`.
macro_rules! hex_newtype {
    ($name:ident, $len:literal) => {
        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&hex::encode(self.0))
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&hex::encode(self.0))
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <String as serde::Deserialize>::deserialize(deserializer)?;
                let mut bytes = [0; $len];
                hex::decode_to_slice(&text, &mut bytes).map_err(serde::de::Error::custom)?;
                Ok($name(bytes))
            }
        }
    };
}

pub(super) use hex_newtype;
