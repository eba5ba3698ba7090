//! Secrets at rest: hook signing secrets and custom header values are
//! sealed with XChaCha20-Poly1305 before they are written to the store, as
//! Svix seals endpoint secrets. Only the hook index in memory holds them in
//! the clear (deliveries sign with them).
//!
//! The key (`secret_key`, `WASMHOOK_SECRET_KEY`) comes from the
//! configuration or, when it is not set, from a key file generated in the
//! data directory on the first start ([`keyfile`]). Rotating it: the new key
//! as `secret_key`, the old one in `previous_secret_keys`; the store re-seals
//! every value with the new key at start, after which the old key is no
//! longer needed.

mod key;
pub mod keyfile;
mod keyring;
mod sealed;
mod setting;

pub use key::{BadKey, KeyId, SecretKey};
pub use keyfile::{KEY_FILE, KeyFileError, LoadedKeys};
pub use keyring::{Keyring, OpenError};
pub use sealed::{AtRest, Sealed};
pub use setting::Secret;

/// What is shown instead of a secret: in `config show`, and in attempt
/// logs instead of a custom header's value.
pub const REDACTED: &str = "<redacted>";
