//! Catalogue events added or changed at run time, kept whole (`jsonb`): a
//! stored event replaces one of the same name from the files.

use async_trait::async_trait;
use tokio_postgres::types::Json;

use super::super::StoreError;
use super::super::contract::{Catalog, Store};
use super::Postgres;
use super::notices::Notice;
use super::rows::json;
use crate::model::EventSpec;

#[async_trait]
impl Catalog for Postgres {
    async fn catalog_additions(&self) -> Result<Vec<EventSpec>, StoreError> {
        let client = self.client().await?;
        let sql = "SELECT spec FROM catalog_events ORDER BY name";
        let rows = client.query(&client.prepare_cached(sql).await?, &[]).await?;
        rows.iter().map(|row| json(row, "spec", "catalogue event")).collect()
    }

    async fn save_catalog_event(&self, spec: EventSpec) -> Result<(), StoreError> {
        self.room()?;
        let client = self.client().await?;
        let sql = "INSERT INTO catalog_events (name, spec) VALUES ($1, $2) \
                   ON CONFLICT (name) DO UPDATE SET spec = EXCLUDED.spec";
        client.execute(&client.prepare_cached(sql).await?, &[&spec.name, &Json(&spec)]).await?;
        self.announce(&client, Notice::Catalog).await?;
        tracing::info!(store = %self.location, event = %spec.name, "catalogue event saved");
        Ok(())
    }
}
