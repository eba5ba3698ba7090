use std::time::Duration;

/// Why bytes could not become a plugin. Every variant is the uploader's
/// fault and maps to a 4xx answer.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("not a WebAssembly component: {0}")]
    NotAComponent(&'static str),
    #[error("the component is {size} bytes, over the {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
    #[error("the component failed to compile: {0}")]
    Compile(String),
    #[error("the component does not implement the `{expected}` world: {detail}")]
    WrongWorld { expected: &'static str, detail: String },
}

/// Why one plugin call failed. The call's logs are kept alongside (see
/// [`Call`](super::Call)), so a guest panic's message is not lost.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginError {
    #[error("the plugin returned an error: {0}")]
    Rejected(String),
    #[error("the plugin ran past its {0:?} deadline")]
    DeadlineExceeded(Duration),
    #[error("the plugin tried to use more than {0} bytes of memory")]
    MemoryLimit(u64),
    #[error("the plugin trapped: {0}")]
    Trap(String),
    #[error("the plugin's input is {size} bytes, over the {limit}-byte limit")]
    InputTooLarge { size: usize, limit: usize },
    #[error("the plugin's output is {size} bytes, over the {limit}-byte limit")]
    OutputTooLarge { size: usize, limit: usize },
    #[error("the plugin's output is invalid: {0}")]
    InvalidOutput(String),
    #[error("the plugin could not be instantiated: {0}")]
    Instantiate(String),
    #[error(
        "plugin {plugin} version {version} is switched off by its circuit breaker after {failures} consecutive \
         failures (trap, timeout or memory); calls resume in {} s, or when a version of it is uploaded or activated",
        .retry_in.as_secs().max(1)
    )]
    CircuitOpen { plugin: String, version: u32, failures: u32, retry_in: Duration },
}

impl PluginError {
    /// A failure of the plugin itself, which counts towards its circuit
    /// breaker: it trapped, ran out of time or memory. An error the plugin
    /// returned, or an input too large, is not one.
    pub fn is_fault(&self) -> bool {
        matches!(self, PluginError::Trap(_) | PluginError::DeadlineExceeded(_) | PluginError::MemoryLimit(_))
    }
}
