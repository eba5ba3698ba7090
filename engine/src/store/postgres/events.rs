//! Ingests, all or nothing, and parked events, at most a cap per plugin.
//!
//! Ingests are written in groups (`ingests.rs`), with the statements
//! here: the client ids they carry are locked (advisory, per academy and
//! id) before their stored records are read and judged
//! (`store/judging.rs`), so two requests with one id cannot both be new;
//! then their events, payloads, jobs, hook errors and parked events are
//! written, several rows per statement.

use std::collections::HashMap;

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::types::Json;

use super::super::StoreError;
use super::super::contract::{Events, Judge};
use super::ingests::Ingesting;
use super::rows::{self, get, json, unsigned, unsigned32};
use super::{Lock, Postgres};
use crate::model::{EventRecord, HookErrorRecord, IdConflict, IngestItem, ParkedEvent, ParkedKey, StoredEvent};

/// The key a client event id is locked under: its academy and id.
pub(super) fn id_key(academy: &str, id: &str) -> String {
    format!("{academy}\n{id}")
}

/// The stored records of the (academy, id) pairs `keys`.
pub(super) async fn stored(
    txn: &impl GenericClient,
    keys: &[(String, String)],
) -> Result<HashMap<(String, String), StoredEvent>, StoreError> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let (academies, ids): (Vec<&str>, Vec<&str>) = keys.iter().map(|(a, i)| (a.as_str(), i.as_str())).unzip();
    let sql = "SELECT e.academy, e.event_id, e.record FROM events e \
               JOIN unnest($1::text[], $2::text[]) AS k (academy, event_id) \
               ON e.academy = k.academy AND e.event_id = k.event_id";
    let rows = txn.query(&txn.prepare_cached(sql).await?, &[&academies, &ids]).await?;
    rows.iter()
        .map(|row| Ok(((get(row, "academy", "event")?, get(row, "event_id", "event")?), json(row, "record", "event")?)))
        .collect()
}

/// Writes `events` (over a stored record of the same id: a re-run replaces
/// a failed record), in one statement; of one id given twice, the last.
pub(super) async fn insert_events(txn: &impl GenericClient, events: &[&StoredEvent]) -> Result<(), StoreError> {
    let mut latest: HashMap<(&str, &str), &StoredEvent> = HashMap::new();
    let mut order = Vec::new();
    for event in events {
        let key = (event.record.academy.as_str(), event.record.id.as_str());
        if latest.insert(key, event).is_none() {
            order.push(key);
        }
    }
    let events: Vec<&StoredEvent> = order.iter().map(|key| latest[key]).collect();
    let academies: Vec<&str> = events.iter().map(|e| e.record.academy.as_str()).collect();
    let ids: Vec<&str> = events.iter().map(|e| e.record.id.as_str()).collect();
    let received: Vec<i64> = events.iter().map(|e| rows::seconds(e.record.received_at)).collect();
    let records: Vec<Json<&StoredEvent>> = events.iter().map(|e| Json(*e)).collect();
    let sql = "INSERT INTO events (academy, event_id, received_at, record) \
               SELECT a, i, to_timestamp(r), j FROM unnest($1::text[], $2::text[], $3::bigint[], $4::jsonb[]) \
               AS e (a, i, r, j) \
               ON CONFLICT (academy, event_id) DO UPDATE SET received_at = EXCLUDED.received_at, record = EXCLUDED.record";
    txn.execute(&txn.prepare_cached(sql).await?, &[&academies, &ids, &received, &records]).await?;
    Ok(())
}

