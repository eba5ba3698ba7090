//! Hook records as redb stores them: the sealed record (`store/sealing.rs`)
//! encoded with the table's codec. Only this module turns a [`Hook`] into
//! bytes or back.

use super::StoreError;
use super::codec::{decode, encode};
use crate::model::Hook;
use crate::secrets::{Keyring, Sealed};

/// The record of `hook`, its confidential values sealed.
pub(super) fn seal(hook: &Hook, keyring: &Keyring) -> Vec<u8> {
    encode(&crate::store::sealing::seal(hook, keyring))
}

/// A record as stored, without opening it: for changes that do not touch
/// the confidential values (deactivation, a transformer) and for reading
/// the other fields.
pub(super) fn decode_sealed(bytes: &[u8]) -> Result<Hook<Sealed>, StoreError> {
    decode("hook", bytes)
}

/// Writes back a record changed without opening it.
pub(super) fn encode_sealed(record: &Hook<Sealed>) -> Vec<u8> {
    encode(record)
}

/// The hook of a record, its confidential values opened.
pub(super) fn open(bytes: &[u8], keyring: &Keyring) -> Result<Hook, StoreError> {
    open_record(decode_sealed(bytes)?, keyring)
}

pub(super) fn open_record(record: Hook<Sealed>, keyring: &Keyring) -> Result<Hook, StoreError> {
    crate::store::sealing::open(record, keyring)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{HookSettings, PreviousSecret};
    use crate::secrets::SecretKey;
    use crate::time::Time;

    fn hook() -> Hook {
        Hook {
            id: 7,
            academy: Some("a1".into()),
            settings: HookSettings {
                headers: [("Authorization".to_owned(), "Bearer hunter2".to_owned())].into(),
                ..crate::store::tests::new_hook(None).settings
            },
            secret: "whsec_current".into(),
            previous_secret: Some(PreviousSecret { secret: "whsec_previous".into(), expires_at: Time::now() }),
            created_at: Time::now(),
            updated_at: Time::now(),
            transformer: None,
        }
    }

    #[test]
    fn records_hold_no_plaintext_and_open_to_the_same_hook() {
        let keyring = Keyring::new(&SecretKey::generate(), &[]);
        // One hook: two calls of `hook()` may fall in different seconds.
        let hook = hook();
        let bytes = seal(&hook, &keyring);
        let text = String::from_utf8(bytes.clone()).unwrap();
        for plaintext in ["whsec_current", "whsec_previous", "hunter2"] {
            assert!(!text.contains(plaintext), "{text}");
        }
        assert!(text.contains("Authorization"), "header names stay readable: {text}");
        assert_eq!(open(&bytes, &keyring).unwrap(), hook);
    }

    #[test]
    fn a_value_moved_to_another_field_does_not_open() {
        let keyring = Keyring::new(&SecretKey::generate(), &[]);
        let mut record = decode_sealed(&seal(&hook(), &keyring)).unwrap();
        let header = record.settings.headers["Authorization"].clone();
        record.secret = header;
        let error = open_record(record, &keyring).unwrap_err().to_string();
        assert!(error.starts_with("hook 7's secret does not open"), "{error}");
    }
}
