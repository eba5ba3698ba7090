//! The plugin runtime: runs serializer and hook-transformer components in a
//! sandbox.
//!
//! As in Spin: one wasmtime [`Engine`] (component model, pooling allocator,
//! epoch interruption), one pre-linked component per plugin version (cached
//! in memory by content hash and on disk as a precompiled artifact), and a
//! fresh `Store` per call, so nothing a call leaves in guest memory is seen
//! by the next one, whichever academy it serves. Each call runs under a
//! deadline, a memory cap and size caps ([`Limits`]); whatever the guest
//! does, the caller gets a [`Call`] back and the engine goes on.

mod bindings;
mod cache;
mod error;
mod io;
mod limits;
mod log;
mod plugin;
mod state;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use wasmtime::component::{Component, InstancePre, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap};

pub use error::{LoadError, PluginError};
pub use io::{Call, Decision, Delivery, Event, FollowUp, Request};
pub use limits::Limits;
pub use log::{LogLevel, LogLine};
pub use plugin::{Digest, PluginInfo, SerializerPlugin, TransformerPlugin, World};

use bindings::serializer::{Serializer, SerializerPre};
use bindings::transformer::HookTransformerPre;
use cache::ArtifactCache;
use state::State;

/// Period of the epoch clock that enforces deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Linear memory each pooled slot keeps resident between calls. Resetting
/// a warm slot with `memset` is cheaper than faulting fresh zero pages in on
/// every call, which is most of what a fresh instance costs; the guest's
/// data is still wiped, so no state crosses calls.
const KEEP_RESIDENT: usize = 1 << 20;

/// How the runtime is set up.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Per-call limits.
    pub limits: Limits,
    /// Where precompiled components are cached; `None` compiles on every
    /// start.
    pub cache_dir: Option<PathBuf>,
    /// Largest component accepted, in bytes.
    pub max_component_size: usize,
    /// Plugin calls that may run at once (sizes the instance pool).
    pub max_concurrent_calls: u32,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            limits: Limits::default(),
            cache_dir: None,
            max_component_size: 16 << 20,
            max_concurrent_calls: 256,
        }
    }
}

/// Errors setting the runtime up (not caused by any plugin).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("cannot configure the WebAssembly engine: {0}")]
    Engine(String),
    #[error("cannot use the plugin cache directory {dir}: {source}")]
    Cache { dir: PathBuf, source: std::io::Error },
}

/// The plugin runtime. Shared by reference (`Arc`) between API handlers and
/// workers; every method takes `&self`.
pub struct Runtime {
    engine: Engine,
    linker: Linker<State>,
    cache: Option<ArtifactCache>,
    config: RuntimeConfig,
    deadline_ticks: u64,
    /// Compiled components by content hash: loading the same bytes twice
    /// (a rollback, a bundled plugin) compiles once.
    components: Mutex<HashMap<Digest, Component>>,
    /// The active serializer of each name. Swapping an entry is atomic;
    /// calls already running hold their own `Arc` and finish on it.
    serializers: RwLock<HashMap<String, Arc<SerializerPlugin>>>,
    ticker_stop: Arc<AtomicBool>,
}

impl Runtime {
    pub fn new(config: RuntimeConfig) -> Result<Runtime, SetupError> {
        let mut pool = PoolingAllocationConfig::new();
        let slots = config.max_concurrent_calls;
        pool.total_component_instances(slots)
            .total_core_instances(slots * 8)
            .total_memories(slots * 2)
            .total_tables(slots * 4)
            .max_memory_size(usize::try_from(config.limits.max_memory).unwrap_or(usize::MAX))
            .linear_memory_keep_resident(KEEP_RESIDENT)
            .table_keep_resident(KEEP_RESIDENT / 16);
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
        spawn_epoch_ticker(engine.clone(), ticker_stop.clone());
        let deadline_ticks = config.limits.deadline.as_nanos().div_ceil(EPOCH_TICK.as_nanos()).max(1) as u64;
        Ok(Runtime {
            engine,
            linker,
            cache,
            config,
            deadline_ticks,
            components: Mutex::default(),
            serializers: RwLock::default(),
            ticker_stop,
        })
    }

    /// The limits every call runs under.
    pub fn limits(&self) -> &Limits {
        &self.config.limits
    }

