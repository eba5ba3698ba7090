//! One-shot migrations of a store file written by an older wasmhook, run
//! when the store opens. A migration is a list of steps, each a function
//! over the write transaction that opens the store: all the steps a file
//! needs, and its new schema version, are committed together or not at
//! all, so a crash during a migration leaves the file as it was.
//!
//! To change the layout: bump `SCHEMA_VERSION` (`tables.rs`), add a module
//! here with the step's function, and list it in [`STEPS`] with the
//! version it brings the file to. Several steps may bring a file to the
//! same version; they run in the order listed. A file older than the
//! first step's version is refused, as is a file newer than this build.

mod v3_event_ids;
mod v4_payloads;

use std::time::Instant;

use redb::WriteTransaction;

use super::StoreError;
use super::tables::SCHEMA_VERSION;

/// One change of the layout.
struct Step {
    /// The version a file has once this step (and the others of the same
    /// version) ran.
    to: u32,
    /// What the step does, for the log.
    what: &'static str,
    run: fn(&WriteTransaction) -> Result<(), StoreError>,
}

/// Every step, in the order they run: one entry per line, grouped by the
/// version they bring a file to, so that a branch adding a step adds a
/// line (and a module) and touches nothing else.
const STEPS: &[Step] = &[
    // Version 3.
    Step { to: 3, what: "event ids scoped per academy (events and parked events)", run: v3_event_ids::migrate },
    Step { to: 3, what: "delivery queue indexed by hook", run: v3_queue_by_hook },
    Step { to: 3, what: "uses of stored components counted, unused ones deleted", run: v3_component_uses },
    // Version 4.
    Step { to: 4, what: "payloads stored once, jobs, attempts and samples refer to them", run: v4_payloads::migrate },
];

/// Builds the per-hook index of the delivery queue (see `queue.rs`).
fn v3_queue_by_hook(txn: &WriteTransaction) -> Result<(), StoreError> {
    let jobs = super::queue::backfill(txn)?;
    tracing::info!(jobs, "delivery queue indexed by hook");
    Ok(())
}

/// Counts the uses of components and the academies' usage (see
/// `recount.rs`): version 2 kept every component ever uploaded.
fn v3_component_uses(txn: &WriteTransaction) -> Result<(), StoreError> {
    let found = super::recount::recount(txn)?;
    tracing::info!(
        components = found.components,
        freed = found.freed,
        freed_bytes = found.freed_bytes,
        "counted the uses of stored components"
    );
    Ok(())
}

/// Whether a file of version `found` can be brought to this build's
/// version.
pub(super) fn can_migrate(found: u32) -> bool {
    let oldest = STEPS.iter().map(|step| step.to - 1).min().unwrap_or(SCHEMA_VERSION);
    (oldest..SCHEMA_VERSION).contains(&found)
}

/// Runs, inside `txn`, every step that brings a file of version `found`
/// to this build's version. The caller records the new version in the
/// same transaction.
pub(super) fn migrate(txn: &WriteTransaction, found: u32) -> Result<(), StoreError> {
    for step in STEPS.iter().filter(|step| step.to > found) {
        let started = Instant::now();
        (step.run)(txn)?;
        tracing::info!(
            from = found,
            to = step.to,
            step = step.what,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "store migration step done"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_steps_lead_to_this_version_in_order() {
        assert!(STEPS.windows(2).all(|pair| pair[0].to <= pair[1].to), "steps are listed by version");
        assert_eq!(STEPS.last().map(|step| step.to), Some(SCHEMA_VERSION), "a step brings files to this version");
        assert!(can_migrate(SCHEMA_VERSION - 1));
        assert!(!can_migrate(SCHEMA_VERSION), "the current version needs no migration");
        assert!(!can_migrate(1), "version 1 files predate the first step");
    }
}
