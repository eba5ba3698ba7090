use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::space::LowSpace;
use crate::secrets::OpenError;

/// A backend's own error, kept as the source.
pub type Source = Arc<dyn std::error::Error + Send + Sync>;

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
    /// A PostgreSQL database migrated by a newer engine: this one would
    /// misread it, so it refuses to start (`postgres/migrate.rs`).
    #[error("the database is at schema {found}, this binary knows up to {known}")]
    DatabaseNewer { found: u32, known: u32 },
    #[error("cannot open the store {path}: {message}")]
    Open { path: PathBuf, message: String },
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
    /// Any other failure of the backend: neither the storage refusing
    /// writes nor a corrupt record.
    #[error("store error: {0}")]
    Storage(#[source] Source),
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
/// `redb/recovery.rs`), and the guard lets writes in again once space is back.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Unavailable {
    /// The backend failed to read or write its storage (a full disk:
    /// ENOSPC, or another I/O error), or refuses everything since such a
    /// failure (redb's "previous I/O error" state, which only a re-open
    /// clears).
    #[error("the storage refuses writes: {0}")]
    Io(#[source] Source),
    /// The database is closed: being re-opened after such a failure, or
    /// the engine is stopping.
    #[error("the store is closed (re-opening after a storage failure, or shutting down)")]
    Closed,
    /// The database server cannot be reached (refused, reset or timed-out
    /// connections, no connection free in the pool): a networked store's
    /// outage, which heals when the server answers again.
    #[error("the database server cannot be reached: {0}")]
    Unreachable(#[source] Source),
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
            Unavailable::Io(_) | Unavailable::Closed | Unavailable::Unreachable(_) => Duration::from_secs(5),
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
