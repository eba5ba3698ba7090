use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::space::LowSpace;
use crate::secrets::OpenError;

/// Why the store failed. Opening errors name the file. [`Unavailable`] is
/// the storage refusing writes for now (answered 503, and healed by the
/// engine); a quota's refusal is the caller's (4xx); the others are the
/// engine's own failures (answered 500).
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("the data directory {path} is in use by another wasmhook process")]
    InUse { path: PathBuf },
    #[error("{path} has store schema version {found}, this wasmhook reads version {expected}")]
    SchemaVersion { path: PathBuf, found: u32, expected: u32 },
    #[error("cannot open the store {path}: {message}")]
    Open { path: PathBuf, message: String },
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
    /// Any other failure of redb: neither the storage refusing writes nor
    /// a corrupt file.
    #[error("store error: {0}")]
    Storage(#[source] Arc<redb::Error>),
    #[error("a stored {what} record is corrupt: {message}")]
    Corrupt { what: &'static str, message: String },
    /// A change refused by an academy's quota; nothing was written.
    #[error(transparent)]
    Refused(#[from] crate::quota::Refused),
    /// A hook's sealed value does not open (see `crate::secrets`).
    #[error("hook {hook}'s {place} {source}")]
    Sealing { hook: u64, place: String, source: OpenError },
}

/// Why the store takes no writes now. Each heals without a restart: the
/// engine re-opens the database once the storage works again (see
/// `recovery.rs`), and the guard lets writes in again once space is back.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Unavailable {
    /// redb failed to read or write its file (a full disk: ENOSPC, or
    /// another I/O error), or refuses everything since such a failure
    /// (its "previous I/O error" state, which only a re-open clears).
    #[error("the storage refuses writes: {0}")]
    Io(#[source] Arc<redb::Error>),
    /// The database is closed: being re-opened after such a failure, or
    /// the engine is stopping.
    #[error("the store is closed (re-opening after a storage failure, or shutting down)")]
    Closed,
    /// The disk-space guard: free space under the data directory is below
    /// the configured floor, so writes that grow the store are refused
    /// before the disk fills up.
    #[error(transparent)]
    LowSpace(#[from] LowSpace),
}

impl Unavailable {
    /// What a client is told to wait before trying again: the engine
    /// re-opens within seconds once the storage works; space must be freed
    /// by someone first.
    pub fn retry_after(&self) -> Duration {
        match self {
            Unavailable::Io(_) | Unavailable::Closed => Duration::from_secs(5),
            Unavailable::LowSpace(_) => Duration::from_secs(30),
        }
    }
}

impl StoreError {
    /// Whether this is the storage refusing writes for now.
    pub fn unavailable(&self) -> Option<&Unavailable> {
        match self {
            StoreError::Unavailable(why) => Some(why),
            _ => None,
        }
    }
}

/// Sorts a redb error: I/O failures and redb's latched state after one are
/// the storage refusing writes; a database closed under a transaction is a
/// re-open (or the shutdown) in progress; corruption is named as such.
fn classify(error: redb::Error) -> StoreError {
    match error {
        redb::Error::Io(_) | redb::Error::PreviousIo => Unavailable::Io(Arc::new(error)).into(),
        redb::Error::DatabaseClosed => Unavailable::Closed.into(),
        redb::Error::Corrupted(message) => StoreError::Corrupt { what: "database file", message },
        other => StoreError::Storage(Arc::new(other)),
    }
}

macro_rules! redb_error {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(error: $t) -> Self {
                classify(error.into())
            }
        }
    )*};
}

redb_error!(redb::TransactionError, redb::TableError, redb::StorageError, redb::CommitError, redb::CompactionError);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_failures_are_the_storage_refusing_writes_and_keep_their_source() {
        let full = std::io::Error::from(std::io::ErrorKind::StorageFull);
        let error = StoreError::from(redb::CommitError::Storage(redb::StorageError::Io(full)));
        let Some(Unavailable::Io(source)) = error.unavailable() else { panic!("{error:?}") };
        assert!(matches!(&**source, redb::Error::Io(io) if io.kind() == std::io::ErrorKind::StorageFull));
        assert!(std::error::Error::source(&error).is_some(), "the source is kept");

        let latched = StoreError::from(redb::TransactionError::Storage(redb::StorageError::PreviousIo));
        assert!(matches!(latched.unavailable(), Some(Unavailable::Io(_))), "{latched:?}");
        let closed = StoreError::from(redb::StorageError::DatabaseClosed);
        assert!(matches!(closed.unavailable(), Some(Unavailable::Closed)), "{closed:?}");
    }

    #[test]
    fn corruption_and_other_failures_are_not() {
        let corrupt = StoreError::from(redb::StorageError::Corrupted("bad page".into()));
        assert!(matches!(&corrupt, StoreError::Corrupt { what: "database file", message } if message == "bad page"));
        let too_large = StoreError::from(redb::StorageError::ValueTooLarge(1 << 40));
        assert!(matches!(too_large, StoreError::Storage(_)), "{too_large:?}");
        assert!(too_large.unavailable().is_none());
    }
}
