//! API tokens, stored by their sha256: a stolen store file yields no token.

use redb::ReadableTable;

use super::codec::{decode, encode};
use super::tables::{TOKENS, meta};
use super::{RedbStore, StoreError, next_id};
use crate::model::{Role, TokenRecord};
use crate::time::Time;

impl RedbStore {
    /// Stores a token by its hash.
    pub fn create_token(&self, hash: &[u8; 32], name: String, role: Role) -> Result<TokenRecord, StoreError> {
        let txn = self.db.begin_write()?;
        let record = TokenRecord { id: next_id(&txn, meta::NEXT_TOKEN_ID)?, name, role, created_at: Time::now() };
        txn.open_table(TOKENS)?.insert(hash.as_slice(), encode(&record).as_slice())?;
        txn.commit()?;
        Ok(record)
    }

    /// The token whose hash is `hash`.
    pub fn token(&self, hash: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        if let Some(record) = self.tokens.get(hash) {
            return Ok(Some(record));
        }
        let txn = self.db.begin_read()?;
        let table = txn.open_table(TOKENS)?;
        let Some(bytes) = table.get(hash.as_slice())? else { return Ok(None) };
        let record: TokenRecord = decode("token", bytes.value())?;
        self.tokens.insert(*hash, record.clone());
        Ok(Some(record))
    }

    /// Every token, by creation.
    pub fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let mut tokens: Vec<TokenRecord> = self.scan(TOKENS, "token")?;
        tokens.sort_by_key(|t| t.id);
        Ok(tokens)
    }

    /// Every token with its hash, by creation.
    pub fn tokens_with_hashes(&self) -> Result<Vec<([u8; 32], TokenRecord)>, StoreError> {
        let txn = self.db.begin_read()?;
        let mut tokens = Vec::new();
        for entry in txn.open_table(TOKENS)?.iter()? {
            let (key, bytes) = entry?;
            let hash = key.value().try_into().map_err(|_| StoreError::Corrupt {
                what: "token",
                message: format!("a token's key is {} bytes, not a sha256", key.value().len()),
            })?;
            tokens.push((hash, decode("token", bytes.value())?));
        }
        tokens.sort_by_key(|(_, token): &([u8; 32], TokenRecord)| token.id);
        Ok(tokens)
    }

    /// Revokes (deletes) token `id`; whether it existed.
    pub fn revoke_token(&self, id: u64) -> Result<bool, StoreError> {
        let txn = self.db.begin_write()?;
        let found = {
            let mut table = txn.open_table(TOKENS)?;
            let mut hash = None;
            for entry in table.iter()? {
                let (key, bytes) = entry?;
                if decode::<TokenRecord>("token", bytes.value())?.id == id {
                    hash = Some(key.value().to_vec());
                    break;
                }
            }
            match hash {
                Some(hash) => table.remove(hash.as_slice())?.is_some(),
                None => false,
            }
        };
        txn.commit()?;
        self.tokens.clear();
        Ok(found)
    }
}
