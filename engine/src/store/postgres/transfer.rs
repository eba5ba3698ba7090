//! An export read from the database, and an import written into it
//! (`store/transfer.rs`): the way a single node's setup and queue move
//! here. An import writes the whole file in one transaction, with the
//! tables it fills locked against other writers, and only into a database
//! that holds none of what it brings, so ids stay as they were (queued
//! jobs and `webhook-id`s name their hooks) without colliding; the
//! sequences then continue after the largest id imported.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::types::{Json, ToSql};

use super::super::StoreError;
use super::super::contract::Transfer;
use super::super::sealing;
use super::super::transfer::{Counts, Record, TransferError};
use super::notices::Notice;
use super::rows::{self, JOB_COLUMNS, get, unsigned};
use super::{Postgres, deliveries, hooks, payloads, plugins};
use crate::model::{HookStats, Job, Payload, PayloadId, TokenRecord};

/// Jobs written per statement.
const BATCH: usize = 1_000;

/// The tables an import fills: locked for its transaction, and empty
/// before it.
const TABLES: [&str; 5] = ["hooks", "tokens", "catalog_events", "plugin_versions", "jobs"];

#[async_trait]
impl Transfer for Postgres {
    async fn tokens_with_hashes(&self) -> Result<Vec<([u8; 32], TokenRecord)>, StoreError> {
        let client = self.client().await?;
        let sql = "SELECT sha256, id, name, role, extract(epoch FROM created_at)::bigint AS created_at \
                   FROM tokens ORDER BY id";
        let rows = client.query(&client.prepare_cached(sql).await?, &[]).await?;
        rows.iter()
            .map(|row| {
                let hash: Vec<u8> = get(row, "sha256", "token")?;
                let hash = hash.try_into().map_err(|_| StoreError::Corrupt {
                    what: "token",
                    message: "a token's sha256 is not 32 bytes".into(),
                })?;
                Ok((hash, super::tokens::token(row)?))
            })
            .collect()
    }

    async fn queued_jobs(&self, after: Option<&Job>, limit: usize) -> Result<Vec<Job>, StoreError> {
        let client = self.client().await?;
        let after = after.map_or(-1, |job| rows::id(job.id));
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs j JOIN payloads p ON p.id = j.payload_id \
             WHERE j.id > $1 ORDER BY j.id LIMIT $2"
        );
        let params: [&(dyn ToSql + Sync); 2] = [&after, &rows::count(limit)];
        client.query(&client.prepare_cached(&sql).await?, &params).await?.iter().map(rows::job).collect()
    }

    async fn import(
        &self,
        records: &mut (dyn Iterator<Item = Result<Record, TransferError>> + Send),
    ) -> Result<Counts, TransferError> {
        let mut client = self.client().await?;
        let txn = client.transaction().await.map_err(StoreError::from)?;
        txn.batch_execute(&format!("LOCK TABLE {} IN EXCLUSIVE MODE", TABLES.join(", ")))
            .await
            .map_err(StoreError::from)?;
        refuse_unless_empty(&txn).await?;
        let mut import = Import::default();
        for record in records {
            import.write(self, &txn, record?).await?;
        }
        import.flush(&txn).await?;
        hooks::put_stats(&txn, &import.stats).await?;
        let sql = "SELECT setval('hooks_id_seq', coalesce((SELECT max(id) FROM hooks), 0) + 1, false); \
                   SELECT setval('tokens_id_seq', coalesce((SELECT max(id) FROM tokens), 0) + 1, false); \
                   SELECT setval('jobs_id_seq', coalesce((SELECT max(id) FROM jobs), 0) + 1, false);";
        txn.batch_execute(sql).await.map_err(StoreError::from)?;
        for notice in [Notice::Hooks, Notice::Tokens, Notice::Catalog] {
            self.announce(&txn, notice).await?;
        }
        for name in &import.plugins {
            self.announce(&txn, Notice::Plugin { name: name.clone() }).await?;
        }
        txn.commit().await.map_err(StoreError::from)?;
        self.reload_hooks(&client).await?;
        tracing::info!(store = %self.location, counts = ?import.counts, "export imported");
        Ok(import.counts)
    }
}

/// Refuses a database that holds anything an import would write.
async fn refuse_unless_empty(txn: &impl GenericClient) -> Result<(), TransferError> {
    let counts = TABLES.map(|table| format!("(SELECT count(*) FROM {table}) AS {table}"));
    let row = txn.query_one(&format!("SELECT {}", counts.join(", ")), &[]).await.map_err(StoreError::from)?;
    let mut holds = Vec::new();
    for table in TABLES {
        let count: u64 = unsigned(&row, table, "table count")?;
        if count > 0 {
            holds.push(format!("{count} rows in {table}"));
        }
    }
    if holds.is_empty() { Ok(()) } else { Err(TransferError::NotEmpty { holds: holds.join(", ") }) }
}

/// What an import has read and not written yet, and what it wrote.
#[derive(Default)]
struct Import {
    counts: Counts,
    payloads: Vec<Payload>,
    jobs: Vec<Job<PayloadId>>,
    stats: HashMap<u64, HookStats>,
    /// The plugins whose versions or limits came, announced at the end.
    plugins: BTreeSet<String>,
}

