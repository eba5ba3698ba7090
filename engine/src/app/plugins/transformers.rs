//! Hook transformers, compiled once per component: every hook using the
//! same component (by sha256) shares one compiled plugin, which deliveries
//! and dry runs take from here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{PluginsError, blocking};
use crate::runtime::{Runtime, TransformerPlugin};
use crate::store::Store;

pub struct Transformers {
    store: Arc<dyn Store>,
    runtime: Arc<Runtime>,
    compiled: Mutex<HashMap<String, Arc<TransformerPlugin>>>,
}

impl Transformers {
    pub(super) fn new(store: Arc<dyn Store>, runtime: Arc<Runtime>) -> Transformers {
        Transformers { store, runtime, compiled: Mutex::default() }
    }

    /// Checks a component a hook is about to use: it compiles and
    /// implements `hook-transformer`. Nothing is kept.
    pub async fn check(&self, label: String, bytes: Vec<u8>) -> Result<(), PluginsError> {
        let runtime = self.runtime.clone();
        blocking(move || runtime.load_transformer(&label, &bytes)).await?.map_err(PluginsError::Rejected)?;
        Ok(())
    }

    /// The stored component `sha256`, compiled.
    pub async fn get(&self, sha256: &str) -> Result<Arc<TransformerPlugin>, PluginsError> {
        if let Some(plugin) = self.compiled.lock().unwrap_or_else(|e| e.into_inner()).get(sha256) {
            return Ok(plugin.clone());
        }
        let bytes = self.store.plugin_blob(sha256).await?;
        let bytes = bytes.ok_or_else(|| PluginsError::NotFound { what: format!("Transformer component {sha256}") })?;
        let (runtime, label) = (self.runtime.clone(), format!("transformer-{sha256:.12}"));
        let loaded = blocking(move || runtime.load_transformer(&label, &bytes).map_err(|e| (label, e))).await?;
        let plugin = loaded.map_err(|(label, source)| PluginsError::Broken { label, source })?;
        self.compiled.lock().unwrap_or_else(|e| e.into_inner()).insert(sha256.to_owned(), plugin.clone());
        Ok(plugin)
    }
}
