//! The start-up step that leaves nothing in the store that needs an older
//! key or is readable without one. Every start, in one write transaction,
//! committed only when something changed:
//! - hook values in plaintext (written by engines before secrets were
//!   sealed) are sealed with the current key;
//! - hook values sealed with a previous key (a key rotation) are sealed
//!   again with the current key, after which the previous key is no longer
//!   needed;
//! - a previous signing secret past its overlap is dropped;
//! - once per store (`meta::ATTEMPT_HEADERS_REDACTED`), the custom header
//!   values that those older engines copied into attempt records are
//!   redacted, as attempts are recorded now.
//!
//! No schema version bump is needed: old hook records read as [`AtRest`]
//! plaintext. When plaintext was sealed or redacted, the file is compacted
//! so the pages that held it are released.

use redb::{ReadableTable, WriteTransaction};

use super::codec::{decode, encode};
use super::handle::Handle;
use super::payloads::AttemptRow;
use super::tables::{ATTEMPTS, HOOKS, META, meta};
use super::{StoreError, sealing};
use crate::model::Hook;
use crate::model::log_headers;
use crate::secrets::{AtRest, Keyring};
use crate::time::Time;

/// What the step changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Resealed {
    /// Hook values that were in plaintext.
    pub plaintext: usize,
    /// Hook values that were sealed with a previous key.
    pub rekeyed: usize,
    /// Previous signing secrets dropped after their overlap.
    pub expired: usize,
    /// Attempt records whose custom header values were redacted.
    pub attempts_redacted: usize,
}

impl Resealed {
    fn changed(&self) -> bool {
        *self != Resealed::default()
    }

    /// Whether plaintext was overwritten: its old pages are then released.
    fn removed_plaintext(&self) -> bool {
        self.plaintext > 0 || self.attempts_redacted > 0
    }
}

/// Runs the step on `db` (see the module's documentation).
pub(super) fn run(db: &mut Handle, keyring: &Keyring) -> Result<Resealed, StoreError> {
    let txn = db.begin_write()?;
    let mut done = reseal_hooks(&txn, keyring)?;
    done.attempts_redacted = redact_attempt_headers(&txn)?;
    if !done.changed() {
        // Dropped uncommitted: nothing is written.
        drop(txn);
        return Ok(done);
    }
    txn.commit()?;
    tracing::warn!(
        plaintext_values = done.plaintext,
        values_rekeyed = done.rekeyed,
        previous_secrets_expired = done.expired,
        attempts_redacted = done.attempts_redacted,
        key_id = %keyring.current(),
        "sealed the store's hook secrets and header values with the current key"
    );
    if done.removed_plaintext() {
        db.compact()?;
    }
    Ok(done)
}

/// Brings every hook record to the current key.
fn reseal_hooks(txn: &WriteTransaction, keyring: &Keyring) -> Result<Resealed, StoreError> {
    let mut done = Resealed::default();
    let mut table = txn.open_table(HOOKS)?;
    let mut rewritten = Vec::new();
    let now = Time::now();
    for entry in table.iter()? {
        let record: Hook<AtRest> = decode("hook", entry?.1.value())?;
        let before = done;
        let id = record.id;
        let mut hook = record.try_map_confidential(|place, value| match value {
            AtRest::Plaintext(plaintext) => {
                done.plaintext += 1;
                Ok(plaintext)
            }
            AtRest::Sealed(sealed) => {
                if sealed.key() != keyring.current() {
                    done.rekeyed += 1;
                }
                keyring.open(&sealed, &place.label(id)).map_err(|source| StoreError::Sealing {
                    hook: id,
                    place: place.to_string(),
                    source,
                })
            }
        })?;
        if hook.previous_secret.as_ref().is_some_and(|previous| previous.expires_at <= now) {
            hook.previous_secret = None;
            done.expired += 1;
        }
        if done != before {
            rewritten.push(hook);
        }
    }
    for hook in rewritten {
        table.insert(hook.id, sealing::seal(&hook, keyring).as_slice())?;
    }
    Ok(done)
}

/// Redacts, once per store, the custom header values of attempt records
/// written before attempt logs redacted them; how many records changed.
fn redact_attempt_headers(txn: &WriteTransaction) -> Result<usize, StoreError> {
    let mut meta = txn.open_table(META)?;
    if meta.get(meta::ATTEMPT_HEADERS_REDACTED)?.is_some() {
        return Ok(0);
    }
    let mut attempts = txn.open_table(ATTEMPTS)?;
    let mut rewritten = Vec::new();
    for entry in attempts.iter()? {
        let (key, bytes) = entry?;
        let mut attempt: AttemptRow = decode("attempt", bytes.value())?;
        let logged = log_headers(attempt.request_headers.iter().cloned());
        if logged != attempt.request_headers {
            attempt.request_headers = logged;
            rewritten.push((key.value(), attempt));
        }
    }
    for (key, attempt) in &rewritten {
        attempts.insert(key, encode(attempt).as_slice())?;
    }
    meta.insert(meta::ATTEMPT_HEADERS_REDACTED, 1)?;
    Ok(rewritten.len())
}
