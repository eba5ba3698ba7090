//! The PostgreSQL store (issue 12, step 1): every concern of the contract
//! (`contract.rs`) over tables modelled on Svix's and Hook0's
//! (`migrations/`), through a pool of `tokio-postgres` clients.
//!
//! Each call is one transaction, or one statement, on a pooled
//! connection, writing several rows at once where it can, but for the two
//! writes of the pipeline, which one task each writes in groups: ingests
//! (`ingests.rs`) and delivery attempts (`recorder.rs`: alone, each held
//! its hook's row locked through its own round trips and commit). As in redb, the hook index and
//! the token cache are in memory, loaded at open and updated by this
//! node's writes when they return.
//!
//! Several engines may share the database: they claim jobs under leases
//! (`leases.rs`), so no two attempt one job at a time and a hook's cap
//! holds across them, and each announces what it changes of what they
//! all keep in memory (`notices.rs`).
//!
//! Its [`Health`] has no outage to latch, unlike redb's file: a call that
//! finds the server unreachable fails alone ([`Unavailable::Unreachable`](super::Unavailable),
//! 503), and the pool connects again by itself when the server is back.
//! Connections are made without TLS for now (`NoTls`): a server that
//! requires it is refused until the wiring chooses a TLS connector.
//!
//! Uniqueness is kept by the database, and what must be judged against the
//! stored state is judged under a transaction-scoped advisory lock
//! ([`Lock`]): the client ids of an ingest, an academy's quotas, a plugin
//! name's version numbers, a plugin's park cap.

mod batches;
mod catalog;
mod deliveries;
mod errors;
mod events;
mod hooks;
mod ingests;
mod leases;
mod migrate;
mod notices;
mod payloads;
mod plugins;
mod recorder;
mod rows;
#[cfg(test)]
pub(crate) mod testing;
mod tokens;
mod transfer;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio::sync::broadcast;
use tokio_util::task::AbortOnDropHandle;

use super::contract::{Change, Store};
use super::token_cache::TokenCache;
use super::{Health, PostgresSettings, StoreError};
use crate::secrets::Keyring;

/// How long a call waits for a free connection, or for a new one to be
/// made, before it is answered "unavailable".
const POOL_WAIT: Duration = Duration::from_secs(10);

/// The store on a PostgreSQL database. Cheap to share behind an `Arc`.
pub struct Postgres {
    pool: Pool,
    /// The server and database, without the password: for the log and
    /// `/health`.
    location: String,
    health: Health,
    /// Seals the hooks' confidential values when written, opens them when
    /// read (`store/sealing.rs`).
    keyring: Arc<Keyring>,
    hooks: Arc<hooks::HookCache>,
    tokens: Arc<TokenCache>,
    /// Who this engine is among those sharing the database: its process id
    /// and a new id (`claimed_by`, the sender of its notices).
    node: Arc<str>,
    /// Records delivery attempts in groups (`recorder.rs`).
    recorder: recorder::Recorder,
    /// Writes ingests in groups (`ingests.rs`).
    ingester: ingests::Ingester,
    /// The jobs this engine claimed, their leases renewed.
    leases: leases::Leases,
    /// Other engines' catalogue and plugin changes (`notices.rs`).
    changes: broadcast::Sender<Change>,
    /// Follows other engines' changes while the store is open.
    _listening: AbortOnDropHandle<()>,
}

impl Postgres {
    /// Connects to the database at `url` (`postgres://user:password@host:port/db`)
    /// under `settings` (the pool's size, the statement timeout, the
    /// lease; its own `url` is not read); applies the migrations this
    /// binary has that the database lacks (refusing a database migrated by
    /// a newer engine); loads the hooks, whose confidential values
    /// `keyring` opens. A server that cannot be reached is
    /// [`Unavailable`](super::Unavailable).
    pub async fn connect(
        url: &str,
        settings: &PostgresSettings,
        keyring: Arc<Keyring>,
    ) -> Result<Postgres, StoreError> {
        let pool_size = settings.pool_size;
        let mut config = tokio_postgres::Config::from_str(url).map_err(|e| StoreError::Storage(Arc::new(e)))?;
        config.options(format!("-c statement_timeout={}", settings.statement_timeout.as_millis()));
        config.application_name("wasmhook");
        // A server that does not answer (a blackholed address, a machine
        // gone) fails a new connection after the pool's wait rather than
        // TCP's minutes, and an idle connection to it — the one listening
        // to other engines' changes above all — is found dead in about
        // 25 s rather than the system's default two hours.
        config.connect_timeout(POOL_WAIT);
        config.keepalives_idle(Duration::from_secs(10));
        config.keepalives_interval(Duration::from_secs(5));
        config.keepalives_retries(3);
        let location = location(&config);
        // A connection the server closed is dropped when it comes back to
        // the pool (`Fast` checks that, without a query per checkout): the
        // call that met it failed as unreachable, the next gets a new one.
        let manager = Manager::from_config(
            config.clone(),
            tokio_postgres::NoTls,
            ManagerConfig { recycling_method: RecyclingMethod::Fast },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(POOL_WAIT))
            .build()
            .map_err(|e| StoreError::Storage(Arc::new(e)))?;
        let schema = migrate::run(&mut pool.get().await?, &location).await?;
        let node: Arc<str> = format!("{}/{}", std::process::id(), uuid::Uuid::now_v7()).into();
        let followed = notices::Followed {
            node: node.clone(),
            location: location.clone(),
            pool: pool.clone(),
            keyring,
            hooks: Arc::default(),
            tokens: Arc::default(),
            changes: broadcast::Sender::new(64),
        };
        let mut client = pool.get().await?;
        let store = Postgres {
            recorder: recorder::Recorder::start(pool.clone(), location.clone(), node.clone()),
            ingester: ingests::Ingester::start(pool.clone(), location.clone()),
            leases: leases::Leases::start(pool.clone(), location.clone(), node.clone(), settings.lease),
            health: Health::new(location.clone()),
            keyring: followed.keyring.clone(),
            hooks: followed.hooks.clone(),
            tokens: followed.tokens.clone(),
            changes: followed.changes.clone(),
            node,
            pool,
            location,
            // Listening from before the hooks are read: a change committed
            // meanwhile is heard.
            _listening: notices::listen(config, followed),
        };
        store.reseal(&mut client).await?;
        store.reload_hooks(&client).await?;
        drop(client);
        tracing::info!(store = %store.location, schema, pool_size, "the PostgreSQL store is open");
        Ok(store)
    }

