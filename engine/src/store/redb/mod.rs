//! The embedded store: one redb file in the data directory holding hooks,
//! tokens, catalogue additions and, for delivery, events, jobs, attempts,
//! hook errors and plugins (see `tables.rs` for the layout). [`Redb`]
//! (`backend.rs`) puts it behind the store's traits.
//!
//! Every multi-record change is one write transaction; the writes of the
//! delivery pipeline share one per group commit (`committer.rs`).

mod backend;
mod blobs;
mod catalog;
mod codec;
mod committer;
mod delivery;
mod errors;
mod group_tables;
mod handle;
mod hook_index;
mod hooks;
mod migrate;
mod parked;
mod payloads;
mod plugins;
mod queue;
mod recount;
mod recovery;
mod reseal;
mod sealing;
mod status;
mod tables;
mod tokens;
mod usage;
mod writes;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::ReadableTable;

pub use backend::Redb;
pub use recovery::{REOPEN_HEADROOM, watch};

use super::{
    AttemptCounts, ComponentTotals, DueJobs, Health, Pruned, QueueSummary, Quotas, RecentOutcomes, StoreError,
    Unavailable, Usage,
};
use crate::secrets::Keyring;
use committer::Committer;
use tables::{META, SCHEMA_VERSION, meta};

/// The store. Cheap to share behind an `Arc`; redb serialises writers and
/// lets readers run concurrently. The database inside is re-opened after a
/// storage failure (see `handle.rs`).
pub struct RedbStore {
    db: handle::Handle,
    path: PathBuf,
    /// Tokens already checked, by hash: every API request authenticates, and
    /// a read transaction each time showed in the profile.
    tokens: crate::store::token_cache::TokenCache,
    /// Every hook, in memory (see `hook_index.rs`).
    hooks: hook_index::HookCache,
    /// Seals the hooks' confidential values when written, opens them when
    /// read (see `sealing.rs`).
    keyring: Arc<Keyring>,
}

impl RedbStore {
    /// The file name inside the data directory.
    pub const FILE_NAME: &str = "wasmhook.redb";

    /// Opens (or creates, owner only) the store in `data_dir`, whose hooks'
    /// confidential values are sealed with `keyring`. Another process
    /// holding it, a file of another schema version, or a sealed value that
    /// `keyring` cannot open is a clear error. Values in plaintext or sealed
    /// with a previous key are sealed with the current key first (see
    /// `reseal.rs`).
    pub fn open(data_dir: &Path, keyring: Arc<Keyring>) -> Result<RedbStore, StoreError> {
        let path = data_dir.join(Self::FILE_NAME);
        let open_error = |message: String| StoreError::Open { path: path.clone(), message };
        crate::data_dir::create_private_dir(data_dir).map_err(|e| open_error(e.to_string()))?;
        // redb creates its file with the umask's mode: it is created first.
        crate::data_dir::touch_private_file(&path).map_err(|e| open_error(e.to_string()))?;
        let db = handle::Handle::open(&path).map_err(|error| match error {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::InUse { path: data_dir.to_owned() },
            other => open_error(other.to_string()),
        })?;
        let mut store = RedbStore { db, path, tokens: Default::default(), hooks: Default::default(), keyring };
        store.check_schema()?;
        reseal::run(&mut store.db, &store.keyring)?;
        store.reload_hooks()?;
        Ok(store)
    }

    /// The store's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the store takes writes, and why not.
    pub fn health(&self) -> &Health {
        &self.db.health
    }

    /// Refuses a write that grows the store (an event, a hook, an upload)
    /// while the store takes no writes or free space is below the floor.
    /// Deliveries' records and deletions do not ask.
    pub fn room(&self) -> Result<(), StoreError> {
        self.health().refusal().map_or(Ok(()), |why| Err(why.into()))
    }

    /// Whether the store can be read: a read transaction opens a table.
    pub fn check_readable(&self) -> Result<(), StoreError> {
        let txn = self.db.begin_read()?;
        txn.open_table(META)?.get(meta::SCHEMA_VERSION_KEY)?;
        Ok(())
    }

