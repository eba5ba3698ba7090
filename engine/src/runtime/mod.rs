//! The plugin runtime: runs serializer and hook-transformer components in a
//! sandbox.
//!
//! As in Spin: one wasmtime [`Engine`] (component model, pooling allocator,
//! epoch interruption) and one pre-linked component per plugin version
//! (cached in memory by content hash and on disk as a precompiled artifact).
//! Each instance lives in a `Store` of its own and serves one academy only:
//! an instance that finished a call cleanly is reused for that academy's
//! next events (see `warm.rs`), so nothing a call leaves in guest memory is
//! seen by another tenant. Each call runs under a deadline, a memory cap and
//! size caps ([`Limits`]: the engine's defaults, or a plugin's own within
//! the operator's maxima); whatever the guest does, the caller gets a
//! [`Call`] back and the engine goes on. An activated serializer version
//! keeps metrics and a circuit breaker (`versions.rs`, `breaker.rs`), which
//! refuses its calls for a while after consecutive traps or timeouts.

mod bindings;
mod breaker;
mod cache;
mod capture;
mod error;
mod io;
mod limits;
mod log;
mod metrics;
mod plugin;
mod settings;
mod state;
mod versions;
mod warm;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use wasmtime::component::{Component, InstancePre, Linker};
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap};

pub use breaker::{BreakerConfig, BreakerView};
pub use error::{LoadError, PluginError};
pub use io::{Call, Decision, Delivery, Event, FollowUp, Request};
pub use limits::{LimitError, Limits};
pub use log::{LogLevel, LogLine};
pub use metrics::{BUCKETS_US, Bucket, CallObserver, MetricsView, ObserveCalls};
pub use plugin::{Digest, PluginInfo, SerializerPlugin, TransformerPlugin, World};
pub use settings::PluginSettings;
pub use versions::VersionHealth;

use crate::model::LimitOverrides;
use bindings::serializer::{Serializer, SerializerPre};
use bindings::transformer::{HookTransformer, HookTransformerPre};
use cache::ArtifactCache;
use state::State;
use versions::Registry;
use warm::{Warm, WarmKey, WarmPool};

/// Period of the epoch clock that enforces deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Bytes of a pool slot's linear memory reset in place (the rest, if
/// touched, is given back to the kernel): a bundled serializer's instance
/// touches well under this.
const KEEP_RESIDENT_MEMORY: usize = 4 << 20;
/// The same for a slot's tables.
const KEEP_RESIDENT_TABLE: usize = 64 << 10;

/// How the runtime is set up.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Per-call limits of plugins that set none of their own.
    pub limits: Limits,
    /// The most a plugin's own limits may ask for (the operator's maxima).
    pub max_limits: Limits,
    /// When a serializer version's circuit breaker opens.
    pub breaker: BreakerConfig,
    /// Where precompiled components are cached; `None` compiles on every
    /// start.
    pub cache_dir: Option<PathBuf>,
    /// Largest component accepted, in bytes.
    pub max_component_size: usize,
    /// Plugin calls that may run at once (sizes the instance pool, with
    /// the warm instances).
    pub max_concurrent_calls: u32,
    /// Idle instances kept for reuse by later events of the same academy
    /// (see `warm.rs`); 0 instantiates afresh for every call.
    pub warm_instances: usize,
    /// Where each version's calls are also reported (the engine's
    /// `/metrics`); `None`: only the runtime's own counters.
    pub observe_calls: Option<ObserveCalls>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            limits: Limits::default(),
            max_limits: Limits::default_maxima(),
            breaker: BreakerConfig::default(),
            cache_dir: None,
            max_component_size: 16 << 20,
            max_concurrent_calls: 256,
            warm_instances: 1024,
            observe_calls: None,
        }
    }
}

/// Errors setting the runtime up (not caused by any plugin).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("cannot configure the WebAssembly engine: {0}")]
    Engine(String),
    #[error("cannot use the plugin cache directory {dir}")]
    Cache { dir: PathBuf, source: std::io::Error },
}

