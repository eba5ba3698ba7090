//! The tokens a backend has already answered, by hash: every API request
//! authenticates, and a read of the store each time showed in the profile
//! (redb) or would be a round trip to the server (PostgreSQL). Only hits
//! are cached, so unknown tokens cannot grow it; a revocation empties it.

use std::collections::HashMap;
use std::sync::RwLock;

use crate::model::TokenRecord;

#[derive(Default)]
pub(super) struct TokenCache(RwLock<HashMap<[u8; 32], TokenRecord>>);

impl TokenCache {
    pub(super) fn get(&self, hash: &[u8; 32]) -> Option<TokenRecord> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).get(hash).cloned()
    }

    pub(super) fn insert(&self, hash: [u8; 32], record: TokenRecord) {
        self.0.write().unwrap_or_else(|e| e.into_inner()).insert(hash, record);
    }

    pub(super) fn clear(&self) {
        self.0.write().unwrap_or_else(|e| e.into_inner()).clear();
    }
}
