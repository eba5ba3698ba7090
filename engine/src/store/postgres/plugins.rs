//! Uploaded plugin versions, their limits, and the components (plugin
//! versions and hook transformers) stored once per sha256 in `components`,
//! each deleted by the write that drops its last use (`NOT EXISTS` over the
//! versions and the hooks: no use count to keep in step).

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::types::Json;

use super::super::contract::{Plugins, Store};
use super::super::{ComponentTotals, StoreError};
use super::notices::Notice;
use super::rows::{self, get, json, unsigned, unsigned32};
use super::{Lock, Postgres};
use crate::model::{LimitOverrides, PluginLimits, PluginVersion};

/// Stores component `sha256` unless it is stored already.
pub(super) async fn store_component(txn: &impl GenericClient, sha256: &str, bytes: &[u8]) -> Result<(), StoreError> {
    let sql = "INSERT INTO components (sha256, bytes, size) VALUES ($1, $2, $3) ON CONFLICT (sha256) DO NOTHING";
    txn.execute(&txn.prepare_cached(sql).await?, &[&sha256, &bytes, &rows::count(bytes.len())]).await?;
    Ok(())
}

/// Deletes the components among `sha256s` that no plugin version and no
/// hook uses any more: called by every write that drops uses.
pub(super) async fn free_components(txn: &impl GenericClient, sha256s: &[&str]) -> Result<(), StoreError> {
    if sha256s.is_empty() {
        return Ok(());
    }
    let sql = "DELETE FROM components c WHERE c.sha256 = ANY($1) \
               AND NOT EXISTS (SELECT 1 FROM plugin_versions v WHERE v.sha256 = c.sha256) \
               AND NOT EXISTS (SELECT 1 FROM hooks h WHERE h.transformer_sha256 = c.sha256)";
    txn.execute(&txn.prepare_cached(sql).await?, &[&sha256s]).await?;
    Ok(())
}

/// Writes `version` (its component stored already).
pub(super) async fn put_version(txn: &impl GenericClient, version: &PluginVersion) -> Result<(), StoreError> {
    let sql = "INSERT INTO plugin_versions (name, version, sha256, size, uploaded_at, active) \
               VALUES ($1, $2, $3, $4, to_timestamp($5::bigint), $6)";
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] = [
        &version.name,
        &i32::try_from(version.version).unwrap_or(i32::MAX),
        &version.sha256,
        &rows::count(version.size),
        &rows::seconds(version.uploaded_at),
        &version.active,
    ];
    txn.execute(&txn.prepare_cached(sql).await?, &params).await?;
    Ok(())
}

const VERSION_COLUMNS: &str =
    "name, version, sha256, size, extract(epoch FROM uploaded_at)::bigint AS uploaded_at, active";

fn version(row: &Row) -> Result<PluginVersion, StoreError> {
    const WHAT: &str = "plugin version";
    Ok(PluginVersion {
        name: get(row, "name", WHAT)?,
        version: unsigned32(row, "version", WHAT)?,
        sha256: get(row, "sha256", WHAT)?,
        size: unsigned(row, "size", WHAT)?,
        uploaded_at: rows::time(row, "uploaded_at", WHAT)?,
        active: get(row, "active", WHAT)?,
    })
}

/// The versions of `name`, by version.
async fn versions_of(txn: &impl GenericClient, name: &str) -> Result<Vec<PluginVersion>, StoreError> {
    let sql = format!("SELECT {VERSION_COLUMNS} FROM plugin_versions WHERE name = $1 ORDER BY version");
    txn.query(&txn.prepare_cached(&sql).await?, &[&name]).await?.iter().map(version).collect()
}

#[async_trait]
impl Plugins for Postgres {
    async fn add_plugin_version(
        &self,
        name: &str,
        sha256: String,
        bytes: Vec<u8>,
    ) -> Result<PluginVersion, StoreError> {
        self.room()?;
        let mut client = self.client().await?;
        let txn = client.transaction().await?;
        // Two uploads of one name at once take successive numbers.
        Lock::PluginName.take(&txn, &[name]).await?;
        let sql = "SELECT max(version) AS last FROM plugin_versions WHERE name = $1";
        let last: Option<i32> =
            get(&txn.query_one(&txn.prepare_cached(sql).await?, &[&name]).await?, "last", "plugin")?;
        let last = last.map(|v| u32::try_from(v).unwrap_or(0));
        let record = PluginVersion::upload(name, last, sha256, bytes.len());
        store_component(&txn, &record.sha256, &bytes).await?;
        put_version(&txn, &record).await?;
        self.announce(&txn, Notice::Plugin { name: name.to_owned() }).await?;
        txn.commit().await?;
        tracing::info!(store = %self.location, plugin = name, version = record.version, sha256 = %record.sha256, "plugin version stored");
        Ok(record)
    }

