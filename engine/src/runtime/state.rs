//! What a plugin's `Store` holds: a WASI context that grants nothing, the
//! memory budget, and the current call's log.

use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::Limits;
use super::bindings::{host, types};
use super::capture::CapturedOutput;
use super::log::{LogBuffer, LogLevel, LogLine};

pub(crate) struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) memory: MemoryBudget,
    log: LogBuffer,
    stdout: CapturedOutput,
    stderr: CapturedOutput,
}

impl State {
    /// A fresh state for an instance of plugin `plugin`.
    ///
    /// Rust's `std` for wasm32-wasip2 imports WASI, so the interfaces are
    /// linked, but the context behind them grants nothing: no environment,
    /// arguments, files or sockets; clocks stopped at the epoch; randomness
    /// from a fixed seed. Standard output and error are captured into the
    /// call's log (a guest panic writes its message there).
    pub(crate) fn new(plugin: Arc<str>, limits: &Limits) -> State {
        let stdout = CapturedOutput::new(limits.max_log_bytes);
        let stderr = CapturedOutput::new(limits.max_log_bytes);
        let wasi = WasiCtxBuilder::new()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .wall_clock(StoppedClock)
            .monotonic_clock(StoppedClock)
            .secure_random(StdRng::seed_from_u64(0))
            .insecure_random(StdRng::seed_from_u64(0))
            .insecure_random_seed(0)
            .build();
        State {
            wasi,
            table: ResourceTable::new(),
            memory: MemoryBudget::new(limits.max_memory),
            log: LogBuffer::new(plugin, limits.max_log_lines, limits.max_log_bytes),
            stdout,
            stderr,
        }
    }

    /// Ends the current call: its log, with whatever the guest printed
    /// appended, and an empty log for the next call on this instance.
    pub(crate) fn take_log(&mut self) -> Vec<LogLine> {
        for (output, level) in [(&self.stdout, LogLevel::Info), (&self.stderr, LogLevel::Warn)] {
            let printed = output.drain();
            for line in String::from_utf8_lossy(&printed).lines().filter(|l| !l.is_empty()) {
                self.log.push(level, line.to_owned());
            }
        }
        let next = self.log.empty_like();
        std::mem::replace(&mut self.log, next).finish()
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl host::Host for State {
    fn log(&mut self, level: host::Level, message: String) {
        self.log.push(level.into(), message);
    }
}

impl types::Host for State {}

/// Enforces [`Limits::max_memory`] and remembers the peak, which dry runs
/// report. Growth past the budget traps (rather than returning -1 to the
/// guest, whose allocator would abort anyway) and is remembered, so the
/// trap is reported as a memory limit and not a generic trap.
pub(crate) struct MemoryBudget {
    /// Set again before each call: a warm instance may serve a plugin name
    /// whose limits changed since (same component, other limits).
    pub(crate) limit: u64,
    pub(crate) peak: u64,
    pub(crate) exceeded: bool,
}

impl MemoryBudget {
    fn new(limit: u64) -> Self {
        MemoryBudget { limit, peak: 0, exceeded: false }
    }
}

impl ResourceLimiter for MemoryBudget {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let desired = desired as u64;
        if desired > self.limit {
            self.exceeded = true;
            wasmtime::bail!("memory limit of {} bytes exceeded", self.limit);
        }
        self.peak = self.peak.max(desired);
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// A clock that always reads zero: plugins are functions of their input.
struct StoppedClock;

impl HostWallClock for StoppedClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for StoppedClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}
