//! The domain model: the plain types every layer speaks — hooks, tokens and
//! scopes, events, delivery jobs and attempts, hook errors, plugin versions,
//! catalogue entries.
//!
//! This is the bottom layer: it knows no storage engine, no HTTP framework
//! and no plugin runtime. The store persists these types, the services
//! decide over them, and the API converts them to and from its own wire
//! types (`api::types`), so a change of wire format or of backend stays on
//! its side of the seam.

mod access;
mod catalog;
mod delivery;
mod event;
mod hex;
mod hook;
mod hook_index;
mod payload;
mod plugin;

pub use access::{Role, Scope, TokenRecord};
pub use catalog::{EventSpec, auto_register_default};
pub use delivery::{
    Attempt, AttemptOutcome, Deactivation, ENGINE_HEADERS, HookEffect, HookErrorRecord, Job, NextStep,
    SIGNATURE_HEADER, log_headers,
};
pub use event::{EventOutcome, EventRecord, IdConflict, IngestItem, ParkedEvent, ParkedKey, Seen, Sha256, StoredEvent};
pub use hook::{
    AttachedTransformer, Hook, HookChanges, HookSelector, HookSettings, HookStats, HttpMethod, MAX_TIMEOUT_SECS,
    NewHook, Place, PreviousSecret, Rotation,
};
pub use hook_index::HookIndex;
pub use payload::{Payload, PayloadId};
pub use plugin::{LimitOverrides, PluginLimits, PluginVersion};
