//! Hook transformers, compiled once per component: every hook using the
//! same component (by sha256) shares one compiled plugin, which deliveries
//! and dry runs take from here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use super::{PluginsError, blocking};
use crate::runtime::{Runtime, TransformerPlugin};
use crate::store::Store;

pub struct Transformers {
    store: Arc<dyn Store>,
    runtime: Arc<Runtime>,
    /// One cell per component: the first delivery that needs it compiles
    /// it, the others wait for that compile rather than start their own (a
    /// new transformer on a busy hook has hundreds of deliveries waiting).
    /// A failed compile leaves the cell empty, for the next to try again.
    compiled: Mutex<HashMap<String, Arc<OnceCell<Arc<TransformerPlugin>>>>>,
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
        let cell =
            self.compiled.lock().unwrap_or_else(|e| e.into_inner()).entry(sha256.to_owned()).or_default().clone();
        let plugin = cell.get_or_try_init(|| self.compile(sha256)).await?;
        Ok(plugin.clone())
    }

    async fn compile(&self, sha256: &str) -> Result<Arc<TransformerPlugin>, PluginsError> {
        let bytes = self.store.plugin_blob(sha256).await?;
        let bytes = bytes.ok_or_else(|| PluginsError::NotFound { what: format!("Transformer component {sha256}") })?;
        let (runtime, label) = (self.runtime.clone(), format!("transformer-{sha256:.12}"));
        let loaded = blocking(move || runtime.load_transformer(&label, &bytes).map_err(|e| (label, e))).await?;
        loaded.map_err(|(label, source)| PluginsError::Broken { label, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Sha256;
    use crate::runtime::RuntimeConfig;
    use crate::store::tests::memory;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn deliveries_that_need_a_transformer_at_once_share_one_compile() {
        let store = memory();
        let wasm = crate::bundled::find("slack-transformer").unwrap().wasm.to_vec();
        let sha256 = hex::encode(Sha256::of(&wasm).0);
        store.add_plugin_version("slack", sha256.clone(), wasm).await.unwrap();
        let runtime = Arc::new(Runtime::new(RuntimeConfig::default()).unwrap());
        let transformers = Arc::new(Transformers::new(store, runtime));

        let gets: Vec<_> = (0..8)
            .map(|_| {
                let (transformers, sha256) = (transformers.clone(), sha256.clone());
                tokio::spawn(async move { transformers.get(&sha256).await.unwrap() })
            })
            .collect();
        let mut compiled = Vec::new();
        for get in gets {
            compiled.push(get.await.unwrap());
        }
        assert!(compiled.iter().all(|plugin| Arc::ptr_eq(plugin, &compiled[0])), "one compile, shared");
        let missing = transformers.get(&"0".repeat(64)).await;
        assert!(matches!(missing, Err(PluginsError::NotFound { .. })), "{:?}", missing.err());
    }
}
