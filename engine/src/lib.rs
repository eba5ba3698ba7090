//! Wasmhook: a webhook engine whose per-event payload logic runs as
//! WebAssembly components.
//!
//! Data flows one way: API → ingest → plugin runtime → store → delivery →
//! receiver. This crate holds one module per concern.

pub mod bundled;
pub mod runtime;
