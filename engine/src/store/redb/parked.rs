//! Parked events: the source of each event its serializer failed on, kept
//! under the plugin's name so that the event can be ingested again (same id)
//! once the plugin is fixed, rolled back or the event rebound. At most a cap
//! per plugin: past it a failure is not parked (the event stays failed, with
//! its hook error), so a broken plugin cannot fill the disk.

use std::ops::Bound;

use redb::{ReadableTable, WriteTransaction};

use super::codec::{decode, encode};
use super::tables::{PARKED, PARKED_COUNTS};
use super::{RedbStore, StoreError};
use crate::model::{ParkedEvent, ParkedKey};

/// What [`park`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parking {
    Parked,
    /// The plugin already has `cap` events parked.
    Full,
}

/// Parks `event` under its plugin: a new entry, or the entry of the same
/// event replaced with one more failure counted.
pub fn park(txn: &WriteTransaction, mut event: ParkedEvent, cap: u64) -> Result<Parking, StoreError> {
    let mut table = txn.open_table(PARKED)?;
    let key = (event.plugin.as_str(), event.academy.as_str(), event.event_id.as_str());
    let previous = table.get(key)?.map(|bytes| decode::<ParkedEvent>("parked event", bytes.value())).transpose()?;
    let mut counts = txn.open_table(PARKED_COUNTS)?;
    match previous {
        Some(previous) => event.failures = previous.failures.saturating_add(1),
        None => {
            let count = counts.get(key.0)?.map_or(0, |c| c.value());
            if count >= cap {
                return Ok(Parking::Full);
            }
            counts.insert(key.0, count + 1)?;
            event.failures = 1;
        }
    }
    table.insert(key, encode(&event).as_slice())?;
    Ok(Parking::Parked)
}

/// The key of a parked event under its plugin: its academy and id (ids
/// Removes the entry of `key` under `plugin` if it still has `failures`
/// failures: an entry parked again since it was read (the event failed
/// again) stays.
pub fn unpark(txn: &WriteTransaction, plugin: &str, key: &ParkedKey, failures: u32) -> Result<(), StoreError> {
    let mut table = txn.open_table(PARKED)?;
    let key = (plugin, key.academy.as_str(), key.event_id.as_str());
    let current = table.get(key)?.map(|b| decode::<ParkedEvent>("parked event", b.value())).transpose()?;
    if current.is_none_or(|current| current.failures != failures) {
        return Ok(());
    }
    table.remove(key)?;
    let mut counts = txn.open_table(PARKED_COUNTS)?;
    let count = counts.get(plugin)?.map_or(0, |c| c.value()).saturating_sub(1);
    if count == 0 {
        counts.remove(plugin)?;
    } else {
        counts.insert(plugin, count)?;
    }
    Ok(())
}

impl RedbStore {
    /// Up to `limit` events parked under `plugin`, by academy and event id,
    /// after `after` (a page of a scan).
    pub fn parked(
        &self,
        plugin: &str,
        after: Option<&ParkedKey>,
        limit: usize,
    ) -> Result<Vec<ParkedEvent>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(PARKED)?;
        let start = match after {
            Some(after) => Bound::Excluded((plugin, after.academy.as_str(), after.event_id.as_str())),
            None => Bound::Included((plugin, "", "")),
        };
        let mut events = Vec::new();
        for entry in table.range::<(&str, &str, &str)>((start, Bound::Unbounded))? {
            let (key, bytes) = entry?;
            if key.value().0 != plugin || events.len() == limit {
                break;
            }
            events.push(decode("parked event", bytes.value())?);
        }
        Ok(events)
    }

    /// How many events are parked under each plugin that has some.
    pub fn parked_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(PARKED_COUNTS)?;
        let mut counts = Vec::new();
        for entry in table.iter()? {
            let (plugin, count) = entry?;
            counts.push((plugin.value().to_owned(), count.value()));
        }
        Ok(counts)
    }

    /// How many events are parked under `plugin`.
    pub fn parked_count(&self, plugin: &str) -> Result<u64, StoreError> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(PARKED_COUNTS)?.get(plugin)?.map_or(0, |c| c.value()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Time;

    fn event(plugin: &str, id: &str) -> ParkedEvent {
        in_academy(plugin, "a", id)
    }

    fn in_academy(plugin: &str, academy: &str, id: &str) -> ParkedEvent {
        ParkedEvent {
            event_id: id.into(),
            event: "e".into(),
            academy: academy.into(),
            data: "{}".into(),
            plugin: plugin.into(),
            error: "trap".into(),
            parked_at: Time::now(),
            failures: 0,
        }
    }

    fn write<R>(store: &RedbStore, op: impl FnOnce(&WriteTransaction) -> R) -> R {
        let txn = store.db.begin_write().unwrap();
        let result = op(&txn);
        txn.commit().unwrap();
        result
    }

    #[test]
    fn parking_is_capped_per_plugin_and_counts_failures_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path(), crate::store::tests::keyring()).unwrap();
        for id in ["1", "2"] {
            assert_eq!(write(&store, |txn| park(txn, event("p", id), 2).unwrap()), Parking::Parked);
        }
        assert_eq!(write(&store, |txn| park(txn, event("p", "3"), 2).unwrap()), Parking::Full, "over the cap");
        assert_eq!(write(&store, |txn| park(txn, event("q", "3"), 2).unwrap()), Parking::Parked, "another plugin");
        assert_eq!(write(&store, |txn| park(txn, event("p", "1"), 2).unwrap()), Parking::Parked, "the same event");
        assert_eq!(store.parked_counts().unwrap(), [("p".to_owned(), 2), ("q".to_owned(), 1)]);

        let page = store.parked("p", None, 1).unwrap();
        assert_eq!((page[0].event_id.as_str(), page[0].failures), ("1", 2));
        let rest = store.parked("p", Some(&page[0].key()), 10).unwrap();
        assert_eq!(rest.iter().map(|e| e.event_id.as_str()).collect::<Vec<_>>(), ["2"]);

        // Read with one failure, parked again since: kept.
        let key = |id: &str| ParkedKey { academy: "a".into(), event_id: id.into() };
        write(&store, |txn| unpark(txn, "p", &key("1"), 1).unwrap());
        assert_eq!(store.parked_count("p").unwrap(), 2);
        write(&store, |txn| unpark(txn, "p", &key("1"), 2).unwrap());
        write(&store, |txn| unpark(txn, "p", &key("2"), 1).unwrap());
        assert_eq!(store.parked_count("p").unwrap(), 0);
        assert!(store.parked("p", None, 10).unwrap().is_empty());
        assert_eq!(store.parked_counts().unwrap(), [("q".to_owned(), 1)]);
    }

    #[test]
    fn the_same_id_parks_once_per_academy() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path(), crate::store::tests::keyring()).unwrap();
        for academy in ["a1", "a2"] {
            assert_eq!(write(&store, |txn| park(txn, in_academy("p", academy, "x"), 10).unwrap()), Parking::Parked);
        }
        let parked = store.parked("p", None, 10).unwrap();
        let keys: Vec<_> = parked.iter().map(|e| (e.academy.as_str(), e.event_id.as_str(), e.failures)).collect();
        assert_eq!(keys, [("a1", "x", 1), ("a2", "x", 1)]);
        assert_eq!(store.parked("p", Some(&parked[0].key()), 10).unwrap(), parked[1..]);
    }
}
