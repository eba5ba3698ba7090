//! A plugin call's log: kept (bounded) for dry runs and hook errors, and
//! forwarded to `tracing` with the plugin's name.

use std::sync::Arc;

use serde::Serialize;

use super::bindings::host;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl From<host::Level> for LogLevel {
    fn from(level: host::Level) -> Self {
        match level {
            host::Level::Trace => LogLevel::Trace,
            host::Level::Debug => LogLevel::Debug,
            host::Level::Info => LogLevel::Info,
            host::Level::Warn => LogLevel::Warn,
            host::Level::Error => LogLevel::Error,
        }
    }
}

/// One line a plugin logged or printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    pub level: LogLevel,
    pub message: String,
}

/// The lines of one call, within a line and byte budget. Lines past the
/// budget are counted, not kept, so a chatty plugin cannot exhaust memory.
#[derive(Debug)]
pub(crate) struct LogBuffer {
    plugin: Arc<str>,
    lines: Vec<LogLine>,
    bytes: usize,
    dropped: usize,
    max_lines: usize,
    max_bytes: usize,
}

impl LogBuffer {
    pub(crate) fn new(plugin: Arc<str>, max_lines: usize, max_bytes: usize) -> Self {
        LogBuffer { plugin, lines: Vec::new(), bytes: 0, dropped: 0, max_lines, max_bytes }
    }

    /// A new buffer for the same plugin, with the same budget.
    pub(crate) fn empty_like(&self) -> Self {
        LogBuffer::new(self.plugin.clone(), self.max_lines, self.max_bytes)
    }

    pub(crate) fn push(&mut self, level: LogLevel, message: String) {
        if self.lines.len() >= self.max_lines || self.bytes + message.len() > self.max_bytes {
            self.dropped += 1;
            return;
        }
        let plugin = &*self.plugin;
        match level {
            LogLevel::Trace => tracing::trace!(plugin, message, "plugin log"),
            LogLevel::Debug => tracing::debug!(plugin, message, "plugin log"),
            LogLevel::Info => tracing::info!(plugin, message, "plugin log"),
            LogLevel::Warn => tracing::warn!(plugin, message, "plugin log"),
            LogLevel::Error => tracing::error!(plugin, message, "plugin log"),
        }
        self.bytes += message.len();
        self.lines.push(LogLine { level, message });
    }

    /// The kept lines, with a last line saying how many were dropped.
    pub(crate) fn finish(mut self) -> Vec<LogLine> {
        if self.dropped > 0 {
            let message = format!(
                "{} more log lines dropped (limit {} lines, {} bytes)",
                self.dropped, self.max_lines, self.max_bytes
            );
            self.lines.push(LogLine { level: LogLevel::Warn, message });
        }
        self.lines
    }
}