/// Records hook errors, in one statement, their ids in the order given.
pub(super) async fn insert_hook_errors(txn: &impl GenericClient, errors: &[HookErrorRecord]) -> Result<(), StoreError> {
    if errors.is_empty() {
        return Ok(());
    }
    let at: Vec<i64> = errors.iter().map(|e| rows::seconds(e.at)).collect();
    let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
    let events: Vec<&str> = errors.iter().map(|e| e.event.as_str()).collect();
    let event_ids: Vec<Option<&str>> = errors.iter().map(|e| e.event_id.as_deref()).collect();
    let hook_ids: Vec<Option<i64>> = errors.iter().map(|e| e.hook_id.map(rows::id)).collect();
    let academies: Vec<Option<&str>> = errors.iter().map(|e| e.academy.as_deref()).collect();
    let sql = "INSERT INTO hook_errors (at, message, event, event_id, hook_id, academy) \
               SELECT to_timestamp(t), m, e, i, h, a \
               FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[]) \
               WITH ORDINALITY AS r (t, m, e, i, h, a, n) ORDER BY n";
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] =
        [&at, &messages, &events, &event_ids, &hook_ids, &academies];
    txn.execute(&txn.prepare_cached(sql).await?, &params).await?;
    Ok(())
}

/// What [`park`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Parking {
    Parked,
    /// The plugin already has `cap` events parked.
    Full,
}

/// Parks `event` under its plugin: a new entry unless the plugin has `cap`
/// already, or the entry of the same event with one more failure.
pub(super) async fn park(txn: &impl GenericClient, event: &ParkedEvent, cap: u64) -> Result<Parking, StoreError> {
    Lock::Parking.take(txn, &[event.plugin.as_str()]).await?;
    let sql = "SELECT count(*) AS parked FROM parked_events WHERE plugin = $1";
    let parked: u64 =
        unsigned(&txn.query_one(&txn.prepare_cached(sql).await?, &[&event.plugin]).await?, "parked", "parked")?;
    // Past the cap only a new entry is refused: a known one counts one
    // more failure.
    let sql = "INSERT INTO parked_events (plugin, academy, event_id, event, data, error, parked_at, failures) \
               SELECT $1, $2, $3, $4, $5, $6, to_timestamp($7::bigint), 1 \
               WHERE $8 OR EXISTS (SELECT 1 FROM parked_events WHERE plugin = $1 AND academy = $2 AND event_id = $3) \
               ON CONFLICT (plugin, academy, event_id) DO UPDATE SET event = EXCLUDED.event, data = EXCLUDED.data, \
               error = EXCLUDED.error, parked_at = EXCLUDED.parked_at, failures = parked_events.failures + 1";
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 8] = [
        &event.plugin,
        &event.academy,
        &event.event_id,
        &event.event,
        &event.data,
        &event.error,
        &rows::seconds(event.parked_at),
        &(parked < cap),
    ];
    let written = txn.execute(&txn.prepare_cached(sql).await?, &params).await?;
    Ok(if written == 1 { Parking::Parked } else { Parking::Full })
}

const PARKED_COLUMNS: &str =
    "plugin, academy, event_id, event, data, error, extract(epoch FROM parked_at)::bigint AS parked_at, failures";

fn parked_event(row: &Row) -> Result<ParkedEvent, StoreError> {
    const WHAT: &str = "parked event";
    Ok(ParkedEvent {
        event_id: get(row, "event_id", WHAT)?,
        event: get(row, "event", WHAT)?,
        academy: get(row, "academy", WHAT)?,
        data: get(row, "data", WHAT)?,
        plugin: get(row, "plugin", WHAT)?,
        error: get(row, "error", WHAT)?,
        parked_at: rows::time(row, "parked_at", WHAT)?,
        failures: unsigned32(row, "failures", WHAT)?,
    })
}

#[async_trait]
impl Events for Postgres {
    async fn record_ingest(
        &self,
        items: Vec<IngestItem>,
        judge: Judge,
        park_cap: u64,
    ) -> Result<Result<Vec<EventRecord>, IdConflict>, StoreError> {
        self.ingester.record(Ingesting { items, judge, park_cap }).await
    }

