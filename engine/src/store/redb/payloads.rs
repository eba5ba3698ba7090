//! Payloads, stored once and counted (schema version 4): `PAYLOADS` holds
//! the bodies by payload id, `PAYLOAD_USES` how many records refer to each.
//! A reference is a queued job's payload, an attempt's payload and the body
//! its hook's transformer made of it, or a hook's sample; those records
//! hold the id ([`JobRow`], [`AttemptRow`], `HOOK_SAMPLES`).
//!
//! Until version 3 the payload was copied, JSON-escaped, into the job
//! (written again at each retry), into each attempt and into the sample:
//! three copies of every delivered event's body written by the one commit
//! thread. Now its body is written once, raw, and the records that refer
//! to it are small.
//!
//! Payload ids are ordered by time (`model::PayloadId`), so the payloads of
//! one commit land on the same pages at the end of the tables. Measured
//! with the load benchmark's deliveries phase (1 KB payloads, bytes the
//! engine wrote per ingested and delivered event, median of 3 runs):
//! three copies (version 3) 6,786; one copy keyed by the body's sha256
//! 7,131, each payload on a page of its own; one copy keyed by a
//! time-ordered id 5,400. A second series, version 3 against this layout:
//! 7,424 → 6,670. The commit thread's CPU per delivered event did not
//! move (82 → 82 µs): at this size the work is in the B-tree operations,
//! not in the bytes. With 2 KB raw events (`LOAD_BENCH_RAW_BYTES=2048`):
//! bytes 10,180 → 7,782, commit thread 114.5 → 106.0 µs, deliveries/s
//! 4,841 → 5,053. The price: a commit touches two more tables, which shows
//! when commits carry one event each: end-to-end p50 at 1,000 events/s
//! offered went from 3.2 to 4.2 ms with 2 KB events (2.3 to 2.6 ms with
//! 1 KB ones).
//!
//! Every write that adds or drops a reference counts it in a [`Uses`] and
//! applies it before it ends, so a body is deleted in the commit that
//! drops its last reference, and never while another remains.

use std::collections::HashMap;
use std::sync::Arc;

use redb::{ReadOnlyTable, ReadTransaction, ReadableTable, WriteTransaction};

use super::StoreError;
use super::tables::{PAYLOAD_USES, PAYLOADS};
use crate::model::{Attempt, Job, Payload, PayloadId};

/// A job as `JOBS` holds it.
pub(super) type JobRow = Job<PayloadId>;
/// An attempt as `ATTEMPTS` holds it.
pub(super) type AttemptRow = Attempt<PayloadId>;

/// The record `JOBS` holds for `job`.
pub(super) fn job_row(job: &Job) -> JobRow {
    job.clone().with_payload(job.payload.id())
}

/// Changes of payload uses within one write, applied together at its end:
/// a job that becomes an attempt, or moves to its retry, nets out and
/// writes nothing, and a body is never deleted then written again within
/// one write.
#[derive(Default)]
#[must_use = "uses are counted only once applied"]
pub(super) struct Uses {
    changes: HashMap<PayloadId, (i64, Option<Payload>)>,
}

impl Uses {
    /// One more reference to `payload`.
    pub(super) fn add(&mut self, payload: &Payload) {
        let (delta, body) = self.changes.entry(payload.id()).or_default();
        *delta += 1;
        body.get_or_insert_with(|| payload.clone());
    }

    /// One more reference to payload `id`, whose body is stored already.
    pub(super) fn add_stored(&mut self, id: PayloadId) {
        self.changes.entry(id).or_default().0 += 1;
    }

    /// One reference fewer to payload `id`.
    pub(super) fn drop(&mut self, id: PayloadId) {
        self.changes.entry(id).or_default().0 -= 1;
    }

