//! Databases for the tests: each test gets a database of its own, created
//! on the server named by `WASMHOOK_TEST_POSTGRES_URL` (a throwaway cluster:
//! `scripts/postgres-test-cluster`) and dropped when it passes. Without the
//! variable a test is skipped with a notice, unless
//! `WASMHOOK_TEST_REQUIRE_POSTGRES=1` (CI), which fails it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use super::Postgres;
use crate::secrets::Keyring;
use crate::store::{PostgresSettings, StoreError};

const URL: &str = "WASMHOOK_TEST_POSTGRES_URL";
const REQUIRE: &str = "WASMHOOK_TEST_REQUIRE_POSTGRES";

/// A database of one test, and the keyring its hooks are sealed with.
pub(crate) struct Database {
    server: String,
    name: String,
    url: String,
    keyring: Arc<Keyring>,
}

/// A new empty database, or `None` (with a notice) when no server is given
/// and none is required.
pub(crate) async fn database() -> Option<Database> {
    let Ok(server) = std::env::var(URL) else {
        if std::env::var(REQUIRE).is_ok_and(|v| v == "1") {
            panic!("{REQUIRE}=1 but {URL} is not set: start a server with scripts/postgres-test-cluster");
        }
        eprintln!("skipped: {URL} is not set (scripts/postgres-test-cluster starts a server)");
        return None;
    };
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "wasmhook_test_{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        crate::time::now_ms()
    );
    admin(&server, &format!("CREATE DATABASE {name}")).await;
    let mut url = url::Url::parse(&server).unwrap_or_else(|e| panic!("{URL}={server}: {e}"));
    url.set_path(&name);
    let keyring = crate::store::tests::keyring();
    Some(Database { server, name, url: url.to_string(), keyring })
}

/// Runs `sql` on the server's own database.
async fn admin(server: &str, sql: &str) {
    let (client, connection) = tokio_postgres::connect(server, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {URL}: {e}"));
    let connection = tokio::spawn(connection);
    client.batch_execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    drop(client);
    let _ = connection.await;
}

/// A small pool, the other settings their defaults.
pub(crate) fn settings() -> PostgresSettings {
    PostgresSettings { pool_size: 4, ..PostgresSettings::default() }
}

impl Database {
    pub(crate) async fn try_open(&self) -> Result<Postgres, StoreError> {
        Postgres::connect(&self.url, &settings(), self.keyring.clone()).await
    }

    pub(crate) async fn open(&self) -> Postgres {
        self.open_with(self.keyring.clone()).await
    }

    /// The store, its hooks sealed with `keyring`.
    pub(crate) async fn open_with(&self, keyring: Arc<Keyring>) -> Postgres {
        let store = Postgres::connect(&self.url, &settings(), keyring).await;
        store.unwrap_or_else(|e| panic!("cannot open {}: {e}", self.name))
    }

    /// The store under `settings`.
    pub(crate) async fn open_under(&self, settings: &PostgresSettings) -> Postgres {
        let store = Postgres::connect(&self.url, settings, self.keyring.clone()).await;
        store.unwrap_or_else(|e| panic!("cannot open {}: {e}", self.name))
    }

    /// Drops the database (a test that fails leaves its own, to look at).
    pub(crate) async fn remove(self) {
        admin(&self.server, &format!("DROP DATABASE {} WITH (FORCE)", self.name)).await;
    }
}