    async fn event(&self, academy: &str, id: &str) -> Result<Option<StoredEvent>, StoreError> {
        let client = self.client().await?;
        let sql = "SELECT record FROM events WHERE academy = $1 AND event_id = $2";
        let row = client.query_opt(&client.prepare_cached(sql).await?, &[&academy, &id]).await?;
        row.map(|row| json(&row, "record", "event")).transpose()
    }

    async fn parked(
        &self,
        plugin: &str,
        after: Option<ParkedKey>,
        limit: usize,
    ) -> Result<Vec<ParkedEvent>, StoreError> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {PARKED_COLUMNS} FROM parked_events WHERE plugin = $1 \
             AND ($2::text IS NULL OR (academy, event_id) > ($2, $3)) ORDER BY academy, event_id LIMIT $4"
        );
        let (academy, event_id) = after.map(|key| (key.academy, key.event_id)).unzip();
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
            [&plugin, &academy, &event_id.unwrap_or_default(), &rows::count(limit)];
        client.query(&client.prepare_cached(&sql).await?, &params).await?.iter().map(parked_event).collect()
    }

    async fn parked_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let client = self.client().await?;
        let sql = "SELECT plugin, count(*) AS parked FROM parked_events GROUP BY plugin ORDER BY plugin";
        let rows = client.query(&client.prepare_cached(sql).await?, &[]).await?;
        rows.iter().map(|row| Ok((get(row, "plugin", "parked")?, unsigned(row, "parked", "parked")?))).collect()
    }

    async fn parked_count(&self, plugin: &str) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let sql = "SELECT count(*) AS parked FROM parked_events WHERE plugin = $1";
        unsigned(&client.query_one(&client.prepare_cached(sql).await?, &[&plugin]).await?, "parked", "parked")
    }

    async fn unpark(&self, plugin: String, done: Vec<(ParkedKey, u32)>) -> Result<(), StoreError> {
        let client = self.client().await?;
        let academies: Vec<&str> = done.iter().map(|(key, _)| key.academy.as_str()).collect();
        let ids: Vec<&str> = done.iter().map(|(key, _)| key.event_id.as_str()).collect();
        let failures: Vec<i32> =
            done.iter().map(|(_, failures)| i32::try_from(*failures).unwrap_or(i32::MAX)).collect();
        // One that failed again since it was read (more failures) stays.
        let sql = "DELETE FROM parked_events p USING unnest($2::text[], $3::text[], $4::integer[]) AS d (a, i, f) \
                   WHERE p.plugin = $1 AND p.academy = d.a AND p.event_id = d.i AND p.failures = d.f";
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] = [&plugin, &academies, &ids, &failures];
        let removed = client.execute(&client.prepare_cached(sql).await?, &params).await?;
        tracing::debug!(store = %self.location, %plugin, removed, "parked events unparked");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::store::contract_tests::events::{item, judge};
    use crate::store::postgres::testing;
    use crate::store::{Deliveries, Events};

    /// Requests carrying one client id at once through two engines (two
    /// stores, each writing its own requests in groups): the id's lock
    /// makes one of them new and the others retries of it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_ingests_of_one_id_through_two_engines_write_it_once() {
        let Some(database) = testing::database().await else { return };
        let engines = [Arc::new(database.open().await), Arc::new(database.open().await)];
        let requests: Vec<_> = (0..8)
            .map(|n| {
                let store = engines[n % 2].clone();
                tokio::spawn(
                    async move { store.record_ingest(vec![item(0, "same", 1, Vec::new())], judge(), 10).await },
                )
            })
            .collect();
        let mut records = Vec::new();
        for request in requests {
            records.push(request.await.unwrap().unwrap().unwrap().remove(0));
        }
        let stored = engines[0].event("a", "same").await.unwrap().unwrap().record;
        assert!(records.iter().all(|record| *record == stored), "every request answered the one record");
        assert_eq!(engines[1].queue_summary().await.unwrap().depth, 1, "its job queued once");
        drop(engines);
        database.remove().await;
    }
}
