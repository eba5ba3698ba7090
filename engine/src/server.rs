//! `wasmhook serve`, the composition root: from the one [`Config`] it is
//! given, it hands each module its settings and wires them together. It
//! opens the store, loads the catalogue and the plugins, and serves the API
//! (on connections guarded against stalling clients, see
//! [`crate::connections`]) until a shutdown signal; then stops accepting
//! requests, lets those in flight and the deliveries in flight finish
//! within the grace period, waits for pending commits and closes the store.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::api::{self, AppState, Shared};
use crate::app::catalog::CatalogService;
use crate::app::hooks::HookService;
use crate::app::plugins::{PluginService, PluginsError};
use crate::auth::token_hash;
use crate::catalog::{Catalog, CatalogFileError, EventDef, SharedCatalog, SpecError};
use crate::config::Config;
use crate::connections::{self, ConnectionActivity};
use crate::data_dir::DataDirError;
use crate::delivery::Dispatcher;
use crate::ingest::Ingest;
use crate::ingest::parked::Retrier;
use crate::quota::{self, RequestLimits};
use crate::runtime::{Runtime, RuntimeConfig, SetupError};
use crate::secrets::{KeyFileError, KeyId, LoadedKeys, OpenError};
use crate::store::{Backend, Postgres, Redb, RedbStore, Store, StoreError};

/// Why the server could not start (or stopped).
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    #[error(
        "the store's secrets are sealed with key {key_id}, but no key is configured (secret_key, \
         WASMHOOK_SECRET_KEY) and the key file {} is missing: restore it from the backup of this data directory, \
         or set WASMHOOK_SECRET_KEY to the key",
        key_file.display()
    )]
    MissingKey { key_id: KeyId, key_file: PathBuf },
    #[error(
        "the database's secrets are sealed with key {key_id}, but no key is configured (secret_key, \
         WASMHOOK_SECRET_KEY): every engine on one database needs the key it was sealed with; set \
         WASMHOOK_SECRET_KEY to it (the key of the engine that first used the database)"
    )]
    MissingDatabaseKey { key_id: KeyId },
    #[error("store = \"postgres\" needs the database's address: set postgres.url (WASMHOOK_POSTGRES_URL)")]
    NoPostgresUrl,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("catalogue")]
    Catalog(#[from] CatalogFileError),
    #[error("stored catalogue event {name:?} is invalid")]
    StoredEvent { name: String, source: SpecError },
    #[error("catalogue event {event:?} uses serializer {plugin:?}, which is not loaded")]
    MissingSerializer { event: String, plugin: String },
    #[error(transparent)]
    Runtime(#[from] SetupError),
    #[error(transparent)]
    Plugins(#[from] PluginsError),
    #[error("cannot listen on {addr}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("the server failed")]
    Serve(#[source] std::io::Error),
}

/// Everything the API and the workers need, ready. Runs outside the async
/// workers (`block_in_place`): it compiles plugins; it waits on the store's
/// answers with `block_on`.
pub fn prepare(config: &Config) -> Result<(AppState, Arc<Dispatcher>), ServeError> {
    // Before the runtime activates plugins, which registers their series.
    let metrics = crate::metrics::install();
    let store = open_store(config)?;
    let wait = tokio::runtime::Handle::current();

    let mut catalog = Catalog::load(config.catalog.as_deref().map(|path| (path, config.catalog_mode)))?;
    let additions = wait.block_on(store.catalog_additions())?;
    let additions = additions.into_iter().map(|spec| {
        let name = spec.name.clone();
        EventDef::derive(spec).map_err(|source| ServeError::StoredEvent { name, source })
    });
    catalog.extend(additions.collect::<Result<Vec<_>, _>>()?);

    let started = Instant::now();
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(config.data_dir.join("plugin-cache")),
        max_limits: config.plugins.max_limits(),
        breaker: config.plugins.breaker(),
        observe_calls: Some(crate::metrics::PluginSeries::observer),
        warm_instances: config.plugins.warm_instances,
        ..RuntimeConfig::default()
    })?;
    let runtime = Arc::new(runtime);
    let plugins = Arc::new(PluginService::new(store.clone(), runtime.clone()));
    wait.block_on(plugins.load_active())?;
    tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "plugins loaded");

    for event in catalog.iter() {
        if let Some(plugin) = &event.serializer
            && runtime.serializer(plugin).is_none()
        {
            return Err(ServeError::MissingSerializer { event: event.name.clone(), plugin: plugin.clone() });
        }
    }
    tracing::info!(events = catalog.len(), store = %store.location(), "catalogue loaded");

    let catalog = Arc::new(SharedCatalog::new(catalog));
    let queued = Arc::new(tokio::sync::Notify::new());
    let ingest = Arc::new(Ingest {
        store: store.clone(),
        runtime: runtime.clone(),
        catalog: catalog.clone(),
        queued: queued.clone(),
        webhooks_disabled: config.disable_webhooks,
    });
    let delivery = config.delivery();
    let targets = delivery.targets.clone();
    let dispatcher = Dispatcher::new(store.clone(), runtime.clone(), plugins.clone(), delivery, queued);
    let quotas = quota::Settings::new(&config.quotas, &config.rate_limits);
    let retrier = Retrier::new(ingest.clone());
    let catalog_service =
        Arc::new(CatalogService::new(store.clone(), runtime.clone(), catalog.clone(), retrier.clone()));
    let hooks = Arc::new(HookService::new(
        store.clone(),
        catalog.clone(),
        targets,
        quotas.stored,
        config.signing_secret_overlap,
    ));
    let state = AppState::new(Shared {
        catalog_service,
        hooks,
        store,
        runtime,
        plugins,
        catalog,
        admin_token: config.admin_token.as_ref().map(|token| token_hash(token.expose())),
        retrier,
        ingest,
        ready: Arc::new(AtomicBool::new(false)),
        metrics,
        quotas: quotas.stored,
        limits: Arc::new(RequestLimits::new(&quotas)),
        public_url: config.public_url.clone(),
        sender: dispatcher.sender(),
    });
    Ok((state, dispatcher))
}

