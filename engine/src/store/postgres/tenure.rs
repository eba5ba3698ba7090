//! One engine per database, for now. Several engines on one database need
//! leases on the jobs they claim (step 2 of issue 12) and the changes each
//! writes announced to the others (step 3); without them two engines would
//! attempt the same jobs and serve stale hooks. So an engine holds a
//! session advisory lock for its life, on a connection of its own, and a
//! second engine is refused at start, as a second process on one redb
//! file is.

use std::time::{Duration, Instant};

use tokio_postgres::tls::NoTlsStream;
use tokio_postgres::{Client, Config, Connection, NoTls, Socket};

use super::super::{StoreError, Unavailable};
use super::Lock;

/// How long a start waits for the lock: the session of an engine killed a
/// moment ago may not have ended yet on the server.
const WAIT: Duration = Duration::from_secs(5);

/// How often a lost hold is tried again: soon, since another engine could
/// take the database meanwhile.
const RETRY: Duration = Duration::from_millis(250);

/// The engine's hold on its database, kept by a task that takes it again
/// when its connection is lost (a server restart ends every session);
/// released when dropped, or when the engine dies.
pub(super) struct Tenure {
    keeper: tokio::task::JoinHandle<()>,
}

impl Drop for Tenure {
    /// The keeper's connection closes with it, which ends the session.
    fn drop(&mut self) {
        self.keeper.abort();
    }
}

/// A connection holding the lock: its client, and the connection's task.
type Hold = (Client, Connection<Socket, NoTlsStream>);

impl Tenure {
    /// Takes the database at `location` for this engine, or refuses when
    /// another engine holds it.
    pub(super) async fn take(config: &Config, location: &str) -> Result<Tenure, StoreError> {
        let started = Instant::now();
        let held = loop {
            match hold(config).await {
                Err(StoreError::DatabaseInUse { .. }) if started.elapsed() < WAIT => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(StoreError::DatabaseInUse { .. }) => {
                    return Err(StoreError::DatabaseInUse { location: location.to_owned() });
                }
                held => break held?,
            }
        };
        let keeper = tokio::spawn(keep(config.clone(), location.to_owned(), held));
        Ok(Tenure { keeper })
    }
}

/// A new connection that took the lock, or `DatabaseInUse` (with no
/// location: the caller names it).
async fn hold(config: &Config) -> Result<Hold, StoreError> {
    let (client, mut connection) = config.connect(NoTls).await?;
    let lock = client.query_one("SELECT pg_try_advisory_lock($1, 0)", &[&(Lock::Engine as i32)]);
    // The connection is driven while the query waits for its answer.
    let row = tokio::select! {
        row = lock => row?,
        ended = &mut connection => return Err(match ended {
            Err(error) => error.into(),
            Ok(()) => Unavailable::Closed.into(),
        }),
    };
    if row.get::<_, bool>(0) {
        Ok((client, connection))
    } else {
        Err(StoreError::DatabaseInUse { location: String::new() })
    }
}

/// Keeps the hold: when its connection ends, takes the lock again on a new
/// one, saying so in the log.
async fn keep(config: Config, location: String, (mut client, mut connection): Hold) {
    loop {
        let ended = connection.await;
        drop(client);
        tracing::warn!(
            store = %location, error = ?ended.err(),
            "lost the connection that keeps other engines off the database: taking it again"
        );
        (client, connection) = loop {
            tokio::time::sleep(RETRY).await;
            match hold(&config).await {
                Ok(held) => break held,
                Err(StoreError::DatabaseInUse { .. }) => tracing::error!(
                    store = %location,
                    "another engine holds the database: two engines on one database attempt the same jobs; stop one"
                ),
                Err(error) => tracing::debug!(store = %location, %error, "cannot take the database again yet"),
            }
        };
        tracing::info!(store = %location, "holds the database again");
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing;
    use super::*;

    #[tokio::test]
    async fn a_second_engine_is_refused_until_the_first_is_gone() {
        let Some(database) = testing::database().await else { return };
        let first = database.open().await;
        let second = database.try_open().await.err().expect("a second engine on the database is refused");
        assert!(matches!(second, StoreError::DatabaseInUse { .. }), "{second}");
        assert!(second.to_string().contains("one engine per database"), "{second}");
        drop(first);
        let again = database.open().await;
        drop(again);
        database.remove().await;
    }
}
