//! Components (plugin versions, hook transformers), stored once per sha256
//! and reference-counted: `PLUGIN_BLOBS` holds the bytes, `BLOB_REFS` the
//! number of uses and the size. Every change that adds or drops a use goes
//! through [`Blobs`] inside the write transaction of that change, so a
//! component is deleted in the same commit as its last use, and never while
//! another remains; uploading a component already stored writes nothing.

use redb::{ReadableTable, WriteTransaction};

use super::tables::{BLOB_REFS, PLUGIN_BLOBS};
use super::{RedbStore, StoreError};
use crate::store::ComponentTotals;

/// The components, inside one write transaction.
pub(super) struct Blobs<'txn> {
    bytes: redb::Table<'txn, &'static [u8], &'static [u8]>,
    refs: redb::Table<'txn, &'static str, (u64, u64)>,
}

impl<'txn> Blobs<'txn> {
    pub(super) fn open(txn: &'txn WriteTransaction) -> Result<Blobs<'txn>, StoreError> {
        Ok(Blobs { bytes: txn.open_table(PLUGIN_BLOBS)?, refs: txn.open_table(BLOB_REFS)? })
    }

    /// One more use of component `sha256`. Its bytes are written only when
    /// it is new; `None` means they are already stored (a recount).
    pub(super) fn retain(&mut self, sha256: &str, bytes: Option<&[u8]>) -> Result<(), StoreError> {
        let known = self.refs.get(sha256)?.map(|entry| entry.value());
        let (uses, size) = match (known, bytes) {
            (Some((uses, size)), _) => (uses + 1, size),
            (None, Some(bytes)) => {
                self.bytes.insert(sha256.as_bytes(), bytes)?;
                (1, bytes.len() as u64)
            }
            (None, None) => {
                let size = self.bytes.get(sha256.as_bytes())?.map(|stored| stored.value().len() as u64);
                let missing = || StoreError::Corrupt { what: "component", message: format!("no bytes for {sha256}") };
                (1, size.ok_or_else(missing)?)
            }
        };
        self.refs.insert(sha256, (uses, size))?;
        Ok(())
    }

    /// One use fewer of component `sha256`: deleted with its last.
    pub(super) fn release(&mut self, sha256: &str) -> Result<(), StoreError> {
        let Some((uses, size)) = self.refs.get(sha256)?.map(|entry| entry.value()) else {
            // Only a bug elsewhere gets here: keeping the bytes is the safe side.
            tracing::warn!(sha256, "a component without a use count was released: kept");
            return Ok(());
        };
        if uses > 1 {
            self.refs.insert(sha256, (uses - 1, size))?;
        } else {
            self.refs.remove(sha256)?;
            self.bytes.remove(sha256.as_bytes())?;
        }
        Ok(())
    }

    /// Deletes the components nothing uses (a recount found them); how many
    /// and their bytes.
    pub(super) fn free_unused(&mut self) -> Result<(u64, u64), StoreError> {
        let mut unused = Vec::new();
        for entry in self.bytes.iter()? {
            let (sha256, bytes) = entry?;
            let sha256 = String::from_utf8_lossy(sha256.value()).into_owned();
            if self.refs.get(sha256.as_str())?.is_none() {
                unused.push((sha256, bytes.value().len() as u64));
            }
        }
        for (sha256, _) in &unused {
            self.bytes.remove(sha256.as_bytes())?;
        }
        Ok((unused.len() as u64, unused.iter().map(|(_, size)| size).sum()))
    }
}

impl RedbStore {
    /// The component stored under `sha256`.
    pub fn plugin_blob(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(PLUGIN_BLOBS)?;
        Ok(table.get(sha256.as_bytes())?.map(|bytes| bytes.value().to_vec()))
    }

    /// The components stored (from their counts: no bytes are read).
    pub fn component_totals(&self) -> Result<ComponentTotals, StoreError> {
        let txn = self.db.begin_read()?;
        let mut totals = ComponentTotals::default();
        for entry in txn.open_table(BLOB_REFS)?.iter()? {
            totals.count += 1;
            totals.bytes += entry?.1.value().1;
        }
        Ok(totals)
    }
}