    /// Writes the counts: a new payload's body is written, one left without
    /// a reference deleted.
    pub(super) fn apply(self, txn: &WriteTransaction) -> Result<(), StoreError> {
        if self.changes.values().all(|(delta, _)| *delta == 0) {
            return Ok(());
        }
        let mut bodies = txn.open_table(PAYLOADS)?;
        let mut uses = txn.open_table(PAYLOAD_USES)?;
        for (id, (delta, payload)) in self.changes {
            if delta == 0 {
                continue;
            }
            let key = id.0.as_slice();
            let known = uses.get(key)?.map(|count| count.value());
            let count = i64::try_from(known.unwrap_or(0)).unwrap_or(i64::MAX).saturating_add(delta);
            if count <= 0 {
                if count < 0 {
                    // Only a bug elsewhere gets here; deleting is still right.
                    tracing::warn!(?id, count, "a payload lost more references than it had");
                }
                uses.remove(key)?;
                bodies.remove(key)?;
                continue;
            }
            if known.is_none() {
                let missing = || StoreError::Corrupt { what: "payload", message: format!("no body for {id:?}") };
                bodies.insert(key, payload.ok_or_else(missing)?.body().as_bytes())?;
            }
            uses.insert(key, count as u64)?;
        }
        Ok(())
    }
}

/// The bodies of payloads, read in one read transaction, each once however
/// many records refer to it (the jobs of one event share it).
pub(super) struct Bodies {
    table: ReadOnlyTable<&'static [u8], &'static [u8]>,
    read: HashMap<PayloadId, Payload>,
}

impl Bodies {
    pub(super) fn open(txn: &ReadTransaction) -> Result<Bodies, StoreError> {
        Ok(Bodies { table: txn.open_table(PAYLOADS)?, read: HashMap::new() })
    }

    /// Payload `id`.
    pub(super) fn get(&mut self, id: PayloadId) -> Result<Payload, StoreError> {
        if let Some(payload) = self.read.get(&id) {
            return Ok(payload.clone());
        }
        let body = self.table.get(id.0.as_slice())?.ok_or_else(|| StoreError::Corrupt {
            what: "payload",
            message: format!("no body for {id:?}, which a record refers to"),
        })?;
        // Bodies are written from strings: the checked conversion (faster
        // than the lossy one's byte walk) only fails on a damaged file.
        let body: Arc<str> = match std::str::from_utf8(body.value()) {
            Ok(body) => body.into(),
            Err(_) => String::from_utf8_lossy(body.value()).into(),
        };
        let payload = Payload::stored(id, body);
        self.read.insert(id, payload.clone());
        Ok(payload)
    }

    /// `job` with its payload.
    pub(super) fn job(&mut self, job: JobRow) -> Result<Job, StoreError> {
        let payload = self.get(job.payload)?;
        Ok(job.with_payload(payload))
    }

    /// `attempt` with its payloads.
    pub(super) fn attempt(&mut self, attempt: AttemptRow) -> Result<Attempt, StoreError> {
        attempt.try_map_payloads(|id| self.get(id))
    }
}

