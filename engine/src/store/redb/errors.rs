//! redb's errors sorted into the store's: I/O failures and redb's latched
//! state after one are the storage refusing writes (healed by re-opening,
//! `recovery.rs`); a database closed under a transaction is a re-open (or
//! the shutdown) in progress; corruption is named as such.

use std::sync::Arc;

use super::{StoreError, Unavailable};

/// Sorts a redb error (see the module's documentation).
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
        let source = source.downcast_ref::<redb::Error>();
        assert!(matches!(source, Some(redb::Error::Io(io)) if io.kind() == std::io::ErrorKind::StorageFull));
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
