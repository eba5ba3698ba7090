//! Retention: events, delivery attempts and hook errors older than
//! `retention_days` are deleted, at start and every hour. A task of its own
//! so that the composition root (`server`) only starts it.

use std::sync::Arc;
use std::time::Duration;

use crate::store::Store;
use crate::time::Time;

/// Deletes records past the retention period, at start and every hour.
pub async fn prune_forever(store: Arc<dyn Store>, retention_days: u32) {
    let mut every_hour = tokio::time::interval(Duration::from_secs(3600));
    loop {
        every_hour.tick().await;
        let cutoff = Time::days_ago(retention_days);
        let store = store.clone();
        // A task of its own, so that a panic of the store's does not end
        // the loop.
        match tokio::spawn(async move { store.prune(cutoff).await }).await {
            Ok(Ok(pruned)) => {
                tracing::info!(events = pruned.events, attempts = pruned.attempts, hook_errors = pruned.hook_errors, %cutoff, "pruned old records")
            }
            Ok(Err(error)) => tracing::error!(%error, "pruning failed"),
            Err(error) => tracing::error!(%error, "pruning panicked"),
        }
    }
}
