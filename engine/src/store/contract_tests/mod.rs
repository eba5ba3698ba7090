//! The contract's behaviour, as every backend must show it: each test is a
//! function over `&dyn Store` (no downcast, no backend type), run on every
//! backend by the thin wrappers at the bottom (one `#[tokio::test]` per
//! test and backend). A new backend adds its wrapper there.

pub(crate) mod deliveries;
pub(crate) mod events;
pub(crate) mod hooks;
pub(crate) mod plugins;
pub(crate) mod transfer;

use crate::model::{Hook, Job, Scope};
use crate::store::Store;
pub(crate) use crate::store::tests::attempt;
use crate::store::tests::job;
use crate::store::tests::new_hook;

pub(crate) fn academy(name: &str) -> Scope {
    Scope::Academy(name.into())
}

/// A hook of `academy` on event `e`, created without quotas.
pub(crate) async fn hook(store: &dyn Store, academy: Option<&str>) -> Hook {
    store.create_hook(new_hook(academy), Default::default()).await.unwrap()
}

/// Queues a job of `hook_id` due at `due_ms`; it, with its id.
pub(crate) async fn queued(store: &dyn Store, hook_id: u64, due_ms: u64) -> Job {
    let mut job = job(hook_id, due_ms);
    job.id = store.enqueue(vec![job.clone()]).await.unwrap()[0];
    job
}

/// Hands every contract test to `$run`, which makes a test of it on one
/// backend.
macro_rules! every_contract_test {
    ($run:ident) => {
        $run!(
            hooks::an_academy_sees_and_changes_only_its_own_hooks,
            hooks::a_selector_deletes_the_hooks_it_takes_with_their_stats_and_samples,
            hooks::a_quota_refusal_writes_nothing,
            hooks::a_reset_clears_the_stats_and_keeps_the_attempts,
            hooks::a_revoked_token_is_gone,
            hooks::catalogue_additions_replace_by_name,
            plugins::versions_are_numbered_per_name_and_one_is_active,
            plugins::a_component_is_stored_once_and_freed_with_its_last_use,
            events::a_known_id_answers_the_stored_record_and_a_conflict_writes_nothing,
            events::an_ingest_records_follow_ups_jobs_and_hook_errors_and_answers_the_top_event,
            events::parking_is_capped_per_plugin_and_unparks_only_unchanged_failures,
            events::concurrent_ingests_of_one_id_write_it_once_and_refuse_only_the_conflicting,
            deliveries::due_jobs_serve_the_longest_waiting_hook_first_within_its_room,
            deliveries::a_retry_moves_the_job_and_records_the_failure,
            deliveries::gone_deactivates_the_hook_and_ends_the_delivery,
            deliveries::consecutive_failures_deactivate_and_a_success_resets_them,
            deliveries::a_job_of_a_deleted_hook_is_only_dropped,
            deliveries::replays_are_queued_under_new_ids,
            deliveries::an_attempt_keeps_what_its_transformer_sent_beside_the_payload,
            deliveries::prune_deletes_old_records_and_keeps_jobs,
            transfer::an_export_carries_the_setup_and_every_queued_job,
        );
    };
}

/// The contract's tests on the memory store.
mod on_memory {
    macro_rules! on_memory {
        ($($module:ident :: $name:ident),* $(,)?) => {$(
            #[tokio::test]
            async fn $name() {
                super::$module::$name(&crate::store::memory::Memory::new()).await;
            }
        )*};
    }
    every_contract_test!(on_memory);
}

/// The contract's tests on a redb file.
mod on_redb {
    macro_rules! on_redb {
        ($($module:ident :: $name:ident),* $(,)?) => {$(
            #[tokio::test]
            async fn $name() {
                let dir = tempfile::tempdir().unwrap();
                let file = crate::store::RedbStore::open(dir.path(), crate::store::tests::keyring()).unwrap();
                super::$module::$name(&crate::store::Redb::new(file, &Default::default())).await;
            }
        )*};
    }
    every_contract_test!(on_redb);
}

/// The contract's tests on a PostgreSQL database of their own (skipped
/// with a notice when no server is given, see `postgres/testing.rs`).
mod on_postgres {
    macro_rules! on_postgres {
        ($($module:ident :: $name:ident),* $(,)?) => {$(
            #[tokio::test]
            async fn $name() {
                let Some(database) = crate::store::postgres::testing::database().await else { return };
                let store = database.open().await;
                super::$module::$name(&store).await;
                drop(store);
                database.remove().await;
            }
        )*};
    }
    every_contract_test!(on_postgres);
}
