use std::time::Duration;

/// What one plugin call may use. A call past any of these fails with a
/// [`PluginError`](super::PluginError); the engine goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time for instantiation plus the call, enforced by epoch
    /// interruption (precision: one [`EPOCH_TICK`](super::EPOCH_TICK)).
    pub deadline: Duration,
    /// Linear memory, in bytes. Growing past it traps.
    pub max_memory: u64,
    /// Size of the JSON handed to the plugin.
    pub max_input: usize,
    /// Size of the JSON the plugin hands back (all strings together).
    pub max_output: usize,
    /// Log lines kept per call (host `log` plus captured stdout/stderr).
    pub max_log_lines: usize,
    /// Bytes of log kept per call.
    pub max_log_bytes: usize,
}

impl Default for Limits {
    /// A serializer typically needs tens of microseconds and a few hundred
    /// KiB; these defaults leave two to three orders of magnitude of room.
    fn default() -> Self {
        Limits {
            deadline: Duration::from_millis(100),
            max_memory: 64 << 20,
            max_input: 1 << 20,
            max_output: 1 << 20,
            max_log_lines: 100,
            max_log_bytes: 16 << 10,
        }
    }
}
