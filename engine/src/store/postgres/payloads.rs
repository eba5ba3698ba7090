//! Payloads, stored once: `payloads` holds each body under its id (given
//! where it was made, `model::PayloadId`), and jobs, attempts (the event's
//! payload, and the body its hook's transformer made of it) and hook
//! samples refer to it. redb counts the references (`redb/payloads.rs`);
//! here the referencing columns are indexed and a write that drops
//! references deletes the bodies among them that nothing refers to any
//! more, in its own transaction (`NOT EXISTS`): no count to keep in step.

use std::collections::HashSet;

use deadpool_postgres::GenericClient;

use super::super::StoreError;
use super::rows::uuid;
use crate::model::Payload;

/// Writes the bodies of `payloads` not stored yet, in one statement; a
/// payload given twice is written once.
pub(super) async fn store<'a>(
    txn: &impl GenericClient,
    payloads: impl IntoIterator<Item = &'a Payload>,
) -> Result<(), StoreError> {
    let mut seen = HashSet::new();
    let (mut ids, mut bodies) = (Vec::new(), Vec::new());
    for payload in payloads {
        if seen.insert(payload.id()) {
            ids.push(uuid(payload.id()));
            bodies.push(payload.body());
        }
    }
    if ids.is_empty() {
        return Ok(());
    }
    let sql =
        "INSERT INTO payloads (id, body) SELECT * FROM unnest($1::uuid[], $2::text[]) ON CONFLICT (id) DO NOTHING";
    txn.execute(&txn.prepare_cached(sql).await?, &[&ids, &bodies]).await?;
    Ok(())
}

/// Deletes the payloads among `ids` that no job, attempt or hook sample
/// refers to any more: called by every write that drops references, with
/// the ids it dropped.
pub(super) async fn free(txn: &impl GenericClient, ids: &[uuid::Uuid]) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    let sql = "DELETE FROM payloads p WHERE p.id = ANY($1) \
               AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.payload_id = p.id) \
               AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.payload_id = p.id) \
               AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.transformed_id = p.id) \
               AND NOT EXISTS (SELECT 1 FROM hook_samples s WHERE s.payload_id = p.id)";
    let freed = txn.execute(&txn.prepare_cached(sql).await?, &[&ids]).await?;
    tracing::trace!(dropped = ids.len(), freed, "payloads freed");
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::model::{AttemptOutcome, Deactivation, HookSelector, Job, NextStep, Payload, Scope};
    use crate::store::contract_tests::events::{item, judge};
    use crate::store::contract_tests::{attempt, hook};
    use crate::store::postgres::{Postgres, testing};
    use crate::store::tests::queued_jobs;
    use crate::store::{Deliveries, Events, Hooks};
    use crate::time::Time;

    /// Every stored body, sorted.
    async fn stored(store: &Postgres) -> Vec<String> {
        let client = store.client().await.unwrap();
        let rows = client.query("SELECT body FROM payloads ORDER BY body", &[]).await.unwrap();
        rows.iter().map(|row| row.get("body")).collect()
    }

    #[tokio::test]
    async fn a_payload_is_stored_once_and_deleted_with_its_last_reference() {
        let Some(database) = testing::database().await else { return };
        let store = database.open().await;
        let hooks = [hook(&store, Some("a")).await, hook(&store, None).await];
        let mut event = item(0, "e1", 1, Vec::new());
        let payload = Payload::new(r#"{"event":1}"#);
        let job = |hook_id| Job { hook_id, payload: payload.clone(), ..event.events[0].1[0].clone() };
        event.events[0].1 = hooks.iter().map(|hook| job(hook.id)).collect();
        store.record_ingest(vec![event], judge(), 10).await.unwrap().unwrap();
        let p = payload.body();
        assert_eq!(stored(&store).await, [p], "one body for both jobs");

        let mut jobs = queued_jobs(&store).await;
        jobs.sort_by_key(|job| job.hook_id);
        let mut made = attempt(&jobs[0], AttemptOutcome::Succeeded, Some(200), Time::now());
        made.transformed = Some(Payload::new(r#"{"made":1}"#));
        store.record_attempt(jobs[0].clone(), made, NextStep::Finish, Deactivation::NEVER).await.unwrap();
        let failed = attempt(&jobs[1], AttemptOutcome::Failed, Some(500), Time::now());
        let retry = NextStep::Retry { due_ms: 5000 };
        store.record_attempt(jobs[1].clone(), failed, retry, Deactivation::NEVER).await.unwrap();
        let t = r#"{"made":1}"#;
        assert_eq!(stored(&store).await, [p, t]);

        // The attempts pruned: the sample (t) and the retry (p) keep theirs.
        let later = Time::from_second(Time::now().as_second() + 60);
        assert_eq!(store.prune(later).await.unwrap().attempts, 2);
        assert_eq!(stored(&store).await, [p, t]);
        let retrying = queued_jobs(&store).await.remove(0);
        store.drop_job(retrying).await.unwrap();
        assert_eq!(stored(&store).await, [t], "p is deleted with its last reference");
        store.delete_hooks(&Scope::All, &HookSelector::default()).await.unwrap();
        assert!(stored(&store).await.is_empty(), "nothing refers to them any more");
        drop(store);
        database.remove().await;
    }
}