    /// A connection from the pool.
    async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        Ok(self.pool.get().await?)
    }

    /// Tells the other engines of `notice` once `txn` commits.
    async fn announce(&self, txn: &impl GenericClient, notice: notices::Notice) -> Result<(), StoreError> {
        notices::announce(txn, &self.node, notice).await
    }
}

/// Where `config` points, without its password: `postgres://user@host:port/db`.
fn location(config: &tokio_postgres::Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .zip(config.get_ports().iter().chain(std::iter::repeat(&5432)))
        .map(|(host, port)| match host {
            tokio_postgres::config::Host::Tcp(name) => format!("{name}:{port}"),
            tokio_postgres::config::Host::Unix(path) => format!("{}:{port}", path.display()),
        })
        .collect();
    let user = config.get_user().map(|user| format!("{user}@")).unwrap_or_default();
    format!("postgres://{user}{}/{}", hosts.join(","), config.get_dbname().unwrap_or(""))
}

/// The transaction-scoped advisory locks this store takes, each in its own
/// class (the first key of `pg_advisory_xact_lock(int, int)`), so that two
/// kinds never wait on each other by a hash collision.
#[derive(Debug, Clone, Copy)]
#[repr(i32)]
enum Lock {
    /// An academy's hooks, while its quotas are checked.
    Quotas = 1,
    /// A client event id of an academy, while its stored record is judged.
    EventId = 2,
    /// A plugin name, while its next version number is taken.
    PluginName = 3,
    /// A plugin's parked events, while its cap is checked.
    Parking = 4,
    /// A hook's jobs, while a pass counts its claims and claims more.
    Claims = 5,
    /// Retention pruning, which engines sharing the database take one at
    /// a time (the next finds nothing left to delete).
    Pruning = 6,
}

impl Lock {
    /// Takes this lock on each of `keys` (hashed), in one order whatever
    /// the order given, so two transactions never wait on each other.
    async fn take(self, txn: &impl GenericClient, keys: &[&str]) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        let sql = "SELECT pg_advisory_xact_lock($1, k) \
                   FROM (SELECT DISTINCT hashtext(key) AS k FROM unnest($2::text[]) AS key ORDER BY 1) AS keys";
        txn.execute(&txn.prepare_cached(sql).await?, &[&(self as i32), &keys]).await?;
        Ok(())
    }
}

#[async_trait]
impl Store for Postgres {
    fn location(&self) -> String {
        self.location.clone()
    }

    fn health(&self) -> &Health {
        &self.health
    }

    async fn check_readable(&self) -> Result<(), StoreError> {
        let client = self.client().await?;
        client.query_one(&client.prepare_cached("SELECT max(version) FROM schema_migrations").await?, &[]).await?;
        Ok(())
    }

    /// Every call returns once its transaction is committed: there is
    /// nothing waiting to be made durable.
    async fn sync(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Not counted: only attempts are grouped (`recorder.rs`), and
    /// PostgreSQL groups concurrent commits' fsyncs.
    fn commit_counts(&self) -> Option<(u64, u64)> {
        None
    }

    /// Other engines' catalogue and plugin changes, heard with
    /// `LISTEN/NOTIFY` (`notices.rs`); their hook and token changes are
    /// followed by the store itself.
    fn changes(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_location_names_the_server_and_never_the_password() {
        let config = tokio_postgres::Config::from_str("postgres://hooks:s3cret@db.internal:6543/wasmhook").unwrap();
        assert_eq!(location(&config), "postgres://hooks@db.internal:6543/wasmhook");
        let config = tokio_postgres::Config::from_str("postgres://db.internal/wasmhook").unwrap();
        assert_eq!(location(&config), "postgres://db.internal:5432/wasmhook");
    }

    #[tokio::test]
    async fn an_unreachable_server_is_unavailable() {
        // A port nothing listens on (the discard port).
        let url = "postgres://nobody@127.0.0.1:9/none";
        let settings = PostgresSettings { pool_size: 1, ..PostgresSettings::default() };
        let error = Postgres::connect(url, &settings, crate::store::tests::keyring()).await.err();
        let error = error.expect("nothing listens there");
        assert!(matches!(error.unavailable(), Some(crate::store::Unavailable::Unreachable(_))), "{error:?}");
        assert!(std::error::Error::source(&error).is_some(), "the source is kept");
    }
}
