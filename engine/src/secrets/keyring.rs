//! The keys in force: the current one seals, every one opens.

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};

use super::{KeyId, Sealed, SecretKey};

/// The current key, which seals every value written, and the previous
/// keys, which only open values sealed before a key rotation (until the
/// store re-seals them at start).
pub struct Keyring {
    current: Cipher,
    previous: Vec<Cipher>,
}

struct Cipher {
    id: KeyId,
    aead: XChaCha20Poly1305,
}

impl Cipher {
    fn new(key: &SecretKey) -> Cipher {
        Cipher { id: key.id(), aead: XChaCha20Poly1305::new(&(*key.bytes()).into()) }
    }
}

/// Why a sealed value does not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Sealed with a key that is neither the current nor a previous one.
    #[error(
        "is sealed with key {sealed_with}, which is neither the current key ({current}) nor a previous one: \
         start with the key it was sealed with as secret_key (WASMHOOK_SECRET_KEY), or list it in \
         previous_secret_keys (WASMHOOK_PREVIOUS_SECRET_KEYS) to rotate to a new key"
    )]
    UnknownKey { sealed_with: KeyId, current: KeyId },
    /// The key is right but the value or its place is not: the record was
    /// corrupted or tampered with.
    #[error("does not open with its key {0}: the record is corrupt or was tampered with")]
    Inauthentic(KeyId),
}

impl Keyring {
    pub fn new(current: &SecretKey, previous: &[SecretKey]) -> Keyring {
        Keyring {
            current: Cipher::new(current),
            previous: previous.iter().filter(|key| *key != current).map(Cipher::new).collect(),
        }
    }

    /// The id of the key that seals.
    pub fn current(&self) -> KeyId {
        self.current.id
    }

    /// Seals `plaintext`, bound to `place`, with the current key and a new
    /// random nonce.
    pub fn seal(&self, plaintext: &str, place: &str) -> Sealed {
        let mut nonce = XNonce::default();
        getrandom::fill(&mut nonce).expect("the operating system's random source");
        let data = self
            .current
            .aead
            .encrypt(&nonce, Payload { msg: plaintext.as_bytes(), aad: place.as_bytes() })
            .expect("XChaCha20-Poly1305 seals any value smaller than 256 GiB");
        Sealed { key: self.current.id, nonce: nonce.to_vec(), data }
    }

    /// The plaintext of `sealed`, which must have been sealed at `place`.
    pub fn open(&self, sealed: &Sealed, place: &str) -> Result<String, OpenError> {
        let cipher = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|cipher| cipher.id == sealed.key)
            .ok_or(OpenError::UnknownKey { sealed_with: sealed.key, current: self.current.id })?;
        let inauthentic = || OpenError::Inauthentic(sealed.key);
        let nonce = XNonce::try_from(sealed.nonce.as_slice()).map_err(|_| inauthentic())?;
        let plaintext = cipher
            .aead
            .decrypt(&nonce, Payload { msg: &sealed.data, aad: place.as_bytes() })
            .map_err(|_| inauthentic())?;
        String::from_utf8(plaintext).map_err(|_| inauthentic())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_at_their_place_only() {
        let keyring = Keyring::new(&SecretKey::generate(), &[]);
        let sealed = keyring.seal("whsec_abc", "hook/1/secret");
        assert_eq!(keyring.open(&sealed, "hook/1/secret").as_deref(), Ok("whsec_abc"));
        assert_eq!(keyring.open(&sealed, "hook/2/secret"), Err(OpenError::Inauthentic(keyring.current())));
        let json = serde_json::to_string(&sealed).unwrap();
        assert!(!json.contains("whsec_abc"), "{json}");
    }

    #[test]
    fn every_seal_has_its_own_nonce() {
        let keyring = Keyring::new(&SecretKey::generate(), &[]);
        let (a, b) = (keyring.seal("same", "p"), keyring.seal("same", "p"));
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.data, b.data);
    }

    #[test]
    fn previous_keys_open_and_unknown_keys_are_named() {
        let (old, new) = (SecretKey::generate(), SecretKey::generate());
        let sealed = Keyring::new(&old, &[]).seal("value", "p");
        let rotated = Keyring::new(&new, std::slice::from_ref(&old));
        assert_eq!(rotated.open(&sealed, "p").as_deref(), Ok("value"));
        assert_eq!(rotated.seal("value", "p").key(), new.id());
        let unknown = Keyring::new(&new, &[]).open(&sealed, "p");
        assert_eq!(unknown, Err(OpenError::UnknownKey { sealed_with: old.id(), current: new.id() }));
    }

    #[test]
    fn a_tampered_value_does_not_open() {
        let keyring = Keyring::new(&SecretKey::generate(), &[]);
        let mut sealed = keyring.seal("value", "p");
        sealed.data[0] ^= 1;
        assert!(matches!(keyring.open(&sealed, "p"), Err(OpenError::Inauthentic(_))));
    }
}
