//! Wasmhook: a webhook engine whose per-event payload logic runs as
//! WebAssembly components.
//!
//! Data flows one way: API → ingest → plugin runtime → store → delivery →
//! receiver. This crate holds one module per concern.

pub mod activity;
pub mod api;
pub mod app;
pub mod auth;
pub mod backoff;
pub mod bundled;
pub mod catalog;
pub mod config;
pub mod connections;
pub mod console;
pub mod data_dir;
pub mod delivery;
pub mod headers;
pub mod ingest;
pub mod metrics;
pub mod model;
pub mod names;
pub mod public_url;
pub mod quota;
pub mod retention;
pub mod runtime;
pub mod secrets;
pub mod server;
pub mod store;
pub mod targets;
pub mod time;
pub mod units;
