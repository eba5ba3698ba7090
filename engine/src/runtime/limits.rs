use std::time::Duration;

use crate::model::LimitOverrides;

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

impl Limits {
    /// The most an operator lets any plugin be given by default: ten times
    /// the default deadline, four times the memory and sizes.
    pub fn default_maxima() -> Limits {
        let base = Limits::default();
        Limits {
            deadline: base.deadline * 10,
            max_memory: base.max_memory * 4,
            max_input: base.max_input * 4,
            max_output: base.max_output * 4,
            ..base
        }
    }

    /// These limits with `overrides` applied, if every override is within
    /// `maxima`.
    pub fn with(&self, overrides: &LimitOverrides, maxima: &Limits) -> Result<Limits, LimitError> {
        fn check<T: PartialOrd + Copy + std::fmt::Debug>(
            field: &'static str,
            value: Option<T>,
            default: T,
            maximum: T,
        ) -> Result<T, LimitError> {
            match value {
                Some(value) if value > maximum => {
                    Err(LimitError { field, value: format!("{value:?}"), maximum: format!("{maximum:?}") })
                }
                Some(value) => Ok(value),
                None => Ok(default),
            }
        }
        let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let deadline_ms = check("deadline_ms", overrides.deadline_ms, millis(self.deadline), millis(maxima.deadline))?;
        Ok(Limits {
            deadline: Duration::from_millis(deadline_ms.max(1)),
            max_memory: check("max_memory", overrides.max_memory, self.max_memory, maxima.max_memory)?,
            max_input: check("max_input", overrides.max_input, self.max_input, maxima.max_input)?,
            max_output: check("max_output", overrides.max_output, self.max_output, maxima.max_output)?,
            ..*self
        })
    }
}

/// A per-plugin limit above what the operator allows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {value} is over the operator's maximum of {maximum}")]
pub struct LimitError {
    pub field: &'static str,
    pub value: String,
    pub maximum: String,
}
