//! The one-shot step that derives the use counts of components and the
//! academies' usage (`blobs.rs`, `usage.rs`) from the hooks and plugin
//! versions, and deletes the components nothing uses: stores written before
//! the counts existed kept every component ever uploaded.
//!
//! It is a schema version 3 step (`migrate.rs`); running it again recounts
//! the same.

use redb::{ReadableTable, ReadableTableMetadata, WriteTransaction};

use super::Quotas;
use super::StoreError;
use super::codec::decode;
use super::tables::{ACADEMY_BLOBS, ACADEMY_USAGE, BLOB_REFS, HOOKS, PLUGINS};
use super::usage::Ledger;
use crate::model::Hook;
use crate::model::PluginVersion;
use crate::secrets::AtRest;

/// What a recount found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recounted {
    /// Components in use.
    pub components: u64,
    /// Components deleted because nothing used them, and their bytes.
    pub freed: u64,
    pub freed_bytes: u64,
}

/// Recounts every use from the hooks and plugin versions, inside `txn`,
/// and deletes the components left unused.
pub fn recount(txn: &WriteTransaction) -> Result<Recounted, StoreError> {
    txn.delete_table(BLOB_REFS)?;
    txn.delete_table(ACADEMY_USAGE)?;
    txn.delete_table(ACADEMY_BLOBS)?;
    let hooks = {
        let table = txn.open_table(HOOKS)?;
        let mut hooks = Vec::new();
        for entry in table.iter()? {
            // Sealed or, in a version 2 file, in plaintext (`reseal.rs`
            // seals it after the migration): only its academy and
            // transformer count here.
            hooks.push(decode::<Hook<AtRest>>("hook", entry?.1.value())?);
        }
        hooks
    };
    let versions = {
        let table = txn.open_table(PLUGINS)?;
        let mut versions = Vec::new();
        for entry in table.iter()? {
            versions.push(decode::<PluginVersion>("plugin version", entry?.1.value())?);
        }
        versions
    };
    let mut ledger = Ledger::open(txn, Quotas::default())?;
    for version in &versions {
        ledger.blobs.retain(&version.sha256, None)?;
    }
    for hook in &hooks {
        ledger.change(None, Some(hook), None)?;
    }
    let (freed, freed_bytes) = ledger.blobs.free_unused()?;
    drop(ledger);
    let components = txn.open_table(BLOB_REFS)?.len()?;
    Ok(Recounted { components, freed, freed_bytes })
}
