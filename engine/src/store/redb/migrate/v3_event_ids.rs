//! Version 3: event ids are scoped per academy. Version 2 keyed events by
//! id alone (`events`) and parked events by (plugin, id) (`parked`); their
//! records move, unchanged, to the tables keyed by (academy, id).
//!
//! A version 2 event record has no content digest: a later request with
//! its id (and academy) answers it whatever that request carries, as
//! version 2 did (see `ingest/idempotency.rs`).

use redb::{ReadableTable, TableDefinition, WriteTransaction};
use serde::Deserialize;

use crate::model::ParkedEvent;
use crate::store::StoreError;
use crate::store::redb::codec::{decode, encode};
use crate::store::redb::tables::{EVENTS, PARKED};

/// Event id → event record.
const V2_EVENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("events");
/// (plugin name, event id) → parked event.
const V2_PARKED: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("parked");

pub(super) fn migrate(txn: &WriteTransaction) -> Result<(), StoreError> {
    let events = move_events(txn)?;
    let parked = move_parked(txn)?;
    tracing::info!(events, parked, "event ids scoped per academy");
    Ok(())
}

/// What the key needs of a version 2 event record. Its academy was
/// optional in the type, though every ingest set it: a record without one
/// is kept under the empty academy, with `""` written in.
#[derive(Deserialize)]
struct V2Event {
    academy: Option<String>,
}

fn move_events(txn: &WriteTransaction) -> Result<usize, StoreError> {
    let mut moved = 0;
    {
        let old = txn.open_table(V2_EVENTS)?;
        let mut new = txn.open_table(EVENTS)?;
        for entry in old.iter()? {
            let (id, bytes) = entry?;
            let (id, bytes) = (id.value(), bytes.value());
            match decode::<V2Event>("event", bytes)?.academy {
                Some(academy) => new.insert((academy.as_str(), id), bytes)?,
                None => {
                    let mut record: serde_json::Value = decode("event", bytes)?;
                    record["academy"] = "".into();
                    new.insert(("", id), encode(&record).as_slice())?
                }
            };
            moved += 1;
        }
    }
    txn.delete_table(V2_EVENTS)?;
    Ok(moved)
}

fn move_parked(txn: &WriteTransaction) -> Result<usize, StoreError> {
    let mut moved = 0;
    {
        let old = txn.open_table(V2_PARKED)?;
        let mut new = txn.open_table(PARKED)?;
        for entry in old.iter()? {
            let (key, bytes) = entry?;
            let ((plugin, id), bytes) = (key.value(), bytes.value());
            let parked: ParkedEvent = decode("parked event", bytes)?;
            new.insert((plugin, parked.academy.as_str(), id), bytes)?;
            moved += 1;
        }
    }
    txn.delete_table(V2_PARKED)?;
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use redb::Database;

    use super::*;
    use crate::store::RedbStore;
    use crate::store::redb::tables::{JOBS, META, SCHEMA_VERSION, meta};

    /// A version 2 file, written with version 2's layout: two events, one
    /// of them parked, and a queued job.
    fn write_v2(dir: &std::path::Path) {
        let db = Database::create(dir.join(RedbStore::FILE_NAME)).unwrap();
        let txn = db.begin_write().unwrap();
        {
            txn.open_table(META).unwrap().insert(meta::SCHEMA_VERSION_KEY, 2).unwrap();
            let mut events = txn.open_table(V2_EVENTS).unwrap();
            let record = |id: &str, academy: &str| {
                format!(
                    r#"{{"id":"{id}","event":"e","academy":"{academy}","received_at":"2026-01-01T00:00:00Z","deliveries":1,"status":"accepted","follow_ups":[]}}"#
                )
            };
            events.insert("x", record("x", "a2").as_bytes()).unwrap();
            events.insert("y", record("y", "a1").as_bytes()).unwrap();
            let parked = r#"{"event_id":"y","event":"e","academy":"a1","data":"{}","plugin":"p","error":"trap","parked_at":"2026-01-01T00:00:00Z","failures":1}"#;
            txn.open_table(V2_PARKED).unwrap().insert(("p", "y"), parked.as_bytes()).unwrap();
            let job = r#"{"id":1,"due_ms":5,"event_id":"x","event":"e","hook_id":1,"webhook_id":"msg_x_1","payload":"{}","attempts":0}"#;
            txn.open_table(JOBS).unwrap().insert((5, 1), job.as_bytes()).unwrap();
        }
        txn.commit().unwrap();
    }

    #[test]
    fn a_version_2_file_is_rekeyed_by_academy_and_keeps_its_queue() {
        let dir = tempfile::tempdir().unwrap();
        write_v2(dir.path());
        let store = RedbStore::open(dir.path(), crate::store::tests::keyring()).unwrap();

        let x = store.event("a2", "x").unwrap().expect("moved under its academy");
        assert_eq!((x.record.id.as_str(), x.record.academy.as_str(), x.content), ("x", "a2", None));
        assert!(store.event("a1", "x").unwrap().is_none(), "another academy's id is free");
        assert!(store.event("a1", "y").unwrap().is_some());
        let parked = store.parked("p", None, 10).unwrap();
        assert_eq!(parked.iter().map(|p| (p.academy.as_str(), p.event_id.as_str())).collect::<Vec<_>>(), [("a1", "y")]);
        let due = store.due_jobs(10, 10, |_| usize::MAX, |_| false).unwrap();
        assert_eq!(due.jobs.len(), 1, "the queue is kept, and indexed by hook");

        let txn = store.db.begin_read().unwrap();
        let version = txn.open_table(META).unwrap().get(meta::SCHEMA_VERSION_KEY).unwrap().unwrap().value();
        assert_eq!(version, u64::from(SCHEMA_VERSION));
        assert!(txn.open_table(V2_EVENTS).is_err(), "the version 2 tables are gone");
        assert!(txn.open_table(V2_PARKED).is_err());
    }
}
