//! Credentials: API tokens (stored hashed) and hook signing secrets.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest as _, Sha256};

use crate::model::{Role, Scope};

/// Prefix of API tokens, so a leaked one is recognisable in a scan.
pub const TOKEN_PREFIX: &str = "whk_";
/// Prefix of Standard Webhooks signing secrets.
pub const SECRET_PREFIX: &str = "whsec_";

/// A new random API token: 256 bits, url-safe.
pub fn generate_token() -> String {
    format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(random::<32>()))
}

/// A new Standard Webhooks secret: `whsec_` and 192 bits in base64.
pub fn generate_secret() -> String {
    format!("{SECRET_PREFIX}{}", STANDARD.encode(random::<24>()))
}

/// What the store keeps of a token.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0; N];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    bytes
}

/// Who is calling, once their token checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub role: Role,
    /// The token's sha256: what its rate limits are kept by.
    pub token: [u8; 32],
}

impl Caller {
    /// Whose hooks the caller manages; `None` for service tokens, which
    /// only ingest.
    pub fn scope(&self) -> Option<Scope> {
        match &self.role {
            Role::Superadmin => Some(Scope::All),
            Role::Academy { academy } => Some(Scope::Academy(academy.clone())),
            Role::Service => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_secrets_are_random_and_prefixed() {
        let (a, b) = (generate_token(), generate_token());
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() == TOKEN_PREFIX.len() + 43);
        assert_ne!(a, b);
        let secret = generate_secret();
        let key = STANDARD.decode(secret.strip_prefix(SECRET_PREFIX).unwrap()).unwrap();
        assert_eq!(key.len(), 24);
    }
}