impl Import {
    async fn write(&mut self, store: &Postgres, txn: &impl GenericClient, record: Record) -> Result<(), StoreError> {
        self.counts.add(&record);
        match record {
            Record::Header { .. } | Record::End { .. } => {}
            Record::Component { sha256, bytes } => plugins::store_component(txn, &sha256, &bytes.0).await?,
            Record::Token { sha256, token } => {
                let sql = "INSERT INTO tokens (id, sha256, name, role, created_at) \
                           VALUES ($1, $2, $3, $4, to_timestamp($5::bigint))";
                let params: [&(dyn ToSql + Sync); 5] = [
                    &rows::id(token.id),
                    &sha256.0.as_slice(),
                    &token.name,
                    &Json(&token.role),
                    &rows::seconds(token.created_at),
                ];
                txn.execute(&txn.prepare_cached(sql).await?, &params).await?;
            }
            Record::CatalogEvent { spec } => {
                let sql = "INSERT INTO catalog_events (name, spec) VALUES ($1, $2)";
                txn.execute(&txn.prepare_cached(sql).await?, &[&spec.name, &Json(&spec)]).await?;
            }
            Record::PluginVersion { version } => {
                plugins::put_version(txn, &version).await?;
                self.plugins.insert(version.name);
            }
            Record::PluginLimits { limits } => {
                let sql = "INSERT INTO plugin_limits (name, limits) VALUES ($1, $2)";
                txn.execute(&txn.prepare_cached(sql).await?, &[&limits.name, &Json(&limits.limits)]).await?;
                self.plugins.insert(limits.name);
            }
            Record::Hook { hook, stats } => {
                hooks::put(txn, &hook, &sealing::seal(&hook, &store.keyring)).await?;
                self.stats.insert(hook.id, stats);
            }
            Record::Payload { id, body } => self.payloads.push(Payload::stored(id, body.into())),
            Record::Job { job } => {
                // Its payload came before it: in this batch, or stored with
                // an earlier one.
                self.jobs.push(job);
                if self.jobs.len() == BATCH {
                    self.flush(txn).await?;
                }
            }
        }
        Ok(())
    }

    /// Writes the payloads and jobs read since the last flush.
    async fn flush(&mut self, txn: &impl GenericClient) -> Result<(), StoreError> {
        payloads::store(txn, &self.payloads).await?;
        let jobs: Vec<(u64, &Job<PayloadId>)> = self.jobs.iter().map(|job| (job.id, job)).collect();
        deliveries::put_jobs(txn, &jobs).await?;
        self.payloads.clear();
        self.jobs.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::model::Scope;
    use crate::store::contract_tests::transfer::fill;
    use crate::store::memory::Memory;
    use crate::store::postgres::testing;
    use crate::store::tests::{job, new_hook};
    use crate::store::transfer::{Reader, TransferError, export};
    use crate::store::{Deliveries, Hooks, Plugins, Tokens, Transfer};

    /// What an import must leave as the export found it.
    async fn setup(store: &dyn crate::store::Store) -> impl PartialEq + std::fmt::Debug {
        let mut queue = store.queued_jobs(None, 100).await.unwrap();
        queue.sort_by_key(|job| job.id); // each backend pages in its own order
        (
            store.hooks(&Scope::All),
            store.tokens_with_hashes().await.unwrap(),
            store.catalog_additions().await.unwrap(),
            store.plugin_versions().await.unwrap(),
            store.plugin_limits().await.unwrap(),
            queue,
        )
    }

    #[tokio::test]
    async fn an_export_is_imported_whole_with_its_ids_into_an_empty_database_only() {
        let Some(database) = testing::database().await else { return };
        let source = Memory::new();
        fill(&source).await;
        let mut file = Vec::new();
        export(&source, "memory", &mut file).await.unwrap();
        let store = database.open().await;

        // Cut short (no trailer): nothing is written.
        let lines: Vec<&[u8]> = file.split_inclusive(|&b| b == b'\n').collect();
        let cut = lines[..lines.len() - 1].concat();
        let refused = store.import(&mut Reader::new(&cut[..])).await;
        assert!(matches!(refused, Err(TransferError::Truncated { .. })), "{refused:?}");
        assert_eq!(store.hooks(&Scope::All), [], "the transaction was rolled back");
        assert_eq!(store.tokens().await.unwrap(), []);

        let counts = store.import(&mut Reader::new(&file[..])).await.unwrap();
        assert_eq!((counts.hooks, counts.jobs, counts.tokens), (2, 3, 2));
        assert_eq!(setup(&store).await, setup(&source).await, "ids, secrets, tokens' hashes, the queue");
        let sha256 = &store.plugin_versions().await.unwrap()[0].sha256;
        assert_eq!(store.plugin_blob(sha256).await.unwrap().as_deref(), Some(&b"a component"[..]));
        // Reopened: the secrets were sealed with the store's key.
        drop(store);
        let store = database.open().await;
        assert_eq!(store.hooks(&Scope::All), source.hooks(&Scope::All));

        // New ids continue after the largest imported.
        let hook = store.create_hook(new_hook(None), Default::default()).await.unwrap();
        assert_eq!(hook.id, 4);
        let token = store.create_token([3; 32], "three".into(), crate::model::Role::Service).await.unwrap();
        assert_eq!(token.id, 4);
        let largest = source.queued_jobs(None, 100).await.unwrap().iter().map(|job| job.id).max().unwrap();
        assert_eq!(store.enqueue(vec![job(hook.id, 1)]).await.unwrap(), [largest + 1]);

        let again = store.import(&mut Reader::new(&file[..])).await;
        let Err(TransferError::NotEmpty { holds }) = again else { panic!("{again:?}") };
        assert_eq!(
            holds,
            "3 rows in hooks, 3 rows in tokens, 1 rows in catalog_events, 1 rows in plugin_versions, 4 rows in jobs"
        );
        drop(store);
        database.remove().await;
    }
}
