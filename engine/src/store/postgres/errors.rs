//! The driver's errors sorted into the store's, each keeping its source: a
//! server that cannot be reached (refused, reset or closed connections, no
//! connection free in the pool, a server shutting down or out of
//! connections) is [`Unavailable::Unreachable`], answered 503 and healed
//! when it answers again; a full disk on the server is
//! [`Unavailable::Io`]; anything else (a constraint, a statement timeout,
//! a bug) is [`StoreError::Storage`].

use std::sync::Arc;

use deadpool_postgres::PoolError;
use tokio_postgres::error::SqlState;

use super::super::{StoreError, Unavailable};

impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> Self {
        let unreachable = match error.code() {
            Some(code) => {
                // Class 08: connection exceptions; 57P0x: the server is
                // going down or starting; 53300: too many connections.
                code.code().starts_with("08")
                    || [SqlState::ADMIN_SHUTDOWN, SqlState::CRASH_SHUTDOWN, SqlState::CANNOT_CONNECT_NOW].contains(code)
                    || *code == SqlState::TOO_MANY_CONNECTIONS
            }
            // No answer from the server: a connection closed, or an I/O
            // failure on it.
            None => error.is_closed() || io_source(&error),
        };
        if unreachable {
            return Unavailable::Unreachable(Arc::new(error)).into();
        }
        if error.code() == Some(&SqlState::DISK_FULL) {
            return Unavailable::Io(Arc::new(error)).into();
        }
        StoreError::Storage(Arc::new(error))
    }
}

fn io_source(error: &tokio_postgres::Error) -> bool {
    std::error::Error::source(error).is_some_and(|source| source.is::<std::io::Error>())
}

impl From<PoolError> for StoreError {
    fn from(error: PoolError) -> Self {
        match error {
            PoolError::Backend(error) => error.into(),
            // Timed out waiting for a connection, or the pool is closed:
            // no connection to the server now.
            other => Unavailable::Unreachable(Arc::new(other)).into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_that_gives_no_connection_is_unavailable_and_keeps_its_source() {
        let error = StoreError::from(PoolError::Timeout(deadpool_postgres::TimeoutType::Wait));
        let Some(Unavailable::Unreachable(source)) = error.unavailable() else { panic!("{error:?}") };
        assert!(source.downcast_ref::<PoolError>().is_some(), "{source}");
        assert!(std::error::Error::source(&error).is_some());
    }
}
