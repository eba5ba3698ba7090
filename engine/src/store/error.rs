use std::path::PathBuf;

use crate::secrets::OpenError;

/// Why the store failed. Opening errors name the file; the others are I/O
/// or corruption and answer 500 on the API.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("the data directory {path} is in use by another wasmhook process")]
    InUse { path: PathBuf },
    #[error("{path} has store schema version {found}, this wasmhook reads version {expected}")]
    SchemaVersion { path: PathBuf, found: u32, expected: u32 },
    #[error("cannot open the store {path}: {message}")]
    Open { path: PathBuf, message: String },
    #[error("store error: {0}")]
    Storage(String),
    #[error("a stored {what} record is corrupt: {message}")]
    Corrupt { what: &'static str, message: String },
    /// A hook's sealed value does not open (see `crate::secrets`).
    #[error("hook {hook}'s {place} {source}")]
    Sealing { hook: u64, place: String, source: OpenError },
}

macro_rules! storage_error {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(error: $t) -> Self {
                StoreError::Storage(error.to_string())
            }
        }
    )*};
}

storage_error!(redb::TransactionError, redb::TableError, redb::StorageError, redb::CommitError, redb::CompactionError);