/// The data directory made private, the keys in force, and the store
/// opened with them, its space guard and recovery watching it.
pub fn open_store(config: &Config) -> Result<Arc<dyn Store>, ServeError> {
    crate::data_dir::prepare(&config.data_dir)?;
    let keys = LoadedKeys::load(config.secret_key.as_ref(), &config.previous_secret_keys, &config.data_dir)?;
    let opened: Result<Arc<dyn Store>, StoreError> = match config.store {
        Backend::Redb => RedbStore::open(&config.data_dir, keys.keyring.clone()).map(|file| {
            let store = Redb::new(file, &config.redb);
            crate::store::watch(store.file(), config.storage.floor());
            Arc::new(store) as Arc<dyn Store>
        }),
        Backend::Postgres => {
            let settings = &config.postgres;
            let url = settings.url.as_ref().ok_or(ServeError::NoPostgresUrl)?;
            let connecting = Postgres::connect(url.expose(), settings, keys.keyring.clone());
            tokio::runtime::Handle::current().block_on(connecting).map(|store| Arc::new(store) as Arc<dyn Store>)
        }
    };
    match opened {
        Ok(store) => {
            keys.announce_generated();
            Ok(store)
        }
        Err(StoreError::Sealing { source: OpenError::UnknownKey { sealed_with, .. }, .. }) if keys.generated() => {
            let key_file = keys.forget_generated().unwrap_or_default();
            Err(match config.store {
                Backend::Redb => ServeError::MissingKey { key_id: sealed_with, key_file },
                Backend::Postgres => ServeError::MissingDatabaseKey { key_id: sealed_with },
            })
        }
        Err(error) => Err(error.into()),
    }
}

/// Serves the API of the engine [`prepare`]d from `config` until
/// `shutdown` completes, then shuts down gracefully (see the module's
/// documentation). Prints the address it listens on (port 0 picks a free
/// one) on standard output. Needs the multi-threaded runtime.
pub async fn serve(
    config: Config,
    (state, dispatcher): (AppState, Arc<Dispatcher>),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    if state.admin_token.is_none() {
        tracing::warn!("WASMHOOK_ADMIN_TOKEN is not set: only tokens created earlier can call the API");
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Bind { addr: config.listen, source })?;
    let addr = listener.local_addr().map_err(ServeError::Serve)?;
    let listener = connections::guarded(listener, &config.http, config.delivery.concurrency);
    let (store, ready) = (state.store.clone(), state.ready.clone());
    let delivering = tokio::spawn(dispatcher.clone().run());
    let pruning = tokio::spawn(crate::retention::prune_forever(store.clone(), config.retention_days));
    let retrying = tokio::spawn(state.retrier.clone().run());
    let following = tokio::spawn(crate::app::follow::follow(
        store.changes(),
        store.clone(),
        state.catalog.clone(),
        state.plugins.clone(),
    ));

    let stopping = CancellationToken::new();
    let mut app = api::router(state, config.http.body_timeout);
    if config.console {
        app = app.merge(crate::console::router());
    }
    let mut server = Box::pin(
        axum::serve(listener, app.into_make_service_with_connect_info::<ConnectionActivity>())
            .with_graceful_shutdown(stopping.clone().cancelled_owned())
            .into_future(),
    );
    ready.store(true, Ordering::Relaxed);
    println!("wasmhook listening on http://{addr}");
    tracing::info!(%addr, "listening");
    let failed = tokio::select! {
        result = &mut server => Some(result),
        () = shutdown => None,
    };

    // Shutting down: no new connections, no new deliveries.
    ready.store(false, Ordering::Relaxed);
    stopping.cancel();
    let grace = config.shutdown_grace;
    tracing::info!(
        grace_ms = grace.as_millis() as u64,
        "shutting down: finishing the requests and deliveries in flight"
    );
    let deadline = tokio::time::Instant::now() + grace;
    let ended = failed.is_some();
    let drained = async { ended || tokio::time::timeout_at(deadline, &mut server).await.is_ok() };
    let (drained, dropped) = tokio::join!(drained, dispatcher.shutdown(deadline));
    drop(server);
    if !drained {
        tracing::warn!("requests still in flight after the grace period are dropped");
    }
    if dropped > 0 {
        tracing::warn!(
            deliveries = dropped,
            "deliveries still in flight after the grace period are dropped: they stay queued and are sent after the next start"
        );
    }
    for task in [pruning, retrying, following] {
        task.abort();
        let _ = task.await;
    }
    let _ = delivering.await;
    drop(dispatcher);

    match tokio::time::timeout(Duration::from_secs(5), store.sync()).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::error!(%error, "the last commits failed"),
        Err(_) => tracing::error!("the last commits did not finish within 5 s"),
    }
    close(store).await;
    tracing::info!("stopped");
    match failed {
        Some(Err(error)) => Err(ServeError::Serve(error)),
        _ => Ok(()),
    }
}

/// Closes the store once nothing else holds it (dropping the last handle
/// closes it: for redb, its commit thread stops and the file is closed), so
/// the next start opens a cleanly closed file. Gives up after a while:
/// redb then recovers the file at the next start, as after a crash.
async fn close(store: Arc<dyn Store>) {
    for _ in 0..200 {
        if Arc::strong_count(&store) == 1 {
            tokio::task::block_in_place(|| drop(store));
            tracing::info!("store closed");
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tracing::warn!("the store is still in use after 2 s: it is left for the next start to recover");
}
