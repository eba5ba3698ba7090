//! One engine per database, for now. Several engines on one database need
//! leases on the jobs they claim (step 2 of issue 12) and the changes each
//! writes announced to the others (step 3); without them two engines would
//! attempt the same jobs and serve stale hooks. So an engine holds a
//! session advisory lock for its life, on a connection of its own, and a
//! second engine is refused at start, as a second process on one redb
//! file is.

use std::time::{Duration, Instant};

use super::super::StoreError;
use super::Lock;

/// How long a start waits for the lock: the session of an engine killed a
/// moment ago may not have ended yet on the server.
const WAIT: Duration = Duration::from_secs(5);

/// The engine's hold on its database; released when dropped (the
/// connection closes), or when the engine dies.
pub(super) struct Tenure {
    _client: tokio_postgres::Client,
}

impl Tenure {
    /// Takes the database at `location` for this engine, or refuses when
    /// another engine holds it.
    pub(super) async fn take(config: &tokio_postgres::Config, location: &str) -> Result<Tenure, StoreError> {
        let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
        let watched = location.to_owned();
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::error!(
                    store = %watched, %error,
                    "lost the connection that keeps other engines off the database: another engine could start on it"
                );
            }
        });
        let started = Instant::now();
        loop {
            let row = client.query_one("SELECT pg_try_advisory_lock($1, 0)", &[&(Lock::Engine as i32)]).await?;
            if row.get::<_, bool>(0) {
                return Ok(Tenure { _client: client });
            }
            if started.elapsed() >= WAIT {
                return Err(StoreError::DatabaseInUse { location: location.to_owned() });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
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