    /// Compiles (or finds) and validates a `serializer` component.
    pub fn load_serializer(&self, name: &str, bytes: &[u8]) -> Result<Arc<SerializerPlugin>, LoadError> {
        let (info, pre) = self.link(name, bytes, World::Serializer)?;
        let pre = SerializerPre::new(pre).map_err(|e| wrong_world(World::Serializer, e))?;
        Ok(Arc::new(SerializerPlugin { info, pre }))
    }

    /// Compiles (or finds) and validates a `hook-transformer` component.
    pub fn load_transformer(&self, name: &str, bytes: &[u8]) -> Result<Arc<TransformerPlugin>, LoadError> {
        let (info, pre) = self.link(name, bytes, World::HookTransformer)?;
        let pre = HookTransformerPre::new(pre).map_err(|e| wrong_world(World::HookTransformer, e))?;
        Ok(Arc::new(TransformerPlugin { info, pre }))
    }

    /// Makes `plugin` the active serializer called `name`; returns the one it
    /// replaces. Calls already running finish on the old one.
    pub fn activate(&self, name: &str, plugin: Arc<SerializerPlugin>) -> Option<Arc<SerializerPlugin>> {
        self.serializers.write().unwrap_or_else(|e| e.into_inner()).insert(name.to_owned(), plugin)
    }

    /// The active serializer called `name`.
    pub fn serializer(&self, name: &str) -> Option<Arc<SerializerPlugin>> {
        self.serializers.read().unwrap_or_else(|e| e.into_inner()).get(name).cloned()
    }

    /// Runs `plugin` on `event`.
    pub fn serialize(&self, plugin: &SerializerPlugin, event: &Event) -> Call<Decision> {
        let limits = self.config.limits;
        self.call((&plugin.info, &plugin.pre), event.size(), |store, pre| {
            let instance = pre.instantiate(&mut *store).map_err(|e| (e, CallStage::Instantiate))?;
            let output = instance.call_serialize(store, &event.into()).map_err(|e| (e, CallStage::Call))?;
            Ok(output.map(|d| io::decision(d, limits.max_output)))
        })
    }

    /// Runs `plugin` on the request for one delivery of event `event_name`.
    /// `Ok(None)`: the plugin cancelled the delivery.
    pub fn transform(&self, plugin: &TransformerPlugin, event_name: &str, request: &Request) -> Call<Option<Request>> {
        let limits = self.config.limits;
        self.call((&plugin.info, &plugin.pre), event_name.len() + request.size(), |store, pre| {
            let instance = pre.instantiate(&mut *store).map_err(|e| (e, CallStage::Instantiate))?;
            let output =
                instance.call_transform(store, event_name, &request.into()).map_err(|e| (e, CallStage::Call))?;
            Ok(output.map(|r| io::request(r, limits.max_output)))
        })
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

    /// One call in a fresh store: input cap, deadline, memory budget, then
    /// classification of whatever went wrong.
    fn call<P, T>(
        &self,
        (plugin, pre): (&PluginInfo, &P),
        input_size: usize,
        invoke: impl FnOnce(
            &mut Store<State>,
            &P,
        ) -> Result<Result<Result<T, PluginError>, String>, (wasmtime::Error, CallStage)>,
    ) -> Call<T> {
        let limits = &self.config.limits;
        let started = Instant::now();
        let mut store = Store::new(&self.engine, State::new(plugin.name.clone(), limits));
        store.limiter(|state| &mut state.memory);
        store.set_epoch_deadline(self.deadline_ticks);
        store.epoch_deadline_trap();

        let result = if input_size > limits.max_input {
            Err(PluginError::InputTooLarge { size: input_size, limit: limits.max_input })
        } else {
            match invoke(&mut store, pre) {
                Ok(Ok(output)) => output,
                Ok(Err(message)) => Err(PluginError::Rejected(message)),
                Err((error, stage)) => Err(classify(&error, stage, &store, limits)),
            }
        };
        let duration = started.elapsed();
        let state = store.into_data();
        let peak_memory = state.memory.peak;
        let logs = state.into_log().finish();
        if let Err(error) = &result {
            tracing::warn!(plugin = %plugin.name, digest = %plugin.digest, %error, "plugin call failed");
        }
        Call { result, logs, duration, peak_memory }
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

/// Advances the engine's epoch every [`EPOCH_TICK`] until `stop` is set.
fn spawn_epoch_ticker(engine: Engine, stop: Arc<AtomicBool>) {
    let weak = engine.weak();
    drop(engine);
    std::thread::Builder::new()
        .name("wasmhook-epoch".into())
        .spawn(move || {
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
