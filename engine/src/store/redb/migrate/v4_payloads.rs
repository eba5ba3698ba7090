//! Version 4: payloads stored once (see `payloads.rs`). Until version 3 a
//! job, each attempt and each hook's sample held a copy of the body; they
//! now hold its id, and the body is in `PAYLOADS`, counted.
//!
//! A version 3 attempt held the body it sent, which is its hook's
//! transformer's output when the hook has one. When its delivery is still
//! queued, its job's payload is the event's: the attempt refers to it, and
//! to the body sent as what the transformer made of it when they differ.
//! Otherwise the event's payload is not known any more: the body sent
//! becomes the attempt's payload, and a replay of that delivery runs the
//! transformer on it, as version 3 did.

use std::collections::HashMap;
use std::ops::Bound;

use redb::{ReadableTable, TableDefinition, WriteTransaction};

use crate::model::{Attempt, Job, Payload, PayloadId, Sha256};
use crate::store::StoreError;
use crate::store::redb::codec::{decode, encode};
use crate::store::redb::payloads::Uses;
use crate::store::redb::tables::{ATTEMPTS, HOOK_SAMPLES, JOBS};

/// Records rewritten per round: what a round holds in memory (records and
/// their payloads' bodies) stays bounded whatever the store holds.
const ROUND: usize = 1024;

pub(super) fn migrate(txn: &WriteTransaction) -> Result<(), StoreError> {
    let mut known = Known::default();
    // Delivery id → its queued payload: 24 bytes and a little per job.
    let mut queued: HashMap<u64, PayloadId> = HashMap::new();
    let jobs = rewrite(txn, JOBS, |bytes, uses| {
        let job: Job<String> = decode("job", bytes)?;
        let payload = known.refer(job.payload.as_str(), uses);
        queued.insert(job.id, payload);
        Ok(encode(&job.with_payload(payload)))
    })?;
    let attempts = rewrite(txn, ATTEMPTS, |bytes, uses| {
        let attempt: Attempt<String> = decode("attempt", bytes)?;
        let queued = queued.get(&attempt.delivery_id).copied();
        let mut row = attempt.map_payloads(|body| known.refer(&body, uses));
        if let Some(payload) = queued.filter(|&payload| payload != row.payload) {
            uses.add_stored(payload);
            row.transformed = Some(std::mem::replace(&mut row.payload, payload));
        }
        Ok(encode(&row))
    })?;
    let samples =
        rewrite(txn, HOOK_SAMPLES, |bytes, uses| Ok(known.refer(&String::from_utf8_lossy(bytes), uses).0.to_vec()))?;
    tracing::info!(jobs, attempts, samples, payloads = known.0.len(), "payloads stored once");
    Ok(())
}

/// The payloads made so far, by the sha256 of their body: version 3 copied
/// an event's payload into each of its jobs, attempts and samples, and
/// equal copies become one payload (48 bytes and a little per payload).
#[derive(Default)]
struct Known(HashMap<Sha256, PayloadId>);

impl Known {
    /// A reference, counted in `uses`, to the payload of `body`.
    fn refer(&mut self, body: &str, uses: &mut Uses) -> PayloadId {
        let digest = Sha256::of(body.as_bytes());
        if let Some(&id) = self.0.get(&digest) {
            uses.add_stored(id);
            return id;
        }
        let payload = Payload::new(body);
        uses.add(&payload);
        self.0.insert(digest, payload.id());
        payload.id()
    }
}

/// Replaces every value of `table` by what `convert` makes of it, counting
/// the payloads it refers to in a [`Uses`]; how many values.
fn rewrite<K>(
    txn: &WriteTransaction,
    table: TableDefinition<K, &[u8]>,
    mut convert: impl FnMut(&[u8], &mut Uses) -> Result<Vec<u8>, StoreError>,
) -> Result<usize, StoreError>
where
    K: redb::Key + for<'a> redb::Value<SelfType<'a> = K> + Copy + 'static,
{
    let mut table = txn.open_table(table)?;
    let (mut after, mut rewritten) = (None::<K>, 0);
    loop {
        let mut uses = Uses::default();
        let mut round = Vec::with_capacity(ROUND);
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        for entry in table.range::<K>((start, Bound::Unbounded))?.take(ROUND) {
            let (key, value) = entry?;
            round.push((key.value(), convert(value.value(), &mut uses)?));
        }
        let Some(&(last, _)) = round.last() else { return Ok(rewritten) };
        for (key, value) in &round {
            table.insert(key, value.as_slice())?;
        }
        uses.apply(txn)?;
        (after, rewritten) = (Some(last), rewritten + round.len());
    }
}

#[cfg(test)]
mod tests {
    use redb::Database;

    use super::*;
    use crate::store::RedbStore;
    use crate::store::redb::payloads::tests::stored;
    use crate::store::redb::tables::{HOOK_HEADS, HOOK_JOBS, META, meta};