/// The payload id a `HOOK_SAMPLES` value holds.
pub(super) fn sample_id(bytes: &[u8]) -> Result<PayloadId, StoreError> {
    let id = bytes.try_into().map_err(|_| StoreError::Corrupt {
        what: "hook sample",
        message: format!("{} bytes where a payload id was expected", bytes.len()),
    })?;
    Ok(PayloadId(id))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use redb::ReadableTableMetadata;

    use crate::model::{AttemptOutcome, Deactivation, HookSelector, NextStep, Scope};
    use crate::store::contract_tests::events::{item, judge};
    use crate::store::contract_tests::{attempt, hook};
    use crate::store::tests::queued_jobs;
    use crate::store::{Deliveries, Events, Hooks, Redb, RedbStore};
    use crate::time::Time;

    /// Each stored body with its count of references, by body.
    pub(in crate::store::redb) fn stored(file: &RedbStore) -> Vec<(String, u64)> {
        let txn = file.db.begin_read().unwrap();
        let (bodies, uses) = (txn.open_table(PAYLOADS).unwrap(), txn.open_table(PAYLOAD_USES).unwrap());
        let mut stored: Vec<(String, u64)> = bodies
            .iter()
            .unwrap()
            .map(|entry| {
                let (id, body) = entry.unwrap();
                let count = uses.get(id.value()).unwrap().expect("a body has a count").value();
                (String::from_utf8(body.value().to_vec()).unwrap(), count)
            })
            .collect();
        assert_eq!(uses.len().unwrap(), stored.len() as u64, "a count has a body");
        stored.sort();
        stored
    }

    #[tokio::test]
    async fn a_payload_is_stored_once_and_deleted_with_its_last_reference() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            Redb::new(RedbStore::open(dir.path(), crate::store::tests::keyring()).unwrap(), &Default::default());
        let hooks = [hook(&store, Some("a")).await, hook(&store, Some("a")).await, hook(&store, None).await];
        // One event for the three hooks.
        let mut event = item(0, "e1", 1, Vec::new());
        let payload = Payload::new(r#"{"event":1}"#);
        let job = |hook_id| Job { hook_id, payload: payload.clone(), ..event.events[0].1[0].clone() };
        event.events[0].1 = hooks.iter().map(|hook| job(hook.id)).collect();
        store.record_ingest(vec![event], judge(), 10).await.unwrap().unwrap();
        let p = payload.body().to_owned();
        assert_eq!(stored(store.file()), [(p.clone(), 3)], "one body for the three jobs");

        // Hook 0 gets it; hook 1 gets what its transformer made of it;
        // hook 2 fails and will retry.
        let mut jobs = queued_jobs(&store).await;
        jobs.sort_by_key(|job| job.hook_id);
        let now = Time::now();
        let ok = attempt(&jobs[0], AttemptOutcome::Succeeded, Some(200), now);
        store.record_attempt(jobs[0].clone(), ok, NextStep::Finish, Deactivation::NEVER).await.unwrap();
        let mut made = attempt(&jobs[1], AttemptOutcome::Succeeded, Some(200), now);
        made.transformed = Some(Payload::new(r#"{"made":1}"#));
        store.record_attempt(jobs[1].clone(), made, NextStep::Finish, Deactivation::NEVER).await.unwrap();
        let failed = attempt(&jobs[2], AttemptOutcome::Failed, Some(500), now);
        let retry = NextStep::Retry { due_ms: 5000 };
        store.record_attempt(jobs[2].clone(), failed, retry, Deactivation::NEVER).await.unwrap();
        let t = r#"{"made":1}"#.to_owned();
        // p: three attempts, hook 0's sample, hook 2's retry; t: hook 1's
        // attempt and sample.
        assert_eq!(stored(store.file()), [(p.clone(), 5), (t.clone(), 2)]);

        // Hook 0 gets another event: its sample moves to that one.
        let mut next = Job { hook_id: hooks[0].id, payload: Payload::new(r#"{"event":2}"#), ..jobs[0].clone() };
        next.id = store.enqueue(vec![next.clone()]).await.unwrap()[0];
        let ok = attempt(&next, AttemptOutcome::Succeeded, Some(200), now);
        store.record_attempt(next, ok, NextStep::Finish, Deactivation::NEVER).await.unwrap();
        let q = r#"{"event":2}"#.to_owned();
        assert_eq!(stored(store.file()), [(p.clone(), 4), (q.clone(), 2), (t.clone(), 2)], "p lost a sample");

        let later = Time::from_second(now.as_second() + 60);
        assert_eq!(store.prune(later).await.unwrap().attempts, 4);
        assert_eq!(stored(store.file()), [(p.clone(), 1), (q.clone(), 1), (t.clone(), 1)], "the samples and the retry");
        let retrying = queued_jobs(&store).await.remove(0);
        store.drop_job(retrying).await.unwrap();
        assert_eq!(stored(store.file()), [(q, 1), (t, 1)], "the samples; p is deleted with its last reference");
        store.delete_hooks(&Scope::All, &HookSelector::default()).await.unwrap();
        assert_eq!(stored(store.file()), [], "nothing refers to them any more");
    }
}
