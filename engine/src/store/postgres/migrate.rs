//! Versioned migrations: the `.sql` files of `migrations/`, embedded in the
//! binary, applied at open in one transaction under an advisory lock (two
//! engines starting at once migrate once), each recorded in
//! `schema_migrations`. A database whose newest migration is newer than
//! this binary knows was migrated by a newer engine, which this one would
//! misread: it is refused.

use deadpool_postgres::GenericClient;

use super::super::StoreError;
use super::rows::get;

/// One migration: its number (the order they apply in) and its SQL.
struct Migration {
    version: u32,
    name: &'static str,
    sql: &'static str,
}

/// Every migration this binary knows, in order. A new one is a new file
/// with the next number, never an edit of one released.
const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "initial", sql: include_str!("migrations/0001_initial.sql") },
    Migration { version: 2, name: "claims", sql: include_str!("migrations/0002_claims.sql") },
    Migration { version: 3, name: "no_queue_by_due", sql: include_str!("migrations/0003_no_queue_by_due.sql") },
];

/// The schema version this binary knows up to.
pub(super) const SCHEMA_VERSION: u32 = MIGRATIONS[MIGRATIONS.len() - 1].version;

/// The advisory lock the migrations are applied under ("wasmhook").
const MIGRATION_LOCK: i64 = 0x7761_736d_686f_6f6b;

/// Applies the migrations the database at `location` lacks, or refuses a
/// database newer than this binary; the schema version it is at.
pub(super) async fn run(client: &mut deadpool_postgres::Client, location: &str) -> Result<u32, StoreError> {
    let txn = client.transaction().await?;
    txn.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
    txn.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, \
         applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .await?;
    let row = txn.query_one("SELECT max(version) AS version FROM schema_migrations", &[]).await?;
    let found = get::<Option<i32>>(&row, "version", "schema migrations")?.unwrap_or(0);
    let found = u32::try_from(found).unwrap_or(0);
    if found > SCHEMA_VERSION {
        return Err(StoreError::DatabaseNewer { found, known: SCHEMA_VERSION });
    }
    for migration in MIGRATIONS.iter().filter(|migration| migration.version > found) {
        tracing::info!(store = %location, version = migration.version, name = migration.name, "applying a migration");
        txn.batch_execute(migration.sql).await?;
        let version = i32::try_from(migration.version).unwrap_or(i32::MAX);
        txn.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", &[&version, &migration.name])
            .await?;
    }
    txn.commit().await?;
    Ok(SCHEMA_VERSION)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::postgres::testing;

    #[tokio::test]
    async fn a_database_newer_than_the_binary_is_refused_and_an_older_one_is_left_as_it_is() {
        let Some(database) = testing::database().await else { return };
        drop(database.open().await);
        // Opening again applies nothing.
        let store = database.open().await;
        let client = store.client().await.unwrap();
        let applied = client.query_one("SELECT count(*) AS n FROM schema_migrations", &[]).await.unwrap();
        assert_eq!(applied.get::<_, i64>("n"), i64::from(SCHEMA_VERSION));
        let newer = i32::try_from(SCHEMA_VERSION + 1).unwrap();
        client.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, 'future')", &[&newer]).await.unwrap();
        drop(client);
        drop(store);
        let error = database.try_open().await.err().expect("refused");
        let expected = format!("the database is at schema {newer}, this binary knows up to {SCHEMA_VERSION}");
        assert_eq!(error.to_string(), expected);
        database.remove().await;
    }
}