    /// Jobs queued in a version 3 file: more than a round's worth.
    const JOBS_QUEUED: u64 = 2 * ROUND as u64 + 10;

    /// A version 3 file, written with version 3's layout: jobs of hook 1
    /// whose payloads are one of three bodies; attempts of queued
    /// deliveries, one of which sent its payload, another what a
    /// transformer made of it, which is also the hook's sample; and an
    /// attempt of a delivery no longer queued.
    fn write_v3(dir: &std::path::Path) {
        let db = Database::create(dir.join(RedbStore::FILE_NAME)).unwrap();
        let txn = db.begin_write().unwrap();
        {
            txn.open_table(META).unwrap().insert(meta::SCHEMA_VERSION_KEY, 3).unwrap();
            let (mut jobs, mut by_hook) = (txn.open_table(JOBS).unwrap(), txn.open_table(HOOK_JOBS).unwrap());
            for id in 1..=JOBS_QUEUED {
                let job = format!(
                    r#"{{"id":{id},"due_ms":5,"event_id":"e{id}","event":"e","hook_id":1,"webhook_id":"msg_e{id}_1","payload":"{{\"n\":{}}}","attempts":0}}"#,
                    id % 3
                );
                jobs.insert((5, id), job.as_bytes()).unwrap();
                by_hook.insert((1, 5, id), ()).unwrap();
            }
            txn.open_table(HOOK_HEADS).unwrap().insert((5, 1), ()).unwrap();
            let attempt = |id: u64, delivery: u64, payload: &str| {
                format!(
                    r#"{{"id":{id},"delivery_id":{delivery},"hook_id":1,"event_id":"e{id}","event":"e","webhook_id":"msg_e{id}_1","attempt":1,"scheduled_at":"2026-01-01T00:00:00Z","sent_at":"2026-01-01T00:00:01Z","request_headers":[],"payload":{},"response_status":200,"response_body":null,"duration_ms":3,"error":null,"outcome":"succeeded","next_attempt_at":null}}"#,
                    serde_json::to_string(payload).unwrap()
                )
            };
            let mut attempts = txn.open_table(ATTEMPTS).unwrap();
            attempts.insert((1, 1), attempt(1, 1, r#"{"n":1}"#).as_bytes()).unwrap();
            attempts.insert((1, 2), attempt(2, 2, r#"{"text":"made"}"#).as_bytes()).unwrap();
            attempts.insert((1, 3), attempt(3, 1 << 40, r#"{"text":"old"}"#).as_bytes()).unwrap();
            txn.open_table(HOOK_SAMPLES).unwrap().insert(1, r#"{"text":"made"}"#.as_bytes()).unwrap();
        }
        txn.commit().unwrap();
    }

    #[test]
    fn a_version_3_file_refers_to_each_body_once_and_reads_the_same() {
        let dir = tempfile::tempdir().unwrap();
        write_v3(dir.path());
        let store = RedbStore::open(dir.path(), crate::store::tests::keyring()).unwrap();

        let due = store.due_jobs(10, usize::MAX, |_| usize::MAX, |_| false).unwrap();
        assert_eq!(due.jobs.len() as u64, JOBS_QUEUED, "every job, in every round");
        assert!(due.jobs.iter().all(|job| job.payload.body() == format!(r#"{{"n":{}}}"#, job.id % 3)));
        let attempts = store.attempts(1).unwrap();
        let bodies: Vec<&str> = attempts.iter().map(|attempt| attempt.sent().body()).collect();
        assert_eq!(bodies, [r#"{"text":"old"}"#, r#"{"text":"made"}"#, r#"{"n":1}"#], "newest first, each as sent");
        let payloads: Vec<&str> = attempts.iter().map(|attempt| attempt.payload.body()).collect();
        assert_eq!(
            payloads,
            [r#"{"text":"old"}"#, r#"{"n":2}"#, r#"{"n":1}"#],
            "the queued job's payload where the delivery is queued, else the body sent"
        );
        assert_eq!(store.hook_sample(1).unwrap().as_deref(), Some(r#"{"text":"made"}"#));
        let jobs_of = |n: u64| (1..=JOBS_QUEUED).filter(|id| id % 3 == n).count() as u64;
        assert_eq!(
            stored(&store),
            [
                (r#"{"n":0}"#.to_owned(), jobs_of(0)),
                (r#"{"n":1}"#.to_owned(), jobs_of(1) + 1),
                (r#"{"n":2}"#.to_owned(), jobs_of(2) + 1),
                (r#"{"text":"made"}"#.to_owned(), 2),
                (r#"{"text":"old"}"#.to_owned(), 1),
            ],
            "one body each, counting the jobs, attempts and sample that refer to it"
        );
    }
}
