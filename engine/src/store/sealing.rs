//! Hooks as every persistent backend stores them: every confidential value
//! (signing secrets, custom header values) sealed with the keyring's
//! current key, bound to its hook and field (see `crate::secrets`). redb
//! encodes the sealed record into its table (`redb/sealing.rs`), PostgreSQL
//! into a `jsonb` column (`postgres/hooks.rs`): the same record, so a value
//! sealed by one opens the same way in the other.

use std::convert::Infallible;

use super::StoreError;
use crate::model::Hook;
use crate::secrets::{Keyring, Sealed};

/// `hook` with its confidential values sealed.
pub(super) fn seal(hook: &Hook, keyring: &Keyring) -> Hook<Sealed> {
    let id = hook.id;
    let sealed = hook
        .clone()
        .try_map_confidential(|place, plaintext| Ok::<_, Infallible>(keyring.seal(&plaintext, &place.label(id))));
    let Ok(sealed) = sealed;
    sealed
}

/// The hook of a sealed record, its confidential values opened.
pub(super) fn open(record: Hook<Sealed>, keyring: &Keyring) -> Result<Hook, StoreError> {
    let id = record.id;
    record.try_map_confidential(|place, sealed| {
        keyring.open(&sealed, &place.label(id)).map_err(|source| StoreError::Sealing {
            hook: id,
            place: place.to_string(),
            source,
        })
    })
}