/// The plugin runtime. Shared by reference (`Arc`) between API handlers and
/// workers; every method takes `&self`.
pub struct Runtime {
    engine: Engine,
    linker: Linker<State>,
    cache: Option<ArtifactCache>,
    config: RuntimeConfig,
    /// Compiled components by content hash: loading the same bytes twice
    /// (a rollback, a bundled plugin) compiles once.
    components: Mutex<HashMap<Digest, Component>>,
    /// The active serializer of each name. Swapping an entry is atomic;
    /// calls already running hold their own `Arc` and finish on it.
    serializers: RwLock<HashMap<String, Arc<SerializerPlugin>>>,
    /// Each plugin name's own limits, where a superadmin set some.
    plugin_limits: RwLock<HashMap<String, Limits>>,
    /// Metrics and breakers of the versions activated since start.
    versions: Registry,
    warm_serializers: WarmPool<Serializer>,
    warm_transformers: WarmPool<HookTransformer>,
    ticker_stop: Arc<AtomicBool>,
    /// Cleared when the epoch ticker thread ends: deadlines are no longer
    /// enforced.
    ticking: Arc<AtomicBool>,
}

impl Runtime {
    pub fn new(config: RuntimeConfig) -> Result<Runtime, SetupError> {
        let mut pool = PoolingAllocationConfig::new();
        // Idle instances hold their slots: the calls running get theirs
        // beside them (serializers and transformers are kept apart).
        let warm = u32::try_from(config.warm_instances.saturating_mul(2)).unwrap_or(u32::MAX);
        let slots = config.max_concurrent_calls.saturating_add(warm);
        pool.total_component_instances(slots)
            .total_core_instances(slots * 8)
            .total_memories(slots * 2)
            .total_tables(slots * 4)
            .max_memory_size(
                usize::try_from(config.max_limits.max_memory.max(config.limits.max_memory)).unwrap_or(usize::MAX),
            );
        if PoolingAllocationConfig::is_pagemap_scan_available() {
            // A slot given back is reset by rewriting only the pages its
            // instance touched (found with Linux's PAGEMAP_SCAN), which stay
            // mapped, instead of `madvise` dropping them: on two threads,
            // 1,000 academies in round robin (every call a fresh instance)
            // cost 128 → 40 µs a call (tests/benches/runtime.rs), as the
            // `madvise` and page faults of each reuse go. The slot still
            // comes back holding the module's initial image only, as
            // before: nothing of one instance is seen by the next.
            pool.pagemap_scan(Enabled::Yes)
                .linear_memory_keep_resident(KEEP_RESIDENT_MEMORY)
                .table_keep_resident(KEEP_RESIDENT_TABLE);
        }
        let mut wasm = Config::new();
        wasm.epoch_interruption(true).allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&wasm).map_err(|e| SetupError::Engine(format!("{e:#}")))?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| SetupError::Engine(format!("{e:#}")))?;
        Serializer::add_to_linker::<State, wasmtime::component::HasSelf<State>>(&mut linker, |state| state)
            .map_err(|e| SetupError::Engine(format!("{e:#}")))?;

        let cache = match &config.cache_dir {
            Some(dir) => Some(
                ArtifactCache::new(dir.clone(), &engine)
                    .map_err(|source| SetupError::Cache { dir: dir.clone(), source })?,
            ),
            None => None,
        };
        let ticker_stop = Arc::new(AtomicBool::new(false));
        let ticking = Arc::new(AtomicBool::new(true));
        spawn_epoch_ticker(engine.clone(), ticker_stop.clone(), ticking.clone());
        Ok(Runtime {
            engine,
            linker,
            cache,
            components: Mutex::default(),
            serializers: RwLock::default(),
            plugin_limits: RwLock::default(),
            versions: Registry::new(config.observe_calls),
            warm_serializers: WarmPool::new(config.warm_instances),
            warm_transformers: WarmPool::new(config.warm_instances),
            ticker_stop,
            ticking,
            config,
        })
    }

    /// Whether calls can run with their deadlines enforced: the epoch
    /// ticker is running.
    pub fn is_ready(&self) -> bool {
        self.ticking.load(Ordering::Relaxed)
    }

    /// The limits of calls of plugins with none of their own.
    pub fn limits(&self) -> &Limits {
        &self.config.limits
    }

    /// The most a plugin's own limits may ask for.
    pub fn max_limits(&self) -> &Limits {
        &self.config.max_limits
    }

    /// Compiles (or finds) and validates a `serializer` component.
    pub fn load_serializer(&self, name: &str, bytes: &[u8]) -> Result<Arc<SerializerPlugin>, LoadError> {
        let (info, pre) = self.link(name, bytes, World::Serializer)?;
        let pre = SerializerPre::new(pre).map_err(|e| wrong_world(World::Serializer, e))?;
        Ok(Arc::new(SerializerPlugin { info, pre, limits: self.config.limits, stats: None }))
    }

    /// Compiles (or finds) and validates a `hook-transformer` component.
    pub fn load_transformer(&self, name: &str, bytes: &[u8]) -> Result<Arc<TransformerPlugin>, LoadError> {
        let (info, pre) = self.link(name, bytes, World::HookTransformer)?;
        let pre = HookTransformerPre::new(pre).map_err(|e| wrong_world(World::HookTransformer, e))?;
        Ok(Arc::new(TransformerPlugin { info, pre }))
    }

    /// Makes `plugin`, version `version` of `name` (0: bundled), the active
    /// serializer called `name`, under the name's limits, with the version's
    /// metrics and a closed breaker. Calls already running finish on the
    /// version they started with.
    pub fn activate(&self, name: &str, version: u32, plugin: &SerializerPlugin) {
        let stats = self.versions.get(name, version);
        stats.breaker.reset();
        let active = Arc::new(plugin.rewrap(self.limits_of(name), Some(stats)));
        self.serializers.write().unwrap_or_else(|e| e.into_inner()).insert(name.to_owned(), active);
    }

    /// Forgets the serializer called `name`: its active version, limits and
    /// metrics (the plugin was deleted).
    pub fn remove(&self, name: &str) {
        self.serializers.write().unwrap_or_else(|e| e.into_inner()).remove(name);
        self.plugin_limits.write().unwrap_or_else(|e| e.into_inner()).remove(name);
        self.versions.forget(name);
    }

    /// Gives plugin `name` its own limits (`overrides` over the engine's
    /// defaults, within the operator's maxima), from its next call on.
    pub fn set_limits(&self, name: &str, overrides: &LimitOverrides) -> Result<Limits, LimitError> {
        let limits = self.config.limits.with(overrides, &self.config.max_limits)?;
        self.plugin_limits.write().unwrap_or_else(|e| e.into_inner()).insert(name.to_owned(), limits);
        let mut serializers = self.serializers.write().unwrap_or_else(|e| e.into_inner());
        if let Some(active) = serializers.get_mut(name) {
            *active = Arc::new(active.rewrap(limits, active.stats.clone()));
        }
        Ok(limits)
    }

    /// The limits calls of plugin `name` run under.
    pub fn limits_of(&self, name: &str) -> Limits {
        self.plugin_limits.read().unwrap_or_else(|e| e.into_inner()).get(name).copied().unwrap_or(self.config.limits)
    }

    /// `plugin` as a dry run calls it: under the limits of `name`, outside
    /// its metrics and breaker (a dry run neither trips nor is refused).
    pub fn for_dry_run(&self, name: &str, plugin: &SerializerPlugin) -> Arc<SerializerPlugin> {
        Arc::new(plugin.rewrap(self.limits_of(name), None))
    }

    /// The metrics and breaker of version `version` of `name`, if it was
    /// activated since start.
    pub fn health(&self, name: &str, version: u32) -> Option<VersionHealth> {
        self.versions.health(name, version)
    }

    /// Closes the breakers of every version of `name` (a version was
    /// uploaded: its author may have fixed what tripped them).
    pub fn reset_breakers(&self, name: &str) {
        self.versions.reset_breakers(name);
    }

    /// The active serializer called `name`.
    pub fn serializer(&self, name: &str) -> Option<Arc<SerializerPlugin>> {
        self.serializers.read().unwrap_or_else(|e| e.into_inner()).get(name).cloned()
    }

    /// Runs `plugin` on `event`, unless its breaker is open; counts the
    /// call in its version's metrics and breaker.
    pub fn serialize(&self, plugin: &SerializerPlugin, event: &Event) -> Call<Decision> {
        let Some(stats) = &plugin.stats else { return self.serialize_unmetered(plugin, event) };
        if let Err((retry_in, failures)) = stats.breaker.admit() {
            stats.metrics.record_refused();
            let error =
                PluginError::CircuitOpen { plugin: stats.name.clone(), version: stats.version, failures, retry_in };
            return Call { result: Err(error), logs: Vec::new(), duration: Duration::ZERO, peak_memory: 0 };
        }
        let call = self.serialize_unmetered(plugin, event);
        let fault = call.result.as_ref().err().is_some_and(PluginError::is_fault);
        stats.metrics.record(call.duration, call.result.is_err());
        stats.breaker.record(fault, &self.config.breaker);
        if fault && stats.breaker.admit().is_err() {
            tracing::warn!(plugin = %stats.name, version = stats.version, "circuit breaker open: calls refused for the cool-down");
        }
        call
    }

    fn serialize_unmetered(&self, plugin: &SerializerPlugin, event: &Event) -> Call<Decision> {
        let max_output = plugin.limits.max_output;
        let key = (plugin.info.digest, event.academy.clone());
        self.call(
            &self.warm_serializers,
            &plugin.info,
            &plugin.limits,
            key,
            event.size(),
            |store| plugin.pre.instantiate(store),
            |store, instance| {
                let output = instance.call_serialize(store, &event.into())?;
                Ok(output.map(|d| io::decision(d, max_output)))
            },
        )
    }

    /// Runs `plugin` on the request for one delivery of event `event_name`
    /// to a hook of `academy`. `Ok(None)`: the plugin cancelled the delivery.
    pub fn transform(
        &self,
        plugin: &TransformerPlugin,
        academy: Option<&str>,
        event_name: &str,
        request: &Request,
    ) -> Call<Option<Request>> {
        let max_output = self.config.limits.max_output;
        let key = (plugin.info.digest, academy.map(str::to_owned));
        let size = event_name.len() + request.size();
        self.call(
            &self.warm_transformers,
            &plugin.info,
            &self.config.limits,
            key,
            size,
            |store| plugin.pre.instantiate(store),
            |store, instance| {
                let output = instance.call_transform(store, event_name, &request.into())?;
                Ok(output.map(|r| io::request(r, max_output)))
            },
        )
    }

    /// Compiles `bytes` and links them against the host: a component that
    /// imports what the host does not offer is of another world.
    fn link(&self, name: &str, bytes: &[u8], world: World) -> Result<(PluginInfo, InstancePre<State>), LoadError> {
        let (digest, component) = self.compile(bytes)?;
        let pre = self.linker.instantiate_pre(&component).map_err(|e| wrong_world(world, e))?;
        Ok((PluginInfo { name: name.into(), digest, size: bytes.len(), world }, pre))
    }

    fn compile(&self, bytes: &[u8]) -> Result<(Digest, Component), LoadError> {
        let limit = self.config.max_component_size;
        if bytes.len() > limit {
            return Err(LoadError::TooLarge { size: bytes.len(), limit });
        }
        check_header(bytes)?;
        let digest = Digest::of(bytes);
        if let Some(component) = self.components.lock().unwrap_or_else(|e| e.into_inner()).get(&digest) {
            return Ok((digest, component.clone()));
        }
        let started = Instant::now();
        let component = match &self.cache {
            Some(cache) => cache.load_or_compile(&self.engine, &digest, bytes)?,
            None => Component::new(&self.engine, bytes).map_err(|e| LoadError::Compile(format!("{e:#}")))?,
        };
        tracing::debug!(%digest, size = bytes.len(), elapsed_us = started.elapsed().as_micros() as u64, "plugin component ready");
        self.components.lock().unwrap_or_else(|e| e.into_inner()).insert(digest, component.clone());
        Ok((digest, component))
    }

    /// One call: on a warm instance of the same plugin version and academy
    /// if one is idle, else on a new one; under the input cap, the deadline
    /// and the memory budget; with whatever went wrong classified.
    #[allow(clippy::too_many_arguments)]
    fn call<I, T>(
        &self,
        pool: &WarmPool<I>,
        plugin: &PluginInfo,
        limits: &Limits,
        key: WarmKey,
        input_size: usize,
        instantiate: impl FnOnce(&mut Store<State>) -> wasmtime::Result<I>,
        invoke: impl FnOnce(&mut Store<State>, &I) -> wasmtime::Result<Result<Result<T, PluginError>, String>>,
    ) -> Call<T> {
        let started = Instant::now();
        let deadline_ticks = limits.deadline.as_nanos().div_ceil(EPOCH_TICK.as_nanos()).max(1) as u64;
        if input_size > limits.max_input {
            let error = PluginError::InputTooLarge { size: input_size, limit: limits.max_input };
            return Call { result: Err(error), logs: Vec::new(), duration: started.elapsed(), peak_memory: 0 };
        }
        let mut warm = match pool.take(&key) {
            Some(warm) => warm,
            None => {
                let mut store = Store::new(&self.engine, State::new(plugin.name.clone(), limits));
                store.limiter(|state| &mut state.memory);
                store.epoch_deadline_trap();
                store.set_epoch_deadline(deadline_ticks);
                match instantiate(&mut store) {
                    Ok(instance) => Warm { store, instance },
                    Err(error) => {
                        let error = classify(&error, CallStage::Instantiate, &store, limits);
                        return finish(plugin, Err(error), store.data_mut().take_log(), started, 0);
                    }
                }
            }
        };
        warm.store.set_epoch_deadline(deadline_ticks);
        warm.store.data_mut().memory.limit = limits.max_memory;
        let outcome = invoke(&mut warm.store, &warm.instance);
        let logs = warm.store.data_mut().take_log();
        let peak_memory = warm.store.data().memory.peak;
        let result = match outcome {
            Ok(Ok(output)) => output,
            Ok(Err(message)) => Err(PluginError::Rejected(message)),
            Err(error) => {
                // A trapped instance cannot be entered again: drop it.
                let error = classify(&error, CallStage::Call, &warm.store, limits);
                return finish(plugin, Err(error), logs, started, peak_memory);
            }
        };
        pool.put(key, warm);
        finish(plugin, result, logs, started, peak_memory)
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

fn wrong_world(world: World, error: wasmtime::Error) -> LoadError {
    LoadError::WrongWorld { expected: world.wit_name(), detail: format!("{error:#}") }
}

fn finish<T>(
    plugin: &PluginInfo,
    result: Result<T, PluginError>,
    logs: Vec<LogLine>,
    started: Instant,
    peak_memory: u64,
) -> Call<T> {
    if let Err(error) = &result {
        tracing::warn!(plugin = %plugin.name, digest = %plugin.digest, %error, "plugin call failed");
    }
    Call { result, logs, duration: started.elapsed(), peak_memory }
}

/// Where a call failed, to tell a trap from an instantiation failure (such
/// as an exhausted instance pool).
#[derive(Debug, Clone, Copy)]
enum CallStage {
    Instantiate,
    Call,
}

fn classify(error: &wasmtime::Error, stage: CallStage, store: &Store<State>, limits: &Limits) -> PluginError {
    if store.data().memory.exceeded {
        return PluginError::MemoryLimit(limits.max_memory);
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => PluginError::DeadlineExceeded(limits.deadline),
        Some(trap) => PluginError::Trap(trap.to_string()),
        None => match stage {
            CallStage::Instantiate => PluginError::Instantiate(format!("{error:#}")),
            CallStage::Call => PluginError::Trap(format!("{error:#}")),
        },
    }
}

/// Rejects what is not a component before the compiler sees it, with a
/// message that says what it is instead.
fn check_header(bytes: &[u8]) -> Result<(), LoadError> {
    match bytes.get(..8) {
        Some([0, b'a', b's', b'm', _, _, 1, 0]) => Ok(()),
        Some([0, b'a', b's', b'm', _, _, 0, 0]) => Err(LoadError::NotAComponent(
            "this is a core WebAssembly module; build a component (cargo build --target wasm32-wasip2, or cargo component build)",
        )),
        _ => Err(LoadError::NotAComponent("the bytes do not start with the WebAssembly header")),
    }
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until `stop` is set;
/// clears `ticking` when it ends, however it ends.
fn spawn_epoch_ticker(engine: Engine, stop: Arc<AtomicBool>, ticking: Arc<AtomicBool>) {
    struct Ended(Arc<AtomicBool>);
    impl Drop for Ended {
        fn drop(&mut self) {
            self.0.store(false, Ordering::Relaxed);
        }
    }
    let weak = engine.weak();
    drop(engine);
    std::thread::Builder::new()
        .name("wasmhook-epoch".into())
        .spawn(move || {
            let _ended = Ended(ticking);
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        })
        .expect("spawn the epoch ticker thread");
}