    async fn plugin_versions(&self) -> Result<Vec<PluginVersion>, StoreError> {
        let client = self.client().await?;
        let sql = format!("SELECT {VERSION_COLUMNS} FROM plugin_versions ORDER BY name, version");
        client.query(&client.prepare_cached(&sql).await?, &[]).await?.iter().map(version).collect()
    }

    async fn plugin_versions_of(&self, name: &str) -> Result<Vec<PluginVersion>, StoreError> {
        versions_of(&self.client().await?, name).await
    }

    async fn activate_plugin_version(
        &self,
        name: &str,
        version: u32,
    ) -> Result<Option<Vec<PluginVersion>>, StoreError> {
        let mut client = self.client().await?;
        let txn = client.transaction().await?;
        let sql = "SELECT version FROM plugin_versions WHERE name = $1 FOR UPDATE";
        let versions = txn.query(&txn.prepare_cached(sql).await?, &[&name]).await?;
        let version = i32::try_from(version).unwrap_or(i32::MAX);
        // Version 0 is the bundled plugin: every upload inactive.
        if version != 0 && !versions.iter().any(|row| row.get::<_, i32>("version") == version) {
            return Ok(None);
        }
        // The active one off first: at most one is active at any instant.
        let sql = "UPDATE plugin_versions SET active = false WHERE name = $1 AND active AND version <> $2";
        txn.execute(&txn.prepare_cached(sql).await?, &[&name, &version]).await?;
        let sql = "UPDATE plugin_versions SET active = true WHERE name = $1 AND version = $2";
        txn.execute(&txn.prepare_cached(sql).await?, &[&name, &version]).await?;
        let versions = versions_of(&txn, name).await?;
        self.announce(&txn, Notice::Plugin { name: name.to_owned() }).await?;
        txn.commit().await?;
        tracing::info!(store = %self.location, plugin = name, version, "plugin version activated");
        Ok(Some(versions))
    }

    async fn delete_plugin(&self, name: &str) -> Result<Vec<PluginVersion>, StoreError> {
        let mut client = self.client().await?;
        let txn = client.transaction().await?;
        let deleted = versions_of(&txn, name).await?;
        txn.execute(&txn.prepare_cached("DELETE FROM plugin_versions WHERE name = $1").await?, &[&name]).await?;
        txn.execute(&txn.prepare_cached("DELETE FROM plugin_limits WHERE name = $1").await?, &[&name]).await?;
        free_components(&txn, &deleted.iter().map(|v| v.sha256.as_str()).collect::<Vec<_>>()).await?;
        self.announce(&txn, Notice::Plugin { name: name.to_owned() }).await?;
        txn.commit().await?;
        tracing::info!(store = %self.location, plugin = name, versions = deleted.len(), "plugin deleted");
        Ok(deleted)
    }

    async fn plugin_blob(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let client = self.client().await?;
        let sql = "SELECT bytes FROM components WHERE sha256 = $1";
        let row = client.query_opt(&client.prepare_cached(sql).await?, &[&sha256]).await?;
        row.map(|row| get(&row, "bytes", "component")).transpose()
    }

    async fn component_totals(&self) -> Result<ComponentTotals, StoreError> {
        let client = self.client().await?;
        let sql = "SELECT count(*) AS count, coalesce(sum(size), 0)::bigint AS bytes FROM components";
        let row = client.query_one(&client.prepare_cached(sql).await?, &[]).await?;
        Ok(ComponentTotals {
            count: unsigned(&row, "count", "components")?,
            bytes: unsigned(&row, "bytes", "components")?,
        })
    }

    async fn plugin_limits(&self) -> Result<Vec<PluginLimits>, StoreError> {
        let client = self.client().await?;
        let sql = "SELECT name, limits FROM plugin_limits ORDER BY name";
        let rows = client.query(&client.prepare_cached(sql).await?, &[]).await?;
        rows.iter()
            .map(|row| {
                Ok(PluginLimits {
                    name: get(row, "name", "plugin limits")?,
                    limits: json(row, "limits", "plugin limits")?,
                })
            })
            .collect()
    }

    async fn set_plugin_limits(&self, name: &str, limits: LimitOverrides) -> Result<(), StoreError> {
        let client = self.client().await?;
        if limits == LimitOverrides::default() {
            let sql = "DELETE FROM plugin_limits WHERE name = $1";
            client.execute(&client.prepare_cached(sql).await?, &[&name]).await?;
        } else {
            let sql = "INSERT INTO plugin_limits (name, limits) VALUES ($1, $2) \
                       ON CONFLICT (name) DO UPDATE SET limits = EXCLUDED.limits";
            client.execute(&client.prepare_cached(sql).await?, &[&name, &Json(&limits)]).await?;
        }
        self.announce(&client, Notice::Plugin { name: name.to_owned() }).await
    }
}
