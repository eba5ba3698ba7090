//! The redb database behind the store, swappable: after an I/O failure
//! redb refuses everything ("previous I/O error") until the database is
//! closed and opened again, and the store is shared behind an `Arc` by
//! the API, the committer and the dispatcher, so the database is replaced
//! in place (see `recovery.rs`).
//!
//! Every transaction begins here, so every storage failure is seen here
//! and starts an outage ([`Health`]). A read transaction owns what it
//! needs (redb hands it its own references to the file's memory): one in
//! flight during a re-open fails with "database closed", a refusal like
//! the others, and does not keep the old handle open. A write transaction
//! in flight does keep it open (redb defers the close to its end), which
//! the next re-open attempt waits out.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use redb::{Database, ReadTransaction, ReadableDatabase, WriteTransaction};

use super::Health;
use super::{StoreError, Unavailable};

/// redb's page cache. Its default (1 GiB) would make the engine's memory
/// grow with the queue; the working set (hooks, the queue's head, recent
/// events) fits in far less. 16 MiB rather than 64: under `bench/e2e`'s
/// scenario A (20,000 raw 2 KB events), back to back, median of 3, peak RSS
/// 149 → 91 MiB and throughput 4,762 → 5,682 events/s (a smaller cache
/// evicts written pages sooner; the file's pages stay in the OS's cache).
const CACHE_SIZE: usize = 16 << 20;

/// The open database (none while it is being re-opened) and its health.
pub(super) struct Handle {
    current: RwLock<Option<Database>>,
    path: PathBuf,
    pub(super) health: Health,
}

/// A write transaction whose commit is watched for storage failures. It
/// dereferences to redb's transaction for everything else.
pub(crate) struct Write<'a> {
    txn: WriteTransaction,
    handle: &'a Handle,
}

impl Handle {
    /// Opens (or creates) the database file at `path`.
    pub(super) fn open(path: &Path) -> Result<Handle, redb::DatabaseError> {
        Ok(Handle {
            current: RwLock::new(Some(open(path)?)),
            path: path.to_owned(),
            health: Health::new(path.display().to_string()),
        })
    }

    pub(super) fn begin_read(&self) -> Result<ReadTransaction, StoreError> {
        let txn = match &*self.current.read().unwrap_or_else(|e| e.into_inner()) {
            Some(db) => db.begin_read().map_err(StoreError::from),
            None => Err(Unavailable::Closed.into()),
        };
        self.watch(txn)
    }

    /// Blocks while another write transaction is in flight (redb has one
    /// writer at a time).
    pub(super) fn begin_write(&self) -> Result<Write<'_>, StoreError> {
        let txn = match &*self.current.read().unwrap_or_else(|e| e.into_inner()) {
            Some(db) => db.begin_write().map_err(StoreError::from),
            None => Err(Unavailable::Closed.into()),
        };
        self.watch(txn).map(|txn| Write { txn, handle: self })
    }

    /// Closes the database and opens the file again: redb recovers a file
    /// that was not closed cleanly (it rebuilds its allocator state from
    /// the last durable commit, which needs a little space). The old
    /// handle is closed first, as redb holds a lock on the file.
    pub(super) fn reopen(&self) -> Result<(), StoreError> {
        let old = self.current.write().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(Err(error)) = old.map(Database::close) {
            // Expected after a storage failure: the close writes nothing.
            tracing::debug!(%error, "closing the failed database");
        }
        let db = open(&self.path).map_err(|error| match error {
            redb::DatabaseError::Storage(error) => StoreError::from(error),
            other => StoreError::Open { path: self.path.clone(), message: other.to_string() },
        })?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(db);
        Ok(())
    }

    /// Compacts the file (releases the pages freed since), while the store
    /// is still being opened and nothing else uses it.
    pub(super) fn compact(&mut self) -> Result<(), StoreError> {
        let current = self.current.get_mut().unwrap_or_else(|e| e.into_inner());
        match current {
            Some(db) => db.compact().map(drop).map_err(StoreError::from),
            None => Err(Unavailable::Closed.into()),
        }
    }

    /// Starts an outage when `result` is a storage failure.
    fn watch<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Err(StoreError::Unavailable(why @ Unavailable::Io(_))) = &result {
            self.health.failed(why);
        }
        result
    }
}

impl Write<'_> {
    pub(crate) fn commit(self) -> Result<(), StoreError> {
        let committed = self.txn.commit().map_err(StoreError::from);
        if committed.as_ref().is_err_and(|e| e.unavailable().is_some()) {
            self.handle.health.commit_failed();
        }
        self.handle.watch(committed)
    }

    /// Gives up the transaction, writing nothing, because the storage
    /// failed during it (`why`).
    pub(crate) fn abort(self, why: &Unavailable) {
        self.handle.health.commit_failed();
        if let Unavailable::Io(_) = why {
            self.handle.health.failed(why);
        }
        drop(self.txn);
    }
}

impl Deref for Write<'_> {
    type Target = WriteTransaction;

    fn deref(&self) -> &WriteTransaction {
        &self.txn
    }
}

fn open(path: &Path) -> Result<Database, redb::DatabaseError> {
    Database::builder().set_cache_size(CACHE_SIZE).create(path)
}