    /// Records the schema version in a new file, migrates a file of an
    /// older version it can migrate (in the same transaction), refuses a
    /// file of any other version, and creates every table so readers never
    /// miss one.
    fn check_schema(&self) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        {
            let found = txn.open_table(META)?.get(meta::SCHEMA_VERSION_KEY)?.map(|v| v.value());
            let found = found.map(|v| u32::try_from(v).unwrap_or(u32::MAX));
            match found {
                None => {
                    // A new store has no attempt of an engine before sealing.
                    txn.open_table(META)?.insert(meta::ATTEMPT_HEADERS_REDACTED, 1)?;
                }
                Some(SCHEMA_VERSION) => {}
                Some(found) if migrate::can_migrate(found) => {
                    tracing::info!(path = %self.path.display(), from = found, to = SCHEMA_VERSION, "migrating the store");
                    migrate::migrate(&txn, found)?;
                }
                Some(found) => {
                    return Err(StoreError::SchemaVersion { path: self.path.clone(), found, expected: SCHEMA_VERSION });
                }
            }
            txn.open_table(META)?.insert(meta::SCHEMA_VERSION_KEY, u64::from(SCHEMA_VERSION))?;
            txn.open_table(tables::HOOKS)?;
            txn.open_table(tables::HOOK_STATS)?;
            txn.open_table(tables::HOOK_SAMPLES)?;
            txn.open_table(tables::TOKENS)?;
            txn.open_table(tables::CATALOG)?;
            txn.open_table(tables::EVENTS)?;
            txn.open_table(tables::JOBS)?;
            txn.open_table(tables::HOOK_JOBS)?;
            txn.open_table(tables::HOOK_HEADS)?;
            txn.open_table(tables::ATTEMPTS)?;
            txn.open_table(tables::PAYLOADS)?;
            txn.open_table(tables::PAYLOAD_USES)?;
            txn.open_table(tables::HOOK_ERRORS)?;
            txn.open_table(tables::PLUGINS)?;
            txn.open_table(tables::PLUGIN_BLOBS)?;
            txn.open_table(tables::BLOB_REFS)?;
            txn.open_table(tables::ACADEMY_USAGE)?;
            txn.open_table(tables::ACADEMY_BLOBS)?;
            txn.open_table(tables::PLUGIN_LIMITS)?;
            txn.open_table(tables::PARKED)?;
            txn.open_table(tables::PARKED_COUNTS)?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Reads the whole of a table whose values are records.
    fn scan<K, T>(&self, table: redb::TableDefinition<K, &[u8]>, what: &'static str) -> Result<Vec<T>, StoreError>
    where
        K: redb::Key + 'static,
        T: serde::de::DeserializeOwned,
    {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(table)?;
        let mut records = Vec::new();
        for entry in table.iter()? {
            let (_, value) = entry?;
            records.push(codec::decode(what, value.value())?);
        }
        Ok(records)
    }
}

/// Takes the next value of counter `name` inside a write transaction.
fn next_id(txn: &redb::WriteTransaction, name: &str) -> Result<u64, StoreError> {
    take_id(&mut txn.open_table(META)?, name)
}

/// Takes the next value of counter `name` from `meta`, the `META` table
/// open in a write transaction.
fn take_id(meta: &mut redb::Table<'_, &'static str, u64>, name: &str) -> Result<u64, StoreError> {
    let id = meta.get(name)?.map_or(1, |v| v.value());
    meta.insert(name, id + 1)?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::keyring;

    #[test]
    fn a_file_of_another_schema_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path(), keyring()).unwrap();
        let txn = store.db.begin_write().unwrap();
        txn.open_table(META).unwrap().insert(meta::SCHEMA_VERSION_KEY, 99).unwrap();
        txn.commit().unwrap();
        drop(store);
        let error = RedbStore::open(dir.path(), keyring()).err().unwrap();
        assert!(matches!(error, StoreError::SchemaVersion { found: 99, expected: SCHEMA_VERSION, .. }), "{error}");
        let expected = format!("has store schema version 99, this wasmhook reads version {SCHEMA_VERSION}");
        assert!(error.to_string().ends_with(&expected), "{error}");
    }

    #[test]
    fn a_second_handle_on_the_same_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _store = RedbStore::open(dir.path(), keyring()).unwrap();
        let error = RedbStore::open(dir.path(), keyring()).err().unwrap();
        assert!(matches!(error, StoreError::InUse { .. }), "{error}");
    }
}
