//! The schema: every table of the store, in one place, so the layout reads
//! as one design. Values are records encoded with serde (JSON, see
//! `codec.rs`); keys are chosen for the scans each table serves.
//!
//! Bump [`SCHEMA_VERSION`] whenever a key or record changes incompatibly,
//! and add the steps that bring a file of the previous version to it in
//! `migrate.rs`. A table whose key type changes gets a new name: redb
//! refuses to open a table under another key type.

use redb::TableDefinition;

/// Version of this layout, stored under [`meta::SCHEMA_VERSION_KEY`].
pub const SCHEMA_VERSION: u32 = 4;

/// Small named values: the schema version and id counters.
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

pub mod meta {
    pub const SCHEMA_VERSION_KEY: &str = "schema_version";
    pub const NEXT_HOOK_ID: &str = "next_hook_id";
    pub const NEXT_TOKEN_ID: &str = "next_token_id";
    pub const NEXT_JOB_ID: &str = "next_job_id";
    pub const NEXT_ATTEMPT_ID: &str = "next_attempt_id";
    pub const NEXT_ERROR_ID: &str = "next_error_id";
    /// Set once the custom header values that engines before sealing kept
    /// in attempt records are redacted (see `reseal.rs`); set at creation
    /// in a new store.
    pub const ATTEMPT_HEADERS_REDACTED: &str = "attempt_headers_redacted";
}

/// Hook id → `Hook`.
pub const HOOKS: TableDefinition<u64, &[u8]> = TableDefinition::new("hooks");

/// Hook id → `HookStats`: what its deliveries did. Apart from the hook, so
/// that recording an attempt does not rewrite the hook (nor invalidate the
/// in-memory index of hooks).
pub const HOOK_STATS: TableDefinition<u64, &[u8]> = TableDefinition::new("hook_stats");

/// Hook id → the payload id of the last body delivered to it (the hook's
/// sample), in `PAYLOADS`.
pub const HOOK_SAMPLES: TableDefinition<u64, &[u8]> = TableDefinition::new("hook_samples");

/// sha256 of a token → `TokenRecord`. Tokens themselves are never stored.
pub const TOKENS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("tokens");

/// Event name → catalogue entry added at run time.
pub const CATALOG: TableDefinition<&str, &[u8]> = TableDefinition::new("catalog");

/// (academy, event id) → the ingested event and its outcome (`StoredEvent`):
/// the idempotency record. Ids are scoped per academy: two academies may
/// use the same id for different events (version 2 keyed by id alone).
pub const EVENTS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("events_by_academy");

/// (due time in ms, job id) → delivery job, its payload by id
/// (`payloads::JobRow`): the queue, in due order.
pub const JOBS: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("jobs");

/// (hook id, due time in ms, job id): the queue again, each hook's jobs
/// together, so the dispatcher reads one hook's due jobs without walking
/// the others' (see `queue.rs`; written with `JOBS`).
pub const HOOK_JOBS: TableDefinition<(u64, u64, u64), ()> = TableDefinition::new("hook_jobs");

/// (due time in ms of a hook's earliest job, hook id): one entry per hook
/// with queued jobs, in the order the dispatcher serves them (`queue.rs`).
pub const HOOK_HEADS: TableDefinition<(u64, u64), ()> = TableDefinition::new("hook_heads");

/// (hook id, attempt id) → delivery attempt, its payloads by id
/// (`payloads::AttemptRow`): a hook's log, in order.
pub const ATTEMPTS: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("attempts");

/// (time in ms, error id) → hook error.
pub const HOOK_ERRORS: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("hook_errors");

/// Payload id (16 bytes, ordered by time) → its body: stored once however
/// many jobs, attempts and samples refer to it (see `payloads.rs`).
pub const PAYLOADS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("payloads");

/// Payload id → how many records refer to it; the body is deleted in the
/// transaction that drops its last reference.
pub const PAYLOAD_USES: TableDefinition<&[u8], u64> = TableDefinition::new("payload_uses");

/// (plugin name, version) → plugin version metadata.
pub const PLUGINS: TableDefinition<(&str, u32), &[u8]> = TableDefinition::new("plugins");

/// sha256 of a component → its bytes: stored once however many plugin
/// versions and hook transformers use it (see `blobs.rs`).
pub const PLUGIN_BLOBS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("plugin_blobs");

/// sha256 of a stored component → (its uses, its size in bytes). A use is a
/// plugin version or a hook's transformer; the component is deleted in the
/// transaction that drops its last use.
pub const BLOB_REFS: TableDefinition<&str, (u64, u64)> = TableDefinition::new("blob_refs");

/// Academy → (its hooks, the bytes of the transformer components they
/// use): what counts against its quotas, kept in step with the hooks by the
/// transactions that change them (see `usage.rs`).
pub const ACADEMY_USAGE: TableDefinition<&str, (u64, u64)> = TableDefinition::new("academy_usage");

/// (academy, sha256) → how many of the academy's hooks use that
/// transformer component: it counts once against the academy's bytes.
pub const ACADEMY_BLOBS: TableDefinition<(&str, &str), u64> = TableDefinition::new("academy_blobs");

/// Plugin name → the limits a superadmin gave it (`LimitOverrides`).
pub const PLUGIN_LIMITS: TableDefinition<&str, &[u8]> = TableDefinition::new("plugin_limits");

/// (plugin name, academy, event id) → an event its serializer failed, kept
/// to be ingested again once the plugin is fixed (`ParkedEvent`, see
/// `parked.rs`).
pub const PARKED: TableDefinition<(&str, &str, &str), &[u8]> = TableDefinition::new("parked_by_academy");

/// Plugin name → how many of its events are parked: the cap is checked on
/// every failure, without counting the table.
pub const PARKED_COUNTS: TableDefinition<&str, u64> = TableDefinition::new("parked_counts");
