//! API tokens, stored by their sha256: a copy of the database yields no
//! token. Every request authenticates, so a token once answered is kept in
//! memory (`store/token_cache.rs`), forgotten on revoke.

use async_trait::async_trait;
use tokio_postgres::Row;
use tokio_postgres::types::Json;

use super::super::StoreError;
use super::super::contract::Tokens;
use super::Postgres;
use super::notices::Notice;
use super::rows::{self, get, json, unsigned};
use crate::model::{Role, TokenRecord};
use crate::time::Time;

const COLUMNS: &str = "id, name, role, extract(epoch FROM created_at)::bigint AS created_at";

pub(super) fn token(row: &Row) -> Result<TokenRecord, StoreError> {
    const WHAT: &str = "token";
    Ok(TokenRecord {
        id: unsigned(row, "id", WHAT)?,
        name: get(row, "name", WHAT)?,
        role: json(row, "role", WHAT)?,
        created_at: rows::time(row, "created_at", WHAT)?,
    })
}

#[async_trait]
impl Tokens for Postgres {
    async fn create_token(&self, hash: [u8; 32], name: String, role: Role) -> Result<TokenRecord, StoreError> {
        let client = self.client().await?;
        let created_at = Time::now();
        let sql = "INSERT INTO tokens (sha256, name, role, created_at) VALUES ($1, $2, $3, to_timestamp($4::bigint)) \
                   RETURNING id";
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
            [&hash.as_slice(), &name, &Json(&role), &rows::seconds(created_at)];
        let row = client.query_one(&client.prepare_cached(sql).await?, &params).await?;
        let record = TokenRecord { id: unsigned(&row, "id", "token")?, name, role, created_at };
        tracing::info!(store = %self.location, token = record.id, "token created");
        Ok(record)
    }

    async fn token(&self, hash: [u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        if let Some(record) = self.tokens.get(&hash) {
            return Ok(Some(record));
        }
        let client = self.client().await?;
        let sql = format!("SELECT {COLUMNS} FROM tokens WHERE sha256 = $1");
        let Some(row) = client.query_opt(&client.prepare_cached(&sql).await?, &[&hash.as_slice()]).await? else {
            return Ok(None);
        };
        let record = token(&row)?;
        self.tokens.insert(hash, record.clone());
        Ok(Some(record))
    }

    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let client = self.client().await?;
        let sql = format!("SELECT {COLUMNS} FROM tokens ORDER BY id");
        client.query(&client.prepare_cached(&sql).await?, &[]).await?.iter().map(token).collect()
    }

    async fn revoke_token(&self, id: u64) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let sql = "DELETE FROM tokens WHERE id = $1";
        let deleted = client.execute(&client.prepare_cached(sql).await?, &[&rows::id(id)]).await?;
        self.tokens.clear();
        self.announce(&client, Notice::Tokens).await?;
        tracing::info!(store = %self.location, token = id, found = deleted == 1, "token revoked");
        Ok(deleted == 1)
    }
}
